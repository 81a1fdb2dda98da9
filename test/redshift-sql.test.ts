import { describe, expect, it } from 'vitest';
import * as sql from '../src/redshift/sql.js';
import { readGrants } from '../src/redshift/privileges.js';
import { Fence, showStep } from '../src/sync/fence.js';
import { incrementalStatements, prepareSwapStatements } from '../src/sync/load.js';
import { planTable } from '../src/sync/plan.js';
import { CsvRecordCounter } from '../src/extract/csv-records.js';
import { quoteLiteral, splitColumnList } from '../src/sql/quote.js';

const target = { schema: 'analytics', name: 'Orders' };

describe('Redshift statements', () => {
  it('a session statement timeout in milliseconds, whole and never negative', () => {
    expect(sql.setStatementTimeout(3_600_000)).toBe('SET statement_timeout TO 3600000');
    expect(sql.setStatementTimeout(1999.7)).toBe('SET statement_timeout TO 1999');
    expect(sql.setStatementTimeout(-5)).toBe('SET statement_timeout TO 0');
  });
  it('COPY from a manifest with an IAM role, every option explicit', () => {
    expect(sql.copyFromManifest({ table: { name: 'rl_stage_1', temp: true }, columns: ['id', 'note'], manifestUrl: 's3://b/p/manifest.json', auth: { iamRole: 'arn:aws:iam::1:role/r' }, compression: { format: 'zstd', level: 1 } })).toMatchSnapshot();
  });
  it('COPY with access keys (CREDENTIALS) and a region', () => {
    expect(sql.copyFromManifest({ table: target, columns: ['id'], manifestUrl: "s3://b/it's/manifest.json", auth: { accessKeyId: 'AKIA', secretAccessKey: 's/e', sessionToken: 'tok' }, compression: { format: 'gzip', level: 1 }, region: 'eu-west-1' })).toMatchSnapshot();
  });
  const id = { name: 'id', text: false };
  const region = { name: 'region', text: true };
  it('merge statements: the IN fast path, composite and character keys (byte length too), and never older with an updated key', () => {
    expect(sql.deleteMatchingKeys(target, 'stg', [id])).toMatchSnapshot();
    expect(sql.deleteMatchingKeys(target, 'stg', [region, id])).toMatchSnapshot();
    expect(sql.deleteMatchingKeys(target, 'stg', [region])).toBe(
      'DELETE FROM "analytics"."Orders" USING "stg" s WHERE "analytics"."Orders"."region" = s."region" AND OCTET_LENGTH("analytics"."Orders"."region") = OCTET_LENGTH(s."region")',
    );
    expect(sql.deleteMatchingKeys(target, 'stg', [id], 'updated_at')).toBe(
      'DELETE FROM "analytics"."Orders" USING "stg" s WHERE "analytics"."Orders"."id" = s."id" AND "analytics"."Orders"."updated_at" <= s."updated_at"',
    );
    expect(sql.insertStaged(target, 'stg', ['id', 'updated_at'], [id], null)).toMatchSnapshot();
    expect(sql.insertStaged(target, 'stg', ['id', 'updated_at'], [id], 'updated_at')).toMatchSnapshot();
  });
  it('the key check of a loaded batch: duplicates and NULLs, worst first; character keys grouped with their byte length', () => {
    expect(sql.keyProblems({ name: 'stg', temp: true }, [id])).toMatchSnapshot();
    expect(sql.keyProblems({ schema: 'analytics', name: 'Orders_rl_swap_1' }, [region, id])).toMatchSnapshot();
  });
  it('the fence: the state table and the statements that take and check it', () => {
    expect(sql.createStateTable('analytics')).toMatchSnapshot();
    expect(sql.lockTables([sql.stateTableRef('analytics'), target])).toBe('LOCK "analytics"."redshift_loader_state", "analytics"."Orders"');
    expect([sql.readFence('analytics'), sql.insertFence('analytics'), sql.updateFence('analytics')]).toMatchSnapshot();
  });
  it('a whole incremental batch, in order', () => {
    const plan = planTable(
      { id: 1, jobId: 1, sourceSchema: 'public', sourceName: 'orders', destinationSchema: null, destinationName: 'Orders', copyMode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at', disabled: false, maxPrimaryKey: null,
      maxPrimaryKeyJson: null, maxUpdatedKey: null, rowLimit: null, chunkSize: null },
      [{ name: 'id', type: 'integer', notNull: true }, { name: 'updated_at', type: 'timestamp without time zone', notNull: false }],
      { rowLimit: 10, chunkSize: 5, destinationSchema: 'analytics' },
      'j',
    );
    const fence = new Fence(plan.target, 42, 'w run 7');
    const st = incrementalStatements(plan, 'rl_stage_x', 's3://b/m.json', { iamRole: 'arn:r' }, { format: 'zstd', level: 1 }, fence, 'job "j", table public.orders');
    expect({ ...st, merge: st.merge.map(showStep) }).toMatchSnapshot();
    expect(prepareSwapStatements(plan, '7')).toMatchSnapshot();
    expect(sql.lastCopyCount()).toMatchSnapshot();
  });
  it('swap helpers', () => {
    expect(sql.renameTable(target, 'Orders_rl_old')).toBe('ALTER TABLE "analytics"."Orders" RENAME TO "Orders_rl_old"');
    expect(sql.setOwner(target, 'etl')).toBe('ALTER TABLE "analytics"."Orders" OWNER TO "etl"');
    expect(sql.grant(target, { grantee: 'readers', type: 'group', privileges: ['SELECT'] })).toBe('GRANT SELECT ON "analytics"."Orders" TO GROUP "readers"');
    expect(sql.grant(target, { grantee: 'PUBLIC', type: 'public', privileges: ['SELECT'] })).toBe('GRANT SELECT ON "analytics"."Orders" TO PUBLIC');
    expect(sql.grant(target, { grantee: 'Analyst', type: 'role', privileges: ['SELECT', 'DROP'] })).toBe('GRANT SELECT, DROP ON "analytics"."Orders" TO ROLE "Analyst"');
    expect(sql.grant(target, { grantee: 'ann', type: 'user', privileges: ['INSERT'], grantOption: true })).toBe('GRANT INSERT ON "analytics"."Orders" TO "ann" WITH GRANT OPTION');
    expect(sql.grant(target, { grantee: 'ann', type: 'user', privileges: ['SELECT', 'UPDATE'], columns: ['id', 'Note'] })).toBe(
      'GRANT SELECT ("id", "Note"), UPDATE ("id", "Note") ON "analytics"."Orders" TO "ann"',
    );
    expect(() => sql.grant(target, { grantee: 'g', type: 'group', privileges: ['SELECT'], grantOption: true })).toThrow(/only be granted to a user/);
  });
  it("parses Redshift ACLs (relacl's letters, group prefix, grant options) into grants, skipping the owner and RULE/TRIGGER", () => {
    // As Redshift prints them: ALL was arwdRxt before DROP (D) existed (AWS's amazon-redshift-utils); array_to_string leaves no quotes.
    expect(sql.parseAcl('etl=arwdRxtD/etl\nanalyst=r/etl\n"Odd User"=ar/etl\ngroup readers=r/etl\n"group loaders=arwdRxt/etl"\n=r/etl\nann=r*a/etl', 'etl')).toEqual([
      { grantee: 'analyst', type: 'user', privileges: ['SELECT'] },
      { grantee: 'Odd User', type: 'user', privileges: ['SELECT', 'INSERT'] },
      { grantee: 'readers', type: 'group', privileges: ['SELECT'] },
      { grantee: 'loaders', type: 'group', privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REFERENCES'] },
      { grantee: 'PUBLIC', type: 'public', privileges: ['SELECT'] },
      { grantee: 'ann', type: 'user', privileges: ['INSERT'] },
      { grantee: 'ann', type: 'user', privileges: ['SELECT'], grantOption: true },
    ]);
    expect(sql.parseAcl('group etl=D/o', 'o')).toEqual([{ grantee: 'etl', type: 'group', privileges: ['DROP'] }]);
    expect(sql.parseAcl(null, 'o')).toEqual([]);
  });
  it('reads grants from svv_relation_privileges and svv_column_privileges rows: users, groups, roles, PUBLIC, grant options, column grants', () => {
    const rel = [
      { privilege_type: 'INSERT', identity_name: 'etl', identity_type: 'group', admin_option: false },
      { privilege_type: 'SELECT', identity_name: 'etl', identity_type: 'group', admin_option: false },
      { privilege_type: 'SELECT', identity_name: 'ann', identity_type: 'user', admin_option: true },
      { privilege_type: 'DELETE', identity_name: 'ann', identity_type: 'user', admin_option: false },
      { privilege_type: 'DROP', identity_name: 'analyst', identity_type: 'role', admin_option: false },
      { privilege_type: 'SELECT', identity_name: 'public', identity_type: 'public', admin_option: false },
      { privilege_type: 'SELECT', identity_name: 'owner', identity_type: 'user', admin_option: true },
    ];
    const cols = [
      { column_name: 'note', privilege_type: 'UPDATE', identity_name: 'bob', identity_type: 'user' },
      { column_name: 'id', privilege_type: 'SELECT', identity_name: 'bob', identity_type: 'user' },
      { column_name: 'note', privilege_type: 'SELECT', identity_name: 'bob', identity_type: 'user' },
      { column_name: 'id', privilege_type: 'SELECT', identity_name: 'analyst', identity_type: 'role' },
    ];
    const grants = sql.grantsFromPrivileges(rel, cols, 'owner');
    expect(grants.map((g) => sql.grant(target, g))).toEqual([
      'GRANT SELECT, INSERT ON "analytics"."Orders" TO GROUP "etl"',
      'GRANT SELECT ON "analytics"."Orders" TO PUBLIC',
      'GRANT DROP ON "analytics"."Orders" TO ROLE "analyst"',
      'GRANT SELECT ON "analytics"."Orders" TO "ann" WITH GRANT OPTION',
      'GRANT DELETE ON "analytics"."Orders" TO "ann"',
      'GRANT SELECT ("id") ON "analytics"."Orders" TO ROLE "analyst"',
      'GRANT SELECT ("id", "note") ON "analytics"."Orders" TO "bob"',
      'GRANT UPDATE ("note") ON "analytics"."Orders" TO "bob"',
    ]);
    expect(sql.relationPrivileges()).toMatchSnapshot();
    expect(sql.columnPrivileges()).toMatchSnapshot();
    expect(sql.tableOwnerAndAcl()).toMatchSnapshot();
  });
  it('falls back to relacl where the svv privilege views do not exist (42P01), and only then', async () => {
    const missing = Object.assign(new Error('relation "svv_relation_privileges" does not exist'), { code: '42P01' });
    const db = { query: async () => Promise.reject(missing) } as unknown as Parameters<typeof readGrants>[0];
    expect(await readGrants(db, target, 'etl', 'group readers=r/etl')).toEqual({ grants: [{ grantee: 'readers', type: 'group', privileges: ['SELECT'] }], from: 'relacl' });
    const other = { query: async () => Promise.reject(Object.assign(new Error('permission denied'), { code: '42501' })) } as unknown as Parameters<typeof readGrants>[0];
    await expect(readGrants(other, target, 'etl', null)).rejects.toThrow(/permission denied/);
  });
  it('quotes literals and column lists', () => {
    expect(quoteLiteral("a'b\\c")).toBe("'a''b\\\\c'");
    expect(splitColumnList(' a, "Mixed ""Q""" , d')).toEqual(['a', 'Mixed "Q"', 'd']);
  });
});

describe('CsvRecordCounter', () => {
  it('counts records across chunks, ignoring newlines and quotes inside quoted fields', () => {
    const text = '"1","a\nb"\n"2","say ""hi""\n"\n"3",\\N\n';
    const bytes = Buffer.from(text);
    for (let split = 1; split < bytes.length; split++) {
      const c = new CsvRecordCounter();
      const a = c.scan(bytes.subarray(0, split), 0, 100);
      const b = c.scan(bytes.subarray(split), 0, 100);
      expect(a.found + b.found).toBe(3);
    }
    const c = new CsvRecordCounter();
    const first = c.scan(bytes, 0, 1);
    expect(bytes.subarray(0, first.end).toString()).toBe('"1","a\nb"\n');
  });
});
