import type { Command } from 'commander';
import { runCommand } from '../context.js';

/**
 * `doctor --job NAME`: one line per check on stdout (ok, WARN, FAIL, skip; a fix for each
 * FAIL and WARN), then a summary. Exit 0 when nothing failed (warnings allowed), 1 otherwise.
 */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description("check everything a job needs, one line each with the fix: metadata DB, source (version, TimeZone, SELECT, pg_read_all_stats), Redshift (privileges, slices, flavour, case sensitivity, collation), S3 (put, get, list, delete), and a COPY of the loader's own file format read back value by value")
    .requiredOption('--job <name>', 'the jobs.name to check')
    .action((opts: { job: string }) =>
      runCommand(
        ['DATABASE_URL'],
        async ({ env, log }) => {
          const { runDoctor, formatCheck, doctorSummary } = await import('../../doctor/doctor.js');
          const checks = await runDoctor({ env, jobName: opts.job, log, onCheck: (c) => process.stdout.write(`${formatCheck(c)}\n`) });
          process.stdout.write(`${doctorSummary(checks)}\n`);
          return checks.some((c) => c.status === 'fail') ? 1 : 0;
        },
        { logs: 'stderr', metadata: 'none' },
      ),
    );
}
