import type { Command } from 'commander';
import type { Env } from '../../config/env.js';
import { runCommand } from '../context.js';
import { UsageError } from '../errors.js';

/** The job's enabled tables that `--table` selects; a usage error naming them all when none does. */
async function checkTables(env: Env, jobName: string, glob: string | undefined): Promise<void> {
  const { withConnection } = await import('../../db/connect.js');
  const meta = await import('../../metadata/store.js');
  const { matchesGlob } = await import('../../sync/engine.js');
  await withConnection(env.DATABASE_URL!, async (db) => {
    const job = await meta.getJobByName(db, jobName);
    const tables = await meta.listTables(db, job.id);
    const enabled = tables.filter((t) => !t.disabled);
    if (enabled.length === 0) {
      throw new UsageError(`job "${jobName}" has no enabled tables, so there is nothing to sync (add them with: redshift-loader setup --job ${jobName})`);
    }
    if (glob && !enabled.some((t) => matchesGlob(glob, t.sourceSchema, t.sourceName))) {
      const names = enabled.map((t) => `${t.sourceSchema}.${t.sourceName}`).join(', ');
      throw new UsageError(`no enabled table of job "${jobName}" matches --table ${JSON.stringify(glob)} (its tables: ${names}); the glob is matched on schema.table and on table`);
    }
  });
}

export function registerSync(program: Command): void {
  program
    .command('sync')
    .description('sync every enabled table of a job once, batch after batch until caught up; exits 1 if any table failed')
    .requiredOption('--job <name>', 'the jobs.name to sync')
    .option('--table <glob>', 'only tables whose schema.table (or table) matches this shell glob')
    .option('--dry-run', 'print the plan and every SQL statement without touching anything')
    .action((opts: { job: string; table?: string; dryRun?: boolean }) => {
      // At a terminal: warnings only, then a summary table. Otherwise: JSON log lines on
      // stdout (LOG_LEVEL, default info) and one line per table on stderr.
      const terminal = process.stdout.isTTY === true && !opts.dryRun;
      return runCommand(
        ['DATABASE_URL'],
        async ({ env, log }) => {
          await checkTables(env, opts.job, opts.table);
          if (opts.dryRun) {
            const { dryRunJob } = await import('../../sync/dry-run.js');
            process.stdout.write(await dryRunJob(env.DATABASE_URL!, opts.job, opts.table, env));
            return 0;
          }
          const { syncJob } = await import('../../sync/engine.js');
          const { flushAlerts } = await import('../../alerts/webhook.js');
          const { formatSyncLines, formatSyncSummary } = await import('../sync-summary.js');
          const controller = new AbortController();
          const onSignal = () => controller.abort();
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
          const r = await syncJob(env.DATABASE_URL!, opts.job, { tableGlob: opts.table }, { env, log, signal: controller.signal });
          await flushAlerts();
          if (terminal) process.stdout.write(formatSyncSummary(r));
          else process.stderr.write(formatSyncLines(r));
          return r.ok ? 0 : 1;
        },
        { logs: opts.dryRun ? 'stderr' : 'stdout', defaultLevel: terminal ? 'warn' : undefined },
      );
    });
}
