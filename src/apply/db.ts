import type pg from 'pg';
import { JOB_FIELDS, SCHEDULE_FIELDS, TABLE_FIELDS, type FieldSpec, type FieldValue, type Values } from './fields.js';
import type { ApplyPlan, CurrentJob, CurrentSchedule, CurrentTable, FieldChange, Snapshot } from './plan.js';

/**
 * The metadata reads and writes of `apply` and `export`. Only the columns in fields.ts
 * are ever written; column names come from that list, values are bind parameters.
 */
const col = (f: FieldSpec) => (f.kind === 'copy_mode' ? `"${f.column}"::text AS "${f.column}"` : `"${f.column}"`);
const cols = (fields: readonly FieldSpec[], alias = '') => fields.map((f) => (alias ? `${alias}.${col(f)}` : col(f))).join(', ');

function valuesFrom(fields: readonly FieldSpec[], row: Record<string, unknown>): Values {
  const out: Values = {};
  for (const f of fields) out[f.column] = (row[f.column] ?? null) as FieldValue;
  return out;
}

/** The rows of the named jobs (every job when `names` is null) and the names of the others. */
export async function readSnapshot(db: pg.ClientBase, names: string[] | null): Promise<Snapshot> {
  const jobs = await db.query<Record<string, unknown> & { id: number; name: string }>(
    `SELECT id, ${cols(JOB_FIELDS)} FROM jobs WHERE $1::text[] IS NULL OR name = ANY($1::text[]) ORDER BY name`,
    [names],
  );
  const others = await db.query<{ name: string }>(`SELECT name FROM jobs WHERE $1::text[] IS NOT NULL AND NOT (name = ANY($1::text[])) ORDER BY name`, [names]);
  const ids = jobs.rows.map((j) => j.id);
  const tables = await db.query<Record<string, unknown> & { id: number; job_id: number; mpk: string | null; muk: string | null; holder: string | null; until: string | null; runs: string }>(
    `SELECT t.id, t.job_id, ${cols(TABLE_FIELDS, 't')}, t.max_primary_key::text AS mpk, t.max_updated_key::text AS muk,
            CASE WHEN t.claimed_by IS NOT NULL AND t.claim_expires_at > now() THEN t.claimed_by END AS holder,
            CASE WHEN t.claimed_by IS NOT NULL AND t.claim_expires_at > now() THEN t.claim_expires_at::text END AS until,
            (SELECT count(*) FROM sync_runs r WHERE r.table_id = t.id)::text AS runs
       FROM tables t WHERE t.job_id = ANY($1::int[]) ORDER BY t.source_schema, t.source_name`,
    [ids],
  );
  const schedules = await db.query<Record<string, unknown> & { id: number; job_id: number }>(
    `SELECT id, job_id, ${cols(SCHEDULE_FIELDS)} FROM schedule_events WHERE job_id = ANY($1::int[]) ORDER BY id`,
    [ids],
  );
  const current: CurrentJob[] = jobs.rows.map((j) => ({
    id: j.id,
    values: valuesFrom(JOB_FIELDS, j),
    tables: tables.rows
      .filter((t) => t.job_id === j.id)
      .map(
        (t): CurrentTable => ({
          id: t.id,
          values: valuesFrom(TABLE_FIELDS, t),
          maxPrimaryKey: t.mpk,
          maxUpdatedKey: t.muk,
          claimedBy: t.holder,
          claimExpiresAt: t.until,
          runs: Number(t.runs),
        }),
      ),
    schedules: schedules.rows.filter((s) => s.job_id === j.id).map((s): CurrentSchedule => ({ id: s.id, values: valuesFrom(SCHEDULE_FIELDS, s) })),
  }));
  return { jobs: current, otherJobs: others.rows.map((o) => o.name) };
}

function param(f: FieldSpec, v: FieldValue): unknown {
  if (f.kind === 'policies') return v === null ? null : JSON.stringify(v);
  return v;
}

const cast = (f: FieldSpec) => (f.kind === 'copy_mode' ? '::copy_mode' : f.kind === 'policies' ? '::jsonb' : '');

async function insert(db: pg.ClientBase, table: string, fields: readonly FieldSpec[], values: Values, extra: Record<string, unknown> = {}): Promise<number> {
  const names = [...Object.keys(extra).map((k) => `"${k}"`), ...fields.map((f) => `"${f.column}"`)];
  const params = [...Object.values(extra), ...fields.map((f) => param(f, values[f.column] ?? null))];
  const placeholders = [...Object.keys(extra).map((_, i) => `$${i + 1}`), ...fields.map((f, i) => `$${Object.keys(extra).length + i + 1}${cast(f)}`)];
  const r = await db.query<{ id: number }>(`INSERT INTO ${table} (${names.join(', ')}) VALUES (${placeholders.join(', ')}) RETURNING id`, params);
  return r.rows[0]!.id;
}

async function update(db: pg.ClientBase, table: string, fields: readonly FieldSpec[], id: number, changes: FieldChange[]): Promise<void> {
  if (changes.length === 0) return;
  const byColumn = new Map(fields.map((f) => [f.column, f]));
  const sets = changes.map((c, i) => `"${c.column}" = $${i + 2}${cast(byColumn.get(c.column)!)}`);
  const r = await db.query(`UPDATE ${table} SET ${sets.join(', ')} WHERE id = $1`, [id, ...changes.map((c) => param(byColumn.get(c.column)!, c.to))]);
  if (r.rowCount !== 1) throw new Error(`${table} row ${id} disappeared while applying; nothing was changed`);
}

/** Writes a plan. Run it inside one transaction: a failure anywhere rolls everything back. */
export async function executePlan(db: pg.ClientBase, plan: ApplyPlan): Promise<void> {
  if (plan.blockers.length > 0) throw new Error(plan.blockers.join('; '));
  for (const job of plan.jobs) {
    let jobId = job.id;
    if (job.action === 'add') jobId = await insert(db, 'jobs', JOB_FIELDS, job.values);
    else if (job.action === 'change') await update(db, 'jobs', JOB_FIELDS, jobId!, job.changes);
    for (const t of job.tables) {
      if (t.action === 'add') await insert(db, 'tables', TABLE_FIELDS, t.values, { job_id: jobId });
      else if (t.action === 'change') await update(db, 'tables', TABLE_FIELDS, t.id!, t.changes);
      else if (t.action === 'remove') {
        // Never under a running sync: the claim is checked again in the statement itself.
        const r = await db.query(`DELETE FROM tables WHERE id = $1 AND NOT (claimed_by IS NOT NULL AND claim_expires_at > now())`, [t.id]);
        if (r.rowCount !== 1) throw new Error(`job ${job.name}, ${t.label}: a sync started on it meanwhile; nothing was changed, apply again when it has finished`);
      }
    }
    for (const s of job.schedules) {
      if (s.action === 'add') await insert(db, 'schedule_events', SCHEDULE_FIELDS, s.values, { job_id: jobId });
      else if (s.action === 'change') await update(db, 'schedule_events', SCHEDULE_FIELDS, s.id!, s.changes);
      else if (s.action === 'remove') await db.query(`DELETE FROM schedule_events WHERE id = $1`, [s.id]);
    }
  }
}
