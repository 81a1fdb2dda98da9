import type pg from 'pg';
import { SET_FILE_BOUNDS_SQL, planFile, valueCheckSql, valueCounts, valueExampleSql, type TablePlan } from './plan.js';
import { VALUE_POLICIES, type ValueRule } from '../schema/value-rules.js';
import type { Watermark } from '../metadata/types.js';

/**
 * A batch holds a value its Redshift column cannot take and that Redshift would not refuse
 * by itself (decimals beyond the target's scale, which COPY cuts without an error): the
 * batch stops before anything is loaded and the watermark stays.
 */
export class ValueRuleError extends Error {
  override name = 'ValueRuleError';
}

/**
 * Checks one extracted batch, in its snapshot (the session that extracted it, before its
 * COMMIT), for the values its rules are about (see value-rules.ts). Throws ValueRuleError
 * on a `fail` rule Redshift would not enforce; returns how many values each changing
 * policy changed ({"kind:column": count}), to be counted in sync_runs.values_changed.
 * `last` is the batch's last key tuple (null for a table without a key).
 */
export async function checkBatchValues(src: pg.ClientBase, plan: TablePlan, from: Watermark, last: string[] | null, seen: string, where: string): Promise<Record<string, number>> {
  const sql = valueCheckSql(plan, from);
  if (!sql) return {};
  if (last) {
    const f = planFile(plan, from, last);
    await src.query(SET_FILE_BOUNDS_SQL, [f.lo, f.hi, seen]);
  }
  const counts = valueCounts(plan, (await src.query(sql)).rows[0] ?? {});
  const refused = counts.find((c) => c.rule.check);
  if (refused) {
    const ex = (await src.query<Record<string, string | null>>(valueExampleSql(plan, from, refused.rule))).rows[0];
    throw new ValueRuleError(refusalMessage(plan, refused.rule, refused.count, ex ?? null, where));
  }
  const changed: Record<string, number> = {};
  for (const c of counts) changed[c.label] = c.count;
  return changed;
}

function refusalMessage(plan: TablePlan, rule: ValueRule, count: number, ex: Record<string, string | null> | null, where: string): string {
  const row = ex && plan.primaryKey.length > 0 ? ` (row ${plan.primaryKey.map((k, i) => `${k} = ${ex[`k${i}`]}`).join(', ')})` : '';
  const value = ex ? ` holds ${ex.v}${row}` : ' holds a value';
  const others = count > 1 ? `; ${count} values of this batch are like it` : '';
  const policies = VALUE_POLICIES[rule.kind].policies.filter((p) => p !== 'fail');
  switch (rule.kind) {
    case 'numeric_digits':
      return (
        `${where}: column "${rule.column}"${value}, more decimals than its target column ${rule.target} keeps${others}; ` +
        `Redshift's COPY would cut them without an error, so nothing was loaded and the watermark was kept. ` +
        `Fix: give the target column more scale (recreate it, e.g. NUMERIC(38,20), or as VARCHAR for exact text), ` +
        `or set tables.value_policies to {"${rule.kind}": "round"} (or ${policies.filter((p) => p !== 'round').map((p) => `"${p}"`).join(', ')}) to load such values changed, counted in sync_runs.values_changed`
      );
    default:
      return (
        `${where}: column "${rule.column}"${value}, ${VALUE_POLICIES[rule.kind].what}; its target column is ${rule.target}${others}; nothing was loaded and the watermark was kept. ` +
        `Fix: change the source value or the target column, or set tables.value_policies to {"${rule.kind}": ${policies.map((p) => `"${p}"`).join(' or ')}}`
      );
  }
}
