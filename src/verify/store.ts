import type pg from 'pg';
import type { TableRow } from '../metadata/types.js';
import { summarizeReport, type TableReport } from './report.js';

/** Metadata rows verify writes: the table's last verify, and the sync_runs row of a repair. Parameterized SQL only. */

/** Records a finished verify on the tables row (verified_at, verify_result). */
export async function recordVerify(db: pg.ClientBase, tableId: number, report: TableReport): Promise<void> {
  const { repair, ...rest } = report;
  const stored = { ...rest, summary: summarizeReport(report), ...(repair ? { repair } : {}) };
  await db.query('UPDATE tables SET verified_at = now(), verify_result = $2::jsonb WHERE id = $1', [tableId, JSON.stringify(stored)]);
}

/** Starts the sync_runs row of a repair (kind 'repair'); the watermark columns record the unchanged watermark. */
export async function startRepairRun(db: pg.ClientBase, t: { jobId: number; table: TableRow; workerId?: string }): Promise<string> {
  const r = await db.query<{ id: string }>(
    `INSERT INTO sync_runs (job_id, table_id, copy_mode, status, kind, max_primary_key_before, max_updated_key_before, max_primary_key_after, max_updated_key_after, worker_id)
     VALUES ($1, $2, $3::copy_mode, 'running', 'repair', $4::jsonb, $5::timestamptz, $4::jsonb, $5::timestamptz, $6) RETURNING id::text`,
    [t.jobId, t.table.id, t.table.copyMode, t.table.maxPrimaryKeyJson ?? null, t.table.maxUpdatedKey, t.workerId ?? null],
  );
  return r.rows[0]!.id;
}

export interface RepairRunResult {
  status: 'succeeded' | 'failed';
  loaded: number;
  deleted: number;
  bytes: number;
  files: number;
  repaired: unknown;
  error: string | null;
}

export async function finishRepairRun(db: pg.ClientBase, runId: string, r: RepairRunResult): Promise<void> {
  await db.query(
    `UPDATE sync_runs SET status = $2::sync_status, finished_at = now(), rows = $3, rows_changed = $3, rows_deleted = $4, bytes = $5, files = $6,
       batches = CASE WHEN $6 > 0 THEN 1 ELSE 0 END, repaired = $7::jsonb, error = $8 WHERE id = $1`,
    [runId, r.status, r.loaded, r.deleted, r.bytes, r.files, JSON.stringify(r.repaired), r.error],
  );
}

/** Tables of a job whose scheduled verify is due (verify_interval_minutes passed since verified_at, by the metadata DB's clock). */
export async function dueVerifyTableIds(db: pg.ClientBase, jobId: number): Promise<number[]> {
  const r = await db.query<{ id: number }>(
    `SELECT id FROM tables WHERE job_id = $1 AND NOT disabled AND verify_interval_minutes IS NOT NULL
       AND (verified_at IS NULL OR verified_at <= now() - make_interval(mins => verify_interval_minutes))
     ORDER BY source_schema, source_name`,
    [jobId],
  );
  return r.rows.map((x) => x.id);
}
