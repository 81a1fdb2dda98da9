import { describe, expect, it } from 'vitest';
import {
  alterUserBatch,
  batchOf,
  checkPassword,
  chunkKeys,
  copyJsonSql,
  copyTableBatch,
  copyUnloadedSql,
  inputLineOf,
  partIndexOf,
  createTableSql,
  createUserBatch,
  createViewSql,
  deepCopyBatch,
  encodingsFromAnalyzeCompression,
  extractCopySql,
  formatBatch,
  initWarehouseBatch,
  jsonPaths,
  mustRunOutsideTransaction,
  outgoingName,
  parseDistStyle,
  parseIdentity,
  parseRelation,
  PASSWORD_ALPHABET,
  URL_SAFE_ALPHABET,
  randomPassword,
  redactSql,
  tableDefinitionBatch,
  unloadSql,
  COLUMNS_SQL,
  TABLE_DEF_SQL,
  TABLE_INFO_SQL,
  OWNER_ACL_SQL,
  PRIMARY_KEY_SQL,
  VIEW_DEF_SQL,
  TABLES_SQL,
  TABLE_EXISTS_SQL,
  type TableDef,
} from '../../src/admin/index.js';

const role = { iamRole: 'arn:aws:iam::123456789012:role/r' };
const keys = { accessKeyId: 'AKIA1', secretAccessKey: 's3cr/et', sessionToken: 'tok' };

const events: TableDef = {
  schema: 'analytics',
  name: 'Events',
  columns: [
    { name: 'id', type: 'bigint', notNull: true, default: null, identity: null, encoding: 'az64' },
    { name: 'kind', type: 'character varying(40)', notNull: false, default: "'click'::character varying", identity: null, encoding: 'lzo' },
    { name: 'at', type: 'timestamp without time zone', notNull: true, default: null, identity: null, encoding: 'raw' },
    { name: 'payload', type: 'super', notNull: false, default: null, identity: null, encoding: 'zstd' },
  ],
  diststyle: 'KEY',
  distkey: 'id',
  sortkeyType: 'COMPOUND',
  sortkey: ['at', 'id'],
  primaryKey: ['id'],
  owner: 'etl',
  grants: [
    { grantee: 'readers', type: 'group', privileges: ['SELECT'] },
    { grantee: 'Ann', type: 'user', privileges: ['SELECT', 'INSERT'] },
    { grantee: 'analyst', type: 'role', privileges: ['SELECT', 'DROP'] },
    { grantee: 'Ann', type: 'user', privileges: ['SELECT'], columns: ['id', 'kind'] },
    { grantee: 'PUBLIC', type: 'public', privileges: ['SELECT'] },
  ],
};

describe('reflection DDL', () => {
  it('CREATE TABLE with types, defaults, NOT NULL, ENCODE, keys; owner and grants', () => {
    expect(formatBatch(tableDefinitionBatch(events))).toMatchSnapshot();
  });
  it('interleaved sort key, DISTSTYLE ALL, unknown dist style, another name', () => {
    expect(createTableSql({ ...events, diststyle: 'ALL', distkey: null, sortkeyType: 'INTERLEAVED', sortkey: ['kind', 'at'], primaryKey: [] })).toMatchSnapshot();
    expect(createTableSql({ ...events, diststyle: null, distkey: null, sortkeyType: null, sortkey: [], primaryKey: [] }, { as: { schema: 'x', name: 'copy' } })).toMatchSnapshot();
  });
  it('identity columns and catalog values', () => {
    expect(parseIdentity(`"identity"(106513, 0, '1,1'::text)`)).toEqual({ seed: '1', step: '1' });
    expect(parseIdentity(`"identity"(1, 2, '100,-5'::text)`)).toEqual({ seed: '100', step: '-5' });
    expect(parseIdentity(`nextval('x')`)).toBeNull();
    expect(parseDistStyle('KEY(user_id)')).toEqual({ diststyle: 'KEY', distkey: 'user_id' });
    expect(parseDistStyle('AUTO(KEY(a))')).toEqual({ diststyle: 'AUTO', distkey: null });
    expect(parseDistStyle('ALL')).toEqual({ diststyle: 'ALL', distkey: null });
    expect(parseDistStyle(null)).toBeNull();
  });
  it('views: regular and late-binding', () => {
    expect(createViewSql({ schema: 's', name: 'v' }, ' SELECT a FROM t;')).toBe('CREATE OR REPLACE VIEW "s"."v" AS\nSELECT a FROM t');
    expect(createViewSql({ schema: 's', name: 'v' }, 'create view s.v as select 1 with no schema binding;')).toBe('create view s.v as select 1 with no schema binding');
  });
  it('catalog queries', () => {
    expect({ COLUMNS_SQL, TABLE_DEF_SQL, TABLE_INFO_SQL, OWNER_ACL_SQL, PRIMARY_KEY_SQL, VIEW_DEF_SQL, TABLES_SQL, TABLE_EXISTS_SQL }).toMatchSnapshot();
  });
});

