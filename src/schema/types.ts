/**
 * PostgreSQL -> Redshift type mapping: pure, explicit, byte-aware.
 *
 * Input is what the source catalog says about a column: `format_type(atttypid, atttypmod)`
 * plus, when known, the pg_type kind (enum, composite, domain, range) and a domain's base
 * type. Output is the Redshift column type and a note on any choice a user should know.
 *
 * The sync engine extracts with `COPY (SELECT cols) TO STDOUT (FORMAT csv, NULL sentinel,
 * FORCE_QUOTE *)` (see redshift/csv.ts) in a UTC session (DateStyle ISO, IntervalStyle postgres,
 * extra_float_digits 3) and loads with `COPY ... CSV TIMEFORMAT 'auto' DATEFORMAT 'auto'`,
 * so every mapping below is chosen so that Postgres' *text output* of the type loads into
 * the Redshift type unchanged. Where no Redshift type accepts that text (bytea's `\x..`,
 * arrays' `{..}`, money's `$1,234.56`, interval), the column becomes VARCHAR holding the
 * exact Postgres text.
 *
 * Redshift VARCHAR(n) counts bytes; a Postgres character is 1-4 bytes in UTF-8, so a
 * declared length of n characters needs 4n bytes (capped at 65535, Redshift's maximum).
 */

/** Redshift's largest VARCHAR, in bytes. */
export const MAX_VARCHAR = 65535;
/** Redshift's largest NUMERIC precision. */
export const MAX_NUMERIC_PRECISION = 38;
/** What an unbounded Postgres `numeric` becomes: 28 integer digits, 10 decimals. Never FLOAT. */
export const UNBOUNDED_NUMERIC = { precision: 38, scale: 10 } as const;

/** pg_type.typtype: b base, c composite, d domain, e enum, p pseudo, r range, m multirange. */
export type PgTypeKind = 'b' | 'c' | 'd' | 'e' | 'p' | 'r' | 'm';

export interface PgColumnType {
  /** format_type(atttypid, atttypmod), e.g. `character varying(20)`, `numeric(12,2)`, `integer[]`. */
  formatType: string;
  /** pg_type.typtype when known (the engine's catalog only has formatType). */
  kind?: PgTypeKind;
  /** For a domain: format_type of its base type (with the domain's typmod). */
  baseType?: string;
  /** An unbounded `numeric` column's values, measured by setup (see `NumericProfile`). */
  numeric?: NumericProfile | null;
}

/**
 * What an unbounded `numeric` column holds, measured over (a sample of) its rows: the most
 * decimals any value needs (min_scale) and the most integer digits, finite values only.
 */
export interface NumericProfile {
  rows: number;
  scale: number;
  intDigits: number;
  /** Values NaN, Infinity or -Infinity seen. */
  special: number;
}

/** Redshift type families, used by drift to tell compatible from incompatible changes. */
export type RsFamily = 'smallint' | 'integer' | 'bigint' | 'numeric' | 'real' | 'double' | 'boolean' | 'date' | 'time' | 'timetz' | 'timestamp' | 'timestamptz' | 'varchar' | 'char' | 'super' | 'varbyte' | 'other';

export interface RedshiftType {
  /** The column type as written in CREATE TABLE, e.g. `VARCHAR(80)`, `NUMERIC(12,2)`. */
  sql: string;
  family: RsFamily;
  /** VARCHAR/CHAR length in bytes. */
  length?: number;
  precision?: number;
  scale?: number;
  /** True when the source declared a length (varchar(n), char(n), bit(n)): drift widens these. */
  sized?: boolean;
  /** SUPER and VARBYTE cannot be dist or sort keys. */
  keyable: boolean;
  /** Why this choice, when it is not the obvious one (shown by setup). */
  note?: string;
  /** The source is an unbounded numeric: any NUMERIC target is compatible (each batch is checked, see value-rules.ts). */
  unbounded?: boolean;
}

const varchar = (bytes: number, extra: Partial<RedshiftType> = {}): RedshiftType => {
  const length = Math.max(1, Math.min(bytes, MAX_VARCHAR));
  return { sql: `VARCHAR(${length})`, family: 'varchar', length, keyable: true, ...extra };
};
const simple = (sql: string, family: RsFamily): RedshiftType => ({ sql, family, keyable: true });

/** Characters -> Redshift bytes: 4 bytes per character (UTF-8 worst case), capped. */
export function charsToBytes(chars: number): number {
  return Math.min(chars * 4, MAX_VARCHAR);
}

function numeric(precision: number, scale: number, note?: string): RedshiftType {
  return { sql: `NUMERIC(${precision},${scale})`, family: 'numeric', precision, scale, keyable: true, ...(note ? { note } : {}) };
}

