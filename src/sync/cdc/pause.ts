/**
 * Test pause points of a CDC run: with REDSHIFT_LOADER_TEST_PAUSE_AT=<phase> the process
 * writes `RL_TEST_PAUSED <phase>` to stderr when it reaches that phase and waits there
 * forever, so a test can kill -9 it at exactly that point (test/cdc-crash.test.ts).
 * Phases: drain, upload, before-commit, after-commit, before-confirm. Unset: no effect.
 */
export const PAUSE_ENV = 'REDSHIFT_LOADER_TEST_PAUSE_AT';

export function pauseRequested(phase: string): boolean {
  return process.env[PAUSE_ENV] === phase;
}

export function announcePause(phase: string): void {
  process.stderr.write(`RL_TEST_PAUSED ${phase}\n`);
  // Keeps the process alive (and its sessions open) until it is killed.
  setInterval(() => undefined, 1 << 30);
}

export async function pausePoint(phase: string): Promise<void> {
  if (!pauseRequested(phase)) return;
  announcePause(phase);
  await new Promise<never>(() => undefined);
}
