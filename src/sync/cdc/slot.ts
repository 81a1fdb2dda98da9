import { createHash } from 'node:crypto';
import pg from 'pg';
import { qualify, quoteIdent } from '../../sql/quote.js';

/**
 * The source side of change capture: one logical replication slot (pgoutput) and one
 * publication per job, named after the job. Creating, inspecting, advancing and dropping
 * them, and the checks that turn what the source lacks into one line that names the fix.
 */
export class CdcSourceError extends Error {
  override name = 'CdcSourceError';
}

export interface CdcNames {
  slot: string;
  publication: string;
}

/**
 * `rl_<job>`: slot names may hold only lower-case letters, digits and underscores, at most
 * 63 bytes. A job name that had to be changed to fit gets a hash of the original, so two
 * jobs never share a slot.
 */
export function cdcNames(jobName: string): CdcNames {
  const clean = jobName.toLowerCase().replace(/[^a-z0-9_]+/g, '_');
  let name = `rl_${clean}`;
  if (clean !== jobName || name.length > 63) {
    const hash = createHash('sha256').update(jobName).digest('hex').slice(0, 8);
    name = `${name.slice(0, 63 - 9)}_${hash}`;
  }
  return { slot: name, publication: name };
}

/** The prefix of the marker message each run writes to find the end of its drain. */
export const MARKER_PREFIX = 'redshift-loader';

export interface SlotInfo {
  slot: string;
  database: string;
  plugin: string;
  active: boolean;
  activePid: number | null;
  restartLsn: string | null;
  confirmedFlushLsn: string | null;
  /** WAL the slot keeps on the source's disk (bytes from restart_lsn to the current position). */
  retainedBytes: number;
  /** WAL not yet confirmed (bytes from confirmed_flush_lsn to the current position). */
  pendingBytes: number;
  walStatus: string | null;
}

