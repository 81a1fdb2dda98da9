import { randomBytes } from 'node:crypto';
import { RsError, notSupported, syntaxError } from './errors.js';
import { ident, significant, syntaxAt, tokenize, TokenCursor, type Token } from './sql-lexer.js';
import { ENCODINGS, readType, type MappedType } from './types.js';

/**
 * Redshift CREATE TABLE / ALTER TABLE -> Postgres DDL. Distribution, sort keys, encodings
 * and BACKUP are stripped from the SQL and returned as metadata; key constraints are
 * dropped (informational in Redshift); VARCHAR limits become byte CHECKs.
 */
export interface TableMeta {
  diststyle: 'AUTO' | 'EVEN' | 'KEY' | 'ALL' | null;
  distkey: string | null;
  sortkey: string[];
  sortkeyType: 'COMPOUND' | 'INTERLEAVED' | 'AUTO' | 'NONE' | null;
  backup: boolean | null;
  /** Column name -> ENCODE given in the DDL. */
  encodings: Map<string, string>;
  /** PRIMARY KEY / UNIQUE / FOREIGN KEY declarations: informational in Redshift, kept to refuse ALTER COLUMN TYPE on them. */
  keys: KeyConstraint[];
}

export interface KeyConstraint {
  kind: 'PRIMARY KEY' | 'UNIQUE' | 'FOREIGN KEY';
  columns: string[];
}

export interface CreateTablePlan {
  kind: 'create';
  /** The Postgres statement(s) to run. */
  sql: string;
  /** The table name as written (resolves with ::regclass in the client's session). */
  tableText: string;
  tableName: string;
  like: string | null;
  meta: TableMeta;
  ctas: boolean;
}

export interface ColumnPlan {
  name: string;
  /** Postgres column definition. */
  sql: string;
  type: MappedType;
  encoding: string | null;
  distkey: boolean;
  sortkey: boolean;
  /** Key constraints declared on the column itself. */
  keys: KeyConstraint['kind'][];
}

const COLUMN_KEYWORDS = new Set([
  'not', 'null', 'default', 'encode', 'distkey', 'sortkey', 'primary', 'unique', 'references', 'identity', 'generated', 'collate', 'constraint', 'check',
]);

const suffix = () => randomBytes(3).toString('hex');

export function byteCheck(col: string, t: MappedType): string {
  if (t.varcharBytes) return ` CONSTRAINT ${ident(`rsdbl_bytes_${t.varcharBytes}_${suffix()}`)} CHECK (octet_length(${ident(col)}) <= ${t.varcharBytes})`;
  if (t.charLength) return ` CONSTRAINT ${ident(`rsdbl_char_${t.charLength}_${suffix()}`)} CHECK (octet_length(${ident(col)}::text) = char_length(${ident(col)}::text))`;
  return '';
}

/** What a DDL statement needs to know about the database it runs in. */
export interface DdlContext {
  /** CREATE DATABASE ... COLLATE CASE_INSENSITIVE: character columns default to case-insensitive. */
  caseInsensitive: boolean;
}

const DEFAULT_DDL: DdlContext = { caseInsensitive: false };

/** The Postgres collation of Redshift's CASE_INSENSITIVE (nondeterministic ICU, strength 2). */
export const CI_COLLATION = 'redshift_double.case_insensitive';

/** COLLATE names Redshift accepts (r_COLLATE.html): true = case-insensitive. */
export function collationName(v: string): boolean | null {
  const x = v.toLowerCase();
  if (x === 'case_insensitive' || x === 'ci') return true;
  if (x === 'case_sensitive' || x === 'cs') return false;
  return null;
}

