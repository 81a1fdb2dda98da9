import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redshift } from '../../src/admin/index.js';
import { createLogger } from '../../src/log.js';
import { targetDescription } from '../helpers/redshift.js';
import { adminFixture, loginUrl, type AdminFixture } from './helpers.js';

const uniq = (p: string) => `${p}_${randomBytes(3).toString('hex')}`;

describe('admin users', () => {
  it(`runs against ${targetDescription}`, () => undefined);
  let f: AdminFixture;
  beforeAll(async () => {
    f = await adminFixture('adm_usr');
  });
  afterAll(() => f.close());

  it('create-user with a password, validity, groups; the user can log in; logs never show the password', async () => {
    const group = uniq('rl_g');
    const name = uniq('rl_u');
    await f.q(`CREATE GROUP ${group}`);
    const lines: string[] = [];
    const out = new PassThrough();
    out.on('data', (d: Buffer) => lines.push(d.toString()));
    const rs = new Redshift({ url: f.target.url, env: f.target.env, log: createLogger({ destination: out, pretty: false, level: 'debug' }) });
    try {
      const password = 'Sec-Ret-Passw0rd';
      const r = await rs.createUser(name, { password, validUntil: '2099-01-01', createdb: true, groups: [group], connectionLimit: 3, execute: true });
      expect(r.batch.statements[0]!.sql).toContain(`PASSWORD '${password}'`);
      const u = await f.q(`SELECT usecreatedb, valuntil::text AS valuntil FROM pg_user WHERE usename = $1`, [name]);
      expect(u.rows[0]).toMatchObject({ usecreatedb: true });
      expect(String(u.rows[0]!.valuntil)).toMatch(/^2099-01-01/);
      const inGroup = await f.q(`SELECT 1 FROM pg_group g, pg_user u WHERE g.groname = $1 AND u.usename = $2 AND u.usesysid = ANY (g.grolist)`, [group, name]);
      expect(inGroup.rowCount).toBe(1);
      // The password works.
      const c = new pg.Client({ connectionString: loginUrl(f, name, password) });
      await c.connect();
      expect((await c.query('SELECT current_user AS u')).rows[0].u).toBe(name);
      await c.end();
      await rs.execute({ statements: [{ sql: `ALTER USER ${name} PASSWORD 'Other-Passw0rd'`, transactional: true }] });
      await expect(new pg.Client({ connectionString: loginUrl(f, name, password) }).connect()).rejects.toThrow(/password/);
      const logged = lines.join('');
      expect(logged).toContain('PASSWORD');
      expect(logged).not.toContain(password);
      expect(logged).not.toContain('Other-Passw0rd');
    } finally {
      await rs.close();
    }
  });

  it('alter-user: password, NOCREATEDB, validity, groups, session parameter, rename', async () => {
    const name = uniq('rl_a');
    const g1 = uniq('rl_g');
    await f.q(`CREATE GROUP ${g1}`);
    await f.rs.createUser(name, { password: 'First-Passw0rd', createdb: true, execute: true });
    // search_path is a parameter both Redshift and the double know (wlm_query_slot_count: see the report).
    await f.rs.alterUser(name, { password: 'Second-Passw0rd', createdb: false, validUntil: 'infinity', addGroups: [g1], set: { search_path: 'public' }, execute: true });
    const u = await f.q(`SELECT usecreatedb, useconfig FROM pg_user WHERE usename = $1`, [name]);
    expect(u.rows[0]!.usecreatedb).toBe(false);
    expect(String(u.rows[0]!.useconfig)).toMatch(/search_path=public/);
    expect((await f.q(`SELECT 1 FROM pg_group g JOIN pg_user u ON u.usesysid = ANY (g.grolist) WHERE g.groname = $1 AND u.usename = $2`, [g1, name])).rowCount).toBe(1);
    await f.rs.alterUser(name, { removeGroups: [g1], set: { search_path: null }, renameTo: `${name}_new`, password: 'Third-Passw0rd', execute: true });
    expect((await f.q(`SELECT 1 FROM pg_user WHERE usename = $1`, [`${name}_new`])).rowCount).toBe(1);
    expect((await f.q(`SELECT 1 FROM pg_group g JOIN pg_user u ON u.usesysid = ANY (g.grolist) WHERE g.groname = $1 AND u.usename = $2`, [g1, `${name}_new`])).rowCount).toBe(0);
  });

  it('wlm_query_slot_count as a session parameter (a Redshift parameter)', async () => {
    const name = uniq('rl_w');
    const r = await f.rs.createUser(name, { password: 'Wlm-Passw0rd1', set: { wlm_query_slot_count: 3 } });
    expect(r.batch.statements.map((s) => s.sql)).toEqual([`CREATE USER "${name}" PASSWORD 'Wlm-Passw0rd1'`, `ALTER USER "${name}" SET wlm_query_slot_count TO 3`]);
    const run = await f.rs.execute(r.batch).then(() => null, (e: Error) => e);
    if (run) {
      // The double passes ALTER USER SET to Postgres, which does not know the parameter; the whole batch rolled back.
      expect(run.message).toMatch(/wlm_query_slot_count/);
      expect((await f.q(`SELECT 1 FROM pg_user WHERE usename = $1`, [name])).rowCount).toBe(0);
    } else {
      expect(String((await f.q(`SELECT useconfig FROM pg_user WHERE usename = $1`, [name])).rows[0]!.useconfig)).toMatch(/wlm_query_slot_count=3/);
    }
  });

  it('init-warehouse: groups, ETL user owning one schema per source, grants and default privileges', async () => {
    const etl = uniq('rl_etl');
    const etlGroup = uniq('rl_etlg');
    const readers = uniq('rl_rd');
    const reader = uniq('rl_bi');
    const schemas = [uniq('shop'), uniq('crm')];
    await f.q(`CREATE USER ${reader} PASSWORD 'Bi-Passw0rd1'`);
    const r = await f.rs.initWarehouse({ schemas, etlUser: etl, etlPassword: 'Etl-Passw0rd1', etlGroup, readersGroup: readers, readers: [reader], execute: true });
    expect(r.executed?.inTransaction).toBe(r.batch.statements.length);
    for (const s of schemas) {
      const owner = await f.q(`SELECT pg_get_userbyid(nspowner) AS o FROM pg_namespace WHERE nspname = $1`, [s]);
      expect(owner.rows[0]!.o).toBe(etl);
    }
    // A table the ETL user creates later: readers can read it, the ETL group can write it.
    const c = new pg.Client({ connectionString: loginUrl(f, etl, 'Etl-Passw0rd1') });
    await c.connect();
    await c.query(`CREATE TABLE ${schemas[0]}.orders (id INTEGER)`);
    await c.end();
    const priv = await f.rs.privileges(`${schemas[0]}.orders`);
    expect(priv.owner).toBe(etl);
    expect(priv.grants.find((g) => g.grantee === readers)).toMatchObject({ type: 'group', privileges: ['SELECT'] });
    expect(priv.grants.find((g) => g.grantee === etlGroup)?.privileges).toEqual(expect.arrayContaining(['SELECT', 'INSERT', 'UPDATE', 'DELETE']));
    const c2 = new pg.Client({ connectionString: loginUrl(f, reader, 'Bi-Passw0rd1') });
    await c2.connect();
    expect((await c2.query(`SELECT count(*)::int AS n FROM ${schemas[0]}.orders`)).rows[0].n).toBe(0);
    await expect(c2.query(`INSERT INTO ${schemas[0]}.orders VALUES (1)`)).rejects.toThrow(/permission denied/);
    await c2.end();
  });
});
