import type { Command } from 'commander';
import { runCommand } from '../context.js';

export function registerGrants(program: Command): void {
  program
    .command('grants')
    .description("print the least-privilege SQL for the job's read-only source user and read-write Redshift user (nothing is run)")
    .requiredOption('--job <name>', 'the jobs.name')
    .option('--source-user <name>', 'source user name (default: the user in the source connection string)')
    .option('--destination-user <name>', 'Redshift user name (default: the user in the destination connection string)')
    .action((opts: { job: string; sourceUser?: string; destinationUser?: string }) =>
      runCommand(['DATABASE_URL'], async ({ env }) => {
        const { grantsForJob } = await import('../../setup/grants.js');
        process.stdout.write(await grantsForJob(env.DATABASE_URL!, opts.job, { sourceUser: opts.sourceUser, destinationUser: opts.destinationUser }));
        return 0;
      }, { logs: 'stderr' }),
    );
}
