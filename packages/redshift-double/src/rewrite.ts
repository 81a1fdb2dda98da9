import { ACCOUNT_VIEWS } from './accounts-views.js';
import { parseCopy, type CopyCommand } from './copy-parse.js';
import { CI_COLLATION, collationName, planAlterTable, planCreateTable, type AlterPlan, type CreateTablePlan } from './ddl.js';
import { notSupported, RsError, syntaxError } from './errors.js';
import { checkIdentifierLengths, foldQuotedIdentifiers } from './identifiers.js';
import { classifyExtra, type ExtraCommand } from './extra-commands.js';
import { significant, SqlSyntaxError, syntaxAt, tokenize, TokenCursor, type Token } from './sql-lexer.js';
import { SYSTEM_VIEWS } from './system-views.js';
import { parseUnload, type UnloadCommand } from './unload.js';

/**
 * Classifies one statement: passed through (after the generic rewrites), handled by the
 * double itself (COPY, UNLOAD, DDL, TRUNCATE, ...), or rejected as Redshift would.
 */
export interface SessionValues {
  lastCopyId: number;
  lastCopyCount: number;
  /** enable_case_sensitive_identifier as the session sees it now. */
  caseSensitiveIdentifiers: boolean;
  /** Its value after RESET: the user's default (ALTER USER ... SET), else off. */
  caseSensitiveIdentifiersDefault: boolean;
  /** The database was created with COLLATE CASE_INSENSITIVE. */
  databaseCaseInsensitive?: boolean;
}

/** The upstream database setting that marks a CASE_INSENSITIVE database (ALTER DATABASE ... SET). */
export const COLLATION_SETTING = 'rsdbl.db_collation';
/** The upstream database setting for CREATE/ALTER DATABASE ... ISOLATION LEVEL. */
export const ISOLATION_SETTING = 'rsdbl.db_isolation';

/** The upstream custom setting that carries enable_case_sensitive_identifier (transactional, like any SET). */
export const CASE_SETTING = 'rsdbl.enable_case_sensitive_identifier';

export type Command =
  | CopyCommand
  | UnloadCommand
  | CreateTablePlan
  | Exclude<AlterPlan, { kind: 'pass' }>
  | { kind: 'truncate'; sql: string }
  | { kind: 'vacuum' }
  | { kind: 'lock'; tables: string[] }
  | { kind: 'mergeRemoveDuplicates'; target: string; source: string; sourceAlias: string | null; on: string }
  /** SET / RESET enable_case_sensitive_identifier (value null = RESET). */
  | { kind: 'setCaseSensitive'; value: boolean | null; local: boolean }
  | { kind: 'showCaseSensitive' }
  /** ALTER USER u SET / RESET enable_case_sensitive_identifier. */
  | { kind: 'userCaseSensitive'; user: string; value: boolean | null }
  | { kind: 'createDatabase'; name: string; owner: string | null; connectionLimit: string | null; caseInsensitive: boolean; isolation: 'serializable' | 'snapshot' | null }
  | { kind: 'alterDatabaseIsolation'; name: string; isolation: 'serializable' | 'snapshot' }
  | ExtraCommand;

/** `settings`: the statement may change session settings the double mirrors (RESET ALL, DISCARD). */
export type Classified = { kind: 'pass'; sql: string; settings?: boolean } | { kind: 'command'; command: Command };

const VIEW_SET = new Set<string>([...SYSTEM_VIEWS, ...ACCOUNT_VIEWS]);

/**
 * Generic rewrites applied to every statement that reaches Postgres: Redshift system
 * views live in the `redshift_double` schema; pg_last_copy_id()/pg_last_copy_count()
 * become the session's values; GETDATE()/SYSDATE/NVL/LEN/JSON_PARSE map to Postgres;
 * STRTOL and JSON_SERIALIZE to the double's own functions (functions.ts).
 */
