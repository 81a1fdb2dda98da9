import { excessBlanksTrigger } from './blanks.js';
import type { CommandContext, CommandResult } from './context.js';
import { runCopy, tableColumns } from './copy.js';
import { byteCheck, CI_COLLATION, type CreateTablePlan, type TableMeta } from './ddl.js';
import { RsError } from './errors.js';
import { extraColumns, isExtra, runExtra } from './extra-commands.js';
import { CASE_SETTING, COLLATION_SETTING, ISOLATION_SETTING, type Command } from './rewrite.js';
import { ident, lit } from './sql-lexer.js';
import { alterTableMeta, recordKeys, recordTableMeta, setColumnEncoding } from './system-views.js';
import { runUnload } from './unload.js';

/** Runs a statement the double handles itself. */
export async function runCommand(ctx: CommandContext, cmd: Command): Promise<CommandResult> {
  if (isExtra(cmd)) return runExtra(ctx, cmd);
  switch (cmd.kind) {
    case 'copy':
      return runCopy(ctx, cmd);
    case 'unload':
      return runUnload(ctx, cmd);
    case 'create':
      return createTable(ctx, cmd);
    case 'addColumn': {
      await ctx.query(cmd.sql);
      if (cmd.column.encoding) await ctx.query(setColumnEncoding(cmd.tableText, cmd.column.name, cmd.column.encoding));
      if (cmd.column.keys.length) await ctx.query(recordKeys(cmd.tableText, cmd.column.keys.map((kind) => ({ kind, columns: [cmd.column.name] }))));
      await ensureExcessBlanksTrigger(ctx, cmd.tableText);
      return { tag: 'ALTER TABLE' };
    }
    case 'addKeys': {
      for (const k of cmd.keys) for (const col of k.columns) await checkColumn(ctx, cmd.tableText, col);
      await ctx.query(recordKeys(cmd.tableText, cmd.keys));
      return { tag: 'ALTER TABLE' };
    }
    case 'alterType':
      return alterColumnType(ctx, cmd.tableText, cmd.table, cmd.column, cmd.type.varcharBytes!);
    case 'alterMeta': {
      await ctx.query(`SELECT ${lit(cmd.tableText)}::regclass`);
      if (cmd.columnEncoding) await ctx.query(setColumnEncoding(cmd.tableText, cmd.columnEncoding.column, cmd.columnEncoding.encoding));
      if (Object.keys(cmd.set).length) {
        if (cmd.set.distkey) await checkColumn(ctx, cmd.tableText, cmd.set.distkey);
        for (const s of cmd.set.sortkey ?? []) await checkColumn(ctx, cmd.tableText, s);
        await ctx.query(alterTableMeta(cmd.tableText, cmd.set));
      }
      return { tag: 'ALTER TABLE' };
    }
    case 'noop':
      // validate the session state (an aborted transaction still refuses everything)
      await ctx.query('SELECT 1');
      return { tag: cmd.tag };
    case 'append':
      return appendTable(ctx, cmd.target, cmd.source, cmd.ignoreExtra, cmd.fillTarget);
    case 'truncate': {
      // Redshift: TRUNCATE commits the open transaction (first), then runs on its own.
      if (ctx.txStatus() === 'T') await ctx.query('COMMIT');
      await ctx.query(cmd.sql);
      return { tag: 'TRUNCATE TABLE' };
    }
    case 'vacuum':
      if (ctx.txStatus() !== 'I') throw new RsError('VACUUM cannot run inside a transaction block', '25001');
      return { tag: 'VACUUM' };
    case 'lock': {
      const stmt = `LOCK TABLE ${cmd.tables.join(', ')} IN ACCESS EXCLUSIVE MODE`;
      // Outside a transaction block Redshift's LOCK is a one-statement transaction.
      if (ctx.txStatus() === 'I') await atomically(ctx, stmt);
      else await ctx.query(stmt);
      return { tag: 'LOCK TABLE' };
    }
    case 'mergeRemoveDuplicates':
      return mergeRemoveDuplicates(ctx, cmd.target, cmd.source, cmd.sourceAlias, cmd.on);
    case 'setCaseSensitive': {
      // The upstream custom setting carries the value, so a ROLLBACK or SET LOCAL behaves as any SET.
      await ctx.query(cmd.value === null ? `RESET ${CASE_SETTING}` : `SET ${cmd.local ? 'LOCAL ' : ''}${CASE_SETTING} = ${lit(cmd.value ? 'on' : 'off')}`);
      await readCaseSetting(ctx);
      return { tag: cmd.value === null ? 'RESET' : 'SET' };
    }
    case 'showCaseSensitive': {
      const on = await readCaseSetting(ctx);
      return { tag: 'SHOW', rows: { columns: ['enable_case_sensitive_identifier'], values: [[on ? 'on' : 'off']] } };
    }
    case 'createDatabase': {
      if (ctx.txStatus() !== 'I') throw new RsError('CREATE DATABASE cannot run inside a transaction block', '25001');
      const db = ident(cmd.name);
      await ctx.query(`CREATE DATABASE ${db}${cmd.owner ? ` OWNER ${ident(cmd.owner)}` : ''}${cmd.connectionLimit ? ` CONNECTION LIMIT ${cmd.connectionLimit}` : ''}`);
      // Database-level settings reach every session of that database (the double reads them at session start).
      if (cmd.caseInsensitive) await ctx.query(`ALTER DATABASE ${db} SET ${COLLATION_SETTING} = 'case_insensitive'`);
      if (cmd.isolation) await ctx.query(`ALTER DATABASE ${db} SET ${ISOLATION_SETTING} = ${lit(cmd.isolation)}`);
      return { tag: 'CREATE DATABASE' };
    }
    case 'alterDatabaseIsolation':
      // new sessions of that database pick it up (the double reads it when a session starts)
      await ctx.query(`ALTER DATABASE ${ident(cmd.name)} SET ${ISOLATION_SETTING} = ${lit(cmd.isolation)}`);
      return { tag: 'ALTER DATABASE' };
    case 'userCaseSensitive': {
      // Stored as Postgres stores role settings; the double reads it when that user's session starts.
      const role = ident(cmd.user);
      await ctx.query(cmd.value === null ? `ALTER ROLE ${role} RESET ${CASE_SETTING}` : `ALTER ROLE ${role} SET ${CASE_SETTING} = ${lit(cmd.value ? 'on' : 'off')}`);
      return { tag: 'ALTER USER' };
    }
  }
}

