import type { Command } from 'commander';
import { runCommand } from '../context.js';

/**
 * `redshift-loader verify --job NAME [--table GLOB] [--repair] [--json]`: exit 0 only when
 * every table matches (with --repair: or was repaired and verified clean), 1 when rows differ
 * or a table failed, 2 on bad configuration (environment, unknown job).
 */
export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description("prove each synced table equals its source (row counts and a hash of every synced column per key range, narrowed down to rows); exits 0 only when everything matches")
    .requiredOption('--job <name>', 'the jobs.name to verify')
    .option('--table <glob>', 'only tables whose schema.table (or table) matches this shell glob')
    .option('--repair', 're-sync just the differing keys (staging through S3, one merge transaction, recorded in sync_runs), then verify them again')
    .option('--json', 'print the reports as JSON instead of text')
    .action((opts: { job: string; table?: string; repair?: boolean; json?: boolean }) =>
      runCommand(
        ['DATABASE_URL'],
        async ({ env, log }) => {
          const { verifyJob, tableOk } = await import('../../verify/run.js');
          const { formatTableReport, summarizeReport } = await import('../../verify/report.js');
          const { MetadataError } = await import('../../metadata/store.js');
          let r;
          try {
            r = await verifyJob(env.DATABASE_URL!, opts.job, { tableGlob: opts.table, repair: opts.repair }, { env, log });
          } catch (err) {
            if (err instanceof MetadataError) {
              process.stderr.write(`redshift-loader: ${err.message}\n`);
              return 2;
            }
            throw err;
          }
          if (opts.json) process.stdout.write(`${JSON.stringify({ job: r.job, ok: r.ok, tables: r.tables }, null, 2)}\n`);
          else {
            for (const t of r.tables) process.stdout.write(formatTableReport(t));
            const ok = r.tables.filter(tableOk).length;
            const failed = r.tables.filter((t) => t.status === 'failed').length;
            process.stdout.write(`verify ${r.job}: ${r.tables.length} table(s), ${ok} match, ${r.tables.length - ok - failed} differ, ${failed} failed\n`);
            for (const t of r.tables) if (!tableOk(t)) process.stderr.write(`${t.status === 'failed' ? 'FAILED' : 'DIFFERS'} ${t.table}: ${summarizeReport(t)}\n`);
          }
          if (r.tables.length === 0) {
            process.stderr.write(`redshift-loader: job "${r.job}" has no enabled table${opts.table ? ` matching ${JSON.stringify(opts.table)}` : ''} to verify\n`);
            return 2;
          }
          return r.ok ? 0 : 1;
        },
        { logs: 'stderr' },
      ),
    );
}
