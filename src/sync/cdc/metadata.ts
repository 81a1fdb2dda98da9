import type pg from 'pg';
import type { Position } from './lsn.js';

/** The metadata rows copy_mode CDC reads and writes (migration 20261215000000_cdc). Parameterized SQL only. */
export interface CdcJobState {
  position: Position | null;
  caughtUpAt: string | null;
}

export async function readJobState(db: pg.ClientBase, jobId: number): Promise<CdcJobState> {
  const r = await db.query<{ position: Position | null; caught_up_at: string | null }>(`SELECT cdc_position AS position, cdc_caught_up_at::text AS caught_up_at FROM jobs WHERE id = $1`, [jobId]);
  return { position: r.rows[0]?.position ?? null, caughtUpAt: r.rows[0]?.caught_up_at ?? null };
}

/** Written after the Redshift transaction that applied up to `pos` committed. */
export async function recordPosition(db: pg.ClientBase, jobId: number, pos: Position): Promise<void> {
  await db.query(`UPDATE jobs SET cdc_position = $2::jsonb WHERE id = $1`, [jobId, JSON.stringify(pos)]);
}

export async function recordCaughtUp(db: pg.ClientBase, jobId: number): Promise<void> {
  await db.query(`UPDATE jobs SET cdc_caught_up_at = now() WHERE id = $1`, [jobId]);
}

export async function loadedLsns(db: pg.ClientBase, tableIds: readonly number[]): Promise<Map<number, string | null>> {
  const r = await db.query<{ id: number; lsn: string | null }>(`SELECT id, cdc_loaded_lsn AS lsn FROM tables WHERE id = ANY ($1::int[])`, [tableIds]);
  return new Map(r.rows.map((x) => [x.id, x.lsn]));
}

/** The table's initial load read the snapshot at `lsn` (null: it must be loaded again). */
export async function recordLoaded(db: pg.ClientBase, tableId: number, lsn: string | null): Promise<void> {
  await db.query(`UPDATE tables SET cdc_loaded_lsn = $2, max_primary_key = NULL, max_updated_key = NULL, watermark_snapshot = NULL WHERE id = $1`, [tableId, lsn]);
}

/**
 * Tables that left the job's CDC set (disabled, or another copy_mode) also left its
 * publication, so their changes from now on are not in the stream: they are loaded again
 * if they come back. Returns their names.
 */
export async function forgetLeftTables(db: pg.ClientBase, jobId: number): Promise<string[]> {
  const r = await db.query<{ name: string }>(
    `UPDATE tables SET cdc_loaded_lsn = NULL WHERE job_id = $1 AND cdc_loaded_lsn IS NOT NULL AND (disabled OR copy_mode <> 'CDC')
     RETURNING source_schema || '.' || source_name AS name`,
    [jobId],
  );
  return r.rows.map((x) => x.name);
}
