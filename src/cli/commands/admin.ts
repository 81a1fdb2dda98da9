import { existsSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Env } from '../../config/env.js';
import type { Logger } from '../../log.js';
import { runCommand } from '../context.js';
import { UsageError } from '../errors.js';
import type { Batch, ExecuteResult } from '../../admin/batch.js';
import type { Redshift } from '../../admin/redshift.js';

/**
 * The Redshift admin toolkit's commands. Each prints the SQL it would run; with --execute
 * it runs it too (one transaction, rolled back on any error).
 */
interface ConnOpts {
  url?: string;
  iamRole?: string;
}
interface ExecOpts extends ConnOpts {
  execute?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];
const collectRaw = (v: string, prev: string[] = []) => [...prev, v];
const positive = (_name: string) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number');
  return n;
};
/** A password length: Redshift takes 8 to 64 characters. */
const passwordLength = (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < 8 || n > 64) throw new InvalidArgumentError('must be a whole number from 8 to 64');
  return n;
};

/** A given --password must meet Redshift's rules (or be an md5/sha256 hash); the message never repeats it. */
async function checkGivenPassword(option: string, password: string | undefined): Promise<void> {
  if (password === undefined || /^md5[0-9a-f]{32}$/.test(password) || /^sha256\|/.test(password)) return;
  const { checkPassword } = await import('../../admin/users.js');
  if (checkPassword(password) !== null) {
    throw new UsageError(
      `${option} is not a valid Redshift password: it must be 8 to 64 characters with an upper-case letter, a lower-case letter and a digit, and none of ' " \\ / @ or space (or use --random-password)`,
    );
  }
}

function withConnection(cmd: Command, execute = true): Command {
  cmd.option('--url <url>', 'Redshift URL postgres://user:password@host:5439/db (default: env REDSHIFT_URL, else PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)');
  if (execute) cmd.option('--execute', 'run the SQL (one transaction, rolled back on any error) instead of only printing it');
  return cmd;
}

async function open(env: Env, log: Logger, o: ConnOpts): Promise<Redshift> {
  const { Redshift } = await import('../../admin/redshift.js');
  return new Redshift({ url: o.url ?? env.REDSHIFT_URL, env: process.env, log, iamRole: o.iamRole });
}

async function print(batch: Batch, executed: ExecuteResult | null): Promise<void> {
  const { formatBatch } = await import('../../admin/batch.js');
  process.stdout.write(formatBatch(batch));
  if (executed) {
    const outside = executed.outsideTransaction.length;
    process.stderr.write(
      `executed: ${executed.inTransaction} statement(s) in one transaction, committed` +
        (outside ? `; ${outside} outside a transaction block, after it` : '') +
        '\n',
    );
  }
}

/** Admin commands print SQL (or passwords, names) on stdout: their logs go to stderr. */
const STDERR_LOGS = { logs: 'stderr' } as const;

/** Runs `fn` with a Redshift handle, always closing it. */
function action<A extends unknown[]>(fn: (rs: Redshift, ctx: { env: Env; log: Logger }, ...args: A) => Promise<number | void>, conn: (...args: A) => ConnOpts) {
  return (...args: A) =>
    runCommand([], async (ctx) => {
      const rs = await open(ctx.env, ctx.log, conn(...args));
      try {
        return await fn(rs, ctx, ...args);
      } finally {
        await rs.close();
      }
    }, STDERR_LOGS);
}

function parseSet(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    if (i <= 0) throw new UsageError(`--set takes parameter=value, got ${JSON.stringify(item)}`);
    out[item.slice(0, i).trim()] = item.slice(i + 1).trim();
  }
  return out;
}

async function passwordFrom(o: { password?: string; randomPassword?: number | boolean; disablePassword?: boolean; option?: string }): Promise<string | false | undefined> {
  if ([o.password !== undefined, o.randomPassword !== undefined, o.disablePassword].filter(Boolean).length > 1) throw new UsageError('use one of --password, --random-password, --disable-password');
  if (o.disablePassword) return false;
  if (o.randomPassword !== undefined) {
    const { randomPassword } = await import('../../admin/users.js');
    return randomPassword(typeof o.randomPassword === 'number' ? o.randomPassword : 24);
  }
  await checkGivenPassword(o.option ?? '--password', o.password);
  return o.password;
}

