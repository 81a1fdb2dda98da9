import type { Command } from 'commander';
import { runCommand } from '../context.js';

/** copy_mode CDC's slot and publication (src/sync/cdc). */
export function registerCdc(program: Command): void {
  const cdc = program.command('cdc').description("manage a job's change capture (copy_mode CDC): its replication slot and publication on the source");
  cdc
    .command('drop')
    .description("remove the job's replication slot and publication from the source (the WAL they keep is freed); a later CDC run creates them again and reloads the CDC tables")
    .requiredOption('--job <name>', 'the jobs.name')
    .action((opts: { job: string }) =>
      runCommand(['DATABASE_URL'], async ({ env }) => {
        const { dropJobSlot } = await import('../../sync/cdc/status.js');
        const { withConnection } = await import('../../db/connect.js');
        process.stdout.write(`${await withConnection(env.DATABASE_URL!, (db) => dropJobSlot(db, opts.job))}\n`);
        return 0;
      }),
    );
}
