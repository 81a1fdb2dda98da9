import type pg from 'pg';
import type { ScheduleConfig, ScheduleState } from '../schedule/due.js';

/** An enabled schedule_events row of an enabled job, as the worker uses it. */
export interface EventRow extends ScheduleConfig, ScheduleState {
  id: number;
  jobId: number;
  jobName: string;
  lastRunAt: Date | null;
  lastError: string | null;
}

export interface ClaimRef {
  jobId: number;
  workerId: string;
  token: number;
}

/** The worker's reads and writes of schedule_events, kept apart so tests can wrap them. */
export interface EventStore {
  /** Enabled events of enabled jobs. */
  loadEvents(): Promise<EventRow[]>;
  /** One event, fresh; null when it is gone or disabled (or its job is). */
  getEvent(id: number): Promise<EventRow | null>;
  /** Sets last_run_at while the claim is held; false when the claim is no longer ours. */
  markStarted(id: number, at: Date, claim: ClaimRef): Promise<boolean>;
  /** Writes the outcome of a run while the claim is held; null when the claim is no longer ours. */
  recordResult(id: number, state: ScheduleState, lastError: string | null, claim: ClaimRef): Promise<EventRow | null>;
  /** Records a configuration problem (bad `at`, timezone, frequency) in last_error. */
  setConfigError(id: number, message: string): Promise<void>;
  /** Clears last_error if it still holds `message` (the row was fixed). */
  clearConfigError(id: number, message: string): Promise<void>;
  /** Jobs (enabled) with a failing table whose retry time has come (per-table backoff). */
  loadRetryDueJobs?(): Promise<number[]>;
}

const COLUMNS = `e."id", e."job_id", j."name" AS "job_name", e."frequency", e."at", e."timezone",
  e."last_run_at", e."last_succeeded_at", e."last_error", e."failure_count", e."retry_at"`;

interface RawRow {
  id: number;
  job_id: number;
  job_name: string;
  frequency: number;
  at: string | null;
  timezone: string;
  last_run_at: Date | null;
  last_succeeded_at: Date | null;
  last_error: string | null;
  failure_count: number;
  retry_at: Date | null;
}

function toRow(r: RawRow): EventRow {
  return {
    id: r.id,
    jobId: r.job_id,
    jobName: r.job_name,
    frequency: r.frequency,
    at: r.at,
    timezone: r.timezone,
    lastRunAt: r.last_run_at,
    lastSucceededAt: r.last_succeeded_at,
    lastError: r.last_error,
    failureCount: r.failure_count,
    retryAt: r.retry_at,
  };
}

/** The enabled schedule_events rows of these jobs (enabled or not), as `status` judges them. */
export async function enabledEventsOfJobs(db: Pick<pg.ClientBase, 'query'>, jobIds: number[]): Promise<EventRow[]> {
  const r = await db.query<RawRow>(
    `SELECT ${COLUMNS} FROM "schedule_events" e JOIN "jobs" j ON j."id" = e."job_id"
      WHERE e."enabled" AND e."job_id" = ANY($1::int[]) ORDER BY e."id"`,
    [jobIds],
  );
  return r.rows.map(toRow);
}

const HOLDS_CLAIM = `EXISTS (SELECT 1 FROM "jobs" c WHERE c."id" = e."job_id" AND c."id" = $2 AND c."claimed_by" = $3 AND c."claim_token" = $4)`;

export class PgEventStore implements EventStore {
  constructor(private readonly pool: pg.Pool) {}

  async loadEvents(): Promise<EventRow[]> {
    const r = await this.pool.query<RawRow>(
      `SELECT ${COLUMNS} FROM "schedule_events" e JOIN "jobs" j ON j."id" = e."job_id"
        WHERE e."enabled" AND j."enabled" ORDER BY e."id"`,
    );
    return r.rows.map(toRow);
  }

  async getEvent(id: number): Promise<EventRow | null> {
    const r = await this.pool.query<RawRow>(
      `SELECT ${COLUMNS} FROM "schedule_events" e JOIN "jobs" j ON j."id" = e."job_id"
        WHERE e."id" = $1 AND e."enabled" AND j."enabled"`,
      [id],
    );
    return r.rows[0] ? toRow(r.rows[0]) : null;
  }

  async markStarted(id: number, at: Date, claim: ClaimRef): Promise<boolean> {
    const r = await this.pool.query(`UPDATE "schedule_events" e SET "last_run_at" = $5 WHERE e."id" = $1 AND ${HOLDS_CLAIM}`, [
      id,
      claim.jobId,
      claim.workerId,
      claim.token,
      at,
    ]);
    return r.rowCount === 1;
  }

  async recordResult(id: number, state: ScheduleState, lastError: string | null, claim: ClaimRef): Promise<EventRow | null> {
    const r = await this.pool.query<RawRow>(
      `WITH u AS (
         UPDATE "schedule_events" e SET "last_succeeded_at" = $5, "failure_count" = $6, "retry_at" = $7, "last_error" = $8
          WHERE e."id" = $1 AND ${HOLDS_CLAIM}
          RETURNING e.*)
       SELECT ${COLUMNS} FROM u e JOIN "jobs" j ON j."id" = e."job_id"`,
      [id, claim.jobId, claim.workerId, claim.token, state.lastSucceededAt, state.failureCount, state.retryAt, lastError],
    );
    return r.rows[0] ? toRow(r.rows[0]) : null;
  }

  async setConfigError(id: number, message: string): Promise<void> {
    await this.pool.query(`UPDATE "schedule_events" SET "last_error" = $2 WHERE "id" = $1 AND "last_error" IS DISTINCT FROM $2`, [id, message]);
  }

  async clearConfigError(id: number, message: string): Promise<void> {
    await this.pool.query(`UPDATE "schedule_events" SET "last_error" = NULL WHERE "id" = $1 AND "last_error" = $2`, [id, message]);
  }

  async loadRetryDueJobs(): Promise<number[]> {
    const r = await this.pool.query<{ job_id: number }>(
      `SELECT DISTINCT t."job_id" FROM "tables" t JOIN "jobs" j ON j."id" = t."job_id"
        WHERE j."enabled" AND NOT t."disabled" AND t."failure_count" > 0 AND (t."retry_at" IS NULL OR t."retry_at" <= now())`,
    );
    return r.rows.map((x) => x.job_id);
  }
}
