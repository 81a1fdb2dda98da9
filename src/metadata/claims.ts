import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from '../log.js';

/**
 * Row claims with a heartbeat and a TTL, timed by the database clock: on `jobs` (the
 * worker's schedule: which worker runs a job) and on `tables` (one writer per table,
 * whoever runs it: the worker, the CLI, a repair).
 *
 * Why rows and not session advisory locks: they work through transaction-mode poolers
 * (PgBouncer, Supabase/Neon pooled URLs) where a session lock silently protects nothing;
 * they are visible to people and to `status` (claimed_by, claim_expires_at); and they do
 * not need a connection held open per running job. The price is that a crashed worker's
 * claim is taken over after the TTL (WORKER_LOCK_TTL_SECONDS) rather than at once.
 *
 * Why per job and not per table: the runner syncs a whole job, every `tables` row belongs
 * to exactly one job, and two schedule_events of one job must not run it twice at once;
 * a job claim therefore covers every table of the job.
 *
 * Fencing: each claim gets a new claim_token. A heartbeat that finds the row no longer
 * carrying (worker id, token) - the claim expired and another worker took it - aborts the
 * claim's signal, and every write the worker makes under a claim is guarded by both.
 */

/** `host:pid:random`, with a prefix saying what runs (`sync` for a CLI run). */
export function makeWorkerId(prefix?: string): string {
  return `${prefix ? `${prefix}@` : ''}${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export interface ClaimsOptions {
  workerId: string;
  ttlSeconds: number;
  /** Defaults to a third of the TTL. */
  heartbeatMs?: number;
  log?: Logger;
}

/** Which rows are claimed, and how a new fencing token is made. */
interface ClaimKind {
  table: 'jobs' | 'tables';
  /** What the row is, in messages. */
  what: string;
  /** SQL for the new claim_token (jobs: the row's own counter; tables: a global sequence). */
  nextToken: string;
}

const JOBS: ClaimKind = { table: 'jobs', what: 'job', nextToken: '"claim_token" + 1' };
const TABLES: ClaimKind = { table: 'tables', what: 'table', nextToken: `nextval('table_claim_token_seq')` };

/** Who holds a row's claim, when a claim was refused. */
export interface ClaimHolder {
  claimedBy: string;
  claimedAt: Date | null;
  expiresAt: Date | null;
}

/** The reason a claim's signal is aborted with: it was taken over, or could not be renewed. */
export class ClaimLostError extends Error {
  override name = 'ClaimLostError';
}

export interface Claim {
  /** The claimed row's id (a job's or a table's). */
  readonly jobId: number;
  readonly workerId: string;
  readonly token: number;
  /** Aborted when the claim is lost (taken over, or not renewable in time). */
  readonly signal: AbortSignal;
  readonly lost: boolean;
  /** Stops the heartbeat and clears the row's claim if it is still ours. Idempotent. */
  release(): Promise<void>;
  /** Stops the heartbeat but leaves the row claimed: it expires after the TTL. */
  abandon(): void;
}

export class RowClaims {
  readonly workerId: string;
  private readonly held = new Set<ClaimHandle>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly opts: ClaimsOptions,
    private readonly kind: ClaimKind,
  ) {
    this.workerId = opts.workerId;
  }

  get ttlSeconds(): number {
    return this.opts.ttlSeconds;
  }

  /** Claims the row if nobody holds an unexpired claim on it; null otherwise. */
  async tryClaim(id: number): Promise<Claim | null> {
    const r = await this.claimOrHolder(id);
    return 'claim' in r ? r.claim : null;
  }

  /** Claims the row, or says who holds it (no row: a holder of `(row gone)`). */
  async claimOrHolder(id: number): Promise<{ claim: Claim } | { holder: ClaimHolder }> {
    const t = `"${this.kind.table}"`;
    const client = await this.pool.connect();
    let row: { claim_token: number; previous: string | null } | undefined;
    let holder: ClaimHolder | undefined;
    try {
      await client.query('BEGIN');
      const cur = await client.query<{ claimed_by: string | null; claimed_at: Date | null; claim_expires_at: Date | null; expired: boolean }>(
        `SELECT "claimed_by", "claimed_at", "claim_expires_at", ("claim_expires_at" IS NULL OR "claim_expires_at" <= now()) AS "expired"
           FROM ${t} WHERE "id" = $1 FOR UPDATE`,
        [id],
      );
      const c = cur.rows[0];
      if (c && (c.claimed_by === null || c.expired)) {
        const upd = await client.query<{ claim_token: string | number }>(
          `UPDATE ${t} SET "claimed_by" = $2, "claimed_at" = now(),
                  "claim_expires_at" = now() + make_interval(secs => $3), "claim_token" = ${this.kind.nextToken}
            WHERE "id" = $1 RETURNING "claim_token"`,
          [id, this.workerId, this.opts.ttlSeconds],
        );
        row = { claim_token: Number(upd.rows[0]!.claim_token), previous: c.claimed_by };
      } else {
        holder = c ? { claimedBy: c.claimed_by!, claimedAt: c.claimed_at, expiresAt: c.claim_expires_at } : { claimedBy: '(row gone)', claimedAt: null, expiresAt: null };
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    if (!row) return { holder: holder! };
    if (row.previous !== null && row.previous !== this.workerId) {
      this.opts.log?.warn({ [`${this.kind.what}Id`]: id, previousWorker: row.previous, worker: this.workerId }, `took over an expired ${this.kind.what} claim`);
    }
    const handle = new ClaimHandle(this.pool, this.kind, id, this.workerId, row.claim_token, this.opts, () => this.held.delete(handle));
    this.held.add(handle);
    return { claim: handle };
  }

  /** Claims currently held by this process. */
  get heldCount(): number {
    return this.held.size;
  }

  async releaseAll(): Promise<void> {
    await Promise.all([...this.held].map((h) => h.release()));
  }

  abandonAll(): void {
    for (const h of [...this.held]) h.abandon();
  }
}

/** The worker's claims on jobs (its schedule). */
export class JobClaims extends RowClaims {
  constructor(pool: pg.Pool, opts: ClaimsOptions) {
    super(pool, opts, JOBS);
  }
}

/** Claims on tables rows: one writer per table, whoever runs the sync. */
export class TableClaims extends RowClaims {
  constructor(pool: pg.Pool, opts: ClaimsOptions) {
    super(pool, opts, TABLES);
  }
}

class ClaimHandle implements Claim {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private lastRenewed = performance.now();
  private done = false;
  private renewing: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly kind: ClaimKind,
    readonly jobId: number,
    readonly workerId: string,
    readonly token: number,
    private readonly opts: ClaimsOptions,
    private readonly forget: () => void,
  ) {
    const every = opts.heartbeatMs ?? Math.max(200, (opts.ttlSeconds * 1000) / 3);
    this.timer = setInterval(() => {
      if (!this.renewing) this.renewing = this.heartbeat().finally(() => (this.renewing = undefined));
    }, every);
    this.timer.unref();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get lost(): boolean {
    return this.controller.signal.aborted;
  }

  private markLost(why: string): void {
    if (this.controller.signal.aborted) return;
    this.opts.log?.warn({ [`${this.kind.what}Id`]: this.jobId, worker: this.workerId, token: this.token }, `${this.kind.what} claim lost: ${why}`);
    this.controller.abort(new ClaimLostError(`${this.kind.what} claim lost: ${why}`));
    this.stopTimer();
  }

  private async heartbeat(): Promise<void> {
    if (this.done) return;
    try {
      const r = await this.pool.query(
        `UPDATE "${this.kind.table}" SET "claim_expires_at" = now() + make_interval(secs => $4)
          WHERE "id" = $1 AND "claimed_by" = $2 AND "claim_token" = $3`,
        [this.jobId, this.workerId, this.token, this.opts.ttlSeconds],
      );
      if (this.done) return;
      if (r.rowCount === 0) return this.markLost('the claim was taken over or cleared');
      this.lastRenewed = performance.now();
    } catch (err) {
      if (this.done) return;
      // Cannot reach the metadata DB: once the claim may have expired, stop the run, since
      // another worker is then free to start the same job.
      const age = performance.now() - this.lastRenewed;
      const msg = err instanceof Error ? err.message : String(err);
      if (age >= this.opts.ttlSeconds * 1000 * 0.8) this.markLost(`heartbeat failing for ${Math.round(age / 1000)} s (${msg})`);
      else this.opts.log?.warn({ [`${this.kind.what}Id`]: this.jobId, err: msg }, `${this.kind.what} claim heartbeat failed; retrying`);
    }
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  abandon(): void {
    this.done = true;
    this.stopTimer();
    this.forget();
  }

  async release(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.stopTimer();
    this.forget();
    await this.renewing?.catch(() => undefined);
    await this.pool.query(
      `UPDATE "${this.kind.table}" SET "claimed_by" = NULL, "claimed_at" = NULL, "claim_expires_at" = NULL
        WHERE "id" = $1 AND "claimed_by" = $2 AND "claim_token" = $3`,
      [this.jobId, this.workerId, this.token],
    );
  }
}
