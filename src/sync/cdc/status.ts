import type pg from 'pg';
import { resolveConnectionString } from '../../config/connection.js';
import { connect } from '../../db/connect.js';
import { readJobState } from './metadata.js';
import { cdcNames, dropSlotAndPublication, inspectSlot, type SlotInfo } from './slot.js';

/**
 * Slot safety (the classic CDC outage is a forgotten slot filling the source's disk): what
 * each job's slot keeps, how far behind it is, and a warning past CDC_WARN_RETAINED_MB or
 * CDC_WARN_LAG_SECONDS; `redshift-loader cdc drop` removes slot and publication.
 */
export interface SlotThresholds {
  retainedMb: number;
  lagSeconds: number;
}

export interface SlotStatus {
  job: string;
  slot: string;
  publication: string;
  exists: boolean;
  active: boolean;
  retainedBytes: number | null;
  /** Seconds since a run last drained the slot up to the position current at its start (null: never). */
  lagSeconds: number | null;
  enabledCdcTables: number;
  warnings: string[];
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;

export function slotWarnings(s: Omit<SlotStatus, 'warnings'>, jobEnabled: boolean, t: SlotThresholds): string[] {
  const w: string[] = [];
  if (!s.exists) return w;
  const fix = `redshift-loader cdc drop --job ${s.job}`;
  if (s.enabledCdcTables === 0 || !jobEnabled) {
    w.push(`job "${s.job}" ${jobEnabled ? 'has no enabled CDC table' : 'is disabled'}, but its replication slot "${s.slot}" and publication "${s.publication}" remain on the source and keep ${mb(s.retainedBytes ?? 0)} of WAL, growing with every write there: remove them with ${fix} (a later CDC run creates them again and reloads the tables)`);
  } else if ((s.retainedBytes ?? 0) > t.retainedMb * 1024 * 1024) {
    w.push(`replication slot "${s.slot}" of job "${s.job}" keeps ${mb(s.retainedBytes!)} of WAL on the source (over CDC_WARN_RETAINED_MB = ${t.retainedMb}): check that the job's runs succeed; if the job is abandoned, ${fix}`);
  }
  if (s.enabledCdcTables > 0 && jobEnabled && s.lagSeconds !== null && s.lagSeconds > t.lagSeconds) {
    w.push(`replication slot "${s.slot}" of job "${s.job}" was last drained ${s.lagSeconds} s ago (over CDC_WARN_LAG_SECONDS = ${t.lagSeconds}): check the job's schedule and last error`);
  }
  return w;
}

/** Every job with CDC tables (enabled or not) or a slot of its own name. */
export async function collectSlots(db: pg.ClientBase, jobName: string | undefined, t: SlotThresholds): Promise<SlotStatus[]> {
  const jobs = await db.query<{ id: number; name: string; enabled: boolean; source: string; cdc: number; any_cdc: boolean }>(
    `SELECT j.id, j.name, j.enabled, j.source_connection_string AS source,
            count(*) FILTER (WHERE t.copy_mode = 'CDC' AND NOT t.disabled)::int AS cdc, bool_or(t.copy_mode = 'CDC') AS any_cdc
       FROM jobs j LEFT JOIN tables t ON t.job_id = j.id WHERE ($1::text IS NULL OR j.name = $1) GROUP BY j.id ORDER BY j.name`,
    [jobName ?? null],
  );
  const out: SlotStatus[] = [];
  for (const j of jobs.rows) {
    if (!j.any_cdc && j.cdc === 0) continue;
    const names = cdcNames(j.name);
    let info: SlotInfo | null = null;
    let src: pg.Client | null = null;
    try {
      src = await connect(resolveConnectionString(j.source, `job "${j.name}" source_connection_string`), 'redshift-loader status');
      info = await inspectSlot(src, names.slot);
    } catch {
      continue; // the table rows say the source is unreachable
    } finally {
      await src?.end().catch(() => undefined);
    }
    const state = await readJobState(db, j.id);
    const lag = state.caughtUpAt === null ? null : Math.max(0, Math.round((Date.now() - Date.parse(state.caughtUpAt.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'))) / 1000));
    const s = { job: j.name, slot: names.slot, publication: names.publication, exists: !!info, active: info?.active ?? false, retainedBytes: info?.retainedBytes ?? null, lagSeconds: lag, enabledCdcTables: j.cdc };
    out.push({ ...s, warnings: slotWarnings(s, j.enabled, t) });
  }
  return out;
}

/** The `lag` text of a CDC table in `status`. */
export function slotLagText(s: SlotStatus | undefined): string {
  if (!s) return 'slot not inspected';
  if (!s.exists) return `no replication slot yet (the next run creates "${s.slot}")`;
  return `slot "${s.slot}" keeps ${mb(s.retainedBytes ?? 0)} of WAL, ${s.lagSeconds === null ? 'never drained' : `drained ${s.lagSeconds} s ago`}${s.active ? ', being read now' : ''}`;
}

/** `redshift-loader cdc drop --job NAME`. */
export async function dropJobSlot(db: pg.ClientBase, jobName: string): Promise<string> {
  const r = await db.query<{ id: number; source: string }>(`SELECT id, source_connection_string AS source FROM jobs WHERE name = $1`, [jobName]);
  const job = r.rows[0];
  if (!job) throw new Error(`job "${jobName}" not found in the jobs table`);
  const names = cdcNames(jobName);
  const src = await connect(resolveConnectionString(job.source, `job "${jobName}" source_connection_string`), 'redshift-loader cdc drop');
  try {
    const gone = await dropSlotAndPublication(src, names, `job "${jobName}"`);
    // The next CDC run creates a new slot and must load every CDC table again.
    await db.query(`UPDATE tables SET cdc_loaded_lsn = NULL WHERE job_id = $1`, [job.id]);
    await db.query(`UPDATE jobs SET cdc_position = NULL, cdc_caught_up_at = NULL WHERE id = $1`, [job.id]);
    const parts = [gone.slot ? `dropped replication slot "${names.slot}"` : `no replication slot "${names.slot}"`, gone.publication ? `dropped publication "${names.publication}"` : `no publication "${names.publication}"`];
    return `job "${jobName}": ${parts.join(', ')}; a later CDC run of the job creates them again and reloads its CDC tables`;
  } finally {
    await src.end().catch(() => undefined);
  }
}

/**
 * What disabling leaves behind (the `disable` command): a disabled job keeps its slot and
 * publication, and their WAL grows; a disabled CDC table leaves the publication and is
 * loaded again in full when enabled. '' when the job has no CDC tables.
 */
export async function disableNote(db: pg.ClientBase, jobName: string, table?: { copyMode: string; sourceSchema: string; sourceName: string }): Promise<string> {
  const j = await db.query<{ id: number; source: string; cdc: number }>(
    `SELECT j.id, j.source_connection_string AS source, count(t.id) FILTER (WHERE t.copy_mode = 'CDC' AND NOT t.disabled)::int AS cdc
       FROM jobs j LEFT JOIN tables t ON t.job_id = j.id WHERE j.name = $1 GROUP BY j.id`,
    [jobName],
  );
  const job = j.rows[0];
  if (!job || (table ? table.copyMode !== 'CDC' : job.cdc === 0)) return '';
  const names = cdcNames(jobName);
  let kept = 'WAL';
  try {
    const src = await connect(resolveConnectionString(job.source, `job "${jobName}" source_connection_string`), 'redshift-loader disable');
    try {
      const s = await inspectSlot(src, names.slot);
      if (!s) return table ? `note: copy_mode CDC: ${table.sourceSchema}.${table.sourceName} is loaded again in full when it is enabled\n` : '';
      kept = `${mb(s.retainedBytes)} of WAL now`;
    } finally {
      await src.end().catch(() => undefined);
    }
  } catch {
    // the source is unreachable: say what stays without its size
  }
  const drop = `redshift-loader cdc drop --job ${jobName}`;
  if (table) {
    const last = job.cdc === 0 ? `; it was the job's last enabled CDC table, so its replication slot "${names.slot}" and publication stay on the source and keep ${kept}, growing with every write there: remove them with ${drop}` : '';
    return `note: copy_mode CDC: ${table.sourceSchema}.${table.sourceName} leaves the job's publication at its next run; changes made while it is disabled are not captured, so it is loaded again in full when enabled${last}\n`;
  }
  return `note: copy_mode CDC: the job's replication slot "${names.slot}" and publication "${names.publication}" stay on the source while it is disabled and keep ${kept}, growing with every write there: remove them with ${drop} (its CDC tables are then loaded again in full when it runs)\n`;
}
