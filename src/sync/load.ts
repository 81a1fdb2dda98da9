import type pg from 'pg';
import type { Logger } from '../log.js';
import * as sql from '../redshift/sql.js';
import { readGrants } from '../redshift/privileges.js';
import type { TableRef, CopyAuth } from '../redshift/sql.js';
import type { Compression } from './compress.js';
import type { TablePlan } from './plan.js';

/** The Redshift side of a batch: COPY into staging and merge, or fill and swap. */
export class LoadError extends Error {
  override name = 'LoadError';
}

/** Statements of one incremental batch, in order (also what --dry-run prints). */
export function incrementalStatements(plan: TablePlan, staging: string, manifestUrl: string, auth: CopyAuth, compression: Compression): string[] {
  const cols = plan.columns.map((c) => c.name);
  return [
    'BEGIN',
    sql.createStagingTable(staging, plan.target),
    sql.copyFromManifest({ table: { name: staging, temp: true }, columns: cols, manifestUrl, auth, compression }),
    sql.lockTable(plan.target),
    sql.deleteMatchingKeys(plan.target, staging, plan.primaryKey),
    sql.insertDeduped(plan.target, staging, cols, plan.primaryKey, plan.updatedKey),
    sql.dropTempTable(staging),
    'COMMIT',
  ];
}

export const swapRef = (t: TableRef): TableRef => ({ schema: t.schema, name: suffixName(t.name, '_rl_swap') });
export const oldRef = (t: TableRef): TableRef => ({ schema: t.schema, name: suffixName(t.name, '_rl_old') });

/** Redshift names are at most 127 bytes. */
function suffixName(name: string, suffix: string): string {
  let base = name;
  while (Buffer.byteLength(base + suffix) > 127) base = base.slice(0, -1);
  return base + suffix;
}

export function fullSyncBatchStatement(plan: TablePlan, manifestUrl: string, auth: CopyAuth, compression: Compression): string {
  return sql.copyFromManifest({ table: swapRef(plan.target), columns: plan.columns.map((c) => c.name), manifestUrl, auth, compression });
}

/**
 * After a COPY: did Redshift load exactly the rows the files hold? Anything else (a file
 * read only in part, a row split in two) fails the batch, which then keeps its watermark.
 */
export async function checkLoadedRows(rs: pg.ClientBase, expected: number, where: string): Promise<void> {
  const r = await rs.query<{ n: string | number }>(sql.lastCopyCount());
  const loaded = Number(r.rows[0]?.n ?? -1);
  if (loaded !== expected) {
    throw new LoadError(
      `${where}: Redshift loaded ${loaded} rows but the batch's files hold ${expected}; the batch is not applied (if the cluster misreads the files, try COMPRESSION=gzip)`,
    );
  }
}

/** Is this Redshift's serializable isolation violation (error 1023)? */
export function isSerializableError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '40001' || /\b1023\b|serializable isolation violation/i.test(e?.message ?? '');
}

export interface LoadErrorRow {
  filename: string;
  line_number: number;
  colname: string;
  type: string;
  raw_field_value: string;
  err_code: number;
  err_reason: string;
}

/** Reads stl_load_errors for this batch's files and describes them in one message. */
export async function describeLoadErrors(rs: pg.ClientBase, filePrefixUrl: string): Promise<string | null> {
  try {
    const r = await rs.query<LoadErrorRow>(sql.recentLoadErrors(), [`${filePrefixUrl}%`]);
    if (r.rowCount === 0) return null;
    return r.rows
      .slice(0, 3)
      .map((e) => `file ${e.filename} line ${e.line_number} column "${e.colname}" (${e.type}) value ${JSON.stringify(e.raw_field_value)}: ${e.err_reason} (error ${e.err_code})`)
      .join('; ');
  } catch {
    return null;
  }
}

async function runAll(rs: pg.ClientBase, statements: string[]): Promise<void> {
  for (const s of statements) await rs.query(s);
}

export interface RetryOptions {
  attempts: number;
  baseDelayMs: number;
  log: Logger;
  signal?: AbortSignal;
}

/**
 * Runs a transaction (statements from BEGIN to COMMIT). On failure it rolls back; a
 * serializable isolation error is retried with backoff, any other error is thrown.
 */
export async function runTransaction(rs: pg.ClientBase, statements: string[], retry: RetryOptions, beforeCommit?: () => void | Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const body = statements.slice(0, -1);
      await runAll(rs, body);
      await beforeCommit?.();
      await rs.query(statements[statements.length - 1]!);
      return;
    } catch (err) {
      await rs.query('ROLLBACK').catch(() => undefined);
      if (!isSerializableError(err) || attempt >= retry.attempts || retry.signal?.aborted) throw err;
      const delay = retry.baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random());
      retry.log.warn({ attempt, delayMs: Math.round(delay) }, 'serializable isolation conflict (1023); retrying the batch');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** Checks the target exists and has every source column; returns the target's columns. */
export async function checkTarget(rs: pg.ClientBase, plan: TablePlan, where: string): Promise<void> {
  const r = await rs.query<{ name: string; type: string }>(sql.targetColumns(), [plan.target.schema, plan.target.name]);
  if (r.rowCount === 0) {
    throw new LoadError(`${where}: target table ${plan.target.schema}.${plan.target.name} does not exist in Redshift (create it, or run setup)`);
  }
  const have = new Set(r.rows.map((c) => c.name));
  const missing = plan.columns.map((c) => c.name).filter((c) => !have.has(c));
  if (missing.length > 0) {
    throw new LoadError(
      `${where}: target table ${plan.target.schema}.${plan.target.name} lacks source column(s) ${missing.map((m) => `"${m}"`).join(', ')}; add them (ALTER TABLE ... ADD COLUMN) or exclude them`,
    );
  }
}

/** FULL_DATA_SYNC: a fresh swap table shaped like the target. */
export function prepareSwapStatements(plan: TablePlan): string[] {
  const swap = swapRef(plan.target);
  return [sql.dropTable(swap), sql.createTableLike(swap, plan.target)];
}

/**
 * FULL_DATA_SYNC's last step, one transaction: the swap table takes the target's name,
 * owner and grants; readers see the old table until COMMIT and the new one after.
 */
export async function swapStatements(rs: pg.ClientBase, plan: TablePlan): Promise<string[]> {
  const target = plan.target;
  const swap = swapRef(target);
  const old = oldRef(target);
  const r = await rs.query<{ owner: string; acl: string | null }>(sql.tableOwnerAndAcl(), [target.schema, target.name]);
  const owner = r.rows[0]?.owner;
  const grants = owner ? (await readGrants(rs, target, owner, r.rows[0]!.acl)).grants : [];
  const statements = [
    'BEGIN',
    sql.lockTable(target),
    sql.dropTable(old),
    sql.renameTable(target, old.name),
    sql.renameTable(swap, target.name),
  ];
  if (owner) statements.push(sql.setOwner(target, owner));
  for (const g of grants) statements.push(sql.grant(target, g));
  statements.push(sql.dropTable(old), 'COMMIT');
  return statements;
}
