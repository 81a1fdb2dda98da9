import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { InvalidArgumentError, type Command } from 'commander';
import { runCommand } from '../context.js';
import { formatSyncLines } from '../sync-summary.js';

/**
 * Configuration as code and the everyday edits: apply, export, enable, disable, reset, run.
 * Exit codes as everywhere: 0 done, 1 could not (nothing changed), 2 bad input.
 */
function format(value: string): 'yaml' | 'json' {
  if (value !== 'yaml' && value !== 'json') throw new InvalidArgumentError('expected yaml or json');
  return value;
}

/** Asks on stderr, reads one line from stdin; no answer (end of input) is a no. */
function confirm(question: string): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY === true });
    let answered = false;
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(/^y(es)?$/i.test(answer.trim()));
    });
    rl.on('close', () => {
      if (!answered) resolve(false);
    });
  });
}

export function registerConfig(program: Command): void {
  program
    .command('apply')
    .description('make the jobs, tables and schedule_events rows of the jobs in FILE (YAML or JSON) match it, in one transaction; watermarks are never touched')
    .argument('<file>', 'the configuration file (see `redshift-loader export`)')
    .option('--dry-run', 'print what would change (rows added, changed, removed, per field) and write nothing')
    .option('--prune', "remove the tables and schedules of the file's jobs that the file does not list (without it they are listed as kept)")
    .action((file: string, opts: { dryRun?: boolean; prune?: boolean }) =>
      runCommand(['DATABASE_URL'], async ({ env }) => {
        const { runApply } = await import('../../apply/apply.js');
        const { timeoutsFromEnv } = await import('../../db/connect.js');
        const r = await runApply(env.DATABASE_URL!, { file, dryRun: opts.dryRun, prune: opts.prune, timeouts: timeoutsFromEnv(env) });
        process.stdout.write(r.output);
        for (const p of r.problems) process.stderr.write(`${p}\n`);
        return r.code;
      }, { logs: 'stderr' }),
    );

  program
    .command('export')
    .description('write the jobs, tables and schedule_events rows as a file that `apply` reads back with no changes')
    .option('--job <name>', 'only this job')
    .option('-o, --output <file>', 'write to this file instead of stdout (.json: JSON)')
    .option('--format <format>', 'yaml (default) or json', format)
    .action((opts: { job?: string; output?: string; format?: 'yaml' | 'json' }) =>
      runCommand(['DATABASE_URL'], async ({ env }) => {
        const { runExport } = await import('../../apply/export.js');
        const { timeoutsFromEnv } = await import('../../db/connect.js');
        const fmt = opts.format ?? (opts.output?.toLowerCase().endsWith('.json') ? 'json' : 'yaml');
        const r = await runExport(env.DATABASE_URL!, { job: opts.job, format: fmt, timeouts: timeoutsFromEnv(env) });
        for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
        if (opts.output) {
          await writeFile(opts.output, r.text);
          process.stderr.write(`wrote ${opts.output}\n`);
        } else process.stdout.write(r.text);
      }, { logs: 'stderr' }),
    );

  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    program
      .command(name)
      .description(`${name} a table of a job (tables.disabled), or with no --table the job itself (jobs.enabled)`)
      .requiredOption('--job <name>', 'the jobs.name')
      .option('--table <schema.table>', 'the source table (schema.table, or the table name when it is unique in the job)')
      .action((opts: { job: string; table?: string }) =>
        runCommand(['DATABASE_URL'], async ({ env }) => {
          const { withConnection } = await import('../../db/connect.js');
          const { setJobEnabled, setTableDisabled } = await import('../../apply/edit.js');
          process.stdout.write(
            await withConnection(env.DATABASE_URL!, (db) => (opts.table ? setTableDisabled(db, opts.job, opts.table, disabled) : setJobEnabled(db, opts.job, !disabled))),
          );
        }, { logs: 'stderr' }),
      );
  }

  program
    .command('reset')
    .description("set a table's watermark to NULL so that its next sync reads the whole table again (merged: no duplicates); shows what it will re-read and asks first")
    .requiredOption('--job <name>', 'the jobs.name')
    .requiredOption('--table <schema.table>', 'the source table (schema.table, or the table name when it is unique in the job)')
    .option('-y, --yes', 'do not ask for confirmation (scripts)')
    .action((opts: { job: string; table: string; yes?: boolean }) =>
      runCommand(['DATABASE_URL'], async ({ env }) => {
        const { withConnection } = await import('../../db/connect.js');
        const { previewReset, resetTableWatermark } = await import('../../apply/edit.js');
        return withConnection(env.DATABASE_URL!, async (db) => {
          const p = await previewReset(db, opts.job, opts.table);
          process.stdout.write(p.text);
          if (p.nothingToDo) return 0;
          const name = `${p.table.sourceSchema}.${p.table.sourceName}`;
          const busy = () => `redshift-loader: job ${p.job.name}, table ${name}: a sync is running it now (claimed by ${p.claimedBy ?? 'another run'}); nothing was reset. Try again when it has finished (redshift-loader status)\n`;
          if (p.claimedBy) {
            process.stderr.write(busy());
            return 1;
          }
          if (!opts.yes && !(await confirm(`Reset the watermark of ${name}? [y/N] `))) {
            process.stderr.write('not confirmed: nothing was reset (--yes skips the question)\n');
            return 1;
          }
          if (!(await resetTableWatermark(db, p.table.id))) {
            process.stderr.write(busy());
            return 1;
          }
          process.stdout.write(`job ${p.job.name}, table ${name}: watermark reset; the next sync reads it from the start\n`);
          return 0;
        });
      }, { logs: 'stderr' }),
    );

  program
    .command('run')
    .description("run a job now, in this process, as the worker runs it: claims the job (refused while a worker runs it), syncs every enabled table; the schedule is not moved")
    .requiredOption('--job <name>', 'the jobs.name')
    .action((opts: { job: string }) =>
      runCommand(['DATABASE_URL'], async ({ env, log }) => {
        const { runJobNow } = await import('../../scheduler/run-now.js');
        const controller = new AbortController();
        const onSignal = () => controller.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const r = await runJobNow(env.DATABASE_URL!, opts.job, { env, log, signal: controller.signal });
        if ('refused' in r) {
          process.stderr.write(`redshift-loader: ${r.refused}\n`);
          return 1;
        }
        if (r.jobDisabled) process.stderr.write(`note: job ${opts.job} is disabled (the worker does not schedule it); it ran once because you asked\n`);
        process.stderr.write(formatSyncLines(r.result));
        return r.result.ok ? 0 : 1;
      }),
    );
}
