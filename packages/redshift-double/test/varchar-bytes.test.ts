import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, errorOf, rows } from './helpers.js';

describe('Redshift double: VARCHAR counts bytes in INSERT and UPDATE', () => {
  let c: pg.Client;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ c, close } = await connect('bytes'));
    await c.query('CREATE TABLE v (id int, s VARCHAR(10), ch CHAR(3))');
  });
  afterAll(async () => {
    await close();
  });

  it('rejects a 6-character, 12-byte string in VARCHAR(10) with Redshift\'s error', async () => {
    const e = await errorOf(c, `INSERT INTO v (id, s) VALUES (1, 'éééééé')`);
    expect(e.message).toBe('value too long for type character varying(10)');
    expect(e.code).toBe('22001');
    const p = await errorOf(c, 'INSERT INTO v (id, s) VALUES ($1, $2)', [1, 'éééééé']);
    expect(p.message).toBe('value too long for type character varying(10)');
  });

  it('accepts a value exactly at the byte limit and rejects one byte over', async () => {
    await c.query(`INSERT INTO v (id, s) VALUES (2, $1)`, ['ééééé']); // 10 bytes
    await c.query(`INSERT INTO v (id, s) VALUES (3, $1)`, ['😀😀ab']); // two 4-byte emoji + 2 = 10 bytes
    expect((await errorOf(c, `INSERT INTO v (id, s) VALUES (4, $1)`, ['😀😀abc'])).message).toBe('value too long for type character varying(10)');
    expect((await errorOf(c, `INSERT INTO v (id, s) VALUES (4, $1)`, ['ééééé1'])).message).toBe('value too long for type character varying(10)');
    expect(await rows(c, 'SELECT id, s, octet_length(s) AS bytes FROM v WHERE id IN (2, 3) ORDER BY id')).toEqual([
      { id: 2, s: 'ééééé', bytes: 10 },
      { id: 3, s: '😀😀ab', bytes: 10 },
    ]);
  });

  it('applies the byte limit to UPDATE', async () => {
    await c.query(`INSERT INTO v (id, s) VALUES (5, 'plain')`);
    const e = await errorOf(c, `UPDATE v SET s = s || 'ééé' WHERE id = 5`);
    expect(e.message).toBe('value too long for type character varying(10)');
    expect(await rows(c, 'SELECT s FROM v WHERE id = 5')).toEqual([{ s: 'plain' }]);
  });

  it('refuses multibyte characters in CHAR', async () => {
    const e = await errorOf(c, `INSERT INTO v (id, ch) VALUES (6, 'é')`);
    expect(e.message).toMatch(/Multibyte character not supported for CHAR/);
    await c.query(`INSERT INTO v (id, ch) VALUES (6, 'abc'), (7, 'a'), (8, '')`);
    expect(await rows(c, 'SELECT ch FROM v WHERE id IN (6, 7, 8) ORDER BY id')).toEqual([{ ch: 'abc' }, { ch: 'a  ' }, { ch: '   ' }]);
  });
});