/** Reads the session's enable_case_sensitive_identifier from the upstream setting into ctx.values. */
export async function readCaseSetting(ctx: Pick<CommandContext, 'query' | 'values'>): Promise<boolean> {
  const r = await ctx.query(`SELECT current_setting(${lit(CASE_SETTING)}, true)`);
  const v = r.rows[0]?.[0] ?? '';
  ctx.values.caseSensitiveIdentifiers = v === 'on' ? true : v === 'off' ? false : ctx.values.caseSensitiveIdentifiersDefault;
  return ctx.values.caseSensitiveIdentifiers;
}

/** The user's default from ALTER USER ... SET enable_case_sensitive_identifier (any database or this one). */
export function userCaseDefaultSql(user: string): string {
  return `SELECT split_part(s.setting, '=', 2) FROM pg_db_role_setting d JOIN pg_roles r ON r.oid = d.setrole, unnest(d.setconfig) AS s(setting)
WHERE r.rolname = ${lit(user)} AND d.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
  AND s.setting LIKE ${lit(`${CASE_SETTING}=%`)} ORDER BY d.setdatabase DESC LIMIT 1`;
}

/** The (text) columns a handled statement returns, known before it runs (for Describe), or null. */
export function commandColumns(cmd: Command): string[] | null {
  if (cmd.kind === 'showCaseSensitive') return ['enable_case_sensitive_identifier'];
  return isExtra(cmd) ? extraColumns(cmd) : null;
}

