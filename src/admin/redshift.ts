import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type pg from 'pg';
import { loadEnv, type Env } from '../config/env.js';
import { connect } from '../db/connect.js';
import type { Logger } from '../log.js';
import type { CopyAuth } from '../redshift/sql.js';
import { S3Error, createS3Client, deletePrefix, manifestFor, putText, s3Url } from '../s3/client.js';
import { sourceColumns } from '../schema/catalog.js';
import { compressionFromEnv, type Compression } from '../extract/compress.js';
import { extractToS3 } from '../extract/extract.js';
import { BatchError, batchOf, redactSql, withWrites, type Batch, type ExecuteResult } from './batch.js';
import { listTables, tableExists } from './catalog.js';
import { openRedshift, resolveRedshiftConnection, type ResolvedConnection } from './connection.js';
import { loadErrorsForLastCopy, lockTables, readFence, stateTableRef } from '../redshift/sql.js';
import { CopyJsonError, copyJsonSql, inputLineOf, jsonPaths, partIndexOf, splitJsonLines } from './copy-json.js';
import { chunkKeys, copyTableBatch, extractCopySql, manifestKey, type CopyTableSource } from './copy-table.js';
import { analyzeCompressionSql, deepCopyBatch, encodingsFromAnalyzeCompression, validateDeepCopyOptions, type DeepCopyOptions } from './deep-copy.js';
import { relationText, toRelation, type Relation } from './names.js';
import { COLUMNS_SQL, readPrivileges, readTableDef, readViewDefinition, tableDefinitionBatch, privilegesBatch, type Privileges, type TableDef } from './reflect.js';
import { authFromEnv } from './s3-auth.js';
import { unloadBatch, type UnloadOptions, type UnloadSource } from './unload.js';
import { alterUserBatch, createUserBatch, initWarehouseBatch, type AlterUserOptions, type CreateUserOptions, type InitWarehouseOptions } from './users.js';
import type { Readable } from 'node:stream';

/**
 * The Redshift admin toolkit. Every operation returns the SQL it would run (a Batch);
 * with `execute: true` it also runs it: the whole batch in ONE transaction that rolls back
 * on any error, and statements Redshift refuses in a transaction block (VACUUM, ALTER
 * TABLE APPEND) alone after it. Connects lazily, on the first statement.
 */
export interface RedshiftOptions {
  /** postgres://user:password@host:5439/db; else env REDSHIFT_URL; else PGHOST & co. */
  url?: string;
  /** Environment (REDSHIFT_URL, PG*, S3 and AWS settings, REDSHIFT_SLICES...). Default process.env. */
  env?: Record<string, string | undefined>;
  log?: Logger;
  /** IAM role for COPY/UNLOAD (else env REDSHIFT_IAM_ROLE, else the AWS access keys). */
  iamRole?: string;
  /** An S3 client (tests); else one from the env. */
  s3?: S3Client;
}

export interface RunOptions {
  execute?: boolean;
}

export interface OperationResult {
  batch: Batch;
  /** null when the batch was only built, not run. */
  executed: ExecuteResult | null;
}

export interface CopyJsonOptions extends RunOptions {
  /** Files (one per slice); default env REDSHIFT_SLICES. */
  slices?: number;
  bucket?: string;
  /** S3 folder for this load (default redshift-loader/admin/copy-json/<table>-<random>). */
  s3Prefix?: string;
  /** Statements run first, in the same transaction (e.g. a CREATE TABLE). */
  before?: string[];
}

export interface CopyJsonResult extends OperationResult {
  rows: number;
  files: number;
  jsonpaths: string[];
  tableExisted: boolean;
}

export interface CopyTableOptions extends RunOptions {
  /** The source Postgres. */
  sourceUrl: string;
  source: CopyTableSource | { table: string };
  to: string | Relation;
  /** Runs first in the load's transaction, so it commits with the final COPY. */
  statement?: string;
  /** At most this many files per manifest; one COPY per manifest. */
  maxManifestKeys?: number;
  rowsPerFile?: number;
  bucket?: string;
  s3Prefix?: string;
}

export interface CopyTableResult extends OperationResult {
  rows: number;
  files: number;
  manifests: number;
}

