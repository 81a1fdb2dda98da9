import { describe, expect, it } from 'vitest';
import { createTableSql, designTable, DesignError } from '../../src/schema/ddl.js';
import { chooseCopyMode, clockAssignments, isBookkeepingTable, looksLikeUpdatedKey, matchesAnyGlob, updatedKeyCandidates, type DiscoveredColumn } from '../../src/setup/discover.js';
import { missingValueDefault, planDrift } from '../../src/schema/drift.js';
import { afterKeySql, bucketSummarySql, deleteKeysSql, missingAtSourceSql } from '../../src/sync/delete-detection.js';
import { canonicalColumn, type ColumnCanon } from '../../src/schema/canonical.js';
import { grantsSql } from '../../src/setup/grants.js';
import { compatibility, mapType, parseTargetType } from '../../src/schema/types.js';

describe('type mapping', () => {
  const cases: Array<[string | Parameters<typeof mapType>[0], string]> = [
    ['smallint', 'SMALLINT'],
    ['integer', 'INTEGER'],
    ['bigint', 'BIGINT'],
    ['numeric(12,2)', 'NUMERIC(12,2)'],
    ['numeric(38,0)', 'NUMERIC(38,0)'],
    ['numeric(10)', 'NUMERIC(10,0)'],
    ['numeric', 'NUMERIC(38,10)'],
    ['numeric(50,5)', 'VARCHAR(52)'],
    ['real', 'REAL'],
    ['double precision', 'DOUBLE PRECISION'],
    ['boolean', 'BOOLEAN'],
    ['date', 'DATE'],
    ['time without time zone', 'TIME'],
    ['time(3) without time zone', 'TIME'],
    ['time with time zone', 'TIMETZ'],
    ['timestamp without time zone', 'TIMESTAMP'],
    ['timestamp(3) without time zone', 'TIMESTAMP'],
    ['timestamp with time zone', 'TIMESTAMPTZ'],
    ['timestamp(6) with time zone', 'TIMESTAMPTZ'],
    ['interval', 'VARCHAR(128)'],
    ['text', 'VARCHAR(65535)'],
    ['character varying', 'VARCHAR(65535)'],
    ['character varying(20)', 'VARCHAR(80)'],
    ['character varying(16383)', 'VARCHAR(65532)'],
    ['character varying(20000)', 'VARCHAR(65535)'],
    ['character(3)', 'VARCHAR(12)'],
    ['character(1)', 'VARCHAR(4)'],
    ['bpchar', 'VARCHAR(65535)'],
    ['"char"', 'VARCHAR(4)'],
    ['name', 'VARCHAR(64)'],
    ['uuid', 'CHAR(36)'],
    ['json', 'SUPER'],
    ['jsonb', 'SUPER'],
    ['integer[]', 'VARCHAR(65535)'],
    ['text[]', 'VARCHAR(65535)'],
    [{ formatType: 'mood', kind: 'e' }, 'VARCHAR(256)'],
    [{ formatType: 'address', kind: 'c' }, 'VARCHAR(65535)'],
    [{ formatType: 'int4range', kind: 'r' }, 'VARCHAR(65535)'],
    [{ formatType: 'positive_int', kind: 'd', baseType: 'integer' }, 'INTEGER'],
    [{ formatType: 'short_text', kind: 'd', baseType: 'character varying(10)' }, 'VARCHAR(40)'],
    ['bytea', 'VARCHAR(65535)'],
    ['inet', 'VARCHAR(43)'],
    ['cidr', 'VARCHAR(43)'],
    ['macaddr', 'VARCHAR(17)'],
    ['money', 'VARCHAR(64)'],
    ['bit(8)', 'VARCHAR(8)'],
    ['bit varying(5)', 'VARCHAR(5)'],
    ['xml', 'VARCHAR(65535)'],
    ['oid', 'BIGINT'],
    ['tsvector', 'VARCHAR(65535)'],
    ['point', 'VARCHAR(65535)'],
  ];
  it.each(cases)('%j -> %s', (input, want) => {
    expect(mapType(input).sql).toBe(want);
  });

  it('never maps a numeric to a float type', () => {
    for (const t of ['numeric', 'numeric(5,2)', 'numeric(38,38)', 'numeric(39,2)', 'numeric(1000,0)']) {
      expect(mapType(t).sql).not.toMatch(/REAL|DOUBLE|FLOAT/);
    }
  });

  it('explains the non-obvious choices', () => {
    for (const t of ['numeric', 'bytea', 'interval', 'money', 'character(2)', 'integer[]', 'jsonb', 'tsvector']) {
      expect(mapType(t).note, t).toBeTruthy();
    }
    expect(mapType('jsonb').keyable).toBe(false);
  });

  it('reads target catalog types and tells compatible from incompatible', () => {
    expect(parseTargetType('character varying(80)')).toMatchObject({ family: 'varchar', length: 80 });
    expect(parseTargetType('numeric(38,10)')).toMatchObject({ family: 'numeric', precision: 38, scale: 10 });
    expect(compatibility(mapType('character varying(50)'), parseTargetType('character varying(80)'))).toEqual({ ok: true, widenTo: 'VARCHAR(200)' });
    expect(compatibility(mapType('character varying(10)'), parseTargetType('character varying(80)'))).toEqual({ ok: true });
    expect(compatibility(mapType('integer'), parseTargetType('bigint'))).toEqual({ ok: true });
    expect(compatibility(mapType('bigint'), parseTargetType('integer')).ok).toBe(false);
    expect(compatibility(mapType('text'), parseTargetType('integer')).ok).toBe(false);
    expect(compatibility(mapType('jsonb'), parseTargetType('character varying(65535)')).ok).toBe(true);
    expect(compatibility(mapType('numeric(20,4)'), parseTargetType('numeric(12,2)')).ok).toBe(false);
  });
});

