import { qualify, quoteIdent, quoteIdents, quoteLiteral } from '../sql/quote.js';
import { REDSHIFT_CSV_OPTIONS } from './csv.js';
import { copyCompressionOption, type Compression } from './compression.js';

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
 * src/redshift/csv.ts, so NULL and '' both survive (see README, Encoding).
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
 * A key column, and whether it holds character data. Redshift compares CHAR and VARCHAR
 * values ignoring trailing blanks (r_Character_types.html: 'abc' = 'abc  '), so two
 * source keys that differ only by trailing blanks would match each other; for character
 * columns the byte length (OCTET_LENGTH, which counts the blanks) is part of every match.
 */
export interface KeyColumn {
  name: string;
  text: boolean;
}

/** `a.k = b.k [AND OCTET_LENGTH(a.k) = OCTET_LENGTH(b.k)] AND ...` */
export function keyMatch(a: string, b: string, key: readonly KeyColumn[]): string {
  return key
    .map((k) => {
      const x = `${a}.${quoteIdent(k.name)}`;
      const y = `${b}.${quoteIdent(k.name)}`;
      return k.text ? `${x} = ${y} AND OCTET_LENGTH(${x}) = OCTET_LENGTH(${y})` : `${x} = ${y}`;
    })
    .join(' AND ');
}

/**
 * Deletes the target rows whose keys are in staging. With an updated key, only rows that
 * are not newer than the staged row of their key: a merge never replaces a row with an
 * older version of it. A single non-character key without an updated key uses the IN
 * form, which Redshift plans well even when the key is not the dist key.
 */
export function deleteMatchingKeys(target: TableRef, staging: string, key: readonly KeyColumn[], updatedKey: string | null = null): string {
  if (key.length === 0) throw new Error('deleteMatchingKeys needs a key');
  if (key.length === 1 && !key[0]!.text && !updatedKey) {
    const k = quoteIdent(key[0]!.name);
    return `DELETE FROM ${ref(target)} WHERE ${k} IN (SELECT ${k} FROM ${quoteIdent(staging)})`;
  }
  const t = ref(target);
  const newer = updatedKey ? ` AND ${t}.${quoteIdent(updatedKey)} <= s.${quoteIdent(updatedKey)}` : '';
  return `DELETE FROM ${t} USING ${quoteIdent(staging)} s WHERE ${keyMatch(t, 's', key)}${newer}`;
}

/**
 * Inserts the staged rows. With an updated key, a staged row whose key still has a target
 * row (one newer than it, which the delete kept) is not inserted.
 */
export function insertStaged(target: TableRef, staging: string, columns: readonly string[], key: readonly KeyColumn[], updatedKey: string | null): string {
  const cols = quoteIdents(columns);
  if (!updatedKey) return `INSERT INTO ${ref(target)} (${cols}) SELECT ${cols} FROM ${quoteIdent(staging)}`;
  return [
    `INSERT INTO ${ref(target)} (${cols})`,
    `SELECT ${columns.map((c) => `s.${quoteIdent(c)}`).join(', ')} FROM ${quoteIdent(staging)} s`,
    `WHERE NOT EXISTS (SELECT 1 FROM ${ref(target)} t WHERE ${keyMatch('t', 's', key)})`,
  ].join('\n');
}

/**
 * Keys that occur more than once, or hold a NULL, in a loaded batch (staging or swap
 * table): at most 5, the most repeated first. The loader keeps one row per key, so a key
 * that is not unique at the source would lose rows silently; this makes it an error.
 */
