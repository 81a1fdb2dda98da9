import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layering rule of ARCHITECTURE.md, checked on the source: a module imports only from its
 * own layer's folder or from folders of lower layers. A new folder must be given a rank here
 * (the test fails until it is), so the rule cannot be bypassed by adding one.
 */
const RANKS: Record<string, number> = {
  // 0: no knowledge of the product's concepts
  sql: 0, 'secrets.ts': 0, 'log.ts': 0, 'format.ts': 0, 'errors.ts': 0, config: 0,
  // 1: pure schedule arithmetic
  schedule: 1,
  // 2: one external system each
  db: 2, s3: 2, redshift: 2, alerts: 2,
  // 3: the metadata DB contract; reading the source
  metadata: 3, extract: 3,
  // 4: schema planning (pure where it can be); the admin toolkit
  schema: 4, admin: 4,
  // 5: one table sync (keyset modes and CDC)
  sync: 5,
  // 6: commands built on sync and schema
  setup: 6, verify: 6, doctor: 6,
  // 7: reading the state back
  status: 7,
  // 8: running jobs; configuration as code
  scheduler: 8, apply: 8,
  // 9: entry points
  cli: 9, stack: 9,
};

const root = join(import.meta.dirname, '..');
const src = join(root, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return files(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g)) found.push(m[1]!);
  return found;
}

const top = (file: string) => relative(src, file).split(sep)[0]!;

describe('architecture: layers import only downward', () => {
  it('gives every folder of src/ a rank', () => {
    const unranked = readdirSync(src).filter((name) => !(name in RANKS) && (statSync(join(src, name)).isDirectory() || name.endsWith('.ts')));
    expect(unranked, 'give these a rank in test/architecture.test.ts and ARCHITECTURE.md').toEqual([]);
  });

  it('has no import from a higher layer', () => {
    const upward: string[] = [];
    for (const file of files(src)) {
      const from = top(file);
      for (const spec of imports(file)) {
        if (!spec.startsWith('.')) continue;
        const target = normalize(join(dirname(file), spec));
        if (!target.startsWith(src + sep)) {
          upward.push(`${relative(root, file)} imports ${spec}, outside src/`);
          continue;
        }
        const to = top(target.replace(/\.js$/, '.ts'));
        if (to === from) continue;
        if ((RANKS[to] ?? Infinity) > (RANKS[from] ?? -Infinity)) {
          upward.push(`${relative(root, file)} (${from}, rank ${RANKS[from]}) imports ${spec} (${to}, rank ${RANKS[to]})`);
        }
      }
    }
    expect(upward).toEqual([]);
  });

  it('keeps the layers apart that the layout separates: sync and setup, schema and both', () => {
    const bad: string[] = [];
    for (const file of files(src)) {
      const from = top(file);
      for (const spec of imports(file)) {
        if (!spec.startsWith('.')) continue;
        const to = top(normalize(join(dirname(file), spec)));
        if (from === 'sync' && to === 'setup') bad.push(`${relative(root, file)} -> ${spec}`);
        if (from === 'schema' && (to === 'sync' || to === 'setup')) bad.push(`${relative(root, file)} -> ${spec}`);
        if (from === 'redshift' && to !== 'redshift' && to !== 'sql' && !to.endsWith('.ts')) bad.push(`${relative(root, file)} -> ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('keeps the Redshift double a package of its own: it imports nothing of the loader, and the loader imports it only by name', () => {
    const pkg = join(root, 'packages', 'redshift-double', 'src');
    const leaks: string[] = [];
    for (const file of files(pkg)) {
      for (const spec of imports(file)) {
        if (spec.startsWith('.') && !normalize(join(dirname(file), spec)).startsWith(pkg + sep)) leaks.push(`${relative(root, file)} imports ${spec}`);
      }
    }
    for (const file of files(src)) {
      for (const spec of imports(file)) {
        if (spec.startsWith('.') && normalize(join(dirname(file), spec)).includes(`${sep}packages${sep}`)) leaks.push(`${relative(root, file)} imports ${spec}`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it('has no runtime dependency that nothing in src/ imports', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const used = new Set<string>();
    for (const file of files(src)) {
      for (const spec of imports(file)) {
        if (spec.startsWith('.') || spec.startsWith('node:')) continue;
        used.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
      // A package loaded by name (pino's transport `target: 'pino-pretty'`) counts as used.
      for (const m of readFileSync(file, 'utf8').matchAll(/target:\s*'([^']+)'/g)) used.add(m[1]!);
    }
    const unused = Object.keys(pkg.dependencies).filter((d) => !used.has(d));
    expect(unused, 'dependencies that nothing in src/ imports').toEqual([]);
  });
});
