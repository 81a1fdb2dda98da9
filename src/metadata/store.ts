import type pg from 'pg';
import type { JobRow, SeenRecord, TableRow, Watermark } from './types.js';

/** Reads and writes the metadata rows the sync engine needs. Parameterized SQL only. */
export class MetadataError extends Error {
  override name = 'MetadataError';
}

const JOB_COLUMNS = `id, name, source_connection_string AS "sourceConnectionString",
  destination_connection_string AS "destinationConnectionString", s3_bucket AS "s3Bucket",
  s3_prefix AS "s3Prefix", iam_role AS "iamRole", destination_schema AS "destinationSchema", enabled`;

/**
 * The key watermark is read as exact text by the metadata DB itself: each JSON element's
 * text (a number keeps all its digits; jsonb numbers are exact), never through a
 * JavaScript number. A bare scalar reads as a one-element tuple; an element that is not a
 * string or a number reads as NULL (the plan then refuses the row with a clear message).
 */
const MAX_PRIMARY_KEY_TEXTS = `CASE WHEN max_primary_key IS NULL THEN NULL ELSE ARRAY(
    SELECT CASE jsonb_typeof(e) WHEN 'string' THEN e #>> '{}' WHEN 'number' THEN e::text END
    FROM jsonb_array_elements(CASE jsonb_typeof(max_primary_key) WHEN 'array' THEN max_primary_key ELSE jsonb_build_array(max_primary_key) END)
         WITH ORDINALITY AS x(e, o) ORDER BY o) END`;

/** The seen-record is used only while the watermark is still the one it was written with. */
const VALID_WATERMARK_SNAPSHOT = `CASE WHEN NULLIF(watermark_snapshot #> '{for,pk}', 'null'::jsonb) IS NOT DISTINCT FROM max_primary_key
       AND (watermark_snapshot #>> '{for,uk}')::timestamptz IS NOT DISTINCT FROM max_updated_key
  THEN watermark_snapshot - 'for' END`;

const TABLE_COLUMNS = `id, job_id AS "jobId", source_schema AS "sourceSchema", source_name AS "sourceName",
  destination_schema AS "destinationSchema", destination_name AS "destinationName", copy_mode::text AS "copyMode",
  primary_key AS "primaryKey", updated_key AS "updatedKey", disabled,
  ${MAX_PRIMARY_KEY_TEXTS} AS "maxPrimaryKey", max_primary_key::text AS "maxPrimaryKeyJson",
  max_updated_key::text AS "maxUpdatedKey", row_limit AS "rowLimit", chunk_size AS "chunkSize",
  dist_key AS "distKey", sort_keys AS "sortKeys", include_columns AS "includeColumns", exclude_columns AS "excludeColumns",
  delete_detection AS "deleteDetection", delete_detection_minutes AS "deleteDetectionMinutes", deletes_checked_at AS "deletesCheckedAt",
  (delete_detection AND (coalesce(delete_detection_minutes, 0) = 0 OR deletes_checked_at IS NULL
    OR deletes_checked_at <= now() - make_interval(mins => delete_detection_minutes))) AS "deletesDue",
  updated_key_time_zone AS "updatedKeyTimeZone", allow_duplicate_keys AS "allowDuplicateKeys",
  ${VALID_WATERMARK_SNAPSHOT} AS "watermarkSnapshot", source_attnums AS "sourceAttnums", value_policies AS "valuePolicies"`;

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

/** The watermark columns exactly as stored (a hand-written `[10]` stays a number, digit for digit). */
export interface StoredWatermark {
  /** max_primary_key's JSON text. */
  maxPrimaryKeyJson: string | null;
  maxUpdatedKey: string | null;
}

export const storedOf = (t: TableRow): StoredWatermark => ({ maxPrimaryKeyJson: t.maxPrimaryKeyJson ?? null, maxUpdatedKey: t.maxUpdatedKey });

export const storedFrom = (w: Watermark): StoredWatermark => ({ maxPrimaryKeyJson: wmParams(w)[0], maxUpdatedKey: w.updatedKey });

/**
 * Stores a new watermark only if the row still holds the one this run last stored, so a
 * user's reset (both columns to NULL = resync) during a run is never overwritten. With it
 * goes what the run has read so far (`seen`), tied to this very watermark: the next run
 * uses it only while the watermark is unchanged.
 */