export function rewriteSql(sql: string, values: SessionValues): string {
  const all = tokenize(sql);
  const toks = significant(all);
  const edits: Array<{ start: number; end: number; text: string }> = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.type !== 'word') continue;
    const prev = toks[i - 1];
    const next = toks[i + 1];
    const afterDot = prev?.type === 'op' && prev.text === '.';
    const call = next?.type === 'op' && next.text === '(';
    const emptyCall = call && toks[i + 2]?.type === 'op' && toks[i + 2]!.text === ')';
    if (VIEW_SET.has(t.value) && !call) {
      if (afterDot) {
        const schema = toks[i - 2];
        if (schema?.type === 'word' && schema.value === 'pg_catalog') edits.push({ start: schema.start, end: t.end, text: `redshift_double.${t.value}` });
        continue;
      }
      edits.push({ start: t.start, end: t.end, text: `redshift_double.${t.value}` });
      continue;
    }
    if (t.value === 'relacl' && !call && !(prev?.type === 'word' && prev.value === 'as')) {
      // pg_class.relacl as Redshift prints it (accounts-views.ts): the whole [qualifier.]relacl reference.
      let first = i;
      while (toks[first - 1]?.type === 'op' && toks[first - 1]!.text === '.' && (toks[first - 2]?.type === 'word' || toks[first - 2]?.type === 'qident')) first -= 2;
      const ref = sql.slice(toks[first]!.start, t.end);
      while (edits.length && edits[edits.length - 1]!.start >= toks[first]!.start) edits.pop();
      edits.push({ start: toks[first]!.start, end: t.end, text: `redshift_double.relacl(${ref})` });
      continue;
    }
    if (afterDot) continue;
    if (emptyCall && t.value === 'pg_last_copy_id') edits.push({ start: t.start, end: toks[i + 2]!.end, text: `redshift_double.pg_last_copy_id(${values.lastCopyId})` });
    else if (emptyCall && t.value === 'pg_last_copy_count') edits.push({ start: t.start, end: toks[i + 2]!.end, text: `redshift_double.pg_last_copy_count(${values.lastCopyCount})` });
    else if (emptyCall && t.value === 'getdate') edits.push({ start: t.start, end: toks[i + 2]!.end, text: 'redshift_double.getdate()' });
    else if (t.value === 'sysdate' && !call) edits.push({ start: t.start, end: t.end, text: 'redshift_double.sysdate()' });
    else if (call && t.value === 'nvl') edits.push({ start: t.start, end: t.end, text: 'coalesce' });
    // LEN: CHAR without trailing blanks, VARCHAR with them (r_LEN.html), as Postgres's length() counts
    else if (call && t.value === 'len') edits.push({ start: t.start, end: t.end, text: 'length' });
    else if (emptyCall && t.value === 'db_collation') edits.push({ start: t.start, end: toks[i + 2]!.end, text: 'redshift_double.db_collation()' });
    else if (call && t.value === 'collate') {
      const e = collateCall(sql, toks, i, values);
      if (e) {
        edits.push(e);
        while (i < toks.length && toks[i]!.end <= e.end - 1) i++;
      }
    }
    else if (call && t.value === 'json_parse') edits.push({ start: t.start, end: t.end, text: 'redshift_double.json_parse' });
    // STRTOL and JSON_SERIALIZE (functions.ts)
    else if (call && t.value === 'strtol') edits.push({ start: t.start, end: t.end, text: 'redshift_double.strtol' });
    else if (call && t.value === 'json_serialize') edits.push({ start: t.start, end: t.end, text: 'redshift_double.json_serialize' });
  }
  if (edits.length === 0) return sql;
  let out = '';
  let pos = 0;
  for (const e of edits) {
    out += sql.slice(pos, e.start) + e.text;
    pos = e.end;
  }
  return out + sql.slice(pos);
}

