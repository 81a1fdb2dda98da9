import { InvalidArgumentError, type Command } from 'commander';
import { runCommand } from '../context.js';

const collect = (value: string, previous: string[]) => [...previous, value];

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number, e.g. 100000');
  return Number(value);
}

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('discover source tables, choose keys and copy modes, create missing Redshift tables and add tables rows (idempotent)')
    .requiredOption('--job <name>', 'the jobs.name to set up')
    .option('--schema <schema>', 'source schema to look in (repeatable; default public)', collect, [])
    .option('--include <glob>', 'only tables whose schema.table (or table) matches this shell glob (repeatable)', collect, [])
    .option('--exclude <glob>', 'skip tables whose schema.table (or table) matches this shell glob (repeatable)', collect, [])
    .option('--dry-run', 'print the choices and the SQL (Redshift DDL, metadata inserts) without running it')
    .option('--full-sync-below <rows>', 'keyed tables without an updated-at column and fewer rows than this are FULL_DATA_SYNC, larger ones INSERT_ONLY', wholeNumber, 100_000)
    .option('--delete-check-minutes <minutes>', 'how often delete detection runs on keyed incremental tables of at least --full-sync-below rows (smaller ones: every run)', wholeNumber, 60)
    .action((opts: { job: string; schema: string[]; include: string[]; exclude: string[]; dryRun?: boolean; fullSyncBelow: number; deleteCheckMinutes: number }) =>
      runCommand(['DATABASE_URL'], async ({ env, log }) => {
        const { runSetup } = await import('../../setup/setup.js');
        const r = await runSetup(
          env.DATABASE_URL!,
          { jobName: opts.job, schemas: opts.schema, include: opts.include, exclude: opts.exclude, dryRun: opts.dryRun, fullSyncBelow: opts.fullSyncBelow, deleteCheckMinutes: opts.deleteCheckMinutes },
          { log },
        );
        if (opts.dryRun) {
          const { setupPlanAsSql } = await import('../setup-script.js');
          process.stdout.write(setupPlanAsSql(r.output));
        } else {
          process.stdout.write(r.output);
        }
        return r.ok ? 0 : 1;
      }, { logs: 'stderr' }),
    );
}