export function keyProblems(table: TableOrTemp, key: readonly KeyColumn[]): string {
  if (key.length === 0) throw new Error('keyProblems needs a key');
  const ks = quoteIdents(key.map((k) => k.name));
  // Character keys that differ only by trailing blanks are different keys (see KeyColumn).
  const lengths = key.filter((k) => k.text).map((k) => `OCTET_LENGTH(${quoteIdent(k.name)})`);
  const groupBy = [ks, ...lengths].join(', ');
  const nulls = key.map((k) => `${quoteIdent(k.name)} IS NULL`).join(' OR ');
  return [
    `SELECT ${ks}, n FROM (`,
    `  SELECT ${ks}, COUNT(*) AS n FROM ${tableSql(table)} GROUP BY ${groupBy}`,
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

/** Who a grant is to: Redshift's identity types (r_SVV_RELATION_PRIVILEGES.html). */
export type GranteeType = 'user' | 'group' | 'role' | 'public';

/** Redshift's table privileges, in the order GRANT statements list them (r_GRANT.html). */
export const TABLE_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'DROP', 'REFERENCES'] as const;

export interface Grant {
  /** The user, group or role name; 'PUBLIC' for PUBLIC. */
  grantee: string;
  type: GranteeType;
  /** Redshift privilege names (TABLE_PRIVILEGES order). */
  privileges: string[];
  /** A column grant: the privileges (SELECT, UPDATE) hold on these columns only. */
  columns?: string[];
  /** WITH GRANT OPTION (users only). */
  grantOption?: boolean;
}

export function granteeSql(g: Pick<Grant, 'grantee' | 'type'>): string {
  switch (g.type) {
    case 'public':
      return 'PUBLIC';
    case 'group':
      return `GROUP ${quoteIdent(g.grantee)}`;
    case 'role':
      return `ROLE ${quoteIdent(g.grantee)}`;
    case 'user':
      return quoteIdent(g.grantee);
  }
}

/** `GRANT SELECT, INSERT ON t TO "u"`, `... TO GROUP "g"`, `... TO ROLE "r"`, `GRANT SELECT ("a", "b") ON t TO ...`. */
export function grant(table: TableRef, g: Grant): string {
  if (g.privileges.length === 0) throw new Error(`grant to ${g.grantee}: no privileges`);
  const cols = g.columns?.length ? ` (${quoteIdents(g.columns)})` : '';
  const privileges = g.privileges.map((p) => `${p}${cols}`).join(', ');
  if (g.grantOption && g.type !== 'user') throw new Error(`WITH GRANT OPTION can only be granted to a user, not to ${g.type} ${g.grantee}`);
  return `GRANT ${privileges} ON ${ref(table)} TO ${granteeSql(g)}${g.grantOption ? ' WITH GRANT OPTION' : ''}`;
}

/** The owner and ACL of a table, to carry them over a swap (aclitem text form, Redshift's letters). */
export function tableOwnerAndAcl(): string {
  return `SELECT pg_get_userbyid(c.relowner) AS owner, array_to_string(c.relacl, chr(10)) AS acl
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r'`;
}

/** Privileges explicitly granted on a relation, to users, groups, roles and PUBLIC ($1 schema, $2 relation). */
export function relationPrivileges(): string {
  return `SELECT TRIM(privilege_type) AS privilege_type, TRIM(identity_name) AS identity_name, TRIM(identity_type) AS identity_type, admin_option
FROM svv_relation_privileges WHERE namespace_name = $1 AND relation_name = $2`;
}

/** Column privileges explicitly granted on a relation's columns ($1 schema, $2 relation). */
export function columnPrivileges(): string {
  return `SELECT TRIM(column_name) AS column_name, TRIM(privilege_type) AS privilege_type, TRIM(identity_name) AS identity_name, TRIM(identity_type) AS identity_type
FROM svv_column_privileges WHERE namespace_name = $1 AND relation_name = $2`;
}

export interface RelationPrivilegeRow {
  privilege_type: string;
  identity_name: string;
  identity_type: string;
  admin_option: boolean | null;
}

export interface ColumnPrivilegeRow {
  column_name: string;
  privilege_type: string;
  identity_name: string;
  identity_type: string;
}

const privilegeOrder = (p: string) => {
  const i = (TABLE_PRIVILEGES as readonly string[]).indexOf(p);
  return i < 0 ? TABLE_PRIVILEGES.length : i;
};

function granteeOf(name: string, type: string): { grantee: string; type: GranteeType } {
  const t = type.toLowerCase();
  if (t === 'public') return { grantee: 'PUBLIC', type: 'public' };
  if (t !== 'user' && t !== 'group' && t !== 'role') throw new Error(`unknown identity type ${JSON.stringify(type)} for ${JSON.stringify(name)}`);
  return { grantee: name, type: t };
}

/**
 * svv_relation_privileges and svv_column_privileges rows -> GRANT specs: one per grantee (and
 * grant option) for the table, one per grantee and column set for column grants. Grants to
 * the owner are left out (the owner holds every privilege anyway).
 */
export function grantsFromPrivileges(rel: readonly RelationPrivilegeRow[], cols: readonly ColumnPrivilegeRow[], owner: string): Grant[] {
  const out: Grant[] = [];
  const tableGrants = new Map<string, Grant>();
  for (const r of rel) {
    const who = granteeOf(r.identity_name, r.identity_type);
    if (who.type === 'user' && who.grantee === owner) continue;
    const grantOption = who.type === 'user' && r.admin_option === true;
    const key = `${who.type}\0${who.grantee}\0${grantOption}`;
    let g = tableGrants.get(key);
    if (!g) {
      g = { ...who, privileges: [], ...(grantOption ? { grantOption: true } : {}) };
      tableGrants.set(key, g);
      out.push(g);
    }
    const p = r.privilege_type.toUpperCase();
    if (!g.privileges.includes(p)) g.privileges.push(p);
  }
  // Column grants: the columns each grantee holds each privilege on, then grantees' privileges with the same columns together.
  const byGranteePriv = new Map<string, { who: { grantee: string; type: GranteeType }; priv: string; columns: string[] }>();
  for (const c of cols) {
    const who = granteeOf(c.identity_name, c.identity_type);
    if (who.type === 'user' && who.grantee === owner) continue;
    const priv = c.privilege_type.toUpperCase();
    const key = `${who.type}\0${who.grantee}\0${priv}`;
    const e = byGranteePriv.get(key) ?? { who, priv, columns: [] };
    if (!e.columns.includes(c.column_name)) e.columns.push(c.column_name);
    byGranteePriv.set(key, e);
  }
  const colGrants = new Map<string, Grant>();
  for (const e of byGranteePriv.values()) {
    e.columns.sort();
    const key = `${e.who.type}\0${e.who.grantee}\0${e.columns.join('\0')}`;
    let g = colGrants.get(key);
    if (!g) {
      g = { ...e.who, privileges: [], columns: e.columns };
      colGrants.set(key, g);
    }
    g.privileges.push(e.priv);
  }
  for (const g of out) g.privileges.sort((a, b) => privilegeOrder(a) - privilegeOrder(b));
  const sortedCols = [...colGrants.values()].sort((a, b) => `${a.type} ${a.grantee} ${a.columns!.join(',')}`.localeCompare(`${b.type} ${b.grantee} ${b.columns!.join(',')}`));
  for (const g of sortedCols) g.privileges.sort((a, b) => privilegeOrder(a) - privilegeOrder(b));
  return [...out.sort((a, b) => `${a.type} ${a.grantee}`.localeCompare(`${b.type} ${b.grantee}`)), ...sortedCols];
}

/**
 * Redshift's relacl letters (r_PG_DEFAULT_ACL.html lists r a w d x; D is DROP): the privileges
 * Redshift can GRANT on a table. R and t are PostgreSQL 8's RULE and TRIGGER, which Redshift's
 * ACLs still show (AWS's amazon-redshift-utils reads `arwdRxt` as ALL) but which are not
 * Redshift privileges and have no GRANT: they are skipped, as are letters unknown here.
 */
export const ACL_LETTERS: Record<string, string> = { r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE', D: 'DROP', x: 'REFERENCES' };

/** Reads a possibly double-quoted name at `i`; returns it and where it ends. */
function aclName(s: string, i: number): { name: string; end: number } {
  if (s[i] !== '"') {
    let j = i;
    while (j < s.length && s[j] !== '=' && s[j] !== '/') j++;
    return { name: s.slice(i, j), end: j };
  }
  let out = '';
  let j = i + 1;
  for (;;) {
    if (j >= s.length) throw new Error(`unterminated quoted name in ACL item ${JSON.stringify(s)}`);
    if (s[j] === '"') {
      if (s[j + 1] === '"') {
        out += '"';
        j += 2;
        continue;
      }
      return { name: out, end: j + 1 };
    }
    out += s[j++];
  }
}

/**
 * Parses Redshift ACL items (one a line): `user=arwdRxtD/owner`, `"group readers=r/owner"`
 * (with or without the array's quotes), `=r/owner` for PUBLIC, `*` after a letter for WITH
 * GRANT OPTION. Used where svv_relation_privileges is not available; role and column grants
 * are not in relacl, so this fallback cannot carry them.
 */
export function parseAcl(acl: string | null, owner: string): Grant[] {
  if (!acl) return [];
  const out: Grant[] = [];
  for (let item of acl.split('\n').map((x) => x.trim()).filter(Boolean)) {
    if (item.startsWith('"group ') && item.endsWith('"')) item = item.slice(1, -1).replace(/\\"/g, '"');
    let type: GranteeType = 'user';
    let i = 0;
    if (item.startsWith('group ')) {
      type = 'group';
      i = 6;
    }
    let grantee = '';
    if (item[i] !== '=') {
      const n = aclName(item, i);
      grantee = n.name;
      i = n.end;
    } else if (type === 'user') type = 'public';
    if (item[i] !== '=') throw new Error(`not an ACL item: ${JSON.stringify(item)}`);
    const slash = item.indexOf('/', i);
    const letters = item.slice(i + 1, slash < 0 ? undefined : slash);
    if (type === 'user' && grantee === owner) continue;
    const plain: string[] = [];
    const withOption: string[] = [];
    for (let k = 0; k < letters.length; k++) {
      const p = ACL_LETTERS[letters[k]!];
      const starred = letters[k + 1] === '*';
      if (starred) k++;
      if (!p) continue;
      (starred && type === 'user' ? withOption : plain).push(p);
    }
    const who = type === 'public' ? { grantee: 'PUBLIC', type } : { grantee, type };
    if (plain.length) out.push({ ...who, privileges: plain.sort((a, b) => privilegeOrder(a) - privilegeOrder(b)) });
    if (withOption.length) out.push({ ...who, privileges: withOption.sort((a, b) => privilegeOrder(a) - privilegeOrder(b)), grantOption: true });
  }
  return out;
}

/** Columns of a target table, in order. */
export function targetColumns(): string {
  return `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`;
}

/**
 * The collation of a table's columns (svv_columns.collation_name: case_sensitive or
 * case_insensitive; NULL for non-character columns), r_SVV_COLUMNS.html.
 */
export function targetCollations(): string {
  return `SELECT column_name AS name, collation_name AS collation FROM svv_columns WHERE table_schema = $1 AND table_name = $2`;
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

/**
 * Redshift Serverless: STL views do not show its queries; sys_load_error_detail does
 * (without the raw value). Same columns as recentLoadErrors, raw_field_value NULL.
 */
export function recentLoadErrorsSys(): string {
  return `SELECT TRIM(file_name) AS filename, line_number, TRIM(column_name) AS colname, TRIM(column_type) AS type,
       NULL::varchar AS raw_field_value, error_code AS err_code, TRIM(error_message) AS err_reason
FROM sys_load_error_detail WHERE TRIM(file_name) LIKE $1 ORDER BY start_time DESC LIMIT 10`;
}

/**
 * The loader's state table in a target schema: one row per target table with the fencing
 * token of the run that owns it now (see src/sync/fence.ts). Tiny, so DISTSTYLE ALL.
 */
export const STATE_TABLE = 'redshift_loader_state';

export const stateTableRef = (schema: string): TableRef => ({ schema, name: STATE_TABLE });

export function createStateTable(schema: string): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${ref(stateTableRef(schema))} (`,
    `  target_table VARCHAR(127) NOT NULL,`,
    `  run_token BIGINT NOT NULL,`,
    `  owner VARCHAR(512),`,
    `  taken_at TIMESTAMP`,
    `) DISTSTYLE ALL`,
  ].join('\n');
}

/** LOCK several tables in one statement, in the given order (AWS: lock every table first). */
export function lockTables(tables: readonly TableRef[]): string {
  return `LOCK ${tables.map(ref).join(', ')}`;
}

/** $1: the target table's name. */
export function readFence(schema: string): string {
  return `SELECT run_token, owner, CAST(taken_at AS VARCHAR(30)) AS taken_at FROM ${ref(stateTableRef(schema))} WHERE target_table = $1`;
}

/** $1 target table, $2 token, $3 owner. */
export function insertFence(schema: string): string {
  return `INSERT INTO ${ref(stateTableRef(schema))} (target_table, run_token, owner, taken_at) VALUES ($1, $2, $3, GETDATE())`;
}

/** $1 target table, $2 token, $3 owner. */
export function updateFence(schema: string): string {
  return `UPDATE ${ref(stateTableRef(schema))} SET run_token = $2, owner = $3, taken_at = GETDATE() WHERE target_table = $1`;
}
/**
 * A match of a table's key columns against parameters `$firstParam...` (one per key
 * column): `=` (Redshift casts the parameter to the column's type) and, for character
 * keys, equal byte lengths (see KeyColumn).
 */
export function keyParamMatch(key: readonly KeyColumn[], firstParam: number, alias?: string): string {
  const p = alias ? `${alias}.` : '';
  return key
    .map((k, i) => {
      const c = `${p}${quoteIdent(k.name)}`;
      const v = `$${firstParam + i}`;
      return k.text ? `${c} = ${v} AND OCTET_LENGTH(${c}) = OCTET_LENGTH(CAST(${v} AS VARCHAR(65535)))` : `${c} = ${v}`;
    })
    .join(' AND ');
}

/**
 * Deletes the rows of `count` keys given as parameters ($1.. in key-column order, tuple
 * after tuple), matched exactly (delete detection, verify --repair). A single non-character
 * key uses the IN form.
 */
export function deleteKeys(target: TableRef, key: readonly KeyColumn[], count: number): string {
  if (key.length === 0) throw new Error('deleteKeys needs a key');
  if (!Number.isInteger(count) || count < 1) throw new Error('deleteKeys needs at least one key');
  if (key.length === 1 && !key[0]!.text) {
    return `DELETE FROM ${ref(target)} WHERE ${quoteIdent(key[0]!.name)} IN (${Array.from({ length: count }, (_, i) => `$${i + 1}`).join(', ')})`;
  }
  const tuples: string[] = [];
  for (let r = 0; r < count; r++) tuples.push(`(${keyParamMatch(key, r * key.length + 1)})`);
  return `DELETE FROM ${ref(target)} WHERE ${tuples.join(' OR ')}`;
}

/** A statement that starts a transaction's snapshot on the table (Redshift: at the first SELECT; c_serial_isolation.html). */
export function startSnapshot(table: TableRef): string {
  return `SELECT COUNT(*) AS n FROM ${ref(table)} WHERE 1 = 0`;
}

/** A session's statement timeout (milliseconds; 0 = none). Redshift has no idle-in-transaction timeout. */
export function setStatementTimeout(ms: number): string {
  return `SET statement_timeout TO ${Math.max(0, Math.floor(ms))}`;
}

/** Verify reads dates and timestamps as the type's ISO text (r_datestyle.html; ISO, MDY is Redshift's default). */
export const SET_ISO_DATESTYLE = `SET datestyle TO 'ISO, MDY'`;

// ---------------------------------------------------------------------------------------
// Log-based change capture (copy_mode CDC, src/sync/cdc): the staging table of a drained batch,
// its apply statements and the applied position. Pure, like everything above.
// ---------------------------------------------------------------------------------------

/**
 * Marker columns of a CDC staging table. Keyed tables: `rl_cdc_op` is 'U' (a row to
 * insert) or 'D' (a key to delete); `rl_cdc_unchanged` lists, as `,2,5,`, the positions of
 * TOASTed values the source left unchanged (pgoutput does not send them: the target keeps
 * its value). Tables without a key: `rl_cdc_n` is the net count of a row image in the batch
 * (< 0: remove that many copies; rows with 1 are copies to add), `rl_cdc_image` numbers the
 * images.
 */
export const CDC_OP = 'rl_cdc_op';
export const CDC_UNCHANGED = 'rl_cdc_unchanged';
export const CDC_COUNT = 'rl_cdc_n';
export const CDC_IMAGE = 'rl_cdc_image';
export const CDC_MARKER_COLUMNS = [CDC_OP, CDC_UNCHANGED, CDC_COUNT, CDC_IMAGE] as const;

/** The marker columns a CDC staging table has after the target's columns. */
export const cdcMarkerColumns = (keyless: boolean): string[] => (keyless ? [CDC_COUNT, CDC_IMAGE] : [CDC_OP, CDC_UNCHANGED]);

/**
 * A CDC staging table: the target's columns (CREATE TABLE AS, so none is NOT NULL: a
 * deleted key's other columns are NULL) plus the marker columns.
 */
export function createCdcStage(staging: string, target: TableRef, columns: readonly string[], keyless: boolean): string {
  const markers = keyless
    ? [`CAST(NULL AS INTEGER) AS ${quoteIdent(CDC_COUNT)}`, `CAST(NULL AS INTEGER) AS ${quoteIdent(CDC_IMAGE)}`]
    : [`CAST(NULL AS VARCHAR(1)) AS ${quoteIdent(CDC_OP)}`, `CAST(NULL AS VARCHAR(65535)) AS ${quoteIdent(CDC_UNCHANGED)}`];
  return `CREATE TEMP TABLE ${quoteIdent(staging)} AS SELECT ${[quoteIdents(columns), ...markers].join(', ')} FROM ${ref(target)} WHERE 1 = 0`;
}

/**
 * A TOASTed value the source left unchanged: the staged row takes the target's current
 * value of column `column` (position `position` in the staged columns), before the merge
 * replaces the target row.
 */
export function cdcFillUnchanged(staging: string, target: TableRef, column: string, position: number, key: readonly KeyColumn[]): string {
  if (!Number.isInteger(position) || position < 0) throw new Error(`cdcFillUnchanged: bad position ${position}`);
  const s = quoteIdent(staging);
  return `UPDATE ${s} SET ${quoteIdent(column)} = t.${quoteIdent(column)} FROM ${ref(target)} t WHERE ${keyMatch(s, 't', key)} AND ${s}.${quoteIdent(CDC_UNCHANGED)} LIKE '%,${position},%'`;
}

/** The staged rows (not the deleted keys) into the target. */
export function cdcInsertRows(target: TableRef, staging: string, columns: readonly string[]): string {
  const cols = quoteIdents(columns);
  return `INSERT INTO ${ref(target)} (${cols}) SELECT ${cols} FROM ${quoteIdent(staging)} WHERE ${quoteIdent(CDC_OP)} = 'U'`;
}

/** A TRUNCATE at the source, inside the apply transaction (Redshift's TRUNCATE would commit it). */
export function deleteAllRows(target: TableRef): string {
  return `DELETE FROM ${ref(target)}`;
}

/** `(a.c = b.c [AND OCTET_LENGTH(a.c) = OCTET_LENGTH(b.c)] OR a.c IS NULL AND b.c IS NULL) AND ...`: a whole row image, NULLs equal. */
export function imageMatch(a: string, b: string, columns: readonly KeyColumn[]): string {
  return columns
    .map((c) => {
      const x = `${a}.${quoteIdent(c.name)}`;
      const y = `${b}.${quoteIdent(c.name)}`;
      const eq = c.text ? `${x} = ${y} AND OCTET_LENGTH(${x}) = OCTET_LENGTH(${y})` : `${x} = ${y}`;
      return `(${eq} OR ${x} IS NULL AND ${y} IS NULL)`;
    })
    .join(' AND ');
}

/**
 * Tables without a key: the copies of each row image the batch removes some of, that stay.
 * An image with n copies in the target and a net count of -k keeps n - k of them.
 */
export function cdcKeylessKeep(keep: string, staging: string, target: TableRef, columns: readonly KeyColumn[]): string {
  const names = columns.map((c) => c.name);
  const s = quoteIdent(staging);
  return [
    `CREATE TEMP TABLE ${quoteIdent(keep)} AS SELECT ${quoteIdents(names)} FROM (`,
    `  SELECT ${names.map((n) => `t.${quoteIdent(n)}`).join(', ')}, ROW_NUMBER() OVER (PARTITION BY ${s}.${quoteIdent(CDC_IMAGE)} ORDER BY ${s}.${quoteIdent(CDC_IMAGE)}) AS rl_cdc_rn,`,
    `    COUNT(*) OVER (PARTITION BY ${s}.${quoteIdent(CDC_IMAGE)}) AS rl_cdc_have, ${s}.${quoteIdent(CDC_COUNT)} AS rl_cdc_k`,
    `  FROM ${ref(target)} t JOIN ${s} ON ${imageMatch('t', s, columns)}`,
    `  WHERE ${s}.${quoteIdent(CDC_COUNT)} < 0`,
    `) x WHERE rl_cdc_rn <= rl_cdc_have + rl_cdc_k`,
  ].join('\n');
}

/** Tables without a key: every copy of the images the batch removes some of (the kept ones go back in). */
export function cdcKeylessDelete(target: TableRef, staging: string, columns: readonly KeyColumn[]): string {
  const s = quoteIdent(staging);
  return `DELETE FROM ${ref(target)} USING ${s} WHERE ${imageMatch(ref(target), s, columns)} AND ${s}.${quoteIdent(CDC_COUNT)} < 0`;
}

/** Tables without a key: the copies the batch adds (one staged row each). */
export function cdcKeylessInsert(target: TableRef, staging: string, columns: readonly string[]): string {
  const cols = quoteIdents(columns);
  return `INSERT INTO ${ref(target)} (${cols}) SELECT ${cols} FROM ${quoteIdent(staging)} WHERE ${quoteIdent(CDC_COUNT)} > 0`;
}

/**
 * Where a job's change stream has been applied, in the job's target schema, one row per
 * replication slot: the commit LSN of the last transaction applied and how many of its
 * changes (-1: all). Written in the transaction that applies the changes, so after a crash
 * the next run skips exactly what Redshift already holds.
 */
export const CDC_STATE_TABLE = 'redshift_loader_cdc';
export const cdcStateRef = (schema: string): TableRef => ({ schema, name: CDC_STATE_TABLE });

export function createCdcStateTable(schema: string): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${ref(cdcStateRef(schema))} (`,
    `  slot_name VARCHAR(127) NOT NULL,`,
    `  commit_lsn VARCHAR(20) NOT NULL,`,
    `  changes BIGINT NOT NULL,`,
    `  applied_at TIMESTAMP`,
    `) DISTSTYLE ALL`,
  ].join('\n');
}

/** $1 slot name. */
export function readCdcPosition(schema: string): string {
  return `SELECT commit_lsn, changes FROM ${ref(cdcStateRef(schema))} WHERE slot_name = $1`;
}

/** $1 slot, $2 commit LSN, $3 changes. */
export function insertCdcPosition(schema: string): string {
  return `INSERT INTO ${ref(cdcStateRef(schema))} (slot_name, commit_lsn, changes, applied_at) VALUES ($1, $2, $3, GETDATE())`;
}

/** Compare-and-set: $1 slot, $2 new commit LSN, $3 new changes, $4 and $5 the position the batch started from. */
export function updateCdcPosition(schema: string): string {
  return `UPDATE ${ref(cdcStateRef(schema))} SET commit_lsn = $2, changes = $3, applied_at = GETDATE() WHERE slot_name = $1 AND commit_lsn = $4 AND changes = $5`;
}

/** $1 slot, $2 commit LSN, $3 changes: resets the position (a new slot). */
export function resetCdcPosition(schema: string): string {
  return `UPDATE ${ref(cdcStateRef(schema))} SET commit_lsn = $2, changes = $3, applied_at = GETDATE() WHERE slot_name = $1`;
}

/**
 * The fence inside a CDC apply transaction: the target becomes this run's unless a newer
 * run's token is there ($1 target table, $2 token, $3 owner; one row updated = ours).
 */
export function claimFence(schema: string): string {
  return `UPDATE ${ref(stateTableRef(schema))} SET run_token = $2, owner = $3, taken_at = GETDATE() WHERE target_table = $1 AND run_token <= $2`;
}

/** Whether a table exists ($1 schema, $2 name): e.g. the CDC position table before it is created. */
export function tableExists(): string {
  return `SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2`;
}
