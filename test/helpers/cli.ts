import { execFile } from 'node:child_process';
import path from 'node:path';

/**
 * The loader's CLI as a user runs it: a real process from source, the given environment
 * only (plus PATH and HOME), stdout, stderr and the exit code (0 success, 1 a failure,
 * 2 bad configuration). `input` is written to its stdin, which is then closed.
 */
export const repoRoot = path.resolve(import.meta.dirname, '../..');

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: Record<string, string | undefined>, opts: { input?: string } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/index.ts', ...args],
      { cwd: repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'silent', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(opts.input ?? '');
  });
}
