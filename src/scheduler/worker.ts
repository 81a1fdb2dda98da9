import pg from 'pg';
import type { Env } from '../config/env.js';
import { redactText, type Logger } from '../log.js';
import { JobClaims, makeWorkerId, type Claim } from '../metadata/claims.js';
import { matchesAt } from '../schedule/at-pattern.js';
import { isDue, parseSchedule, stateAfterRun, type DueDecision } from '../schedule/due.js';
import { PgEventStore, type EventRow, type EventStore } from '../metadata/schedules.js';

/**
 * The worker loop. Every WORKER_TICK_SECONDS it decides (pure, `isDue`) which enabled
 * schedule_events are due, claims their jobs (row claims, see claims.ts), re-reads the
 * event after claiming and runs the job through the injected runner, at most
 * WORKER_CONCURRENCY at a time. Results go to the schedule_events row.
 *
 * In rows (shared by every worker, survives restarts): last_run_at, last_succeeded_at,
 * failure_count, retry_at (backoff), last_error, and the job claim.
 * In memory: a cache of the rows (re-read every SYNC_DB_EVENTS_FREQUENCY seconds), the
 * runs in flight, and which config errors were already logged. The cache only nominates
 * candidates: the decision to run is taken again on a fresh read of the row after the
 * claim is held, so a stale or re-read cache can never make a job run twice.
 */

export interface RunJobResult {
  ok: boolean;
  error?: string;
}

/**
 * `scheduled`: the job is due by its schedule (every table not backing off). `retries`: the
 * job is not due, but some of its tables failed and their retry time has come (only those).
 */
export type RunScope = 'scheduled' | 'retries';

/** Syncs one job (all its tables). Must honour `signal`: stop before the next commit. */
export type RunJob = (job: { id: number; name: string }, signal: AbortSignal, opts?: { scope?: RunScope }) => Promise<RunJobResult>;

export type WorkerEnv = Pick<Env, 'WORKER_TICK_SECONDS' | 'WORKER_CONCURRENCY' | 'WORKER_LOCK_TTL_SECONDS' | 'SYNC_DB_EVENTS_FREQUENCY'>;

export interface WorkerOptions {
  /** The metadata DB (DATABASE_URL). Either this or `pool`. */
  metadataUrl?: string;
  /** An existing pool on the metadata DB; the worker does not end it. */
  pool?: pg.Pool;
  env: WorkerEnv;
  log: Logger;
  runJob: RunJob;
  /** The clock for due-ness and recorded times (claims use the database clock). */
  now?: () => Date;
  /** How long stop() waits for aborted runs to return. Default 25 s (Heroku gives 30). */
  graceMs?: number;
  workerId?: string;
  /** false: no timer, the caller drives tick() (tests). Default true. */
  autoTick?: boolean;
  /** Claim heartbeat period; default a third of WORKER_LOCK_TTL_SECONDS. */
  heartbeatMs?: number;
  /** Replaces the schedule_events queries (tests). */
  store?: EventStore;
  /** Run after each re-read of schedule_events (every SYNC_DB_EVENTS_FREQUENCY s): the lag alerts. Errors are logged. */
  periodic?: (pool: pg.Pool, now: Date) => Promise<unknown>;
}

export interface Worker {
  readonly id: string;
  /** Runs one scheduling pass; resolves once due runs are started (not finished). */
  tick(): Promise<void>;
  /** Resolves when no run is in flight. */
  idle(): Promise<void>;
  /** Stops taking work, aborts in-flight runs, waits up to the grace period, releases claims. */
  stop(): Promise<void>;
}

export const DEFAULT_GRACE_MS = 25_000;
const MAX_ERROR_LENGTH = 4000;

interface Run {
  jobId: number;
  eventId: number;
  jobName: string;
  claim?: Claim;
  controller?: AbortController;
  promise?: Promise<void>;
  abandoned: boolean;
}