describe('deep copy', () => {
  it('default: lock, rename, recreate, owner and grants, insert, drop, analyze', () => {
    expect(formatBatch(deepCopyBatch(events))).toMatchSnapshot();
  });
  it('new keys and encodings, distinct, cascade', () => {
    expect(formatBatch(deepCopyBatch(events, { distkey: 'kind', sortkey: ['kind'], encodings: { payload: 'raw' }, distinct: true, cascade: true }))).toMatchSnapshot();
  });
  it('diststyle EVEN drops the distkey; dedupe keeps the first row per partition', () => {
    expect(formatBatch(deepCopyBatch(events, { diststyle: 'EVEN', sortkeyType: 'INTERLEAVED', dedupeBy: ['id'], orderBy: 'at DESC' }))).toMatchSnapshot();
  });
  it('refuses bad options', () => {
    expect(() => deepCopyBatch(events, { dedupeBy: ['id'] })).toThrow(/order-by/);
    expect(() => deepCopyBatch(events, { distkey: 'nope' })).toThrow(/"nope" does not exist/);
    expect(() => deepCopyBatch(events, { distkey: 'id', diststyle: 'ALL' })).toThrow(/DISTSTYLE KEY/);
    expect(() => deepCopyBatch(events, { distinct: true, dedupeBy: ['id'], orderBy: 'id' })).toThrow(/either/);
    expect(() => deepCopyBatch({ ...events, columns: [{ ...events.columns[0]!, identity: { seed: '1', step: '1' } }] })).toThrow(/IDENTITY/);
  });
  it('outgoing names stay within 127 bytes; ANALYZE COMPRESSION rows become encodings', () => {
    expect(Buffer.byteLength(outgoingName('é'.repeat(63)))).toBeLessThanOrEqual(127);
    expect(encodingsFromAnalyzeCompression([{ Table: 't', Column: 'a', Encoding: 'zstd', Est_reduction_pct: '60' }, { table: 't', column: 'b', encoding: 'none' }, { Table: 't', Column: 'c', Encoding: 'N/A', Est_reduction_pct: '0.00' }])).toEqual({ a: 'zstd', b: 'raw' });
  });
});

