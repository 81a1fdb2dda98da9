import { randomInt } from 'node:crypto';
import type net from 'node:net';
import type { S3Client } from '@aws-sdk/client-s3';
import type { CommandContext, QueryResult } from './context.js';
import { RsError, translateError } from './errors.js';
import type { DoubleFlavor } from './index.js';
import {
  be,
  CANCEL_REQUEST,
  decodeBindNames,
  decodeDataRow,
  decodeExecute,
  decodeFields,
  decodeParse,
  decodeQuery,
  decodeRowDescription,
  decodeTarget,
  fe,
  FrameReader,
  GSSENC_REQUEST,
  parseStartupParams,
  PROTOCOL_3,
  readStartupPacket,
  SSL_REQUEST,
  type Frame,
} from './protocol.js';
import { CASE_SETTING, classify, COLLATION_SETTING, ISOLATION_SETTING, type Command, type SessionValues } from './rewrite.js';
import { splitStatements } from './sql-lexer.js';
import { commandColumns, readCaseSetting, runCommand, userCaseDefaultSql } from './statements.js';
import { sendUpstreamCancel, Upstream, UpstreamError, type UpstreamTarget } from './upstream.js';

/** What the server gives each session. */
export interface SessionDeps {
  flavor: DoubleFlavor;
  upstream: Omit<UpstreamTarget, never>;
  s3: S3Client;
  sideQuery(database: string, sql: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  ensureInstalled(database: string): Promise<void>;
  register(session: Session): void;
  unregister(session: Session): void;
  cancel(pid: number, secret: number): void;
  log(msg: string, err?: unknown): void;
}

/**
 * Expected upstream responses for messages forwarded but not yet answered:
 * extended-protocol messages one by one, a simple query up to its ReadyForQuery
 * ('query' forwards it, 'querySub' swallows it: one statement of a split query string).
 */
type Expect = 'parse' | 'bind' | 'describeS' | 'describeRow' | 'describeP' | 'execute' | 'close' | 'sync' | 'query' | 'querySub';

/**
 * One client connection: the startup handshake, then every client message either
 * forwarded to the client's own upstream Postgres session (with the SQL rewritten) or
 * handled by the double (COPY, UNLOAD, DDL, ...), which talks to the same upstream
 * session through internal queries once the forwarded traffic has drained.
 */
export class Session {
  readonly pid = randomInt(10_000, 2 ** 31 - 1);
  readonly secret = randomInt(0, 2 ** 31 - 1);
  database = '';
  private phase: 'startup' | 'auth' | 'ready' | 'closed' = 'startup';
  private startupBuf = Buffer.alloc(0);
  private reader = new FrameReader();
  private up: Upstream | null = null;
  private clientParams = new Map<string, string>();
  private queue: Frame[] = [];
  private processing = false;
  private pending: Expect[] = [];
  private drainWaiters: Array<() => void> = [];
  private internal: ((f: Frame) => void) | null = null;
  private txStatus = 'I';
  private skipping = false;
  private subFailed = false;
  private stmts = new Map<string, Command>();
  private portals = new Map<string, Command>();
  private cancelFlag = false;
  /**
   * The upstream CancelRequest still in flight. The next message waits for it: when the
   * double stops its own work first, a late upstream cancel must not hit the next query.
   */
  private pendingCancel: Promise<void> | null = null;
  private statementId = 0;
  /** A statement may have changed enable_case_sensitive_identifier inside a transaction: re-read it when the transaction ends. */
  private caseTouched = false;
  readonly values: SessionValues = { lastCopyId: -1, lastCopyCount: 0, caseSensitiveIdentifiers: false, caseSensitiveIdentifiersDefault: false };

  constructor(
    private readonly client: net.Socket,
    private readonly deps: SessionDeps,
  ) {
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    client.on('error', () => undefined);
    client.on('close', () => this.close());
  }

