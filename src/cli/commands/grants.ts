import type { Command } from 'commander';
import type { Env } from '../../config/env.js';
import type { Logger } from '../../log.js';
import { runCommand } from '../context.js';
import { UsageError } from '../errors.js';

/**
 * The script makes the source user read-only (ALTER ROLE ... SET
 * default_transaction_read_only = on). Run for an admin's role, that would lock the admin
 * (or the application owning the tables) out of writing: such a user is refused, with the
 * fix. When the source cannot be reached to check, a warning says so.
 */
async function checkSourceUser(env: Env, log: Logger, jobName: string, sourceUser: string | undefined): Promise<void> {
  const { withConnection, connect } = await import('../../db/connect.js');
  const meta = await import('../../metadata/store.js');
  const { resolveConnectionString } = await import('../../config/connection.js');
  const { job, tables } = await withConnection(env.DATABASE_URL!, async (db) => {
    const job = await meta.getJobByName(db, jobName);
    return { job, tables: (await meta.listTables(db, job.id)).filter((t) => !t.disabled) };
  });
  const url = resolveConnectionString(job.sourceConnectionString, `job "${jobName}" source_connection_string`);
  const user = sourceUser ?? decodeURIComponent(new URL(url).username);
  if (!user) return;
  let src;
  try {
    src = await connect(url, 'redshift-loader grants');
  } catch (err) {
    log.warn({ job: jobName, err: (err as Error).message }, `could not check whether the source user "${user}" is a superuser or owns the tables: ${(err as Error).message}`);
    return;
  }
  try {
    const r = await src.query<{ super: boolean | null; owned: string[] }>(
      `SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = $1) AS "super",
              ARRAY(SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     JOIN unnest($2::text[], $3::text[]) AS t(s, r) ON t.s = n.nspname AND t.r = c.relname
                    WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = $1) ORDER BY 1) AS "owned"`,
      [user, tables.map((t) => t.sourceSchema), tables.map((t) => t.sourceName)],
    );
    const { super: isSuper, owned } = r.rows[0]!;
    const fix = `the script would make that role read-only (ALTER ROLE "${user.replace(/"/g, '""')}" SET default_transaction_read_only = on). Create a user for the loader and name it with --source-user NAME (then point source_connection_string at it)`;
    const tablesText = `${owned.slice(0, 5).join(', ')}${owned.length > 5 ? ` and ${owned.length - 5} more` : ''}`;
    if (sourceUser) {
      if (isSuper) throw new UsageError(`the source user "${user}" is a superuser: ${fix}`);
      if (owned.length > 0) throw new UsageError(`the source user "${user}" owns ${tablesText}: ${fix}`);
    } else {
      const who = `the source connection string of job "${jobName}" logs in as "${user}"`;
      if (isSuper) throw new UsageError(`${who}, a superuser: ${fix}`);
      if (owned.length > 0) throw new UsageError(`${who}, which owns ${tablesText}: ${fix}`);
    }
  } finally {
    await src.end().catch(() => undefined);
  }
}

export function registerGrants(program: Command): void {
  program
    .command('grants')
    .description("print the least-privilege SQL for the job's read-only source user and read-write Redshift user (nothing is run)")
    .requiredOption('--job <name>', 'the jobs.name')
    .option('--source-user <name>', 'source user name (default: the user in the source connection string; a superuser or an owner of the tables is refused)')
    .option('--destination-user <name>', 'Redshift user name (default: the user in the destination connection string)')
    .action((opts: { job: string; sourceUser?: string; destinationUser?: string }) =>
      runCommand(['DATABASE_URL'], async ({ env, log }) => {
        const { grantsForJob } = await import('../../setup/grants.js');
        await checkSourceUser(env, log, opts.job, opts.sourceUser);
        process.stdout.write(await grantsForJob(env.DATABASE_URL!, opts.job, { sourceUser: opts.sourceUser, destinationUser: opts.destinationUser }));
        return 0;
      }, { logs: 'stderr' }),
    );
}
