import { redactText } from '../log.js';

/**
 * What every admin operation returns: the SQL it would run, in order. Statements that
 * Redshift refuses inside a transaction block (VACUUM, ALTER TABLE APPEND) are marked, so
 * `execute` runs them after the transaction instead of inside it.
 */
export interface Statement {
  sql: string;
  /** false: cannot run inside a transaction block; run alone, after the transaction. */
  transactional: boolean;
}

export interface Batch {
  statements: Statement[];
  /**
   * Tables the batch writes. When one is a target that redshift-loader keeps in sync (it has
   * a row in its schema's redshift_loader_state), `execute` takes the loader's lock first,
   * so the batch and a sync's writes never interleave.
   */
  writes?: Array<{ schema: string; name: string }>;
}

/** Statements Redshift cannot run in a transaction block. */
export function mustRunOutsideTransaction(sql: string): boolean {
  const s = sql.replace(/^(\s|--[^\n]*\n)+/, '').toLowerCase();
  return /^vacuum\b/.test(s) || /^alter\s+table\s[\s\S]*?\sappend\s+from\s/.test(s);
}

/** A statement, marked non-transactional when Redshift requires it (VACUUM, ALTER TABLE APPEND). */
export const stmt = (sql: string): Statement => ({ sql, transactional: !mustRunOutsideTransaction(sql) });
export const noTx = (sql: string): Statement => ({ sql, transactional: false });

type Item = string | Statement | Batch | readonly (string | Statement)[];

export function batchOf(...items: Item[]): Batch {
  const statements: Statement[] = [];
  const writes: NonNullable<Batch['writes']> = [];
  const add = (x: string | Statement) => statements.push(typeof x === 'string' ? stmt(x) : x);
  for (const item of items) {
    if (typeof item === 'string') add(item);
    else if (Array.isArray(item)) for (const x of item as readonly (string | Statement)[]) add(x);
    else if ('statements' in (item as Batch)) {
      statements.push(...(item as Batch).statements);
      writes.push(...((item as Batch).writes ?? []));
    } else add(item as Statement);
  }
  return writes.length > 0 ? { statements, writes } : { statements };
}

/** The batch, marked as writing these tables (see Batch.writes). */
export function withWrites(tables: Array<{ schema: string; name: string }>, batch: Batch): Batch {
  return { ...batch, writes: [...(batch.writes ?? []), ...tables] };
}

/** Masks passwords (PASSWORD '...') and AWS secrets in SQL text, for logs and errors. */
export function redactSql(sql: string): string {
  return redactText(sql)
    .replace(/(\bPASSWORD\s+)'(?:[^']|'')*'/gi, "$1'***'")
    .replace(/(\bSECRET_ACCESS_KEY\s+(?:AS\s+)?)'(?:[^']|'')*'/gi, "$1'***'")
    .replace(/(\bSESSION_TOKEN\s+(?:AS\s+)?)'(?:[^']|'')*'/gi, "$1'***'")
    .replace(/(token=)[^;'\s]+/gi, '$1***');
}

/**
 * The batch as a script: each statement ends with `;`; statements that run outside the
 * transaction are preceded by a comment saying so. `redact` masks secrets (for logs); a
 * command's printed output shows them, since it is the user's own SQL.
 */
export function formatBatch(batch: Batch, opts: { redact?: boolean } = {}): string {
  const parts = batch.statements.map((s) => {
    const text = opts.redact ? redactSql(s.sql) : s.sql;
    return `${s.transactional ? '' : '-- runs outside a transaction block, after the transaction\n'}${text};`;
  });
  return parts.length === 0 ? '' : `${parts.join('\n\n')}\n`;
}

export interface ExecuteResult {
  /** Statements run and committed inside the one transaction. */
  inTransaction: number;
  /** Statements run after the transaction, outside any transaction block (SQL, redacted). */
  outsideTransaction: string[];
  /** Row counts reported by each statement, in batch order (null when none). */
  rowCounts: Array<number | null>;
}

/** A batch failed. `rolledBack`: the transaction was rolled back, nothing was changed. */
export class BatchError extends Error {
  override name = 'BatchError';
  constructor(
    message: string,
    readonly statementIndex: number,
    /** The failing statement, redacted. */
    readonly sql: string,
    readonly rolledBack: boolean,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}