/**
 * COLLATE(expr, 'case_sensitive' | 'cs' | 'case_insensitive' | 'ci') (r_COLLATE.html) ->
 * ((expr) COLLATE <collation>). The argument text is rewritten too.
 */
function collateCall(sql: string, toks: Token[], i: number, values: SessionValues): { start: number; end: number; text: string } | null {
  let depth = 0;
  let lastComma = -1;
  for (let k = i + 1; k < toks.length; k++) {
    const t = toks[k]!;
    if (t.type === 'op' && t.text === '(') depth++;
    else if (t.type === 'op' && t.text === ')') {
      depth--;
      if (depth === 0) {
        const arg = toks[lastComma + 1];
        if (lastComma < 0 || arg?.type !== 'string' || lastComma + 2 !== k) return null;
        const ci = collationName(arg.value);
        if (ci === null) throw new RsError(`COLLATE only accepts 'case_sensitive', 'cs', 'case_insensitive' or 'ci' (got '${arg.value}')`, '22023');
        const inner = rewriteSql(sql.slice(toks[i + 1]!.end, toks[lastComma]!.start), values);
        return { start: toks[i]!.start, end: t.end, text: `((${inner}) COLLATE ${ci ? CI_COLLATION : 'pg_catalog."default"'})` };
      }
    } else if (depth === 1 && t.type === 'op' && t.text === ',') lastComma = k;
  }
  return null;
}

function words(toks: Token[], n: number): string[] {
  return toks.slice(0, n).map((t) => (t.type === 'word' ? t.value : `\u0000${t.text}`));
}

/** Throws RsError for statements Redshift's grammar does not have. */
function rejectUnsupportedClauses(toks: Token[]): void {
  const insert = toks.some((t) => t.type === 'word' && t.value === 'insert');
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.type !== 'word') continue;
    // RETURNING is reserved (never an unquoted identifier); ON CONFLICT only matters in an INSERT
    if (t.value === 'returning') throw syntaxError(t.text);
    if (insert && t.value === 'on' && toks[i + 1]?.type === 'word' && toks[i + 1]!.value === 'conflict') throw syntaxError(t.text);
  }
}

export function classify(sql: string, values: SessionValues): Classified {
  let toks: Token[];
  try {
    toks = significant(tokenize(sql));
    if (!values.caseSensitiveIdentifiers) {
      const folded = foldQuotedIdentifiers(sql, toks);
      if (folded !== sql) {
        sql = folded;
        toks = significant(tokenize(sql));
      }
    }
  } catch (e) {
    if (e instanceof SqlSyntaxError) throw new RsError(e.message, '42601');
    throw e;
  }
  try {
    checkIdentifierLengths(toks);
    return classifyTokens(sql, toks, values);
  } catch (e) {
    if (e instanceof SqlSyntaxError) throw new RsError(e.message, '42601');
    throw e;
  }
}

