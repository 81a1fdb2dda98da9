import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rewriteSql } from '../src/rewrite.js';
import { connect, errorOf, rows } from './helpers.js';

/**
 * Users, groups, roles (r_CREATE_USER.html, r_ALTER_USER.html, r_CREATE_GROUP.html,
 * r_ALTER_GROUP.html, r_CREATE_ROLE.html) and grants (r_GRANT.html, r_REVOKE.html,
 * r_SVV_RELATION_PRIVILEGES.html, r_SVV_COLUMN_PRIVILEGES.html). Users, groups and roles are
 * cluster-wide: every name is unique to the test.
 */
const uniq = (p: string) => `${p}_${randomBytes(3).toString('hex')}`;

describe('Redshift double: users, groups, roles', () => {
  let c: pg.Client;
  let directUrl: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ c, directUrl, close } = await connect('acct'));
  });
  afterAll(() => close());

  /** A login straight to the upstream Postgres (the double itself accepts any login). */
  const login = async (user: string, password: string) => {
    const u = new URL(directUrl);
    u.username = user;
    u.password = password;
    const x = new pg.Client({ connectionString: u.toString() });
    try {
      await x.connect();
      return (await x.query('SELECT current_user AS u')).rows[0].u as string;
    } finally {
      await x.end().catch(() => undefined);
    }
  };

  it('CREATE USER with every option; the state shows in pg_user_info, svl_user_info, svv_user_info and pg_group', async () => {
    const g1 = uniq('grp');
    const g2 = uniq('grp');
    const u = uniq('usr');
    await c.query(`CREATE GROUP ${g1}`);
    await c.query(`CREATE GROUP ${g2}`);
    await c.query(`CREATE USER ${u} WITH PASSWORD 'abcD1234' CREATEDB NOCREATEUSER SYSLOG ACCESS UNRESTRICTED IN GROUP ${g1}, ${g2} VALID UNTIL '2099-06-10' CONNECTION LIMIT 30 SESSION TIMEOUT 120`);
    expect(await rows(c, `SELECT usecreatedb, usesuper, usecatupd, passwd, valuntil::date::text AS valuntil, useconfig, useconnlimit FROM pg_user_info WHERE usename = $1`, [u])).toEqual([
      { usecreatedb: true, usesuper: false, usecatupd: false, passwd: '********', valuntil: '2099-06-10', useconfig: null, useconnlimit: '30' },
    ]);
    expect(await rows(c, `SELECT useconnlimit, syslogaccess, sessiontimeout FROM svl_user_info WHERE usename = $1`, [u])).toEqual([{ useconnlimit: '30', syslogaccess: 'UNRESTRICTED', sessiontimeout: 120 }]);
    expect(await rows(c, `SELECT createdb, superuser, connection_limit, syslog_access, session_timeout FROM svv_user_info WHERE user_name = $1`, [u])).toEqual([
      { createdb: true, superuser: false, connection_limit: '30', syslog_access: 'UNRESTRICTED', session_timeout: 120 },
    ]);
    const groups = await rows(c, `SELECT g.groname FROM pg_group g JOIN pg_user u ON u.usesysid = ANY (g.grolist) WHERE u.usename = $1 ORDER BY 1`, [u]);
    expect(groups.map((x) => x.groname)).toEqual([g1, g2].sort());
    expect(await login(u, 'abcD1234')).toBe(u);
  });

  it('CREATEUSER makes a superuser; PASSWORD DISABLE removes the password (and is refused for a superuser); md5 and sha256| passwords', async () => {
    const su = uniq('su');
    await c.query(`CREATE USER ${su} PASSWORD 'Super1234x' CREATEUSER`);
    expect(await rows(c, `SELECT usesuper FROM pg_user WHERE usename = $1`, [su])).toEqual([{ usesuper: true }]);
    await c.query(`ALTER USER ${su} NOCREATEUSER`);
    expect(await rows(c, `SELECT usesuper FROM pg_user WHERE usename = $1`, [su])).toEqual([{ usesuper: false }]);
    await c.query(`ALTER USER ${su} CREATEUSER`);
    expect((await errorOf(c, `ALTER USER ${su} PASSWORD DISABLE`)).message).toBe("can't disable the password of a superuser");
    expect((await errorOf(c, `CREATE USER ${uniq('x')} PASSWORD DISABLE CREATEUSER`)).message).toBe("can't disable the password of a superuser");
    const iam = uniq('iam');
    await c.query(`CREATE USER ${iam} PASSWORD DISABLE`);
    await expect(login(iam, 'Anything123')).rejects.toThrow(/password/);
    await c.query(`ALTER USER ${iam} PASSWORD 'Enabled123'`);
    expect(await login(iam, 'Enabled123')).toBe(iam);
    await c.query(`ALTER USER ${iam} PASSWORD DISABLE`);
    await expect(login(iam, 'Enabled123')).rejects.toThrow(/password/);
    const sha = uniq('sha');
    await c.query(`CREATE USER ${sha} PASSWORD 'sha256|Mypassword1'`);
    expect(await login(sha, 'Mypassword1')).toBe(sha);
    await c.query(`CREATE USER ${uniq('md')} PASSWORD 'md5153c434b4b77c89e6b94f12c5393af5b'`);
    expect((await errorOf(c, `CREATE USER ${uniq('x')} PASSWORD 'sha256|821708135fcc42eb3afda85286dee0ed15c2c461d000291609f77eb113073ec2|c721bff5d9042cf541ff7b9d48fa8a6e545c19a763e3710151f9513038b0f6c6'`)).message).toMatch(/not implemented/);
  });

  it("refuses what Redshift refuses: weak passwords, no password, PUBLIC, EXTERNALID, an existing name, a group that doesn't exist", async () => {
    expect((await errorOf(c, `CREATE USER ${uniq('x')} PASSWORD 'short1A'`)).message).toBe('password must be 8 to 64 characters long');
    expect((await errorOf(c, `CREATE USER ${uniq('x')} PASSWORD 'alllower1'`)).message).toBe('password must contain an uppercase letter');
    expect((await errorOf(c, `CREATE USER ${uniq('x')} PASSWORD 'NoDigitsHere'`)).message).toBe('password must contain a number');
    expect((await errorOf(c, `CREATE USER ${uniq('x')} PASSWORD 'Has/Slash1'`)).message).toMatch(/ASCII characters 33-126/);
    expect((await errorOf(c, `CREATE USER ${uniq('x')} CREATEDB`)).message).toBe('syntax error at or near "CREATEDB"');
    expect((await errorOf(c, `CREATE USER public PASSWORD 'Public1234'`)).message).toBe('user name "public" is reserved');
    expect((await errorOf(c, `CREATE USER ${uniq('x')} PASSWORD DISABLE EXTERNALID "abc"`)).message).toMatch(/EXTERNALID .* not implemented/);
    const u = uniq('dup');
    await c.query(`CREATE USER ${u} PASSWORD 'Dup1234567'`);
    expect((await errorOf(c, `CREATE USER ${u} PASSWORD 'Dup1234567'`)).message).toBe(`user "${u}" already exists`);
    expect((await errorOf(c, `CREATE GROUP ${u}`)).message).toBe(`user "${u}" already exists`);
    expect((await errorOf(c, `CREATE USER ${uniq('x')} PASSWORD 'Dup1234567' IN GROUP nosuchgroup_zz`)).message).toBe('group "nosuchgroup_zz" does not exist');
  });

  it('ALTER USER ... SET keeps Redshift parameters (wlm_query_slot_count) and Postgres ones in useconfig; RESET and DEFAULT remove them; unknown parameters and bad values are refused', async () => {
    const u = uniq('cfg');
    await c.query(`CREATE USER ${u} PASSWORD 'Config1234'`);
    await c.query(`ALTER USER ${u} SET wlm_query_slot_count TO 3`);
    await c.query(`ALTER USER ${u} SET search_path = 'etl', public`);
    await c.query(`ALTER USER ${u} SET query_group TO 'etl'`);
    expect(await rows(c, `SELECT useconfig FROM pg_user WHERE usename = $1`, [u])).toEqual([{ useconfig: ['wlm_query_slot_count=3', 'search_path=etl, public', 'query_group=etl'] }]);
    await c.query(`ALTER USER ${u} RESET wlm_query_slot_count`);
    await c.query(`ALTER USER ${u} SET query_group TO DEFAULT`);
    expect(await rows(c, `SELECT useconfig FROM pg_user WHERE usename = $1`, [u])).toEqual([{ useconfig: ['search_path=etl, public'] }]);
    expect((await errorOf(c, `ALTER USER ${u} SET wlm_query_slot_count TO 51`)).message).toMatch(/invalid value for parameter "wlm_query_slot_count"/);
    expect((await errorOf(c, `ALTER USER ${u} SET work_mem TO '64MB'`)).message).toBe('unrecognized configuration parameter "work_mem"');
    expect((await errorOf(c, `ALTER USER nosuchuser_zz SET wlm_query_slot_count TO 2`)).message).toBe('user "nosuchuser_zz" does not exist');
  });

  it('ALTER USER: options separated by commas or spaces; CONNECTION LIMIT UNLIMITED; SESSION TIMEOUT and RESET SESSION TIMEOUT; a rename clears the password', async () => {
    const u = uniq('alt');
    await c.query(`CREATE USER ${u} PASSWORD 'Before1234' CONNECTION LIMIT 5`);
    await c.query(`ALTER USER ${u} WITH CREATEDB, CONNECTION LIMIT UNLIMITED, SESSION TIMEOUT 300 VALID UNTIL 'infinity'`);
    expect(await rows(c, `SELECT usecreatedb, useconnlimit, sessiontimeout FROM svl_user_info WHERE usename = $1`, [u])).toEqual([{ usecreatedb: true, useconnlimit: 'UNLIMITED', sessiontimeout: 300 }]);
    await c.query(`ALTER USER ${u} RESET SESSION TIMEOUT`);
    expect(await rows(c, `SELECT sessiontimeout FROM svl_user_info WHERE usename = $1`, [u])).toEqual([{ sessiontimeout: 0 }]);
    const notices: string[] = [];
    c.on('notice', (n) => notices.push(n.message ?? ''));
    await c.query(`ALTER USER ${u} RENAME TO ${u}_new`);
    expect(notices.join()).toMatch(/password was cleared/);
    await expect(login(`${u}_new`, 'Before1234')).rejects.toThrow(/password/);
    await c.query(`ALTER USER ${u}_new PASSWORD 'After12345'`);
    expect(await login(`${u}_new`, 'After12345')).toBe(`${u}_new`);
  });

  it('groups: CREATE GROUP ... WITH USER, ALTER GROUP ADD/DROP USER and RENAME, reserved names; only groups are groups', async () => {
    const [u1, u2, g] = [uniq('gu'), uniq('gu'), uniq('gg')];
    await c.query(`CREATE USER ${u1} PASSWORD 'Member1234'`);
    await c.query(`CREATE USER ${u2} PASSWORD 'Member1234'`);
    await c.query(`CREATE GROUP ${g} WITH USER ${u1}, ${u2}`);
    const members = async (group: string) =>
      (await rows(c, `SELECT u.usename FROM pg_group g JOIN pg_user u ON u.usesysid = ANY (g.grolist) WHERE g.groname = $1 ORDER BY 1`, [group])).map((x) => x.usename);
    expect(await members(g)).toEqual([u1, u2].sort());
    await c.query(`ALTER GROUP ${g} DROP USER ${u1}`);
    expect(await members(g)).toEqual([u2]);
    await c.query(`ALTER GROUP ${g} ADD USER ${u1}`);
    await c.query(`ALTER GROUP ${g} RENAME TO ${g}_r`);
    expect(await members(`${g}_r`)).toEqual([u1, u2].sort());
    expect((await errorOf(c, `CREATE GROUP __reserved`)).message).toMatch(/reserved/);
    expect((await errorOf(c, `ALTER GROUP ${u1} ADD USER ${u2}`)).message).toBe(`group "${u1}" does not exist`);
    expect((await errorOf(c, `ALTER GROUP ${g}_r ADD USER ${g}_r`)).message).toBe(`user "${g}_r" does not exist`);
    expect((await errorOf(c, `DROP GROUP ${u1}`)).message).toBe(`group "${u1}" does not exist`);
    expect((await errorOf(c, `CREATE GROUP ${g}_r`)).message).toBe(`group "${g}_r" already exists`);
  });

  it('roles: CREATE ROLE, GRANT ROLE to users and roles, svv_roles, svv_user_grants, svv_role_grants; roles are not groups', async () => {
    const [r1, r2, u] = [uniq('rl'), uniq('rl'), uniq('ru')];
    await c.query(`CREATE ROLE ${r1}`);
    await c.query(`CREATE ROLE ${r2}`);
    await c.query(`CREATE USER ${u} PASSWORD 'Roleuser12'`);
    await c.query(`GRANT ROLE ${r1} TO ${u} WITH ADMIN OPTION`);
    await c.query(`GRANT ROLE ${r1} TO ROLE ${r2}`);
    expect(await rows(c, `SELECT role_name, role_owner <> '' AS owned FROM svv_roles WHERE role_name IN ($1, $2) ORDER BY 1`, [r1, r2])).toEqual([
      { role_name: r1, owned: true },
      { role_name: r2, owned: true },
    ].sort((a, b) => a.role_name.localeCompare(b.role_name)));
    expect(await rows(c, `SELECT user_name, role_name, admin_option FROM svv_user_grants WHERE user_name = $1`, [u])).toEqual([{ user_name: u, role_name: r1, admin_option: true }]);
    expect(await rows(c, `SELECT role_name, granted_role_name FROM svv_role_grants WHERE granted_role_name = $1`, [r1])).toEqual([{ role_name: r2, granted_role_name: r1 }]);
    expect(await rows(c, `SELECT 1 FROM pg_group WHERE groname IN ($1, $2)`, [r1, r2])).toEqual([]);
    expect((await errorOf(c, `GRANT ROLE ${r1} TO GROUP ${r2}`)).message).toBe('syntax error at or near "GROUP"');
    expect((await errorOf(c, `GRANT ROLE ${u} TO ${u}`)).message).toBe(`role "${u}" does not exist`);
    expect((await errorOf(c, `DROP ROLE ${u}`)).message).toBe(`role "${u}" does not exist`);
    await c.query(`REVOKE ROLE ${r1} FROM ${u}`);
    expect(await rows(c, `SELECT 1 FROM svv_user_grants WHERE user_name = $1`, [u])).toEqual([]);
    await c.query(`REVOKE ROLE ${r1} FROM ROLE ${r2}`);
    await c.query(`DROP ROLE ${r2}`);
    expect(await rows(c, `SELECT 1 FROM svv_roles WHERE role_name = $1`, [r2])).toEqual([]);
  });
});