export async function advanceWatermark(db: pg.ClientBase, tableId: number, expected: StoredWatermark, next: Watermark, seen: SeenRecord | null = null): Promise<boolean> {
  const [pk, uk] = wmParams(next);
  const r = await db.query(
    `UPDATE tables SET max_primary_key = $2::jsonb, max_updated_key = $3::timestamptz,
       watermark_snapshot = CASE WHEN $6::jsonb IS NULL THEN NULL
         ELSE $6::jsonb || jsonb_build_object('for', jsonb_build_object('pk', $2::jsonb, 'uk', $3::timestamptz)) END
     WHERE id = $1 AND max_primary_key IS NOT DISTINCT FROM $4::jsonb AND max_updated_key IS NOT DISTINCT FROM $5::timestamptz`,
    [tableId, pk, uk, expected.maxPrimaryKeyJson, expected.maxUpdatedKey, seen === null ? null : JSON.stringify(seen)],
  );
  return r.rowCount === 1;
}

/** Sets both watermarks to NULL (a resync), and forgets what was seen. */
export async function resetWatermark(db: pg.ClientBase, tableId: number): Promise<void> {
  await db.query('UPDATE tables SET max_primary_key = NULL, max_updated_key = NULL, watermark_snapshot = NULL WHERE id = $1', [tableId]);
}

/** Remembers the source columns' attnums (schema drift compares them next time). */
export async function recordSourceAttnums(db: pg.ClientBase, tableId: number, attnums: Record<string, number>): Promise<void> {
  await db.query('UPDATE tables SET source_attnums = $2 WHERE id = $1 AND source_attnums IS DISTINCT FROM $2::jsonb', [tableId, JSON.stringify(attnums)]);
}

/** Records a finished delete detection. */
export async function recordDeleteCheck(db: pg.ClientBase, tableId: number, removed: number): Promise<void> {
  await db.query('UPDATE tables SET deletes_checked_at = now(), deletes_removed = $2 WHERE id = $1', [tableId, removed]);
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
  const pk = s.before.maxPrimaryKeyJson;
  const uk = s.before.maxUpdatedKey;
  const r = await db.query<{ id: string }>(
    `INSERT INTO sync_runs (job_id, table_id, copy_mode, status, max_primary_key_before, max_updated_key_before, worker_id)
     VALUES ($1, $2, $3::copy_mode, 'running', $4::jsonb, $5::timestamptz, $6) RETURNING id::text`,
    [s.jobId, s.tableId, s.copyMode, pk, uk, s.workerId ?? null],
  );
  return r.rows[0]!.id;
}

export interface RunProgress {
  /** Rows extracted and merged: changed + reread. */
  rows: number;
  /** Rows new or changed since the previous run. */
  changed: number;
  /** Rows read again although the previous run had loaded them (the overlap window, when it cannot tell). */
  reread: number;
  bytes: number;
  files: number;
  batches: number;
  after: Watermark;
  /** Values a value policy changed, per "kind:column" (see value-rules.ts). */
  valuesChanged: Record<string, number>;
}

export async function updateRun(db: pg.ClientBase, runId: string, p: RunProgress): Promise<void> {
  const [pk, uk] = wmParams(p.after);
  await db.query(
    `UPDATE sync_runs SET rows = $2, bytes = $3, files = $4, batches = $5, max_primary_key_after = $6::jsonb, max_updated_key_after = $7::timestamptz,
       rows_changed = $8, rows_reread = $9, values_changed = $10::jsonb WHERE id = $1`,
    [runId, p.rows, p.bytes, p.files, p.batches, pk, uk, p.changed, p.reread, Object.keys(p.valuesChanged).length ? JSON.stringify(p.valuesChanged) : null],
  );
}

export async function recordRunDeletes(db: pg.ClientBase, runId: string, deleted: number): Promise<void> {
  await db.query('UPDATE sync_runs SET rows_deleted = $2 WHERE id = $1', [runId, deleted]);
}

export async function finishRun(db: pg.ClientBase, runId: string, status: 'succeeded' | 'failed', error: string | null): Promise<void> {
  await db.query(`UPDATE sync_runs SET status = $2::sync_status, finished_at = now(), error = $3 WHERE id = $1`, [runId, status, error]);
}

/**
 * Closes the `running` rows of a table as `abandoned`: their run died (crash, kill) or lost
 * its claim. Only safe while holding the table's claim, which no live run can then hold.
 */
export async function abandonRuns(db: pg.ClientBase, tableId: number, byWorker: string | null): Promise<number> {
  const r = await db.query(
    `UPDATE sync_runs SET status = 'abandoned', finished_at = now(),
       error = 'abandoned: run by ' || coalesce(worker_id, '?') || ', found still running by ' || coalesce($2, '?') || ' when it took the table: it died (crash, kill) or lost its claim; nothing after its last committed batch was applied, and this run goes on from the stored watermark'
     WHERE table_id = $1 AND status = 'running'`,
    [tableId, byWorker],
  );
  return r.rowCount ?? 0;
}
