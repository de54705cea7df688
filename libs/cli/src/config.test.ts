import { describe, expect, it } from '@jest/globals';
import { defineConfigSchema, resolveConfig } from './index.js';
import type { ConfigOf } from './index.js';

// The types are checked by the typecheck target (this file is in the test
// tsconfig): each `@ts-expect-error` fails the build if the inferred type
// stops rejecting the wrong use.
const schema = defineConfigSchema({
  steps: { type: 'integer', description: 'steps', default: 10, min: 1 },
  rate: { type: 'number', description: 'rate', optional: true },
  mode: { type: 'string', description: 'mode', default: 'fast', choices: ['fast', 'exact'] },
  name: { type: 'string', description: 'name' },
  dirs: { type: 'string[]', description: 'folders', default: [] },
  sizes: { type: 'integer[]', description: 'sizes', optional: true },
  verbose: { type: 'boolean', description: 'verbose', default: false },
});

describe('defineConfigSchema and the inferred config type', () => {
  it('returns the schema unchanged', () => {
    const s = { a: { type: 'number', description: 'a' } } as const;
    expect(defineConfigSchema(s)).toBe(s);
  });

  it('resolveConfig returns the schema-typed config (values as resolved at run time)', () => {
    const c = resolveConfig(schema, { flags: new Map<string, string | true>([['name', 'n'], ['mode', 'exact'], ['sizes', '1,2'], ['verbose', 'true']]) });
    const steps: number = c.steps;
    const mode: 'fast' | 'exact' = c.mode;
    const name: string = c.name;
    const dirs: string[] = c.dirs;
    const sizes: number[] | undefined = c.sizes;
    const verbose: boolean = c.verbose;
    const rate: number | undefined = c.rate;
    expect({ steps, mode, name, dirs, sizes, verbose, rate }).toEqual({ steps: 10, mode: 'exact', name: 'n', dirs: [], sizes: [1, 2], verbose: true, rate: undefined });
    // @ts-expect-error an optional key may be unset
    const r: number = c.rate;
    // @ts-expect-error a key with choices is their union, not any string
    const m: 'slow' = c.mode;
    // @ts-expect-error keys outside the schema do not exist
    expect(c.stepz).toBeUndefined();
    expect([r, m]).toEqual([undefined, 'exact']);
  });

  it('a schema with string keys (no literal names) types every key by its field', () => {
    type Loose = ConfigOf<Record<string, { type: 'number'; description: string }>>;
    const loose: Loose = { anything: 1 };
    expect(loose['anything']).toBe(1);
  });
});