describe('Redshift double: GRANT and REVOKE', () => {
  let c: pg.Client;
  let close: () => Promise<void>;
  const [reader, writer, grp, role, other] = [uniq('reader'), uniq('writer'), uniq('writers'), uniq('analyst'), uniq('other')];
  beforeAll(async () => {
    ({ c, close } = await connect('grant'));
    await c.query(`CREATE USER ${reader} PASSWORD 'Reader1234'`);
    await c.query(`CREATE USER ${writer} PASSWORD 'Writer1234'`);
    await c.query(`CREATE USER ${other} PASSWORD 'Other12345'`);
    await c.query(`CREATE GROUP ${grp} WITH USER ${writer}`);
    await c.query(`CREATE ROLE ${role}`);
    await c.query(`GRANT ROLE ${role} TO ${other}`);
    await c.query(`CREATE TABLE orders (id INT, total DECIMAL(10,2), note VARCHAR(20))`);
  });
  afterAll(() => close());

  const relPrivs = () =>
    rows(c, `SELECT privilege_type, identity_name, identity_type, admin_option FROM svv_relation_privileges WHERE relation_name = 'orders' ORDER BY identity_name, privilege_type`);

  it("table privileges to a user, GROUP, ROLE and PUBLIC show in svv_relation_privileges and in relacl with Redshift's letters; column grants in svv_column_privileges", async () => {
    await c.query(`GRANT SELECT ON orders TO ${reader} WITH GRANT OPTION`);
    await c.query(`GRANT INSERT, DELETE ON TABLE orders TO GROUP ${grp}`);
    await c.query(`GRANT DROP, SELECT ON orders TO ROLE ${role}`);
    await c.query(`GRANT REFERENCES ON orders TO PUBLIC`);
    await c.query(`GRANT SELECT (id, note), UPDATE (note) ON orders TO ${other}`);
    expect(await relPrivs()).toEqual(
      [
        { privilege_type: 'REFERENCES', identity_name: 'public', identity_type: 'public', admin_option: false },
        { privilege_type: 'SELECT', identity_name: reader, identity_type: 'user', admin_option: true },
        { privilege_type: 'DELETE', identity_name: grp, identity_type: 'group', admin_option: false },
        { privilege_type: 'INSERT', identity_name: grp, identity_type: 'group', admin_option: false },
        { privilege_type: 'DROP', identity_name: role, identity_type: 'role', admin_option: false },
        { privilege_type: 'SELECT', identity_name: role, identity_type: 'role', admin_option: false },
      ].sort((a, b) => (a.identity_name + a.privilege_type < b.identity_name + b.privilege_type ? -1 : 1)),
    );
    expect(await rows(c, `SELECT column_name, privilege_type, identity_name, identity_type FROM svv_column_privileges WHERE relation_name = 'orders' ORDER BY 1, 2`)).toEqual([
      { column_name: 'id', privilege_type: 'SELECT', identity_name: other, identity_type: 'user' },
      { column_name: 'note', privilege_type: 'SELECT', identity_name: other, identity_type: 'user' },
      { column_name: 'note', privilege_type: 'UPDATE', identity_name: other, identity_type: 'user' },
    ]);
    // relacl: users as name=, groups as "group name=", PUBLIC as =; roles are not in it.
    const acl = (await rows<{ acl: string }>(c, `SELECT array_to_string(c.relacl, chr(10)) AS acl FROM pg_class c WHERE c.relname = 'orders'`))[0]!.acl.split('\n');
    const owner = (await rows<{ o: string }>(c, `SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE relname = 'orders'`))[0]!.o;
    expect(acl).toEqual(expect.arrayContaining([`${reader}=r*/${owner}`, `group ${grp}=ad/${owner}`, `=x/${owner}`]));
    expect(acl.some((a) => a.includes(role))).toBe(false);
    expect(acl.find((a) => a.startsWith(`${owner}=`))).toBe(`${owner}=arwdRxtD/${owner}`);
    // The privileges really hold: through the group and the role.
    expect(await rows(c, `SELECT has_table_privilege($1, 'orders', 'insert') AS w, has_table_privilege($1, 'orders', 'select') AS r`, [writer])).toEqual([{ w: true, r: false }]);
    expect(await rows(c, `SELECT has_table_privilege($1, 'orders', 'select') AS r, has_column_privilege($1, 'orders', 'total', 'select') AS t`, [other])).toEqual([{ r: true, t: true }]);
    expect(await rows(c, `SELECT has_column_privilege($1, 'orders', 'note', 'update') AS u`, [other])).toEqual([{ u: true }]);
  });

  it('ALL is the six Redshift privileges; REVOKE removes them; the DROP privilege is D', async () => {
    await c.query(`CREATE TABLE items (id INT)`);
    await c.query(`GRANT ALL ON items TO GROUP ${grp}`);
    expect((await rows(c, `SELECT privilege_type FROM svv_relation_privileges WHERE relation_name = 'items' ORDER BY 1`)).map((x) => x.privilege_type)).toEqual([
      'DELETE', 'DROP', 'INSERT', 'REFERENCES', 'SELECT', 'UPDATE',
    ]);
    const acl = async () => (await rows<{ a: string[] | null }>(c, `SELECT relacl AS a FROM pg_class WHERE relname = 'items'`))[0]!.a;
    expect((await acl())!.find((a) => a.startsWith('group'))).toMatch(new RegExp(`^group ${grp}=arwdxD/`));
    await c.query(`REVOKE DROP, DELETE ON items FROM GROUP ${grp}`);
    expect((await acl())!.find((a) => a.startsWith('group'))).toMatch(new RegExp(`^group ${grp}=arwx/`));
    await c.query(`REVOKE ALL ON items FROM GROUP ${grp}`);
    expect(await rows(c, `SELECT 1 FROM svv_relation_privileges WHERE relation_name = 'items'`)).toEqual([]);
  });

  it('refuses what Redshift does not have or does not allow', async () => {
    expect((await errorOf(c, `GRANT SELECT ON orders TO ${grp}`)).message).toBe(`user "${grp}" does not exist`);
    expect((await errorOf(c, `GRANT SELECT ON orders TO GROUP ${reader}`)).message).toBe(`group "${reader}" does not exist`);
    expect((await errorOf(c, `GRANT SELECT ON orders TO ROLE ${grp}`)).message).toBe(`role "${grp}" does not exist`);
    expect((await errorOf(c, `GRANT TRUNCATE ON orders TO ${reader}`)).message).toBe('syntax error at or near "TRUNCATE"');
    expect((await errorOf(c, `GRANT SELECT, TRIGGER ON orders TO ${reader}`)).message).toBe('syntax error at or near "TRIGGER"');
    expect((await errorOf(c, `GRANT RULE ON orders TO ${reader}`)).message).toBe('syntax error at or near "RULE"');
    expect((await errorOf(c, `GRANT INSERT (id) ON orders TO ${reader}`)).message).toMatch(/column privileges can only be SELECT or UPDATE/);
    expect((await errorOf(c, `GRANT SELECT ON orders TO GROUP ${grp} WITH GRANT OPTION`)).message).toMatch(/WITH GRANT OPTION can only be granted to users/);
    expect((await errorOf(c, `GRANT ALTER ON orders TO ${reader}`)).message).toMatch(/Lake Formation/);
    expect((await errorOf(c, `GRANT ASSUMEROLE ON 'arn:aws:iam::123456789012:role/R' TO ${reader} FOR COPY`)).message).toMatch(/not implemented/);
    expect((await errorOf(c, `GRANT CREATE TABLE TO ROLE ${role}`)).message).toMatch(/RBAC system permissions is not implemented/);
  });

  it('schema, database and default privileges take GROUP and ROLE grantees too', async () => {
    await c.query(`CREATE SCHEMA sales`);
    await c.query(`GRANT USAGE, CREATE ON SCHEMA sales TO GROUP ${grp}`);
    await c.query(`GRANT ALL ON SCHEMA sales TO ROLE ${role}`);
    await c.query(`ALTER DEFAULT PRIVILEGES FOR USER ${reader} IN SCHEMA sales GRANT ALL ON TABLES TO GROUP ${grp}`);
    await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA sales TO ${reader}`);
    expect(await rows(c, `SELECT has_schema_privilege($1, 'sales', 'create') AS g`, [writer])).toEqual([{ g: true }]);
    expect(await rows(c, `SELECT has_schema_privilege($1, 'sales', 'usage') AS r`, [other])).toEqual([{ r: true }]);
    const d = await rows<{ acl: string }>(c, `SELECT array_to_string(defaclacl, ',') AS acl FROM pg_default_acl WHERE defaclrole = (SELECT oid FROM pg_roles WHERE rolname = $1)`, [reader]);
    expect(d[0]!.acl).toMatch(new RegExp(`${grp}=arwdDx/`));
    expect((await errorOf(c, `ALTER DEFAULT PRIVILEGES IN SCHEMA sales GRANT SELECT ON TABLES TO ${grp}`)).message).toBe(`user "${grp}" does not exist`);
  });
});

describe('Redshift double: relacl rewrite', () => {
  it('rewrites every [qualifier.]relacl reference, but not an alias named relacl or a function call', () => {
    const v = { lastCopyId: -1, lastCopyCount: 0, caseSensitiveIdentifiers: true, caseSensitiveIdentifiersDefault: false };
    expect(rewriteSql('SELECT c.relacl AS relacl, array_to_string(pg_catalog.pg_class.relacl, chr(10)) FROM pg_class c WHERE relacl IS NOT NULL', v)).toBe(
      'SELECT redshift_double.relacl(c.relacl) AS relacl, array_to_string(redshift_double.relacl(pg_catalog.pg_class.relacl), chr(10)) FROM pg_class c WHERE redshift_double.relacl(relacl) IS NOT NULL',
    );
    expect(rewriteSql('SELECT relacl(x) FROM t', v)).toBe('SELECT relacl(x) FROM t');
  });
});
