import type pg from 'pg';
import type { JobRow, TableRow, Watermark } from './types.js';

/** Reads and writes the metadata rows the sync engine needs. Parameterized SQL only. */
export class MetadataError extends Error {
  override name = 'MetadataError';
}

const JOB_COLUMNS = `id, name, source_connection_string AS "sourceConnectionString",
  destination_connection_string AS "destinationConnectionString", s3_bucket AS "s3Bucket",
  s3_prefix AS "s3Prefix", iam_role AS "iamRole", destination_schema AS "destinationSchema", enabled`;

const TABLE_COLUMNS = `id, job_id AS "jobId", source_schema AS "sourceSchema", source_name AS "sourceName",
  destination_schema AS "destinationSchema", destination_name AS "destinationName", copy_mode::text AS "copyMode",
  primary_key AS "primaryKey", updated_key AS "updatedKey", disabled, max_primary_key AS "maxPrimaryKey",
  max_updated_key::text AS "maxUpdatedKey", row_limit AS "rowLimit", chunk_size AS "chunkSize",
  dist_key AS "distKey", sort_keys AS "sortKeys", include_columns AS "includeColumns", exclude_columns AS "excludeColumns",
  delete_detection AS "deleteDetection"`;

export async function getJobByName(db: pg.ClientBase, name: string): Promise<JobRow> {
  const r = await db.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE name = $1`, [name]);
  if (r.rowCount === 0) {
    const names = await db.query<{ name: string }>('SELECT name FROM jobs ORDER BY name');
    throw new MetadataError(`job "${name}" not found in the jobs table (jobs: ${names.rows.map((n) => n.name).join(', ') || 'none'})`);
  }
  return r.rows[0]!;
}

export async function getJobById(db: pg.ClientBase, id: number): Promise<JobRow> {
  const r = await db.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`, [id]);
  if (r.rowCount === 0) throw new MetadataError(`job id ${id} not found`);
  return r.rows[0]!;
}

export async function listTables(db: pg.ClientBase, jobId: number): Promise<TableRow[]> {
  const r = await db.query<TableRow>(`SELECT ${TABLE_COLUMNS} FROM tables WHERE job_id = $1 ORDER BY source_schema, source_name`, [jobId]);
  return r.rows;
}

export async function getTable(db: pg.ClientBase, id: number): Promise<TableRow> {
  const r = await db.query<TableRow>(`SELECT ${TABLE_COLUMNS} FROM tables WHERE id = $1`, [id]);
  if (r.rowCount === 0) throw new MetadataError(`tables row ${id} was deleted`);
  return r.rows[0]!;
}

function wmParams(w: Watermark): [string | null, string | null] {
  return [w.primaryKey === null ? null : JSON.stringify(w.primaryKey), w.updatedKey];
}

/** The watermark columns exactly as stored (a hand-written `[10]` stays a number). */
export interface StoredWatermark {
  maxPrimaryKey: unknown;
  maxUpdatedKey: string | null;
}

export const storedOf = (t: TableRow): StoredWatermark => ({ maxPrimaryKey: t.maxPrimaryKey, maxUpdatedKey: t.maxUpdatedKey });

export const storedFrom = (w: Watermark): StoredWatermark => ({ maxPrimaryKey: w.primaryKey, maxUpdatedKey: w.updatedKey });

/**
 * Stores a new watermark only if the row still holds the one this run last stored, so a
 * user's reset (both columns to NULL = resync) during a run is never overwritten.
 */
export async function advanceWatermark(db: pg.ClientBase, tableId: number, expected: StoredWatermark, next: Watermark): Promise<boolean> {
  const expPk = expected.maxPrimaryKey === null || expected.maxPrimaryKey === undefined ? null : JSON.stringify(expected.maxPrimaryKey);
  const expUk = expected.maxUpdatedKey;
  const [pk, uk] = wmParams(next);
  const r = await db.query(
    `UPDATE tables SET max_primary_key = $2::jsonb, max_updated_key = $3::timestamptz
     WHERE id = $1 AND max_primary_key IS NOT DISTINCT FROM $4::jsonb AND max_updated_key IS NOT DISTINCT FROM $5::timestamptz`,
    [tableId, pk, uk, expPk, expUk],
  );
  return r.rowCount === 1;
}

/** Exact text of a stored timestamp after the round trip through the metadata DB. */
export async function normalizeTimestamp(db: pg.ClientBase, value: string | null, minusSeconds = 0): Promise<string | null> {
  if (value === null) return null;
  const r = await db.query<{ t: string }>(`SELECT ($1::timestamptz - make_interval(secs => $2))::text AS t`, [value, minusSeconds]);
  return r.rows[0]!.t;
}

export async function recordTableSuccess(db: pg.ClientBase, tableId: number): Promise<void> {
  await db.query('UPDATE tables SET last_synced_at = now(), last_error = NULL WHERE id = $1', [tableId]);
}

export async function recordTableError(db: pg.ClientBase, tableId: number, error: string): Promise<void> {
  await db.query('UPDATE tables SET last_error = $2 WHERE id = $1', [tableId, error]);
}

export interface RunStart {
  jobId: number;
  tableId: number;
  copyMode: string;
  before: StoredWatermark;
  workerId?: string;
}

export async function startRun(db: pg.ClientBase, s: RunStart): Promise<string> {
  const pk = s.before.maxPrimaryKey === null || s.before.maxPrimaryKey === undefined ? null : JSON.stringify(s.before.maxPrimaryKey);
  const uk = s.before.maxUpdatedKey;
  const r = await db.query<{ id: string }>(
    `INSERT INTO sync_runs (job_id, table_id, copy_mode, status, max_primary_key_before, max_updated_key_before, worker_id)
     VALUES ($1, $2, $3::copy_mode, 'running', $4::jsonb, $5::timestamptz, $6) RETURNING id::text`,
    [s.jobId, s.tableId, s.copyMode, pk, uk, s.workerId ?? null],
  );
  return r.rows[0]!.id;
}

export interface RunProgress {
  rows: number;
  bytes: number;
  files: number;
  batches: number;
  after: Watermark;
}

export async function updateRun(db: pg.ClientBase, runId: string, p: RunProgress): Promise<void> {
  const [pk, uk] = wmParams(p.after);
  await db.query(
    `UPDATE sync_runs SET rows = $2, bytes = $3, files = $4, batches = $5, max_primary_key_after = $6::jsonb, max_updated_key_after = $7::timestamptz WHERE id = $1`,
    [runId, p.rows, p.bytes, p.files, p.batches, pk, uk],
  );
}

export async function finishRun(db: pg.ClientBase, runId: string, status: 'succeeded' | 'failed', error: string | null): Promise<void> {
  await db.query(`UPDATE sync_runs SET status = $2::sync_status, finished_at = now(), error = $3 WHERE id = $1`, [runId, status, error]);
}

/**
 * Closes `running` rows left by a worker that died mid-run. Only safe while holding the
 * job's claim (no one else can be running it).
 */
export async function closeAbandonedRuns(db: pg.ClientBase, jobId: number): Promise<number> {
  const r = await db.query(
    `UPDATE sync_runs SET status = 'failed', finished_at = now(),
       error = 'abandoned: worker ' || coalesce(worker_id, '?') || ' stopped before finishing (crash or kill); its batch was not committed or its watermark not stored, and the next run redoes it'
     WHERE job_id = $1 AND status = 'running'`,
    [jobId],
  );
  return r.rowCount ?? 0;
}
