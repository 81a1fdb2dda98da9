import type pg from 'pg';
import { humanSeconds, utcText, withoutWhere } from '../format.js';

export { humanSeconds, utcText, withoutWhere };
import { parseSchedule, type ScheduleConfig } from '../schedule/due.js';
import { nextRunAt, tableDueAt } from '../schedule/next-run.js';
import { enabledEventsOfJobs } from '../metadata/schedules.js';

/**
 * Is everything healthy? From the metadata DB alone (what the workers wrote), so `status`
 * and the worker's lag alerts judge alike. A job is unhealthy when a schedule row cannot
 * run (bad `at`, timezone or frequency written before the database checked them, or a zone
 * Node does not know) or its runs fail (job-level backoff). A table is unhealthy when it is
 * failing (its last sync failed: tables.last_error) or behind: its next sync was due, by
 * its job's schedules counted from its last success, more than ALERT_LAG_SECONDS ago.
 * Disabled tables and jobs are not judged; nor is lag for a job without an enabled schedule
 * (run from cron with `sync`: watch its exit code).
 */
type Query = Pick<pg.ClientBase, 'query'>;

export interface JobSchedule {
  job: string;
  jobId: number;
  enabled: boolean;
  /** Enabled schedule_events rows, as written. */
  schedules: Array<{ id: number; frequency: number; at: string | null; timezone: string }>;
  /** When the worker runs the job next (earliest over its schedules); null: never (no valid schedule). */
  nextRunAt: Date | null;
  lastRunAt: Date | null;
  lastSucceededAt: Date | null;
  /** Job-level backoff: failed runs in a row, and not before this. */
  failureCount: number;
  retryAt: Date | null;
  /** A schedule row the worker cannot run, and why. */
  scheduleError: string | null;
  /** The last run's error (schedule_events.last_error), when it was not a schedule error. */
  lastError: string | null;
  problems: string[];
}

export type TableHealthState = 'ok' | 'failing' | 'behind' | 'not judged';

export interface TableHealth {
  job: string;
  table: string;
  tableId: number;
  state: TableHealthState;
  /** Consecutive failures, and when the worker retries the table (its own backoff). */
  failureCount: number;
  retryAt: Date | null;
  lastSuccess: Date | null;
  /** When its next sync was due by the schedule (null: no enabled schedule). */
  dueAt: Date | null;
  /** How far past dueAt (0 when not yet due). */
  overdueSeconds: number | null;
  alertFailing: boolean;
  alertBehind: boolean;
  problems: string[];
}

export interface Health {
  jobs: JobSchedule[];
  tables: TableHealth[];
  /** Every problem, one line each, naming job and table. Empty: healthy. */
  problems: string[];
  lagThresholdSeconds: number;
}

interface TableRaw {
  id: number;
  job_id: number;
  name: string;
  disabled: boolean;
  last_synced_at: Date | null;
  created_at: Date;
  failure_count: number;
  retry_at: Date | null;
  last_error: string | null;
  alert_failing: boolean;
  alert_behind: boolean;
}



const oneLine = (t: string, max = 300) => {
  const x = t.replace(/\s+/g, ' ').trim();
  return x.length > max ? `${x.slice(0, max - 1)}…` : x;
};