/** Parses one column definition at the cursor, up to (not including) ',' or ')'. */
export function readColumn(c: TokenCursor, table: string, rewriteExpr: (s: string) => string, pkColumns = new Set<string>(), ddl: DdlContext = DEFAULT_DDL): ColumnPlan {
  const name = c.ident();
  const type = readType(c, `${table}.${name}`);
  if (type.super && ddl.caseInsensitive) throw new RsError('SUPER data type is not supported in a case-insensitive database.', '0A000');
  let caseInsensitive: boolean | null = null;
  let notNull = pkColumns.has(name);
  let def = '';
  let identity = '';
  let encoding: string | null = null;
  let distkey = false;
  let sortkey = false;
  const keys: KeyConstraint['kind'][] = [];
  const atEnd = () => c.done() || c.isOp(',') || c.isOp(')');
  while (!atEnd()) {
    if (c.acceptWord('not', 'null')) notNull = true;
    else if (c.acceptWord('null')) notNull = false;
    else if (c.acceptWord('default')) {
      const a = c.i;
      let depth = 0;
      while (!c.done()) {
        const t = c.peek()!;
        if (t.type === 'op' && t.text === '(') depth++;
        else if (t.type === 'op' && t.text === ')') {
          if (depth === 0) break;
          depth--;
        } else if (depth === 0 && t.type === 'op' && t.text === ',') break;
        else if (depth === 0 && c.i > a && t.type === 'word' && COLUMN_KEYWORDS.has(t.value)) break;
        c.next();
      }
      if (c.i === a) throw syntaxAt(c.peek());
      def = ` DEFAULT ${rewriteExpr(c.textBetween(a, c.i))}`;
    } else if (c.isWord('identity') || c.isWord('generated')) {
      let always = true;
      if (c.acceptWord('generated')) {
        c.expectWord('by');
        c.expectWord('default');
        c.expectWord('as');
        always = false;
      }
      c.expectWord('identity');
      const args = c.group().split(',').map((s) => s.trim());
      if (args.length !== 2 || !args.every((a) => /^-?\d+$/.test(a))) throw new RsError('IDENTITY takes (seed, step) integer arguments', '42601');
      if (!/^(smallint|integer|bigint)$/.test(type.pg)) throw new RsError(`Identity column "${name}" must be INT or BIGINT`, 'XX000');
      identity = ` GENERATED ${always ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY (START WITH ${args[0]} INCREMENT BY ${args[1]})`;
      notNull = true;
    } else if (c.acceptWord('encode')) {
      const e = c.ident();
      if (!ENCODINGS.has(e)) throw new RsError(`invalid encoding type specified for column "${name}"`, 'XX000');
      encoding = e;
    } else if (c.acceptWord('distkey')) distkey = true;
    else if (c.acceptWord('sortkey')) sortkey = true;
    else if (c.acceptWord('primary', 'key')) {
      notNull = true;
      keys.push('PRIMARY KEY');
    } else if (c.acceptWord('unique')) keys.push('UNIQUE');
    else if (c.acceptWord('references')) {
      c.qualifiedName();
      if (c.isOp('(')) c.group();
      keys.push('FOREIGN KEY');
    } else if (c.acceptWord('collate')) {
      const coll = c.ident();
      caseInsensitive = collationName(coll);
      if (caseInsensitive === null) throw new RsError(`collation "${coll}" is not supported: use CASE_SENSITIVE or CASE_INSENSITIVE`, '0A000');
    } else if (c.acceptWord('constraint')) c.ident();
    else if (c.isWord('check')) throw notSupported('CHECK constraint');
    else throw syntaxAt(c.peek());
  }
  if (type.super && (distkey || sortkey)) throw new RsError(`column "${name}" has type SUPER and cannot be a distribution key or sort key`, 'XX000');
  // character columns take the column's COLLATE, else the database's
  const character = !!(type.varcharBytes || type.charLength);
  const ci = caseInsensitive ?? (character && ddl.caseInsensitive);
  const collate = ci ? ` COLLATE ${CI_COLLATION}` : caseInsensitive === false ? ' COLLATE pg_catalog."default"' : '';
  const sql = `${ident(name)} ${type.pg}${collate}${identity}${def}${notNull ? ' NOT NULL' : ''}${byteCheck(name, type)}`;
  return { name, sql, type, encoding, distkey, sortkey, keys };
}

/** Reads `(col, ...)`. */
function columnList(c: TokenCursor): string[] {
  c.expectOp('(');
  const out = [c.ident()];
  while (c.acceptOp(',')) out.push(c.ident());
  c.expectOp(')');
  return out;
}