export type UnloadRequest = Omit<UnloadOptions, 'auth'> & RunOptions & { auth?: CopyAuth };

const QUERY_RE = /^\s*\(?\s*(select|with)\b/i;

export class Redshift {
  private readonly opts: RedshiftOptions;
  private conn: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private parsedEnv: Env | null = null;
  private s3Client: S3Client | null = null;

  constructor(opts: RedshiftOptions = {}) {
    this.opts = opts;
  }

  /** Where this instance connects (resolving the URL or PG* variables; no connection yet). */
  connectionInfo(): ResolvedConnection {
    return resolveRedshiftConnection(this.opts.url, this.opts.env ?? process.env);
  }

  get env(): Env {
    this.parsedEnv ??= loadEnv(this.opts.env ?? process.env);
    return this.parsedEnv;
  }

  private get s3(): S3Client {
    this.s3Client ??= this.opts.s3 ?? createS3Client(this.env);
    return this.s3Client;
  }

  private compression(): Compression {
    return compressionFromEnv(this.env);
  }

  private auth(): CopyAuth {
    return authFromEnv(this.env, this.opts.iamRole);
  }

  private bucket(explicit?: string): string {
    const b = explicit ?? this.env.S3_BUCKET;
    if (!b) throw new Error('no S3 bucket: pass --bucket or set S3_BUCKET');
    return b;
  }

  /** The connection, opened on first use. */
  async client(): Promise<pg.Client> {
    if (this.conn) return this.conn;
    this.connecting ??= openRedshift(this.connectionInfo()).then((c) => (this.conn = c));
    try {
      return await this.connecting;
    } catch (err) {
      this.connecting = null;
      throw err;
    }
  }

  async query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    const c = await this.client();
    return c.query<R>(sql, params);
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    this.connecting = null;
    if (c) await c.end().catch(() => undefined);
    if (this.s3Client && !this.opts.s3) this.s3Client.destroy();
    this.s3Client = null;
  }

  /**
   * Runs a batch: its transactional statements in one transaction (rolled back on any
   * error, then the error is thrown as a BatchError naming the statement), then the others
   * one by one outside any transaction block.
   */
  async execute(batch: Batch): Promise<ExecuteResult> {
    const c = await this.client();
    const log = this.opts.log;
    const inTx = batch.statements.map((s, i) => ({ s, i })).filter((x) => x.s.transactional);
    const outside = batch.statements.map((s, i) => ({ s, i })).filter((x) => !x.s.transactional);
    const rowCounts: Array<number | null> = batch.statements.map(() => null);
    const loaderLocks = await this.syncedTargets(batch.writes ?? []);
    if (inTx.length > 0) {
      await c.query('BEGIN');
      let current = inTx[0]!;
      try {
        for (const l of loaderLocks) {
          log?.warn({ table: `${l.table.schema}.${l.table.name}`, owner: l.owner }, 'admin: this table is a redshift-loader target; taking the loader\'s lock so no sync writes it meanwhile');
          await c.query(lockTables([stateTableRef(l.table.schema), l.table]));
        }
        for (const x of inTx) {
          current = x;
          log?.debug({ sql: redactSql(x.s.sql) }, 'admin: running');
          const r = await c.query(x.s.sql);
          rowCounts[x.i] = r.rowCount ?? null;
        }
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        const msg = (err as Error).message;
        log?.error({ sql: redactSql(current.s.sql), err: msg }, 'admin: statement failed, transaction rolled back');
        throw new BatchError(
          `statement ${current.i + 1} of ${batch.statements.length} failed, the transaction was rolled back (nothing was changed): ${msg}\n  in: ${redactSql(current.s.sql).split('\n')[0]}`,
          current.i,
          redactSql(current.s.sql),
          true,
          err,
        );
      }
    }
    const ran: string[] = [];
    for (const x of outside) {
      log?.debug({ sql: redactSql(x.s.sql) }, 'admin: running outside a transaction block');
      try {
        const r = await c.query(x.s.sql);
        rowCounts[x.i] = r.rowCount ?? null;
      } catch (err) {
        throw new BatchError(
          `statement ${x.i + 1} of ${batch.statements.length} (run outside a transaction block${inTx.length ? ', after the transaction committed' : ''}) failed: ${(err as Error).message}`,
          x.i,
          redactSql(x.s.sql),
          false,
          err,
        );
      }
      ran.push(redactSql(x.s.sql));
    }
    return { inTransaction: inTx.length, outsideTransaction: ran, rowCounts };
  }

  /**
   * The tables of `writes` that redshift-loader keeps in sync (a row in their schema's
   * redshift_loader_state, see src/sync/fence.ts), with the run that last took them.
   */
  private async syncedTargets(writes: Array<{ schema: string; name: string }>): Promise<Array<{ table: { schema: string; name: string }; owner: string | null }>> {
    const out: Array<{ table: { schema: string; name: string }; owner: string | null }> = [];
    for (const t of writes) {
      try {
        const r = await this.query<{ owner: string | null }>(readFence(t.schema), [t.name]);
        if (r.rows[0]) out.push({ table: t, owner: r.rows[0].owner });
      } catch {
        // No state table in that schema: not a synced target.
      }
    }
    return out;
  }

  /** Returns the batch, and runs it when `execute` is set. */
  async run(batch: Batch, o: RunOptions = {}): Promise<OperationResult> {
    return { batch, executed: o.execute ? await this.execute(batch) : null };
  }

  // ---- reflection -------------------------------------------------------------------

  describeTable(table: string | Relation): Promise<TableDef> {
    return this.client().then((c) => readTableDef(c, toRelation(table)));
  }

  /** CREATE TABLE (types, NOT NULL, defaults, ENCODE, dist and sort keys), owner and GRANTs. */
  async tableDefinition(table: string | Relation, opts: { as?: string | Relation } = {}): Promise<Batch> {
    return tableDefinitionBatch(await this.describeTable(table), { as: opts.as === undefined ? undefined : toRelation(opts.as) });
  }

  async viewDefinition(view: string | Relation): Promise<Batch> {
    return readViewDefinition(await this.client(), toRelation(view));
  }

  async privileges(relation: string | Relation): Promise<Privileges & { batch: Batch }> {
    const p = await readPrivileges(await this.client(), toRelation(relation));
    return { ...p, batch: privilegesBatch(p) };
  }

  async tableExists(table: string | Relation): Promise<boolean> {
    return tableExists(await this.client(), toRelation(table));
  }

  async tables(schema?: string): Promise<Relation[]> {
    return listTables(await this.client(), schema);
  }

  // ---- deep copy --------------------------------------------------------------------

  async deepCopy(table: string | Relation, o: DeepCopyOptions & RunOptions = {}): Promise<OperationResult> {
    validateDeepCopyOptions(o);
    const rel = toRelation(table);
    const def = await this.describeTable(rel);
    let encodings = o.encodings;
    if (o.analyzeCompression) {
      // A read (it samples the table); Redshift takes a lock for its duration.
      const r = await this.query(analyzeCompressionSql(rel));
      encodings = { ...encodingsFromAnalyzeCompression(r.rows), ...o.encodings };
    }
    return this.run(deepCopyBatch(def, { ...o, encodings }), o);
  }

  // ---- users ------------------------------------------------------------------------

  createUser(name: string, o: CreateUserOptions & RunOptions): Promise<OperationResult> {
    return this.run(createUserBatch(name, o), o);
  }

  alterUser(name: string, o: AlterUserOptions & RunOptions): Promise<OperationResult> {
    return this.run(alterUserBatch(name, o), o);
  }

  initWarehouse(o: InitWarehouseOptions & RunOptions): Promise<OperationResult> {
    return this.run(initWarehouseBatch(o), o);
  }

  // ---- S3 ---------------------------------------------------------------------------

  /** UNLOAD a query (text starting with SELECT/WITH) or a table (PARALLEL OFF when DISTSTYLE ALL). */
  async unload(queryOrTable: string | { table: string | Relation } | { query: string }, o: UnloadRequest): Promise<OperationResult> {
    let source: UnloadSource;
    const asTable = typeof queryOrTable === 'string' ? (QUERY_RE.test(queryOrTable) ? null : queryOrTable) : 'table' in queryOrTable ? queryOrTable.table : null;
    if (asTable !== null) {
      const rel = toRelation(asTable);
      const def = await this.describeTable(rel);
      source = { table: rel, diststyleAll: def.diststyle === 'ALL' };
    } else {
      source = { query: typeof queryOrTable === 'string' ? queryOrTable : (queryOrTable as { query: string }).query };
    }
    return this.run(unloadBatch(source, { ...o, auth: o.auth ?? this.auth() }), o);
  }

  /**
   * JSON lines (a file path, `-` for stdin, or a stream) -> table. Builds the batch; with
   * `execute` uploads the files, the jsonpaths and a manifest, runs it, and deletes them.
   */
  async copyJson(input: string | Readable, table: string | Relation, o: CopyJsonOptions = {}): Promise<CopyJsonResult> {
    const rel = toRelation(table);
    const exists = await this.tableExists(rel);
    let columns: string[] = [];
    if (exists) columns = (await this.query<{ name: string }>(COLUMNS_SQL, [rel.schema, rel.name])).rows.map((r) => r.name);
    const split = await splitJsonLines(input, o.slices ?? this.env.REDSHIFT_SLICES);
    const bucket = o.execute ? this.bucket(o.bucket) : (o.bucket ?? this.env.S3_BUCKET ?? 'BUCKET');
    const prefix = (o.s3Prefix ?? `redshift-loader/admin/copy-json/${rel.schema}.${rel.name}-${Date.now()}-${randomBytes(3).toString('hex')}`).replace(/\/+$/, '');
    try {
      const paths = exists ? columns : split.keys;
      if (paths.length === 0) throw new Error(`copy-json: no columns: ${relationText(rel)} does not exist and the input has no keys`);
      const jp = jsonPaths(paths);
      const manifestKeyName = `${prefix}/manifest.json`;
      const jsonPathsKey = `${prefix}/jsonpaths.json`;
      const files = split.files.filter((f) => f.rows > 0).map((f) => ({ ...f, key: `${prefix}/${f.path.split(/[\\/]/).pop()!}` }));
      const batch = withWrites([rel], batchOf(
        o.before ?? [],
        files.length === 0
          ? []
          : [copyJsonSql({ table: rel, columns: exists ? undefined : split.keys, manifestUrl: s3Url(bucket, manifestKeyName), jsonPathsUrl: s3Url(bucket, jsonPathsKey), auth: this.auth(), region: undefined })],
      ));
      const base = { rows: split.rows, files: files.length, jsonpaths: jp.jsonpaths, tableExisted: exists };
      if (!o.execute) return { batch, executed: null, ...base };
      let written = 0;
      try {
        for (const f of files) {
          // lib-storage, as the sync engine uploads: a plain PutObject of a stream is sent
          // aws-chunked (the SDK's default checksums), which some S3-compatible stores keep as is.
          const params = { Bucket: bucket, Key: f.key, Body: createReadStream(f.path), ContentType: 'application/json', ContentEncoding: 'gzip' };
          await new Upload({ client: this.s3, params, queueSize: 2, partSize: 8 * 1024 * 1024, leavePartsOnError: false }).done().catch((e: Error) => {
            throw new S3Error(`S3 could not upload to ${s3Url(bucket, f.key)}: ${e.message || e.name}`);
          });
          written++;
        }
        await putText(this.s3, bucket, jsonPathsKey, JSON.stringify(jp));
        await putText(this.s3, bucket, manifestKeyName, JSON.stringify(manifestFor(bucket, files.map((f) => ({ key: f.key, bytes: f.bytes })))));
        try {
          const executed = await this.execute(batch);
          return { batch, executed, ...base };
        } catch (err) {
          throw await this.explainCopyJsonFailure(err, split.blankLines, o.slices ?? this.env.REDSHIFT_SLICES);
        }
      } finally {
        if (written > 0) await deletePrefix(this.s3, bucket, `${prefix}/`).catch((e: Error) => this.opts.log?.warn({ err: e.message, prefix }, 'copy-json: could not delete the S3 files'));
      }
    } finally {
      await rm(split.dir, { recursive: true, force: true });
    }
  }

  /** A failed copy-json COPY, with its stl_load_errors rows mapped back to the input's lines. */
  private async explainCopyJsonFailure(err: unknown, blankLines: number[], slices: number): Promise<unknown> {
    if (!(err instanceof BatchError) || !/stl_load_errors/.test(err.message)) return err;
    const r = await this.query<{ filename: string; line_number: string; colname: string; raw_field_value: string; err_code: number; err_reason: string }>(loadErrorsForLastCopy()).catch(() => null);
    if (!r || r.rows.length === 0) return err;
    const where = r.rows.map((e) => {
      const part = partIndexOf(e.filename);
      const line = Number(e.line_number);
      const at = part === null || line <= 0 ? `${e.filename} line ${line}` : `input line ${inputLineOf(part, line, slices, blankLines)}`;
      return `${at}${e.colname ? `, column "${e.colname}"` : ''}: ${e.err_reason} (error ${e.err_code})${e.raw_field_value ? `, value ${JSON.stringify(e.raw_field_value)}` : ''}`;
    });
    return new CopyJsonError(`copy-json: the COPY failed and was rolled back (nothing was loaded): ${where.join('; ')}`, { cause: err });
  }

  /**
   * Copies a Postgres table or query into an existing Redshift table through S3 (the sync
   * engine's extract and COPY). Without `execute`, returns the SQL with one manifest.
   */
  async copyTable(o: CopyTableOptions): Promise<CopyTableResult> {
    const target = toRelation(o.to);
    const source: CopyTableSource = 'table' in o.source ? { table: toRelation(o.source.table) } : { query: o.source.query };
    const src = await connect(o.sourceUrl, 'redshift-loader copy-table');
    const bucket = o.execute ? this.bucket(o.bucket) : (o.bucket ?? this.env.S3_BUCKET ?? 'BUCKET');
    const prefix = (o.s3Prefix ?? `redshift-loader/admin/copy-table/${target.schema}.${target.name}-${Date.now()}-${randomBytes(3).toString('hex')}`).replace(/\/+$/, '');
    try {
      let columns: string[];
      if ('table' in source) {
        columns = (await sourceColumns(src, source.table.schema, source.table.name)).map((c) => c.name);
        if (columns.length === 0) throw new Error(`copy-table: source table ${relationText(source.table)} not found`);
      } else {
        const r = await src.query(`SELECT * FROM (${source.query.trim().replace(/;\s*$/, '')}) q LIMIT 0`);
        columns = r.fields.map((f) => f.name);
      }
      const auth = this.auth();
      if (!o.execute) {
        const batch = copyTableBatch({ target, columns, manifestUrls: [s3Url(bucket, manifestKey(prefix, 0))], auth, compression: this.compression(), statement: o.statement });
        return { batch, executed: null, rows: 0, files: 0, manifests: 1 };
      }
      try {
        const extracted = await extractToS3({
          client: src,
          copySql: extractCopySql(source, columns),
          s3: this.s3,
          bucket,
          keyPrefix: prefix,
          rowsPerFile: o.rowsPerFile ?? this.env.IMPORT_CHUNK_SIZE,
          compression: this.compression(),
        });
        const groups = chunkKeys(extracted.files, o.maxManifestKeys);
        const manifestUrls: string[] = [];
        for (const [i, g] of groups.entries()) {
          await putText(this.s3, bucket, manifestKey(prefix, i), JSON.stringify(manifestFor(bucket, g)));
          manifestUrls.push(s3Url(bucket, manifestKey(prefix, i)));
        }
        const batch = copyTableBatch({ target, columns, manifestUrls, auth, compression: this.compression(), statement: o.statement });
        const executed = await this.execute(batch);
        return { batch, executed, rows: extracted.rows, files: extracted.files.length, manifests: groups.length };
      } finally {
        await deletePrefix(this.s3, bucket, `${prefix}/`).catch((e: Error) => this.opts.log?.warn({ err: e.message, prefix }, 'copy-table: could not delete the S3 files'));
      }
    } finally {
      await src.end().catch(() => undefined);
    }
  }
}