export async function inspectSlot(src: pg.ClientBase, slot: string): Promise<SlotInfo | null> {
  const r = await src.query<{
    database: string; plugin: string; active: boolean; active_pid: number | null; restart_lsn: string | null; confirmed_flush_lsn: string | null;
    retained: string | null; pending: string | null; wal_status: string | null;
  }>(
    `SELECT database, plugin, active, active_pid, restart_lsn::text, confirmed_flush_lsn::text,
            pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained,
            pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS pending, wal_status
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const x = r.rows[0];
  if (!x) return null;
  return {
    slot, database: x.database, plugin: x.plugin, active: x.active, activePid: x.active_pid, restartLsn: x.restart_lsn, confirmedFlushLsn: x.confirmed_flush_lsn,
    retainedBytes: Number(x.retained ?? 0), pendingBytes: Number(x.pending ?? 0), walStatus: x.wal_status,
  };
}

/**
 * What the source must allow before a slot can be created: wal_level = logical, a user with
 * REPLICATION (or a cloud's equivalent role), a free slot and a free WAL sender.
 */
export async function checkSource(src: pg.ClientBase, where: string, needSlot: boolean): Promise<void> {
  const r = await src.query<{ wal_level: string; user: string; can: boolean; rds: boolean; version: number; slots: number; used: number; senders: number }>(
    `SELECT current_setting('wal_level') AS wal_level, current_user AS user,
            (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can,
            EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication') AS rds,
            current_setting('server_version_num')::int AS version,
            current_setting('max_replication_slots')::int AS slots,
            (SELECT count(*)::int FROM pg_replication_slots) AS used,
            current_setting('max_wal_senders')::int AS senders`,
  );
  const x = r.rows[0]!;
  if (x.version < 140000) throw new CdcSourceError(`${where}: copy_mode CDC needs PostgreSQL 14 or later at the source (found server_version_num ${x.version})`);
  if (x.wal_level !== 'logical') {
    throw new CdcSourceError(
      `${where}: the source has wal_level = ${x.wal_level}; copy_mode CDC needs wal_level = logical: run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL (Amazon RDS/Aurora: set rds.logical_replication = 1 in the parameter group and reboot)`,
    );
  }
  let allowed = x.can;
  if (!allowed && x.rds) allowed = (await src.query<{ m: boolean }>(`SELECT pg_has_role(current_user, 'rds_replication', 'MEMBER') AS m`)).rows[0]!.m;
  if (!allowed) {
    throw new CdcSourceError(
      `${where}: the source user ${quoteIdent(x.user)} may not read the write-ahead log; copy_mode CDC needs the REPLICATION privilege: ALTER ROLE ${quoteIdent(x.user)} WITH REPLICATION (Amazon RDS/Aurora: GRANT rds_replication TO ${quoteIdent(x.user)})`,
    );
  }
  if (needSlot && x.used >= x.slots) {
    throw new CdcSourceError(
      `${where}: the source has no free replication slot (max_replication_slots = ${x.slots}, all in use); drop an unused one (SELECT slot_name, active FROM pg_replication_slots) or raise max_replication_slots and restart PostgreSQL`,
    );
  }
  if (x.senders < 1) throw new CdcSourceError(`${where}: the source has max_wal_senders = 0; copy_mode CDC needs at least one WAL sender per job: raise max_wal_senders and restart PostgreSQL`);
}

/** Turns a source error about slots into one line that says what to do. */
export function explainSourceError(err: unknown, where: string, slot: string): Error {
  const e = err as { message?: string; code?: string };
  const msg = e?.message ?? String(err);
  const active = /replication slot "[^"]*" is active for PID (\d+)/.exec(msg);
  if (active) {
    return new CdcSourceError(
      `${where}: replication slot "${slot}" is in use by another session (PID ${active[1]}): another worker or sync command is draining this job, or a foreign consumer reads the slot; only one reader at a time is possible. Wait for it to finish, or end it: SELECT pg_terminate_backend(${active[1]})`,
    );
  }
  if (/number of requested standby connections exceeds max_wal_senders|remaining connection slots are reserved/.test(msg)) {
    return new CdcSourceError(`${where}: the source has no free WAL sender (max_wal_senders): raise max_wal_senders and restart PostgreSQL, or stop another replication client (${msg})`);
  }
  if (/all replication slots are in use/.test(msg)) {
    return new CdcSourceError(`${where}: the source has no free replication slot: drop an unused one (SELECT slot_name, active FROM pg_replication_slots) or raise max_replication_slots and restart PostgreSQL`);
  }
  if (/must be superuser or replication role|permission denied to start WAL sender|must have the REPLICATION attribute/.test(msg)) {
    return new CdcSourceError(`${where}: the source user may not read the write-ahead log; grant it REPLICATION (ALTER ROLE ... WITH REPLICATION; Amazon RDS/Aurora: GRANT rds_replication TO ...) (${msg})`);
  }
  if (/logical decoding requires .*wal_level/.test(msg)) {
    return new CdcSourceError(`${where}: the source's wal_level is not logical: ALTER SYSTEM SET wal_level = logical and restart PostgreSQL (RDS/Aurora: rds.logical_replication = 1)`);
  }
  if (/replication slot "[^"]*" does not exist/.test(msg)) {
    return new CdcSourceError(`${where}: replication slot "${slot}" was dropped while this run used it; the next run creates it again and reloads the job's CDC tables`);
  }
  return err instanceof Error ? err : new Error(msg);
}

/**
 * The job's publication holds exactly `tables` (created when missing). Publishing a table
 * needs its ownership at the source.
 */
export async function ensurePublication(src: pg.ClientBase, publication: string, tables: ReadonlyArray<{ schema: string; name: string }>, where: string): Promise<void> {
  const list = tables.map((t) => qualify(t.schema, t.name)).join(', ');
  const exists = (await src.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [publication])).rowCount! > 0;
  try {
    if (!exists) {
      await src.query(tables.length ? `CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${list}` : `CREATE PUBLICATION ${quoteIdent(publication)}`);
      return;
    }
    const cur = await src.query<{ schemaname: string; tablename: string }>(`SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1`, [publication]);
    const want = new Set(tables.map((t) => `${t.schema}.${t.name}`));
    const have = new Set(cur.rows.map((r) => `${r.schemaname}.${r.tablename}`));
    if (want.size === have.size && [...want].every((t) => have.has(t))) return;
    if (tables.length) await src.query(`ALTER PUBLICATION ${quoteIdent(publication)} SET TABLE ${list}`);
    else for (const r of cur.rows) await src.query(`ALTER PUBLICATION ${quoteIdent(publication)} DROP TABLE ${qualify(r.schemaname, r.tablename)}`);
  } catch (err) {
    const msg = (err as Error).message;
    if (/must be owner of|permission denied/.test(msg)) {
      throw new CdcSourceError(`${where}: the source user cannot publish the job's tables (${msg}); CREATE PUBLICATION needs CREATE on the database and ownership of each table: run it as the tables' owner, or make the source user their owner`);
    }
    throw err;
  }
}