/**
 * An unbounded `numeric`: the NUMERIC that holds every value setup measured (the most
 * decimals, then the most integer digits), else exact text when no NUMERIC can (more than
 * 38 digits in all). Never FLOAT. Unmeasured (an empty table, or drift): NUMERIC(38,10).
 * A later value with more decimals fails its batch (COPY would cut it silently; see
 * value-rules.ts), and one with more integer digits fails its load.
 */
function unboundedNumeric(p: NumericProfile | null): RedshiftType {
  const fails = 'a later value with more decimals fails its batch rather than being cut (or set value_policies.numeric_digits), one with more integer digits fails its load';
  if (!p || p.rows === 0 || p.rows === p.special) {
    const n = numeric(UNBOUNDED_NUMERIC.precision, UNBOUNDED_NUMERIC.scale, `unbounded numeric with no values to measure: NUMERIC(38,10) (28 integer digits, 10 decimals); ${fails}`);
    return { ...n, unbounded: true };
  }
  const special = p.special > 0 ? `; ${p.special} value(s) NaN or Infinity, which no Redshift NUMERIC holds: a sync fails on them unless value_policies.numeric_special is "null"` : '';
  if (p.scale + p.intDigits > MAX_NUMERIC_PRECISION) {
    return varchar(MAX_VARCHAR, {
      unbounded: true,
      note: `unbounded numeric whose values need ${p.intDigits} integer digits and ${p.scale} decimals (${p.rows} rows measured), more than Redshift's 38: kept as exact text${special}`,
    });
  }
  const n = numeric(MAX_NUMERIC_PRECISION, p.scale, `unbounded numeric: its values (${p.rows} rows measured) have up to ${p.intDigits} integer digits and ${p.scale} decimals, so NUMERIC(38,${p.scale}); ${fails}${special}`);
  return { ...n, unbounded: true };
}

/**
 * Maps one source column type. Never throws: an unknown type becomes VARCHAR(65535) with
 * a note, since every Postgres value has a text form that VARCHAR keeps exactly.
 */
