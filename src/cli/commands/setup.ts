import type { Command } from 'commander';
import { runCommand } from '../context.js';

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('discover source tables, choose keys and copy modes, create missing Redshift tables and add tables rows (idempotent)')
    .requiredOption('--job <name>', 'the jobs.name to set up')
    .option('--schema <schema>', 'source schema to look in (repeatable; default public)', collect, [])
    .option('--include <glob>', 'only tables whose schema.table (or table) matches this shell glob (repeatable)', collect, [])
    .option('--exclude <glob>', 'skip tables whose schema.table (or table) matches this shell glob (repeatable)', collect, [])
    .option('--dry-run', 'print the choices and the SQL (Redshift DDL, metadata inserts) without running it')
    .action((opts: { job: string; schema: string[]; include: string[]; exclude: string[]; dryRun?: boolean }) =>
      runCommand(['DATABASE_URL'], async ({ env, log }) => {
        const { runSetup } = await import('../../setup/setup.js');
        const r = await runSetup(env.DATABASE_URL!, { jobName: opts.job, schemas: opts.schema, include: opts.include, exclude: opts.exclude, dryRun: opts.dryRun }, { log });
        process.stdout.write(r.output);
        return r.ok ? 0 : 1;
      }),
    );
}
