import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import type { Logger } from '../../log.js';
import { CollapseError, TableBatch, type Value } from './collapse.js';
import { compareLsn, formatLsn, isApplied, lsnToBigInt, normalizeLsn, type Position } from './lsn.js';
import { explainSourceError, replicationConfig } from './slot.js';

/**
 * One bounded batch of the job's change stream, read with pg-logical-replication's
 * pgoutput client on a replication session of its own (opened per batch, closed before the
 * batch is applied: nothing is confirmed on it, so the slot moves only by `confirmSlot`
 * after Redshift has committed).
 *
 * The batch ends:
 * - at the run's marker (a transaction that committed after the run's marker message: the
 *   run has drained everything committed before it started), `caughtUp`;
 * - when it holds `maxRows` changes or `maxBytes` of values, possibly inside a transaction
 *   (the next batch resumes after the last change taken: `position`);
 * - before a change whose relation announces a column the plan does not know (`drift`).
 * Changes at or before `from` (applied by an earlier batch or run) are skipped.
 */
export interface StreamTable {
  /** schema.name at the source. */
  name: string;
  batch: TableBatch;
  /** Every source column the plan was made from (a column beyond them is schema drift). */
  knownColumns: ReadonlySet<string>;
}

export interface DrainOptions {
  sourceUrl: string;
  slot: string;
  publication: string;
  from: Position;
  /** LSN of this run's marker message and its content. */
  marker: { lsn: string; content: string };
  maxRows: number;
  maxBytes: number;
  /** Tables by schema.name; their batches are filled. */
  tables: Map<string, StreamTable>;
  /** The slot's confirmed position, sent back when the server asks for a status (never more). */
  confirmed: string;
  log: Logger;
  where: string;
  /** The longest one batch may take to read (0: no limit). */
  timeoutSeconds: number;
  /**
   * Test pause point (REDSHIFT_LOADER_TEST_PAUSE_AT=drain): called once the first change is
   * taken; the batch then never ends (the stream stays open) until the process is killed.
   */
  freezeAfterFirstChange?: () => void;
}

export interface DrainResult {
  /** Changes taken into the batches. */
  changes: number;
  bytes: number;
  /** The last change taken (or `from`). */
  position: Position;
  /** End LSN of the last whole transaction read (the slot may be confirmed up to it once applied). */
  confirmLsn: string | null;
  caughtUp: boolean;
  /** The table whose relation announced unknown columns (schema drift), if that ended the batch. */
  drift: { table: string; columns: string[] } | null;
}

/** pgoutput's text values as they come (the library would parse dates and numbers into JavaScript types). */
class TextPgoutputPlugin extends PgoutputPlugin {
  override parse(buffer: Buffer): Pgoutput.Message {
    const msg = super.parse(buffer);
    if (msg.tag === 'relation') for (const c of msg.columns) c.parser = (raw: unknown) => raw;
    return msg;
  }
}

type Row = Record<string, unknown> | null;

