import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, connect, errorOf, rows, sendCancel, waitFor } from './helpers.js';

describe('Redshift double: wire protocol', () => {
  let url: string;
  let directUrl: string;
  let c: pg.Client;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ c, url, directUrl, close } = await connect('proto'));
  });
  afterAll(async () => {
    await close();
  });

  it('answers an SSLRequest with N, then serves the startup on the same socket', async () => {
    const port = Number(new URL(url).port);
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        const b = Buffer.alloc(8);
        b.writeInt32BE(8, 0);
        b.writeInt32BE(80877103, 4);
        s.write(b);
      });
      s.once('data', (d) => {
        resolve(d.toString('latin1'));
        s.destroy();
      });
      s.on('error', reject);
    });
    expect(reply).toBe('N');
    const viaSsl = new pg.Client({ connectionString: url, ssl: false });
    await viaSsl.connect();
    expect((await viaSsl.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await viaSsl.end();
  });

  it('connects to the database named in the URL, accepting any user and password', async () => {
    const u = new URL(url);
    u.username = 'someone_else';
    u.password = 'not-the-admin-password';
    const other = await client(u.toString());
    const [r] = await rows<{ db: string }>(other, 'SELECT current_database() AS db');
    expect(r!.db).toBe(u.pathname.slice(1));
    await other.end();
  });

  it('reports a missing database as Postgres does', async () => {
    const u = new URL(url);
    u.pathname = '/no_such_database_here';
    const e = await client(u.toString()).then(
      () => null,
      (err: pg.DatabaseError) => err,
    );
    expect(e?.message).toBe('database "no_such_database_here" does not exist');
  });

  it('runs simple queries with several statements', async () => {
    const r = (await c.query('SELECT 1 AS a; SELECT 2 AS b')) as unknown as pg.QueryResult[];
    expect(r.map((x) => x.rows[0])).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('runs parameterized queries through the extended protocol', async () => {
    await c.query('CREATE TABLE params (id int, name varchar(20))');
    await c.query('INSERT INTO params VALUES ($1, $2), ($3, $4)', [1, 'one', 2, null]);
    const r = await rows(c, 'SELECT id, name FROM params WHERE id >= $1 ORDER BY id', [1]);
    expect(r).toEqual([
      { id: 1, name: 'one' },
      { id: 2, name: null },
    ]);
    // a named prepared statement, executed twice
    const q = { name: 'by_id', text: 'SELECT name FROM params WHERE id = $1', values: [1] };
    expect((await c.query(q)).rows).toEqual([{ name: 'one' }]);
    expect((await c.query({ ...q, values: [2] })).rows).toEqual([{ name: null }]);
  });

  it('reports errors in the extended protocol and recovers on the next query', async () => {
    const e = await errorOf(c, 'SELECT * FROM no_such_table WHERE id = $1', [1]);
    expect(e.message).toBe('relation "no_such_table" does not exist');
    expect((await rows(c, 'SELECT $1::int AS v', [5]))[0]).toEqual({ v: 5 });
  });

  it('gives every client session its own upstream session', async () => {
    const a = await client(url);
    const b = await client(url);
    try {
      await a.query('CREATE TABLE iso (v int)');
      await a.query('BEGIN');
      await a.query('INSERT INTO iso VALUES (1)');
      expect(await rows(b, 'SELECT count(*)::int AS n FROM iso')).toEqual([{ n: 0 }]);
      await a.query('COMMIT');
      expect(await rows(b, 'SELECT count(*)::int AS n FROM iso')).toEqual([{ n: 1 }]);
      const [pa] = await rows<{ p: number }>(a, 'SELECT pg_backend_pid() AS p');
      const [pb] = await rows<{ p: number }>(b, 'SELECT pg_backend_pid() AS p');
      expect(pa!.p).not.toBe(pb!.p);
      // concurrent queries on both sessions
      const [x, y] = await Promise.all([rows(a, 'SELECT pg_sleep(0.2), 1 AS v'), rows(b, 'SELECT pg_sleep(0.2), 2 AS v')]);
      expect([x[0]!.v, y[0]!.v]).toEqual([1, 2]);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('passes a CancelRequest through to the upstream backend', async () => {
    const victim = await client(url);
    try {
      const [pid] = await rows<{ pid: number }>(victim, 'SELECT pg_backend_pid() AS pid');
      const running = errorOf(victim, 'SELECT pg_sleep(30)');
      // Cancel once the upstream backend is seen running it (a cancel that arrives before
      // the query starts cancels nothing).
      const watcher = await client(url);
      try {
        await waitFor(async () => (await rows<{ n: number }>(watcher, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE '%pg_sleep(30)%'`, [pid!.pid]))[0]!.n > 0, 'pg_sleep to start');
      } finally {
        await watcher.end();
      }
      await sendCancel(url, victim);
      const started = Date.now();
      const e = await running;
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(e.code).toBe('57014');
      expect(e.message).toMatch(/cancelled on user's request/);
      expect(await rows(victim, 'SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    } finally {
      await victim.end();
    }
  });

  it('runs sessions in UTC with backslash escapes in string literals, as Redshift does', async () => {
    const [r] = await rows<{ tz: string; s: string }>(c, `SELECT current_setting('TimeZone') AS tz, 'a\\\\b' AS s`);
    expect(r).toEqual({ tz: 'UTC', s: 'a\\b' });
  });

  it('maps GETDATE(), SYSDATE and NVL to Postgres', async () => {
    const [r] = await rows<{ getdate: Date; sysdate: Date; n: string }>(c, `SELECT getdate(), sysdate, nvl(NULL, 'x') AS n`);
    expect(r!.getdate).toBeInstanceOf(Date);
    expect(r!.sysdate).toBeInstanceOf(Date);
    expect(r!.n).toBe('x');
  });

  it('closes the upstream session when the client disconnects', async () => {
    const admin = await client(directUrl);
    const tmp = await client(url);
    const [p] = await rows<{ p: number }>(tmp, 'SELECT pg_backend_pid() AS p');
    await tmp.end();
    let alive = 1;
    for (let i = 0; i < 50 && alive; i++) {
      await new Promise((r) => setTimeout(r, 100));
      alive = (await rows<{ n: number }>(admin, 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [p!.p]))[0]!.n;
    }
    await admin.end();
    expect(alive).toBe(0);
  });
});
