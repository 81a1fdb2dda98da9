import type { CommandContext, CommandResult } from './context.js';
import { RsError, syntaxError } from './errors.js';
import { ident, lit, significant, str, syntaxAt, tokenize, TokenCursor, type Token } from './sql-lexer.js';

/**
 * Users, groups and roles as Redshift has them, on top of Postgres roles:
 *   - a user is a LOGIN role; a group a NOLOGIN role; a Redshift role a NOLOGIN role marked
 *     with the role setting `rsdbl.kind = 'role'` (settings of database 0 are
 *     cluster-wide, like Redshift's users, groups and roles);
 *   - what Postgres cannot hold is kept in role settings too: `rsdbl.syslog_access`,
 *     `rsdbl.session_timeout`, `rsdbl.role_owner`, and the Redshift-only
 *     configuration parameters of ALTER USER ... SET (`rsdbl.wlm_query_slot_count`...).
 * The system views (accounts-views.ts) show them as Redshift does.
 * Guide: r_CREATE_USER.html, r_ALTER_USER.html, r_DROP_USER.html, r_CREATE_GROUP.html,
 * r_ALTER_GROUP.html, r_DROP_GROUP.html, r_CREATE_ROLE.html, r_DROP_ROLE.html, r_ALTER_ROLE.html,
 * cm_chap_ConfigurationRef.html.
 */
export type IdentityKind = 'user' | 'group' | 'role';

export interface IdentityCheck {
  name: string;
  /** The kind it must be; 'absent': must not exist as anything. */
  kind: IdentityKind | 'absent';
}

/** A statement the double runs as checks on the identities named, then Postgres statements. */
export interface AccountCommand {
  kind: 'account';
  tag: string;
  checks: IdentityCheck[];
  steps: string[];
  notice?: string;
}

export const SETTING_PREFIX = 'rsdbl.';

/** Postgres's own names for the configuration parameters Redshift shares with it. */
const POSTGRES_PARAMETERS = new Set(['datestyle', 'extra_float_digits', 'search_path', 'statement_timeout', 'timezone']);
/** Redshift-only parameters (cm_chap_ConfigurationRef.html), kept as `redshift_double.<name>`. */
const REDSHIFT_PARAMETERS = new Set([
  'analyze_threshold_percent',
  'default_geometry_encoding',
  'describe_field_name_in_uppercase',
  'enable_case_sensitive_super_attribute',
  'enable_result_cache_for_session',
  'enable_vacuum_boost',
  'error_on_nondeterministic_update',
  'json_parse_dedup_attributes',
  'json_parse_truncate_strings',
  'max_concurrency_scaling_clusters',
  'mv_enable_aqmv_for_session',
  'navigate_super_null_on_error',
  'parse_super_null_on_error',
  'query_group',
  'spectrum_query_maxerror',
  'stored_proc_log_min_messages',
  'wlm_query_slot_count',
]);

const q = (name: string) => ident(name);
const setting = (role: string, name: string, value: string) => `ALTER ROLE ${q(role)} SET ${ident(SETTING_PREFIX + name)} = ${lit(value)}`;
const resetSetting = (role: string, name: string) => `ALTER ROLE ${q(role)} RESET ${ident(SETTING_PREFIX + name)}`;

