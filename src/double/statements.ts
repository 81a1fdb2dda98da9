import type { CommandContext, CommandResult } from './context.js';
import { runCopy, tableColumns } from './copy.js';
import { byteCheck, type CreateTablePlan } from './ddl.js';
import { RsError } from './errors.js';
import { extraColumns, isExtra, runExtra } from './extra-commands.js';
import type { Command } from './rewrite.js';
import { ident, lit } from './sql-lexer.js';
import { alterTableMeta, recordTableMeta, setColumnEncoding } from './system-views.js';
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
      return { tag: 'ALTER TABLE' };
    }
    case 'alterType':
      return alterColumnType(ctx, cmd.tableText, cmd.column, cmd.type.varcharBytes!);
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
  }
}

/** The (text) columns a handled statement returns, known before it runs (for Describe), or null. */
export function commandColumns(cmd: Command): string[] | null {
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
  for (const s of recordTableMeta(plan.tableText, plan.meta, plan.like)) await ctx.query(s);
  return { tag: plan.ctas ? 'SELECT' : 'CREATE TABLE' };
}

/** CTAS: text columns become VARCHAR(256) and every VARCHAR gets its byte CHECK. */
async function addByteChecks(ctx: CommandContext, tableText: string): Promise<void> {
  const { columns } = await tableColumns(ctx, tableText);
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

/** ALTER COLUMN ... TYPE VARCHAR(n): Redshift only widens VARCHARs. */
async function alterColumnType(ctx: CommandContext, tableText: string, column: string, bytes: number): Promise<CommandResult> {
  const { columns } = await tableColumns(ctx, tableText);
  const col = columns.find((c) => c.name === column);
  if (!col) throw new RsError(`column "${column}" does not exist`, '42703');
  if (col.typname !== 'varchar') throw new RsError(`cannot alter type of column "${column}": only VARCHAR columns can be altered`, '0A000');
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
