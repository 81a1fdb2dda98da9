import { describe, expect, it } from 'vitest';
import { convertRecord, type LoadErrorRow } from '../src/copy.js';
import { convertField, parseDate, parseTimestamp, pgCopyText, type TargetColumn, type ValueOptions } from '../src/copy-values.js';
import { findInvalidUtf8, parseRecords, replaceInvalidUtf8, truncateUtf8, type RecordOptions } from '../src/csv.js';

const CSV: RecordOptions = { format: 'csv', delimiter: ',', quote: '"', escape: false, removeQuotes: false, ignoreHeader: 0, ignoreBlankLines: false };
const TEXT: RecordOptions = { ...CSV, format: 'text', delimiter: '|' };
const OPTS: ValueOptions = { nullAs: '\\N', emptyAsNull: false, blanksAsNull: false, truncateColumns: false, acceptInvChars: null, trimBlanks: false, roundec: false, dateFormat: null, timeFormat: null };

const vc = (length: number, notNull = false): TargetColumn => ({ name: 's', typname: 'varchar', typeText: `character varying(${length})`, notNull, length, numericPrecision: null, numericScale: null, isSuper: false });
const col = (typname: string, extra: Partial<TargetColumn> = {}): TargetColumn => ({ name: 'c', typname, typeText: typname, notNull: false, length: null, numericPrecision: null, numericScale: null, isSuper: false, ...extra });

function records(text: string, o = CSV) {
  return [...parseRecords(Buffer.from(text), o)].map((r) => ({ line: r.line, fields: r.fields.map((f) => [f.bytes.toString(), f.quoted]), error: r.error?.code }));
}

describe('CSV records', () => {
  it('splits fields, unquotes, keeps multi-line quoted fields and numbers lines', () => {
    expect(records('a,"b,c",""\n"x\ny","say ""hi""",\nlast')).toEqual([
      { line: 1, fields: [['a', false], ['b,c', true], ['', true]], error: undefined },
      { line: 2, fields: [['x\ny', true], ['say "hi"', true], ['', false]], error: undefined },
      { line: 4, fields: [['last', false]], error: undefined },
    ]);
  });

  it('reports unterminated quotes, data after a closing quote and blank lines', () => {
    expect(records('"abc\n')[0]!.error).toBe(1216);
    expect(records('"a"b,c\nok\n').map((r) => r.error)).toEqual([1216, undefined]);
    expect(records('1\n\n2\n').map((r) => r.error)).toEqual([undefined, 1211, undefined]);
    expect(records('1\n\n2\n', { ...CSV, ignoreBlankLines: true })).toHaveLength(2);
  });

  it('skips IGNOREHEADER lines and keeps CR as data', () => {
    expect(records('h1,h2\n1,2\r\n', { ...CSV, ignoreHeader: 1 })).toEqual([{ line: 2, fields: [['1', false], ['2\r', false]], error: undefined }]);
  });

  it('delimited text: no quoting, ESCAPE and REMOVEQUOTES', () => {
    expect(records('a|"b"|\\N\n', TEXT)[0]!.fields).toEqual([['a', false], ['"b"', false], ['\\N', false]]);
    expect(records('a\\|b|c\\\nd\n', { ...TEXT, escape: true })[0]!.fields).toEqual([['a|b', false], ['c\nd', false]]);
    expect(records('"a|b"|c\n', { ...TEXT, removeQuotes: true })[0]!.fields).toEqual([['a|b', true], ['c', false]]);
  });
});

describe('UTF-8 helpers', () => {
  it('finds invalid sequences (and NUL), replaces them byte for byte, truncates on boundaries', () => {
    expect(findInvalidUtf8(Buffer.from('ok é 😀'))).toBeNull();
    expect(findInvalidUtf8(Buffer.from([0x61, 0xc3, 0x28]))).toEqual({ offset: 1, length: 1 });
    expect(findInvalidUtf8(Buffer.from([0x61, 0x00]))).toEqual({ offset: 1, length: 1 });
    expect(replaceInvalidUtf8(Buffer.from([0x61, 0xe2, 0x82, 0x62]), '?').toString()).toBe('a??b');
    expect(truncateUtf8(Buffer.from('ab😀'), 5).toString()).toBe('ab');
    expect(truncateUtf8(Buffer.from('ab😀'), 6).toString()).toBe('ab😀');
  });
});

