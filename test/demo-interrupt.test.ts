import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './helpers/cli.js';

/**
 * Issue 19, point 8: Ctrl-C at a terminal signals the whole process group (the demo or
 * `stack`, and the servers they started). They exit cleanly, without a connection error,
 * and leave nothing in the temp folder.
 */
function start(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    // The whole environment (the locale matters to initdb), less what would point elsewhere.
    env: { ...process.env, DATABASE_URL: undefined, LOG_LEVEL: undefined, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, as a terminal's foreground job
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const until = async (what: () => boolean, ms = 60_000) => {
    const end = Date.now() + ms;
    while (!what()) {
      if (Date.now() > end) throw new Error(`timed out; stdout:\n${out.stdout}\nstderr:\n${out.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const ctrlC = () => process.kill(-child.pid!, 'SIGINT');
  return { child, out, exited, until, ctrlC, dir: path.join(os.tmpdir(), `redshift-loader-stack-${child.pid}`) };
}

// The two start a stack each; they run at the same time.
describe.concurrent('Ctrl-C', () => {
  it('the demo, while the worker syncs: exit 130, no error, its temp folder removed', async () => {
    const d = start(['scripts/demo.ts'], { DEMO_SECONDS: '60' });
    await d.until(() => d.out.stdout.includes('worker: public.'));
    expect(existsSync(d.dir)).toBe(true);
    d.ctrlC();
    expect(await d.exited).toBe(130);
    expect(d.out.stderr).toBe('');
    // Nothing after the line that says it is stopping.
    const at = d.out.stdout.indexOf('stopping: the worker, then the stack');
    expect(at).toBeGreaterThan(0);
    expect(d.out.stdout.slice(at)).toBe('stopping: the worker, then the stack (its files are removed)...\n');
    expect(d.out.stdout).not.toMatch(/error|failed/i);
    expect(existsSync(d.dir)).toBe(false);
  }, 120_000);

  it('redshift-loader stack: exit 0, its temp folder removed', async () => {
    const envFile = path.join(await mkdtemp(path.join(os.tmpdir(), 'rl-stack-test-')), 'stack.env');
    // Node 20 claims --env-file on its own command line: the variable scripts/stack.sh uses.
    const s = start(['src/cli/index.ts', 'stack', '--no-migrate'], { REDSHIFT_LOADER_STACK_ENV_FILE: envFile });
    await s.until(() => existsSync(envFile) && s.out.stdout.includes('export DATABASE_URL='));
    expect((await readFile(envFile, 'utf8')).split('\n')[0]).toMatch(/^export DATABASE_URL='postgres:\/\//);
    expect(existsSync(s.dir)).toBe(true);
    s.ctrlC();
    expect(await s.exited).toBe(0);
    expect(existsSync(s.dir)).toBe(false);
  }, 120_000);
});