function classifyTokens(sql: string, toks: Token[], values: SessionValues): Classified {
  const w = words(toks, 6);
  const rw = (s: string) => rewriteSql(s, values);
  const pass = () => ({ kind: 'pass' as const, sql: rw(sql) });
  rejectUnsupportedClauses(toks);
  const extra = classifyExtra(sql, w);
  if (extra) return { kind: 'command', command: extra };
  switch (w[0]) {
    case 'copy': {
      const fromIdx = toks.findIndex((t) => t.type === 'word' && (t.value === 'from' || t.value === 'to'));
      const after = fromIdx >= 0 ? toks[fromIdx + 1] : undefined;
      if (toks[1]?.type === 'op' && toks[1].text === '(') throw notSupported('COPY (query) TO');
      if (fromIdx < 0) throw syntaxAt(undefined);
      if (toks[fromIdx]!.value === 'to') throw notSupported('COPY ... TO (use UNLOAD)');
      if (after?.type === 'word' && (after.value === 'stdin' || after.value === 'program')) throw notSupported(`COPY FROM ${after.value.toUpperCase()}`);
      return { kind: 'command', command: parseCopy(sql) };
    }
    case 'unload':
      return { kind: 'command', command: parseUnload(sql, rw) };
    case 'create': {
      let k = 1;
      if (w[k] === 'or' && w[k + 1] === 'replace') k += 2;
      if (w[k] === 'local') k++;
      const temp = w[k] === 'temp' || w[k] === 'temporary';
      if (temp) k++;
      if (w[k] === 'table') return { kind: 'command', command: planCreateTable(sql, rw, { caseInsensitive: !!values.databaseCaseInsensitive }) };
      if (w[k] === 'database' && k === 1) return { kind: 'command', command: parseCreateDatabase(toks) };
      if (w[k] === 'unique' && w[k + 1] === 'index') throw notSupported('CREATE INDEX');
      if (w[k] === 'index') throw notSupported('CREATE INDEX');
      if (w[k] === 'sequence' || w[k] === 'unlogged' || w[k] === 'type' || w[k] === 'domain' || w[k] === 'extension') throw syntaxError(toks[k]!.text);
      return pass();
    }
    case 'set':
    case 'reset':
    case 'show': {
      const c = classifySetting(toks);
      if (c) return { kind: 'command', command: c };
      if (w[0] === 'reset' && w[1] === 'all') return { ...pass(), settings: true };
      return pass();
    }
    case 'discard':
      return { ...pass(), settings: true };
    case 'begin':
    case 'start':
      return { kind: 'pass', sql: rw(withoutIsolationLevel(sql, toks)) };
    case 'alter': {
      if (w[1] === 'database' && toks.some((t, i) => t.type === 'word' && t.value === 'isolation' && toks[i + 1]?.type === 'word' && toks[i + 1]!.value === 'level')) {
        const c = new TokenCursor(toks, sql);
        c.expectWord('alter');
        c.expectWord('database');
        const name = c.ident();
        c.expectWord('isolation');
        c.expectWord('level');
        const isolation = c.acceptWord('snapshot') ? 'snapshot' : c.acceptWord('serializable') ? 'serializable' : null;
        if (!isolation || !c.done()) throw syntaxAt(c.peek());
        return { kind: 'command', command: { kind: 'alterDatabaseIsolation', name, isolation } };
      }
      if (w[1] === 'user') {
        const c = classifyAlterUser(toks);
        return c ? { kind: 'command', command: c } : pass();
      }
      if (w[1] !== 'table') return pass();
      const plan = planAlterTable(sql, rw, { caseInsensitive: !!values.databaseCaseInsensitive });
      if (plan.kind === 'pass') return pass();
      return { kind: 'command', command: plan };
    }
    case 'truncate':
      return { kind: 'command', command: { kind: 'truncate', sql: rw(sql) } };
    case 'vacuum':
      return { kind: 'command', command: { kind: 'vacuum' } };
    case 'lock': {
      const c = new TokenCursor(toks, sql);
      c.expectWord('lock');
      c.acceptWord('table');
      const tables = [c.qualifiedName().text];
      while (c.acceptOp(',')) tables.push(c.qualifiedName().text);
      if (!c.done()) throw syntaxAt(c.peek());
      return { kind: 'command', command: { kind: 'lock', tables } };
    }
    case 'merge':
      return classifyMerge(sql, toks, pass);
    case 'analyze': {
      // Redshift's PREDICATE COLUMNS / ALL COLUMNS suffixes do not exist in Postgres.
      const idx = toks.findIndex((t, i) => t.type === 'word' && (t.value === 'predicate' || t.value === 'all') && toks[i + 1]?.type === 'word' && toks[i + 1]!.value === 'columns');
      if (idx > 0) return { kind: 'pass', sql: rw(sql.slice(0, toks[idx]!.start)) };
      return pass();
    }
    default:
      return pass();
  }
}

