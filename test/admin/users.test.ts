import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchError, Redshift } from '../../src/admin/index.js';
import { createLogger } from '../../src/log.js';
import { adminFixture, loginUrl, type AdminFixture } from './helpers.js';

const uniq = (p: string) => `${p}_${randomBytes(3).toString('hex')}`;

/** Logs in as `user`; resolves to the session's user, rejects when the login fails. */
async function login(f: AdminFixture, user: string, password: string): Promise<string> {
  const c = new pg.Client({ connectionString: loginUrl(f, user, password) });
  await c.connect();
  try {
    return (await c.query('SELECT current_user AS u')).rows[0].u;
  } finally {
    await c.end();
  }
}

/** Users, groups and roles are cluster-wide: every test uses names of its own. */
describe('admin users', () => {
  let f: AdminFixture;
  beforeAll(async () => {
    f = await adminFixture('adm_usr');
  });
  afterAll(() => f.close());

  it('create-user with a password, validity, CREATEDB, groups, a connection limit; the user can log in; logs never show the password', async () => {
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
      const u = await f.q(`SELECT usecreatedb, usesuper, valuntil::text AS valuntil, useconnlimit FROM pg_user_info WHERE usename = $1`, [name]);
      expect(u.rows[0]).toMatchObject({ usecreatedb: true, usesuper: false, useconnlimit: '3' });
      expect(String(u.rows[0]!.valuntil)).toMatch(/^2099-01-01/);
      const inGroup = await f.q(`SELECT 1 FROM pg_group g, pg_user u WHERE g.groname = $1 AND u.usename = $2 AND u.usesysid = ANY (g.grolist)`, [group, name]);
      expect(inGroup.rowCount).toBe(1);
      expect(await login(f, name, password)).toBe(name);
      await rs.execute({ statements: [{ sql: `ALTER USER ${name} PASSWORD 'Other-Passw0rd'`, transactional: true }] });
      await expect(login(f, name, password)).rejects.toThrow(/password/);
      const logged = lines.join('');
      expect(logged).toContain('PASSWORD');
      expect(logged).not.toContain(password);
      expect(logged).not.toContain('Other-Passw0rd');
    } finally {
      await rs.close();
    }
  });

  it('create-user --createuser makes a superuser; --disable-password leaves a user who cannot log in with a password', async () => {
    const su = uniq('rl_su');
    const iam = uniq('rl_iam');
    await f.rs.createUser(su, { password: 'Super-Passw0rd', createuser: true, execute: true });
    await f.rs.createUser(iam, { password: false, execute: true });
    expect((await f.q(`SELECT usename, usesuper FROM pg_user WHERE usename IN ($1, $2) ORDER BY usesuper`, [su, iam])).rows).toEqual([
      { usename: iam, usesuper: false },
      { usename: su, usesuper: true },
    ]);
    await expect(login(f, iam, 'Any-Passw0rd')).rejects.toThrow(/password/);
    await f.rs.alterUser(su, { createuser: false, execute: true });
    expect((await f.q(`SELECT usesuper FROM pg_user WHERE usename = $1`, [su])).rows[0]!.usesuper).toBe(false);
  });

  it('alter-user: password, NOCREATEDB, validity, groups, session parameters; a rename with a new password leaves a user who logs in with it', async () => {
    const name = uniq('rl_a');
    const g1 = uniq('rl_g');
    await f.q(`CREATE GROUP ${g1}`);
    await f.rs.createUser(name, { password: 'First-Passw0rd', createdb: true, execute: true });
    await f.rs.alterUser(name, { password: 'Second-Passw0rd', createdb: false, validUntil: 'infinity', addGroups: [g1], set: { search_path: 'public' }, execute: true });
    const u = await f.q(`SELECT usecreatedb, useconfig FROM pg_user WHERE usename = $1`, [name]);
    expect(u.rows[0]).toEqual({ usecreatedb: false, useconfig: ['search_path=public'] });
    expect(await login(f, name, 'Second-Passw0rd')).toBe(name);
    expect((await f.q(`SELECT 1 FROM pg_group g JOIN pg_user u ON u.usesysid = ANY (g.grolist) WHERE g.groname = $1 AND u.usename = $2`, [g1, name])).rowCount).toBe(1);
    // Redshift clears the password on a rename (r_ALTER_USER.html): the new one must be set after it.
    await f.rs.alterUser(name, { removeGroups: [g1], set: { search_path: null }, renameTo: `${name}_new`, password: 'Third-Passw0rd', execute: true });
    expect((await f.q(`SELECT useconfig FROM pg_user WHERE usename = $1`, [`${name}_new`])).rows).toEqual([{ useconfig: null }]);
    expect((await f.q(`SELECT 1 FROM pg_group g JOIN pg_user u ON u.usesysid = ANY (g.grolist) WHERE g.groname = $1 AND u.usename = $2`, [g1, `${name}_new`])).rowCount).toBe(0);
    expect(await login(f, `${name}_new`, 'Third-Passw0rd')).toBe(`${name}_new`);
  });

  it('wlm_query_slot_count and other Redshift parameters as per-user defaults: shown in pg_user.useconfig; out of range refused', async () => {
    const name = uniq('rl_w');
    const r = await f.rs.createUser(name, { password: 'Wlm-Passw0rd1', set: { wlm_query_slot_count: 3, query_group: 'etl', search_path: '$user, etl, public' } });
    expect(r.batch.statements.map((s) => s.sql)).toEqual([
      `CREATE USER "${name}" PASSWORD 'Wlm-Passw0rd1'`,
      `ALTER USER "${name}" SET wlm_query_slot_count TO 3`,
      `ALTER USER "${name}" SET query_group TO 'etl'`,
      `ALTER USER "${name}" SET search_path TO '$user', 'etl', 'public'`,
    ]);
    await f.rs.execute(r.batch);
    // search_path is a list: three schemas, not one schema named "$user, etl, public".
    expect((await f.q(`SELECT useconfig FROM pg_user WHERE usename = $1`, [name])).rows[0]!.useconfig).toEqual(['wlm_query_slot_count=3', 'query_group=etl', 'search_path="$user", etl, public']);
    await f.rs.alterUser(name, { set: { wlm_query_slot_count: null, search_path: null }, execute: true });
    expect((await f.q(`SELECT useconfig FROM pg_user WHERE usename = $1`, [name])).rows[0]!.useconfig).toEqual(['query_group=etl']);
    const err = await f.rs.alterUser(name, { set: { wlm_query_slot_count: 51 }, execute: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchError);
    expect((err as Error).message).toMatch(/wlm_query_slot_count/);
  });

  it('init-warehouse: groups, ETL user owning one schema per source, grants and default privileges; not re-runnable (CREATE GROUP has no IF NOT EXISTS)', async () => {
    const etl = uniq('rl_etl');
    const etlGroup = uniq('rl_etlg');
    const readers = uniq('rl_rd');
    const reader = uniq('rl_bi');
    const schemas = [uniq('shop'), uniq('crm')];
    await f.q(`CREATE USER ${reader} PASSWORD 'Bi-Passw0rd1'`);
    const o = { schemas, etlUser: etl, etlPassword: 'Etl-Passw0rd1', etlGroup, readersGroup: readers, readers: [reader] };
    const r = await f.rs.initWarehouse({ ...o, execute: true });
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
    expect(priv.grants.find((g) => g.grantee === readers)).toEqual({ grantee: readers, type: 'group', privileges: ['SELECT'] });
    expect(priv.grants.find((g) => g.grantee === etlGroup)).toEqual({ grantee: etlGroup, type: 'group', privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'DROP', 'REFERENCES'] });
    const c2 = new pg.Client({ connectionString: loginUrl(f, reader, 'Bi-Passw0rd1') });
    await c2.connect();
    expect((await c2.query(`SELECT count(*)::int AS n FROM ${schemas[0]}.orders`)).rows[0].n).toBe(0);
    await expect(c2.query(`INSERT INTO ${schemas[0]}.orders VALUES (1)`)).rejects.toThrow(/permission denied/);
    await c2.end();
    // Again: the first CREATE GROUP fails and the whole batch rolls back.
    const again = await f.rs.initWarehouse({ ...o, etlPassword: undefined, execute: true }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(BatchError);
    expect(again).toMatchObject({ statementIndex: 0, rolledBack: true });
    expect((again as Error).message).toMatch(new RegExp(`group "${etlGroup}" already exists`));
  });
});