async function checkColumn(ctx: CommandContext, tableText: string, column: string): Promise<void> {
  const r = await ctx.query(`SELECT 1 FROM pg_attribute WHERE attrelid = ${lit(tableText)}::regclass AND attname = ${lit(column)} AND attnum > 0 AND NOT attisdropped`);
  if (!r.rows.length) throw new RsError(`column "${column}" does not exist`, '42703');
}

async function createTable(ctx: CommandContext, plan: CreateTablePlan): Promise<CommandResult> {
  const existed = plan.sql.includes('IF NOT EXISTS') ? (await ctx.query(`SELECT to_regclass(${lit(plan.tableText)}) IS NOT NULL`)).rows[0]![0] === 't' : false;
  await ctx.query(plan.sql);
  if (existed) return { tag: plan.ctas ? 'SELECT' : 'CREATE TABLE' };
  if (plan.ctas) await addByteChecks(ctx, plan.tableText);
  const inherited = plan.like ? await parentMeta(ctx, plan.like) : null;
  if (inherited) for (const s of recordTableMeta(plan.tableText, mergeMeta(inherited, plan.meta), null)) await ctx.query(s);
  else for (const s of recordTableMeta(plan.tableText, plan.meta, plan.like)) await ctx.query(s);
  await ensureExcessBlanksTrigger(ctx, plan.tableText);
  return { tag: plan.ctas ? 'SELECT' : 'CREATE TABLE' };
}

/**
 * The LIKE parent's dist/sort/encode metadata, read through the side connection: a read of the
 * double's metadata tables inside the client's serializable transaction would make concurrent
 * loads (each creating its staging table LIKE its target) conflict with each other, which
 * Redshift does not do. Null when the side connection cannot see the parent (created in the
 * client's still open transaction): then the client's session copies it.
 */
async function parentMeta(ctx: CommandContext, like: string): Promise<TableMeta | null> {
  const oid = Number((await ctx.query(`SELECT ${lit(like)}::regclass::oid`)).rows[0]![0]);
  const [t] = await ctx.sideQuery(
    `SELECT EXISTS (SELECT 1 FROM pg_class WHERE oid = $1) AS visible, m.diststyle, m.sortkey_type, m.backup,
            (SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum = m.distkey) AS distkey,
            ARRAY(SELECT a.attname FROM unnest(m.sortkey) WITH ORDINALITY u(n, o) JOIN pg_attribute a ON a.attrelid = $1 AND a.attnum = u.n ORDER BY u.o)::text[] AS sortkey
     FROM (SELECT 1) one LEFT JOIN redshift_double.table_meta m ON m.reloid = $1`,
    [oid],
  );
  if (!t?.visible) return null;
  const enc = await ctx.sideQuery(
    `SELECT a.attname, m.encoding FROM redshift_double.column_meta m JOIN pg_attribute a ON a.attrelid = m.reloid AND a.attnum = m.attnum WHERE m.reloid = $1`,
    [oid],
  );
  return {
    diststyle: (t.diststyle as TableMeta['diststyle']) ?? null,
    distkey: (t.distkey as string | null) ?? null,
    sortkey: (t.sortkey as string[] | null) ?? [],
    sortkeyType: (t.sortkey_type as TableMeta['sortkeyType']) ?? null,
    backup: (t.backup as boolean | null) ?? null,
    encodings: new Map(enc.map((r) => [r.attname as string, r.encoding as string])),
    keys: [], // LIKE does not inherit key constraints
  };
}

/** The parent's metadata with the new table's own attributes winning. */
function mergeMeta(parent: TableMeta, own: TableMeta): TableMeta {
  return {
    diststyle: own.diststyle ?? parent.diststyle,
    distkey: own.diststyle !== null ? own.distkey : parent.distkey,
    sortkey: own.sortkeyType !== null ? own.sortkey : parent.sortkey,
    sortkeyType: own.sortkeyType ?? parent.sortkeyType,
    backup: own.backup ?? parent.backup,
    encodings: new Map([...parent.encodings, ...own.encodings]),
    keys: own.keys,
  };
}