export function mapType(input: PgColumnType | string): RedshiftType {
  const t: PgColumnType = typeof input === 'string' ? { formatType: input } : input;
  const ft = t.formatType.trim();
  if (t.kind === 'd' && t.baseType) {
    const base = mapType({ formatType: t.baseType, numeric: t.numeric });
    return { ...base, note: `domain ${ft} over ${t.baseType}${base.note ? `; ${base.note}` : ''}` };
  }
  if (ft.endsWith('[]')) {
    return varchar(MAX_VARCHAR, { note: `array ${ft}: kept as its Postgres text form ({a,b,...}), which is not JSON, so not SUPER` });
  }
  if (t.kind === 'e') return varchar(256, { note: `enum ${ft}: labels as text (at most 63 bytes each)` });
  if (t.kind === 'c') return varchar(MAX_VARCHAR, { note: `composite ${ft}: kept as its Postgres text form ((a,b,...))` });
  if (t.kind === 'r' || t.kind === 'm') return varchar(MAX_VARCHAR, { note: `range ${ft}: kept as its Postgres text form` });

  let m: RegExpMatchArray | null;
  switch (ft) {
    case 'smallint':
      return simple('SMALLINT', 'smallint');
    case 'integer':
      return simple('INTEGER', 'integer');
    case 'bigint':
      return simple('BIGINT', 'bigint');
    case 'oid':
      return simple('BIGINT', 'bigint');
    case 'real':
      return simple('REAL', 'real');
    case 'double precision':
      return simple('DOUBLE PRECISION', 'double');
    case 'boolean':
      return simple('BOOLEAN', 'boolean');
    case 'date':
      return simple('DATE', 'date');
    case 'numeric':
      return unboundedNumeric(t.numeric ?? null);
    case 'text':
      return varchar(MAX_VARCHAR);
    case 'character varying':
      return varchar(MAX_VARCHAR);
    case 'name':
      return varchar(64);
    case '"char"':
      return varchar(4, { note: '"char": one byte, which may not be ASCII' });
    case 'uuid':
      return { sql: 'CHAR(36)', family: 'char', length: 36, keyable: true };
    case 'json':
    case 'jsonb':
      return { sql: 'SUPER', family: 'super', keyable: false, note: `${ft} as SUPER (each string inside <= 65535 bytes, a document <= 4 MB in COPY)` };
    case 'bytea':
      return varchar(MAX_VARCHAR, {
        note: 'bytea as VARCHAR holding Postgres hex text (\\x...): Redshift VARBYTE loads from CSV only as bare hex, so \\x.. would not load; values over 32766 bytes fail',
      });
    case 'inet':
    case 'cidr':
      return varchar(43);
    case 'macaddr':
      return varchar(17);
    case 'macaddr8':
      return varchar(23);
    case 'money':
      return varchar(64, { note: 'money as text: its output carries the currency symbol and grouping (e.g. $1,234.56), which no Redshift numeric accepts; cast to numeric in a source view for numbers' });
    case 'interval':
      return varchar(128, { note: 'interval: Redshift has no interval column type; kept as Postgres text (e.g. "1 day 02:03:04")' });
    case 'xml':
      return varchar(MAX_VARCHAR);
    case 'bit varying':
      return varchar(MAX_VARCHAR);
    case 'tsvector':
    case 'tsquery':
      return varchar(MAX_VARCHAR, { note: `${ft}: kept as Postgres text` });
  }
  if ((m = ft.match(/^numeric\((\d+),(-?\d+)\)$/))) {
    const p = Number(m[1]);
    const s = Number(m[2]);
    if (s < 0) {
      const digits = p - s;
      return digits <= MAX_NUMERIC_PRECISION ? numeric(digits, 0, `${ft}: negative scale, stored as NUMERIC(${digits},0)`) : varchar(digits + 1, { note: `${ft}: wider than Redshift's 38 digits, kept as text` });
    }
    if (p <= MAX_NUMERIC_PRECISION) return numeric(p, s);
    return varchar(p + 2, { note: `${ft}: precision above Redshift's 38, kept as exact text (sign and point included)` });
  }
  if ((m = ft.match(/^numeric\((\d+)\)$/))) {
    const p = Number(m[1]);
    return p <= MAX_NUMERIC_PRECISION ? numeric(p, 0) : varchar(p + 1, { note: `${ft}: precision above Redshift's 38, kept as exact text` });
  }
  if ((m = ft.match(/^character varying\((\d+)\)$/))) {
    const n = Number(m[1]);
    return varchar(charsToBytes(n), { sized: true, ...(n * 4 > MAX_VARCHAR ? { note: `${ft}: ${n} characters can exceed 65535 bytes; longer values fail the load` } : {}) });
  }
  if (ft === 'bpchar') {
    // bpchar without a length is unbounded (character(1) is written with its length).
    return varchar(MAX_VARCHAR, { note: `${ft} (no length) as VARCHAR(${MAX_VARCHAR}): unbounded blank-padded text` });
  }
  if ((m = ft.match(/^(?:character|bpchar)\((\d+)\)$/)) || ft === 'character') {
    const n = m ? Number(m[1]) : 1;
    // Redshift CHAR is single-byte only: a multibyte character would fail the load. VARCHAR
    // of 4n bytes takes any text; the value keeps Postgres' blank padding, as extracted.
    return varchar(charsToBytes(n), { sized: true, note: `${ft} as VARCHAR(${charsToBytes(n)}): Redshift CHAR holds single-byte characters only; blank padding is kept` });
  }
  if ((m = ft.match(/^bit\((\d+)\)$/)) || ft === 'bit') {
    return varchar(m ? Number(m[1]) : 1, { sized: true });
  }
  if ((m = ft.match(/^bit varying\((\d+)\)$/))) return varchar(Number(m[1]), { sized: true });
  if (/^timestamp(\(\d\))? with time zone$/.test(ft)) return simple('TIMESTAMPTZ', 'timestamptz');
  if (/^timestamp(\(\d\))?( without time zone)?$/.test(ft)) return simple('TIMESTAMP', 'timestamp');
  if (/^time(\(\d\))? with time zone$/.test(ft)) return simple('TIMETZ', 'timetz');
  if (/^time(\(\d\))?( without time zone)?$/.test(ft)) return simple('TIME', 'time');
  if (/^interval\b/.test(ft)) {
    return varchar(128, { note: 'interval: Redshift has no interval column type; kept as Postgres text (e.g. "1 day 02:03:04")' });
  }
  return varchar(MAX_VARCHAR, { note: `type ${ft} has no Redshift equivalent; kept as its Postgres text form` });
}

/**
 * Parses a type as the target catalog reports it (format_type on Redshift or the double,
 * e.g. `character varying(256)`, `numeric(38,10)`, `timestamp with time zone`, `super`).
 */
