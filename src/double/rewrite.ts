import { ACCOUNT_VIEWS } from './accounts-views.js';
import { parseCopy, type CopyCommand } from './copy-parse.js';
import { planAlterTable, planCreateTable, type AlterPlan, type CreateTablePlan } from './ddl.js';
import { notSupported, RsError, syntaxError } from './errors.js';
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
}

export type Command =
  | CopyCommand
  | UnloadCommand
  | CreateTablePlan
  | Exclude<AlterPlan, { kind: 'pass' }>
  | { kind: 'truncate'; sql: string }
  | { kind: 'vacuum' }
  | { kind: 'lock'; tables: string[] }
  | { kind: 'mergeRemoveDuplicates'; target: string; source: string; sourceAlias: string | null; on: string }
  | ExtraCommand;

export type Classified = { kind: 'pass'; sql: string } | { kind: 'command'; command: Command };

const VIEW_SET = new Set<string>([...SYSTEM_VIEWS, ...ACCOUNT_VIEWS]);

/**
 * Generic rewrites applied to every statement that reaches Postgres: Redshift system
 * views live in the `redshift_double` schema; pg_last_copy_id()/pg_last_copy_count()
 * become the session's values; GETDATE()/SYSDATE/NVL/JSON_PARSE map to Postgres.
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
    else if (call && t.value === 'json_parse') edits.push({ start: t.start, end: t.end, text: 'redshift_double.json_parse' });
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
  } catch (e) {
    if (e instanceof SqlSyntaxError) throw new RsError(e.message, '42601');
    throw e;
  }
  try {
    return classifyTokens(sql, toks, values);
  } catch (e) {
    if (e instanceof SqlSyntaxError) throw new RsError(e.message, '42601');
    throw e;
  }
}

function classifyTokens(sql: string, toks: Token[], values: SessionValues): Classified {
  const w = words(toks, 6);
  const rw = (s: string) => rewriteSql(s, values);
  const pass = (): Classified => ({ kind: 'pass', sql: rw(sql) });
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
      if (w[k] === 'table') return { kind: 'command', command: planCreateTable(sql, rw) };
      if (w[k] === 'unique' && w[k + 1] === 'index') throw notSupported('CREATE INDEX');
      if (w[k] === 'index') throw notSupported('CREATE INDEX');
      if (w[k] === 'sequence' || w[k] === 'unlogged' || w[k] === 'type' || w[k] === 'domain' || w[k] === 'extension') throw syntaxError(toks[k]!.text);
      return pass();
    }
    case 'alter': {
      if (w[1] !== 'table') return pass();
      const plan = planAlterTable(sql, rw);
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
