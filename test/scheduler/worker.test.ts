import { describe, expect, it } from 'vitest';
import { startWorker, type RunJob, type Worker, type WorkerOptions } from '../../src/scheduler/worker.js';
import { ENV, addJob, captureLog, eventRow, fakeClock, recordingRunner, sleep, testScope, untilAborted, type Call, type Meta } from './helpers.js';

const { cleanup, setup } = testScope();

function worker(m: Meta, runJob: RunJob, extra: Partial<WorkerOptions> = {}): Worker {
  const w = startWorker({ pool: m.pool, env: ENV, log: captureLog().log, runJob, autoTick: false, ...extra });
  cleanup.push(() => w.stop());
  return w;
}

const T0 = '2026-03-02T10:00:00Z';

describe('worker', () => {
  it('runs due jobs, records the rows, and runs them again only when due', async () => {
    const m = await setup();
    await addJob(m.pool, 'hourly', { frequency: 3600 });
    await addJob(m.pool, 'minutely', { frequency: 60 });
    const clock = fakeClock(T0);
    const calls: Call[] = [];
    const w = worker(m, recordingRunner('w', calls), { now: clock.now });
    await w.tick();
    await w.idle();
    expect(calls.map((c) => c.job).sort()).toEqual(['hourly', 'minutely']);
    expect(await eventRow(m.pool, 'hourly')).toMatchObject({ last_run_at: clock.now(), last_succeeded_at: clock.now(), last_error: null, failure_count: 0, claimed_by: null });
    clock.advance(10);
    await w.tick();
    await w.idle();
    expect(calls).toHaveLength(2);
    clock.advance(50);
    await w.tick();
    await w.idle();
    expect(calls.map((c) => c.job)).toEqual(expect.arrayContaining(['minutely']));
    expect(calls.slice(2).map((c) => c.job)).toEqual(['minutely']);
    expect((await eventRow(m.pool, 'minutely')).last_succeeded_at).toEqual(clock.now());
  });

  it('re-reading the rows (and restarting) never makes a job run', async () => {
    const m = await setup();
    await addJob(m.pool, 'hourly', { frequency: 3600 });
    await addJob(m.pool, 'morning', { frequency: 3600, at: '10:**' });
    const clock = fakeClock(T0);
    const calls: Call[] = [];
    const env = { ...ENV, SYNC_DB_EVENTS_FREQUENCY: 1 };
    let w = worker(m, recordingRunner('w', calls), { now: clock.now, env });
    // Every tick re-reads the rows (SYNC_DB_EVENTS_FREQUENCY = 1 s, ticks 5 s apart);
    // from 10:00:00 to 11:00:00 (the whole 10:** window), with a fresh worker from 10:30.
    for (let i = 0; i <= 12 * 60; i++) {
      if (i === 360) {
        await w.stop();
        w = worker(m, recordingRunner('w2', calls), { now: clock.now, env });
      }
      await w.tick();
      await w.idle();
      clock.advance(5);
    }
    expect(calls.map((c) => `${c.job}@${c.worker}`).sort()).toEqual(['hourly@w', 'hourly@w2', 'morning@w']);
    // hourly ran at 10:00 and 11:00; morning once at 10:00 only.
    expect((await eventRow(m.pool, 'hourly')).last_succeeded_at).toEqual(new Date('2026-03-02T11:00:00Z'));
    expect((await eventRow(m.pool, 'morning')).last_succeeded_at).toEqual(new Date(T0));
  });

  it('backs off after failures and never moves last_succeeded_at on failure', async () => {
    const m = await setup();
    await addJob(m.pool, 'flaky', { frequency: 60 });
    const clock = fakeClock(T0);
    const calls: Call[] = [];
    let fail = true;
    const w = worker(m, recordingRunner('w', calls, async () => (fail ? { ok: false, error: 'destination down' } : { ok: true })), { now: clock.now });
    await w.tick();
    await w.idle();
    expect(await eventRow(m.pool, 'flaky')).toMatchObject({
      last_run_at: new Date(T0),
      last_succeeded_at: null,
      last_error: 'destination down',
      failure_count: 1,
      retry_at: new Date('2026-03-02T10:00:30Z'),
    });
    for (let i = 0; i < 5; i++) {
      clock.advance(5);
      await w.tick();
      await w.idle();
    }
    expect(calls).toHaveLength(1);
    clock.set('2026-03-02T10:00:30Z');
    await w.tick();
    await w.idle();
    expect(calls).toHaveLength(2);
    expect(await eventRow(m.pool, 'flaky')).toMatchObject({ failure_count: 2, retry_at: new Date('2026-03-02T10:01:30Z'), last_succeeded_at: null });
    fail = false;
    clock.set('2026-03-02T10:01:30Z');
    await w.tick();
    await w.idle();
    expect(await eventRow(m.pool, 'flaky')).toMatchObject({
      failure_count: 0,
      retry_at: null,
      last_error: null,
      last_succeeded_at: new Date('2026-03-02T10:01:30Z'),
    });
  });

  it('isolates bad rows: others still run, each bad one gets a log line and last_error', async () => {
    const m = await setup();
    // Rows the database now refuses (migration 20261210010000_operability) can still exist:
    // written before that migration. They are written here with its check switched off.
    await m.pool.query(`ALTER TABLE "schedule_events" DISABLE TRIGGER "schedule_events_check"`);
    await addJob(m.pool, 'bad-at', { at: '25:00' });
    await addJob(m.pool, 'bad-tz', { timezone: 'Mars/Olympus' });
    await m.pool.query(`ALTER TABLE "schedule_events" ENABLE TRIGGER "schedule_events_check"`);
    await addJob(m.pool, 'throws');
    await addJob(m.pool, 'good');
    const clock = fakeClock(T0);
    const calls: Call[] = [];
    const { log, lines } = captureLog();
    const runner = recordingRunner('w', calls, async (job) => {
      if (job === 'throws') throw new Error('boom');
      return { ok: true };
    });
    const w = startWorker({ pool: m.pool, env: { ...ENV, WORKER_CONCURRENCY: 4 }, log, runJob: runner, now: clock.now, autoTick: false });
    cleanup.push(() => w.stop());
    await w.tick();
    await w.idle();
    clock.advance(5);
    await w.tick();
    await w.idle();
    expect(calls.map((c) => c.job).sort()).toEqual(['good', 'throws']);
    expect(await eventRow(m.pool, 'good')).toMatchObject({ last_error: null, last_succeeded_at: new Date(T0) });
    expect(await eventRow(m.pool, 'throws')).toMatchObject({ last_error: 'runner threw: boom', last_succeeded_at: null, failure_count: 1 });
    expect((await eventRow(m.pool, 'bad-at')).last_error).toBe('invalid schedule: bad at pattern "25:00": hour 25 never matches (hours are 00-23)');
    expect((await eventRow(m.pool, 'bad-tz')).last_error).toMatch(/^invalid schedule: unknown timezone "Mars\/Olympus"/);
    const errors = lines.filter((l) => l.level === 'error');
    // One line per bad row (not one per tick), each naming the job and carrying last_error.
    expect(errors.filter((l) => l.job === 'bad-at')).toHaveLength(1);
    expect(errors.filter((l) => l.job === 'bad-tz')).toHaveLength(1);
    expect(errors.find((l) => l.job === 'bad-at')).toMatchObject({ lastError: expect.stringMatching(/25:00/), msg: expect.stringMatching(/job bad-at/) });
    expect(errors.find((l) => l.job === 'throws')).toMatchObject({ lastError: 'runner threw: boom', msg: expect.stringMatching(/job throws run failed: runner threw: boom/) });
    // Fixing the row clears its config error and lets it run at the next reload.
    await m.pool.query(`UPDATE "schedule_events" SET "at" = NULL WHERE "job_id" = (SELECT "id" FROM "jobs" WHERE "name" = 'bad-at')`);
    clock.advance(60);
    await w.tick();
    await w.idle();
    expect(calls.some((c) => c.job === 'bad-at')).toBe(true);
    expect((await eventRow(m.pool, 'bad-at')).last_error).toBeNull();
  });

  it('two workers on one metadata DB: each job runs once per due time, never concurrently', async () => {
    const m = await setup();
    const jobs = ['a', 'b', 'c', 'd', 'e'];
    for (const j of jobs) await addJob(m.pool, j, { frequency: 60 });
    const clock = fakeClock(T0);
    const calls: Call[] = [];
    const active = new Map<string, number>();
    let maxActive = 0;
    const behave = async (job: string) => {
      const n = (active.get(job) ?? 0) + 1;
      active.set(job, n);
      maxActive = Math.max(maxActive, n);
      await sleep(60);
      active.set(job, n - 1);
      return { ok: true };
    };
    const w1 = worker(m, recordingRunner('w1', calls, behave), { now: clock.now, workerId: 'w1' });
    const w2 = worker(m, recordingRunner('w2', calls, behave), { now: clock.now, workerId: 'w2' });
    for (let round = 0; round < 3; round++) {
      // Many ticks of both workers at the same due time, while runs are in flight.
      for (let i = 0; i < 8; i++) {
        await Promise.all([w1.tick(), w2.tick()]);
        await sleep(25);
      }
      await Promise.all([w1.idle(), w2.idle()]);
      for (const j of jobs) expect(calls.filter((c) => c.job === j)).toHaveLength(round + 1);
      clock.advance(61);
    }
    expect(maxActive).toBe(1);
    // Per job, runs never overlap in time, across both workers.
    for (const j of jobs) {
      const runs = calls.filter((c) => c.job === j).sort((x, y) => x.start - y.start);
      for (let i = 1; i < runs.length; i++) expect(runs[i]!.start).toBeGreaterThanOrEqual(runs[i - 1]!.end!);
    }
    expect(new Set(calls.map((c) => c.worker))).toEqual(new Set(['w1', 'w2']));
    const claimed = await m.pool.query(`SELECT count(*)::int AS n FROM "jobs" WHERE "claimed_by" IS NOT NULL`);
    expect(claimed.rows[0].n).toBe(0);
  });

  it('keeps concurrency bounded', async () => {
    const m = await setup();
    for (const j of ['a', 'b', 'c', 'd']) await addJob(m.pool, j);
    let active = 0;
    let maxActive = 0;
    const calls: Call[] = [];
    const w = worker(
      m,
      recordingRunner('w', calls, async () => {
        maxActive = Math.max(maxActive, ++active);
        await sleep(50);
        active--;
        return { ok: true };
      }),
      { now: fakeClock(T0).now },
    );
    await w.tick();
    expect(calls).toHaveLength(2);
    await w.idle();
    await w.tick();
    await w.idle();
    expect(calls).toHaveLength(4);
    expect(maxActive).toBe(2);
  });

  it('stop() during a slow run aborts its signal, records the interruption and resolves within the grace period', async () => {
    const m = await setup();
    await addJob(m.pool, 'slow');
    const calls: Call[] = [];
    const w = worker(
      m,
      recordingRunner('w', calls, async (_job, signal) => {
        await untilAborted(signal, 20_000);
        await sleep(50); // abandon the batch before its commit
        return { ok: false, error: 'aborted before commit' };
      }),
      { graceMs: 5000 },
    );
    await w.tick();
    expect(calls).toHaveLength(1);
    const t0 = performance.now();
    await w.stop();
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(calls[0]!.signal.aborted).toBe(true);
    expect(calls[0]!.end).toBeDefined();
    // Not counted as a failure (no backoff for the next worker), and the claim is released.
    expect(await eventRow(m.pool, 'slow')).toMatchObject({
      last_error: 'interrupted by worker shutdown: aborted before commit',
      failure_count: 0,
      retry_at: null,
      last_succeeded_at: null,
      claimed_by: null,
    });
    await w.tick();
    expect(calls).toHaveLength(1);
  });

  it('stop() gives up on a run that ignores the abort after the grace period and leaves its claim to expire', async () => {
    const m = await setup();
    const { jobId } = await addJob(m.pool, 'stubborn');
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const calls: Call[] = [];
    const w = worker(
      m,
      recordingRunner('w', calls, async () => {
        await done;
        return { ok: true };
      }),
      { graceMs: 300, workerId: 'stubborn-worker' },
    );
    await w.tick();
    const t0 = performance.now();
    await w.stop();
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1500);
    expect(calls[0]!.signal.aborted).toBe(true);
    // Still claimed (the run may still be going in this process), with no heartbeat: it expires.
    const row = (await m.pool.query(`SELECT "claimed_by", "claim_expires_at" > now() AS "live" FROM "jobs" WHERE "id" = $1`, [jobId])).rows[0];
    expect(row).toEqual({ claimed_by: 'stubborn-worker', live: true });
    finish();
    await sleep(50);
  });

  it('ticks on its own timer and stops cleanly', async () => {
    const m = await setup();
    await addJob(m.pool, 'auto');
    const calls: Call[] = [];
    const w = startWorker({ metadataUrl: m.url, env: { ...ENV, WORKER_TICK_SECONDS: 1 }, log: captureLog().log, runJob: recordingRunner('w', calls) });
    cleanup.push(() => w.stop());
    for (let i = 0; i < 50 && calls.length === 0; i++) await sleep(50);
    await w.stop();
    expect(calls.map((c) => c.job)).toEqual(['auto']);
    expect((await eventRow(m.pool, 'auto')).last_succeeded_at).not.toBeNull();
  });
});