/** Table attributes after the element list; fills meta. Stops at AS or the end. */
function readTableAttributes(c: TokenCursor, meta: TableMeta): void {
  while (!c.done() && !c.isWord('as')) {
    if (c.acceptWord('backup')) {
      const v = c.ident();
      if (v !== 'yes' && v !== 'no') throw syntaxAt(c.peek(-1));
      meta.backup = v === 'yes';
    } else if (c.acceptWord('diststyle')) {
      const v = c.ident().toUpperCase();
      if (v !== 'AUTO' && v !== 'EVEN' && v !== 'KEY' && v !== 'ALL') throw syntaxAt(c.peek(-1));
      meta.diststyle = v;
    } else if (c.acceptWord('distkey')) {
      const cols = columnList(c);
      if (cols.length !== 1) throw new RsError('only one column can be the distribution key', 'XX000');
      meta.distkey = cols[0]!;
    } else if (c.isWord('compound') || c.isWord('interleaved') || c.isWord('sortkey')) {
      let type: TableMeta['sortkeyType'] = 'COMPOUND';
      if (c.acceptWord('interleaved')) type = 'INTERLEAVED';
      else c.acceptWord('compound');
      c.expectWord('sortkey');
      if (type === 'COMPOUND' && c.acceptWord('auto')) {
        meta.sortkeyType = 'AUTO';
        meta.sortkey = [];
        continue;
      }
      meta.sortkey = columnList(c);
      meta.sortkeyType = type;
      if (type === 'INTERLEAVED' && meta.sortkey.length > 8) throw new RsError('an interleaved sort key can have at most 8 columns', 'XX000');
      if (meta.sortkey.length > 400) throw new RsError('a compound sort key can have at most 400 columns', 'XX000');
    } else if (c.acceptWord('encode')) {
      c.expectWord('auto');
    } else throw syntaxAt(c.peek());
  }
}

function emptyMeta(): TableMeta {
  return { diststyle: null, distkey: null, sortkey: [], sortkeyType: null, backup: null, encodings: new Map(), keys: [] };
}

/** A table-level `[CONSTRAINT name] PRIMARY KEY (...) | UNIQUE (...) | FOREIGN KEY (...) REFERENCES t [(...)]` at the cursor. */
function readTableConstraint(c: TokenCursor): KeyConstraint {
  if (c.acceptWord('constraint')) c.ident();
  if (c.acceptWord('primary', 'key')) return { kind: 'PRIMARY KEY', columns: columnList(c) };
  if (c.acceptWord('unique')) return { kind: 'UNIQUE', columns: columnList(c) };
  if (c.acceptWord('foreign', 'key')) {
    const columns = columnList(c);
    c.expectWord('references');
    c.qualifiedName();
    if (c.isOp('(')) columnList(c);
    return { kind: 'FOREIGN KEY', columns };
  }
  if (c.isWord('check')) throw notSupported('CHECK constraint');
  throw syntaxAt(c.peek());
}

function validateKeys(meta: TableMeta, columns: ColumnPlan[] | null): void {
  if (meta.distkey && meta.diststyle && meta.diststyle !== 'KEY') throw new RsError('DISTSTYLE must be KEY when a DISTKEY is specified', 'XX000');
  if (meta.diststyle === 'KEY' && !meta.distkey && columns) throw new RsError('DISTSTYLE KEY requires a DISTKEY column', 'XX000');
  if (!columns) return;
  const names = new Set(columns.map((col) => col.name));
  if (meta.distkey && !names.has(meta.distkey)) throw new RsError(`column "${meta.distkey}" named in DISTKEY does not exist`, '42703');
  for (const s of meta.sortkey) if (!names.has(s)) throw new RsError(`column "${s}" named in SORTKEY does not exist`, '42703');
  for (const col of columns) {
    if (col.type.super && (col.name === meta.distkey || meta.sortkey.includes(col.name)))
      throw new RsError(`column "${col.name}" has type SUPER and cannot be a distribution key or sort key`, 'XX000');
  }
}