export function parseTargetType(type: string): RedshiftType {
  const t = type.trim().toLowerCase();
  let m: RegExpMatchArray | null;
  if ((m = t.match(/^(?:character varying|varchar|nvarchar|text)(?:\((\d+)\))?$/))) {
    const length = m[1] ? Number(m[1]) : t === 'text' ? 256 : 256;
    return { sql: `VARCHAR(${length})`, family: 'varchar', length, keyable: true };
  }
  if ((m = t.match(/^(?:character|char|bpchar|nchar)(?:\((\d+)\))?$/))) {
    const length = m[1] ? Number(m[1]) : 1;
    return { sql: `CHAR(${length})`, family: 'char', length, keyable: true };
  }
  if ((m = t.match(/^(?:numeric|decimal)(?:\((\d+)(?:,\s*(\d+))?\))?$/))) {
    const precision = m[1] ? Number(m[1]) : 18;
    const scale = m[2] ? Number(m[2]) : 0;
    return { sql: `NUMERIC(${precision},${scale})`, family: 'numeric', precision, scale, keyable: true };
  }
  const fam: Array<[RegExp, RsFamily]> = [
    [/^(smallint|int2)$/, 'smallint'],
    [/^(integer|int|int4)$/, 'integer'],
    [/^(bigint|int8)$/, 'bigint'],
    [/^(real|float4)$/, 'real'],
    [/^(double precision|float8|float)$/, 'double'],
    [/^(boolean|bool)$/, 'boolean'],
    [/^date$/, 'date'],
    [/^(timestamp(\(\d\))? with time zone|timestamptz)$/, 'timestamptz'],
    [/^(timestamp(\(\d\))?( without time zone)?)$/, 'timestamp'],
    [/^(time(\(\d\))? with time zone|timetz)$/, 'timetz'],
    [/^(time(\(\d\))?( without time zone)?)$/, 'time'],
    [/^super$/, 'super'],
    [/^(varbyte|varbinary|binary varying)(\(\d+\))?$/, 'varbyte'],
  ];
  for (const [re, family] of fam) {
    if (re.test(t)) return { sql: t.toUpperCase(), family, keyable: family !== 'super' && family !== 'varbyte' };
  }
  return { sql: t.toUpperCase(), family: 'other', keyable: true };
}

const INT_RANK: Partial<Record<RsFamily, number>> = { smallint: 1, integer: 2, bigint: 3 };

export type Compatibility = { ok: true } | { ok: true; widenTo: string } | { ok: false; reason: string };

/**
 * Can values of the source type (`want`, what mapType gives for it now) load into the
 * existing target column (`have`)? A sized varchar that grew is widened; anything else
 * that a load would reject or truncate is incompatible.
 */
export function compatibility(want: RedshiftType, have: RedshiftType): Compatibility {
  if (have.family === 'varchar') {
    if (want.family === 'varchar' || want.family === 'char') {
      const need = want.length ?? MAX_VARCHAR;
      const got = have.length ?? 256;
      if (need <= got) return { ok: true };
      if (want.sized) return { ok: true, widenTo: `VARCHAR(${Math.min(need, MAX_VARCHAR)})` };
      return { ok: true }; // unbounded text into a narrower column: the table's own design
    }
    // Any scalar's text form loads into a string column (a team's choice, e.g. json as text).
    return { ok: true };
  }
  if (have.family === 'char' && (want.family === 'char' || want.family === 'varchar')) {
    // A CHAR target for string data is the team's own design (e.g. CHAR(3) for a char(3)
    // code): values that do not fit fail their load with a clear error, never silently.
    return { ok: true };
  }
  if (INT_RANK[have.family] && INT_RANK[want.family]) {
    return INT_RANK[want.family]! <= INT_RANK[have.family]! ? { ok: true } : { ok: false, reason: `${have.sql} is narrower than ${want.sql}` };
  }
  if (have.family === 'numeric') {
    if (INT_RANK[want.family]) return { ok: true };
    // Unbounded at the source: whatever NUMERIC the team chose; every batch is checked
    // for values it cannot keep (value-rules.ts), so nothing is cut silently.
    if (want.unbounded) return { ok: true };
    if (want.family === 'numeric') {
      const wantInt = (want.precision ?? 38) - (want.scale ?? 0);
      const haveInt = (have.precision ?? 18) - (have.scale ?? 0);
      if (wantInt <= haveInt && (want.scale ?? 0) <= (have.scale ?? 0)) return { ok: true };
      return { ok: false, reason: `${have.sql} cannot hold every ${want.sql} value` };
    }
  }
  if (have.family === 'double' && (want.family === 'real' || want.family === 'double')) return { ok: true };
  if (have.family === want.family) return { ok: true };
  if (have.family === 'timestamptz' && want.family === 'timestamp') return { ok: true }; // UTC sessions
  if (have.family === 'varbyte' && want.family === 'varbyte') return { ok: true };
  return { ok: false, reason: `${have.sql} cannot take ${want.sql} values` };
}
