import type { Command } from 'commander';
import { runCommand } from '../context.js';

export function registerSync(program: Command): void {
  program
    .command('sync')
    .description('sync every enabled table of a job once, batch after batch until caught up; exits 1 if any table failed')
    .requiredOption('--job <name>', 'the jobs.name to sync')
    .option('--table <glob>', 'only tables whose schema.table (or table) matches this shell glob')
    .option('--dry-run', 'print the plan and every SQL statement without touching anything')
    .action((opts: { job: string; table?: string; dryRun?: boolean }) =>
      runCommand(['DATABASE_URL'], async ({ env, log }) => {
        if (opts.dryRun) {
          const { dryRunJob } = await import('../../sync/dry-run.js');
          process.stdout.write(await dryRunJob(env.DATABASE_URL!, opts.job, opts.table, env));
          return 0;
        }
        const { syncJob } = await import('../../sync/engine.js');
        const controller = new AbortController();
        const onSignal = () => controller.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const r = await syncJob(env.DATABASE_URL!, opts.job, { tableGlob: opts.table }, { env, log, signal: controller.signal });
        for (const t of r.tables) {
          process.stderr.write(`${t.ok ? 'ok    ' : 'FAILED'} ${t.table}: ${t.rows} rows in ${t.batches} batch(es)${t.error ? ` -- ${t.error}` : ''}\n`);
        }
        return r.ok ? 0 : 1;
      }, { logs: opts.dryRun ? 'stderr' : 'stdout' }),
    );
}
