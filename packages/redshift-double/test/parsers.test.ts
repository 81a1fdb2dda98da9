import { describe, expect, it } from 'vitest';
import { parseCopy, parseCredentials } from '../src/copy-parse.js';
import { planAlterTable, planCreateTable } from '../src/ddl.js';
import { translateError } from '../src/errors.js';
import { classify, rewriteSql } from '../src/rewrite.js';
import { significant, splitStatements, tokenize } from '../src/sql-lexer.js';
import { formatLines, parseUnload } from '../src/unload.js';
import { foldQuotedIdentifiers } from '../src/identifiers.js';
import { checkSuperJson } from '../src/super-json.js';

const values = { lastCopyId: 77, lastCopyCount: 5, caseSensitiveIdentifiers: false, caseSensitiveIdentifiersDefault: false };
const id = (s: string) => s;
const ROLE = "IAM_ROLE 'arn:aws:iam::123456789012:role/r'";

describe('sql lexer', () => {
  it('splits statements, ignoring ; in strings, identifiers, comments and dollar quotes', () => {
    expect(splitStatements(`SELECT 'a;b'; SELECT "x;y" -- c;\n; DO $$ BEGIN NULL; END $$;;`)).toEqual([`SELECT 'a;b'`, ` SELECT "x;y" -- c;\n`, ` DO $$ BEGIN NULL; END $$`]);
  });

  it("processes backslash escapes inside '...' as Redshift does", () => {
    const [t] = tokenize(`'a\\\\b\\'c\\t'`);
    expect(t!.value).toBe("a\\b'c\t");
    expect(tokenize(`'it''s'`)[0]!.value).toBe("it's");
    expect(tokenize(`'\\\\N'`)[0]!.value).toBe('\\N');
  });
});

describe('rewriteSql', () => {
  it('points system views at the double schema and inlines pg_last_copy_*()', () => {
    expect(rewriteSql(`select * from stl_load_errors where query = pg_last_copy_id()`, values)).toBe(
      'select * from redshift_double.stl_load_errors where query = redshift_double.pg_last_copy_id(77)',
    );
    expect(rewriteSql(`SELECT pg_last_copy_count() FROM pg_catalog.pg_table_def`, values)).toBe(
      'SELECT redshift_double.pg_last_copy_count(5) FROM redshift_double.pg_table_def',
    );
  });

  it('leaves other schemas, columns and strings alone', () => {
    const sql = `SELECT t.svv_table_info, 'pg_table_def' FROM myschema.stl_load_errors t`;
    expect(rewriteSql(sql, values)).toBe(sql);
  });
});

describe('classify', () => {
  it('rejects ON CONFLICT, RETURNING, CREATE INDEX/SEQUENCE and COPY FROM STDIN', () => {
    expect(() => classify(`INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING`, values)).toThrow('syntax error at or near "ON"');
    expect(() => classify(`DELETE FROM t RETURNING *`, values)).toThrow('syntax error at or near "RETURNING"');
    expect(() => classify(`CREATE UNIQUE INDEX i ON t (a)`, values)).toThrow('CREATE INDEX is not supported.');
    expect(() => classify(`CREATE TEMP SEQUENCE s`, values)).toThrow('syntax error at or near "SEQUENCE"');
    expect(() => classify(`COPY t FROM STDIN`, values)).toThrow('COPY FROM STDIN is not supported.');
  });

  it('hands COPY, UNLOAD, TRUNCATE, VACUUM and CREATE TABLE to the double', () => {
    expect(classify(`COPY t FROM 's3://b/k' ${ROLE}`, values)).toMatchObject({ kind: 'command', command: { kind: 'copy' } });
    expect(classify(`UNLOAD ('select 1') TO 's3://b/p' ${ROLE}`, values)).toMatchObject({ kind: 'command', command: { kind: 'unload' } });
    expect(classify(`truncate t`, values)).toMatchObject({ command: { kind: 'truncate' } });
    expect(classify(`VACUUM DELETE ONLY t`, values)).toMatchObject({ command: { kind: 'vacuum' } });
    expect(classify(`create temp table x (a int)`, values)).toMatchObject({ command: { kind: 'create' } });
    expect(classify(`SELECT 1`, values)).toEqual({ kind: 'pass', sql: 'SELECT 1' });
  });
});

