import { describe, expect, it } from 'vitest';
import { parseTargetType } from '../src/schema/types.js';
import { planTable, valueCheckSql, valueExampleSql } from '../src/sync/plan.js';
import { parseValuePolicies, policyHint, selectExpr, tableValueRules, truncateBytesSql, valueRules } from '../src/schema/value-rules.js';
import type { SourceColumn, TableRow } from '../src/metadata/types.js';

const columns: SourceColumn[] = [
  { name: 'id', type: 'integer', notNull: true },
  { name: 'rate', type: 'numeric', notNull: false },
  { name: 'price', type: 'numeric(12,2)', notNull: false },
  { name: 'at', type: 'timestamp with time zone', notNull: false },
  { name: 'day', type: 'date', notNull: false },
  { name: 'body', type: 'text', notNull: false },
  { name: 'doc', type: 'jsonb', notNull: false },
];
const targets = new Map(
  Object.entries({ id: 'integer', rate: 'numeric(38,10)', price: 'numeric(12,2)', at: 'timestamp with time zone', day: 'date', body: 'character varying(100)', doc: 'super' }).map(([k, v]) => [k, parseTargetType(v)]),
);

describe('value rules (pure)', () => {
  it('finds, per column, the values its target cannot hold; a declared scale the target keeps needs no decimals check', () => {
    expect(valueRules(columns, targets, {}).map((r) => `${r.column}:${r.kind}:${r.policy}${r.check ? ':checked' : ''}`)).toEqual([
      'rate:numeric_digits:fail:checked',
      'rate:numeric_special:fail',
      'price:numeric_special:fail',
      'at:infinite_datetime:fail',
      'day:infinite_datetime:fail',
      'day:date_range:fail',
      'body:text_too_long:fail',
      'doc:super_too_large:fail',
    ]);
  });

  it('policies change the SELECT; fail leaves the column as it is', () => {
    const rules = valueRules(columns, targets, { numeric_digits: 'round', numeric_special: 'null', text_too_long: 'truncate' });
    expect(selectExpr('id', rules)).toBe('"id"');
    expect(selectExpr('at', rules)).toBe('"at"');
    expect(selectExpr('rate', rules)).toMatchInlineSnapshot(`"CASE WHEN (round("rate", 10))::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE (round("rate", 10)) END AS "rate""`);
    expect(truncateBytesSql('"b"', 4)).toMatchInlineSnapshot(
      `"convert_from(substring(convert_to("b", 'UTF8') from 1 for CASE WHEN NOT (get_byte(convert_to("b", 'UTF8'), 4) & 192) = 128 THEN 4 WHEN NOT (get_byte(convert_to("b", 'UTF8'), 3) & 192) = 128 THEN 3 WHEN NOT (get_byte(convert_to("b", 'UTF8'), 2) & 192) = 128 THEN 2 ELSE 1 END), 'UTF8')"`,
    );
  });

  it('validates value_policies with one line naming the key or value', () => {
    expect(parseValuePolicies(null, 'w')).toEqual({});
    expect(() => parseValuePolicies([], 'w')).toThrow('w: value_policies must be a JSON object such as {"text_too_long": "truncate"}');
    expect(() => parseValuePolicies({ too_long: 'null' }, 'w')).toThrow(/w: value_policies has an unknown kind "too_long"; kinds: numeric_digits, numeric_special/);
    expect(() => parseValuePolicies({ numeric_digits: 'null' }, 'w')).toThrow('w: value_policies.numeric_digits is "null"; allowed: fail, round, truncate');
    expect(() => tableValueRules(columns, targets, { numeric_special: 'null' }, ['rate'], 'w')).toThrow(/would change values of key column "rate"/);
  });

  it('the batch check counts each checked rule over the batch rows, in one scan', () => {
    const row = { sourceSchema: 'public', sourceName: 'fx', copyMode: 'INSERT_ONLY', primaryKey: 'id' } as TableRow;
    const plan = { ...planTable(row, columns, { rowLimit: 1000, chunkSize: 100, destinationSchema: 'x' }, 'j'), valueRules: valueRules(columns, targets, { text_too_long: 'null' }) };
    expect(valueCheckSql(plan, { updatedKey: null, primaryKey: ['5'] })).toMatchInlineSnapshot(`
      "SELECT count(*) FILTER (WHERE "rate" <> round("rate", 10))::bigint AS r0,
        count(*) FILTER (WHERE octet_length("body") > 100)::bigint AS r1
      FROM "public"."fx"
      WHERE ("id") > ((current_setting('redshift_loader.lo')::jsonb ->> 0)::integer)
        AND ("id") <= ((current_setting('redshift_loader.hi')::jsonb ->> 0)::integer)"
    `);
    expect(valueExampleSql(plan, { updatedKey: null, primaryKey: null }, plan.valueRules[0]!)).toMatchInlineSnapshot(`
      "SELECT "id"::text AS k0, "rate"::text AS v
      FROM "public"."fx"
      WHERE ("id") <= ((current_setting('redshift_loader.hi')::jsonb ->> 0)::integer)
        AND "rate" <> round("rate", 10)
      LIMIT 1"
    `);
    expect(policyHint(plan.valueRules, ['rate'])).toMatch(/set tables\.value_policies for column\(s\) "rate": numeric_digits .*: round or truncate; numeric_special .*: null$/);
  });
});
