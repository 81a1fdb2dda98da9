import { disableNote } from '../sync/cdc/status.js';
import type pg from 'pg';
import { resolveConnectionString } from '../config/connection.js';
import { connect } from '../db/connect.js';
import { redactText } from '../log.js';
import { estimateRows } from '../setup/discover.js';
import { MetadataError, getJobByName, listTables } from '../metadata/store.js';
import type { JobRow, TableRow } from '../metadata/types.js';

/**
 * The everyday edits of one row: enable or disable a table or a job, reset a table's
 * watermark. Each names what it changed and what it was before.
 */
export async function findTable(db: pg.ClientBase, jobName: string, table: string): Promise<{ job: JobRow; table: TableRow }> {
  const job = await getJobByName(db, jobName);
  const tables = await listTables(db, job.id);
  const exact = tables.filter((t) => `${t.sourceSchema}.${t.sourceName}` === table);
  const bare = exact.length > 0 ? exact : tables.filter((t) => t.sourceName === table);
  const names = tables.map((t) => `${t.sourceSchema}.${t.sourceName}`).join(', ') || 'none';
  if (bare.length === 0) throw new MetadataError(`job "${jobName}" has no table ${table} (its tables: ${names})`);
  if (bare.length > 1) throw new MetadataError(`job "${jobName}": ${table} is ambiguous (${bare.map((t) => `${t.sourceSchema}.${t.sourceName}`).join(', ')}); give it as schema.table`);
  return { job, table: bare[0]! };
}

const qualified = (t: TableRow) => `${t.sourceSchema}.${t.sourceName}`;

/** Sets tables.disabled; returns the line to print. */
export async function setTableDisabled(db: pg.ClientBase, jobName: string, tableName: string, disabled: boolean): Promise<string> {
  const { job, table } = await findTable(db, jobName, tableName);
  const what = disabled ? 'disabled' : 'enabled';
  if (table.disabled === disabled) return `job ${job.name}, table ${qualified(table)}: already ${what}; nothing changed\n`;
  await db.query('UPDATE tables SET disabled = $2 WHERE id = $1', [table.id, disabled]);
  const running = await db.query<{ by: string }>(`SELECT claimed_by AS by FROM tables WHERE id = $1 AND claimed_by IS NOT NULL AND claim_expires_at > now()`, [table.id]);
  const note = running.rows[0] ? ` (a sync is running it now, by ${running.rows[0].by}: that run finishes; the next ones ${disabled ? 'skip' : 'include'} it)` : '';
  // copy_mode CDC (src/sync/cdc): what disabling leaves behind on the source.
  const cdc = disabled ? await disableNote(db, job.name, table) : '';
  return `job ${job.name}, table ${qualified(table)}: ${what}${note}\n${cdc}`;
}

/** Sets jobs.enabled (a disabled job is not scheduled by the worker); returns the line to print. */
export async function setJobEnabled(db: pg.ClientBase, jobName: string, enabled: boolean): Promise<string> {
  const job = await getJobByName(db, jobName);
  const what = enabled ? 'enabled' : 'disabled';
  if (job.enabled === enabled) return `job ${job.name}: already ${what}; nothing changed\n`;
  await db.query('UPDATE jobs SET enabled = $2 WHERE id = $1', [job.id, enabled]);
  const cdc = enabled ? '' : await disableNote(db, job.name);
  return `job ${job.name}: ${what} (${enabled ? 'the worker schedules it again' : 'the worker no longer schedules it; a run in progress finishes'})\n${cdc}`;
}