export async function collectHealth(db: Query, opts: { jobName?: string; lagThresholdSeconds: number; now?: Date }): Promise<Health> {
  const now = opts.now ?? new Date();
  const jobs = await db.query<{ id: number; name: string; enabled: boolean }>(`SELECT "id", "name", "enabled" FROM "jobs" WHERE ($1::text IS NULL OR "name" = $1) ORDER BY "name"`, [opts.jobName ?? null]);
  const ids = jobs.rows.map((j) => j.id);
  const events = await enabledEventsOfJobs(db, ids);
  const tables = await db.query<TableRaw>(
    `SELECT "id", "job_id", "source_schema" || '.' || "source_name" AS "name", "disabled", "last_synced_at", "created_at",
            "failure_count", "retry_at", "last_error", "alert_failing", "alert_behind"
       FROM "tables" WHERE "job_id" = ANY($1::int[]) ORDER BY "source_schema", "source_name"`,
    [ids],
  );
  const out: Health = { jobs: [], tables: [], problems: [], lagThresholdSeconds: opts.lagThresholdSeconds };
  for (const job of jobs.rows) {
    const evs = events.filter((e) => e.jobId === job.id);
    const valid: ScheduleConfig[] = [];
    const errors: string[] = [];
    let next: Date | null = null;
    for (const e of evs) {
      const cfg = { frequency: e.frequency, at: e.at, timezone: e.timezone };
      try {
        parseSchedule(cfg);
        valid.push(cfg);
        const n = nextRunAt({ ...cfg, lastSucceededAt: e.lastSucceededAt, failureCount: e.failureCount, retryAt: e.retryAt }, now);
        if (n && (!next || n < next)) next = n;
      } catch (err) {
        errors.push(`schedule_events row ${e.id}: ${(err as Error).message}`);
      }
    }
    const latest = (k: 'lastRunAt' | 'lastSucceededAt') => evs.reduce<Date | null>((m, e) => (e[k] && (!m || e[k]! > m) ? e[k] : m), null);
    const failing = evs.filter((e) => e.failureCount > 0);
    const runError = evs.map((e) => e.lastError).find((m) => m && !m.startsWith('invalid schedule')) ?? null;
    const js: JobSchedule = {
      job: job.name,
      jobId: job.id,
      enabled: job.enabled,
      schedules: evs.map((e) => ({ id: e.id, frequency: e.frequency, at: e.at, timezone: e.timezone })),
      nextRunAt: job.enabled ? next : null,
      lastRunAt: latest('lastRunAt'),
      lastSucceededAt: latest('lastSucceededAt'),
      failureCount: Math.max(0, ...evs.map((e) => e.failureCount)),
      retryAt: failing.map((e) => e.retryAt).filter((d): d is Date => !!d).sort((a, b) => a.getTime() - b.getTime())[0] ?? null,
      scheduleError: errors.length ? errors.join('; ') : null,
      lastError: runError,
      problems: [],
    };
    if (job.enabled) {
      if (js.scheduleError) js.problems.push(`job "${job.name}": the worker cannot run its schedule: ${js.scheduleError} (fix the schedule_events row)`);
      if (js.failureCount > 0) {
        js.problems.push(`job "${job.name}": ${js.failureCount} failed run(s) in a row, retrying after ${utcText(js.retryAt)}: ${oneLine(js.lastError ?? 'no error message')}`);
      }
    }
    out.jobs.push(js);
    out.problems.push(...js.problems);
    for (const t of tables.rows.filter((x) => x.job_id === job.id)) {
      const judged = job.enabled && !t.disabled;
      const dueAt = tableDueAt(valid, t.last_synced_at ?? t.created_at);
      const overdue = dueAt ? Math.max(0, (now.getTime() - dueAt.getTime()) / 1000) : null;
      const h: TableHealth = {
        job: job.name,
        table: t.name,
        tableId: t.id,
        state: 'ok',
        failureCount: t.failure_count,
        retryAt: t.retry_at,
        lastSuccess: t.last_synced_at,
        dueAt,
        overdueSeconds: overdue === null ? null : Math.round(overdue),
        alertFailing: t.alert_failing,
        alertBehind: t.alert_behind,
        problems: [],
      };
      if (!judged) h.state = 'not judged';
      else {
        if (t.last_error !== null || t.failure_count > 0) {
          h.state = 'failing';
          // Only a worker retries, and only a job with a schedule.
          const retry = t.retry_at && valid.length > 0 ? `; the worker retries it after ${utcText(t.retry_at)}` : '';
          h.problems.push(`job "${job.name}", table ${t.name}: failing (${t.failure_count || 1} failed sync(s) in a row${retry}): ${oneLine(withoutWhere(t.last_error ?? 'no error message', job.name, t.name))}`);
        }
        if (overdue !== null && overdue > opts.lagThresholdSeconds) {
          if (h.state === 'ok') h.state = 'behind';
          h.problems.push(
            `job "${job.name}", table ${t.name}: behind: its sync was due at ${utcText(dueAt)} and is ${humanSeconds(overdue)} overdue (last success ${utcText(t.last_synced_at)}; threshold ALERT_LAG_SECONDS = ${opts.lagThresholdSeconds})`,
          );
        }
      }
      out.tables.push(h);
      out.problems.push(...h.problems);
    }
  }
  return out;
}

/** The jobs part of `status`: one line per job. */
export function formatJobs(h: Health, now = new Date()): string {
  if (h.jobs.length === 0) return '';
  const header = ['JOB', 'SCHEDULE', 'LAST RUN', 'LAST SUCCESS', 'NEXT RUN', 'BACKOFF', 'SCHEDULE ERROR / LAST RUN ERROR'];
  const body = h.jobs.map((j) => [
    j.job + (j.enabled ? '' : ' (disabled)'),
    j.schedules.length === 0 ? 'none (run by hand or cron)' : j.schedules.map((s) => `every ${humanSeconds(s.frequency)}${s.at ? ` at ${s.at} ${s.timezone}` : ''}`).join('; '),
    utcText(j.lastRunAt),
    utcText(j.lastSucceededAt),
    !j.enabled || j.schedules.length === 0 ? '-' : j.nextRunAt ? (j.nextRunAt <= now ? 'due now' : utcText(j.nextRunAt)) : 'never (no valid schedule)',
    j.failureCount > 0 ? `${j.failureCount} failure(s), retry after ${utcText(j.retryAt)}` : '-',
    j.scheduleError ? oneLine(j.scheduleError, 160) : j.lastError ? oneLine(j.lastError, 160) : '',
  ]);
  return table(header, body);
}

/** The health part of `status`: `HEALTH: ok`, or each problem on its line. */
export function formatHealth(h: Health): string {
  if (h.problems.length === 0) return 'HEALTH: ok\n';
  return `HEALTH: ${h.problems.length} problem(s)\n${h.problems.map((p) => `  ${p}`).join('\n')}\n`;
}

function table(header: string[], body: string[][]): string {
  const widths = header.map((hd, i) => Math.min(80, Math.max(hd.length, ...body.map((b) => b[i]!.length))));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.slice(0, widths[i]).padEnd(widths[i]!))).join('  ').trimEnd();
  return [fmt(header), ...body.map(fmt)].join('\n') + '\n';
}

/** Per table, what `status --json` adds to each row (matched by job and table). */
export function tableHealthJson(h: Health, job: string, table: string): Record<string, unknown> {
  const t = h.tables.find((x) => x.job === job && x.table === table);
  const j = h.jobs.find((x) => x.job === job);
  return {
    health: t?.state ?? 'not judged',
    problems: t?.problems ?? [],
    failureCount: t?.failureCount ?? 0,
    retryAt: t?.retryAt ?? null,
    dueAt: t?.dueAt ?? null,
    overdueSeconds: t?.overdueSeconds ?? null,
    jobSchedule: j
      ? { nextRunAt: j.nextRunAt, lastRunAt: j.lastRunAt, lastSucceededAt: j.lastSucceededAt, failureCount: j.failureCount, retryAt: j.retryAt, scheduleError: j.scheduleError, lastError: j.lastError, problems: j.problems }
      : null,
  };
}
