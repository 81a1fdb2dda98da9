import { qualify, quoteIdent, quoteIdents, quoteLiteral } from '../sql/quote.js';
import { REDSHIFT_CSV_OPTIONS } from '../sync/encoding.js';
import { copyCompressionOption, type Compression } from '../sync/compress.js';

/**
 * Every statement the sync engine sends to Redshift is built here (and snapshot-tested in
 * test/redshift-sql.test.ts). Pure functions: names in, SQL text out.
 */
export interface TableRef {
  schema: string;
  name: string;
}

export const ref = (t: TableRef) => qualify(t.schema, t.name);

export type CopyAuth = { iamRole: string } | { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

/** A table, or a session's temp table by bare name. */
export type TableOrTemp = TableRef | { name: string; temp: true };

const tableSql = (t: TableOrTemp) => ('temp' in t ? quoteIdent(t.name) : ref(t));

export interface CopyOptions {
  table: TableOrTemp;
  columns: readonly string[];
  manifestUrl: string;
  auth: CopyAuth;
  /** How the files were compressed (ZSTD or GZIP in the COPY). */
  compression: Compression;
  region?: string;
}

function authClause(auth: CopyAuth): string {
  if ('iamRole' in auth) return `IAM_ROLE ${quoteLiteral(auth.iamRole)}`;
  const parts = [`aws_access_key_id=${auth.accessKeyId}`, `aws_secret_access_key=${auth.secretAccessKey}`];
  if (auth.sessionToken) parts.push(`token=${auth.sessionToken}`);
  return `CREDENTIALS ${quoteLiteral(parts.join(';'))}`;
}

/**
 * The load: one COPY over a manifest of zstd or gzip CSV files in the dialect of
 * src/sync/encoding.ts, so NULL and '' both survive (see README, Encoding).
 */
export function copyFromManifest(o: CopyOptions): string {
  const target = tableSql(o.table);
  const lines = [
    `COPY ${target} (${quoteIdents(o.columns)})`,
    `FROM ${quoteLiteral(o.manifestUrl)}`,
    authClause(o.auth),
    `MANIFEST ${copyCompressionOption(o.compression)} ${REDSHIFT_CSV_OPTIONS}`,
    `TIMEFORMAT 'auto' DATEFORMAT 'auto' COMPUPDATE OFF STATUPDATE OFF`,
  ];
  if (o.region) lines.push(`REGION ${quoteLiteral(o.region)}`);
  return lines.join('\n');
}

/** Rows loaded by this session's last COPY (checked against the rows extracted). */
export function lastCopyCount(): string {
  return 'SELECT pg_last_copy_count() AS n';
}

export function createStagingTable(staging: string, target: TableRef): string {
  return `CREATE TEMP TABLE ${quoteIdent(staging)} (LIKE ${ref(target)})`;
}

export function dropTempTable(name: string): string {
  return `DROP TABLE IF EXISTS ${quoteIdent(name)}`;
}

export function lockTable(target: TableRef): string {
  return `LOCK ${ref(target)}`;
}

/**
 * Deletes the target rows whose keys are in staging. A single-column key uses the IN form,
 * which Redshift plans well even when the key is not the dist key; composite keys join.
 */
export function deleteMatchingKeys(target: TableRef, staging: string, key: readonly string[]): string {
  if (key.length === 0) throw new Error('deleteMatchingKeys needs a key');
  if (key.length === 1) {
    const k = quoteIdent(key[0]!);
    return `DELETE FROM ${ref(target)} WHERE ${k} IN (SELECT ${k} FROM ${quoteIdent(staging)})`;
  }
  const cond = key.map((k) => `${ref(target)}.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' AND ');
  return `DELETE FROM ${ref(target)} USING ${quoteIdent(staging)} s WHERE ${cond}`;
}

/**
 * Keys that occur more than once, or hold a NULL, in a loaded batch (staging or swap
 * table): at most 5, the most repeated first. The loader keeps one row per key, so a key
 * that is not unique at the source would lose rows silently; this makes it an error.
 */
export function keyProblems(table: TableOrTemp, key: readonly string[]): string {
  if (key.length === 0) throw new Error('keyProblems needs a key');
  const ks = quoteIdents(key);
  const nulls = key.map((k) => `${quoteIdent(k)} IS NULL`).join(' OR ');
  return [
    `SELECT ${ks}, n FROM (`,
    `  SELECT ${ks}, COUNT(*) AS n FROM ${tableSql(table)} GROUP BY ${ks}`,
    `) d WHERE n > 1 OR ${nulls}`,
    `ORDER BY n DESC LIMIT 5`,
  ].join('\n');
}

export function insertAll(target: TableRef, staging: string, columns: readonly string[]): string {
  const cols = quoteIdents(columns);
  return `INSERT INTO ${ref(target)} (${cols}) SELECT ${cols} FROM ${quoteIdent(staging)}`;
}

export function createTableLike(table: TableRef, like: TableRef): string {
  return `CREATE TABLE ${ref(table)} (LIKE ${ref(like)})`;
}

export function dropTable(table: TableRef): string {
  return `DROP TABLE IF EXISTS ${ref(table)}`;
}

export function renameTable(table: TableRef, newName: string): string {
  return `ALTER TABLE ${ref(table)} RENAME TO ${quoteIdent(newName)}`;
}

export function setOwner(table: TableRef, owner: string): string {
  return `ALTER TABLE ${ref(table)} OWNER TO ${quoteIdent(owner)}`;
}

export interface Grant {
  grantee: string;
  isGroup: boolean;
  privileges: string[];
}

export function grant(table: TableRef, g: Grant): string {
  const who = g.grantee === 'PUBLIC' ? 'PUBLIC' : g.isGroup ? `GROUP ${quoteIdent(g.grantee)}` : quoteIdent(g.grantee);
  return `GRANT ${g.privileges.join(', ')} ON ${ref(table)} TO ${who}`;
}

/** The owner and ACL of a table, to carry them over a swap (aclitem text form). */
export function tableOwnerAndAcl(): string {
  return `SELECT pg_get_userbyid(c.relowner) AS owner, array_to_string(c.relacl, chr(10)) AS acl
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r'`;
}

/** Columns of a target table, in order. */
export function targetColumns(): string {
  return `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`;
}

export function loadErrorsForLastCopy(): string {
  return `SELECT TRIM(filename) AS filename, line_number, TRIM(colname) AS colname, TRIM(type) AS type,
       TRIM(raw_field_value) AS raw_field_value, err_code, TRIM(err_reason) AS err_reason
FROM stl_load_errors WHERE query = pg_last_copy_id() ORDER BY starttime DESC, line_number LIMIT 10`;
}

export function recentLoadErrors(): string {
  return `SELECT TRIM(filename) AS filename, line_number, TRIM(colname) AS colname, TRIM(type) AS type,
       TRIM(raw_field_value) AS raw_field_value, err_code, TRIM(err_reason) AS err_reason
FROM stl_load_errors WHERE TRIM(filename) LIKE $1 ORDER BY starttime DESC LIMIT 10`;
}

/** Parses `user=arwdDxt/owner` aclitems (and `group g=r/owner`) into GRANT specs. */
export function parseAcl(acl: string | null, owner: string): Grant[] {
  if (!acl) return [];
  const map: Record<string, string> = { r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE', D: 'TRUNCATE', x: 'REFERENCES', t: 'TRIGGER', R: 'RULE' };
  const out: Grant[] = [];
  for (const raw of acl.split('\n').map((s) => s.trim()).filter(Boolean)) {
    const m = raw.match(/^(group )?(.*)=([a-zA-Z*]*)\/.*$/);
    if (!m) continue;
    let grantee = m[2]!;
    if (grantee.startsWith('"') && grantee.endsWith('"')) grantee = grantee.slice(1, -1).replace(/""/g, '"');
    if (grantee === owner) continue;
    const privileges = [...m[3]!.replace(/\*/g, '')].map((ch) => map[ch]).filter((p): p is string => !!p);
    if (privileges.length === 0) continue;
    out.push({ grantee: grantee === '' ? 'PUBLIC' : grantee, isGroup: !!m[1], privileges });
  }
  return out;
}