describe('users', () => {
  it('create-user with every option, SET session parameters', () => {
    expect(
      formatBatch(createUserBatch('etl_bot', { password: 'Abcdefg1!', validUntil: '2030-01-01', createdb: true, createuser: false, groups: ['etl', 'Loaders'], connectionLimit: 5, set: { wlm_query_slot_count: 3, search_path: 'etl, public' } })),
    ).toMatchSnapshot();
    expect(formatBatch(createUserBatch('nologin', { password: false }))).toBe('CREATE USER "nologin" PASSWORD DISABLE;\n');
    expect(() => createUserBatch('x', { password: 'short' })).toThrow(/8 to 64/);
  });
  it('alter-user: rename first (it clears the password), then options, parameters, groups on the new name', () => {
    expect(
      formatBatch(alterUserBatch('ann', { password: 'NewPassw0rd', validUntil: 'infinity', createdb: false, set: { wlm_query_slot_count: 2, statement_timeout: null }, addGroups: ['readers'], removeGroups: ['etl'], renameTo: 'anna' })),
    ).toMatchSnapshot();
    expect(() => alterUserBatch('ann', {})).toThrow(/nothing/);
    expect(() => alterUserBatch('ann', { set: { 'x; drop': 1 } })).toThrow(/parameter/);
  });
  it('init-warehouse', () => {
    expect(formatBatch(initWarehouseBatch({ schemas: ['shop', 'crm'], etlUser: 'etl', etlPassword: 'Etl-Passw0rd', readers: ['bi'] }))).toMatchSnapshot();
  });
  it('random passwords are URL-safe by default: letters, digits and - . _ ~ only, every one of them drawn', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const p = randomPassword(8 + (i % 57));
      expect(checkPassword(p)).toBeNull();
      expect(p).toMatch(/^[A-Za-z0-9._~-]+$/);
      expect(`postgres://u:${p}@h/db`).toBe(new URL(`postgres://u:${p}@h/db`).toString());
      for (const ch of p) seen.add(ch);
    }
    expect([...seen].sort().join('')).toBe([...URL_SAFE_ALPHABET].sort().join(''));
  });
  it('random passwords from every printable character meet the rules over many samples, and use the whole alphabet', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const len = 8 + (i % 57);
      const p = randomPassword(len, { alphabet: 'printable' });
      expect(p).toHaveLength(len);
      expect(checkPassword(p)).toBeNull();
      expect(p).not.toMatch(/['"\\/@ ]/);
      for (const ch of p) seen.add(ch);
    }
    expect(seen.size).toBe(PASSWORD_ALPHABET.length);
    expect(PASSWORD_ALPHABET).not.toMatch(/['"\\/@ ]/);
    expect(() => randomPassword(7)).toThrow();
    expect(() => randomPassword(65)).toThrow();
  });
  it('passwords are redacted for logs', () => {
    const sql = formatBatch(createUserBatch('u', { password: 'Pa55word#x' }));
    expect(sql).toContain(`PASSWORD 'Pa55word#x'`);
    expect(redactSql(sql)).toBe(`CREATE USER "u" PASSWORD '***';`+'\n');
    expect(redactSql(`CREDENTIALS 'aws_access_key_id=A;aws_secret_access_key=SECRET;token=TOK'`)).not.toMatch(/SECRET|TOK/);
  });
});

