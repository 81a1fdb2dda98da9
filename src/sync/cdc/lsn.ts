/**
 * WAL positions (`X/Y`, two 32-bit hex halves) and the position of a change in the stream.
 * Pure.
 */
export function lsnToBigInt(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn.trim());
  if (!m) throw new Error(`not a WAL position: ${JSON.stringify(lsn)}`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

export function formatLsn(n: bigint): string {
  if (n < 0n) throw new Error('negative WAL position');
  return `${(n >> 32n).toString(16).toUpperCase()}/${(n & 0xffffffffn).toString(16).toUpperCase()}`;
}

export const normalizeLsn = (lsn: string): string => formatLsn(lsnToBigInt(lsn));

export function compareLsn(a: string, b: string): number {
  const x = lsnToBigInt(a);
  const y = lsnToBigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A change's place in the stream: transactions arrive in commit order, each identified by
 * its commit LSN, and a change by its ordinal within its transaction (deterministic when
 * the transaction is decoded again; LSNs are not: one COPY writes many rows in one record).
 * `changes` = -1: the whole transaction.
 */
export interface Position {
  lsn: string;
  changes: number;
}

export const STREAM_START: Position = { lsn: '0/0', changes: -1 };

/** Whether change `index` (1-based) of the transaction committed at `txnLsn` is at or before `pos`. */
export function isApplied(pos: Position, txnLsn: string, index: number): boolean {
  const c = compareLsn(txnLsn, pos.lsn);
  if (c !== 0) return c < 0;
  return pos.changes === -1 || index <= pos.changes;
}

export function samePosition(a: Position, b: Position): boolean {
  return compareLsn(a.lsn, b.lsn) === 0 && a.changes === b.changes;
}

export const showPosition = (p: Position) => (p.changes === -1 ? `${p.lsn}` : `${p.lsn} (change ${p.changes})`);
