import type { Command } from 'commander';
import { migrate } from '../../db/migrate.js';
import { runCommand } from '../context.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending migrations to the metadata DB (DATABASE_URL); safe to run repeatedly')
    .action(() =>
      runCommand(['DATABASE_URL'], async ({ env, log }) => {
        const r = await migrate(env.DATABASE_URL!, log);
        log.info({ applied: r.applied, alreadyApplied: r.alreadyApplied.length }, r.applied.length ? `applied ${r.applied.length} migration(s)` : 'metadata DB is up to date');
      }, { metadata: 'reachable' }),
    );
}
