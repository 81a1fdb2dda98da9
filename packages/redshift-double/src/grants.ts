import type { AccountCommand, IdentityCheck } from './accounts.js';
import { RsError, syntaxError } from './errors.js';
import { ident, significant, syntaxAt, tokenize, TokenCursor, type Token } from './sql-lexer.js';

/**
 * GRANT, REVOKE and ALTER DEFAULT PRIVILEGES in Redshift's forms (r_GRANT.html,
 * r_REVOKE.html, r_ALTER_DEFAULT_PRIVILEGES.html), translated to Postgres:
 *   - table privileges are SELECT, INSERT, UPDATE, DELETE, DROP, REFERENCES and ALL (those six);
 *     DROP is kept as Postgres's TRUNCATE bit, whose ACL letter is `D` as Redshift's DROP is;
 *     TRUNCATE, TRIGGER and RULE are not Redshift privileges and are refused; ALTER is a
 *     Lake Formation / datashare privilege and is refused on local tables;
 *   - column privileges are SELECT and UPDATE (and ALL, meaning both) on a column list;
 *   - grantees are `user`, `GROUP g`, `ROLE r` and PUBLIC, each checked to be of that kind
 *     (`GRANT ... TO g` for a group fails as on Redshift: user "g" does not exist);
 *   - `GRANT ROLE r TO {user [WITH ADMIN OPTION] | ROLE r2}` and its REVOKE grant the role.
 * ASSUMEROLE, datashares, external objects, models, RLS and the RBAC system privileges
 * (`GRANT CREATE TABLE TO ROLE r`) are refused as not implemented.
 */
const TABLE_PRIVS = ['select', 'insert', 'update', 'delete', 'drop', 'references'];
const PG_TABLE: Record<string, string> = { select: 'SELECT', insert: 'INSERT', update: 'UPDATE', delete: 'DELETE', drop: 'TRUNCATE', references: 'REFERENCES' };
const NOT_IMPLEMENTED_STARTS = new Set(['assumerole', 'explain', 'ignore', 'share', 'alter']);
const SYSTEM_PRIVILEGE_WORDS = new Set(['user', 'schema', 'table', 'function', 'procedure', 'view', 'model', 'datashare', 'library', 'role', 'default', 'external', 'or']);

const notImplemented = (what: string) => new RsError(`${what} is not implemented by the Redshift double`, '0A000');

type ObjectKind = 'table' | 'database' | 'schema' | 'function' | 'language';

interface Privilege {
  word: string;
  token: Token;
  columns: string[] | null;
}

interface Grantee {
  sql: string;
  check: IdentityCheck | null;
  kind: 'user' | 'group' | 'role' | 'public';
}

function readPrivileges(c: TokenCursor): Privilege[] | 'all' {
  const out: Privilege[] = [];
  for (;;) {
    const t = c.next();
    if (t.type !== 'word') throw syntaxAt(t);
    let word = t.value;
    if (word === 'all') {
      c.acceptWord('privileges');
      word = 'all';
    }
    let columns: string[] | null = null;
    if (c.acceptOp('(')) {
      columns = [c.ident()];
      while (c.acceptOp(',')) columns.push(c.ident());
      c.expectOp(')');
    }
    if (word === 'all' && !columns && out.length === 0 && !c.isOp(',')) return 'all';
    out.push({ word, token: t, columns });
    if (!c.acceptOp(',')) return out;
  }
}

/** ON ...: the object kind and the object list's source text. */
function readObjects(c: TokenCursor, stop: string): { kind: ObjectKind; text: string } {
  const t = c.peek();
  if (!t) throw syntaxAt(undefined);
  if (t.type === 'word' && ['external', 'datashare', 'model'].includes(t.value)) throw notImplemented(`GRANT/REVOKE ON ${t.value.toUpperCase()}`);
  if (t.type === 'string') throw notImplemented('ASSUMEROLE on IAM roles');
  let kind: ObjectKind = 'table';
  const start = c.i;
  if (c.isWord('all')) {
    const what = c.peek(1);
    if (what?.type === 'word' && what.value === 'tables') kind = 'table';
    else if (what?.type === 'word' && (what.value === 'functions' || what.value === 'procedures')) kind = 'function';
    else throw syntaxAt(what);
  } else if (c.isWord('database')) kind = 'database';
  else if (c.isWord('schema')) kind = 'schema';
  else if (c.isWord('function') || c.isWord('procedure')) kind = 'function';
  else if (c.isWord('language')) kind = 'language';
  while (!c.done() && !c.isWord(stop)) {
    if (c.isOp('(')) c.group();
    else c.next();
  }
  if (c.i === start) throw syntaxAt(c.peek());
  return { kind, text: c.textBetween(start, c.i) };
}