export interface ResetPreview {
  job: JobRow;
  table: TableRow;
  /** What the reset does and what the next sync will read (stdout). */
  text: string;
  /** Nothing to reset (FULL_DATA_SYNC, or no watermark yet). */
  nothingToDo: boolean;
  /** Who holds the table's claim now (a running sync), or null. */
  claimedBy: string | null;
  claimExpiresAt: string | null;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Rows at the source: the catalog's estimate, or a count that stops past a million. */
async function sourceRows(job: JobRow, table: TableRow, env: Record<string, string | undefined>): Promise<string> {
  let src: pg.Client | undefined;
  try {
    src = await connect(resolveConnectionString(job.sourceConnectionString, `job "${job.name}" source_connection_string`, env));
    const rel = await src.query<{ oid: number }>(
      `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [table.sourceSchema, table.sourceName],
    );
    if (!rel.rows[0]) return 'the source table was not found';
    const limit = 1_000_000;
    const e = await estimateRows(src, { oid: rel.rows[0].oid, schema: table.sourceSchema, name: table.sourceName }, limit);
    if (e.how === 'catalog') return `about ${fmt(e.rows)} rows (the catalog's estimate)`;
    return e.rows > limit ? `more than ${fmt(limit)} rows (counted up to that)` : `${fmt(e.rows)} rows (counted)`;
  } catch (err) {
    return `row count unknown (${redactText((err as Error).message)})`;
  } finally {
    await src?.end().catch(() => undefined);
  }
}

export async function previewReset(db: pg.ClientBase, jobName: string, tableName: string, env: Record<string, string | undefined> = process.env): Promise<ResetPreview> {
  const { job, table } = await findTable(db, jobName, tableName);
  const claim = await db.query<{ by: string; until: string }>(
    `SELECT claimed_by AS by, claim_expires_at::text AS until FROM tables WHERE id = $1 AND claimed_by IS NOT NULL AND claim_expires_at > now()`,
    [table.id],
  );
  const head = `job ${job.name}, table ${qualified(table)} (${table.copyMode}${table.disabled ? ', disabled' : ''})`;
  const base = { job, table, claimedBy: claim.rows[0]?.by ?? null, claimExpiresAt: claim.rows[0]?.until ?? null };
  if (table.copyMode === 'CDC') {
    // copy_mode CDC keeps no watermark: a reset loads the table again (src/sync/cdc/run.ts).
    return { ...base, nothingToDo: false, text: `${head}\n  reset sets cdc_loaded_lsn to NULL: the next run loads the whole table again, ${await sourceRows(job, table, env)}, in a fresh snapshot swapped in, then goes on with the job's change stream.\n` };
  }
  if (table.copyMode === 'FULL_DATA_SYNC') {
    return { ...base, nothingToDo: true, text: `${head}: FULL_DATA_SYNC keeps no watermark; every run already copies the whole table. Nothing to reset.\n` };
  }
  const wm = [table.maxUpdatedKey ? `max_updated_key ${table.maxUpdatedKey}` : null, table.maxPrimaryKeyJson ? `max_primary_key ${table.maxPrimaryKeyJson}` : null].filter(Boolean);
  if (wm.length === 0) {
    return { ...base, nothingToDo: true, text: `${head}: the watermark is already NULL; the next sync reads the whole table. Nothing to reset.\n` };
  }
  const rows = await sourceRows(job, table, env);
  const text =
    `${head}\n` +
    `  watermark now: ${wm.join(', ')}\n` +
    `  reset sets max_primary_key and max_updated_key to NULL: the next sync reads the whole table again, ${rows},\n` +
    `  and merges it over the target by primary key (${table.primaryKey ?? '?'}): rows are replaced, never duplicated.\n`;
  return { ...base, nothingToDo: false, text };
}

/**
 * Sets the watermark to NULL (a resync) and forgets what was seen, unless a sync holds the
 * table's claim: the claim is checked in the same statement, so a sync that starts at the
 * same moment either sees the reset or makes it refuse.
 */
export async function resetTableWatermark(db: pg.ClientBase, tableId: number): Promise<boolean> {
  const r = await db.query(
    `UPDATE tables SET max_primary_key = NULL, max_updated_key = NULL, watermark_snapshot = NULL, cdc_loaded_lsn = NULL
      WHERE id = $1 AND NOT (claimed_by IS NOT NULL AND claim_expires_at > now())`,
    [tableId],
  );
  return r.rowCount === 1;
}
