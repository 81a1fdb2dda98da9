import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import os from 'node:os';
import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyUnloadedSql, CopyJsonError, formatBatch } from '../../src/admin/index.js';
import { createS3Client, listKeys } from '../../src/s3/client.js';
import { loadEnv } from '../../src/config/env.js';
import { freshDatabase } from '../helpers/stack.js';
import { adminFixture, type AdminFixture } from './helpers.js';

const tmpLeftovers = async () => (await readdir(os.tmpdir())).filter((n) => n.startsWith('rl-copy-json-')).length;

/** UNLOAD, copy-json and copy-table against the target of test/helpers/redshift.ts; each test makes its own tables. */
describe('admin S3 operations', () => {
  let f: AdminFixture;
  let keys: (prefix: string) => Promise<string[]>;
  let read: (key: string) => Promise<Buffer>;
  let bucket: string;
  beforeAll(async () => {
    f = await adminFixture('adm_s3');
    const env = loadEnv(f.target.env);
    bucket = env.S3_BUCKET!;
    const s3 = createS3Client(env);
    keys = (prefix) => listKeys(s3, bucket, prefix);
    read = async (key) => Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
  });
  afterAll(() => f.close());
  const s = () => f.schema;

  it('unload then copy round-trips a table: NULL and empty strings, delimiters, newlines, backslashes', async () => {
    await f.q(`CREATE TABLE ${s()}.src (id INTEGER, t VARCHAR(100), n NUMERIC(12,3), ts TIMESTAMP, b BOOLEAN) DISTKEY(id)`);
    await f.q(`INSERT INTO ${s()}.src VALUES
      (1, 'plain', 1.5, '2024-01-02 03:04:05', true),
      (2, '', NULL, NULL, false),
      (3, NULL, -0.001, '1999-12-31 23:59:59.123', NULL),
      (4, 'pipe|and\\backslash', 12345.678, '2024-02-29 00:00:00', true),
      (5, 'line1
line2', 0, '2024-01-01', false),
      (6, '\\N', 2, '2024-01-01', true)`);
    const to = `s3://${bucket}/admin-test/${s()}/src_`;
    const r = await f.rs.unload(`${s()}.src`, { to, execute: true });
    expect(f.scrub(formatBatch(r.batch)).replace(/IAM_ROLE '[^']*'/, "IAM_ROLE 'ROLE'").replace(/s3:\/\/[^/]+\//, 's3://BUCKET/')).toMatchSnapshot();
    expect((await keys(`admin-test/${s()}/src_`)).some((k) => k.endsWith('manifest'))).toBe(true);
    await f.q(`CREATE TABLE ${s()}.dst (LIKE ${s()}.src)`);
    await f.rs.execute({ statements: [{ sql: copyUnloadedSql({ schema: s(), name: 'dst' }, { to, auth: { iamRole: f.target.iamRole } }), transactional: true }] });
    const rows = (t: string) => f.q(`SELECT id, t, n::text AS n, ts::text AS ts, b FROM ${s()}.${t} ORDER BY id`).then((x) => x.rows);
    expect(await rows('dst')).toEqual(await rows('src'));
    expect((await rows('dst')).find((x) => x.id === 3)!.t).toBeNull();
    expect((await rows('dst')).find((x) => x.id === 2)!.t).toBe('');
  });

  it('unload of a DISTSTYLE ALL table uses PARALLEL OFF; a query does not', async () => {
    await f.q(`CREATE TABLE ${s()}.dim (k INTEGER, v VARCHAR(10)) DISTSTYLE ALL`);
    await f.q(`INSERT INTO ${s()}.dim VALUES (1, 'a'), (2, 'b')`);
    const r = await f.rs.unload(`${s()}.dim`, { to: `s3://${bucket}/admin-test/${s()}/dim_`, execute: true });
    expect(r.batch.statements[0]!.sql).toMatch(/PARALLEL OFF/);
    const files = await keys(`admin-test/${s()}/dim_`);
    expect(files.filter((k) => !k.endsWith('manifest'))).toHaveLength(1);
    const q = await f.rs.unload(`SELECT k FROM ${s()}.dim WHERE v = 'a'`, { to: `s3://${bucket}/admin-test/${s()}/q_`, format: 'csv' });
    expect(q.batch.statements[0]!.sql).not.toMatch(/PARALLEL/);
    expect(q.batch.statements[0]!.sql).toContain(`WHERE v = ''a''`);
    expect(q.executed).toBeNull();
  });

  it('unload FORMAT JSON writes one object per row, NULLs as null, through a manifest; the files read back equal the rows, and COPY ... JSON loads them back', async () => {
    await f.q(`CREATE TABLE ${s()}.people (id INTEGER, name VARCHAR(60), score NUMERIC(8,2), born DATE, active BOOLEAN, seen TIMESTAMP)`);
    await f.q(`INSERT INTO ${s()}.people VALUES
      (1, 'Ann', 12.50, '1990-02-03', true, '2024-01-02 03:04:05'),
      (2, NULL, NULL, NULL, NULL, NULL),
      (3, 'quote " and \\ backslash, tab\tend', -0.25, '2000-12-31', false, '2023-06-01 00:00:00.5')`);
    const to = `s3://${bucket}/admin-test/${s()}/json_`;
    const r = await f.rs.unload(`SELECT id, name, score, born, active, seen FROM ${s()}.people`, { to, format: 'json', execute: true });
    expect(r.batch.statements[0]!.sql).toMatch(/FORMAT JSON MANIFEST GZIP ALLOWOVERWRITE$/);
    // Read every file the manifest names back and parse its lines.
    const manifest = JSON.parse((await read(`admin-test/${s()}/json_manifest`)).toString()) as { entries: Array<{ url: string }> };
    const objects: Array<Record<string, unknown>> = [];
    for (const e of manifest.entries) {
      const text = gunzipSync(await read(e.url.replace(`s3://${bucket}/`, ''))).toString('utf8');
      for (const line of text.split('\n').filter(Boolean)) objects.push(JSON.parse(line) as Record<string, unknown>);
    }
    const rows = (await f.q(`SELECT id, name, score::float8 AS score, born::text AS born, active, seen::text AS seen FROM ${s()}.people`)).rows;
    expect(objects.sort((a, b) => Number(a.id) - Number(b.id))).toEqual(rows.sort((a, b) => a.id - b.id));
    expect(objects[1]).toEqual({ id: 2, name: null, score: null, born: null, active: null, seen: null });
    // And back in with COPY ... FORMAT JSON 'auto' through the same manifest.
    await f.q(`CREATE TABLE ${s()}.people_back (LIKE ${s()}.people)`);
    const copy = copyUnloadedSql({ schema: s(), name: 'people_back' }, { to, auth: { iamRole: f.target.iamRole }, format: 'json' });
    expect(copy).toMatch(/MANIFEST GZIP FORMAT AS JSON 'auto' TIMEFORMAT 'auto' DATEFORMAT 'auto'$/);
    await f.rs.execute({ statements: [{ sql: copy, transactional: true }] });
    const all = (t: string) => f.q(`SELECT id, name, score::text AS score, born::text AS born, active, seen::text AS seen FROM ${s()}.${t} ORDER BY id`).then((x) => x.rows);
    expect(await all('people_back')).toEqual(await all('people'));
  });

  it('copy-json loads JSON lines end to end: jsonpaths in table order (not the input key order), nested objects into SUPER, NULLs; cleans up S3 and temp files', async () => {
    await f.q(`CREATE TABLE ${s()}.events (id INTEGER, kind VARCHAR(20), at TIMESTAMP, props SUPER, n NUMERIC(12,3))`);
    const lines = [
      '{"kind":"click","id":1,"at":"2024-01-01T10:00:00Z","props":{"page":"/home","tags":["a","b"],"depth":{"x":null}},"n":1.5}',
      '',
      '{"props":[1,2,{"k":"v"}],"id":2,"kind":"view","at":"2024-01-02 11:00:00","extra":true,"n":-12345.678}',
      '{"id":3,"kind":null,"props":null}',
      '{"n":0,"id":4,"kind":"","props":"scalar \\"quoted\\""}',
    ];
    const before = await tmpLeftovers();
    const prefix = `admin-test/${s()}/json`;
    const dry = await f.rs.copyJson(Readable.from(lines.map((l) => `${l}\n`)), `${s()}.events`, { s3Prefix: prefix, slices: 2 });
    expect(dry).toMatchObject({ rows: 4, files: 2, tableExisted: true, jsonpaths: ["$['id']", "$['kind']", "$['at']", "$['props']", "$['n']"], executed: null });
    expect(f.scrub(formatBatch(dry.batch)).replace(/IAM_ROLE '[^']*'/, "IAM_ROLE 'ROLE'").replace(/s3:\/\/[^/]+\//g, 's3://BUCKET/')).toMatchSnapshot();
    const r = await f.rs.copyJson(Readable.from(lines.map((l) => `${l}\n`)), `${s()}.events`, { s3Prefix: prefix, slices: 2, execute: true });
    expect(r.executed).toMatchObject({ inTransaction: 1 });
    const got = (await f.q(`SELECT id, kind, at::text AS at, props::text AS props, n::text AS n FROM ${s()}.events ORDER BY id`)).rows;
    // The rows equal the input: SUPER holds the nested values as JSON (compared parsed: jsonb orders keys).
    const input = lines.filter((l) => l).map((l) => JSON.parse(l) as Record<string, unknown>).sort((a, b) => Number(a.id) - Number(b.id));
    expect(got.map((g) => ({ ...g, props: g.props === null ? null : JSON.parse(g.props as string) }))).toEqual([
      { id: 1, kind: 'click', at: '2024-01-01 10:00:00', props: input[0]!.props, n: '1.500' },
      { id: 2, kind: 'view', at: '2024-01-02 11:00:00', props: input[1]!.props, n: '-12345.678' },
      { id: 3, kind: null, at: null, props: null, n: null },
      { id: 4, kind: '', at: null, props: 'scalar "quoted"', n: '0.000' },
    ]);
    expect(await keys(`${prefix}/`)).toEqual([]);
    expect(await tmpLeftovers()).toBe(before);
  });

  it('copy-json: a bad value fails the load, nothing is loaded, and the error names the input line, the column and the value (stl_load_errors has the file and line)', async () => {
    await f.q(`CREATE TABLE ${s()}.counts (id INTEGER, n SMALLINT, label VARCHAR(10))`);
    const prefix = `admin-test/${s()}/json-bad`;
    const lines = ['{"id":1,"n":1,"label":"a"}', '{"id":2,"n":2,"label":"b"}', '', '{"id":3,"n":"12x","label":"c"}', '{"id":4,"n":4,"label":"d"}'];
    const err = await f.rs.copyJson(Readable.from(lines.map((l) => `${l}\n`)), `${s()}.counts`, { s3Prefix: prefix, slices: 2, execute: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CopyJsonError);
    // Input line 4 is the third record: the second line of part-00001.json.gz.
    expect((err as Error).message).toMatch(/input line 4, column "n": .*\(error 1207\), value "12x"/);
    expect((await f.q(`SELECT count(*)::int AS n FROM ${s()}.counts`)).rows[0]!.n).toBe(0);
    const le = await f.q(`SELECT trim(filename) AS filename, line_number::int AS line, trim(colname) AS col, trim(raw_field_value) AS raw, err_code FROM stl_load_errors WHERE trim(filename) LIKE $1`, [`%/${prefix}/%`]);
    expect(le.rows).toEqual([{ filename: `s3://${bucket}/${prefix}/part-00001.json.gz`, line: 2, col: 'n', raw: '12x', err_code: 1207 }]);
    expect(await keys(`${prefix}/`)).toEqual([]);
  });

  it('copy-json for a table that does not exist yet: keys in alphabetical order as the column list, a CREATE first in the same transaction', async () => {
    const r = await f.rs.copyJson(Readable.from(['{"b":1,"a":"x"}\n', '{"c":null}\n', '{"c":7,"b":2}\n']), `${s()}.fresh`, {
      slices: 4,
      before: [`CREATE TABLE ${s()}.fresh (c INTEGER, a VARCHAR(5), b INTEGER)`],
      s3Prefix: `admin-test/${s()}/fresh`,
      execute: true,
    });
    expect(r).toMatchObject({ rows: 3, files: 3, tableExisted: false, jsonpaths: ["$['a']", "$['b']", "$['c']"] });
    expect(r.batch.statements[1]!.sql).toMatch(/^COPY ".*"\."fresh" \("a", "b", "c"\)/);
    expect((await f.q(`SELECT a, b, c FROM ${s()}.fresh ORDER BY b NULLS LAST, c`)).rows).toEqual([
      { a: 'x', b: 1, c: null },
      { a: null, b: 2, c: 7 },
      { a: null, b: null, c: null },
    ]);
    await expect(f.rs.copyJson(Readable.from(['{"a":1}\n', 'not json\n']), `${s()}.fresh`)).rejects.toThrow(/line 2: not valid JSON/);
    await expect(f.rs.copyJson(Readable.from(['[1,2]\n']), `${s()}.fresh`)).rejects.toThrow(/line 1: not a JSON object/);
  });

  it('copy-table moves a Postgres table through S3, with a statement in the same transaction and several manifests', async () => {
    const src = await freshDatabase('adm_src');
    const c = new pg.Client({ connectionString: src.url });
    await c.connect();
    await c.query(`CREATE TABLE orders (id integer PRIMARY KEY, note text, total numeric(10,2), at timestamptz)`);
    await c.query(`INSERT INTO orders SELECT g, CASE WHEN g % 3 = 0 THEN NULL WHEN g % 3 = 1 THEN '' ELSE 'n,"' || g || E'"\\n' END, g * 1.25, '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 hour' FROM generate_series(1, 10) g`);
    await f.q(`CREATE TABLE ${s()}.orders (id INTEGER, note VARCHAR(100), total NUMERIC(10,2), at TIMESTAMPTZ)`);
    await f.q(`INSERT INTO ${s()}.orders VALUES (999, 'stale', 0, NULL)`);
    const prefix = `admin-test/${s()}/copy-table`;
    const dry = await f.rs.copyTable({ sourceUrl: src.url, source: { table: 'public.orders' }, to: `${s()}.orders`, statement: `DELETE FROM ${s()}.orders`, maxManifestKeys: 2, s3Prefix: prefix });
    expect(f.scrub(formatBatch(dry.batch)).replace(/IAM_ROLE '[^']*'/, "IAM_ROLE 'ROLE'").replace(/s3:\/\/[^/]+\//g, 's3://BUCKET/')).toMatchSnapshot();
    const r = await f.rs.copyTable({ sourceUrl: src.url, source: { table: 'public.orders' }, to: `${s()}.orders`, statement: `DELETE FROM ${s()}.orders`, maxManifestKeys: 2, rowsPerFile: 3, s3Prefix: prefix, execute: true });
    expect(r).toMatchObject({ rows: 10, files: 4, manifests: 2 });
    expect(r.batch.statements).toHaveLength(3);
    const want = (await c.query(`SELECT id, note, total::text AS total, at FROM orders ORDER BY id`)).rows;
    const got = (await f.q(`SELECT id, note, total::text AS total, at FROM ${s()}.orders ORDER BY id`)).rows;
    expect(got).toEqual(want);
    expect(await keys(`${prefix}/`)).toEqual([]);
    // A query, and a failing load: nothing changes, files are still cleaned up.
    await f.rs.copyTable({ sourceUrl: src.url, source: { query: 'SELECT id, note, total, at FROM orders WHERE id <= 2' }, to: `${s()}.orders`, statement: `DELETE FROM ${s()}.orders WHERE id <= 2`, s3Prefix: prefix, execute: true });
    expect((await f.q(`SELECT count(*)::int AS n FROM ${s()}.orders`)).rows[0]!.n).toBe(10);
    await c.query(`INSERT INTO orders VALUES (11, repeat('x', 200), 1, NULL)`);
    await expect(f.rs.copyTable({ sourceUrl: src.url, source: { table: 'orders' }, to: `${s()}.orders`, statement: `DELETE FROM ${s()}.orders`, s3Prefix: prefix, execute: true })).rejects.toThrow(/rolled back/);
    expect((await f.q(`SELECT count(*)::int AS n FROM ${s()}.orders`)).rows[0]!.n).toBe(10);
    expect(await keys(`${prefix}/`)).toEqual([]);
    await c.end();
  });
});
