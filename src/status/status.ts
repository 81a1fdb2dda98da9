import type pg from 'pg';
import { resolveConnectionString } from '../config/connection.js';
import { connect } from '../db/connect.js';
import { qualify, quoteIdent } from '../sql/quote.js';
import { sourceColumns } from '../schema/catalog.js';
import { collectSlots, slotLagText, type SlotThresholds } from '../sync/cdc/status.js';
import { listTables } from '../metadata/store.js';
import { WM_SETTING, keysetPredicate, planTable, watermarkFromRow } from '../sync/plan.js';
import type { JobRow, TableRow } from '../metadata/types.js';

/** `redshift-loader status`: one line per table, from the metadata DB plus a look at the source. */
export interface TableStatus {
  job: string;
  table: string;
  mode: string;
  disabled: boolean;
  watermark: string;
  /** How far the target is behind: rows after the watermark at the source (and seconds, by updated key). */
  lag: string;
  lastSuccess: string | null;
  lastRunStatus: string | null;
  lastRunRows: number | null;
  /** Of the last run's rows: new or changed since the run before, and read again. */
  lastRunChanged: number | null;
  lastRunReread: number | null;
  /** Delete detection: `off`, or its interval with when it last ran and what it removed. */
  deletes: string;
  /** What this table's configuration cannot see (every case in which a change can be missed). */
  risks: string[];
  /** When verify last ran and what it found (`never`, or `<time>: match` / `<time>: differs: ...`), with its schedule. */
  verified: string;
  /** The last verify's stored result (tables.verify_result), or null. */
  lastVerify: Record<string, unknown> | null;
  lastError: string | null;
  /** copy_mode CDC: warnings about the job's replication slot (on the job's first row only). */
  warnings?: string[];
}

/** What a tables row's configuration can miss, in words (README: Copy modes, "What can still be missed"). */
export function tableRisks(t: Pick<TableRow, 'copyMode' | 'deleteDetection' | 'primaryKey'>): string[] {
  const risks: string[] = [];
  if (t.copyMode === 'INSERT_ONLY') {
    risks.push('INSERT_ONLY: updates are not seen, nor rows inserted with a key below the watermark');
  }
  if (t.copyMode !== 'FULL_DATA_SYNC' && t.copyMode !== 'CDC' && !t.deleteDetection) risks.push('deletes are not seen (delete_detection is off)');
  return risks;
}

function deletesText(t: TableRow, checkedAt: string | null, removed: string | null): string {
  if (t.copyMode === 'FULL_DATA_SYNC') return 'every run (full copy)';
  if (t.copyMode === 'CDC') return 'every change (write-ahead log)';
  if (!t.deleteDetection) return 'off';
  const every = t.deleteDetectionMinutes ? `every ${t.deleteDetectionMinutes} min` : 'every run';
  return checkedAt ? `${every}; checked ${checkedAt}, removed ${removed ?? 0}` : `${every}; never checked`;
}

export async function collectStatus(db: pg.ClientBase, jobName?: string, cdcThresholds: SlotThresholds = { retainedMb: 1024, lagSeconds: 3600 }): Promise<TableStatus[]> {
  const jobs = await db.query<JobRow>(
    `SELECT id, name, source_connection_string AS "sourceConnectionString" FROM jobs WHERE ($1::text IS NULL OR name = $1) ORDER BY name`,
    [jobName ?? null],
  );
  if (jobName && jobs.rowCount === 0) throw new Error(`job "${jobName}" not found in the jobs table`);
  const out: TableStatus[] = [];
  // copy_mode CDC: each job's replication slot (src/sync/cdc/status.ts).
  const slots = new Map((await collectSlots(db, jobName, cdcThresholds)).map((s) => [s.job, s]));
  for (const job of jobs.rows) {
    const tables = await listTables(db, job.id);
    const slot = slots.get(job.name);
    let warned = false;
    let src: pg.Client | null = null;
    let srcError: string | null = null;
    try {
      src = await connect(resolveConnectionString(job.sourceConnectionString, `job "${job.name}" source_connection_string`));
    } catch (e) {
      srcError = `source unreachable: ${(e as Error).message}`;
    }
    try {
      for (const t of tables) {
        const extra = await db.query<{
          last_synced_at: string | null; last_error: string | null; status: string | null; rows: string | null; changed: string | null; reread: string | null;
          deletes_checked_at: string | null; deletes_removed: string | null;
          verified_at: string | null; verify_interval_minutes: number | null; verify_result: Record<string, unknown> | null;
        }>(
          `SELECT t.last_synced_at::text, t.last_error, r.status::text, r.rows::text, r.rows_changed::text AS changed, r.rows_reread::text AS reread,
                  t.deletes_checked_at::text, t.deletes_removed::text,
                  t.verified_at::text, t.verify_interval_minutes, t.verify_result
           FROM tables t LEFT JOIN LATERAL (SELECT status, rows, rows_changed, rows_reread FROM sync_runs WHERE table_id = t.id AND kind = 'sync' ORDER BY id DESC LIMIT 1) r ON true
           WHERE t.id = $1`,
          [t.id],
        );
        const e = extra.rows[0]!;
        out.push({
          job: job.name,
          table: `${t.sourceSchema}.${t.sourceName}`,
          mode: t.copyMode,
          disabled: t.disabled,
          watermark: watermarkText(t),
          lag: t.copyMode === 'CDC' ? slotLagText(slot) : src ? await sourceLag(src, job.name, t).catch((err: Error) => `error: ${err.message}`) : srcError!,
          lastSuccess: e.last_synced_at,
          lastRunStatus: e.status,
          lastRunRows: e.rows === null ? null : Number(e.rows),
          lastRunChanged: e.changed === null ? null : Number(e.changed),
          lastRunReread: e.reread === null ? null : Number(e.reread),
          deletes: deletesText(t, e.deletes_checked_at, e.deletes_removed),
          risks: tableRisks(t),
          verified: verifiedText(e.verified_at, e.verify_interval_minutes, e.verify_result),
          lastVerify: e.verify_result,
          lastError: e.last_error,
          ...(slot && !warned && (warned = true) ? { warnings: slot.warnings } : {}),
        });
      }
    } finally {
      await src?.end().catch(() => undefined);
    }
  }
  return out;
}

