import type pg from 'pg';
import { alertSender } from '../alerts/webhook.js';
import type { Env } from '../config/env.js';
import type { Logger } from '../log.js';
import { withoutWhere } from '../format.js';
import { backoffSeconds } from '../schedule/due.js';

/**
 * A table's own health, kept in its `tables` row so that every worker (and a restarted one)
 * agrees: consecutive failures and when to retry (per-table backoff, the same rule as a
 * job's: 30 s doubling, capped at the job's shortest frequency and at one hour), and which
 * alert was sent last. Called by the sync engine after each table sync, whoever ran it.
 *
 * An alert is sent once per change of state: the flag flips in the same statement that
 * reads it (row lock), so two workers, or a restart, never send the same alert twice.
 */
export interface TableRef {
  id: number;
  sourceSchema: string;
  sourceName: string;
}

type Deps = { env: Pick<Env, 'ALERT_WEBHOOK_URL'>; log: Logger };

const name = (t: TableRef) => `${t.sourceSchema}.${t.sourceName}`;
const utc = (d: Date) => `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;

/** After a failed table sync: one more failure, the next retry time, and the "failed" alert on the first. */
export async function tableFailed(db: pg.ClientBase, jobName: string, table: TableRef, error: string, deps: Deps): Promise<{ failureCount: number; retryAt: Date }> {
  await db.query('BEGIN');
  let row: { failure_count: number; alert_failing: boolean; frequency: number | null; retry_at: Date };
  try {
    const cur = await db.query<{ failure_count: number; alert_failing: boolean; frequency: number | null }>(
      `SELECT t."failure_count", t."alert_failing",
              (SELECT min(e."frequency") FROM "schedule_events" e WHERE e."job_id" = t."job_id" AND e."enabled") AS "frequency"
         FROM "tables" t WHERE t."id" = $1 FOR UPDATE`,
      [table.id],
    );
    const c = cur.rows[0];
    if (!c) {
      await db.query('ROLLBACK');
      return { failureCount: 0, retryAt: new Date() };
    }
    const failures = c.failure_count + 1;
    const wait = backoffSeconds(failures, c.frequency ?? 3600);
    const upd = await db.query<{ retry_at: Date }>(
      `UPDATE "tables" SET "failure_count" = $2, "retry_at" = now() + make_interval(secs => $3), "alert_failing" = true WHERE "id" = $1 RETURNING "retry_at"`,
      [table.id, failures, wait],
    );
    await db.query('COMMIT');
    row = { ...c, retry_at: upd.rows[0]!.retry_at };
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  const failureCount = row.failure_count + 1;
  if (!row.alert_failing) {
    const next =
      row.frequency === null
        ? 'The job has no schedule: the next redshift-loader sync retries it.'
        : `The worker retries this table at ${utc(row.retry_at)} (backing off after each failure); the job's other tables keep their schedule.`;
    alertSender(deps.env, deps.log)?.send(
      `redshift-loader: FAILED job "${jobName}", table ${name(table)}: ${oneLine(withoutWhere(error, jobName, name(table)))}\n${next} You will get one message when it recovers.`,
    );
  }
  return { failureCount, retryAt: row.retry_at };
}

/** After a successful table sync: backoff cleared, and the "recovered" alert if a "failed" one was sent. */
export async function tableSucceeded(db: pg.ClientBase, jobName: string, table: TableRef, deps: Deps): Promise<void> {
  const r = await db.query<{ failures: number; was_failing: boolean }>(
    `WITH old AS (SELECT "id", "failure_count", "alert_failing" FROM "tables" WHERE "id" = $1 FOR UPDATE)
     UPDATE "tables" t SET "failure_count" = 0, "retry_at" = NULL, "alert_failing" = false
       FROM old WHERE t."id" = old."id" AND (old."failure_count" > 0 OR old."alert_failing" OR t."retry_at" IS NOT NULL)
     RETURNING old."failure_count" AS "failures", old."alert_failing" AS "was_failing"`,
    [table.id],
  );
  const row = r.rows[0];
  if (row?.was_failing) {
    alertSender(deps.env, deps.log)?.send(`redshift-loader: RECOVERED job "${jobName}", table ${name(table)} synced again${row.failures > 0 ? ` after ${row.failures} failed attempt(s)` : ''}.`);
  }
}

function oneLine(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 1500 ? `${t.slice(0, 1499)}…` : t;
}
