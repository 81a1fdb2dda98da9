import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshMetadataDb } from './helpers/stack.js';

/**
 * Issue 19, point 4: a schedule or a tables row the worker could never run is refused
 * when it is written, with a message naming the row and the rule (migration
 * 20261210010000_operability), instead of being skipped forever by the worker.
 */
describe('the metadata DB refuses rows the worker could never run', () => {
  let db: pg.Client;
  let jobId: number;
  beforeAll(async () => {
    db = new pg.Client({ connectionString: await freshMetadataDb() });
    await db.connect();
    jobId = (await db.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ('shop', 'env:A', 'env:B') RETURNING id`)).rows[0].id;
  });
  afterAll(() => db.end());

  const refusal = async (sql: string, params: unknown[]) => {
    const err = await db.query(sql, params).then(
      () => null,
      (e: pg.DatabaseError) => e,
    );
    expect(err, sql).not.toBeNull();
    return { code: err!.code, message: err!.message, hint: err!.hint };
  };
  const nextEvent = async () => Number((await db.query(`SELECT last_value + CASE WHEN is_called THEN 1 ELSE 0 END AS n FROM schedule_events_id_seq`)).rows[0].n);
  const event = (at: string | null, timezone: string, frequency = 60) => refusal(`INSERT INTO schedule_events (job_id, frequency, at, timezone) VALUES ($1, $2, $3, $4)`, [jobId, frequency, at, timezone]);

  it('schedule_events: a bad at, an unknown timezone, a frequency of 0', async () => {
    let id = await nextEvent();
    expect(await event('25:**', 'UTC')).toEqual({
      code: '23514',
      message: `schedule_events row ${id} (job 'shop'): at pattern "25:**": hour 25 never matches (hours are 00-23)`,
      hint: "at is NULL (any time) or a comma list like 09:**,10:** read in the row's timezone",
    });
    id = await nextEvent();
    expect((await event('09:**,', 'UTC')).message).toBe(`schedule_events row ${id} (job 'shop'): at '09:**,': empty pattern at position 2 (remove the extra comma)`);
    id = await nextEvent();
    expect((await event('9:30', 'UTC')).message).toBe(`schedule_events row ${id} (job 'shop'): at pattern "9:30": expected HH:MM with digits or * as a wildcard digit, e.g. 09:30, 12:**, **:30`);
    id = await nextEvent();
    expect((await event('12:6*', 'UTC')).message).toBe(`schedule_events row ${id} (job 'shop'): at pattern "12:6*": minute 6* never matches (minutes are 00-59)`);
    id = await nextEvent();
    expect(await event('09:**', 'Europe/Berln')).toEqual({
      code: '23514',
      message: `schedule_events row ${id} (job 'shop'): unknown timezone 'Europe/Berln': expected an IANA name like UTC or America/New_York`,
      hint: 'SELECT name FROM pg_timezone_names lists the names',
    });
    id = await nextEvent();
    expect((await event(null, 'UTC', 0)).message).toBe(`schedule_events row ${id} (job 'shop'): frequency must be a whole number of seconds greater than 0, got 0`);
    // Good rows pass, and an UPDATE is checked as an INSERT is.
    const ok = await db.query(`INSERT INTO schedule_events (job_id, frequency, at, timezone) VALUES ($1, 900, '06:**, **:30', 'Europe/Berlin') RETURNING id`, [jobId]);
    const e = await refusal(`UPDATE schedule_events SET timezone = 'Mars/Olympus' WHERE id = $1`, [ok.rows[0].id]);
    expect(e.message).toBe(`schedule_events row ${ok.rows[0].id} (job 'shop'): unknown timezone 'Mars/Olympus': expected an IANA name like UTC or America/New_York`);
  });

  it('tables: copy_mode spellings, key column lists, and the keys a mode needs', async () => {
    const add = (mode: string, pk: string | null, uk: string | null) =>
      refusal(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key, updated_key) VALUES ($1, $2, $3::copy_mode, $4, $5)`, [jobId, `t${Math.random()}`.replace('.', ''), mode, pk, uk]);
    expect(await add('INSERT_ONLYY', 'id', null)).toMatchObject({ code: '22P02', message: 'invalid input value for enum copy_mode: "INSERT_ONLYY"' });
    expect((await add('INSERT_ONLY', 'id,,name', null)).message).toMatch(/^tables row \d+ \(public\.t\d+ of job 'shop'\): primary_key 'id,,name' has an empty column name at position 2 \(remove the extra comma\)$/);
    expect((await add('INSERT_ONLY', 'id, id', null)).message).toMatch(/: primary_key 'id, id' names column id twice$/);
    expect((await add('INSERT_ONLY', '"id', null)).message).toMatch(/: primary_key '"id': "id is not a well-formed quoted name \(write a quote inside a name as ""\)$/);
    expect((await add('INSERT_ONLY', ' ', null)).message).toMatch(/: primary_key is empty \(use NULL for none\)$/);
    expect((await add('INSERT_AND_UPDATE', 'id', 'updated_at, created_at')).message).toMatch(/: updated_key 'updated_at, created_at' names 2 columns; it takes one$/);
    expect(await add('INSERT_ONLY', null, null)).toMatchObject({ code: '23514', message: expect.stringMatching(/: copy_mode INSERT_ONLY needs primary_key$/), hint: 'set primary_key, or use copy_mode FULL_DATA_SYNC' });
    expect((await add('INSERT_AND_UPDATE', 'id', null)).message).toMatch(/: copy_mode INSERT_AND_UPDATE needs updated_key$/);
    // What is fine: composite and quoted keys, keyless FULL_DATA_SYNC.
    await db.query(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key, updated_key) VALUES ($1, 'a', 'INSERT_AND_UPDATE', 'id, "Line No"', 'updated_at'), ($1, 'b', 'FULL_DATA_SYNC', NULL, NULL)`, [jobId]);
  });

  it('rows written before the checks existed are still writable by the worker (only edits of the checked columns are checked)', async () => {
    await db.query(`ALTER TABLE schedule_events DISABLE TRIGGER schedule_events_check`);
    const legacy = await db.query(`INSERT INTO schedule_events (job_id, frequency, at) VALUES ($1, 60, '25:**') RETURNING id`, [jobId]);
    await db.query(`ALTER TABLE schedule_events ENABLE TRIGGER schedule_events_check`);
    await db.query(`UPDATE schedule_events SET last_run_at = now(), last_error = 'invalid schedule', enabled = false WHERE id = $1`, [legacy.rows[0].id]);
    expect((await refusal(`UPDATE schedule_events SET at = '26:**' WHERE id = $1`, [legacy.rows[0].id])).code).toBe('23514');
  });

  it("the loader's backoff and alert bookkeeping does not count as an edit (tables.updated_at)", async () => {
    const t = await db.query(`INSERT INTO tables (job_id, source_name, copy_mode) VALUES ($1, 'kept', 'FULL_DATA_SYNC') RETURNING id, updated_at`, [jobId]);
    await new Promise((r) => setTimeout(r, 5));
    await db.query(`UPDATE tables SET failure_count = 3, retry_at = now(), alert_failing = true, alert_behind = true WHERE id = $1`, [t.rows[0].id]);
    expect((await db.query(`SELECT updated_at FROM tables WHERE id = $1`, [t.rows[0].id])).rows[0].updated_at).toEqual(t.rows[0].updated_at);
    await db.query(`UPDATE tables SET disabled = true WHERE id = $1`, [t.rows[0].id]);
    expect((await db.query(`SELECT updated_at FROM tables WHERE id = $1`, [t.rows[0].id])).rows[0].updated_at.getTime()).toBeGreaterThan(t.rows[0].updated_at.getTime());
  });
});
