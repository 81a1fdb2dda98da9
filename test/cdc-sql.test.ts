import { describe, expect, it } from 'vitest';
import { applyTransaction, stageStatements, type StagedTable } from '../src/sync/cdc/plan.js';
import * as sql from '../src/redshift/sql.js';
import { showStep } from '../src/sync/fence.js';

/** Every statement a CDC batch sends to Redshift (src/redshift/sql.ts builders, planned by src/sync/cdc/plan.ts). */
const target = { schema: 'analytics', name: 'Orders' };
const id = { name: 'id', text: false };
const note = { name: 'note', text: true };

const keyed: StagedTable = {
  name: 'public.orders', target, columns: ['id', 'note', 'body'], key: [id], allColumns: [id, note, { name: 'body', text: true }],
  staging: 'rl_cdc_1_abc', manifestUrl: 's3://b/cdc/run-1/batch-00001/t1/manifest.json', truncated: false, unchanged: [2], fence: { token: 42, owner: 'w cdc' },
};
const keyless: StagedTable = { ...keyed, name: 'public.events', target: { schema: 'analytics', name: 'events' }, key: [], unchanged: [], truncated: true, staging: 'rl_cdc_2_def' };

describe('CDC statements', () => {
  it('the staging table and its COPY (target columns, then the markers)', () => {
    expect(stageStatements(keyed, { iamRole: 'arn:aws:iam::1:role/r' }, { format: 'zstd', level: 1 })).toMatchSnapshot();
    expect(stageStatements(keyless, { iamRole: 'arn:aws:iam::1:role/r' }, { format: 'gzip', level: 1 })).toMatchSnapshot();
  });
  it('one transaction for every table of a batch: locks, fences, the position, TOAST fills, deletes and inserts, row images without a key', () => {
    const steps = applyTransaction({ tables: [keyed, keyless], stateSchema: 'analytics', slot: 'rl_shop', from: { lsn: '0/16B3748', changes: -1 }, to: { lsn: '0/16B9000', changes: 12 }, where: 'job "shop"' });
    expect(steps.map(showStep)).toMatchSnapshot();
    expect(steps[0]).toBe('BEGIN');
    expect(steps.at(-1)).toBe('COMMIT');
    expect(steps.filter((s) => s === 'COMMIT')).toHaveLength(1);
  });
  it('the position table and the fence claimed inside the transaction', () => {
    expect([sql.createCdcStateTable('analytics'), sql.readCdcPosition('analytics'), sql.insertCdcPosition('analytics'), sql.updateCdcPosition('analytics'), sql.resetCdcPosition('analytics'), sql.claimFence('analytics'), sql.tableExists()]).toMatchSnapshot();
  });
  it('a TOAST fill names only a column position, never a value', () => {
    expect(sql.cdcFillUnchanged('s', target, 'body', 2, [id])).toBe(
      `UPDATE "s" SET "body" = t."body" FROM "analytics"."Orders" t WHERE "s"."id" = t."id" AND "s"."rl_cdc_unchanged" LIKE '%,2,%'`,
    );
    expect(() => sql.cdcFillUnchanged('s', target, 'body', 1.5, [id])).toThrow(/bad position/);
  });
});