export async function drainBatch(o: DrainOptions): Promise<DrainResult> {
  const service = new LogicalReplicationService(replicationConfig(o.sourceUrl, 'redshift-loader cdc'), {
    // Never acknowledge on our own: the slot is confirmed only after Redshift has committed.
    acknowledge: { auto: false, timeoutSeconds: 0 },
  });
  const plugin = new TextPgoutputPlugin({ protoVersion: 1, publicationNames: [o.publication], messages: true });
  const res: DrainResult = { changes: 0, bytes: 0, position: o.from, confirmLsn: null, caughtUp: false, drift: null };
  const markerLsn = lsnToBigInt(o.marker.lsn);
  let txn: { lsn: string; index: number; afterMarker: boolean; taken: number } | null = null;
  let done = false;
  let firstSeen = false;
  let frozen = false;
  let resolveDone!: (err: unknown) => void;
  const finished = new Promise<unknown>((r) => (resolveDone = r));
  const stop = (err: unknown = null) => {
    if (done) return;
    done = true;
    resolveDone(err);
  };
  const full = () => res.changes >= o.maxRows || res.bytes >= o.maxBytes;

  // The columns each relation message announced (one per relation and session).
  const announced = new WeakMap<Pgoutput.MessageRelation, Set<string>>();
  const values = (t: StreamTable, rel: Pgoutput.MessageRelation, row: Row): Value[] => {
    let present = announced.get(rel);
    if (!present) announced.set(rel, (present = new Set(rel.columns.map((c) => c.name))));
    return t.batch.spec.columns.map((c) => {
      if (!present.has(c) || !row) return null;
      const v = row[c];
      if (v === undefined) return undefined;
      if (v === null) return null;
      res.bytes += (v as string).length;
      return v as string;
    });
  };

  const onData = (_lsn: string, msg: Pgoutput.Message) => {
    if (done || frozen) return;
    switch (msg.tag) {
      case 'begin': {
        const lsn = normalizeLsn(msg.commitLsn!);
        // pg_logical_emit_message returns the end of its record: the marker transaction commits at or after it.
        txn = { lsn, index: 0, afterMarker: lsnToBigInt(lsn) >= markerLsn, taken: 0 };
        return;
      }
      case 'commit': {
        if (!txn) return;
        const t: { lsn: string; afterMarker: boolean; taken: number } = txn;
        txn = null;
        res.confirmLsn = msg.commitEndLsn ? normalizeLsn(msg.commitEndLsn) : res.confirmLsn;
        if (compareLsn(t.lsn, res.position.lsn) > 0) res.position = { lsn: t.lsn, changes: -1 };
        if (t.afterMarker) {
          // The marker's own transaction (or one with no change for us) after the run began: caught up.
          res.caughtUp = true;
          return stop();
        }
        if (full()) return stop();
        return;
      }
      case 'insert':
      case 'update':
      case 'delete':
      case 'truncate': {
        if (!txn) return;
        const cur: { lsn: string; index: number; afterMarker: boolean; taken: number } = txn;
        if (cur.afterMarker) {
          // A change committed after this run began: the next run takes it.
          res.caughtUp = true;
          return stop();
        }
        cur.index++;
        if (isApplied(o.from, cur.lsn, cur.index)) return;
        if (msg.tag === 'truncate') {
          for (const rel of msg.relations) o.tables.get(`${rel.schema}.${rel.name}`)?.batch.truncate();
        } else {
          const t = o.tables.get(`${msg.relation.schema}.${msg.relation.name}`);
          if (t) {
            const unknown = msg.relation.columns.filter((c) => !t.knownColumns.has(c.name));
            if (unknown.length > 0) {
              cur.index--;
              res.drift = { table: t.name, columns: unknown.map((c) => c.name) };
              return stop();
            }
            if (msg.tag === 'insert') t.batch.insert(values(t, msg.relation, msg.new));
            else if (msg.tag === 'delete') t.batch.delete(values(t, msg.relation, msg.old ?? msg.key));
            else {
              const old = msg.old ?? msg.key;
              t.batch.update(old ? values(t, msg.relation, old) : null, values(t, msg.relation, msg.new));
            }
          }
        }
        res.changes++;
        cur.taken++;
        res.position = { lsn: cur.lsn, changes: cur.index };
        if (!firstSeen && o.freezeAfterFirstChange) {
          firstSeen = true;
          frozen = true;
          o.freezeAfterFirstChange();
          return;
        }
        if (full()) stop();
        return;
      }
      default:
        return; // relation, type, origin, message: the parser keeps what it needs
    }
  };

  service.on('data', (lsn: string, msg: Pgoutput.Message) => {
    try {
      onData(lsn, msg);
    } catch (err) {
      stop(err);
    }
  });
  service.on('heartbeat', (_lsn: string, _ts: number, shouldRespond: boolean) => {
    // The server asks for a status: report the slot's confirmed position, nothing newer
    // (the library reports LSN + 1, hence one less).
    const confirmed = lsnToBigInt(o.confirmed);
    if (shouldRespond && confirmed > 0n) void service.acknowledge(formatLsn(confirmed - 1n)).catch(() => undefined);
  });
  service.on('error', (err: Error) => stop(err));
  const subscribed = service.subscribe(plugin, o.slot).then(
    () => stop(new Error('the source ended the replication stream')),
    (err: unknown) => stop(err),
  );
  // BATCH_TIMEOUT_SECONDS: a source that stops sending becomes an error naming the slot.
  const deadline = o.timeoutSeconds > 0
    ? setTimeout(() => stop(new Error(`${o.where}: reading a batch from replication slot "${o.slot}" did not finish within ${o.timeoutSeconds} s (BATCH_TIMEOUT_SECONDS); nothing of it was applied`)), o.timeoutSeconds * 1000)
    : undefined;
  const err = await finished;
  clearTimeout(deadline);
  o.log.trace({ err: err ? String(err) : null, changes: res.changes, caughtUp: res.caughtUp }, 'cdc stream batch read');
  // Close the replication session at once: its socket is destroyed (a polite end() waits on
  // the server's COPY mode), the walsender sees the client gone and releases the slot.
  const client = (service as unknown as { _client?: { connection?: { stream?: { destroy(): void } } } })._client;
  client?.connection?.stream?.destroy();
  await subscribed.catch(() => undefined);
  o.log.trace('cdc stream closed');
  if (err) {
    if (err instanceof CollapseError) throw err;
    throw explainSourceError(err, o.where, o.slot);
  }
  return res;
}
