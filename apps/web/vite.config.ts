/**
 * Builds the web app (`vite build` into dist/, static files) and serves it
 * (`vite preview`). Workspace packages resolve to their TypeScript sources,
 * as in the tests, so the app needs no prior build of the libraries; Node's
 * built-in modules, which some packages import for their file functions,
 * resolve to throwing stand-ins; the shipped demo models are copied from
 * apps/predict/models into the site's models/ folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import type { Plugin } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const shim = path.join(here, 'src/shims/node-builtins.ts');
/** The demo models the command-line app ships; the site serves the same files. */
const MODEL_DIR = path.join(repo, 'apps/predict/models');
const MODEL_FILES = ['diffusion.safetensors', 'regressor.safetensors', 'segmenter.safetensors'];

/** Workspace packages to their sources; Node built-ins and the CLI's file helpers to the stand-ins. */
function workspaceSources(): Plugin {
  return {
    name: 'tumorcast-workspace-sources',
    enforce: 'pre',
    resolveId(id, importer) {
      if (id === '@tumorcast/cli/files') return shim;
      const ws = /^@tumorcast\/([a-z0-9-]+)(?:\/([a-z0-9-]+))?$/.exec(id);
      if (ws) return path.join(repo, 'libs', ws[1]!, 'src', `${ws[2] ?? 'index'}.ts`);
      // Only the workspace's own sources: third-party packages (tfjs's Node paths) keep Vite's own handling.
      const bare = id.startsWith('node:') ? id.slice(5) : id;
      if (builtinModules.includes(bare) && importer?.startsWith(path.join(repo, 'libs'))) return shim;
      return null;
    },
  };
}

/** Serves (dev, preview) and emits (build) the demo models under models/. */
function demoModels(): Plugin {
  const serve = (req: { url?: string }, res: { setHeader(k: string, v: string): void; end(b: Buffer): void }, next: () => void) => {
    const m = /^\/models\/([a-z]+\.safetensors)(\?.*)?$/.exec(req.url ?? '');
    if (!m || !MODEL_FILES.includes(m[1]!)) return next();
    res.setHeader('Content-Type', 'application/octet-stream');
    res.end(fs.readFileSync(path.join(MODEL_DIR, m[1]!)));
  };
  return {
    name: 'tumorcast-demo-models',
    configureServer(server) {
      server.middlewares.use(serve);
    },
    generateBundle() {
      for (const f of MODEL_FILES) this.emitFile({ type: 'asset', fileName: `models/${f}`, source: fs.readFileSync(path.join(MODEL_DIR, f)) });
    },
  };
}

/**
 * Names a package imports from a built-in module that the stand-in does not
 * list become undefined instead of failing the build: packages under work
 * may import more of Node at the top than the stand-ins name.
 */
const rolldownOptions = { shimMissingExports: true };

export default defineConfig({
  root: here,
  // relative asset paths: the built site works from any folder or sub-path
  base: './',
  plugins: [workspaceSources(), demoModels()],
  worker: { format: 'es', plugins: () => [workspaceSources()], rolldownOptions },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // tfjs is large by nature; the default 500 kB warning says nothing here
    chunkSizeWarningLimit: 6000,
    reportCompressedSize: false,
    rolldownOptions,
  },
  server: { port: 5173 },
  preview: { port: 4173 },
});