describe('field conversion', () => {
  const f = (s: string, quoted = false) => ({ bytes: Buffer.from(s), raw: Buffer.from(quoted ? `"${s}"` : s), quoted });

  it("applies Redshift's NULL rules", () => {
    expect(convertField(f(''), vc(5), OPTS)).toEqual({ ok: true, value: '' });
    expect(convertField(f(''), vc(5), { ...OPTS, emptyAsNull: true })).toEqual({ ok: true, value: null });
    expect(convertField(f('', true), vc(5), { ...OPTS, emptyAsNull: true })).toEqual({ ok: true, value: '' });
    expect(convertField(f('\\N'), vc(5), OPTS)).toEqual({ ok: true, value: null });
    expect(convertField(f('\\N', true), vc(5), OPTS)).toEqual({ ok: true, value: null });
    expect(convertField(f(''), col('int4'), OPTS)).toEqual({ ok: true, value: null });
    expect(convertField(f(''), vc(5, true), { ...OPTS, emptyAsNull: true })).toEqual({ ok: false, error: { code: 1213, reason: 'Missing data for not-null field' } });
  });

  it('enforces byte lengths, truncating on request', () => {
    expect(convertField(f('éééé'), vc(8), OPTS)).toEqual({ ok: true, value: 'éééé' });
    expect(convertField(f('éééé1'), vc(8), OPTS)).toMatchObject({ ok: false, error: { code: 1204 } });
    expect(convertField(f('éééé1'), vc(8), { ...OPTS, truncateColumns: true })).toEqual({ ok: true, value: 'éééé' });
    expect(convertField(f('é'), col('bpchar', { length: 2 }), OPTS)).toMatchObject({ ok: false, error: { code: 1215 } });
  });

  it('validates numbers: invalid digits, overflow, decimal truncation or rounding', () => {
    expect(convertField(f('12a'), col('int4'), OPTS)).toMatchObject({ ok: false, error: { code: 1207 } });
    expect(convertField(f('2147483648'), col('int4'), OPTS)).toMatchObject({ ok: false, error: { code: 1222 } });
    const num = col('numeric', { numericPrecision: 5, numericScale: 2 });
    expect(convertField(f('1.999'), num, OPTS)).toEqual({ ok: true, value: '1.99' });
    expect(convertField(f('1.999'), num, { ...OPTS, roundec: true })).toEqual({ ok: true, value: '2.00' });
    expect(convertField(f('1234.5'), num, OPTS)).toMatchObject({ ok: false, error: { code: 1204 } });
    expect(convertField(f('x'), col('float8'), OPTS)).toMatchObject({ ok: false, error: { code: 1208 } });
    expect(convertField(f('maybe'), col('bool'), OPTS)).toMatchObject({ ok: false, error: { code: 1210 } });
    expect(convertField(f('{"a":'), col('jsonb', { isSuper: true }), OPTS)).toMatchObject({ ok: false, error: { code: 1224 } });
  });

  it('parses dates and timestamps (default formats strict, auto lenient)', () => {
    expect(parseDate('2020-02-29', false)).toBe('2020-02-29');
    expect(parseDate('2021-02-29', false)).toBeNull();
    expect(parseDate('2020/02/03', false)).toBeNull();
    expect(parseDate('2020/02/03', true)).toBe('2020-02-03');
    expect(parseDate('02/03/2020', true)).toBe('2020-02-03');
    expect(parseDate('3 Feb 2020', true)).toBe('2020-02-03');
    expect(parseTimestamp('2020-01-02 03:04:05', null, false)).toBe('2020-01-02 03:04:05');
    expect(parseTimestamp('2020-01-02T03:04:05', null, false)).toBeNull();
    expect(parseTimestamp('2020-01-02T03:04:05+01:00', 'auto', false)).toBe('2020-01-02 03:04:05');
    expect(parseTimestamp('2020-01-02T03:04:05+0100', 'auto', true)).toBe('2020-01-02 03:04:05+01:00');
    expect(parseTimestamp('1577934245', 'epochsecs', false)).toBe('2020-01-02 03:04:05.000');
  });

  it('records errors for column-count mismatches and builds Postgres COPY lines', () => {
    const errors: LoadErrorRow[] = [];
    const targets = [col('int4', { name: 'id' }), vc(10)];
    const [ok, extra, short] = [...parseRecords(Buffer.from('1,a\tb\\c\n2,x,y\n3\n'), CSV)];
    expect(convertRecord(ok!, targets, OPTS, false, 'f', errors)).toBe('1\ta\\tb\\\\c\n');
    expect(convertRecord(extra!, targets, OPTS, false, 'f', errors)).toBeNull();
    expect(convertRecord(short!, targets, OPTS, false, 'f', errors)).toBeNull();
    expect(convertRecord(short!, targets, OPTS, true, 'f', errors)).toBe('3\t\\N\n');
    expect(errors.map((e) => [e.line, e.code, e.colname])).toEqual([
      [2, 1202, ''],
      [3, 1214, 's'],
    ]);
    expect(pgCopyText('a\nb')).toBe('a\\nb');
  });
});