function message(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

function cleanError(text: string): string {
  const t = redactText(text);
  return t.length > MAX_ERROR_LENGTH ? `${t.slice(0, MAX_ERROR_LENGTH - 1)}…` : t;
}

export function startWorker(opts: WorkerOptions): Worker {
  return new SchedulerWorker(opts);
}

class SchedulerWorker implements Worker {
  readonly id: string;
  private readonly pool: pg.Pool;
  private readonly ownPool: boolean;
  private readonly store: EventStore;
  private readonly claims: JobClaims;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly concurrency: number;
  private readonly reloadMs: number;
  private readonly tickMs: number;
  private readonly graceMs: number;

  private cache: Map<number, EventRow> | null = null;
  private loadedAt = 0;
  private readonly inFlight = new Map<number, Run>();
  private readonly configErrors = new Map<number, string>();
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private ticking: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: WorkerOptions) {
    if (!opts.pool && !opts.metadataUrl) throw new Error('startWorker: metadataUrl (DATABASE_URL) is required');
    this.id = opts.workerId ?? makeWorkerId();
    this.log = opts.log.child({ worker: this.id });
    this.now = opts.now ?? (() => new Date());
    this.concurrency = opts.env.WORKER_CONCURRENCY;
    this.reloadMs = opts.env.SYNC_DB_EVENTS_FREQUENCY * 1000;
    this.tickMs = opts.env.WORKER_TICK_SECONDS * 1000;
    this.graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
    this.ownPool = !opts.pool;
    this.pool =
      opts.pool ??
      new pg.Pool({ connectionString: opts.metadataUrl, max: this.concurrency + 3, application_name: 'redshift-loader worker' });
    if (this.ownPool) {
      // An idle client dropped by the server must not crash the process; the pool reconnects.
      this.pool.on('error', (err) => this.log.warn({ err: message(err) }, 'metadata DB connection lost; reconnecting'));
    }
    this.store = opts.store ?? new PgEventStore(this.pool);
    this.claims = new JobClaims(this.pool, {
      workerId: this.id,
      ttlSeconds: opts.env.WORKER_LOCK_TTL_SECONDS,
      heartbeatMs: opts.heartbeatMs,
      log: this.log,
    });
    if (opts.env.WORKER_TICK_SECONDS > 60) {
      this.log.warn({ tickSeconds: opts.env.WORKER_TICK_SECONDS }, 'WORKER_TICK_SECONDS is over 60: one-minute `at` windows (like **:30) can be missed');
    }
    this.log.info(
      { concurrency: this.concurrency, tickSeconds: opts.env.WORKER_TICK_SECONDS, reloadSeconds: opts.env.SYNC_DB_EVENTS_FREQUENCY },
      'worker started',
    );
    if (opts.autoTick !== false) this.schedule(0);
  }

  // A self-rescheduling timeout rather than node-cron or setInterval: any period works (cron
  // seconds fields only divide a minute evenly), ticks never overlap, and stop() has one
  // handle to clear.
  private schedule(ms: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick().finally(() => this.schedule(this.tickMs));
    }, ms);
  }

  tick(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    this.ticking ??= this.runTick()
      .catch((err) => this.log.error({ err: message(err) }, `worker tick failed: ${message(err)}`))
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async runTick(): Promise<void> {
    const now = this.now();
    if (this.cache === null || now.getTime() - this.loadedAt >= this.reloadMs || now.getTime() < this.loadedAt) {
      try {
        const rows = await this.store.loadEvents();
        this.cache = new Map(rows.map((r) => [r.id, r]));
        this.loadedAt = now.getTime();
        this.log.debug({ events: rows.length }, 'read schedule_events');
        if (this.opts.periodic) {
          await this.opts.periodic(this.pool, now).catch((err) => this.log.warn({ err: message(err) }, `periodic check failed: ${message(err)}`));
        }
      } catch (err) {
        this.log.error({ err: message(err) }, `could not read schedule_events: ${message(err)}`);
        if (this.cache === null) return;
      }
    }
    // Jobs with a failing table whose own retry time has come (per-table backoff).
    let retryJobs = new Set<number>();
    if (this.store.loadRetryDueJobs) {
      try {
        retryJobs = new Set(await this.store.loadRetryDueJobs());
      } catch (err) {
        this.log.warn({ err: message(err) }, `could not read the tables' retry times: ${message(err)}`);
      }
    }
    const candidates: EventRow[] = [];
    const retries = new Map<number, EventRow>();
    for (const ev of this.cache.values()) {
      if (this.inFlight.has(ev.jobId)) continue;
      const d = await this.decide(ev, now);
      if (d?.due) candidates.push(ev);
      else if (d && retryJobs.has(ev.jobId) && this.retryAllowed(ev, d, now)) retries.set(ev.jobId, ev);
    }
    // Longest-waiting first, so a busy worker is fair across jobs.
    candidates.sort((a, b) => (a.lastSucceededAt?.getTime() ?? -Infinity) - (b.lastSucceededAt?.getTime() ?? -Infinity) || a.id - b.id);
    for (const ev of candidates) {
      if (this.stopping || this.inFlight.size >= this.concurrency) break;
      if (this.inFlight.has(ev.jobId)) continue;
      await this.tryStart(ev, 'scheduled');
    }
    for (const ev of retries.values()) {
      if (this.stopping || this.inFlight.size >= this.concurrency) break;
      if (this.inFlight.has(ev.jobId)) continue;
      await this.tryStart(ev, 'retries');
    }
  }

  /**
   * A failing table is retried between its job's runs only when the job itself is healthy
   * (not backing off) and inside the schedule's `at` window.
   */
  private retryAllowed(ev: EventRow, d: DueDecision, now: Date): boolean {
    if (d.due || d.reason !== 'too-soon') return false;
    try {
      const s = parseSchedule(ev);
      return matchesAt(s.at, now, s.timezone);
    } catch {
      return false;
    }
  }

  /** isDue, with a bad row turned into a log line and last_error instead of an exception. */
  private async decide(ev: EventRow, now: Date): Promise<DueDecision | null> {
    try {
      const d = isDue(ev, now, ev);
      const previous = this.configErrors.get(ev.id);
      if (previous !== undefined) {
        this.configErrors.delete(ev.id);
        this.log.info({ job: ev.jobName, scheduleEventId: ev.id }, `schedule event ${ev.id} of job ${ev.jobName} is valid again`);
        await this.store.clearConfigError(ev.id, previous).catch((err) => this.log.warn({ err: message(err) }, 'could not clear last_error'));
        if (ev.lastError === previous) ev.lastError = null;
      }
      return d;
    } catch (err) {
      const msg = cleanError(`invalid schedule: ${message(err)}`);
      if (this.configErrors.get(ev.id) !== msg) {
        this.configErrors.set(ev.id, msg);
        this.log.error(
          { job: ev.jobName, jobId: ev.jobId, scheduleEventId: ev.id, lastError: msg },
          `schedule event ${ev.id} of job ${ev.jobName} skipped: ${msg}`,
        );
        await this.store.setConfigError(ev.id, msg).catch((e) => this.log.warn({ err: message(e) }, 'could not write last_error'));
        ev.lastError = msg;
      }
      return null;
    }
  }

  private async tryStart(ev: EventRow, wanted: RunScope): Promise<void> {
    const run: Run = { jobId: ev.jobId, eventId: ev.id, jobName: ev.jobName, abandoned: false };
    this.inFlight.set(ev.jobId, run);
    let claim: Claim | null = null;
    try {
      claim = await this.claims.tryClaim(ev.jobId);
      if (!claim) {
        this.log.debug({ job: ev.jobName }, 'job is claimed by another worker');
        this.inFlight.delete(ev.jobId);
        return;
      }
      // The decision that counts: on the row as it is now, with the claim held. Another
      // worker may have just run this job, which our cache cannot know.
      const fresh = await this.store.getEvent(ev.id);
      if (!fresh) this.cache?.delete(ev.id);
      else this.cache?.set(fresh.id, fresh);
      const startedAt = this.now();
      const d = fresh ? await this.decide(fresh, startedAt) : null;
      // Due by the schedule: a scheduled run (even if a retry was wanted). Else a retry run,
      // if one was wanted and is still allowed.
      const scope: RunScope | null = d?.due ? 'scheduled' : wanted === 'retries' && fresh && d && this.retryAllowed(fresh, d, startedAt) ? 'retries' : null;
      if (!fresh || !d || !scope || this.stopping) {
        await claim.release();
        this.inFlight.delete(ev.jobId);
        return;
      }
      const ref = { jobId: claim.jobId, workerId: claim.workerId, token: claim.token };
      if (!(await this.store.markStarted(fresh.id, startedAt, ref))) {
        this.log.warn({ job: ev.jobName }, 'job claim lost before the run started');
        await claim.release();
        this.inFlight.delete(ev.jobId);
        return;
      }
      const controller = new AbortController();
      const c = claim;
      c.signal.addEventListener('abort', () => controller.abort(c.signal.reason), { once: true });
      run.claim = claim;
      run.controller = controller;
      run.promise = this.execute(run, fresh, startedAt, d.due ? d.reason : 'table retry due', scope);
    } catch (err) {
      this.log.error({ job: ev.jobName, err: message(err) }, `could not start job ${ev.jobName}: ${message(err)}`);
      await claim?.release().catch(() => undefined);
      this.inFlight.delete(ev.jobId);
    }
  }

  private async execute(run: Run, ev: EventRow, startedAt: Date, reason: string, scope: RunScope): Promise<void> {
    const claim = run.claim!;
    const controller = run.controller!;
    const log = this.log.child({ job: ev.jobName, jobId: ev.jobId, scheduleEventId: ev.id });
    const t0 = performance.now();
    log.info({ reason, scope }, scope === 'retries' ? `job ${ev.jobName}: retrying its failing tables` : `job ${ev.jobName} run started`);
    try {
      let result: RunJobResult;
      try {
        const r: unknown = await this.opts.runJob({ id: ev.jobId, name: ev.jobName }, controller.signal, { scope });
        result =
          typeof r === 'object' && r !== null && typeof (r as RunJobResult).ok === 'boolean'
            ? (r as RunJobResult)
            : { ok: false, error: `runner returned an invalid result: ${JSON.stringify(r)}` };
      } catch (err) {
        result = { ok: false, error: `runner threw: ${message(err)}` };
      }
      const finishedAt = this.now();
      const durationMs = Math.round(performance.now() - t0);
      const outcome = result.ok ? 'succeeded' : controller.signal.aborted && this.stopping && !claim.lost ? 'interrupted' : 'failed';
      const lastError =
        outcome === 'succeeded'
          ? null
          : cleanError(
              outcome === 'interrupted'
                ? `interrupted by worker shutdown${result.error ? `: ${result.error}` : ''}`
                : (result.error ?? 'failed without an error message'),
            );
      const state = stateAfterRun(ev, outcome, startedAt, finishedAt, ev.frequency);
      if (run.abandoned) {
        log.warn({ durationMs, outcome }, `job ${ev.jobName} returned after the worker stopped; result not recorded`);
        return;
      }
      if (scope === 'retries') {
        // The job's schedule is not moved by a retry of some of its tables; their own
        // backoff (tables rows) records how it went.
        if (outcome === 'failed') log.warn({ durationMs, lastError }, `job ${ev.jobName}: retry of its failing tables failed: ${lastError}`);
        else log.info({ durationMs, outcome }, `job ${ev.jobName}: retry of its failing tables finished`);
        return;
      }
      let row: EventRow | null = null;
      try {
        row = await this.store.recordResult(ev.id, state, lastError, { jobId: claim.jobId, workerId: claim.workerId, token: claim.token });
      } catch (err) {
        log.error({ err: message(err) }, `could not record the result of job ${ev.jobName}: ${message(err)}`);
      }
      if (row) this.cache?.set(row.id, row);
      else log.warn('job claim lost during the run; result not recorded (another worker owns the job now)');
      if (outcome === 'succeeded') log.info({ durationMs }, `job ${ev.jobName} run succeeded`);
      else if (outcome === 'interrupted') log.warn({ durationMs, lastError }, `job ${ev.jobName} run interrupted by shutdown`);
      else {
        log.error(
          { durationMs, lastError, failureCount: state.failureCount, retryAt: state.retryAt?.toISOString() },
          `job ${ev.jobName} run failed: ${lastError}`,
        );
      }
    } finally {
      if (!run.abandoned) {
        await claim.release().catch((err) => log.warn({ err: message(err) }, 'could not release job claim; it will expire'));
        this.inFlight.delete(run.jobId);
      }
    }
  }

  async idle(): Promise<void> {
    await this.ticking;
    for (;;) {
      const pending = [...this.inFlight.values()].filter((r) => !r.abandoned).map((r) => r.promise);
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
    const runs = [...this.inFlight.values()];
    this.log.info({ inFlight: runs.map((r) => r.jobName) }, 'worker stopping');
    for (const r of runs) r.controller?.abort(new Error('worker stopping'));
    let graceTimer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.allSettled(runs.map((r) => r.promise)).then(() => false),
      new Promise<boolean>((resolve) => (graceTimer = setTimeout(() => resolve(true), this.graceMs))),
    ]);
    clearTimeout(graceTimer);
    if (timedOut) {
      for (const r of this.inFlight.values()) {
        // Still running although aborted: keep its claim (no heartbeat) so that no other
        // worker starts the same job while this process is alive; it expires after the TTL.
        r.abandoned = true;
        r.claim?.abandon();
        this.log.warn({ job: r.jobName, graceMs: this.graceMs }, `job ${r.jobName} did not stop within the grace period; its claim will expire`);
      }
      this.inFlight.clear();
    }
    await this.claims.releaseAll().catch((err) => this.log.warn({ err: message(err) }, 'could not release claims; they will expire'));
    if (this.ownPool) await this.pool.end().catch(() => undefined);
    this.log.info('worker stopped');
  }
}