/** `never`, or `<when>: <what it found>`, plus the schedule (`every N min`) when one is set. */
export function verifiedText(at: string | null, every: number | null, result: Record<string, unknown> | null): string {
  const schedule = every ? `every ${every} min` : null;
  if (!at || !result) return schedule ? `never (${schedule})` : 'never';
  const repair = result.repair as { status?: string } | undefined;
  const found = `${String(result.summary ?? result.status)}${repair?.status ? `; repair: ${repair.status}` : ''}`;
  return `${at}: ${found}${schedule ? ` (${schedule})` : ''}`;
}

function watermarkText(t: TableRow): string {
  if (t.copyMode === 'FULL_DATA_SYNC' || t.copyMode === 'CDC') return '-';
  const parts = [t.maxUpdatedKey, t.maxPrimaryKeyJson ?? null].filter((p): p is string => !!p);
  return parts.length ? parts.join(' ') : '(from the start)';
}

/** Counts source rows after the watermark with the sync engine's own keyset predicate. */
async function sourceLag(src: pg.ClientBase, jobName: string, t: TableRow): Promise<string> {
  const table = qualify(t.sourceSchema, t.sourceName);
  const columns = await sourceColumns(src, t.sourceSchema, t.sourceName);
  if (columns.length === 0) return 'source table not found';
  if (t.copyMode === 'FULL_DATA_SYNC') {
    const n = await src.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
    return `${n.rows[0]!.n} rows at the source`;
  }
  const plan = planTable(t, columns, { rowLimit: 1, chunkSize: 1, destinationSchema: 'public' }, jobName);
  const pred = keysetPredicate(plan, watermarkFromRow(t, plan, jobName));
  await src.query('BEGIN READ ONLY');
  try {
    await src.query(`SELECT set_config('${WM_SETTING}', $1, true)`, [JSON.stringify(pred.values)]);
    const n = await src.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}${pred.sql ? ` WHERE ${pred.sql}` : ''}`);
    let text = `${n.rows[0]!.n} rows after the watermark`;
    if (plan.updatedKey && t.maxUpdatedKey) {
      const uk = quoteIdent(plan.updatedKey);
      const s = await src.query<{ secs: string | null }>(`SELECT extract(epoch FROM max(${uk})::timestamptz - $1::timestamptz)::bigint::text AS secs FROM ${table}`, [t.maxUpdatedKey]);
      text += `, ${Math.max(0, Number(s.rows[0]!.secs ?? 0))} s behind`;
    }
    return text;
  } finally {
    await src.query('ROLLBACK').catch(() => undefined);
  }
}

export function formatStatus(rows: TableStatus[]): string {
  if (rows.length === 0) return 'no tables configured\n';
  const header = ['JOB', 'TABLE', 'MODE', 'WATERMARK', 'LAG', 'LAST SUCCESS', 'LAST RUN', 'ROWS', 'DELETES', 'RISKS', 'VERIFIED', 'LAST ERROR'];
  const body = rows.map((r) => [
    r.job,
    r.table + (r.disabled ? ' (disabled)' : ''),
    r.mode,
    r.watermark,
    r.lag,
    r.lastSuccess ?? 'never',
    r.lastRunStatus ?? '-',
    r.lastRunRows === null ? '-' : `${r.lastRunRows} (${r.lastRunChanged ?? 0} changed, ${r.lastRunReread ?? 0} re-read)`,
    r.deletes,
    r.risks.join('; '),
    r.verified,
    r.lastError ? r.lastError.replace(/\s+/g, ' ').slice(0, 160) : '',
  ]);
  const widths = header.map((h, i) => Math.min(i === 9 || i === 10 ? 200 : 60, Math.max(h.length, ...body.map((b) => b[i]!.length))));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.slice(0, widths[i]).padEnd(widths[i]!))).join('  ').trimEnd();
  return [fmt(header), ...body.map(fmt)].join('\n') + '\n';
}
