#!/usr/bin/env node
// `npm test`: the typecheck, then the whole suite (arguments go to vitest, e.g.
// `npm test -- test/sync.test.ts`), then one line with how long each took. Exits with the
// first failure's code.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const run = (what, cmd, args) => {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.error) throw r.error;
  return { what, seconds, code: r.status ?? (r.signal ? 1 : 0) };
};

const steps = [run('typecheck', process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit'])];
if (steps[0].code === 0) steps.push(run('suite', process.execPath, [path.join(path.dirname(require.resolve('vitest/package.json')), 'vitest.mjs'), 'run', ...process.argv.slice(2)]));
const total = steps.reduce((s, x) => s + x.seconds, 0);
const failed = steps.find((s) => s.code !== 0);
process.stdout.write(
  `npm test: ${steps.map((s) => `${s.what} ${s.seconds.toFixed(1)} s`).join(' + ')} = ${total.toFixed(1)} s${failed ? ` (${failed.what} failed)` : ''}\n`,
);
process.exit(failed ? failed.code : 0);
