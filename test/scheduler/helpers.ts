import { Writable } from 'node:stream';
import pg from 'pg';
import { createLogger, type Logger } from '../../src/log.js';
import type { RunJob, RunJobResult, WorkerEnv } from '../../src/scheduler/worker.js';
import { afterEach } from 'vitest';
import { freshMetadataDb } from '../helpers/stack.js';

export interface Meta {
  url: string;
  pool: pg.Pool;
  close(): Promise<void>;
}

export async function metaDb(): Promise<Meta> {
  const url = await freshMetadataDb();
  const pool = new pg.Pool({ connectionString: url, max: 3 });
  pool.on('error', () => undefined);
  return { url, pool, close: () => pool.end() };
}

export interface EventSpec {
  frequency?: number;
  at?: string | null;
  timezone?: string;
  lastSucceededAt?: Date | null;
}

/** Inserts a job with one schedule event; returns their ids. */
export async function addJob(pool: pg.Pool, name: string, ev: EventSpec = {}): Promise<{ jobId: number; eventId: number }> {
  const j = await pool.query<{ id: number }>(
    `INSERT INTO "jobs" ("name", "source_connection_string", "destination_connection_string") VALUES ($1, 'env:SOURCE_URL', 'env:REDSHIFT_URL') RETURNING "id"`,
    [name],
  );
  const jobId = j.rows[0]!.id;
  const e = await pool.query<{ id: number }>(
    `INSERT INTO "schedule_events" ("job_id", "frequency", "at", "timezone", "last_succeeded_at") VALUES ($1, $2, $3, $4, $5) RETURNING "id"`,
    [jobId, ev.frequency ?? 60, ev.at ?? null, ev.timezone ?? 'UTC', ev.lastSucceededAt ?? null],
  );
  return { jobId, eventId: e.rows[0]!.id };
}

export interface EventDbRow {
  job: string;
  last_run_at: Date | null;
  last_succeeded_at: Date | null;
  last_error: string | null;
  failure_count: number;
  retry_at: Date | null;
  claimed_by: string | null;
}

export async function eventRow(pool: pg.Pool, job: string): Promise<EventDbRow> {
  const r = await pool.query<EventDbRow>(
    `SELECT j."name" AS "job", e."last_run_at", e."last_succeeded_at", e."last_error", e."failure_count", e."retry_at", j."claimed_by"
       FROM "schedule_events" e JOIN "jobs" j ON j."id" = e."job_id" WHERE j."name" = $1`,
    [job],
  );
  if (!r.rows[0]) throw new Error(`no event for job ${job}`);
  return r.rows[0];
}

/** A settable clock. */
export function fakeClock(iso: string) {
  let t = Date.parse(iso);
  return {
    now: () => new Date(t),
    set: (v: string) => void (t = Date.parse(v)),
    advance: (seconds: number) => void (t += seconds * 1000),
    get ms() {
      return t;
    },
  };
}

/** A logger whose JSON lines are kept for assertions. */
export function captureLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ destination, level: 'debug', pretty: false }), lines };
}

export const ENV: WorkerEnv = { WORKER_TICK_SECONDS: 5, WORKER_CONCURRENCY: 2, WORKER_LOCK_TTL_SECONDS: 2, SYNC_DB_EVENTS_FREQUENCY: 60 };

export interface Call {
  job: string;
  worker: string;
  start: number;
  end?: number;
  signal: AbortSignal;
}

/** A runner that records its calls; `behave` decides what each call does. */
export function recordingRunner(
  worker: string,
  calls: Call[],
  behave: (job: string, signal: AbortSignal) => Promise<RunJobResult> = async () => ({ ok: true }),
): RunJob {
  return async (job, signal) => {
    const call: Call = { job: job.name, worker, start: performance.now(), signal };
    calls.push(call);
    try {
      return await behave(job.name, signal);
    } finally {
      call.end = performance.now();
    }
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when the signal aborts (or after maxMs). */
export function untilAborted(signal: AbortSignal, maxMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, maxMs);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}

/**
 * For a test file: `cleanup` runs after each test, newest first; `setup()` gives a fresh
 * metadata DB that is closed then.
 */
export function testScope(): { cleanup: Array<() => Promise<void>>; setup: () => Promise<Meta> } {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  const setup = async () => {
    const m = await metaDb();
    cleanup.push(() => m.close());
    return m;
  };
  return { cleanup, setup };
}