  close(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.deps.unregister(this);
    this.up?.close();
    this.client.destroy();
    for (const w of this.drainWaiters.splice(0)) w();
    this.internal?.({ type: 'Z', payload: Buffer.from('I'), raw: Buffer.alloc(0) });
  }

  /** A CancelRequest for this session: stop the double's own work and cancel upstream. */
  cancel(): void {
    this.cancelFlag = true;
    if (this.up) this.pendingCancel = sendUpstreamCancel(this.deps.upstream, this.up.pid, this.up.secret);
  }

  private write(buf: Buffer): void {
    if (this.phase !== 'closed') this.client.write(buf);
  }

  private fatal(fields: Record<string, string>): void {
    this.write(be.error({ S: 'FATAL', V: 'FATAL', ...fields }));
    this.client.end();
    this.close();
  }

  // ---- startup ----------------------------------------------------------------------

  private onClientData(chunk: Buffer): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'startup') {
      this.startupBuf = Buffer.concat([this.startupBuf, chunk]);
      for (;;) {
        let r: ReturnType<typeof readStartupPacket>;
        try {
          r = readStartupPacket(this.startupBuf);
        } catch {
          return this.close();
        }
        if (!r) return;
        this.startupBuf = Buffer.from(r.rest);
        const code = r.packet.readInt32BE(4);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.write(Buffer.from('N'));
          continue;
        }
        if (code === CANCEL_REQUEST) {
          this.deps.cancel(r.packet.readInt32BE(8), r.packet.readInt32BE(12));
          this.client.end();
          return this.close();
        }
        if (code !== PROTOCOL_3) return this.fatal({ C: '0A000', M: `unsupported frontend protocol ${code >> 16}.${code & 0xffff}` });
        this.clientParams = parseStartupParams(r.packet);
        this.database = this.clientParams.get('database') || this.clientParams.get('user') || '';
        this.phase = 'auth';
        this.write(be.authCleartext());
        chunk = this.startupBuf;
        this.startupBuf = Buffer.alloc(0);
        break;
      }
      if (!chunk.length) return;
    }
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch {
      return this.close();
    }
    for (const f of frames) {
      if (this.phase === 'auth') {
        if (f.type !== 'p') return this.fatal({ C: '08P01', M: 'expected password response' });
        this.phase = 'ready';
        void this.openUpstream();
        continue;
      }
      this.queue.push(f);
    }
    if (this.phase === 'ready' && this.up) void this.pump();
  }

  /** Any user and password are accepted; the upstream session uses the admin credentials. */
  private async openUpstream(): Promise<void> {
    const params = new Map<string, string>();
    for (const [k, v] of this.clientParams) if (k !== 'user' && k !== 'database' && k !== 'replication') params.set(k, v);
    params.set('database', this.database);
    if (!params.has('TimeZone')) params.set('TimeZone', 'UTC');
    if (!params.has('DateStyle')) params.set('DateStyle', 'ISO, MDY');
    // Redshift processes backslash escapes in string literals.
    params.set('standard_conforming_strings', 'off');
    params.set('escape_string_warning', 'off');
    // Provisioned: SERIALIZABLE; Serverless: SNAPSHOT (REPEATABLE READ); a database made with
    // CREATE DATABASE ... ISOLATION LEVEL says which (c_serial_isolation.html, r_CREATE_DATABASE.html).
    const defaults = await this.sessionDefaults();
    params.set('default_transaction_isolation', defaults.isolation === 'snapshot' ? 'repeatable read' : 'serializable');
    params.set('rsdbl.flavor', this.deps.flavor);
    // the session's reset value of enable_case_sensitive_identifier: the client user's default
    // (a startup parameter wins over any role setting of the upstream admin user)
    params.set(CASE_SETTING, defaults.caseSensitive ? 'on' : 'off');
    this.values.caseSensitiveIdentifiersDefault = defaults.caseSensitive;
    this.values.caseSensitiveIdentifiers = defaults.caseSensitive;
    this.values.databaseCaseInsensitive = defaults.caseInsensitiveDatabase;
    let up: Upstream | null = null;
    try {
      up = await Upstream.connect(this.deps.upstream, params);
      if (this.phase === 'closed') return up.close();
      await this.deps.ensureInstalled(this.database);
      this.up = up;
      up.onFrame = (frames) => this.onUpstream(frames);
      up.onClose = () => this.close();
    } catch (err) {
      up?.close();
      if (err instanceof UpstreamError) return this.fatal(translateError(err.fields));
      this.deps.log('upstream connection failed', err);
      return this.fatal({ C: '08006', M: `could not connect to the Redshift double's upstream: ${(err as Error).message}` });
    }
    this.deps.register(this);
    const out = [be.authOk()];
    for (const [k, v] of this.up.parameters) out.push(be.parameterStatus(k, v));
    out.push(be.backendKeyData(this.pid, this.secret), be.readyForQuery('I'));
    this.write(Buffer.concat(out));
    void this.pump();
  }

  /**
   * Read through the side pool before the upstream session opens: the database's ISOLATION
   * LEVEL and COLLATE (database-level settings the double's CREATE DATABASE wrote, else the
   * flavour's defaults) and the client user's `ALTER USER ... SET enable_case_sensitive_identifier`.
   */
  private async sessionDefaults(): Promise<{ isolation: 'snapshot' | 'serializable'; caseSensitive: boolean; caseInsensitiveDatabase: boolean }> {
    const out = { isolation: (this.deps.flavor === 'serverless' ? 'snapshot' : 'serializable') as 'snapshot' | 'serializable', caseSensitive: false, caseInsensitiveDatabase: false };
    try {
      const user = this.clientParams.get('user') ?? '';
      const [r] = await this.deps.sideQuery(
        this.database,
        `SELECT current_setting($1, true) AS iso, current_setting($2, true) AS coll, (${userCaseDefaultSql(user)}) AS ecsi`,
        [ISOLATION_SETTING, COLLATION_SETTING],
      );
      if (r?.iso === 'snapshot' || r?.iso === 'serializable') out.isolation = r.iso;
      out.caseInsensitiveDatabase = r?.coll === 'case_insensitive';
      out.caseSensitive = r?.ecsi === 'on';
    } catch {
      // a missing database: the upstream connection reports it
    }
    return out;
  }

  /** After a transaction in which the setting changed ends (COMMIT, ROLLBACK, SET LOCAL), read it again. */
  private async resyncSettings(): Promise<void> {
    if (!this.caseTouched) return;
    await this.drain();
    if (this.txStatus !== 'I' || this.phase !== 'ready') return;
    this.caseTouched = false;
    await readCaseSetting({ query: (sql) => this.internalQuery(sql), values: this.values });
  }

  // ---- upstream responses -----------------------------------------------------------

  private onUpstream(frames: Frame[]): void {
    const out: Buffer[] = [];
    for (const f of frames) {
      if (this.internal) {
        this.internal(f);
        continue;
      }
      const head = this.pending[0];
      let forward: Buffer | null = f.raw;
      switch (f.type) {
        case '1':
          if (head === 'parse') this.pending.shift();
          break;
        case '2':
          if (head === 'bind') this.pending.shift();
          break;
        case 't':
          if (head === 'describeS') this.pending[0] = 'describeRow';
          break;
        case 'T':
        case 'n':
          if (head === 'describeRow' || head === 'describeP') this.pending.shift();
          break;
        case 'C':
        case 'I':
        case 's':
          if (head === 'execute') this.pending.shift();
          break;
        case '3':
          if (head === 'close') this.pending.shift();
          break;
        case 'E': {
          forward = be.error(translateError(decodeFields(f.payload), this.statementId, this.pid));
          if (head === 'querySub') this.subFailed = true;
          const extended = head !== undefined && head !== 'query' && head !== 'querySub' && head !== 'sync';
          while (this.pending.length && !['sync', 'query', 'querySub'].includes(this.pending[0]!)) this.pending.shift();
          if (extended && !this.pending.includes('sync')) this.skipping = true;
          break;
        }
        case 'Z':
          this.txStatus = String.fromCharCode(f.payload[0]!);
          if (head === 'querySub') forward = null;
          if (head === 'sync' || head === 'query' || head === 'querySub') this.pending.shift();
          break;
        case 'G':
          // COPY FROM STDIN is refused before it reaches upstream; never let one hang.
          this.up?.send(fe.copyFail('COPY FROM STDIN is not supported'));
          forward = null;
          break;
      }
      if (forward) out.push(forward);
    }
    if (out.length) this.write(out.length === 1 ? out[0]! : Buffer.concat(out));
    if (this.pending.length === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Waits until every forwarded message has been answered. */
  private async drain(): Promise<void> {
    if (this.pending.length === 0 || this.phase === 'closed') return;
    this.up!.send(fe.flush());
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  private forward(buf: Buffer, expect?: Expect): void {
    if (expect) this.pending.push(expect);
    this.up!.send(buf);
  }

  // ---- internal queries on the client's upstream session ---------------------------

  private internalQuery(sql: string): Promise<QueryResult> {
    if (this.phase === 'closed') return Promise.reject(new RsError('connection closed', '08006'));
    return new Promise((resolve, reject) => {
      const result: QueryResult = { fields: [], rows: [], tags: [] };
      let error: UpstreamError | null = null;
      this.internal = (f) => {
        switch (f.type) {
          case 'T':
            result.fields = decodeRowDescription(f.payload);
            break;
          case 'D':
            result.rows.push(decodeDataRow(f.payload));
            break;
          case 'C':
            result.tags.push(f.payload.toString('utf8', 0, f.payload.length - 1));
            break;
          case 'E':
            error ??= new UpstreamError(decodeFields(f.payload));
            break;
          case 'G':
            this.up?.send(fe.copyFail('unexpected COPY'));
            break;
          case 'Z':
            this.internal = null;
            if (f.raw.length) this.txStatus = String.fromCharCode(f.payload[0]!);
            if (this.phase === 'closed') reject(new RsError('connection closed', '08006'));
            else if (error) reject(error);
            else resolve(result);
            break;
        }
      };
      this.up!.send(fe.query(sql));
    });
  }

  private copyIn(sql: string, produce: (send: (chunk: Buffer) => void) => Promise<void>): Promise<number> {
    return new Promise((resolve, reject) => {
      let error: UpstreamError | null = null;
      let count = 0;
      let started: (() => void) | null = null;
      const startedP = new Promise<void>((r) => (started = r));
      let done: (() => void) | null = null;
      const doneP = new Promise<void>((r) => (done = r));
      this.internal = (f) => {
        switch (f.type) {
          case 'G':
            started?.();
            break;
          case 'E':
            error ??= new UpstreamError(decodeFields(f.payload));
            started?.();
            break;
          case 'C': {
            const m = /COPY (\d+)/.exec(f.payload.toString('utf8'));
            if (m) count = Number(m[1]);
            break;
          }
          case 'Z':
            this.internal = null;
            if (f.raw.length) this.txStatus = String.fromCharCode(f.payload[0]!);
            started?.();
            done?.();
            break;
        }
      };
      this.up!.send(fe.query(sql));
      void (async () => {
        await startedP;
        if (error || this.phase === 'closed') {
          await doneP;
          return reject(error ?? new RsError('connection closed', '08006'));
        }
        let produceErr: unknown = null;
        try {
          await produce((chunk) => {
            if (error) throw error;
            this.up!.send(fe.copyData(chunk));
          });
        } catch (e) {
          produceErr = e;
        }
        if (produceErr) {
          if (!error) this.up!.send(fe.copyFail((produceErr as Error).message ?? 'load failed'));
          else this.up!.send(fe.copyDone());
          await doneP;
          return reject(produceErr);
        }
        this.up!.send(fe.copyDone());
        await doneP;
        if (error) reject(error);
        else resolve(count);
      })();
    });
  }

  private context(): CommandContext {
    return {
      database: this.database,
      serverless: this.deps.flavor === 'serverless',
      sessionPid: this.pid,
      query: (sql) => this.internalQuery(sql),
      copyIn: (sql, produce) => this.copyIn(sql, produce),
      txStatus: () => this.txStatus,
      sideQuery: (sql, params) => this.deps.sideQuery(this.database, sql, params),
      s3: this.deps.s3,
      values: this.values,
      notice: (message, severity = 'INFO') => this.write(be.notice({ S: severity, V: severity, C: '00000', M: message })),
      cancelled: () => this.cancelFlag,
    };
  }

  // ---- client messages --------------------------------------------------------------

  private async pump(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.queue.length && this.phase === 'ready') {
        const f = this.queue.shift()!;
        if (this.pendingCancel) {
          await this.pendingCancel;
          this.pendingCancel = null;
        }
        try {
          await this.resyncSettings();
          await this.handle(f);
        } catch (err) {
          this.deps.log('session error', err);
          await this.sendError(err).catch(() => undefined);
          if (f.type === 'Q') this.write(be.readyForQuery(this.txStatus));
        }
      }
    } finally {
      this.processing = false;
    }
  }

  private async handle(f: Frame): Promise<void> {
    switch (f.type) {
      case 'Q':
        return this.simpleQuery(decodeQuery(f.payload));
      case 'P':
        return this.onParse(f);
      case 'B':
        return this.onBind(f);
      case 'D':
        return this.onDescribe(f);
      case 'E':
        return this.onExecute(f);
      case 'C':
        return this.onClose(f);
      case 'H':
        if (!this.skipping) this.forward(f.raw);
        return;
      case 'S':
        this.skipping = false;
        this.forward(f.raw, 'sync');
        return;
      case 'F':
        this.forward(f.raw, 'query');
        return;
      case 'X':
        return this.close();
      default:
        // CopyData/CopyDone/CopyFail outside COPY, stray password messages: ignored
        return;
    }
  }

  private async sendError(err: unknown): Promise<void> {
    if (err instanceof UpstreamError) {
      this.write(be.error(translateError(err.fields, this.statementId, this.pid)));
      return;
    }
    const rs = err instanceof RsError ? err : new RsError(`internal error in the Redshift double: ${(err as Error)?.message ?? String(err)}`, 'XX000');
    if (!(err instanceof RsError)) this.deps.log('internal error', err);
    // Like any Redshift error, this one aborts an open transaction block.
    if (this.txStatus === 'T') {
      await this.drain();
      await this.internalQuery(`DO $rsdbl$ BEGIN RAISE EXCEPTION 'statement failed in the Redshift double'; END $rsdbl$`).catch(() => undefined);
    }
    this.write(be.error(rs.fields()));
  }

  private async runIntercepted(cmd: Command, describe = true): Promise<boolean> {
    this.cancelFlag = false;
    this.statementId++;
    try {
      if (cmd.kind === 'setCaseSensitive') this.caseTouched = true;
      const r = await runCommand(this.context(), cmd);
      if (r.rows) {
        if (describe) this.write(be.rowDescriptionText(r.rows.columns));
        for (const row of r.rows.values) this.write(be.dataRow(row));
      }
      this.write(be.commandComplete(r.tag));
      return true;
    } catch (err) {
      await this.sendError(err);
      return false;
    }
  }

  private async simpleQuery(sql: string): Promise<void> {
    this.statementId++;
    let stmts: string[];
    let classified: ReturnType<typeof classify>[];
    try {
      stmts = splitStatements(sql);
      classified = stmts.map((s) => classify(s, this.values));
    } catch (err) {
      await this.drain();
      await this.sendError(err);
      this.write(be.readyForQuery(this.txStatus));
      return;
    }
    if (classified.some((c) => c.kind === 'pass' && c.settings)) this.caseTouched = true;
    if (stmts.length === 0 || classified.every((c) => c.kind === 'pass')) {
      const text = stmts.length === 0 ? sql : classified.map((c) => (c.kind === 'pass' ? c.sql : '')).join(';\n');
      this.forward(fe.query(text), 'query');
      return;
    }
    await this.drain();
    for (let i = 0; i < stmts.length; i++) {
      let c: ReturnType<typeof classify>;
      try {
        c = classify(stmts[i]!, this.values); // again: pg_last_copy_id() may have changed
      } catch (err) {
        await this.sendError(err);
        break;
      }
      if (c.kind === 'pass') {
        this.subFailed = false;
        this.forward(fe.query(c.sql), 'querySub');
        await this.drain();
        if (this.subFailed) break;
      } else if (!(await this.runIntercepted(c.command))) break;
    }
    this.write(be.readyForQuery(this.txStatus));
  }

  // ---- extended protocol -----------------------------------------------------------

  private async localError(err: unknown): Promise<void> {
    await this.drain();
    await this.sendError(err);
    this.skipping = true;
  }

  private async onParse(f: Frame): Promise<void> {
    if (this.skipping) return;
    const msg = decodeParse(f.payload);
    let c: ReturnType<typeof classify>;
    try {
      c = classify(msg.query, this.values);
    } catch (err) {
      return this.localError(err);
    }
    if (c.kind === 'pass') {
      if (c.settings) this.caseTouched = true;
      this.stmts.delete(msg.name);
      this.forward(c.sql === msg.query ? f.raw : fe.parse({ ...msg, query: c.sql }), 'parse');
      return;
    }
    await this.drain();
    this.stmts.set(msg.name, c.command);
    this.write(be.parseComplete());
  }

  private async onBind(f: Frame): Promise<void> {
    if (this.skipping) return;
    const { portal, statement } = decodeBindNames(f.payload);
    const cmd = this.stmts.get(statement);
    if (!cmd) {
      this.portals.delete(portal);
      this.forward(f.raw, 'bind');
      return;
    }
    await this.drain();
    this.portals.set(portal, cmd);
    this.write(be.bindComplete());
  }

  private async onDescribe(f: Frame): Promise<void> {
    if (this.skipping) return;
    const { kind, name } = decodeTarget(f.payload);
    const cmd = kind === 'S' ? this.stmts.get(name) : this.portals.get(name);
    if (!cmd) {
      this.forward(f.raw, kind === 'S' ? 'describeS' : 'describeP');
      return;
    }
    await this.drain();
    const columns = commandColumns(cmd);
    const shape = columns ? be.rowDescriptionText(columns) : be.noData();
    this.write(kind === 'S' ? Buffer.concat([be.parameterDescription([]), shape]) : shape);
  }

  private async onExecute(f: Frame): Promise<void> {
    if (this.skipping) return;
    const { portal } = decodeExecute(f.payload);
    const cmd = this.portals.get(portal);
    if (!cmd) {
      this.statementId++;
      this.forward(f.raw, 'execute');
      return;
    }
    await this.drain();
    if (!(await this.runIntercepted(cmd, false))) this.skipping = true;
  }

  private async onClose(f: Frame): Promise<void> {
    if (this.skipping) return;
    const { kind, name } = decodeTarget(f.payload);
    const map = kind === 'S' ? this.stmts : this.portals;
    if (!map.has(name)) {
      this.forward(f.raw, 'close');
      return;
    }
    await this.drain();
    map.delete(name);
    this.write(be.closeComplete());
  }
}
