// Pure checks over the workspace's packages, used by the tests beside this file.
// Each returns a list of problems (empty when fine), phrased so that a failing
// test says which file to change and how.
import fs from 'node:fs';
import path from 'node:path';

/** The repository every package.json points at (no public URL exists yet). */
export const REPO = 'https://github.com/tumorcast/tumorcast';

/** prepack/postpack of every package: the root LICENSE travels in each tarball. */
export const PREPACK = "node -e \"require('node:fs').copyFileSync('../../LICENSE','LICENSE')\"";
export const POSTPACK = "node -e \"require('node:fs').rmSync('LICENSE',{force:true})\"";

/** Entries of `files` that ship the sources the source maps point at, but no tests. */
export const SOURCE_FILES = ['src', '!src/**/*.test.ts', '!src/**/test-utils/**'];

const DEP_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'] as const;
/** Fields whose packages a consumer installs with the package. */
const RUNTIME_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies'] as const;

/** The parts of a package.json these checks read. */
export interface PackageJson {
  name?: unknown;
  version?: unknown;
  description?: unknown;
  license?: unknown;
  author?: unknown;
  keywords?: unknown;
  homepage?: unknown;
  bugs?: { url?: unknown };
  repository?: { type?: unknown; url?: unknown; directory?: unknown } | string;
  private?: unknown;
  publishConfig?: { access?: unknown };
  type?: unknown;
  engines?: { node?: unknown };
  main?: unknown;
  types?: unknown;
  exports?: Record<string, unknown>;
  files?: unknown;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** One workspace package: its folder relative to the root, e.g. `libs/nn`. */
export interface WorkspacePackage {
  dir: string;
  pkg: PackageJson;
}

/** Every `libs/*` and `apps/*` folder with a package.json, sorted. */
export function listPackages(root: string): WorkspacePackage[] {
  const out: WorkspacePackage[] = [];
  for (const top of ['libs', 'apps']) {
    for (const name of fs.readdirSync(path.join(root, top)).sort()) {
      const file = path.join(root, top, name, 'package.json');
      if (fs.existsSync(file)) out.push({ dir: `${top}/${name}`, pkg: JSON.parse(fs.readFileSync(file, 'utf8')) });
    }
  }
  return out;
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0;

/**
 * Publish metadata of one package: everything npm shows on the package's page
 * and what a tarball needs to be usable.
 */
export function metadataProblems(dir: string, pkg: PackageJson): string[] {
  const p: string[] = [];
  const where = `${dir}/package.json`;
  const short = path.basename(dir);
  if (pkg.name !== `@tumorcast/${short}`) p.push(`${where}: "name" must be "@tumorcast/${short}" (the folder's name)`);
  if (typeof pkg.version !== 'string' || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(pkg.version)) p.push(`${where}: "version" must be a semver version`);
  if (!isText(pkg.description)) p.push(`${where}: "description" is missing`);
  if (pkg.license !== 'Apache-2.0') p.push(`${where}: "license" must be "Apache-2.0"`);
  if (!isText(pkg.author)) p.push(`${where}: "author" is missing (use "tumorcast contributors")`);
  const kw = pkg.keywords;
  if (!Array.isArray(kw) || kw.length < 3 || !kw.includes('tumorcast') || !kw.every((k) => typeof k === 'string' && k === k.toLowerCase()) || new Set(kw).size !== kw.length) {
    p.push(`${where}: "keywords" must list at least 3 distinct lower-case keywords, "tumorcast" among them`);
  }
  if (pkg.homepage !== `${REPO}/tree/main/${dir}#readme`) p.push(`${where}: "homepage" must be "${REPO}/tree/main/${dir}#readme"`);
  if (pkg.bugs?.url !== `${REPO}/issues`) p.push(`${where}: "bugs" must be { "url": "${REPO}/issues" }`);
  const repo = pkg.repository;
  if (typeof repo !== 'object' || repo.type !== 'git' || repo.url !== `git+${REPO}.git` || repo.directory !== dir) {
    p.push(`${where}: "repository" must be { "type": "git", "url": "git+${REPO}.git", "directory": "${dir}" }`);
  }
  if (pkg.private === true) {
    if (pkg.publishConfig !== undefined) p.push(`${where}: a private package has no "publishConfig"`);
  } else if (pkg.publishConfig?.access !== 'public') {
    p.push(`${where}: "publishConfig" must be { "access": "public" } (scoped packages are private on npm by default)`);
  }
  if (pkg.type !== 'module') p.push(`${where}: "type" must be "module"`);
  if (!isText(pkg.engines?.node)) p.push(`${where}: "engines.node" is missing`);
  const dot = pkg.exports?.['.'] as { types?: unknown; import?: unknown } | undefined;
  if (!isText(pkg.main) || !isText(pkg.types) || !isText(dot?.types) || !isText(dot?.import)) {
    p.push(`${where}: "main", "types" and "exports['.']" with "types" and "import" are required`);
  }
  const files = Array.isArray(pkg.files) ? pkg.files : [];
  for (const f of ['dist', 'README.md', 'CHANGELOG.md', ...SOURCE_FILES]) {
    if (!files.includes(f)) p.push(`${where}: "files" must include "${f}"`);
  }
  if (pkg.scripts?.prepack !== PREPACK) p.push(`${where}: "scripts.prepack" must copy the root LICENSE in: ${PREPACK}`);
  if (pkg.scripts?.postpack !== POSTPACK) p.push(`${where}: "scripts.postpack" must remove the copy again: ${POSTPACK}`);
  return p;
}

/** `files` entries that the build writes (gitignored), so a fresh clone lacks them until it builds. */
export const BUILD_OUTPUTS = ['dist'];

/** A `files` glob (`*`, `**`, `?`) as a RegExp over package-relative posix paths. */
export function filesGlobToRegExp(glob: string): RegExp {
  let re = '';
  const g = glob.replace(/^\.\//, '').replace(/\/$/, '');
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!;
    if (c === '*' && g[i + 1] === '*') {
      // `**/` matches zero or more folders; a trailing `**` anything below
      if (g[i + 2] === '/') { re += '(?:.*/)?'; i += 2; } else { re += '.*'; i += 1; }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  // npm includes a matched folder with everything in it
  return new RegExp(`^${re}(?:/.*)?$`);
}

function walkAll(base: string, rel = '', out: string[] = []): string[] {
  for (const e of fs.readdirSync(path.join(base, rel), { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === '.git') continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    out.push(r);
    if (e.isDirectory()) walkAll(base, r, out);
  }
  return out;
}

/**
 * Every entry a package.json lists in `files` names something that exists in
 * the package folder (a glob matches at least one path): npm silently packs
 * nothing for a missing entry. Negations (`!…`) only exclude, and
 * {@link BUILD_OUTPUTS} appear with a build, so neither is checked.
 */
export function listedFilesProblems(root: string, dir: string, pkg: PackageJson): string[] {
  const files = Array.isArray(pkg.files) ? pkg.files : [];
  const base = path.join(root, dir);
  let all: string[] | undefined;
  const p: string[] = [];
  for (const entry of files) {
    if (typeof entry !== 'string' || entry.trim() === '') {
      p.push(`${dir}/package.json: "files" holds ${JSON.stringify(entry)}; each entry must be a path or glob`);
      continue;
    }
    if (entry.startsWith('!') || BUILD_OUTPUTS.includes(entry.replace(/^\.\//, '').replace(/\/$/, ''))) continue;
    if (/[*?]/.test(entry)) {
      all ??= walkAll(base);
      const re = filesGlobToRegExp(entry);
      if (!all.some((f) => re.test(f))) p.push(`${dir}/package.json: "files" lists "${entry}", which matches nothing in ${dir}/; add the files or drop the entry`);
    } else if (!fs.existsSync(path.join(base, entry))) {
      p.push(`${dir}/package.json: "files" lists "${entry}", but ${dir}/${entry.replace(/^\.\//, '')} does not exist; add it or drop the entry`);
    }
  }
  return p;
}

/**
 * Dependencies between workspace packages: each names a workspace package at
 * its current version exactly (nx release rewrites these pins on every bump),
 * libraries never depend on apps, and public packages never on private ones.
 */
export function dependencyProblems(packages: WorkspacePackage[]): string[] {
  const p: string[] = [];
  const byName = new Map(packages.map((w) => [w.pkg.name as string, w]));
  for (const { dir, pkg } of packages) {
    for (const field of DEP_FIELDS) {
      for (const [name, spec] of Object.entries(pkg[field] ?? {})) {
        if (!name.startsWith('@tumorcast/')) continue;
        const target = byName.get(name);
        if (!target) {
          p.push(`${dir}/package.json: ${field} names ${name}, which is not a workspace package`);
          continue;
        }
        if (spec !== target.pkg.version) {
          p.push(`${dir}/package.json: ${field}.${name} is "${spec}"; it must be "${target.pkg.version}" (the version in ${target.dir}/package.json)`);
        }
        if (dir.startsWith('libs/') && target.dir.startsWith('apps/')) p.push(`${dir}/package.json: a library must not depend on the app ${name}`);
        if ((RUNTIME_FIELDS as readonly string[]).includes(field) && pkg.private !== true && target.pkg.private === true) {
          p.push(`${dir}/package.json: the public package depends on the private ${name}`);
        }
      }
    }
  }
  return p;
}

/** The `@tumorcast/*` packages a TypeScript file imports (static, dynamic, type-only, re-exports). */
export function importedPackages(source: string): string[] {
  const found = new Set<string>();
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](@tumorcast\/[a-z0-9-]+)(?:\/[^'"]*)?['"]/g;
  for (const m of source.matchAll(re)) found.add(m[1]);
  return [...found].sort();
}

function walk(dir: string, out: string[] = []): string[] {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const f = path.join(dir, e.name);
    if (e.isDirectory()) walk(f, out);
    else if (/\.(ts|mts|mjs|js)$/.test(e.name)) out.push(f);
  }
  return out;
}

/** Whether a file under a package folder ships (and so runs for consumers). */
export function isShippedSource(rel: string): boolean {
  return rel.startsWith('src/') && !/\.test\.ts$/.test(rel) && !rel.split('/').includes('test-utils');
}

/**
 * Every `@tumorcast/*` import is declared: shipped sources need it in
 * dependencies or peerDependencies (else the published package breaks), tests,
 * test utilities and benchmarks in any dependency field.
 */
export function undeclaredImportProblems(root: string, packages: WorkspacePackage[]): string[] {
  const p: string[] = [];
  for (const { dir, pkg } of packages) {
    const runtime = new Set(RUNTIME_FIELDS.flatMap((f) => Object.keys(pkg[f] ?? {})));
    const any = new Set(DEP_FIELDS.flatMap((f) => Object.keys(pkg[f] ?? {})));
    const base = path.join(root, dir);
    for (const sub of ['src', 'test', 'bench']) {
      for (const file of walk(path.join(base, sub))) {
        const rel = path.relative(base, file).split(path.sep).join('/');
        for (const name of importedPackages(fs.readFileSync(file, 'utf8'))) {
          if (name === pkg.name) continue;
          if (isShippedSource(rel) ? !runtime.has(name) : !any.has(name)) {
            const field = isShippedSource(rel) ? 'dependencies' : 'devDependencies';
            p.push(`${dir}/${rel} imports ${name}: add it to ${field} in ${dir}/package.json`);
          }
        }
      }
    }
  }
  return p;
}

/** The package edges of the first mermaid block: `a --> b` and `a --> b & c`, ids mapped to labels. */
export function mermaidEdges(markdown: string): { nodes: string[]; edges: string[] } {
  const block = /```mermaid\n([\s\S]*?)```/.exec(markdown);
  if (!block) return { nodes: [], edges: [] };
  const labels = new Map<string, string>();
  const edges = new Set<string>();
  for (const raw of block[1].split('\n')) {
    const line = raw.replace(/%%.*$/, '').trim();
    const node = /^([\w-]+)\s*\[\s*"([^"]+)"\s*\]$/.exec(line);
    if (node) {
      labels.set(node[1], node[2]);
      continue;
    }
    const edge = /^([\w-]+)\s*-->\s*(.+)$/.exec(line);
    if (edge) for (const to of edge[2].split('&')) edges.add(`${edge[1]} --> ${to.trim()}`);
  }
  const label = (id: string) => labels.get(id) ?? `?${id}`;
  return {
    nodes: [...labels.values()].sort(),
    edges: [...edges].map((e) => e.split(' --> ').map(label).join(' --> ')).sort(),
  };
}

/** The edges the packages declare: runtime dependencies between workspace packages. */
export function declaredEdges(packages: WorkspacePackage[]): string[] {
  const names = new Set(packages.map((w) => w.pkg.name));
  const edges = new Set<string>();
  for (const { pkg } of packages) {
    for (const field of RUNTIME_FIELDS) {
      for (const dep of Object.keys(pkg[field] ?? {})) if (names.has(dep)) edges.add(`${pkg.name} --> ${dep}`);
    }
  }
  return [...edges].sort();
}
