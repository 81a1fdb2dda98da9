import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';

/** Issue 19, point 8: every log line of a sync names its job and table once (no repeated JSON keys). */
describe('log lines of a sync with schema drift and delete detection', () => {
  let f: SyncFixture;
  beforeAll(async () => {
    f = await syncFixture('logkeys');
  });
  afterAll(() => f.close());

  it('carry job and table exactly once each', async () => {
    await f.source(`CREATE TABLE t (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await f.source(`INSERT INTO t (id, v) SELECT g, 'v' FROM generate_series(1, 10) g`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.t (id INTEGER NOT NULL, updated_at TIMESTAMPTZ NOT NULL)`);
    const id = await f.addTable({ source: 't', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at' });
    await f.meta(`UPDATE tables SET delete_detection = true WHERE id = $1`, [id]);
    const raw: string[] = [];
    const out = new PassThrough();
    out.on('data', (d: Buffer) => raw.push(...d.toString().split('\n').filter(Boolean)));
    const log = createLogger({ destination: out, pretty: false, level: 'debug' });
    const r = await f.sync({ deps: { log } });
    expect(r.ok, r.tables[0]?.error).toBe(true);
    await new Promise((res) => setImmediate(res));
    const messages = raw.map((l) => JSON.parse(l).msg as string);
    expect(messages).toEqual(expect.arrayContaining(['schema drift: altering the target', 'delete detection: compared key buckets', 'table sync succeeded']));
    const repeated = raw.filter((l) => (l.match(/"job":/g) ?? []).length > 1 || (l.match(/"table":/g) ?? []).length > 1);
    expect(repeated).toEqual([]);
    expect(raw.filter((l) => !l.includes('"job":"logkeys_job"') || !l.includes('"table":"public.t"'))).toEqual([]);
  });
});