function readGrantees(c: TokenCursor, verb: 'grant' | 'revoke'): { grantees: Grantee[]; withOption: boolean } {
  const grantees: Grantee[] = [];
  let withOption = false;
  for (;;) {
    if (c.acceptWord('group')) {
      const g = c.ident();
      grantees.push({ sql: ident(g), check: { name: g, kind: 'group' }, kind: 'group' });
    } else if (c.acceptWord('role')) {
      const r = c.ident();
      grantees.push({ sql: ident(r), check: { name: r, kind: 'role' }, kind: 'role' });
    } else if (c.isWord('public')) {
      c.next();
      grantees.push({ sql: 'PUBLIC', check: null, kind: 'public' });
    } else if (c.isWord('iam_role')) {
      throw notImplemented('GRANT/REVOKE to IAM_ROLE');
    } else {
      const u = c.ident();
      grantees.push({ sql: ident(u), check: { name: u, kind: 'user' }, kind: 'user' });
    }
    if (verb === 'grant' && c.acceptWord('with', 'grant', 'option')) withOption = true;
    if (!c.acceptOp(',')) break;
  }
  return { grantees, withOption };
}

function pgPrivileges(privs: Privilege[] | 'all', kind: ObjectKind): string {
  if (kind === 'table') {
    if (privs === 'all') return TABLE_PRIVS.map((p) => PG_TABLE[p]).join(', ');
    return privs
      .flatMap((p) => {
        if (p.columns) {
          const cols = `(${p.columns.map(ident).join(', ')})`;
          if (p.word === 'all') return [`SELECT ${cols}`, `UPDATE ${cols}`];
          if (p.word !== 'select' && p.word !== 'update') throw new RsError(`column privileges can only be SELECT or UPDATE, not ${p.word.toUpperCase()}`, '0LP01');
          return [`${p.word.toUpperCase()} ${cols}`];
        }
        if (p.word === 'all') return TABLE_PRIVS.map((x) => PG_TABLE[x]!);
        if (p.word === 'alter') throw new RsError('ALTER on a table is a Lake Formation privilege; it is not granted on local tables (not implemented by the Redshift double)', '0A000');
        if (!TABLE_PRIVS.includes(p.word)) throw syntaxError(p.token.text);
        return [PG_TABLE[p.word]!];
      })
      .join(', ');
  }
  const allowed: Record<Exclude<ObjectKind, 'table'>, string[]> = {
    database: ['create', 'temporary', 'temp'],
    schema: ['create', 'usage'],
    function: ['execute'],
    language: ['usage'],
  };
  if (privs === 'all') return kind === 'database' ? 'CREATE, TEMPORARY' : kind === 'language' ? 'USAGE' : 'ALL';
  return privs
    .map((p) => {
      if (p.columns) throw syntaxAt(p.token);
      if (p.word === 'all') return kind === 'database' ? 'CREATE, TEMPORARY' : 'ALL';
      if (!allowed[kind].includes(p.word)) {
        if (kind === 'schema' && (p.word === 'alter' || p.word === 'drop')) throw notImplemented(`${p.word.toUpperCase()} on external schemas`);
        throw syntaxError(p.token.text);
      }
      return p.word.toUpperCase();
    })
    .join(', ');
}

/** GRANT ROLE r [, ROLE r2] TO ... / REVOKE [ADMIN OPTION FOR] ROLE r FROM ... */
function roleGrant(c: TokenCursor, verb: 'grant' | 'revoke', adminOptionFor: boolean): AccountCommand {
  const roles = [c.ident()];
  while (c.acceptOp(',')) {
    c.expectWord('role');
    roles.push(c.ident());
  }
  c.expectWord(verb === 'grant' ? 'to' : 'from');
  const grantees: Grantee[] = [];
  let withAdmin = false;
  for (;;) {
    if (c.acceptWord('role')) {
      const r = c.ident();
      grantees.push({ sql: ident(r), check: { name: r, kind: 'role' }, kind: 'role' });
    } else if (c.isWord('public') || c.isWord('group')) {
      throw syntaxAt(c.peek());
    } else {
      const u = c.ident();
      grantees.push({ sql: ident(u), check: { name: u, kind: 'user' }, kind: 'user' });
      if (verb === 'grant' && c.acceptWord('with', 'admin', 'option')) withAdmin = true;
    }
    if (!c.acceptOp(',')) break;
  }
  if (verb === 'revoke') c.acceptWord('restrict') || c.acceptWord('cascade');
  if (!c.done()) throw syntaxAt(c.peek());
  const list = roles.map(ident).join(', ');
  const to = grantees.map((g) => g.sql).join(', ');
  const sql = verb === 'grant' ? `GRANT ${list} TO ${to}${withAdmin ? ' WITH ADMIN OPTION' : ''}` : `REVOKE ${adminOptionFor ? 'ADMIN OPTION FOR ' : ''}${list} FROM ${to}`;
  return {
    kind: 'account',
    tag: verb === 'grant' ? 'GRANT ROLE' : 'REVOKE ROLE',
    checks: [...roles.map((r) => ({ name: r, kind: 'role' as const })), ...grantees.map((g) => g.check!)],
    steps: [sql],
  };
}