describe('discovery choices', () => {
  const col = (name: string, type: string, notNull = true): DiscoveredColumn => ({ name, type, notNull, kind: 'b', baseType: null, defaultExpr: null });

  it('chooses the copy mode from the keys found, with a reason and warnings', () => {
    const cols = [col('id', 'bigint'), col('updated_at', 'timestamp with time zone'), col('name', 'text', false)];
    const big = { rows: 500_000, how: 'catalog' as const };
    const a = chooseCopyMode({ kind: 'table', columns: cols, primaryKey: ['id'], keySource: 'primary key', indexedLeading: new Set(['id']), rows: big });
    expect(a).toMatchObject({ copyMode: 'INSERT_AND_UPDATE', updatedKey: 'updated_at', updatedKeyIndexed: false, deleteDetection: true, deleteDetectionMinutes: 60 });
    expect(a.reason).toMatch(/primary key \(id\) and updated key "updated_at" \(timestamp with time zone\): named like an updated-at column/);
    expect(a.reason).toMatch(/deletes found by delete detection every 60 minutes \(about 500,000 rows by the catalog's estimate\)/);
    expect(a.warnings.join()).toMatch(/"updated_at" has no index/);
    const b = chooseCopyMode({ kind: 'table', columns: cols, primaryKey: ['id'], keySource: 'primary key', indexedLeading: new Set(['id', 'updated_at']), rows: { rows: 10, how: 'counted' } });
    expect(b).toMatchObject({ warnings: [], deleteDetectionMinutes: null });
    const c = chooseCopyMode({ kind: 'table', columns: [col('id', 'bigint'), col('updated_at', 'text')], primaryKey: ['id'], keySource: 'primary key', indexedLeading: new Set(), rows: big });
    expect(c).toMatchObject({ copyMode: 'INSERT_ONLY', updatedKey: null, deleteDetection: true, deleteDetectionMinutes: 60 });
    expect(c.warnings).toEqual([
      'INSERT_ONLY: updates at the source are never seen (no updated-at column); deletes are found by delete detection every 60 minutes',
      'key "id" is not fed by a sequence or identity: a row inserted with a key below the watermark (an application-chosen id, a random uuid) is never read',
    ]);
    const d = chooseCopyMode({ kind: 'view', columns: cols, primaryKey: [], keySource: null, indexedLeading: new Set() });
    expect(d.copyMode).toBe('FULL_DATA_SYNC');
    expect(d.reason).toMatch(/view without a key/);
    const e = chooseCopyMode({ kind: 'table', columns: [col('k', 'integer'), col('modified_at', 'timestamp without time zone')], primaryKey: ['k'], keySource: 'primary key', indexedLeading: new Set(['modified_at']) });
    expect(e).toMatchObject({ copyMode: 'INSERT_AND_UPDATE', updatedKey: 'modified_at' });
  });

  it('a keyed table without an updated-at column: FULL_DATA_SYNC under the size threshold, INSERT_ONLY with warnings at or over it', () => {
    const cols = [col('track_id', 'integer'), col('unit_price', 'numeric(10,2)')];
    const small = chooseCopyMode({ kind: 'table', columns: cols, primaryKey: ['track_id'], keySource: 'primary key', indexedLeading: new Set(['track_id']), rows: { rows: 3503, how: 'catalog' } });
    expect(small).toMatchObject({ copyMode: 'FULL_DATA_SYNC', deleteDetection: false, warnings: [] });
    expect(small.reason).toBe("primary key (track_id) but no updated-at column, and about 3,503 rows by the catalog's estimate, under the 100,000-row threshold: the whole table is copied every sync, which sees every insert, update and delete");
    const over = chooseCopyMode({ kind: 'table', columns: cols, primaryKey: ['track_id'], keySource: 'primary key', indexedLeading: new Set(), rows: { rows: 3503, how: 'catalog' }, fullSyncBelow: 1000 });
    expect(over.copyMode).toBe('INSERT_ONLY');
    expect(over.warnings[0]).toMatch(/^INSERT_ONLY: updates at the source are never seen/);
  });

  it('a sequence-fed key column leads the keyset; a composite key without one is warned about', () => {
    const payment = [col('payment_date', 'timestamp with time zone'), { ...col('payment_id', 'integer'), defaultExpr: "nextval('payment_payment_id_seq'::regclass)" }, col('amount', 'numeric(5,2)')];
    const p = chooseCopyMode({ kind: 'partitioned table', columns: payment, primaryKey: ['payment_date', 'payment_id'], keySource: 'primary key', indexedLeading: new Set(['payment_date']), rows: { rows: 1e6, how: 'catalog' } });
    expect(p).toMatchObject({ copyMode: 'INSERT_ONLY', primaryKey: ['payment_id', 'payment_date'] });
    expect(p.reason).toMatch(/^primary key \(payment_id, payment_date\) \(declared \(payment_date, payment_id\); the sequence-fed column leads\)/);
    expect(p.warnings.join('\n')).not.toMatch(/sequence or identity/);
    const ident = chooseCopyMode({ kind: 'table', columns: [col('a', 'text'), { ...col('b', 'bigint'), identity: 'a' }], primaryKey: ['a', 'b'], keySource: 'primary key', indexedLeading: new Set(), rows: { rows: 1e6, how: 'catalog' } });
    expect(ident.primaryKey).toEqual(['b', 'a']);
    const link = chooseCopyMode({ kind: 'table', columns: [col('playlist_id', 'integer'), col('track_id', 'integer')], primaryKey: ['playlist_id', 'track_id'], keySource: 'primary key', indexedLeading: new Set(), rows: { rows: 1e6, how: 'catalog' } });
    expect(link.warnings).toContain('no column of the key (playlist_id, track_id) is fed by a sequence or identity: rows inserted out of key order (below the watermark) are never read');
  });

  it('finds the updated key by its trigger (DVD-rental last_update, moddatetime, quoted names), by a clock default a trigger writes, then by name', () => {
    const lastUpdated = { name: 'last_updated', functionName: 'last_updated', args: [], source: '\nBEGIN\n    NEW.last_update = CURRENT_TIMESTAMP;\n    RETURN NEW;\nEND ' };
    const film = [col('film_id', 'integer'), col('title', 'text'), col('last_update', 'timestamp without time zone'), col('created', 'timestamp without time zone')];
    const [c1] = updatedKeyCandidates(film, [lastUpdated], new Set());
    expect(c1).toMatchObject({ strength: 3, column: { name: 'last_update' }, utc: false });
    expect(c1!.evidence).toBe('trigger "last_updated" (function last_updated) sets it to CURRENT_TIMESTAMP before every UPDATE');
    const chosen = chooseCopyMode({ kind: 'table', columns: film, primaryKey: ['film_id'], keySource: 'primary key', indexedLeading: new Set(), candidates: updatedKeyCandidates(film, [lastUpdated], new Set()), rows: { rows: 1000, how: 'catalog' } });
    expect(chosen).toMatchObject({ copyMode: 'INSERT_AND_UPDATE', updatedKey: 'last_update', deleteDetection: true, deleteDetectionMinutes: null });
    expect(chosen.reason).toMatch(/updated key "last_update" \(timestamp without time zone\): trigger "last_updated"/);
    // A trigger beats a better name; quoted mixed-case names keep their case; UTC conversion is noticed.
    const odd = [col('id', 'integer'), col('updated_at', 'timestamp with time zone'), col('Stamp', 'timestamp without time zone')];
    const quoted = { name: 'touch', functionName: 'app.touch', args: [], source: `-- NEW.updated_at := now(); (old)\nIF NEW IS DISTINCT FROM OLD THEN NEW."Stamp" := (now() AT TIME ZONE 'utc'); END IF; RETURN NEW;` };
    const [c2, c3] = updatedKeyCandidates(odd, [quoted], new Set());
    expect(c2).toMatchObject({ strength: 3, column: { name: 'Stamp' }, utc: true });
    expect(c3).toMatchObject({ strength: 1, column: { name: 'updated_at' } });
    expect(chooseCopyMode({ kind: 'table', columns: odd, primaryKey: ['id'], keySource: 'primary key', indexedLeading: new Set(), candidates: [c2!, c3!] }).updatedKeyTimeZone).toBe('UTC');
    // moddatetime(column) from contrib/spi.
    const [m] = updatedKeyCandidates([col('id', 'integer'), col('ts', 'timestamp with time zone')], [{ name: 'mdt', functionName: 'moddatetime', args: ['ts'], source: 'moddatetime' }], new Set());
    expect(m).toMatchObject({ strength: 3, column: { name: 'ts' } });
    // A clock default and a trigger that writes the column some other way.
    const dflt = [col('id', 'integer'), { ...col('stamp', 'timestamp with time zone'), defaultExpr: 'now()' }];
    const [dd] = updatedKeyCandidates(dflt, [{ name: 'audit', functionName: 'audit', args: [], source: 'BEGIN NEW := jsonb_populate_record(NEW, jsonb_build_object(\'stamp\', clock_timestamp())); RETURN NEW; END' }], new Set());
    expect(dd).toMatchObject({ strength: 2, column: { name: 'stamp' } });
    // Names real schemas use, camelCase included.
    for (const n of ['last_update', 'lastupdate', 'modified', 'date_modified', 'changed_at', 'row_updated_at', 'updatedAt', 'lastModified', 'ModifiedDate', 'last_updated_at']) {
      expect(looksLikeUpdatedKey(n), n).toBe(true);
    }
    for (const n of ['created_at', 'birth_date', 'invoice_date', 'updates_count']) expect(looksLikeUpdatedKey(n), n).toBe(false);
    expect(clockAssignments('new.x = 1; NEW.y := old.y; NEW.z = now() + interval \'1 day\';')).toEqual([{ column: 'z', expr: "now() + interval '1 day'", utc: false }]);
  });

  it('an unpopulated materialized view is warned about', () => {
    const r = chooseCopyMode({ kind: 'materialized view', columns: [col('id', 'integer')], primaryKey: [], keySource: null, indexedLeading: new Set(), unpopulated: true });
    expect(r.warnings).toEqual(['materialized view is not populated: every sync fails until it is refreshed (REFRESH MATERIALIZED VIEW at the source)']);
  });

  it('a nullable updated-at column that holds NULLs is passed over with a warning; one without NULLs is used with a warning', () => {
    const cols = [col('id', 'integer'), col('updated_at', 'timestamp with time zone', false), col('modified', 'timestamp with time zone')];
    const cands = updatedKeyCandidates(cols, [], new Set());
    const skip = chooseCopyMode({ kind: 'table', columns: cols, primaryKey: ['id'], keySource: 'primary key', indexedLeading: new Set(), candidates: cands, withNulls: new Set(['updated_at']) });
    expect(skip.updatedKey).toBe('modified');
    expect(skip.warnings[0]).toMatch(/^"updated_at" \(named like an updated-at column.*\) is not used as the updated key: it holds NULLs/);
    const use = chooseCopyMode({ kind: 'table', columns: cols, primaryKey: ['id'], keySource: 'primary key', indexedLeading: new Set(), candidates: cands });
    expect(use.updatedKey).toBe('updated_at');
    expect(use.warnings).toContain('updated key "updated_at" is nullable: a row with NULL there stops the table\'s sync with an error naming the row (make the column NOT NULL)');
  });

  it('matches shell globs on schema.table and skips migration bookkeeping', () => {
    expect(matchesAnyGlob(['public.orders*'], 'public', 'orders_2024')).toBe(true);
    expect(matchesAnyGlob(['public.orders*'], 'sales', 'orders')).toBe(false);
    expect(matchesAnyGlob(['orde?s'], 'x', 'orders')).toBe(true);
    expect(matchesAnyGlob(['a.b'], 'a', 'aXb')).toBe(false);
    for (const t of ['_prisma_migrations', 'schema_migrations', 'ar_internal_metadata', 'knex_migrations', 'knex_migrations_lock', 'flyway_schema_history', 'typeorm_migrations']) {
      expect(isBookkeepingTable(t), t).toBe(true);
    }
    expect(isBookkeepingTable('orders')).toBe(false);
  });
});

describe('target design', () => {
  const src = [
    { name: 'id', formatType: 'bigint', notNull: true },
    { name: 'select', formatType: 'character varying(10)', notNull: false },
    { name: 'Updated At', formatType: 'timestamp with time zone', notNull: true },
    { name: 'doc', formatType: 'jsonb', notNull: false },
  ];
  const target = { schema: 'Analytics', name: 'Order' };

  it('distributes on a single-column key and sorts by updated key then key', () => {
    const d = designTable(target, src, { primaryKey: 'id', updatedKey: 'Updated At' });
    expect(createTableSql(d)).toBe(
      [
        'CREATE TABLE IF NOT EXISTS "Analytics"."Order" (',
        '  "id" BIGINT NOT NULL,',
        '  "select" VARCHAR(40),',
        '  "Updated At" TIMESTAMPTZ NOT NULL,',
        '  "doc" SUPER',
        ')',
        'DISTSTYLE KEY DISTKEY ("id")',
        'COMPOUND SORTKEY ("Updated At", "id")',
      ].join('\n'),
    );
  });

  it('uses DISTSTYLE EVEN for composite or no keys, and honours row overrides', () => {
    expect(createTableSql(designTable(target, src, { primaryKey: 'id, select', updatedKey: null }))).toMatch(/DISTSTYLE EVEN\nCOMPOUND SORTKEY \("id", "select"\)$/);
    expect(createTableSql(designTable(target, src, { primaryKey: null, updatedKey: null }))).toMatch(/DISTSTYLE EVEN$/);
    const o = designTable(target, src, { primaryKey: 'id', updatedKey: null, distKey: 'select', sortKeys: 'NONE', excludeColumns: 'doc' });
    expect(createTableSql(o)).toMatch(/"Updated At" TIMESTAMPTZ NOT NULL\n\)\nDISTSTYLE KEY DISTKEY \("select"\)$/);
    expect(designTable(target, src, { primaryKey: 'id', updatedKey: null, distKey: 'ALL' }).distStyle).toBe('ALL');
    expect(designTable(target, src, { primaryKey: 'id', updatedKey: null, includeColumns: 'id, doc' }).columns.map((c) => c.name)).toEqual(['id', 'doc']);
    expect(() => designTable(target, src, { primaryKey: 'id', updatedKey: null, distKey: 'doc' })).toThrow(/SUPER, which cannot be a distribution key/);
    expect(() => designTable(target, src, { primaryKey: 'id', updatedKey: null, excludeColumns: 'id' })).toThrow(DesignError);
  });
});

describe('drift planning', () => {
  const target = { schema: 's', name: 'T' };
  it('adds new columns (resync unless the rows\' missing value is known), widens sized varchars, flags incompatible changes', () => {
    const p = planDrift(
      [
        { name: 'id', type: 'integer', notNull: true },
        { name: 'name', type: 'character varying(50)', notNull: false },
        { name: 'extra', type: 'text', notNull: false },
        { name: 'flag', type: 'boolean', notNull: true, defaultExpr: 'true', missing: { value: 'f' } },
        { name: 'code', type: 'text', notNull: false },
      ],
      [
        { name: 'id', type: 'integer' },
        { name: 'name', type: 'character varying(40)' },
        { name: 'code', type: 'integer' },
        { name: 'gone', type: 'integer' },
      ],
      { target, jobName: 'j', sourceName: 'public.t' },
    );
    expect(p.statements).toEqual([
      'ALTER TABLE "s"."T" ALTER COLUMN "name" TYPE VARCHAR(200)',
      'ALTER TABLE "s"."T" ADD COLUMN "extra" VARCHAR(65535)',
      'ALTER TABLE "s"."T" ADD COLUMN "flag" BOOLEAN DEFAULT false',
    ]);
    expect(p.resync).toBe(true);
    expect(p.problems).toHaveLength(1);
    expect(p.problems[0]).toMatch(/^job "j", table public\.t: column "code" changed at the source to text \(Redshift VARCHAR\(65535\)\) but the target s\.T has integer/);
    expect(p.problems[0]).toMatch(/drop or rename s\.T, run redshift-loader setup --job j /);
    const q = planDrift([{ name: 'id', type: 'integer', notNull: true }, { name: 'flag', type: 'boolean', notNull: true, defaultExpr: 'true', missing: { value: 't' } }], [{ name: 'id', type: 'integer' }], { target });
    expect(q).toMatchObject({ resync: false, problems: [], statements: ['ALTER TABLE "s"."T" ADD COLUMN "flag" BOOLEAN DEFAULT true'] });
    // The current default says nothing about existing rows: only the missing value does.
    const later = planDrift([{ name: 'id', type: 'integer', notNull: true }, { name: 'x', type: 'integer', notNull: false, defaultExpr: '5' }], [{ name: 'id', type: 'integer' }], { target });
    expect(later).toMatchObject({ resync: true, statements: ['ALTER TABLE "s"."T" ADD COLUMN "x" INTEGER'] });
    // A column whose attnum changed was dropped and added again.
    const readded = planDrift([{ name: 'id', type: 'integer', notNull: true, attnum: 1 }, { name: 'z', type: 'text', notNull: false, attnum: 4 }], [{ name: 'id', type: 'integer' }, { name: 'z', type: 'character varying(65535)' }], { target, knownAttnums: { id: 1, z: 2 } });
    expect(readded).toMatchObject({ resync: true, statements: [] });
    expect(readded.notes).toEqual(['column "z" was dropped and added again at the source (attnum 2 -> 4): the target\'s old values do not hold, so the table is resynced']);
  });

  it('writes the missing value as a literal of the target type, or says it is not known', () => {
    const col = (value: string | null, type = 'integer') => ({ name: 'c', type, notNull: false, missing: { value } });
    expect(missingValueDefault(col('0'), mapType('integer'))).toBe('0');
    expect(missingValueDefault(col('-1.50', 'numeric(5,2)'), mapType('numeric(5,2)'))).toBe('-1.50');
    expect(missingValueDefault(col("it's"), mapType('text'))).toBe("'it''s'");
    expect(missingValueDefault(col('2024-01-01 00:00:00+00', 'timestamp with time zone'), mapType('timestamptz'))).toBe("'2024-01-01 00:00:00+00'");
    expect(missingValueDefault(col(null), mapType('integer'))).toBe('');
    expect(missingValueDefault(col('{"a": 1}', 'jsonb'), mapType('jsonb'))).toBeNull();
    expect(missingValueDefault({ name: 'c', type: 'integer', notNull: false }, mapType('integer'))).toBeNull();
  });
});

describe('delete detection SQL', () => {
  it('builds hash (each side in its own SQL, the same numbers), range and exact delete statements', () => {
    const canon = (name: string, src: string, tgt: string): ColumnCanon => {
      const c = canonicalColumn({ name, type: src, notNull: true }, tgt);
      if (!c.ok) throw new Error(c.skipped.reason);
      return c.canon;
    };
    const key = [
      { canon: canon('a', 'bigint', 'bigint'), targetFamily: 'bigint', sourceType: 'bigint' },
      { canon: canon('b', 'text', 'character varying(65535)'), targetFamily: 'varchar', sourceType: 'text' },
    ];
    expect(bucketSummarySql('postgres', '"s"."t"', key, 7)).toBe(
      [
        'SELECT b, COUNT(*) AS n, SUM(h1) AS s1, SUM(h2) AS s2 FROM (',
        "  SELECT MOD(('x' || substr(h, 1, 7))::bit(28)::bigint, 7) AS b, ('x' || substr(h, 8, 7))::bit(28)::bigint AS h1, ('x' || substr(h, 15, 7))::bit(28)::bigint AS h2",
        '  FROM (SELECT md5(CAST("a" AS text) || chr(31) || "b") AS h FROM "s"."t") x',
        ') y GROUP BY b',
      ].join('\n'),
    );
    expect(bucketSummarySql('redshift', '"s"."t"', key, 7)).toContain(
      'SELECT MOD(STRTOL(SUBSTRING(h, 1, 7), 16), 7) AS b, STRTOL(SUBSTRING(h, 8, 7), 16) AS h1, STRTOL(SUBSTRING(h, 15, 7), 16) AS h2\n  FROM (SELECT MD5(CAST("a" AS VARCHAR) || CHR(31) || "b") AS h FROM "s"."t") x',
    );
    expect(afterKeySql(['a', 'b'])).toBe('("a" > $1) OR ("a" = $1 AND "b" > $2)');
    expect(deleteKeysSql({ schema: 's', name: 't' }, [{ name: 'a', text: false }], 3)).toBe('DELETE FROM "s"."t" WHERE "a" IN ($1, $2, $3)');
    // A character key matches on its byte length too: 'b' must not take 'b ' with it.
    expect(deleteKeysSql({ schema: 's', name: 't' }, [{ name: 'a', text: false }, { name: 'b', text: true }], 2)).toBe(
      'DELETE FROM "s"."t" WHERE ("a" = $1 AND "b" = $2 AND OCTET_LENGTH("b") = OCTET_LENGTH(CAST($2 AS VARCHAR(65535)))) OR ("a" = $3 AND "b" = $4 AND OCTET_LENGTH("b") = OCTET_LENGTH(CAST($4 AS VARCHAR(65535))))',
    );
    expect(missingAtSourceSql('"p"."t"', ['a', 'b'], ['integer', 'text'])).toBe(
      'SELECT t.i::int AS i FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(k0, k1, i) WHERE NOT EXISTS (SELECT 1 FROM "p"."t" s WHERE s."a" = t.k0::integer AND s."b" = t.k1::text) ORDER BY t.i',
    );
  });
});

describe('grants', () => {
  it('prints least-privilege SQL for both users', () => {
    const sql = grantsSql({
      jobName: 'shop',
      sourceUser: 'reader',
      sourceDatabase: 'shop',
      destinationUser: 'loader',
      destinationDatabase: 'dev',
      tables: [
        { sourceSchema: 'public', sourceName: 'Order', targetSchema: 'analytics', targetName: 'Order', copyMode: 'INSERT_AND_UPDATE' },
        { sourceSchema: 'public', sourceName: 'countries', targetSchema: 'analytics', targetName: 'countries', copyMode: 'FULL_DATA_SYNC' },
      ],
    });
    expect(sql).toMatchSnapshot();
    expect(sql).toContain('GRANT CONNECT ON DATABASE "shop" TO "reader";');
    expect(sql).toContain('GRANT SELECT ON "public"."Order" TO "reader";');
    expect(sql).toContain('GRANT pg_read_all_stats TO "reader";');
    expect(sql).toContain('ALTER DEFAULT PRIVILEGES IN SCHEMA "public" GRANT SELECT ON TABLES TO "reader";');
    // The schema is created by the script, so the loader needs no CREATE ON DATABASE.
    expect(sql).toContain('CREATE SCHEMA IF NOT EXISTS "analytics";\nGRANT USAGE, CREATE ON SCHEMA "analytics" TO "loader";');
    expect(sql).not.toMatch(/CREATE ON DATABASE/);
    expect(sql).toContain('GRANT SELECT, INSERT, UPDATE, DELETE ON "analytics"."Order" TO "loader";');
    expect(sql).toContain('GRANT TEMP ON DATABASE "dev" TO "loader";');
    expect(sql).not.toMatch(/GRANT ALL/);
  });
});