/** CREATE [LOCAL] [TEMP] TABLE ... -> plan. `toks` are the statement's significant tokens. */
export function planCreateTable(sql: string, rewriteExpr: (s: string) => string, ddl: DdlContext = DEFAULT_DDL): CreateTablePlan {
  const c = new TokenCursor(significant(tokenize(sql)), sql);
  c.expectWord('create');
  c.acceptWord('local');
  const temp = c.acceptWord('temporary') || c.acceptWord('temp');
  c.expectWord('table');
  const ifNotExists = c.acceptWord('if', 'not', 'exists');
  const name = c.qualifiedName();
  const tableName = name.parts[name.parts.length - 1]!;
  const meta = emptyMeta();
  const head = `CREATE ${temp ? 'TEMP ' : ''}TABLE ${ifNotExists ? 'IF NOT EXISTS ' : ''}${name.text}`;

  // CTAS: CREATE TABLE t [(names)] [attributes] AS query
  const save = c.i;
  let ctasNames: string | null = null;
  if (c.isOp('(')) ctasNames = c.group();
  let isCtas = false;
  try {
    readTableAttributes(c, meta);
    isCtas = c.isWord('as');
  } catch {
    isCtas = false;
  }
  if (isCtas) {
    c.expectWord('as');
    const query = sql.slice(c.peek()?.start ?? sql.length);
    validateKeys(meta, null);
    const cols = ctasNames !== null ? ` (${ctasNames})` : '';
    return { kind: 'create', sql: `${head}${cols} AS ${rewriteExpr(query)}`, tableText: name.text, tableName, like: null, meta, ctas: true };
  }
  c.i = save;
  Object.assign(meta, emptyMeta());

  c.expectOp('(');
  const elements: string[] = [];
  const columns: ColumnPlan[] = [];
  let like: string | null = null;
  // PRIMARY KEY columns are NOT NULL, as in Redshift's catalog (the key itself is not enforced).
  const pk = primaryKeyColumns(sql);
  for (;;) {
    if (c.acceptWord('like')) {
      const parent = c.qualifiedName();
      like = parent.text;
      let defaults = false;
      if (c.acceptWord('including', 'defaults')) defaults = true;
      else c.acceptWord('excluding', 'defaults');
      elements.push(`LIKE ${parent.text} INCLUDING CONSTRAINTS${defaults ? ' INCLUDING DEFAULTS INCLUDING IDENTITY' : ''}`);
    } else if (c.isWord('constraint') || c.isWord('primary') || c.isWord('unique') || c.isWord('foreign') || c.isWord('check')) {
      meta.keys.push(readTableConstraint(c));
    } else {
      const col = readColumn(c, tableName, rewriteExpr, pk, ddl);
      columns.push(col);
      elements.push(col.sql);
      if (col.encoding) meta.encodings.set(col.name, col.encoding);
      for (const kind of col.keys) meta.keys.push({ kind, columns: [col.name] });
      if (col.distkey) {
        if (meta.distkey) throw new RsError('only one column can be the distribution key', 'XX000');
        meta.distkey = col.name;
      }
      if (col.sortkey) {
        meta.sortkey.push(col.name);
        meta.sortkeyType = 'COMPOUND';
      }
    }
    if (c.acceptOp(',')) continue;
    c.expectOp(')');
    break;
  }
  const columnSortkeys = meta.sortkey.length;
  const columnDistkey = meta.distkey;
  meta.sortkey = [];
  meta.distkey = null;
  readTableAttributes(c, meta);
  if (!c.done()) throw syntaxAt(c.peek());
  if (columnSortkeys && (meta.sortkey.length || meta.sortkeyType === 'AUTO'))
    throw new RsError('SORTKEY specified both as a column attribute and a table attribute', 'XX000');
  if (columnDistkey && meta.distkey) throw new RsError('DISTKEY specified both as a column attribute and a table attribute', 'XX000');
  if (columnSortkeys) meta.sortkey = columns.filter((x) => x.sortkey).map((x) => x.name);
  meta.distkey = meta.distkey ?? columnDistkey;
  validateKeys(meta, like ? null : columns);
  if (meta.diststyle === null && meta.distkey) meta.diststyle = 'KEY';
  if (columns.length === 0 && !like) throw syntaxAt(undefined);
  return { kind: 'create', sql: `${head} (${elements.join(', ')})`, tableText: name.text, tableName, like, meta, ctas: false };
}

/** Columns named in a table-level PRIMARY KEY (...) constraint. */
function primaryKeyColumns(sql: string): Set<string> {
  const c = new TokenCursor(significant(tokenize(sql)), sql);
  const out = new Set<string>();
  while (!c.done()) {
    if (c.acceptWord('primary', 'key') && c.isOp('(')) {
      for (const n of columnList(c)) out.add(n);
    } else c.next();
  }
  return out;
}

export type AlterPlan =
  | { kind: 'addColumn'; tableText: string; sql: string; column: ColumnPlan }
  | { kind: 'alterType'; tableText: string; table: string; column: string; type: MappedType }
  | { kind: 'addKeys'; tableText: string; keys: KeyConstraint[] }
  | { kind: 'alterMeta'; tableText: string; set: Partial<TableMeta>; columnEncoding?: { column: string; encoding: string } }
  | { kind: 'append'; target: string; source: string; ignoreExtra: boolean; fillTarget: boolean }
  | { kind: 'noop'; tag: string }
  | { kind: 'pass' };

