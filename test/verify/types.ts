import type { SyncFixture } from '../helpers/sync-fixture.js';

/**
 * A source table with a column of every type the loader maps (src/schema/types.ts mapType),
 * holding the values that are hard to carry: NULL and '', trailing blanks, multibyte text,
 * microseconds, zones, BC dates, scales, JSON with nulls and separators inside strings.
 */
export const ALL_TYPES_DDL = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
  CREATE TABLE all_types (
    id bigint PRIMARY KEY,
    i2 smallint, i4 integer, i8 bigint, dom positive_int, o oid,
    f4 real, f8 double precision,
    n_12_2 numeric(12,2), n_free numeric, n_wide numeric(45,5), n_int numeric(10), n_neg numeric(4,-2),
    b boolean, d date, ts timestamp, tstz timestamptz, tm time, tmtz timetz, iv interval,
    t text, vc varchar(10), ch char(5), bp bpchar, qc "char", nm name, bt bit(4), vb varbit,
    u uuid, j json, jb jsonb, by bytea, ip inet, cidr_ cidr, mac macaddr, mac8 macaddr8, money_ money,
    arr integer[], e mood, tsv tsvector, x xml, rng int4range
  );`;

/** Column names of all_types besides id. */
export const ALL_TYPES_COLUMNS = [
  'i2', 'i4', 'i8', 'dom', 'o', 'f4', 'f8', 'n_12_2', 'n_free', 'n_wide', 'n_int', 'n_neg', 'b', 'd', 'ts', 'tstz', 'tm', 'tmtz', 'iv',
  't', 'vc', 'ch', 'bp', 'qc', 'nm', 'bt', 'vb', 'u', 'j', 'jb', 'by', 'ip', 'cidr_', 'mac', 'mac8', 'money_', 'arr', 'e', 'tsv', 'x', 'rng',
] as const;

/** Rows 1..n: varied values; row 2 is all NULL; row 3 holds empty strings where a type allows. */
export async function fillAllTypes(f: Pick<SyncFixture, 'source'>, rows = 40): Promise<void> {
  await f.source(`INSERT INTO all_types (id) VALUES (2)`);
  await f.source(
    `INSERT INTO all_types (id, t, vc, ch, bp, j, jb, by, arr, x, tsv) VALUES (3, '', '', '', '', '""', '""', '', '{}', '', '')`,
  );
  await f.source(`
    INSERT INTO all_types
    SELECT g, (g % 300) - 150, g * 1000 - 7, g::bigint * 100000000000 - 5, g, g,
      (g / 7.0)::real, g / 3.0,
      ((g * 37) % 100000) / 100.0 - 400, (g / 8.0)::numeric(30,12), (g * 123456789.12345)::numeric(45,5), g * 11, g * 100,
      g % 2 = 0, DATE '2024-02-29' + g - 20, TIMESTAMP '2024-02-29 23:59:59.999999' + g * INTERVAL '1 hour 1.000001 second',
      TIMESTAMPTZ '2024-06-01 12:00:00.123456+05:30' + g * INTERVAL '17 minutes', TIME '23:59:59.5' - g * INTERVAL '1 minute',
      ('10:00:00.25' || CASE WHEN g % 2 = 0 THEN '+05:30' ELSE '-03' END)::timetz, g * INTERVAL '1 day 2 hours 3.5 seconds',
      CASE g % 5 WHEN 0 THEN 'ends with blanks  ' WHEN 1 THEN 'été, 😀 ' || g WHEN 2 THEN 'tab' || chr(9) || 'nl' || chr(10) || g WHEN 3 THEN 'quote " and \\ back' ELSE repeat('long ', 30) || g END,
      left('v' || g || '  ', 10), 'c' || (g % 10), 'bp ' || g || ' ', chr(65 + g % 26)::"char", 'name_' || g, (g % 16)::bit(4), ((g * 5) % 64)::bit(6)::varbit,
      md5(g::text)::uuid, ('{"b": [1, 2.50], "a": "x, y: ' || g || '", "n": null}')::json, ('{"b": [1, 2.50, null], "a": "x, y: ' || g || '", "k": {"z": true, "m": 1e3}}')::jsonb,
      decode(md5(g::text), 'hex'), ('10.0.' || (g % 256) || '.1')::inet, ('10.' || (g % 256) || '.0.0/16')::cidr,
      ('08:00:2b:01:02:' || lpad(to_hex(g % 256), 2, '0'))::macaddr, ('08:00:2b:01:02:03:04:' || lpad(to_hex(g % 256), 2, '0'))::macaddr8,
      (g * 12.34)::money, ARRAY[g, NULL, -g], (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::mood, to_tsvector('simple', 'the quick fox ' || g),
      ('<a n="' || g || '">t</a>')::xml, int4range(g, g + 10)
    FROM generate_series(4, ${rows}) g`);
  await f.source(`INSERT INTO all_types (id, d, ts, tstz, n_free, t) VALUES (1, '0044-03-15 BC', '0044-03-15 10:00:00 BC', '1970-01-01 00:00:00+00', '-0.0000000001', ' leading')`);
}