/** MERGE: only Redshift's form (one WHEN MATCHED + one WHEN NOT MATCHED, or REMOVE DUPLICATES). */
function classifyMerge(sql: string, toks: Token[], pass: () => Classified): Classified {
  const c = new TokenCursor(toks, sql);
  c.expectWord('merge');
  c.expectWord('into');
  const target = c.qualifiedName();
  if (!c.isWord('using')) throw syntaxAt(c.peek());
  c.expectWord('using');
  if (c.isOp('(')) throw syntaxAt(c.peek());
  const source = c.qualifiedName();
  let alias: string | null = null;
  if (c.acceptWord('as')) alias = c.ident();
  else if (!c.isWord('on')) alias = c.ident();
  c.expectWord('on');
  const onStart = c.i;
  while (!c.done() && !c.isWord('when') && !(c.isWord('remove') && c.isWord('duplicates', 1))) {
    if (c.isOp('(')) c.group();
    else c.next();
  }
  const on = c.textBetween(onStart, c.i);
  if (c.acceptWord('remove', 'duplicates')) {
    if (!c.done()) throw syntaxAt(c.peek());
    return { kind: 'command', command: { kind: 'mergeRemoveDuplicates', target: target.text, source: source.text, sourceAlias: alias, on } };
  }
  c.expectWord('when');
  c.expectWord('matched');
  if (!c.isWord('then')) throw syntaxAt(c.peek());
  c.expectWord('then');
  if (c.acceptWord('delete')) {
    /* ok */
  } else if (c.acceptWord('update')) {
    c.expectWord('set');
    while (!c.done() && !c.isWord('when')) {
      if (c.isOp('(')) c.group();
      else c.next();
    }
  } else throw syntaxAt(c.peek());
  c.expectWord('when');
  c.expectWord('not');
  c.expectWord('matched');
  if (!c.isWord('then')) throw syntaxAt(c.peek());
  c.expectWord('then');
  c.expectWord('insert');
  if (c.isOp('(')) c.group();
  c.expectWord('values');
  if (!c.isOp('(')) throw syntaxAt(c.peek());
  c.group();
  if (!c.done()) throw syntaxAt(c.peek());
  return pass();
}

const CASE_NAME = 'enable_case_sensitive_identifier';

/** Postgres's spellings of a boolean setting; null for DEFAULT; throws on anything else. */
function settingBool(t: Token | undefined): boolean | null {
  const v = t?.type === 'word' || t?.type === 'string' || t?.type === 'number' ? t.value.toLowerCase() : '';
  if (t?.type === 'word' && v === 'default') return null;
  if (['true', 'on', 'yes', '1', 't', 'y'].includes(v)) return true;
  if (['false', 'off', 'no', '0', 'f', 'n'].includes(v)) return false;
  throw new RsError(`parameter "${CASE_NAME}" requires a Boolean value`, '22023');
}

/** SET [SESSION|LOCAL] enable_case_sensitive_identifier {TO|=} v, RESET ..., SHOW ... */
function classifySetting(toks: Token[]): Command | null {
  const c = new TokenCursor(toks, '');
  if (c.acceptWord('show')) return c.acceptWord(CASE_NAME) && c.done() ? { kind: 'showCaseSensitive' } : null;
  if (c.acceptWord('reset')) return c.acceptWord(CASE_NAME) && c.done() ? { kind: 'setCaseSensitive', value: null, local: false } : null;
  c.expectWord('set');
  const local = c.acceptWord('local');
  if (!local) c.acceptWord('session');
  if (!c.acceptWord(CASE_NAME)) return null;
  if (!c.acceptWord('to') && !c.acceptOp('=')) throw syntaxAt(c.peek());
  const value = settingBool(c.next());
  if (!c.done()) throw syntaxAt(c.peek());
  return { kind: 'setCaseSensitive', value, local };
}

