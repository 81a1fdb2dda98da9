import { describe, expect, it } from 'vitest';
import * as sql from '../src/redshift/sql.js';
import { incrementalStatements, prepareSwapStatements } from '../src/sync/load.js';
import { planTable } from '../src/sync/plan.js';
import { CsvRecordCounter } from '../src/sync/csv-records.js';
import { quoteLiteral, splitColumnList } from '../src/sql/quote.js';

const target = { schema: 'analytics', name: 'Orders' };

describe('Redshift statements', () => {
  it('COPY from a manifest with an IAM role, every option explicit', () => {
    expect(sql.copyFromManifest({ table: { name: 'rl_stage_1', temp: true }, columns: ['id', 'note'], manifestUrl: 's3://b/p/manifest.json', auth: { iamRole: 'arn:aws:iam::1:role/r' }, compression: { format: 'zstd', level: 1 } })).toMatchSnapshot();
  });
  it('COPY with access keys (CREDENTIALS) and a region', () => {
    expect(sql.copyFromManifest({ table: target, columns: ['id'], manifestUrl: "s3://b/it's/manifest.json", auth: { accessKeyId: 'AKIA', secretAccessKey: 's/e', sessionToken: 'tok' }, compression: { format: 'gzip', level: 1 }, region: 'eu-west-1' })).toMatchSnapshot();
  });
  it('merge statements for single and composite keys', () => {
    expect(sql.deleteMatchingKeys(target, 'stg', ['id'])).toMatchSnapshot();
    expect(sql.deleteMatchingKeys(target, 'stg', ['region', 'id'])).toMatchSnapshot();
    expect(sql.insertAll(target, 'stg', ['id', 'updated_at'])).toMatchSnapshot();
  });
  it('the key check of a loaded batch: duplicates and NULLs, worst first', () => {
    expect(sql.keyProblems({ name: 'stg', temp: true }, ['id'])).toMatchSnapshot();
    expect(sql.keyProblems({ schema: 'analytics', name: 'Orders_rl_swap' }, ['region', 'id'])).toMatchSnapshot();
  });
  it('a whole incremental batch, in order', () => {
    const plan = planTable(
      { id: 1, jobId: 1, sourceSchema: 'public', sourceName: 'orders', destinationSchema: null, destinationName: 'Orders', copyMode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at', disabled: false, maxPrimaryKey: null,
      maxPrimaryKeyJson: null, maxUpdatedKey: null, rowLimit: null, chunkSize: null },
      [{ name: 'id', type: 'integer', notNull: true }, { name: 'updated_at', type: 'timestamp without time zone', notNull: false }],
      { rowLimit: 10, chunkSize: 5, destinationSchema: 'analytics' },
      'j',
    );
    expect(incrementalStatements(plan, 'rl_stage_x', 's3://b/m.json', { iamRole: 'arn:r' }, { format: 'zstd', level: 1 })).toMatchSnapshot();
    expect(prepareSwapStatements(plan)).toMatchSnapshot();
    expect(sql.lastCopyCount()).toMatchSnapshot();
  });
  it('swap helpers', () => {
    expect(sql.renameTable(target, 'Orders_rl_old')).toBe('ALTER TABLE "analytics"."Orders" RENAME TO "Orders_rl_old"');
    expect(sql.setOwner(target, 'etl')).toBe('ALTER TABLE "analytics"."Orders" OWNER TO "etl"');
    expect(sql.grant(target, { grantee: 'readers', isGroup: true, privileges: ['SELECT'] })).toBe('GRANT SELECT ON "analytics"."Orders" TO GROUP "readers"');
    expect(sql.grant(target, { grantee: 'PUBLIC', isGroup: false, privileges: ['SELECT'] })).toBe('GRANT SELECT ON "analytics"."Orders" TO PUBLIC');
  });
  it('parses ACLs into grants, skipping the owner', () => {
    expect(sql.parseAcl('etl=arwdDxt/etl\nanalyst=r/etl\n"Odd User"=ar/etl\ngroup readers=r/etl\n=r/etl', 'etl')).toEqual([
      { grantee: 'analyst', isGroup: false, privileges: ['SELECT'] },
      { grantee: 'Odd User', isGroup: false, privileges: ['INSERT', 'SELECT'] },
      { grantee: 'readers', isGroup: true, privileges: ['SELECT'] },
      { grantee: 'PUBLIC', isGroup: false, privileges: ['SELECT'] },
    ]);
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
