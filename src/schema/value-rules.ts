import { quoteIdent } from '../sql/quote.js';
import type { RedshiftType } from './types.js';
import type { SourceColumn } from '../metadata/types.js';

/**
 * Values a Postgres column can hold that its Redshift column cannot, and what a sync does
 * with them: pure. Nothing changes silently. By default (`fail`) the batch stops: Redshift
 * refuses most such values with a load error naming the file, line, column and value; the
 * one it would take silently (COPY truncates decimals beyond a NUMERIC's scale) is checked
 * here before anything is loaded. A table can choose another policy per kind in
 * `tables.value_policies` (e.g. `{"text_too_long": "truncate"}`): the extract's SELECT then
 * changes those values, and every changed value is counted in sync_runs.values_changed and
 * logged.
 */
export type ValueKind = 'numeric_digits' | 'numeric_special' | 'infinite_datetime' | 'date_range' | 'text_too_long' | 'super_too_large';
export type ValuePolicy = 'fail' | 'null' | 'round' | 'truncate' | 'clamp';

export const VALUE_POLICIES: Record<ValueKind, { policies: readonly ValuePolicy[]; what: string }> = {
  numeric_digits: { policies: ['fail', 'round', 'truncate'], what: 'a numeric with more decimals than the target NUMERIC keeps' },
  numeric_special: { policies: ['fail', 'null'], what: 'numeric NaN or Infinity, which no Redshift NUMERIC holds' },
  infinite_datetime: { policies: ['fail', 'null', 'clamp'], what: "a date or timestamp of 'infinity' or '-infinity'" },
  date_range: { policies: ['fail', 'null', 'clamp'], what: 'a date after 294276-12-31, past Redshift\'s range' },
  text_too_long: { policies: ['fail', 'null', 'truncate'], what: 'text longer than the target VARCHAR (bytes)' },
  super_too_large: { policies: ['fail', 'null'], what: 'a json document over 4 MB, the most Redshift loads into SUPER' },
};

export type ValuePolicies = Partial<Record<ValueKind, ValuePolicy>>;

export class ValuePolicyError extends Error {
  override name = 'ValuePolicyError';
}

/** Validates tables.value_policies; throws one line naming the key or value and what is allowed. */
export function parseValuePolicies(raw: unknown, where: string): ValuePolicies {
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ValuePolicyError(`${where}: value_policies must be a JSON object such as {"text_too_long": "truncate"}`);
  const out: ValuePolicies = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const spec = VALUE_POLICIES[k as ValueKind];
    if (!spec) throw new ValuePolicyError(`${where}: value_policies has an unknown kind "${k}"; kinds: ${Object.keys(VALUE_POLICIES).join(', ')}`);
    if (typeof v !== 'string' || !spec.policies.includes(v as ValuePolicy)) {
      throw new ValuePolicyError(`${where}: value_policies.${k} is ${JSON.stringify(v)}; allowed: ${spec.policies.join(', ')}`);
    }
    out[k as ValueKind] = v as ValuePolicy;
  }
  return out;
}

export interface ValueRule {
  column: string;
  kind: ValueKind;
  policy: ValuePolicy;
  /** True for the source values this rule is about (SQL over the source column). */
  cond: string;
  /** The column's SELECT expression under this policy (none for `fail`). */
  transform: string | null;
  /** A `fail` rule Redshift would not refuse by itself: the batch is checked for it. */
  check: boolean;
  /** The target column's type, e.g. NUMERIC(38,10) (for messages). */
  target: string;
}

const REDSHIFT_MAX_DATE = '294276-12-31';
const MIN_TIMESTAMP = '4713-11-24 00:00:00 BC';
const MAX_TIMESTAMP = '294276-12-31 23:59:59.999999';
const SUPER_MAX_BYTES = 4 * 1024 * 1024;

/**
 * The first `n` bytes of a text, cut at a character boundary (UTF-8): bytes n+1, n, n-1
 * show where the last whole character ends (continuation bytes are 10xxxxxx).
 */
export function truncateBytesSql(c: string, n: number): string {
  const b = `convert_to(${c}, 'UTF8')`;
  const cont = (i: number) => `(get_byte(${b}, ${i}) & 192) = 128`;
  const cut = `CASE WHEN NOT ${cont(n)} THEN ${n} WHEN NOT ${cont(n - 1)} THEN ${n - 1} WHEN NOT ${cont(n - 2)} THEN ${n - 2} ELSE ${n - 3} END`;
  return `convert_from(substring(${b} from 1 for ${cut}), 'UTF8')`;
}