/** Redshift's clear-text password rules (r_CREATE_USER.html). */
export function passwordProblem(p: string): string | null {
  if (p.length < 8 || p.length > 64) return 'password must be 8 to 64 characters long';
  if (!/[A-Z]/.test(p)) return 'password must contain an uppercase letter';
  if (!/[a-z]/.test(p)) return 'password must contain a lowercase letter';
  if (!/[0-9]/.test(p)) return 'password must contain a number';
  if (/[^\x21-\x7e]/.test(p) || /['"\\/@]/.test(p)) return "password may only use ASCII characters 33-126 other than ' \" \\ / @";
  return null;
}

type Password = { disable: true } | { disable: false; sql: string };

function readPassword(c: TokenCursor): Password {
  if (c.acceptWord('disable')) return { disable: true };
  const t = c.next();
  if (t.type !== 'string') throw syntaxAt(t);
  const v = t.value;
  if (/^md5[0-9a-f]{32}$/.test(v)) return { disable: false, sql: lit(v) };
  const sha = /^sha256\|(.*)$/s.exec(v);
  if (sha) {
    if (sha[1]!.includes('|')) throw new RsError('PASSWORD with a SHA-256 digest and salt is not implemented by the Redshift double (use clear text, md5 or sha256|password)', '0A000');
    const problem = passwordProblem(sha[1]!);
    if (problem) throw new RsError(problem, 'XX000');
    return { disable: false, sql: lit(sha[1]!) };
  }
  const problem = passwordProblem(v);
  if (problem) throw new RsError(problem, 'XX000');
  return { disable: false, sql: lit(v) };
}

function int(c: TokenCursor): number {
  const t = c.next();
  if (t.type === 'number' && /^\d+$/.test(t.text)) return Number(t.text);
  throw syntaxAt(t);
}

/** VALID UNTIL's timestamp ('infinity' included): Postgres checks it. */
function validUntil(v: string): string {
  return lit(v);
}

function userName(c: TokenCursor): string {
  const t = c.peek();
  const name = c.ident();
  if (t?.type === 'word' && name === 'public') throw new RsError('user name "public" is reserved', '42939');
  return name;
}

interface UserOptions {
  checks: IdentityCheck[];
  pg: string[];
  after: string[];
  password: Password | null;
  superuser: boolean | null;
}

/** The options CREATE USER and ALTER USER share (space or comma separated, any order). */
function readUserOptions(c: TokenCursor, user: string, creating: boolean): UserOptions {
  const o: UserOptions = { checks: [], pg: [], after: [], password: null, superuser: null };
  const seen = new Set<string>();
  const once = (k: string) => {
    if (seen.has(k)) throw new RsError('conflicting or redundant options', '42601');
    seen.add(k);
  };
  while (!c.done()) {
    c.acceptOp(',');
    const t = c.peek();
    if (c.acceptWord('password')) {
      once('password');
      o.password = readPassword(c);
      o.pg.push(o.password.disable ? 'PASSWORD NULL' : `PASSWORD ${o.password.sql}`);
    } else if (c.acceptWord('createdb') || c.acceptWord('nocreatedb')) {
      once('createdb');
      o.pg.push(t!.value === 'createdb' ? 'CREATEDB' : 'NOCREATEDB');
    } else if (c.acceptWord('createuser') || c.acceptWord('nocreateuser')) {
      // CREATEUSER makes a superuser (r_CREATE_USER.html, r_superusers.html).
      once('createuser');
      o.superuser = t!.value === 'createuser';
      o.pg.push(o.superuser ? 'SUPERUSER' : 'NOSUPERUSER');
    } else if (c.acceptWord('syslog')) {
      once('syslog');
      c.expectWord('access');
      const v = c.acceptWord('restricted') ? 'RESTRICTED' : c.acceptWord('unrestricted') ? 'UNRESTRICTED' : null;
      if (!v) throw syntaxAt(c.peek());
      o.after.push(setting(user, 'syslog_access', v));
    } else if (c.acceptWord('in')) {
      if (!creating) throw syntaxError(t!.text);
      once('group');
      c.expectWord('group');
      const groups = [c.ident()];
      // a comma then an option keyword ends the list (ALTER USER separates options by commas)
      while (c.isOp(',') && !isUserOption(c.peek(1))) {
        c.next();
        groups.push(c.ident());
      }
      for (const g of groups) {
        o.checks.push({ name: g, kind: 'group' });
        o.after.push(`GRANT ${q(g)} TO ${q(user)}`);
      }
    } else if (c.acceptWord('valid')) {
      once('valid');
      c.expectWord('until');
      o.pg.push(`VALID UNTIL ${validUntil(str(c))}`);
    } else if (c.acceptWord('connection')) {
      once('connection');
      c.expectWord('limit');
      o.pg.push(`CONNECTION LIMIT ${c.acceptWord('unlimited') ? -1 : int(c)}`);
    } else if (c.acceptWord('session')) {
      once('session');
      c.expectWord('timeout');
      const n = int(c);
      if (n < 60 || n > 1_728_000) throw new RsError('SESSION TIMEOUT must be between 60 and 1728000 seconds', 'XX000');
      o.after.push(setting(user, 'session_timeout', String(n)));
    } else if (!creating && c.acceptWord('reset', 'session', 'timeout')) {
      once('session');
      o.after.push(resetSetting(user, 'session_timeout'));
    } else if (c.isWord('externalid')) {
      throw new RsError('EXTERNALID (identity provider federation) is not implemented by the Redshift double', '0A000');
    } else throw syntaxAt(c.peek());
  }
  if (o.password?.disable && o.superuser) throw new RsError("can't disable the password of a superuser", 'XX000');
  return o;
}

const USER_OPTION_WORDS = new Set(['password', 'createdb', 'nocreatedb', 'createuser', 'nocreateuser', 'syslog', 'in', 'valid', 'connection', 'session', 'externalid']);
function isUserOption(t: Token | undefined): boolean {
  return !!t && t.type === 'word' && USER_OPTION_WORDS.has(t.value);
}

/** CREATE USER name [WITH] PASSWORD {...|DISABLE} [options]. */
function createUser(c: TokenCursor): AccountCommand {
  const name = userName(c);
  c.acceptWord('with');
  if (!c.isWord('password')) throw syntaxAt(c.peek());
  const o = readUserOptions(c, name, true);
  return { kind: 'account', tag: 'CREATE USER', checks: [{ name, kind: 'absent' }, ...o.checks], steps: [`CREATE ROLE ${q(name)} LOGIN ${o.pg.join(' ')}`, ...o.after] };
}

/** ALTER USER name [WITH] option [, ...] | RENAME TO new | SET parameter {TO|=} {value|DEFAULT} | RESET parameter. */
function alterUser(c: TokenCursor): AccountCommand | null {
  const name = c.ident();
  const check: IdentityCheck = { name, kind: 'user' };
  if (c.acceptWord('rename')) {
    c.expectWord('to');
    const to = userName(c);
    if (!c.done()) throw syntaxAt(c.peek());
    // The user name salts the stored password, so a rename clears it (r_ALTER_USER.html).
    return {
      kind: 'account',
      tag: 'ALTER USER',
      checks: [check, { name: to, kind: 'absent' }],
      steps: [`ALTER ROLE ${q(name)} RENAME TO ${q(to)}`, `ALTER ROLE ${q(to)} PASSWORD NULL`],
      notice: 'the password was cleared by the rename: set a new one with ALTER USER ... PASSWORD',
    };
  }
  if (c.isWord('set') || c.isWord('reset')) {
    // A user default of enable_case_sensitive_identifier is a session setting the identifier
    // folding reads at login; it is not stored here (Postgres refuses it as unknown).
    const t = c.peek(1);
    if ((t?.type === 'word' || t?.type === 'qident') && t.value === 'enable_case_sensitive_identifier') return null;
  }
  if (c.acceptWord('set')) {
    const param = c.ident();
    if (!c.acceptOp('=')) c.expectWord('to');
    let value: ParameterValue | null;
    if (c.acceptWord('default')) value = null;
    else {
      value = { text: [], sql: [] };
      do {
        const t = c.next();
        if (t.type === 'string') value.sql.push(lit(t.value));
        else if (t.type === 'number') value.sql.push(t.text);
        else if (t.type === 'word' || t.type === 'qident') value.sql.push(ident(t.value));
        else throw syntaxAt(t);
        value.text.push(t.type === 'word' ? t.text : t.value);
      } while (c.acceptOp(','));
    }
    if (!c.done()) throw syntaxAt(c.peek());
    return { kind: 'account', tag: 'ALTER USER', checks: [check], steps: [parameterSql(name, param, value)] };
  }
  if (c.isWord('reset') && !(c.isWord('session', 1) && c.isWord('timeout', 2))) {
    c.next();
    const param = c.ident();
    if (!c.done()) throw syntaxAt(c.peek());
    return { kind: 'account', tag: 'ALTER USER', checks: [check], steps: [parameterSql(name, param, null)] };
  }
  c.acceptWord('with');
  if (c.done()) throw syntaxAt(undefined);
  const o = readUserOptions(c, name, false);
  const steps = [...(o.pg.length ? [`ALTER ROLE ${q(name)} ${o.pg.join(' ')}`] : []), ...o.after];
  if (o.password?.disable && o.superuser === null) {
    steps.unshift(`DO $rsdbl$ BEGIN IF (SELECT rolsuper FROM pg_roles WHERE rolname = ${lit(name)}) THEN RAISE EXCEPTION 'can''t disable the password of a superuser'; END IF; END $rsdbl$`);
  }
  return { kind: 'account', tag: 'ALTER USER', checks: [check, ...o.checks], steps };
}

/** A SET value: its items as text (for the double's settings) and as SQL (for Postgres's parameters). */
export interface ParameterValue {
  text: string[];
  sql: string[];
}

/** ALTER USER ... SET/RESET: Postgres's parameters as they are, Redshift-only ones as role settings. */
export function parameterSql(user: string, param: string, value: ParameterValue | null): string {
  if (POSTGRES_PARAMETERS.has(param)) return value === null ? `ALTER ROLE ${q(user)} RESET ${param}` : `ALTER ROLE ${q(user)} SET ${param} = ${value.sql.join(', ')}`;
  if (!REDSHIFT_PARAMETERS.has(param)) throw new RsError(`unrecognized configuration parameter "${param}"`, '42704');
  const text = value?.text.join(', ');
  if (text !== undefined && param === 'wlm_query_slot_count' && !(/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 50))
    throw new RsError(`invalid value for parameter "wlm_query_slot_count": "${text}" (1 to 50)`, '22023');
  return text === undefined ? resetSetting(user, param) : setting(user, param, text);
}

/** CREATE GROUP name [[WITH] USER u [, ...]]: names starting with __ are reserved. */
function createGroup(c: TokenCursor): AccountCommand {
  const name = c.ident();
  if (name.startsWith('__')) throw new RsError(`group name "${name}" is reserved: names beginning with two underscores are for Amazon Redshift`, '42939');
  c.acceptWord('with');
  const users: string[] = [];
  if (c.acceptWord('user')) {
    users.push(c.ident());
    while (c.acceptOp(',')) users.push(c.ident());
  }
  if (!c.done()) throw syntaxAt(c.peek());
  return {
    kind: 'account',
    tag: 'CREATE GROUP',
    checks: [{ name, kind: 'absent' }, ...users.map((u) => ({ name: u, kind: 'user' as const }))],
    steps: [`CREATE ROLE ${q(name)} NOLOGIN`, ...users.map((u) => `GRANT ${q(name)} TO ${q(u)}`)],
  };
}

/** ALTER GROUP name { ADD USER u [, ...] | DROP USER u [, ...] | RENAME TO new }. */
function alterGroup(c: TokenCursor): AccountCommand {
  const name = c.ident();
  const check: IdentityCheck = { name, kind: 'group' };
  if (c.acceptWord('rename')) {
    c.expectWord('to');
    const to = c.ident();
    if (to.startsWith('__')) throw new RsError(`group name "${to}" is reserved: names beginning with two underscores are for Amazon Redshift`, '42939');
    if (!c.done()) throw syntaxAt(c.peek());
    return { kind: 'account', tag: 'ALTER GROUP', checks: [check, { name: to, kind: 'absent' }], steps: [`ALTER ROLE ${q(name)} RENAME TO ${q(to)}`] };
  }
  const add = c.acceptWord('add');
  if (!add) c.expectWord('drop');
  c.expectWord('user');
  const users = [c.ident()];
  while (c.acceptOp(',')) users.push(c.ident());
  if (!c.done()) throw syntaxAt(c.peek());
  return {
    kind: 'account',
    tag: 'ALTER GROUP',
    checks: [check, ...users.map((u) => ({ name: u, kind: 'user' as const }))],
    steps: users.map((u) => (add ? `GRANT ${q(name)} TO ${q(u)}` : `REVOKE ${q(name)} FROM ${q(u)}`)),
  };
}

/** DROP USER [IF EXISTS] name [, ...] and DROP GROUP name: only identities of that kind. */
function dropIdentity(c: TokenCursor, kind: 'user' | 'group' | 'role'): AccountCommand {
  const ifExists = kind === 'user' && c.acceptWord('if', 'exists');
  const names = [c.ident()];
  while (c.acceptOp(',')) names.push(c.ident());
  if (kind === 'role' && (c.acceptWord('force') || c.acceptWord('restrict'))) {
    /* FORCE/RESTRICT: Postgres's DROP ROLE refuses a role that is still granted anything, like RESTRICT */
  }
  if (!c.done()) throw syntaxAt(c.peek());
  return {
    kind: 'account',
    tag: `DROP ${kind.toUpperCase()}`,
    checks: ifExists ? [] : names.map((n) => ({ name: n, kind })),
    steps: [`DROP ROLE ${ifExists ? 'IF EXISTS ' : ''}${names.map(q).join(', ')}`],
  };
}

/** CREATE ROLE name (a Redshift role: a NOLOGIN Postgres role with the kind setting). */
function createRole(c: TokenCursor): AccountCommand {
  const name = c.ident();
  if (c.isWord('externalid')) throw new RsError('EXTERNALID (identity provider federation) is not implemented by the Redshift double', '0A000');
  if (!c.done()) throw syntaxAt(c.peek());
  return {
    kind: 'account',
    tag: 'CREATE ROLE',
    checks: [{ name, kind: 'absent' }],
    steps: [
      `CREATE ROLE ${q(name)} NOLOGIN`,
      setting(name, 'kind', 'role'),
      `DO $rsdbl$ BEGIN EXECUTE format('ALTER ROLE %I SET ${SETTING_PREFIX}role_owner = %L', ${lit(name)}, session_user); END $rsdbl$`,
    ],
  };
}

/** ALTER ROLE name { RENAME TO new | OWNER TO user }. */
function alterRole(c: TokenCursor): AccountCommand {
  const name = c.ident();
  c.acceptWord('with');
  if (c.acceptWord('rename')) {
    c.expectWord('to');
    const to = c.ident();
    if (!c.done()) throw syntaxAt(c.peek());
    return { kind: 'account', tag: 'ALTER ROLE', checks: [{ name, kind: 'role' }, { name: to, kind: 'absent' }], steps: [`ALTER ROLE ${q(name)} RENAME TO ${q(to)}`] };
  }
  if (c.acceptWord('owner')) {
    c.expectWord('to');
    const owner = c.ident();
    if (!c.done()) throw syntaxAt(c.peek());
    return { kind: 'account', tag: 'ALTER ROLE', checks: [{ name, kind: 'role' }, { name: owner, kind: 'user' }], steps: [setting(name, 'role_owner', owner)] };
  }
  if (c.isWord('externalid')) throw new RsError('EXTERNALID (identity provider federation) is not implemented by the Redshift double', '0A000');
  throw syntaxAt(c.peek());
}

/** CREATE/ALTER/DROP USER, GROUP and ROLE; null for other statements. */
export function parseAccountStatement(sql: string, words: readonly string[]): AccountCommand | null {
  const verb = words[0];
  const what = words[1];
  if (!((verb === 'create' || verb === 'alter' || verb === 'drop') && (what === 'user' || what === 'group' || what === 'role'))) return null;
  const c = new TokenCursor(significant(tokenize(sql)), sql);
  c.next();
  c.next();
  if (verb === 'create') return what === 'user' ? createUser(c) : what === 'group' ? createGroup(c) : createRole(c);
  if (verb === 'alter') return what === 'user' ? alterUser(c) : what === 'group' ? alterGroup(c) : alterRole(c);
  return dropIdentity(c, what);
}

/** The kind of each named identity (users, groups, Redshift roles); missing names are absent. */
export async function identityKinds(ctx: CommandContext, names: readonly string[]): Promise<Map<string, IdentityKind>> {
  if (names.length === 0) return new Map();
  const r = await ctx.query(`SELECT rolname, redshift_double.identity_kind(oid) FROM pg_roles WHERE rolname IN (${[...new Set(names)].map(lit).join(', ')})`);
  return new Map(r.rows.map(([n, k]) => [n!, k as IdentityKind]));
}

/** Redshift's wording for a name that is not of the kind the statement needs. */
export function checkIdentities(checks: readonly IdentityCheck[], kinds: Map<string, IdentityKind>): void {
  for (const ch of checks) {
    const k = kinds.get(ch.name);
    if (ch.kind === 'absent') {
      if (k) throw new RsError(`${k} "${ch.name}" already exists`, '42710');
    } else if (k !== ch.kind) {
      throw new RsError(`${ch.kind} "${ch.name}" does not exist`, '42704');
    }
  }
}

/** Runs the checks, then the steps: in the client's transaction, or as one transaction of their own. */
export async function runChecked(ctx: CommandContext, tag: string, checks: readonly IdentityCheck[], steps: readonly string[], notice?: string): Promise<CommandResult> {
  checkIdentities(checks, await identityKinds(ctx, checks.map((c) => c.name)));
  if (ctx.txStatus() === 'I' && steps.length > 1) {
    try {
      await ctx.query(`BEGIN; ${steps.join('; ')}; COMMIT`);
    } catch (e) {
      if (ctx.txStatus() !== 'I') await ctx.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  } else for (const s of steps) await ctx.query(s);
  if (notice) ctx.notice(notice, 'NOTICE');
  return { tag };
}

export function runAccount(ctx: CommandContext, cmd: AccountCommand): Promise<CommandResult> {
  return runChecked(ctx, cmd.tag, cmd.checks, cmd.steps, cmd.notice);
}
