import { execFile, spawn } from 'node:child_process';
import path from 'node:path';

/**
 * The loader's CLI as a user runs it: a real process from source, the given environment
 * only (plus PATH and HOME), stdout, stderr and the exit code (0 success, 1 a failure,
 * 2 bad configuration). `input` is written to its stdin, which is then closed (a command
 * that asks gets an empty answer, never a hang).
 */
export const root = path.resolve(import.meta.dirname, '../..');
export const repoRoot = root;

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `redshift-loader ARGS` from source with only PATH, HOME and `env` in its environment. */
export function cli(args: string[], env: Record<string, string | undefined>, opts: { input?: string; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/index.ts', ...args],
      { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } as NodeJS.ProcessEnv, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(opts.input ?? '');
  });
}

/**
 * Runs the CLI under a pseudo-terminal (util-linux `script`), so that stdout is a TTY as
 * in a person's shell. Returns everything the terminal showed (stdout and stderr mixed).
 */
export function cliInTerminal(args: string[], env: Record<string, string | undefined>, timeoutMs = 60_000): Promise<{ code: number; output: string }> {
  const command = [process.execPath, '--import', 'tsx', 'src/cli/index.ts', ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve) => {
    const child = spawn('script', ['-qefc', command, '/dev/null'], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'dumb', COLUMNS: '200', ...env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output: output.replace(/\r\n/g, '\n') });
    });
  });
}