/** A replication session (pg's replication mode), in the loader's UTC, ISO session settings. */
export function replicationConfig(url: string, applicationName: string): pg.ClientConfig {
  return {
    connectionString: url,
    application_name: applicationName,
    // The text pgoutput sends is each type's output in this session: as the extract's COPY writes it.
    options: '-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=3',
  };
}

export interface CreatedSlot {
  consistentPoint: string;
  /** The exported snapshot: valid while `session` stays open and idle. */
  snapshot: string;
  session: pg.Client;
}

/**
 * Creates the slot on a replication session and exports its snapshot: the state of the
 * database exactly where the slot's stream begins. Keep `session` open (and send it
 * nothing) while the initial load reads that snapshot; then end it.
 */
export async function createSlot(url: string, slot: string, where: string): Promise<CreatedSlot> {
  const session = new pg.Client({ ...replicationConfig(url, 'redshift-loader cdc slot'), replication: 'database' } as pg.ClientConfig);
  session.on('error', () => undefined);
  try {
    await session.connect();
    const r = await session.query<{ consistent_point: string; snapshot_name: string }>(`CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput (SNAPSHOT 'export')`);
    const row = r.rows[0]!;
    return { consistentPoint: row.consistent_point, snapshot: row.snapshot_name, session };
  } catch (err) {
    await session.end().catch(() => undefined);
    throw explainSourceError(err, where, slot);
  }
}

/** Waits until no session holds the slot (a walsender that just lost its client ends within moments). */
export async function waitSlotInactive(src: pg.ClientBase, slot: string, where: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await inspectSlot(src, slot);
    if (!s || !s.active) return;
    if (Date.now() > end) throw explainSourceError(new Error(`replication slot "${slot}" is active for PID ${s.activePid}`), where, slot);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Confirms the slot up to `lsn` (the end of the last transaction applied in Redshift): the
 * source may then recycle the WAL before it. Never moves backwards.
 */
export async function confirmSlot(src: pg.ClientBase, slot: string, lsn: string, where: string): Promise<void> {
  await waitSlotInactive(src, slot, where);
  await src.query(`SELECT pg_replication_slot_advance($1, $2::pg_lsn) WHERE $2::pg_lsn > (SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1)`, [slot, lsn]).catch((e) => {
    throw explainSourceError(e, where, slot);
  });
}

/**
 * Writes a marker into the WAL (a transactional logical message, flushed): the run drains
 * everything committed before it. Returns the marker's LSN.
 */
export async function writeMarker(src: pg.ClientBase, content: string): Promise<string> {
  // READ WRITE: the source user may have default_transaction_read_only on (`grants` sets it).
  await src.query('BEGIN READ WRITE');
  try {
    await src.query(`SET LOCAL synchronous_commit = on`);
    const r = await src.query<{ lsn: string }>(`SELECT pg_logical_emit_message(true, $1, $2)::text AS lsn`, [MARKER_PREFIX, content]);
    await src.query('COMMIT');
    return r.rows[0]!.lsn;
  } catch (err) {
    await src.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Removes the job's slot and publication (what `cdc drop` does). Returns what was there. */
export async function dropSlotAndPublication(src: pg.ClientBase, names: CdcNames, where: string): Promise<{ slot: boolean; publication: boolean }> {
  const had = await inspectSlot(src, names.slot);
  if (had) {
    await waitSlotInactive(src, names.slot, where);
    await src.query(`SELECT pg_drop_replication_slot($1)`, [names.slot]).catch((e) => {
      throw explainSourceError(e, where, names.slot);
    });
  }
  const pub = (await src.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [names.publication])).rowCount! > 0;
  if (pub) await src.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(names.publication)}`);
  return { slot: !!had, publication: pub };
}

/** How a table's changes identify their row: 'd' primary key, 'i' an index, 'f' the whole row, 'n' nothing. */
export async function replicaIdentity(src: pg.ClientBase, schema: string, name: string): Promise<{ kind: string; columns: string[] }> {
  const r = await src.query<{ kind: string; columns: string[] | null }>(
    `SELECT c.relreplident AS kind,
            (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_index i JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
              WHERE i.indrelid = c.oid AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))) AS columns
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, name],
  );
  const x = r.rows[0];
  return { kind: x?.kind ?? 'n', columns: x?.columns ?? [] };
}
