import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedshift, resolveRedshiftConnection } from '../../src/admin/connection.js';
import { connectRedshift } from '../../src/db/connect.js';
import { client, connect, errorOf, rows } from '../../packages/redshift-double/test/helpers.js';

/**
 * r_names.html, r_enable_case_sensitive_identifier.html: ASCII letters of quoted
 * identifiers fold to lower case unless enable_case_sensitive_identifier is on; a quoted
 * user name always keeps its case.
 */
describe('Redshift double: identifier case and enable_case_sensitive_identifier', () => {
  let c: pg.Client;
  let url: string;
  let close: () => Promise<void>;
  const user = `MixedUser_${randomBytes(3).toString('hex')}`;
  const show = async (cl: pg.ClientBase = c) => (await rows<{ enable_case_sensitive_identifier: string }>(cl, 'SHOW enable_case_sensitive_identifier'))[0]!.enable_case_sensitive_identifier;
  const relnames = async (like: string) => (await rows<{ relname: string }>(c, `SELECT relname FROM pg_class WHERE lower(relname) LIKE $1 ORDER BY relname`, [like])).map((r) => r.relname);
  const asUser = (name: string) => {
    const u = new URL(url);
    u.username = encodeURIComponent(name);
    u.password = 'anything';
    return u.toString();
  };

  beforeAll(async () => {
    ({ c, url, close } = await connect('idents'));
  });
  afterAll(async () => {
    await c.query(`DROP USER IF EXISTS "${user}"`).catch(() => undefined);
    await close();
  });

  it('by default quoted identifiers fold their ASCII letters to lower case (the guide\'s example)', async () => {
    expect(await show()).toBe('off');
    await c.query(`CREATE TABLE "MixedCasedTable2" ("MixedCasedColumn" int)`);
    const e = await errorOf(c, `CREATE TABLE MixedCasedTable2 (MixedCasedColumn int)`);
    expect(e.message).toBe('relation "mixedcasedtable2" already exists');
    const r = await c.query(`SELECT "MixedCasedColumn" FROM "MixedCasedTable2"`);
    expect(r.fields.map((f) => f.name)).toEqual(['mixedcasedcolumn']);
    expect((await c.query(`SELECT MixedCasedColumn FROM MixedCasedTable2`)).fields.map((f) => f.name)).toEqual(['mixedcasedcolumn']);
    // only ASCII letters fold
    await c.query(`CREATE TABLE "ÉtéXY" ("ÀB" int)`);
    expect(await relnames('%téxy')).toEqual(['Étéxy']);
    expect((await c.query(`SELECT "ÀB" FROM "ÉtéXY"`)).fields.map((f) => f.name)).toEqual(['Àb']);
    // COPY column lists and other statements the double parses see the folded names too
    expect(await rows(c, `SELECT "column" FROM pg_table_def WHERE tablename = 'mixedcasedtable2'`)).toEqual([{ column: 'mixedcasedcolumn' }]);
  });

  it('SET enable_case_sensitive_identifier TO true preserves the case of quoted identifiers; RESET and SHOW', async () => {
    await c.query('SET enable_case_sensitive_identifier TO true');
    expect(await show()).toBe('on');
    await c.query(`CREATE TABLE "MixedCasedTable" ("MixedCasedColumn" int)`);
    await c.query(`CREATE TABLE MixedCasedTable (MixedCasedColumn int)`);
    expect(await relnames('mixedcasedtable')).toEqual(['MixedCasedTable', 'mixedcasedtable']);
    expect((await c.query(`SELECT "MixedCasedColumn" FROM "MixedCasedTable"`)).fields.map((f) => f.name)).toEqual(['MixedCasedColumn']);
    await c.query('RESET enable_case_sensitive_identifier');
    expect(await show()).toBe('off');
    await c.query(`SET enable_case_sensitive_identifier = 'on'`);
    expect(await show()).toBe('on');
    await c.query('SET enable_case_sensitive_identifier TO false');
    expect(await show()).toBe('off');
    expect((await errorOf(c, `SET enable_case_sensitive_identifier TO maybe`)).message).toBe(`parameter "enable_case_sensitive_identifier" requires a Boolean value`);
  });

  it('SET follows the transaction: a ROLLBACK undoes it, SET LOCAL ends with the transaction', async () => {
    await c.query('BEGIN');
    await c.query('SET enable_case_sensitive_identifier TO true');
    expect(await show()).toBe('on');
    await c.query('CREATE TABLE "InTx" (a int)');
    await c.query('ROLLBACK');
    expect(await show()).toBe('off');
    await c.query('BEGIN');
    await c.query('SET LOCAL enable_case_sensitive_identifier TO true');
    await c.query('CREATE TABLE "LocalTx" (a int)');
    await c.query('COMMIT');
    expect(await show()).toBe('off');
    await c.query('CREATE TABLE "AfterTx" (a int)');
    expect(await relnames('%tx')).toEqual(['LocalTx', 'aftertx']);
    // RESET ALL resets it too
    await c.query('SET enable_case_sensitive_identifier TO true');
    await c.query('RESET ALL');
    expect(await show()).toBe('off');
  });

  it('a quoted user name keeps its case whatever the setting; ALTER USER ... SET makes the setting a user default', async () => {
    await c.query(`CREATE USER "${user}" PASSWORD 'Abcdefgh1'`);
    expect(await rows(c, `SELECT usename FROM pg_user WHERE usename = $1`, [user])).toEqual([{ usename: user }]);
    await c.query(`CREATE TABLE owned (a int)`);
    await c.query(`GRANT SELECT ON owned TO "${user}"`);
    await c.query(`ALTER TABLE owned OWNER TO "${user}"`);
    expect(await rows(c, `SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = 'owned'`)).toEqual([{ owner: user }]);
    await c.query(`ALTER TABLE owned OWNER TO CURRENT_USER`);
    await c.query(`ALTER USER "${user}" SET enable_case_sensitive_identifier TO true`);
    const u = await client(asUser(user));
    try {
      expect(await show(u)).toBe('on');
      await u.query(`CREATE TABLE "ByUser" (a int)`);
      await u.query('RESET enable_case_sensitive_identifier');
      expect(await show(u)).toBe('on'); // back to the user's default
    } finally {
      await u.end();
    }
    expect(await relnames('byuser')).toEqual(['ByUser']);
    expect(await show()).toBe('off'); // other users' sessions are not affected
    await c.query(`ALTER USER "${user}" RESET enable_case_sensitive_identifier`);
    const u2 = await client(asUser(user));
    try {
      expect(await show(u2)).toBe('off');
    } finally {
      await u2.end();
    }
  });

  it("the product's Redshift sessions (loader and admin toolkit) turn the setting on", async () => {
    const loader = await connectRedshift(url);
    try {
      expect(await show(loader)).toBe('on');
      await loader.query(`CREATE TABLE "LoaderMixed" ("Col" int)`);
      expect(await relnames('loadermixed')).toEqual(['LoaderMixed']);
    } finally {
      await loader.end();
    }
    const admin = await openRedshift(resolveRedshiftConnection(url, {}));
    try {
      expect(await show(admin)).toBe('on');
    } finally {
      await admin.end();
    }
  });
});
