import { randomBytes } from 'node:crypto';
import { quoteIdent, quoteIdents, quoteLiteral } from '../sql/quote.js';
import { batchOf, type Batch } from './batch.js';

/**
 * Users, groups and a warehouse's initial layout. Pure builders. The SQL they return
 * contains passwords (it is the user's own output); anything logged goes through
 * `redactSql`, which masks them.
 */
export class UserError extends Error {
  override name = 'UserError';
}

/** Printable ASCII (33-126) minus the characters Redshift forbids in passwords: ' " \ / @ (and space, 32). */
export const PASSWORD_ALPHABET = Array.from({ length: 126 - 33 + 1 }, (_, i) => String.fromCharCode(33 + i))
  .filter((ch) => !`'"\\/@`.includes(ch))
  .join('');

/**
 * The unreserved characters of URLs (RFC 3986): letters, digits, - . _ ~. A password drawn
 * from them can be pasted into a connection string (postgres://user:PASSWORD@host/db) as
 * it is; `#`, `?`, `%`, `:`, `&`, `/`, `@` would end or corrupt the URL's user info.
 */
export const URL_SAFE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';

/** Redshift's password rules: 8-64 characters, an upper, a lower and a digit, no ' " \ / @ or space. */
export function checkPassword(p: string): string | null {
  if (p.length < 8 || p.length > 64) return 'must be 8 to 64 characters';
  if (!/[A-Z]/.test(p)) return 'needs an upper-case letter';
  if (!/[a-z]/.test(p)) return 'needs a lower-case letter';
  if (!/[0-9]/.test(p)) return 'needs a digit';
  if (/[^\x21-\x7e]/.test(p) || /['"\\/@]/.test(p)) return `may only use printable ASCII other than ' " \\ / @ and space`;
  return null;
}

/**
 * A random password from node:crypto. Each character is drawn uniformly (bytes at or above
 * the largest multiple of the alphabet size are rejected, so there is no modulo bias);
 * passwords missing an upper, a lower or a digit are rejected whole and drawn again.
 * URL-safe by default (24 characters of 66: about 145 bits); `printable` draws from every
 * character Redshift allows.
 */
export function randomPassword(length = 24, opts: { alphabet?: 'url-safe' | 'printable' } = {}): string {
  if (!Number.isInteger(length) || length < 8 || length > 64) throw new UserError('password length must be a whole number from 8 to 64');
  const alphabet = opts.alphabet === 'printable' ? PASSWORD_ALPHABET : URL_SAFE_ALPHABET;
  const n = alphabet.length;
  const limit = 256 - (256 % n);
  for (;;) {
    let out = '';
    while (out.length < length) {
      for (const b of randomBytes(length * 2)) {
        if (b >= limit) continue;
        out += alphabet[b % n];
        if (out.length === length) break;
      }
    }
    if (checkPassword(out) === null) return out;
  }
}

/**
 * Session parameter names and values written into SET (values are quoted as literals unless
 * numeric). search_path is a list: each schema is its own literal (one literal would name a
 * single schema "a, b", r_search_path.html).
 */
function setParam(name: string, value: string | number | null): string {
  if (!/^[a-z_][a-z0-9_.]*$/i.test(name)) throw new UserError(`not a parameter name: ${JSON.stringify(name)}`);
  if (value === null) return `RESET ${name}`;
  if (name.toLowerCase() === 'search_path' && typeof value === 'string' && value.toUpperCase() !== 'DEFAULT') {
    const schemas = value.split(',').map((x) => x.trim()).filter(Boolean);
    if (schemas.length === 0) throw new UserError('search_path needs at least one schema');
    return `SET ${name} TO ${schemas.map(quoteLiteral).join(', ')}`;
  }
  const v = typeof value === 'number' || /^-?\d+(\.\d+)?$/.test(value) ? String(value) : value.toUpperCase() === 'DEFAULT' ? 'DEFAULT' : quoteLiteral(value);
  return `SET ${name} TO ${v}`;
}

function passwordClause(p: string | false): string {
  if (p === false) return 'PASSWORD DISABLE';
  if (!/^md5[0-9a-f]{32}$/.test(p) && !/^sha256\|/.test(p)) {
    const problem = checkPassword(p);
    if (problem) throw new UserError(`password ${problem}`);
  }
  return `PASSWORD ${quoteLiteral(p)}`;
}

function validUntil(v: string | Date): string {
  const text = v instanceof Date ? v.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '+00') : v;
  if (!/^[0-9A-Za-z :+\-.]+$/.test(text)) throw new UserError(`not a timestamp: ${JSON.stringify(text)}`);
  return `VALID UNTIL ${quoteLiteral(text)}`;
}

export interface CreateUserOptions {
  /** A password, an md5 hash (`md5...`), or false for PASSWORD DISABLE. Required by Redshift. */
  password: string | false;
  validUntil?: string | Date;
  createdb?: boolean;
  /** CREATEUSER: a superuser. */
  createuser?: boolean;
  groups?: string[];
  connectionLimit?: number | 'UNLIMITED';
  /** ALTER USER ... SET for each, e.g. { wlm_query_slot_count: 3, search_path: 'etl, public' }. */
  set?: Record<string, string | number>;
}

export function createUserBatch(name: string, o: CreateUserOptions): Batch {
  const parts = [`CREATE USER ${quoteIdent(name)} ${passwordClause(o.password)}`];
  if (o.createdb !== undefined) parts.push(o.createdb ? 'CREATEDB' : 'NOCREATEDB');
  if (o.createuser !== undefined) parts.push(o.createuser ? 'CREATEUSER' : 'NOCREATEUSER');
  if (o.groups?.length) parts.push(`IN GROUP ${quoteIdents(o.groups)}`);
  if (o.validUntil !== undefined) parts.push(validUntil(o.validUntil));
  if (o.connectionLimit !== undefined) parts.push(`CONNECTION LIMIT ${connectionLimit(o.connectionLimit)}`);
  return batchOf(parts.join(' '), Object.entries(o.set ?? {}).map(([k, v]) => `ALTER USER ${quoteIdent(name)} ${setParam(k, v)}`));
}

function connectionLimit(v: number | 'UNLIMITED'): string {
  if (v === 'UNLIMITED') return v;
  if (!Number.isInteger(v) || v < 0) throw new UserError('connection limit must be a whole number or UNLIMITED');
  return String(v);
}

export interface AlterUserOptions {
  password?: string | false;
  validUntil?: string | Date;
  createdb?: boolean;
  createuser?: boolean;
  connectionLimit?: number | 'UNLIMITED';
  /** Session parameters: a value sets it, null resets it. */
  set?: Record<string, string | number | null>;
  addGroups?: string[];
  removeGroups?: string[];
  /**
   * Renames the user, first: Redshift clears the password on a rename (the name salts it,
   * r_ALTER_USER.html), so the other changes, a new password included, apply to the new name.
   * An `md5...` hash must then be computed with the new name.
   */
  renameTo?: string;
}

export function alterUserBatch(name: string, o: AlterUserOptions): Batch {
  const out: string[] = [];
  if (o.renameTo !== undefined) out.push(`ALTER USER ${quoteIdent(name)} RENAME TO ${quoteIdent(o.renameTo)}`);
  const user = quoteIdent(o.renameTo ?? name);
  const opts: string[] = [];
  if (o.password !== undefined) opts.push(passwordClause(o.password));
  if (o.createdb !== undefined) opts.push(o.createdb ? 'CREATEDB' : 'NOCREATEDB');
  if (o.createuser !== undefined) opts.push(o.createuser ? 'CREATEUSER' : 'NOCREATEUSER');
  if (o.validUntil !== undefined) opts.push(validUntil(o.validUntil));
  if (o.connectionLimit !== undefined) opts.push(`CONNECTION LIMIT ${connectionLimit(o.connectionLimit)}`);
  if (opts.length) out.push(`ALTER USER ${user} ${opts.join(' ')}`);
  for (const [k, v] of Object.entries(o.set ?? {})) out.push(`ALTER USER ${user} ${setParam(k, v)}`);
  for (const g of o.addGroups ?? []) out.push(`ALTER GROUP ${quoteIdent(g)} ADD USER ${user}`);
  for (const g of o.removeGroups ?? []) out.push(`ALTER GROUP ${quoteIdent(g)} DROP USER ${user}`);
  if (out.length === 0) throw new UserError('nothing to change');
  return batchOf(out);
}

export interface InitWarehouseOptions {
  /** One schema per source system. */
  schemas: string[];
  /** The owner/ETL user: owns the schemas and writes the tables. Created when `etlPassword` is given. */
  etlUser: string;
  etlPassword?: string;
  etlGroup?: string;
  readersGroup?: string;
  /** Extra users put in the readers group. */
  readers?: string[];
}

/**
 * A warehouse's initial layout: an ETL group (read-write), a readers group (read-only),
 * the ETL user (owner of every schema, in the ETL group), one schema per source, grants on
 * what exists and default privileges for what the ETL user creates later.
 */
export function initWarehouseBatch(o: InitWarehouseOptions): Batch {
  if (o.schemas.length === 0) throw new UserError('init-warehouse needs at least one schema');
  const etlGroup = quoteIdent(o.etlGroup ?? 'etl');
  const readers = quoteIdent(o.readersGroup ?? 'readers');
  const etl = quoteIdent(o.etlUser);
  const out: string[] = [`CREATE GROUP ${etlGroup}`, `CREATE GROUP ${readers}`];
  if (o.etlPassword !== undefined) out.push(...createUserBatch(o.etlUser, { password: o.etlPassword, groups: [o.etlGroup ?? 'etl'] }).statements.map((s) => s.sql));
  else out.push(`ALTER GROUP ${etlGroup} ADD USER ${etl}`);
  for (const r of o.readers ?? []) out.push(`ALTER GROUP ${readers} ADD USER ${quoteIdent(r)}`);
  for (const s of o.schemas) {
    const schema = quoteIdent(s);
    out.push(
      `CREATE SCHEMA IF NOT EXISTS ${schema} AUTHORIZATION ${etl}`,
      `GRANT ALL ON SCHEMA ${schema} TO GROUP ${etlGroup}`,
      `GRANT USAGE ON SCHEMA ${schema} TO GROUP ${readers}`,
      `GRANT ALL ON ALL TABLES IN SCHEMA ${schema} TO GROUP ${etlGroup}`,
      `GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO GROUP ${readers}`,
      `ALTER DEFAULT PRIVILEGES FOR USER ${etl} IN SCHEMA ${schema} GRANT ALL ON TABLES TO GROUP ${etlGroup}`,
      `ALTER DEFAULT PRIVILEGES FOR USER ${etl} IN SCHEMA ${schema} GRANT SELECT ON TABLES TO GROUP ${readers}`,
    );
  }
  return batchOf(out);
}
