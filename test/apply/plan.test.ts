import { describe, expect, it } from 'vitest';
import { configFromSnapshot, stringifyConfig } from '../../src/apply/export.js';
import { parseConfigText, type ConfigFile } from '../../src/apply/file.js';
import { JOB_FIELDS, SCHEDULE_FIELDS, TABLE_FIELDS, type FieldSpec, type Values } from '../../src/apply/fields.js';
import { countPlan, formatPlan, planApply, type CurrentTable, type Snapshot } from '../../src/apply/plan.js';

const defaults = (fields: readonly FieldSpec[], v: Values): Values => ({ ...Object.fromEntries(fields.map((f) => [f.column, f.default])), ...v });
const table = (id: number, v: Values, extra: Partial<CurrentTable> = {}): CurrentTable => ({
  id,
  values: defaults(TABLE_FIELDS, v),
  maxPrimaryKey: null,
  maxUpdatedKey: null,
  claimedBy: null,
  claimExpiresAt: null,
  runs: 0,
  ...extra,
});

/** The rows as they are: job shop with three tables and two schedules, and a job the file does not name. */
const snapshot: Snapshot = {
  jobs: [
    {
      id: 1,
      values: defaults(JOB_FIELDS, { name: 'shop', source_connection_string: 'postgres://loader:Secret123@db/shop', destination_connection_string: 'env:REDSHIFT_URL' }),
      tables: [
        table(10, { source_name: 'orders', copy_mode: 'INSERT_ONLY', primary_key: 'id', delete_detection: true }, { maxPrimaryKey: '["1042"]', runs: 7 }),
        table(11, { source_name: 'items', copy_mode: 'FULL_DATA_SYNC', primary_key: 'order_id,line' }),
        table(12, { source_name: 'legacy', copy_mode: 'FULL_DATA_SYNC' }, { runs: 3 }),
        table(13, { source_schema: 'audit', source_name: 'log', copy_mode: 'FULL_DATA_SYNC' }, { claimedBy: 'worker@host:1:abc', claimExpiresAt: '2026-12-01 10:00:00+00' }),
      ],
      schedules: [
        { id: 20, values: defaults(SCHEDULE_FIELDS, { frequency: 900, at: '06:**,07:**', timezone: 'Europe/Berlin' }) },
        { id: 21, values: defaults(SCHEDULE_FIELDS, { frequency: 60 }) },
      ],
    },
  ],
  otherJobs: ['billing'],
};

const FILE = `
jobs:
  - name: shop
    source_connection_string: env:SHOP_DATABASE_URL
    destination_connection_string: env:REDSHIFT_URL
    tables:
      - { source_name: orders, copy_mode: INSERT_AND_UPDATE, primary_key: id, updated_key: updated_at, delete_detection: true }
      - { source_name: items, copy_mode: FULL_DATA_SYNC, primary_key: [order_id, line] }
      - { source_name: customers, copy_mode: FULL_DATA_SYNC, value_policies: { text_too_long: truncate } }
    schedules:
      - { frequency: 60 }
      - { frequency: 600, at: "06:**,07:**", timezone: Europe/Berlin }
  - name: new_job
    source_connection_string: env:NEW_SOURCE_URL
    destination_connection_string: env:REDSHIFT_URL
    destination_schema: analytics
    tables:
      - { source_name: events, copy_mode: INSERT_ONLY, primary_key: id, row_limit: 50000 }
    schedules:
      - { frequency: 3600 }
`;

function parse(text: string): ConfigFile {
  const r = parseConfigText(text, 'f.yaml');
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.config;
}

describe('the apply planner (pure)', () => {
  it('plans added, changed, kept rows per field, and notes the watermark that stays', () => {
    const plan = planApply(parse(FILE), snapshot, { prune: false });
    expect(formatPlan(plan)).toMatchSnapshot();
    expect(countPlan(plan)).toEqual({ added: 4, changed: 3, removed: 0, kept: 2 });
    expect(plan.blockers).toEqual([]);
    // Equal lists are equal however they are written; a schedule equal to a row is that row.
    expect(plan.jobs[0]!.tables.find((t) => t.id === 11)!.action).toBe('same');
    expect(plan.jobs[0]!.schedules.map((s) => [s.id, s.action])).toEqual([
      [21, 'same'],
      [20, 'change'],
    ]);
    // Only configuration columns are ever in a plan.
    const columns = new Set(plan.jobs.flatMap((j) => [...j.changes, ...j.tables.flatMap((t) => t.changes), ...j.schedules.flatMap((s) => s.changes)]).map((c) => c.column));
    for (const c of ['max_primary_key', 'max_updated_key', 'watermark_snapshot', 'source_attnums', 'last_error', 'claimed_by']) expect(columns.has(c)).toBe(false);
  });

  it('with prune removes what the file does not list, but never a table a sync is running', () => {
    const plan = planApply(parse(FILE), snapshot, { prune: true });
    expect(formatPlan(plan)).toMatchSnapshot();
    expect(plan.blockers).toEqual([
      'job shop, table audit.log: cannot be removed while a sync runs it (claimed by worker@host:1:abc until 2026-12-01 10:00:00+00); apply again when it has finished, or keep it in the file',
    ]);
    const free = { ...snapshot, jobs: [{ ...snapshot.jobs[0]!, tables: snapshot.jobs[0]!.tables.filter((t) => t.id !== 13) }] };
    const ok = planApply(parse(FILE), free, { prune: true });
    expect(ok.blockers).toEqual([]);
    expect(countPlan(ok)).toEqual({ added: 4, changed: 3, removed: 1, kept: 0 });
  });

  it('export writes what apply reads back as no changes, with a literal secret replaced by an env: reference', () => {
    const { config, warnings } = configFromSnapshot(snapshot);
    expect(warnings).toEqual([
      'job shop: source_connection_string holds a literal URL with a password; the file says env:SHOP_SOURCE_URL instead. Set SHOP_SOURCE_URL to that URL where the worker runs, then apply the file: the secret then lives in the environment, not in the metadata DB or in git',
    ]);
    for (const format of ['yaml', 'json'] as const) {
      const text = stringifyConfig(config, format);
      expect(text).not.toContain('Secret123');
      const plan = planApply(parse(text), snapshot, { prune: true });
      // The one difference: the secret moves out of the row into the environment.
      expect(plan.jobs[0]!.changes).toEqual([{ column: 'source_connection_string', from: 'postgres://loader:Secret123@db/shop', to: 'env:SHOP_SOURCE_URL' }]);
      expect(countPlan(plan)).toEqual({ added: 0, changed: 1, removed: 0, kept: 0 });
      expect(formatPlan(plan)).not.toContain('Secret123');
    }
    expect(stringifyConfig(config, 'yaml')).toMatchSnapshot();
  });
});