describe('S3 statements', () => {
  it('unload a query and a DISTSTYLE ALL table; JSON; access keys', () => {
    expect(unloadSql({ query: "SELECT * FROM t WHERE s = 'x';" }, { to: 's3://b/out/t_', auth: role })).toMatchSnapshot();
    expect(unloadSql({ table: { schema: 'a', name: 'Dim' }, diststyleAll: true }, { to: 's3://b/out/dim_', auth: keys, format: 'json', region: 'eu-west-1' })).toMatchSnapshot();
    expect(unloadSql({ table: { schema: 'a', name: 't' } }, { to: 's3://b/out/', auth: role, format: 'csv', manifest: false, allowOverwrite: false, gzip: false, maxFileSizeMb: 100 })).toMatchSnapshot();
    expect(() => unloadSql({ query: 'select 1' }, { to: 'b/out', auth: role })).toThrow(/s3:\/\//);
  });
  it('copy back what unload wrote', () => {
    expect(copyUnloadedSql({ schema: 'a', name: 't2' }, { to: 's3://b/out/t_', auth: role, columns: ['id', 'name'] })).toMatchSnapshot();
    expect(copyUnloadedSql({ schema: 'a', name: 't2' }, { to: 's3://b/out/t_', auth: role, format: 'json' })).toMatchSnapshot();
  });
  it('copy-json maps a part file line back to the input line (round-robin, blank lines skipped)', () => {
    // 3 slices; input lines 1..9 with line 3 and 6 blank: records r0..r6 are input lines 1,2,4,5,7,8,9.
    const blank = [3, 6];
    expect([inputLineOf(0, 1, 3, blank), inputLineOf(1, 1, 3, blank), inputLineOf(2, 1, 3, blank), inputLineOf(0, 2, 3, blank), inputLineOf(2, 2, 3, blank), inputLineOf(0, 3, 3, blank)]).toEqual([1, 2, 4, 5, 8, 9]);
    expect(partIndexOf('s3://b/p/part-00003.json.gz')).toBe(2);
    expect(partIndexOf('s3://b/p/other.gz')).toBeNull();
  });
  it('copy-json: jsonpaths and COPY', () => {
    expect(jsonPaths(['id', "it's", 'Name'])).toEqual({ jsonpaths: ["$['id']", "$['it\\'s']", "$['Name']"] });
    expect(copyJsonSql({ table: { schema: 'raw', name: 'events' }, manifestUrl: 's3://b/p/manifest.json', jsonPathsUrl: 's3://b/p/jsonpaths.json', auth: role })).toMatchSnapshot();
    expect(copyJsonSql({ table: { schema: 'raw', name: 'events' }, columns: ['a', 'b'], manifestUrl: 's3://b/p/manifest.json', jsonPathsUrl: 's3://b/p/jsonpaths.json', auth: keys, region: 'us-west-2' })).toMatchSnapshot();
  });
  it('copy-table: extract, manifests, statement first', () => {
    expect(extractCopySql({ table: { schema: 'public', name: 'Orders' } }, ['id', 'total'])).toMatchSnapshot();
    expect(extractCopySql({ query: 'select id, total from orders where total > 10;' }, ['id', 'total'])).toMatchSnapshot();
    expect(chunkKeys([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunkKeys([1, 2, 3], undefined)).toEqual([[1, 2, 3]]);
    expect(chunkKeys([], 3)).toEqual([]);
    expect(
      formatBatch(copyTableBatch({ target: { schema: 'dw', name: 'orders' }, columns: ['id', 'total'], manifestUrls: ['s3://b/p/manifest-00001.json', 's3://b/p/manifest-00002.json'], auth: role, compression: { format: 'zstd', level: 1 }, statement: "DELETE FROM dw.orders WHERE day = '2024-01-01';" })),
    ).toMatchSnapshot();
  });
});

describe('batches and names', () => {
  it('VACUUM and ALTER TABLE APPEND run outside the transaction', () => {
    const b = batchOf('DELETE FROM t', 'VACUUM DELETE ONLY t', 'ALTER TABLE t APPEND FROM s', 'ANALYZE t');
    expect(b.statements.map((s) => s.transactional)).toEqual([true, false, false, true]);
    expect(mustRunOutsideTransaction('  -- c\nvacuum t')).toBe(true);
    expect(mustRunOutsideTransaction('ALTER TABLE t RENAME TO append_from')).toBe(false);
    expect(formatBatch(b)).toMatchSnapshot();
  });
  it('parses relation names like Redshift', () => {
    expect(parseRelation('Events')).toEqual({ schema: 'public', name: 'events' });
    expect(parseRelation('Raw.Events')).toEqual({ schema: 'raw', name: 'events' });
    expect(parseRelation('"My Schema"."Odd""Name"')).toEqual({ schema: 'My Schema', name: 'Odd"Name' });
    expect(() => parseRelation('a.b.c')).toThrow();
    expect(() => parseRelation('a;drop')).toThrow();
  });
});