/** Tables with VARCHAR columns get the trigger that cuts blanks beyond the byte limit (blanks.ts). */
async function ensureExcessBlanksTrigger(ctx: CommandContext, tableText: string): Promise<void> {
  const r = await ctx.query(`SELECT 1 FROM pg_attribute WHERE attrelid = ${lit(tableText)}::regclass AND attnum > 0 AND NOT attisdropped AND atttypid = 'pg_catalog.varchar'::regtype LIMIT 1`);
  if (r.rows.length) await ctx.query(excessBlanksTrigger(tableText));
}

/**
 * CTAS: text columns become VARCHAR(256) and every VARCHAR gets its byte CHECK; in a
 * CASE_INSENSITIVE database, character columns with the default collation take the database's.
 */
async function addByteChecks(ctx: CommandContext, tableText: string): Promise<void> {
  const { columns } = await tableColumns(ctx, tableText);
  if (ctx.values.databaseCaseInsensitive) {
    const r = await ctx.query(
      `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = ${lit(tableText)}::regclass AND attnum > 0 AND NOT attisdropped
         AND atttypid IN ('varchar'::regtype, 'bpchar'::regtype, 'text'::regtype) AND attcollation = 'pg_catalog.default'::regcollation`,
    );
    for (const [name, type] of r.rows) {
      const t = type === 'text' ? 'varchar(256)' : type!;
      await ctx.query(`ALTER TABLE ${tableText} ALTER COLUMN ${ident(name!)} TYPE ${t} COLLATE ${CI_COLLATION}`);
    }
  }
  for (const col of columns) {
    if (col.typname === 'text') {
      await ctx.query(`ALTER TABLE ${tableText} ALTER COLUMN ${ident(col.name)} TYPE varchar(256)`);
      col.typname = 'varchar';
      col.length = 256;
    }
    if (col.typname === 'varchar' && col.length) await ctx.query(`ALTER TABLE ${tableText} ADD${byteCheck(col.name, { pg: '', varcharBytes: col.length })}`);
    if (col.typname === 'bpchar' && col.length) await ctx.query(`ALTER TABLE ${tableText} ADD${byteCheck(col.name, { pg: '', charLength: col.length })}`);
  }
}

/** Encodings whose columns ALTER COLUMN TYPE refuses (r_ALTER_TABLE.html). */
const FIXED_ENCODINGS = new Set(['bytedict', 'runlength', 'text255', 'text32k']);

/**
 * ALTER COLUMN ... TYPE VARCHAR(n): Redshift only widens VARCHARs, never inside a
 * transaction block, and not on columns with a DEFAULT, BYTEDICT/RUNLENGTH/TEXT255/TEXT32K
 * encodings or key constraints (r_ALTER_TABLE.html).
 */
async function alterColumnType(ctx: CommandContext, tableText: string, table: string, column: string, bytes: number): Promise<CommandResult> {
  if (ctx.txStatus() !== 'I') throw new RsError('ALTER TABLE ALTER COLUMN cannot run inside a transaction block', '25001');
  const { columns } = await tableColumns(ctx, tableText);
  const col = columns.find((c) => c.name === column);
  if (!col) throw new RsError(`column "${column}" does not exist`, '42703');
  if (col.typname !== 'varchar') throw new RsError(`cannot alter type of column "${column}": only VARCHAR columns can be altered`, '0A000');
  const refuse = (why: string) => new RsError(`cannot alter column "${column}" of relation "${table}": ${why} can't be altered`, '0A000');
  if (col.hasDefault) throw refuse('columns with a default value');
  const attr = `(SELECT attnum FROM pg_attribute WHERE attrelid = ${lit(tableText)}::regclass AND attname = ${lit(column)})`;
  const meta = await ctx.query(
    `SELECT (SELECT encoding FROM redshift_double.column_meta WHERE reloid = ${lit(tableText)}::regclass AND attnum = ${attr}),
            EXISTS (SELECT 1 FROM redshift_double.key_columns WHERE reloid = ${lit(tableText)}::regclass AND attnum = ${attr})`,
  );
  const [encoding, keyed] = meta.rows[0]!;
  if (encoding && FIXED_ENCODINGS.has(encoding)) throw refuse(`columns with ${encoding.toUpperCase()} encoding`);
  if (keyed === 't') throw refuse('columns with UNIQUE, PRIMARY KEY or FOREIGN KEY constraints');
  if (col.length !== null && bytes < col.length) throw new RsError(`cannot alter column "${column}" of relation, target column size ${bytes} should be greater or equal to current maximum column size ${col.length}`, 'XX000');
  const cons = await ctx.query(
    `SELECT conname FROM pg_constraint WHERE conrelid = ${lit(tableText)}::regclass AND conname LIKE 'rsdbl\\_%'
       AND conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = ${lit(tableText)}::regclass AND attname = ${lit(column)})]::smallint[]`,
  );
  const drops = cons.rows.map((r) => `DROP CONSTRAINT ${ident(r[0]!)}`);
  await ctx.query(`ALTER TABLE ${tableText} ${[...drops, `ALTER COLUMN ${ident(column)} TYPE varchar(${bytes})`, `ADD${byteCheck(column, { pg: '', varcharBytes: bytes })}`].join(', ')}`);
  return { tag: 'ALTER TABLE' };
}

