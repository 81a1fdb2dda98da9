import type { Command } from 'commander';
import { runCommand } from '../context.js';

/**
 * `status`: per job its schedule, next run, backoff and schedule error; per table its mode,
 * watermark, lag, last run (changed vs re-read rows), risks and last error; then HEALTH.
 * Exit 0 when healthy, 1 when anything is unhealthy (a failing table, a schedule the worker
 * cannot run, a job backing off, a table behind ALERT_LAG_SECONDS), so cron or a monitor
 * can run it. `--json` prints the table rows with their health and their job's schedule.
 */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("show each job's schedule, next run and backoff, each table's mode, watermark, lag, last run and last error; exit 1 when anything is unhealthy")
    .option('--job <name>', 'only this job')
    .option('--json', 'print JSON instead of a table')
    .action((opts: { job?: string; json?: boolean }) =>
      runCommand(['DATABASE_URL'], async ({ env }) => {
        const { collectStatus, formatStatus } = await import('../../status/status.js');
        const { collectHealth, formatHealth, formatJobs, tableHealthJson } = await import('../../status/health.js');
        const { withConnection } = await import('../../db/connect.js');
        const { rows, health } = await withConnection(env.DATABASE_URL!, async (db) => {
          const rows = await collectStatus(db, opts.job, { retainedMb: env.CDC_WARN_RETAINED_MB, lagSeconds: env.CDC_WARN_LAG_SECONDS });
          const health = await collectHealth(db, { jobName: opts.job, lagThresholdSeconds: env.ALERT_LAG_SECONDS });
          return { rows, health };
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(rows.map((r) => ({ ...r, ...tableHealthJson(health, r.job, r.table) })), null, 2)}\n`);
        } else {
          process.stdout.write([formatJobs(health), formatStatus(rows), formatHealth(health)].filter(Boolean).join('\n'));
        }
        // copy_mode CDC: slots that keep too much WAL, lag, or were left behind (src/sync/cdc/status.ts).
        for (const r of rows) for (const w of r.warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
        return health.problems.length > 0 ? 1 : 0;
      }, { logs: 'stderr' }),
    );
}
