import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { JobClaims } from '../../src/metadata/claims.js';
import { startWorker, type Worker } from '../../src/scheduler/worker.js';
import { ENV, addJob, captureLog, eventRow, fakeClock, recordingRunner, sleep, testScope, untilAborted, type Call } from './helpers.js';

const { cleanup, setup } = testScope();

/** Polls until `ready` (every 50 ms, at most 20 s). */
async function until(ready: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!(await ready())) {
    if (Date.now() > end) throw new Error(`waited 20 s for ${what}`);
    await sleep(50);
  }
}

describe('job claims', () => {
  it('exclude other workers while the heartbeat runs, even past the TTL, and release frees them', async () => {
    const m = await setup();
    const { jobId } = await addJob(m.pool, 'orders');
    const before = (await m.pool.query('SELECT "updated_at" FROM "jobs" WHERE "id" = $1', [jobId])).rows[0].updated_at as Date;
    // A 2 s TTL renewed every 200 ms: ten heartbeats per TTL, so a busy machine's delays do
    // not let the claim lapse. The test waits for the database clock to pass the first
    // expiry (an observable event), not for a guessed time.
    const a = new JobClaims(m.pool, { workerId: 'a', ttlSeconds: 2, heartbeatMs: 200 });
    const b = new JobClaims(m.pool, { workerId: 'b', ttlSeconds: 2, heartbeatMs: 200 });
    const claim = await a.tryClaim(jobId);
    expect(claim).not.toBeNull();
    expect(await b.tryClaim(jobId)).toBeNull();
    const firstExpiry = (await m.pool.query('SELECT "claim_expires_at" AS t FROM "jobs" WHERE "id" = $1', [jobId])).rows[0].t as Date;
    await until(async () => (await m.pool.query('SELECT now() > $1::timestamptz AS past', [firstExpiry])).rows[0].past as boolean, 'the first expiry to pass');
    expect(await b.tryClaim(jobId)).toBeNull();
    expect(claim!.lost).toBe(false);
    const row = (await m.pool.query('SELECT "claimed_by", "claim_token", "updated_at" FROM "jobs" WHERE "id" = $1', [jobId])).rows[0];
    expect(row.claimed_by).toBe('a');
    // Claims and heartbeats are not edits of the job.
    expect(row.updated_at).toEqual(before);
    await claim!.release();
    const c2 = await b.tryClaim(jobId);
    expect(c2?.token).toBe(row.claim_token + 1);
    await c2!.release();
  });

  it('a stale claim (a crashed worker stopped heartbeating) is taken over after it expires', async () => {
    const m = await setup();
    const { jobId } = await addJob(m.pool, 'orders');
    await m.pool.query(`UPDATE "jobs" SET "claimed_by" = 'crashed-worker', "claimed_at" = now(), "claim_expires_at" = now() + interval '800 milliseconds', "claim_token" = 7 WHERE "id" = $1`, [jobId]);
    const { log, lines } = captureLog();
    const b = new JobClaims(m.pool, { workerId: 'b', ttlSeconds: 5, log });
    expect(await b.tryClaim(jobId)).toBeNull();
    await until(async () => (await m.pool.query('SELECT "claim_expires_at" <= now() AS expired FROM "jobs" WHERE "id" = $1', [jobId])).rows[0].expired as boolean, 'the stale claim to expire');
    const claim = await b.tryClaim(jobId);
    expect(claim?.token).toBe(8);
    expect(lines.some((l) => l.msg === 'took over an expired job claim' && l.previousWorker === 'crashed-worker')).toBe(true);
    await b.releaseAll();
    expect((await m.pool.query('SELECT "claimed_by" FROM "jobs" WHERE "id" = $1', [jobId])).rows[0].claimed_by).toBeNull();
  });

  it('a worker whose claim was taken over gets its signal aborted and does not record its result', async () => {
    const m = await setup();
    await addJob(m.pool, 'orders', { frequency: 60 });
    const clock = fakeClock('2026-03-02T10:00:00Z');
    const calls: Call[] = [];
    const slow = recordingRunner('a', calls, async (_job, signal) => {
      await untilAborted(signal);
      return { ok: false, error: `aborted: ${(signal.reason as Error).message}` };
    });
    const a = startWorker({ pool: m.pool, env: ENV, log: captureLog().log, runJob: slow, now: clock.now, autoTick: false, workerId: 'a', heartbeatMs: 100 });
    cleanup.push(() => a.stop());
    await a.tick();
    expect(calls).toHaveLength(1);
    // Worker a stalls: its claim goes stale and worker b takes the job over.
    await m.pool.query(`UPDATE "jobs" SET "claim_expires_at" = now() - interval '1 second'`);
    const b = startWorker({ pool: m.pool, env: ENV, log: captureLog().log, runJob: recordingRunner('b', calls), now: clock.now, autoTick: false, workerId: 'b' });
    cleanup.push(() => b.stop());
    await b.tick();
    await b.idle();
    await a.idle();
    expect(calls.map((c) => c.worker)).toEqual(['a', 'b']);
    expect(calls[0]!.signal.aborted).toBe(true);
    expect((calls[0]!.signal.reason as Error).message).toMatch(/job claim lost/);
    const row = await eventRow(m.pool, 'orders');
    // b's success stands; a's late failure was not written over it.
    expect(row).toMatchObject({ last_error: null, failure_count: 0, claimed_by: null });
    expect(row.last_succeeded_at).toEqual(clock.now());
  });

  it('kill -9 of a worker mid-run: another worker takes the job over once the claim expires', async () => {
    const m = await setup();
    await addJob(m.pool, 'orders', { frequency: 60 });
    const script = fileURLToPath(new URL('./fixtures/hanging-worker.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, m.url], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanup.push(async () => void child.kill('SIGKILL'));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('RUNNING orders')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    expect((await eventRow(m.pool, 'orders')).claimed_by).toBe('hanging');
    child.kill('SIGKILL');
    const killedAt = performance.now();
    const calls: Call[] = [];
    const b = startWorker({ pool: m.pool, env: ENV, log: captureLog().log, runJob: recordingRunner('b', calls), autoTick: false, workerId: 'b' });
    cleanup.push(() => b.stop());
    while (calls.length === 0 && performance.now() - killedAt < 10_000) {
      await b.tick();
      await sleep(100);
    }
    await b.idle();
    expect(calls.map((c) => c.job)).toEqual(['orders']);
    // Not before the crashed worker's claim (TTL 2 s) expired.
    expect(calls[0]!.start - killedAt).toBeGreaterThan(1000);
    const row = await eventRow(m.pool, 'orders');
    expect(row).toMatchObject({ last_error: null, claimed_by: null, failure_count: 0 });
    expect(row.last_succeeded_at).not.toBeNull();
  });
});