/** ALTER USER u SET enable_case_sensitive_identifier {TO|=} v / ALTER USER u RESET enable_case_sensitive_identifier. */
function classifyAlterUser(toks: Token[]): Command | null {
  const c = new TokenCursor(toks, '');
  c.expectWord('alter');
  c.expectWord('user');
  const user = c.ident();
  if (c.acceptWord('reset')) return c.acceptWord(CASE_NAME) && c.done() ? { kind: 'userCaseSensitive', user, value: null } : null;
  if (!c.acceptWord('set') || !c.acceptWord(CASE_NAME)) return null;
  if (!c.acceptWord('to') && !c.acceptOp('=')) throw syntaxAt(c.peek());
  const value = settingBool(c.next());
  if (!c.done()) throw syntaxAt(c.peek());
  return { kind: 'userCaseSensitive', user, value };
}

/**
 * CREATE DATABASE name [WITH] [OWNER [=] o] [CONNECTION LIMIT {n | UNLIMITED}]
 * [COLLATE {CASE_SENSITIVE | CS | CASE_INSENSITIVE | CI}] [ISOLATION LEVEL {SERIALIZABLE | SNAPSHOT}]
 * (r_CREATE_DATABASE.html; the FROM INTEGRATION / DATASHARE / ARN forms are not implemented).
 */
function parseCreateDatabase(toks: Token[]): Command {
  const c = new TokenCursor(toks, '');
  c.expectWord('create');
  c.expectWord('database');
  const name = c.ident();
  const cmd: Extract<Command, { kind: 'createDatabase' }> = { kind: 'createDatabase', name, owner: null, connectionLimit: null, caseInsensitive: false, isolation: null };
  c.acceptWord('with');
  while (!c.done()) {
    if (c.acceptWord('owner')) {
      c.acceptOp('=');
      cmd.owner = c.ident();
    } else if (c.acceptWord('connection', 'limit')) {
      const t = c.next();
      if (t.type === 'word' && t.value === 'unlimited') cmd.connectionLimit = '-1';
      else if (t.type === 'number' && /^\d+$/.test(t.text)) cmd.connectionLimit = t.text;
      else throw syntaxAt(t);
    } else if (c.acceptWord('collate')) {
      const ci = collationName(c.ident());
      if (ci === null) throw syntaxAt(c.peek(-1));
      cmd.caseInsensitive = ci;
    } else if (c.acceptWord('isolation', 'level')) {
      if (c.acceptWord('serializable')) cmd.isolation = 'serializable';
      else if (c.acceptWord('snapshot')) cmd.isolation = 'snapshot';
      else throw syntaxAt(c.peek());
    } else if (c.isWord('from') || c.isWord('iam_role')) {
      throw new RsError('CREATE DATABASE FROM INTEGRATION/DATASHARE/ARN is not implemented by the Redshift double', '0A000');
    } else throw syntaxAt(c.peek());
  }
  return cmd;
}

/**
 * BEGIN / START TRANSACTION: Redshift accepts ISOLATION LEVEL READ UNCOMMITTED | READ COMMITTED |
 * REPEATABLE READ | SERIALIZABLE but they "have no operational impact" (r_BEGIN.html): the
 * clause is dropped so the database's level applies.
 */
function withoutIsolationLevel(sql: string, toks: Token[]): string {
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.type !== 'word' || t.value !== 'isolation' || toks[i + 1]?.type !== 'word' || toks[i + 1]!.value !== 'level') continue;
    const a = toks[i + 2];
    const b = toks[i + 3];
    let last = i + 2;
    if (a?.type === 'word' && (a.value === 'read' || a.value === 'repeatable') && b?.type === 'word' && ['uncommitted', 'committed', 'read'].includes(b.value)) last = i + 3;
    else if (!(a?.type === 'word' && a.value === 'serializable')) return sql;
    return sql.slice(0, t.start) + sql.slice(toks[last]!.end);
  }
  return sql;
}