export function registerAdmin(program: Command): void {
  // Usage errors are one line (program.ts), not followed by the whole help.
  const help = (c: Command) => c;

  withConnection(help(program.command('ddl')), false)
    .description('print CREATE TABLE (types, NOT NULL, defaults, ENCODE, DISTSTYLE/DISTKEY, SORTKEY), owner and GRANTs of a table, from the catalog')
    .argument('<table>', '[schema.]table (default schema public)')
    .option('--as <table>', 'write the DDL for another name')
    .action(
      action(async (rs, _ctx, table: string, o: ConnOpts & { as?: string }) => {
        await print(await rs.tableDefinition(table, { as: o.as }), null);
      }, (_t, o) => o),
    );

  withConnection(help(program.command('view-ddl')), false)
    .description('print CREATE OR REPLACE VIEW, owner and GRANTs of a view')
    .argument('<view>', '[schema.]view')
    .action(
      action(async (rs, _ctx, view: string, _o: ConnOpts) => {
        await print(await rs.viewDefinition(view), null);
      }, (_v, o: ConnOpts) => o),
    );

  withConnection(help(program.command('privileges')), false)
    .description('print the owner and GRANTs of a table or view, as SQL that restores them')
    .argument('<relation>', '[schema.]name')
    .action(
      action(async (rs, _ctx, rel: string, _o: ConnOpts) => {
        await print((await rs.privileges(rel)).batch, null);
      }, (_r, o: ConnOpts) => o),
    );

  withConnection(help(program.command('deep-copy')))
    .description('rebuild a table (LOCK, rename, recreate from its DDL, INSERT ... SELECT, drop the old one, ANALYZE), keeping owner and grants; optionally new keys or encodings, or without duplicates')
    .argument('<table>', '[schema.]table')
    .option('--distkey <column>', 'new DISTKEY (DISTSTYLE KEY)')
    .addOption(new Option('--diststyle <style>', 'new DISTSTYLE').choices(['AUTO', 'EVEN', 'ALL', 'KEY']))
    .option('--sortkey <columns>', 'new compound SORTKEY (comma-separated)', collect)
    .option('--interleaved', 'make the sort key INTERLEAVED')
    .option('--encode <column=encoding>', 'new ENCODE for a column (repeatable)', collectRaw)
    .option('--distinct', 'drop rows that are identical in every column')
    .option('--dedupe-by <columns>', 'keep one row per value of these columns (comma-separated); needs --order-by', collect)
    .option('--order-by <expr>', 'with --dedupe-by: which row of each group is kept (the first), e.g. "updated_at DESC"')
    .option('--analyze-compression', "apply the encodings ANALYZE COMPRESSION suggests (runs ANALYZE COMPRESSION while planning)")
    .option('--cascade', 'DROP the old table with CASCADE (drops views that depend on it)')
    .action(
      action(
        async (rs, _ctx, table: string, o: ExecOpts & { distkey?: string; diststyle?: 'AUTO' | 'EVEN' | 'ALL' | 'KEY'; sortkey?: string[]; interleaved?: boolean; encode?: string[]; distinct?: boolean; dedupeBy?: string[]; orderBy?: string; analyzeCompression?: boolean; cascade?: boolean }) => {
          const r = await rs.deepCopy(table, {
            distkey: o.distkey,
            diststyle: o.diststyle,
            sortkey: o.sortkey,
            sortkeyType: o.interleaved ? 'INTERLEAVED' : undefined,
            encodings: o.encode ? parseSet(o.encode) : undefined,
            distinct: o.distinct,
            dedupeBy: o.dedupeBy,
            orderBy: o.orderBy,
            analyzeCompression: o.analyzeCompression,
            cascade: o.cascade,
            execute: o.execute,
          });
          await print(r.batch, r.executed);
        },
        (_t, o) => o,
      ),
    );

  help(program.command('random-password'))
    .description("print a random password that meets Redshift's rules (upper, lower, digit), from a CSPRNG; URL-safe (letters, digits, - . _ ~) unless --all-symbols")
    .option('--length <n>', 'length, 8 to 64', passwordLength, 24)
    .option('--all-symbols', "draw from every printable character Redshift allows (adds ! # $ % & ( ) * + , : ; < = > ? [ ] ^ ` { | }, which must be percent-encoded in a connection URL)")
    .action((o: { length: number; allSymbols?: boolean }) =>
      runCommand([], async () => {
        const { randomPassword } = await import('../../admin/users.js');
        process.stdout.write(`${randomPassword(o.length, { alphabet: o.allSymbols ? 'printable' : 'url-safe' })}\n`);
      }, STDERR_LOGS),
    );

  withConnection(help(program.command('create-user')))
    .description('CREATE USER with a password (given, random, or disabled), validity, CREATEDB/CREATEUSER, groups, connection limit and session parameters')
    .argument('<name>', 'user name')
    .option('--password <password>', 'the password (else use --random-password or --disable-password)')
    .option('--random-password [length]', 'generate one, URL-safe (printed in the SQL)', passwordLength)
    .option('--disable-password', 'PASSWORD DISABLE (IAM authentication only)')
    .option('--valid-until <timestamp>', "VALID UNTIL, e.g. '2030-01-01'")
    .option('--createdb', 'may create databases')
    .option('--createuser', 'superuser (CREATEUSER)')
    .option('--in-group <groups>', 'groups to join (comma-separated, repeatable)', collect)
    .option('--connection-limit <n>', 'CONNECTION LIMIT', positive('--connection-limit'))
    .option('--set <param=value>', 'session parameter default, e.g. wlm_query_slot_count=3 (repeatable)', collectRaw)
    .action(
      action(
        async (rs, _ctx, name: string, o: ExecOpts & { password?: string; randomPassword?: number | boolean; disablePassword?: boolean; validUntil?: string; createdb?: boolean; createuser?: boolean; inGroup?: string[]; connectionLimit?: number; set?: string[] }) => {
          const password = await passwordFrom(o);
          if (password === undefined) throw new UsageError('create-user needs --password, --random-password or --disable-password');
          const r = await rs.createUser(name, { password, validUntil: o.validUntil, createdb: o.createdb, createuser: o.createuser, groups: o.inGroup, connectionLimit: o.connectionLimit, set: parseSet(o.set), execute: o.execute });
          await print(r.batch, r.executed);
        },
        (_n, o) => o,
      ),
    );

  withConnection(help(program.command('alter-user')))
    .description('ALTER USER: password, validity, CREATEDB/CREATEUSER, session parameters, groups, rename')
    .argument('<name>', 'user name')
    .option('--password <password>', 'new password')
    .option('--random-password [length]', 'generate a new one, URL-safe (printed in the SQL)', passwordLength)
    .option('--disable-password', 'PASSWORD DISABLE')
    .option('--valid-until <timestamp>', "VALID UNTIL ('infinity' for no expiry)")
    .option('--createdb', 'CREATEDB')
    .option('--no-createdb', 'NOCREATEDB')
    .option('--createuser', 'CREATEUSER (superuser)')
    .option('--no-createuser', 'NOCREATEUSER')
    .option('--connection-limit <n>', 'CONNECTION LIMIT', positive('--connection-limit'))
    .option('--set <param=value>', 'set a session parameter default, e.g. wlm_query_slot_count=2 (repeatable)', collectRaw)
    .option('--reset <param>', 'reset a session parameter (repeatable)', collectRaw)
    .option('--add-group <groups>', 'ALTER GROUP ... ADD USER (comma-separated, repeatable)', collect)
    .option('--remove-group <groups>', 'ALTER GROUP ... DROP USER (comma-separated, repeatable)', collect)
    .option('--rename-to <name>', 'RENAME TO (first; Redshift clears the password on a rename: give --password too, it is set on the new name)')
    .action(
      action(
        async (rs, _ctx, name: string, o: ExecOpts & { password?: string; randomPassword?: number | boolean; disablePassword?: boolean; validUntil?: string; createdb?: boolean; createuser?: boolean; connectionLimit?: number; set?: string[]; reset?: string[]; addGroup?: string[]; removeGroup?: string[]; renameTo?: string }, cmd: Command) => {
          const src = (k: string) => cmd.getOptionValueSource(k);
          const set: Record<string, string | null> = parseSet(o.set);
          for (const p of o.reset ?? []) set[p] = null;
          const r = await rs.alterUser(name, {
            password: await passwordFrom(o),
            validUntil: o.validUntil,
            createdb: src('createdb') === 'cli' ? o.createdb : undefined,
            createuser: src('createuser') === 'cli' ? o.createuser : undefined,
            connectionLimit: o.connectionLimit,
            set,
            addGroups: o.addGroup,
            removeGroups: o.removeGroup,
            renameTo: o.renameTo,
            execute: o.execute,
          });
          await print(r.batch, r.executed);
        },
        (_n, o) => o,
      ),
    );

  withConnection(help(program.command('init-warehouse')))
    .description('set up a warehouse: an ETL group (read-write), a readers group, the owner/ETL user, one schema per source, grants and default privileges')
    .requiredOption('--schema <names>', 'one schema per source system (comma-separated, repeatable)', collect)
    .requiredOption('--etl-user <name>', 'the owner/ETL user (created when a password option is given, else must exist)')
    .option('--etl-password <password>', 'create the ETL user with this password')
    .option('--random-password [length]', 'create the ETL user with a random URL-safe password (printed in the SQL)', passwordLength)
    .option('--etl-group <name>', 'read-write group', 'etl')
    .option('--readers-group <name>', 'read-only group', 'readers')
    .option('--reader <users>', 'existing users to add to the readers group (comma-separated, repeatable)', collect)
    .action(
      action(
        async (rs, _ctx, o: ExecOpts & { schema: string[]; etlUser: string; etlPassword?: string; randomPassword?: number | boolean; etlGroup: string; readersGroup: string; reader?: string[] }) => {
          const pw = await passwordFrom({ password: o.etlPassword, randomPassword: o.randomPassword, option: '--etl-password' });
          const r = await rs.initWarehouse({ schemas: o.schema, etlUser: o.etlUser, etlPassword: pw === false ? undefined : pw, etlGroup: o.etlGroup, readersGroup: o.readersGroup, readers: o.reader, execute: o.execute });
          await print(r.batch, r.executed);
        },
        (o) => o,
      ),
    );

  withConnection(help(program.command('unload')))
    .description('UNLOAD a query or a table to S3 (MANIFEST GZIP ALLOWOVERWRITE by default; PARALLEL OFF for DISTSTYLE ALL tables)')
    .argument('<query-or-table>', 'a SELECT/WITH query, or [schema.]table')
    .requiredOption('--to <s3url>', 's3://bucket/prefix/ of the files')
    .addOption(new Option('--format <format>', "text: '|'-delimited, NULL as \\N, ESCAPE (reads back with COPY ... DELIMITER '|' NULL AS '\\\\N' ESCAPE)").choices(['text', 'csv', 'json']).default('text'))
    .option('--no-manifest', 'no manifest file')
    .option('--no-gzip', 'uncompressed files')
    .option('--no-allow-overwrite', 'fail when files exist at the prefix')
    .addOption(new Option('--parallel <on|off>', 'PARALLEL (default: off for DISTSTYLE ALL tables, else on)').choices(['on', 'off']))
    .option('--max-file-size <mb>', 'MAXFILESIZE in MB', positive('--max-file-size'))
    .option('--iam-role <arn>', 'IAM role Redshift uses to write S3 (default: env REDSHIFT_IAM_ROLE, else AWS access keys as CREDENTIALS)')
    .action(
      action(
        async (rs, _ctx, q: string, o: ExecOpts & { to: string; format: 'text' | 'csv' | 'json'; manifest: boolean; gzip: boolean; allowOverwrite: boolean; parallel?: 'on' | 'off'; maxFileSize?: number }) => {
          const r = await rs.unload(q, { to: o.to, format: o.format, manifest: o.manifest, gzip: o.gzip, allowOverwrite: o.allowOverwrite, parallel: o.parallel === undefined ? undefined : o.parallel === 'on', maxFileSizeMb: o.maxFileSize, region: undefined, execute: o.execute });
          await print(r.batch, r.executed);
        },
        (_q, o) => o,
      ),
    );

  withConnection(help(program.command('copy-json')))
    .description("load JSON lines into a table: one gzip file per slice, a jsonpaths file (the table's columns in order, or the keys alphabetically when the table does not exist yet), COPY ... FORMAT AS JSON GZIP TIMEFORMAT 'auto'; S3 and temp files are deleted afterwards")
    .argument('<file>', 'a file of JSON objects, one per line, or - for stdin')
    .requiredOption('--table <table>', '[schema.]table to load')
    .option('--slices <n>', 'files to split into (default env REDSHIFT_SLICES)', positive('--slices'))
    .option('--bucket <bucket>', 'S3 bucket (default env S3_BUCKET)')
    .option('--s3-prefix <prefix>', 'S3 folder for the files (default redshift-loader/admin/copy-json/<table>-<random>)')
    .option('--before <sql>', 'a statement run first, in the same transaction (repeatable), e.g. a CREATE TABLE', collectRaw)
    .option('--iam-role <arn>', 'IAM role Redshift uses to read S3 (default: env REDSHIFT_IAM_ROLE, else AWS access keys as CREDENTIALS)')
    .action(
      action(
        async (rs, _ctx, file: string, o: ExecOpts & { table: string; slices?: number; bucket?: string; s3Prefix?: string; before?: string[] }) => {
          if (file !== '-' && !existsSync(file)) throw new UsageError(`cannot read ${file}: no such file (give a file of JSON lines, or - for stdin)`);
          const r = await rs.copyJson(file, o.table, { slices: o.slices, bucket: o.bucket, s3Prefix: o.s3Prefix, before: o.before, execute: o.execute });
          await print(r.batch, r.executed);
          process.stderr.write(`${r.rows} row(s) in ${r.files} file(s); jsonpaths: ${JSON.stringify(r.jsonpaths)}${r.tableExisted ? '' : ' (table not found: keys in alphabetical order)'}\n`);
        },
        (_f, o) => o,
      ),
    );

  withConnection(help(program.command('copy-table')))
    .description("copy a Postgres table or query into an existing Redshift table through S3 (the sync engine's extract and COPY), optionally with a statement in the same transaction")
    .requiredOption('--source-url <url>', 'the source Postgres URL')
    .option('--table <table>', 'source [schema.]table')
    .option('--query <sql>', 'source query (instead of --table)')
    .requiredOption('--to <table>', 'target [schema.]table in Redshift')
    .option('--statement <sql>', 'run first, in the same transaction as the COPYs (it commits with the final COPY), e.g. a DELETE of the rows being replaced')
    .option('--max-manifest-keys <n>', 'at most this many files per manifest: one COPY per manifest', positive('--max-manifest-keys'))
    .option('--rows-per-file <n>', 'rows per S3 file (default env IMPORT_CHUNK_SIZE)', positive('--rows-per-file'))
    .option('--bucket <bucket>', 'S3 bucket (default env S3_BUCKET)')
    .option('--s3-prefix <prefix>', 'S3 folder for the files (default redshift-loader/admin/copy-table/<table>-<random>)')
    .option('--iam-role <arn>', 'IAM role Redshift uses to read S3 (default: env REDSHIFT_IAM_ROLE, else AWS access keys as CREDENTIALS)')
    .action(
      action(
        async (rs, _ctx, o: ExecOpts & { sourceUrl: string; table?: string; query?: string; to: string; statement?: string; maxManifestKeys?: number; rowsPerFile?: number; bucket?: string; s3Prefix?: string }) => {
          if ((o.table === undefined) === (o.query === undefined)) throw new UsageError('copy-table needs exactly one of --table and --query');
          const r = await rs.copyTable({
            sourceUrl: o.sourceUrl,
            source: o.table !== undefined ? { table: o.table } : { query: o.query! },
            to: o.to,
            statement: o.statement,
            maxManifestKeys: o.maxManifestKeys,
            rowsPerFile: o.rowsPerFile,
            bucket: o.bucket,
            s3Prefix: o.s3Prefix,
            execute: o.execute,
          });
          await print(r.batch, r.executed);
          if (r.executed) process.stderr.write(`${r.rows} row(s) in ${r.files} file(s), ${r.manifests} manifest(s)\n`);
          else process.stderr.write(`(the files and manifests are written by --execute; one COPY per manifest${o.maxManifestKeys ? ` of at most ${o.maxManifestKeys} files` : ''})\n`);
        },
        (o) => o,
      ),
    );

  withConnection(help(program.command('table-exists')), false)
    .description('print true or false; exit status 0 when the table exists, 1 when it does not, 2 on errors')
    .argument('<table>', '[schema.]table')
    .action((table: string, o: ConnOpts) =>
      runCommand([], async ({ env, log }) => {
        const rs = await open(env, log, o);
        try {
          const exists = await rs.tableExists(table);
          process.stdout.write(`${exists}\n`);
          return exists ? 0 : 1;
        } catch (err) {
          process.stderr.write(`redshift-loader: ${(err as Error).message}\n`);
          return 2;
        } finally {
          await rs.close();
        }
      }, STDERR_LOGS),
    );

  withConnection(help(program.command('tables')), false)
    .description('list tables (schema.table), of one schema or all')
    .argument('[schema]', 'only this schema')
    .action(
      action(async (rs, _ctx, schema: string | undefined, _o: ConnOpts) => {
        for (const t of await rs.tables(schema)) process.stdout.write(`${t.schema}.${t.name}\n`);
      }, (_s, o: ConnOpts) => o),
    );
}