function privilegeStatement(c: TokenCursor, verb: 'grant' | 'revoke', grantOptionFor: boolean, prefix: string, defaults: boolean): AccountCommand {
  const first = c.peek();
  if (first?.type === 'word' && NOT_IMPLEMENTED_STARTS.has(first.value) && !(first.value === 'alter' && c.isWord('on', 1))) {
    throw notImplemented(`${verb.toUpperCase()} ${first.value.toUpperCase()}`);
  }
  const privs = readPrivileges(c);
  if (!c.isWord('on')) {
    // GRANT CREATE TABLE TO ROLE r and the other RBAC system privileges
    const next = c.peek();
    if (next?.type === 'word' && (SYSTEM_PRIVILEGE_WORDS.has(next.value) || c.isWord('to') || c.isWord('from'))) throw notImplemented('RBAC system permissions');
    throw syntaxAt(next);
  }
  c.expectWord('on');
  let kind: ObjectKind;
  let objects: string;
  if (defaults) {
    // ALTER DEFAULT PRIVILEGES ... ON { TABLES | FUNCTIONS | PROCEDURES }
    const t = c.next();
    if (t.type !== 'word' || !['tables', 'functions', 'procedures'].includes(t.value)) throw syntaxAt(t);
    kind = t.value === 'tables' ? 'table' : 'function';
    objects = t.value.toUpperCase();
    if (t.value === 'procedures') objects = 'ROUTINES';
  } else {
    const o = readObjects(c, verb === 'grant' ? 'to' : 'from');
    kind = o.kind;
    objects = o.text;
  }
  c.expectWord(verb === 'grant' ? 'to' : 'from');
  const { grantees, withOption } = readGrantees(c, verb);
  let withGrant = withOption;
  if (verb === 'grant' && c.acceptWord('with', 'grant', 'option')) withGrant = true;
  if (verb === 'revoke') c.acceptWord('restrict') || c.acceptWord('cascade');
  if (!c.done()) throw syntaxAt(c.peek());
  if (withGrant && grantees.some((g) => g.kind !== 'user')) throw new RsError('WITH GRANT OPTION can only be granted to users, not to a group, a role or PUBLIC', '0LP01');
  const pg = pgPrivileges(privs, kind);
  const to = grantees.map((g) => g.sql).join(', ');
  const sql =
    verb === 'grant'
      ? `${prefix}GRANT ${pg} ON ${objects} TO ${to}${withGrant ? ' WITH GRANT OPTION' : ''}`
      : `${prefix}REVOKE ${grantOptionFor ? 'GRANT OPTION FOR ' : ''}${pg} ON ${objects} FROM ${to}`;
  return { kind: 'account', tag: defaults ? 'ALTER DEFAULT PRIVILEGES' : verb.toUpperCase(), checks: grantees.flatMap((g) => (g.check ? [g.check] : [])), steps: [sql] };
}

/** GRANT / REVOKE / ALTER DEFAULT PRIVILEGES; null for other statements. */
export function parseGrantStatement(sql: string, words: readonly string[]): AccountCommand | null {
  if (words[0] !== 'grant' && words[0] !== 'revoke' && !(words[0] === 'alter' && words[1] === 'default' && words[2] === 'privileges')) return null;
  const c = new TokenCursor(significant(tokenize(sql)), sql);
  if (c.acceptWord('alter')) {
    c.expectWord('default');
    c.expectWord('privileges');
    const start = c.i;
    const checks: IdentityCheck[] = [];
    if (c.acceptWord('for')) {
      if (!c.acceptWord('user')) c.expectWord('role');
      checks.push({ name: c.ident(), kind: 'user' });
      while (c.acceptOp(',')) checks.push({ name: c.ident(), kind: 'user' });
    }
    if (c.acceptWord('in')) {
      c.expectWord('schema');
      c.ident();
      while (c.acceptOp(',')) c.ident();
    }
    const head = `ALTER DEFAULT PRIVILEGES ${c.textBetween(start, c.i)} `.replace(/\s+/g, ' ');
    const verb = c.acceptWord('grant') ? 'grant' : (c.expectWord('revoke'), 'revoke');
    const gof = verb === 'revoke' && c.acceptWord('grant', 'option', 'for');
    const cmd = privilegeStatement(c, verb, gof, head, true);
    return { ...cmd, checks: [...checks, ...cmd.checks] };
  }
  const verb = c.next().value as 'grant' | 'revoke';
  if (verb === 'revoke' && c.acceptWord('admin', 'option', 'for')) {
    c.expectWord('role');
    return roleGrant(c, verb, true);
  }
  const gof = verb === 'revoke' && c.acceptWord('grant', 'option', 'for');
  if (!gof && c.isWord('role') && !c.isWord('on', 1)) {
    c.next();
    return roleGrant(c, verb, false);
  }
  return privilegeStatement(c, verb, gof, '', false);
}
