import type { Command } from 'commander';
import { runCommand } from '../context.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("show each table's mode, watermark, lag behind the source, last success, last error and rows in the last run")
    .option('--job <name>', 'only this job')
    .option('--json', 'print JSON instead of a table')
    .action((opts: { job?: string; json?: boolean }) =>
      runCommand(['DATABASE_URL'], async ({ env }) => {
        const { collectStatus, formatStatus } = await import('../../status/status.js');
        const { withConnection } = await import('../../db/connect.js');
        const rows = await withConnection(env.DATABASE_URL!, (db) => collectStatus(db, opts.job));
        process.stdout.write(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : formatStatus(rows));
      }, { logs: 'stderr' }),
    );
}