/** ALTER TABLE target APPEND FROM source: moves all rows, outside a transaction block only. */
async function appendTable(ctx: CommandContext, target: string, source: string, ignoreExtra: boolean, fillTarget: boolean): Promise<CommandResult> {
  if (ctx.txStatus() !== 'I') throw new RsError('ALTER TABLE APPEND cannot run inside a transaction block', '25001');
  const t = await tableColumns(ctx, target);
  const s = await tableColumns(ctx, source);
  const sNames = new Map(s.columns.map((c) => [c.name, c]));
  const tNames = new Set(t.columns.map((c) => c.name));
  const cols: string[] = [];
  for (const c of t.columns) {
    const sc = sNames.get(c.name);
    if (!sc) {
      if (!fillTarget) throw new RsError(`Target table column "${c.name}" does not exist in the source table (use FILLTARGET)`, 'XX000');
      continue;
    }
    if (sc.typeText !== c.typeText) throw new RsError(`Columns don't match: "${c.name}" is ${c.typeText} in the target and ${sc.typeText} in the source`, 'XX000');
    cols.push(ident(c.name));
  }
  const extra = s.columns.filter((c) => !tNames.has(c.name));
  if (extra.length && !ignoreExtra) throw new RsError(`Source table column "${extra[0]!.name}" does not exist in the target table (use IGNOREEXTRA)`, 'XX000');
  await atomically(ctx, `INSERT INTO ${target} (${cols.join(', ')}) OVERRIDING SYSTEM VALUE SELECT ${cols.join(', ')} FROM ${source}; DELETE FROM ${source}`);
  return { tag: 'ALTER TABLE APPEND' };
}

/** MERGE ... REMOVE DUPLICATES: matched target rows are replaced by the source row; unmatched source rows inserted. */
async function mergeRemoveDuplicates(ctx: CommandContext, target: string, source: string, alias: string | null, on: string): Promise<CommandResult> {
  const t = await tableColumns(ctx, target);
  const s = await tableColumns(ctx, source);
  if (t.columns.length !== s.columns.length) throw new RsError('MERGE REMOVE DUPLICATES requires the source and target tables to have the same number of columns', 'XX000');
  const src = alias ? `${source} AS ${ident(alias)}` : source;
  const sql = `DELETE FROM ${target} USING ${src} WHERE ${on}; INSERT INTO ${target} SELECT * FROM ${source}`;
  if (ctx.txStatus() === 'I') await atomically(ctx, sql);
  else await ctx.query(sql);
  return { tag: 'MERGE' };
}

/** Runs statements as one transaction from an idle session; leaves the session idle on error. */
async function atomically(ctx: CommandContext, sql: string): Promise<void> {
  try {
    await ctx.query(`BEGIN; ${sql}; COMMIT`);
  } catch (e) {
    if (ctx.txStatus() !== 'I') await ctx.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