/** ALTER TABLE forms Redshift treats specially; others pass through. */
export function planAlterTable(sql: string, rewriteExpr: (s: string) => string, ddl: DdlContext = DEFAULT_DDL): AlterPlan {
  const c = new TokenCursor(significant(tokenize(sql)), sql);
  c.expectWord('alter');
  c.expectWord('table');
  const name = c.qualifiedName();
  const table = name.parts[name.parts.length - 1]!;
  if (c.acceptWord('append')) {
    c.expectWord('from');
    const src = c.qualifiedName();
    let ignoreExtra = false;
    let fillTarget = false;
    while (!c.done()) {
      if (c.acceptWord('ignoreextra')) ignoreExtra = true;
      else if (c.acceptWord('filltarget')) fillTarget = true;
      else throw syntaxAt(c.peek());
    }
    return { kind: 'append', target: name.text, source: src.text, ignoreExtra, fillTarget };
  }
  if (c.acceptWord('add')) {
    if (c.isWord('constraint') || c.isWord('primary') || c.isWord('unique') || c.isWord('foreign')) {
      const key = readTableConstraint(c);
      if (!c.done()) throw syntaxAt(c.peek());
      return { kind: 'addKeys', tableText: name.text, keys: [key] };
    }
    if (c.isWord('check')) throw notSupported('CHECK constraint');
    c.acceptWord('column');
    if (c.isWord('if')) throw syntaxError('if');
    const column = readColumn(c, table, rewriteExpr, new Set(), ddl);
    if (!c.done()) throw syntaxAt(c.peek());
    if (column.distkey || column.sortkey) throw new RsError('ALTER TABLE ADD COLUMN cannot add a DISTKEY or SORTKEY column', 'XX000');
    return { kind: 'addColumn', tableText: name.text, sql: `ALTER TABLE ${name.text} ADD COLUMN ${column.sql}`, column };
  }
  if (c.acceptWord('alter')) {
    if (c.acceptWord('diststyle')) {
      const v = c.ident().toUpperCase();
      if (v === 'KEY') {
        c.expectWord('distkey');
        return { kind: 'alterMeta', tableText: name.text, set: { diststyle: 'KEY', distkey: c.ident() } };
      }
      if (v !== 'AUTO' && v !== 'EVEN' && v !== 'ALL') throw syntaxAt(c.peek(-1));
      return { kind: 'alterMeta', tableText: name.text, set: { diststyle: v, distkey: null } };
    }
    if (c.acceptWord('distkey')) return { kind: 'alterMeta', tableText: name.text, set: { diststyle: 'KEY', distkey: c.ident() } };
    if (c.isWord('compound') || c.isWord('interleaved') || c.isWord('sortkey')) {
      const interleaved = c.acceptWord('interleaved');
      c.acceptWord('compound');
      c.expectWord('sortkey');
      if (c.acceptWord('auto')) return { kind: 'alterMeta', tableText: name.text, set: { sortkey: [], sortkeyType: 'AUTO' } };
      if (c.acceptWord('none')) return { kind: 'alterMeta', tableText: name.text, set: { sortkey: [], sortkeyType: 'NONE' } };
      return { kind: 'alterMeta', tableText: name.text, set: { sortkey: columnList(c), sortkeyType: interleaved ? 'INTERLEAVED' : 'COMPOUND' } };
    }
    if (c.acceptWord('encode')) {
      c.expectWord('auto');
      return { kind: 'noop', tag: 'ALTER TABLE' };
    }
    c.acceptWord('column');
    const col = c.ident();
    if (c.acceptWord('encode')) {
      const e = c.ident();
      if (!ENCODINGS.has(e)) throw new RsError(`invalid encoding type specified for column "${col}"`, 'XX000');
      return { kind: 'alterMeta', tableText: name.text, set: {}, columnEncoding: { column: col, encoding: e } };
    }
    if (c.acceptWord('type')) {
      const type = readType(c, `${table}.${col}`);
      if (c.isWord('using')) throw new RsError('ALTER TABLE ALTER COLUMN does not support USING expression', '0A000');
      if (!type.varcharBytes) throw new RsError('target data type must be VARCHAR for ALTER COLUMN TYPE', '0A000');
      if (!c.done()) throw syntaxAt(c.peek());
      return { kind: 'alterType', tableText: name.text, table, column: col, type };
    }
    return { kind: 'pass' };
  }
  return { kind: 'pass' };
}

export type { Token };
