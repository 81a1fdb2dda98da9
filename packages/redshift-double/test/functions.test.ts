import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, rows } from './helpers.js';

/** STRTOL (r_STRTOL.html) and JSON_SERIALIZE (JSON_SERIALIZE.html), as the guide documents them. */
describe('Redshift double: STRTOL and JSON_SERIALIZE', () => {
  let c: pg.Client;
  let close: () => Promise<void>;
  const one = async (sql: string, params: unknown[] = []) => Object.values((await c.query(sql, params)).rows[0] as Record<string, unknown>)[0];

  beforeAll(async () => {
    ({ c, close } = await connect('fns'));
  });
  afterAll(async () => {
    await close();
  });

  it("STRTOL gives the guide's examples", async () => {
    expect(await one(`SELECT STRTOL('0xf', 16)`)).toBe('15');
    expect(await one(`SELECT STRTOL('abcd1234', 16)`)).toBe('2882343476');
    expect(await one(`SELECT STRTOL('1234567', 10)`)).toBe('1234567');
    expect(await one(`SELECT STRTOL('1234567', 8)`)).toBe('342391');
    expect(await one(`SELECT STRTOL('110101', 2)`)).toBe('53');
    expect(await one(`SELECT STRTOL('', 2)`)).toBe('0');
  });

  it('STRTOL: white space, signs, NULL, the 64-bit range, digits beyond the base, the fast hex path', async () => {
    expect(await one(`SELECT STRTOL('  -0x1F', 16)`)).toBe('-31');
    expect(await one(`SELECT STRTOL('+z', 36)`)).toBe('35');
    expect(await one(`SELECT STRTOL('12z', 10)`)).toBe('12');
    expect(await one(`SELECT STRTOL(NULL, 16)`)).toBe(null);
    expect(await one(`SELECT STRTOL('7fffffffffffffff', 16)`)).toBe('9223372036854775807');
    expect(await one(`SELECT STRTOL('-8000000000000000', 16)`)).toBe('-9223372036854775808');
    await expect(c.query(`SELECT STRTOL('8000000000000000', 16)`)).rejects.toThrow(/64-bit range/);
    await expect(c.query(`SELECT STRTOL('1', 37)`)).rejects.toThrow(/between 2 and 36/);
    // 15 hex digits (the loader's hash slices) in upper and lower case, as a parameter too.
    expect(await one(`SELECT STRTOL('fffffffffffffff', 16)`)).toBe('1152921504606846975');
    expect(await one(`SELECT STRTOL($1, 16)`, ['0A1b2C3d4E5f607'])).toBe(String(0x0a1b2c3d4e5f607n));
    expect(await one(`SELECT STRTOL(SUBSTRING(MD5('abc'), 1, 15), 16)`)).toBe(String(BigInt(`0x${'900150983cd24fb0d6963f7d28e17f72'.slice(0, 15)}`)));
  });

  it("JSON_SERIALIZE writes compact JSON (the guide's example), 'null' for NULL, and keeps strings as they are", async () => {
    expect(await one(`SELECT JSON_SERIALIZE(JSON_PARSE('[10001,10002,"abc"]'))`)).toBe('[10001,10002,"abc"]');
    expect(await one(`SELECT JSON_SERIALIZE(NULL::super)`)).toBe('null');
    await c.query(`CREATE TABLE docs (id int, d super)`);
    await c.query(
      `INSERT INTO docs VALUES (1, JSON_PARSE('{"b": [1, 2.50, null], "a": "x, y: z", "n": null}')), (2, JSON_PARSE('{"q": "say \\\\"hi\\\\", then: go", "t": true}')),
       (3, JSON_PARSE('"just a string"')), (4, JSON_PARSE('12.0')), (5, NULL)`,
    );
    const got = await rows<{ id: number; s: string }>(c, `SELECT id, JSON_SERIALIZE(d) AS s FROM docs ORDER BY id`);
    expect(got.map((r) => r.s)).toEqual(['{"a":"x, y: z","b":[1,2.50,null],"n":null}', '{"q":"say \\"hi\\", then: go","t":true}', '"just a string"', '12.0', 'null']);
  });

  it('JSON_SERIALIZE refuses a result over the VARCHAR limit', async () => {
    await expect(c.query(`SELECT JSON_SERIALIZE(JSON_PARSE('["' || repeat('x', 40000) || '", "' || repeat('y', 30000) || '"]'))`)).rejects.toThrow(/over the VARCHAR limit of 65535/);
  });
});
