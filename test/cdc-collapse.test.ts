import { describe, expect, it } from 'vitest';
import { CollapseError, TableBatch, csvFields, parseCsvFields } from '../src/sync/cdc/collapse.js';
import { compareLsn, formatLsn, isApplied, lsnToBigInt, normalizeLsn } from '../src/sync/cdc/lsn.js';
import { cdcNames } from '../src/sync/cdc/slot.js';

/** The staged lines read back as values (marker columns last). */
const rows = (b: TableBatch) => [...b.lines()].map((l) => parseCsvFields(l.slice(0, -1)));

describe('CDC: collapsing a batch per key (pure)', () => {
  const spec = { columns: ['id', 'body', 'n'], key: [0] };
  it('keeps the last operation per key: insert, update, delete, insert again', () => {
    const b = new TableBatch(spec);
    b.insert(['1', 'a', '0']);
    b.update(null, ['1', 'b', '1']);
    b.insert(['2', 'x', '0']);
    b.delete(['2', null, null]);
    b.delete(['3', null, null]);
    b.insert(['3', 'again', '5']);
    expect(rows(b)).toEqual([
      ['1', 'b', '1', 'U', null],
      ['2', null, null, 'D', null],
      ['3', 'again', '5', 'U', null],
    ]);
    expect(b.changes).toBe(6);
  });
  it('an unchanged TOAST value is taken from an earlier change of the batch, else left to the target', () => {
    const b = new TableBatch(spec);
    b.insert(['1', 'long', '0']);
    b.update(null, ['1', undefined, '1']);
    b.update(null, ['2', undefined, '1']);
    expect(rows(b)).toEqual([
      ['1', 'long', '1', 'U', null],
      ['2', null, '1', 'U', ',1,'],
    ]);
    expect(b.unchangedPositions()).toEqual([1]);
  });
  it('a key change deletes the old key; with an unchanged TOAST value it cannot be applied and says why', () => {
    const b = new TableBatch(spec);
    b.update(['1', null, null], ['9', 'v', '1']);
    expect(rows(b).map((r) => [r[0], r[3]])).toEqual([['1', 'D'], ['9', 'U']]);
    expect(() => b.update(['4', null, null], ['5', undefined, '1'])).toThrow(CollapseError);
  });
  it('TRUNCATE forgets what came before it in the batch', () => {
    const b = new TableBatch(spec);
    b.insert(['1', 'a', '0']);
    b.truncate();
    b.insert(['2', 'b', '0']);
    expect(b.truncated).toBe(true);
    expect(rows(b)).toEqual([['2', 'b', '0', 'U', null]]);
  });
  it('without a key: net counts per row image, so duplicates stay exact', () => {
    const b = new TableBatch({ columns: ['a', 'b'], key: [] });
    b.delete(['1', 'x']);
    b.insert(['2', null]);
    b.insert(['2', null]);
    b.update(['3', 'y'], ['3', 'z']);
    b.insert(['4', 'w']);
    b.delete(['4', 'w']);
    expect(rows(b)).toEqual([
      ['1', 'x', '-1', '1'],
      ['2', null, '1', '2'],
      ['2', null, '1', '2'],
      ['3', 'y', '-1', '3'],
      ['3', 'z', '1', '4'],
    ]);
    expect(b.rowCount).toBe(5);
  });
});

describe('CDC: positions, names, CSV (pure)', () => {
  it('LSNs compare as 64-bit numbers, whatever their padding', () => {
    expect(normalizeLsn('00000000/02EE5F20')).toBe('0/2EE5F20');
    expect(compareLsn('0/FFFFFFFF', '1/0')).toBe(-1);
    expect(formatLsn(lsnToBigInt('1A/2B'))).toBe('1A/2B');
    expect(() => lsnToBigInt('x')).toThrow(/not a WAL position/);
  });
  it('a change is applied when its transaction committed earlier, or it is among the applied changes of the same one', () => {
    expect(isApplied({ lsn: '0/100', changes: -1 }, '0/FF', 9)).toBe(true);
    expect(isApplied({ lsn: '0/100', changes: -1 }, '0/100', 9)).toBe(true);
    expect(isApplied({ lsn: '0/100', changes: 3 }, '0/100', 3)).toBe(true);
    expect(isApplied({ lsn: '0/100', changes: 3 }, '0/100', 4)).toBe(false);
    expect(isApplied({ lsn: '0/100', changes: -1 }, '0/101', 1)).toBe(false);
  });
  it('slot and publication names come from the job name; a name that had to change gets a hash', () => {
    expect(cdcNames('shop')).toEqual({ slot: 'rl_shop', publication: 'rl_shop' });
    const odd = cdcNames('Shop-EU');
    expect(odd.slot).toMatch(/^rl_shop_eu_[0-9a-f]{8}$/);
    expect(cdcNames('shop_eu').slot).not.toBe(odd.slot);
    expect(cdcNames('x'.repeat(100)).slot.length).toBeLessThanOrEqual(63);
  });
  it('CSV in the loader dialect: every value quoted, NULL as the bare sentinel', () => {
    const values = ['a"b', null, '', 'x,y\nz', '__RL_NULL__x', '"'];
    expect(csvFields(values)).toBe('"a""b",__RL_NULL__,"","x,y\nz","__RL_NULL__x",""""');
    expect(parseCsvFields(csvFields(values))).toEqual(values);
  });
});