/** The rules for a table's synced columns, given each column's target type and the table's policies. */
export function valueRules(columns: readonly SourceColumn[], targets: ReadonlyMap<string, RedshiftType>, policies: ValuePolicies): ValueRule[] {
  const rules: ValueRule[] = [];
  for (const col of columns) {
    const t = targets.get(col.name);
    if (!t) continue;
    const c = quoteIdent(col.name);
    const src = col.type;
    const add = (kind: ValueKind, cond: string, transforms: Partial<Record<ValuePolicy, string>>, silentInRedshift = false) => {
      const policy = policies[kind] ?? 'fail';
      rules.push({ column: col.name, kind, policy, cond, transform: policy === 'fail' ? null : (transforms[policy] ?? null), check: policy === 'fail' && silentInRedshift, target: t.sql });
    };
    if (/^numeric\b/.test(src) && t.family === 'numeric') {
      const declared = src.match(/^numeric\(\d+,(\d+)\)$/);
      const scale = t.scale ?? 0;
      if (!declared || Number(declared[1]) > scale) {
        add('numeric_digits', `${c} <> round(${c}, ${scale})`, { round: `round(${c}, ${scale})`, truncate: `trunc(${c}, ${scale})` }, true);
      }
      add('numeric_special', `${c}::text IN ('NaN', 'Infinity', '-Infinity')`, { null: `CASE WHEN ${c}::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE ${c} END` });
    }
    const datetime = /^(timestamp|date)\b/.test(src) && ['timestamp', 'timestamptz', 'date'].includes(t.family);
    if (datetime) {
      const lo = src === 'date' ? `'4713-11-24 BC'::date` : `'${MIN_TIMESTAMP}'::${src}`;
      const hi = src === 'date' ? `'${REDSHIFT_MAX_DATE}'::date` : `'${MAX_TIMESTAMP}'::${src}`;
      add('infinite_datetime', `NOT isfinite(${c})`, {
        null: `CASE WHEN isfinite(${c}) THEN ${c} END`,
        clamp: `CASE WHEN ${c} = 'infinity' THEN ${hi} WHEN ${c} = '-infinity' THEN ${lo} ELSE ${c} END`,
      });
    }
    if (src === 'date' && t.family === 'date') {
      add('date_range', `${c} > '${REDSHIFT_MAX_DATE}'::date AND isfinite(${c})`, {
        null: `CASE WHEN ${c} > '${REDSHIFT_MAX_DATE}'::date AND isfinite(${c}) THEN NULL ELSE ${c} END`,
        clamp: `CASE WHEN ${c} > '${REDSHIFT_MAX_DATE}'::date AND isfinite(${c}) THEN '${REDSHIFT_MAX_DATE}'::date ELSE ${c} END`,
      });
    }
    const sized = src.match(/^(?:character varying|character|bpchar)\((\d+)\)$/);
    // A sized column whose longest value (4 bytes a character) fits cannot overflow.
    const fits = sized !== null && t.length !== undefined && Number(sized[1]) * 4 <= t.length;
    if (t.family === 'varchar' && t.length !== undefined && !fits && /^(text|character varying|character|bpchar|xml|citext)\b/.test(src)) {
      const n = t.length;
      add('text_too_long', `octet_length(${c}) > ${n}`, {
        null: `CASE WHEN octet_length(${c}) > ${n} THEN NULL ELSE ${c} END`,
        truncate: `CASE WHEN octet_length(${c}) > ${n} THEN ${truncateBytesSql(c, n)} ELSE ${c} END`,
      });
    }
    if (t.family === 'super' && /^jsonb?$/.test(src)) {
      add('super_too_large', `octet_length(${c}::text) > ${SUPER_MAX_BYTES}`, { null: `CASE WHEN octet_length(${c}::text) > ${SUPER_MAX_BYTES} THEN NULL ELSE ${c} END` });
    }
  }
  return rules;
}

/** A column's SELECT expression: its value, changed by the first rule whose policy changes values. */
export function selectExpr(column: string, rules: readonly ValueRule[]): string {
  let expr = quoteIdent(column);
  for (const r of rules) {
    if (r.column !== column || !r.transform) continue;
    // Each transform is written over the bare column; nest them in order.
    expr = expr === quoteIdent(column) ? r.transform : r.transform.split(quoteIdent(column)).join(`(${expr})`);
  }
  return expr === quoteIdent(column) ? expr : `${expr} AS ${quoteIdent(column)}`;
}

/** The rules a batch must be checked for: a `fail` Redshift would not enforce, and every value changed. */
export const rulesToCheck = (rules: readonly ValueRule[]) => rules.filter((r) => r.check || r.transform !== null);

export const ruleLabel = (r: ValueRule) => `${r.kind}:${r.column}`;

/**
 * A table's rules for a run: its policies (tables.value_policies, validated) over its
 * synced columns and their target types. A policy may not change a key column's values
 * (two keys could become one); that is refused, naming the column.
 */
export function tableValueRules(columns: readonly SourceColumn[], targets: ReadonlyMap<string, RedshiftType>, rawPolicies: unknown, keyColumns: readonly string[], where: string): ValueRule[] {
  const rules = valueRules(columns, targets, parseValuePolicies(rawPolicies, where));
  const onKey = rules.find((r) => r.transform !== null && keyColumns.includes(r.column));
  if (onKey) {
    throw new ValuePolicyError(
      `${where}: value_policies.${onKey.kind} = "${onKey.policy}" would change values of key column "${onKey.column}" (target ${onKey.target}), and two keys could become one; keys load unchanged: widen the target column instead, or remove ${onKey.kind} from value_policies`,
    );
  }
  return rules;
}

/**
 * After a load error on columns that have value rules: what a table can do about such
 * values (text appended to the error), or '' when none of the columns has a rule.
 */
export function policyHint(rules: readonly ValueRule[], columns: readonly string[]): string {
  const hit = rules.filter((r) => r.policy === 'fail' && columns.includes(r.column));
  if (hit.length === 0) return '';
  const options = hit.map((r) => `${r.kind} (${VALUE_POLICIES[r.kind].what}): ${VALUE_POLICIES[r.kind].policies.filter((p) => p !== 'fail').join(' or ')}`);
  return `. Nothing was loaded and the watermark was kept. If the value is one Redshift cannot hold, change it at the source or the target column's type, or set tables.value_policies for column(s) ${[...new Set(hit.map((r) => `"${r.column}"`))].join(', ')}: ${options.join('; ')}`;
}