describe('planCreateTable', () => {
  it('strips Redshift attributes and adds byte CHECKs', () => {
    const p = planCreateTable(
      `CREATE TABLE IF NOT EXISTS s.t (id BIGINT IDENTITY(1,2) ENCODE az64, "Name" VARCHAR(MAX) NOT NULL, c CHAR(2), j SUPER, PRIMARY KEY (id)) BACKUP NO DISTSTYLE KEY DISTKEY(id) INTERLEAVED SORTKEY(id, "Name")`,
      id,
    );
    expect(p.sql).toMatch(/^CREATE TABLE IF NOT EXISTS s\.t \("id" bigint GENERATED ALWAYS AS IDENTITY \(START WITH 1 INCREMENT BY 2\) NOT NULL, "Name" varchar\(65535\) NOT NULL CONSTRAINT "rsdbl_bytes_65535_[0-9a-f]{6}" CHECK \(octet_length\("Name"\) <= 65535\), "c" char\(2\) CONSTRAINT "rsdbl_char_2_[0-9a-f]{6}" CHECK \(octet_length\("c"::text\) = char_length\("c"::text\)\), "j" super\)$/);
    expect(p.meta).toMatchObject({ diststyle: 'KEY', distkey: 'id', sortkey: ['id', 'Name'], sortkeyType: 'INTERLEAVED', backup: false });
    expect([...p.meta.encodings]).toEqual([['id', 'az64']]);
  });

  it('handles LIKE and CTAS', () => {
    const like = planCreateTable(`CREATE TEMP TABLE "stg" (LIKE "public"."target")`, id);
    expect(like.sql).toBe('CREATE TEMP TABLE "stg" (LIKE "public"."target" INCLUDING CONSTRAINTS)');
    expect(like.like).toBe('"public"."target"');
    const ctas = planCreateTable(`CREATE TABLE c DISTSTYLE EVEN AS SELECT 1 AS a`, id);
    expect(ctas).toMatchObject({ ctas: true, sql: 'CREATE TABLE c AS SELECT 1 AS a', meta: { diststyle: 'EVEN' } });
  });

  it('rejects what Redshift rejects', () => {
    expect(() => planCreateTable(`CREATE TABLE t (a varchar(70000))`, id)).toThrow('length for type varchar cannot exceed 65535');
    expect(() => planCreateTable(`CREATE TABLE t (a jsonb)`, id)).toThrow('Column "t.a" has unsupported type "jsonb".');
    expect(() => planCreateTable(`CREATE TABLE t (a int, CHECK (a > 0))`, id)).toThrow('CHECK constraint is not supported.');
    expect(() => planCreateTable(`CREATE TABLE t (a int) DISTSTYLE EVEN DISTKEY(a)`, id)).toThrow(/DISTSTYLE must be KEY/);
    expect(() => planCreateTable(`CREATE TABLE t (a int) WITH (fillfactor=10)`, id)).toThrow('syntax error at or near "WITH"');
  });

  it('plans ALTER TABLE forms', () => {
    expect(planAlterTable(`ALTER TABLE t ADD COLUMN c varchar(5) ENCODE zstd`, id)).toMatchObject({ kind: 'addColumn', column: { name: 'c', encoding: 'zstd' } });
    expect(planAlterTable(`ALTER TABLE t APPEND FROM s FILLTARGET`, id)).toEqual({ kind: 'append', target: 't', source: 's', ignoreExtra: false, fillTarget: true });
    expect(planAlterTable(`ALTER TABLE t ALTER DISTKEY a`, id)).toMatchObject({ kind: 'alterMeta', set: { diststyle: 'KEY', distkey: 'a' } });
    expect(planAlterTable(`ALTER TABLE t RENAME TO u`, id)).toEqual({ kind: 'pass' });
  });
});

describe('parseCopy', () => {
  it("parses the loader's COPY", () => {
    const cmd = parseCopy(`COPY "s"."t" ("a", "b") FROM 's3://bkt/m.json' ${ROLE} MANIFEST GZIP CSV QUOTE AS '"' DELIMITER AS ',' NULL AS '\\\\N' TIMEFORMAT 'auto' DATEFORMAT 'auto' COMPUPDATE OFF STATUPDATE OFF REGION 'eu-west-1'`);
    expect(cmd).toMatchObject({
      tableText: '"s"."t"',
      columns: ['a', 'b'],
      from: 's3://bkt/m.json',
      auth: { type: 'iam_role', role: 'arn:aws:iam::123456789012:role/r' },
      manifest: true,
      compression: 'gzip',
      format: 'csv',
      delimiter: ',',
      nullAs: '\\N',
      timeFormat: 'auto',
      dateFormat: 'auto',
      region: 'eu-west-1',
    });
  });

  it('defaults: pipe-delimited text, NULL AS \\N, MAXERROR 0', () => {
    expect(parseCopy(`COPY t FROM 's3://b/k' ${ROLE}`)).toMatchObject({ format: 'text', delimiter: '|', nullAs: '\\N', maxError: 0 });
  });

  it('refuses unknown options, conflicting ones and missing authorization', () => {
    expect(() => parseCopy(`COPY t FROM 's3://b/k' ${ROLE} FOO`)).toThrow('syntax error at or near "FOO"');
    expect(() => parseCopy(`COPY t FROM 's3://b/k' ${ROLE} CSV ESCAPE`)).toThrow(/CSV is not compatible with ESCAPE/);
    expect(() => parseCopy(`COPY t FROM 's3://b/k' CSV`)).toThrow(/requires authorization/);
    expect(() => parseCopy(`COPY t FROM 's3://b/k' ${ROLE} LZOP`)).toThrow(/not implemented/);
    expect(() => parseCopy(`COPY t FROM '/local/file' ${ROLE}`)).toThrow(/Invalid S3 path/);
  });

  it('parses CREDENTIALS strings', () => {
    expect(parseCredentials('aws_access_key_id=A;aws_secret_access_key=S;token=T')).toEqual({ type: 'keys', accessKeyId: 'A', secretAccessKey: 'S', sessionToken: 'T' });
    expect(() => parseCredentials('nonsense')).toThrow(/Invalid credentials/);
  });
});

describe('UNLOAD', () => {
  it('parses options and formats CSV, text and JSON lines', () => {
    const cmd = parseUnload(`UNLOAD ('select * from t where a = ''x''') TO 's3://b/p_' ${ROLE} FORMAT CSV HEADER NULL AS 'NULL' PARALLEL OFF`, id);
    expect(cmd).toMatchObject({ query: "select * from t where a = 'x'", format: 'csv', header: true, nullAs: 'NULL', parallel: false });
    const fields = [
      { name: 'a', typeOid: 23, isJson: false },
      { name: 'b', typeOid: 25, isJson: false },
    ];
    expect(formatLines(cmd, fields, [['1', 'x,"y"'], ['2', null]])).toEqual(['a,b', '1,"x,""y"""', '2,NULL']);
    const json = parseUnload(`UNLOAD ('select 1') TO 's3://b/p_' ${ROLE} FORMAT JSON`, id);
    expect(formatLines(json, fields, [['1', 'x']])).toEqual(['{"a":1,"b":"x"}']);
    expect(() => parseUnload(`UNLOAD ('select 1') TO 's3://b/p_' ${ROLE} FORMAT JSON HEADER`, id)).toThrow(/JSON cannot be used/);
  });
});

describe('translateError', () => {
  it("turns the double's byte CHECK violation into Redshift's message", () => {
    expect(translateError({ S: 'ERROR', C: '23514', M: 'new row violates check constraint', n: 'rsdbl_bytes_10_abcdef', W: 'ctx' })).toEqual({ S: 'ERROR', C: '22001', M: 'value too long for type character varying(10)' });
  });
});

describe('foldQuotedIdentifiers', () => {
  const fold = (sql: string) => foldQuotedIdentifiers(sql, significant(tokenize(sql)));
  it('folds the ASCII letters of quoted identifiers and keeps quoted user names', () => {
    expect(fold(`SELECT "MixedCol" FROM "Sch"."Tab" WHERE x = 'KeepMe'`)).toBe(`SELECT "mixedcol" FROM "sch"."tab" WHERE x = 'KeepMe'`);
    expect(fold(`SELECT "ÉtéX"`)).toBe(`SELECT "Étéx"`);
    expect(fold(`CREATE USER "Bob" PASSWORD 'x'`)).toBe(`CREATE USER "Bob" PASSWORD 'x'`);
    expect(fold(`DROP USER IF EXISTS "Bob"`)).toBe(`DROP USER IF EXISTS "Bob"`);
    expect(fold(`ALTER TABLE "T" OWNER TO "Bob"`)).toBe(`ALTER TABLE "t" OWNER TO "Bob"`);
    expect(fold(`GRANT SELECT ON "T" TO "Bob", GROUP "Grp", "Ann"`)).toBe(`GRANT SELECT ON "t" TO "Bob", GROUP "grp", "Ann"`);
    expect(fold(`REVOKE ALL ON "T" FROM "Bob"`)).toBe(`REVOKE ALL ON "t" FROM "Bob"`);
    expect(fold(`ALTER GROUP "Grp" ADD USER "Bob", "Ann"`)).toBe(`ALTER GROUP "grp" ADD USER "Bob", "Ann"`);
    expect(fold(`ALTER USER "Bob" RENAME TO "Robert"`)).toBe(`ALTER USER "Bob" RENAME TO "Robert"`);
    expect(fold(`SELECT "A""B"`)).toBe(`SELECT "a""b"`);
  });
});

describe('checkSuperJson', () => {
  it('accepts JSON within the limits and names what is wrong otherwise', () => {
    expect(checkSuperJson('{"a": [1, 2.5e3, "x\\u00e9\\n", true, null], "b": {"c": {}}}')).toBeNull();
    expect(checkSuperJson('  "just a string"  ')).toBeNull();
    expect(checkSuperJson('['.repeat(1000) + ']'.repeat(1000))).toBeNull();
    expect(checkSuperJson('['.repeat(1001) + ']'.repeat(1001))).toMatchObject({ code: 1224 });
    expect(checkSuperJson('{"a": {"b": 1, "b": 2}}')).toMatchObject({ code: 1224, reason: expect.stringMatching(/duplicate attribute name "b"/) });
    expect(checkSuperJson(JSON.stringify('x'.repeat(65536)))).toMatchObject({ code: 1204 });
    for (const bad of ['', '{', '[1,]', '{"a" 1}', "{'a': 1}", '01', 'nul', '[1] x', '"\\x"']) expect([bad, checkSuperJson(bad)?.code]).toEqual([bad, 1224]);
  });
});
