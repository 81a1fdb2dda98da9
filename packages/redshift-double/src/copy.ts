import { gunzipSync } from 'node:zlib';
import { Decoder } from '@toondepauw/node-zstd';
import type { CommandContext, CommandResult } from './context.js';
import { convertJsonValue, jsonRecords, parseJsonPathsFile, pickValues, type JsonMapping, type JsonRecord } from './copy-json.js';
import type { CopyCommand } from './copy-parse.js';
import { parseRecords, truncateUtf8, type RawRecord } from './csv.js';
import { convertField, pgCopyText, type TargetColumn, type ValueOptions } from './copy-values.js';
import { RsError } from './errors.js';
import { UpstreamError } from './upstream.js';
import { getObject, listKeys, parseS3Url } from './s3.js';
import { ident, lit } from './sql-lexer.js';

/**
 * COPY FROM S3: reads the files, applies Redshift's parsing and conversion rules, and feeds
 * the good rows to `COPY ... FROM STDIN` on the client's own upstream session (so the load
 * is inside its transaction). Bad rows go to stl_load_errors through a separate connection
 * (so they survive a ROLLBACK); more than MAXERROR of them fails the whole load.
 */
export interface LoadErrorRow {
  filename: string;
  line: number;
  colname: string;
  type: string;
  colLength: string;
  position: number;
  rawLine: string;
  rawField: string;
  code: number;
  reason: string;
}

export interface TableColumn extends TargetColumn {
  identity: boolean;
  hasDefault: boolean;
}

export const COLUMNS_SQL = (tableText: string) => `
SELECT a.attname, COALESCE(bt.typname, t.typname) AS typname, format_type(a.atttypid, a.atttypmod) AS type_text,
       a.attnotnull, a.atttypmod, a.attidentity <> '' AS identity, a.atthasdef OR a.attgenerated <> '' AS has_default,
       (t.typname = 'super' AND t.typnamespace = 'pg_catalog'::regnamespace) AS is_super,
       c.oid AS reloid, c.relname
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
WHERE a.attrelid = ${lit(tableText)}::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`;

export async function tableColumns(ctx: CommandContext, tableText: string): Promise<{ oid: number; relname: string; columns: TableColumn[] }> {
  const r = await ctx.query(COLUMNS_SQL(tableText));
  let oid = 0;
  let relname = tableText;
  const columns = r.rows.map((row) => {
    const [name, typname, typeText, notNull, typmod, identity, hasDefault, isSuper, reloid, rel] = row;
    oid = Number(reloid);
    relname = rel!;
    const mod = Number(typmod);
    const isStr = typname === 'varchar' || typname === 'bpchar';
    return {
      name: name!,
      typname: typname!,
      typeText: typeText!,
      notNull: notNull === 't',
      length: isStr && mod > 4 ? mod - 4 : null,
      numericPrecision: typname === 'numeric' && mod > 4 ? ((mod - 4) >> 16) & 0xffff : null,
      numericScale: typname === 'numeric' && mod > 4 ? (mod - 4) & 0xffff : null,
      isSuper: isSuper === 't',
      identity: identity === 't',
      hasDefault: hasDefault === 't',
    };
  });
  return { oid, relname, columns };
}

interface SourceFile {
  url: string;
  bucket: string;
  key: string;
  mandatory: boolean;
}

async function resolveFiles(ctx: CommandContext, cmd: CopyCommand): Promise<SourceFile[]> {
  const { bucket, key } = parseS3Url(cmd.from);
  if (cmd.manifest) {
    const body = await getObject(ctx.s3, bucket, key);
    if (body === null) throw new RsError(`Problem reading manifest file - S3ServiceException:The specified key does not exist.,Status 404,Error NoSuchKey,Key ${cmd.from}`, 'XX000');
    let manifest: { entries?: Array<{ url?: unknown; mandatory?: unknown }> };
    try {
      manifest = JSON.parse(body.toString('utf8'));
    } catch {
      throw new RsError(`Manifest file is not in correct json format: ${cmd.from}`, 'XX000');
    }
    if (!manifest || !Array.isArray(manifest.entries)) throw new RsError(`Manifest file is not in correct json format: ${cmd.from}`, 'XX000');
    // "Regardless of any mandatory settings, COPY will terminate if no files are found" (loading-data-files-using-manifest.html)
    if (manifest.entries.length === 0) throw new RsError(`COPY found no files to load: the manifest '${cmd.from}' has no entries`, 'XX000');
    const out: SourceFile[] = [];
    for (const e of manifest.entries) {
      if (typeof e?.url !== 'string' || !/^s3:\/\/[^/]+\/.+/.test(e.url)) throw new RsError(`COPY with MANIFEST parameter requires full S3 path for each file (error 8001): ${String(e?.url)}`, 'XX000');
      out.push({ url: e.url, ...parseS3Url(e.url), mandatory: e.mandatory === true });
    }
    return out;
  }
  const keys = await listKeys(ctx.s3, bucket, key);
  if (keys.length === 0) throw new RsError(`The specified S3 prefix '${key}' does not exist`, 'XX000');
  return keys.map((k) => ({ url: `s3://${bucket}/${k.key}`, bucket, key: k.key, mandatory: true }));
}

const CHUNK = 256 * 1024;

export async function runCopy(ctx: CommandContext, cmd: CopyCommand): Promise<CommandResult> {
  const table = await tableColumns(ctx, cmd.tableText);
  const byName = new Map(table.columns.map((c) => [c.name, c]));
  let targets: TableColumn[];
  if (cmd.columns) {
    const seen = new Set<string>();
    targets = cmd.columns.map((n) => {
      const col = byName.get(n);
      if (!col) throw new RsError(`column "${n}" of relation "${table.relname}" does not exist`, '42703');
      if (seen.has(n)) throw new RsError(`column "${n}" specified more than once`, '42701');
      seen.add(n);
      if (col.identity && !cmd.explicitIds) throw new RsError(`cannot set an identity column to a value (column "${n}"); use EXPLICIT_IDS`, 'XX000');
      return col;
    });
  } else {
    targets = table.columns.filter((c) => cmd.explicitIds || !c.identity);
  }
  for (const col of table.columns) {
    if (!targets.includes(col) && col.notNull && !col.hasDefault && !col.identity)
      throw new RsError(`NOT NULL column without DEFAULT must be included in column list: "${col.name}"`, 'XX000');
  }
  const files = await resolveFiles(ctx, cmd);
  const jsonMapping = cmd.json ? await resolveJsonMapping(ctx, cmd, targets) : null;

  // The COPY has begun loading: from here pg_last_copy_id() names it, even if it fails.
  const idRows = await ctx.sideQuery(`SELECT nextval('redshift_double.query_id')::int AS id`);
  const queryId = Number(idRows[0]!.id);
  ctx.values.lastCopyId = queryId;
  ctx.values.lastCopyCount = 0;
  const starttime = new Date();
  // the client's transaction, for the SYS views (assigns an id if the transaction has none yet)
  const xid = Number((await ctx.query('SELECT txid_current()')).rows[0]?.[0] ?? 0);
  const stats = { filesScanned: 0, bytesScanned: 0, loadedBytes: 0 };

  const valueOpts: ValueOptions = {
    nullAs: cmd.json ? null : cmd.nullAs,
    emptyAsNull: cmd.emptyAsNull,
    blanksAsNull: cmd.blanksAsNull,
    truncateColumns: cmd.truncateColumns,
    acceptInvChars: cmd.acceptInvChars,
    trimBlanks: cmd.trimBlanks,
    roundec: cmd.roundec,
    dateFormat: cmd.dateFormat,
    timeFormat: cmd.timeFormat,
  };
  const errors: LoadErrorRow[] = [];
  const commits: Array<{ url: string; lines: number; errors: number }> = [];
  let failed = false;
  // source of each row sent upstream, to map a Postgres COPY error back to file and line
  const sentFrom: string[] = [];
  const sentLine: number[] = [];
  const sentRaw: Buffer[] = [];

  const produce = async (send: (chunk: Buffer) => void) => {
    let pending: string[] = [];
    let pendingLen = 0;
    const flush = () => {
      if (pending.length) {
        const chunk = Buffer.from(pending.join(''), 'utf8');
        stats.loadedBytes += chunk.length;
        send(chunk);
      }
      pending = [];
      pendingLen = 0;
    };
    let found = 0;
    for (const f of files) {
      if (ctx.cancelled()) throw new RsError(`Query (${queryId}) cancelled on user's request`, '57014');
      let body = await getObject(ctx.s3, f.bucket, f.key);
      if (body === null) {
        if (f.mandatory)
          throw new RsError(`Manifest file entry is mandatory but the file was not found: ${f.url} (error 1212: Load file was not found)`, 'XX000');
        continue;
      }
      found++;
      stats.filesScanned++;
      stats.bytesScanned += body.length;
      if (cmd.compression !== 'none') {
        try {
          // Every frame (zstd) or member (gzip) of the file, as Redshift reads them.
          body = cmd.compression === 'gzip' ? gunzipSync(body) : await new Decoder().decode(body);
        } catch (e) {
          errors.push(errorRow(f.url, 0, null, '', '', 1216, `${cmd.compression}: ${(e as Error).message}`));
          failed = true;
          throw loadFailed(cmd.tableName);
        }
      }
      let lines = 0;
      const before = errors.length;
      const records = jsonMapping ? jsonRecords(body, cmd.ignoreHeader) : parseRecords(body, { ...cmd, format: cmd.format === 'csv' ? 'csv' : 'text' });
      for (const rec of records) {
        lines++;
        if (lines % 2000 === 0) {
          // let other sessions (and a CancelRequest) in while a big file is converted
          await new Promise((r) => setImmediate(r));
          if (ctx.cancelled()) throw new RsError(`Query (${queryId}) cancelled on user's request`, '57014');
        }
        const row = jsonMapping
          ? convertJsonRecord(rec as JsonRecord, targets, jsonMapping, valueOpts, f.url, errors)
          : convertRecord(rec as RawRecord, targets, valueOpts, cmd.fillRecord, f.url, errors);
        if (row === null) {
          if (errors.length > cmd.maxError) {
            failed = true;
            throw loadFailed(cmd.tableName);
          }
          continue;
        }
        sentFrom.push(f.url);
        sentLine.push(rec.line);
        sentRaw.push(rec.raw.length <= 1024 ? rec.raw : rec.raw.subarray(0, 1024));
        pending.push(row);
        pendingLen += row.length;
        if (pendingLen >= CHUNK) flush();
      }
      commits.push({ url: f.url, lines, errors: errors.length - before });
      flush();
    }
    if (found === 0) throw new RsError(`COPY found no files to load: none of the files in the manifest '${cmd.from}' exists`, 'XX000');
  };

  const cols = targets.map((c) => ident(c.name)).join(', ');
  let loaded = 0;
  try {
    if (cmd.noload) await produce(() => undefined);
    else loaded = await ctx.copyIn(`COPY ${cmd.tableText} (${cols}) FROM STDIN`, produce);
  } catch (e) {
    // A row Postgres refused that the double's own checks let through: report it the same way.
    if (!failed && e instanceof UpstreamError && /^2[23]/.test(e.code ?? '')) {
      const m = /line (\d+)(?:, column ([^:]+))?(?:: "(.*)")?/s.exec(e.fields.W ?? '');
      const n = m ? Number(m[1]) - 1 : -1;
      const code = e.code === '23502' ? 1213 : e.code === '22001' || e.code === '22003' ? 1204 : 1216;
      const raw = sentRaw[n];
      errors.push({
        ...errorRow(sentFrom[n] ?? '', sentLine[n] ?? 0, raw ? { fields: [], line: 0, raw } : null, m?.[2] ?? '', '', code, e.message),
        rawField: m?.[3] ?? '',
      });
      failed = true;
    }
    if (errors.length) await writeLoadErrors(ctx, errors, queryId, table.oid, starttime, xid);
    await writeLoadHistory(ctx, { queryId, xid, table: table.relname, start: starttime, cmd, status: 'aborted', files: files.length, ...stats, loaded: 0, loadedBytes: 0, errors: errors.length });
    if (failed) throw loadFailed(cmd.tableName, errors[0]);
    throw e;
  }
  if (errors.length) await writeLoadErrors(ctx, errors, queryId, table.oid, starttime, xid);
  await writeLoadCommits(ctx, commits, queryId, cmd.format);
  await writeLoadHistory(ctx, { queryId, xid, table: table.relname, start: starttime, cmd, status: 'completed', loaded: cmd.noload ? 0 : loaded, files: files.length, ...stats, errors: errors.length });
  ctx.values.lastCopyCount = cmd.noload ? 0 : loaded;
  if (errors.length) ctx.notice(`Load into table '${cmd.tableName}' completed, ${errors.length} record(s) could not be loaded.  Check 'stl_load_errors' system table for details.`, 'WARNING');
  ctx.notice(`Load into table '${cmd.tableName}' completed, ${cmd.noload ? 0 : loaded} record(s) loaded successfully.`, 'INFO');
  return { tag: 'COPY' };
}

function loadFailed(table: string, first?: LoadErrorRow): RsError {
  const detail = first
    ? [
        '-----------------------------------------------',
        `  error:  ${first.reason}`,
        `  code:      ${first.code}`,
        `  query:     0`,
        `  location:  ${first.filename}`,
        `  line number: ${first.line}`,
        `  column:    ${first.colname}`,
        `  raw_field_value: ${first.rawField}`,
        '-----------------------------------------------',
      ].join('\n')
    : undefined;
  return new RsError(`Load into table '${table}' failed.  Check 'stl_load_errors' system table for details.`, 'XX000', detail);
}

function text(b: Buffer, maxBytes: number): string {
  return truncateUtf8(Buffer.from(b.toString('utf8').replace(/\u0000/g, ''), 'utf8'), maxBytes).toString('utf8');
}

/** raw_line: "Multibyte characters in the load data are replaced with a period" (r_STL_LOAD_ERRORS.html). */
function rawLineText(b: Buffer, maxBytes: number): string {
  return text(b.subarray(0, maxBytes * 4), maxBytes * 4).replace(/[^\u0000-\u007f]/gu, '.').slice(0, maxBytes);
}

function errorRow(filename: string, line: number, rec: RawRecord | null, colname: string, type: string, code: number, reason: string, field?: Buffer, colLength = '', position = 0): LoadErrorRow {
  return {
    filename,
    line,
    colname,
    type,
    colLength,
    position,
    rawLine: rec ? rawLineText(rec.raw, 1024) : '',
    rawField: field ? text(field, 1024) : '',
    code,
    reason: text(Buffer.from(reason), 100),
  };
}

/** "The maximum size of a single input row from any source is 4 MB" (copy-parameters-data-source.html). */
export const MAX_ROW_BYTES = 4 * 1024 * 1024;

/** One record -> a Postgres COPY text line, or null after recording the error. */
export function convertRecord(rec: RawRecord, targets: TargetColumn[], o: ValueOptions, fillRecord: boolean, filename: string, errors: LoadErrorRow[]): string | null {
  if (rec.error) {
    errors.push(errorRow(filename, rec.line, rec, '', '', rec.error.code, rec.error.reason));
    return null;
  }
  if (rec.raw.length > MAX_ROW_BYTES) {
    errors.push(errorRow(filename, rec.line, rec, '', '', 1216, `Input record exceeds the maximum row size of 4 MB (${rec.raw.length} bytes)`));
    return null;
  }
  if (rec.fields.length > targets.length) {
    errors.push(errorRow(filename, rec.line, rec, '', '', 1202, 'Extra column(s) found'));
    return null;
  }
  if (rec.fields.length < targets.length && !fillRecord) {
    const col = targets[rec.fields.length]!;
    errors.push(errorRow(filename, rec.line, rec, col.name, shortType(col), 1214, 'Delimiter not found', undefined, col.length?.toString() ?? ''));
    return null;
  }
  const out: string[] = [];
  let position = 0;
  for (let i = 0; i < targets.length; i++) {
    const col = targets[i]!;
    const field = rec.fields[i];
    const r = convertField(field, col, o);
    if (!r.ok) {
      errors.push(errorRow(filename, rec.line, rec, col.name, shortType(col), r.error.code, r.error.reason, field?.raw, col.length?.toString() ?? '0', position));
      return null;
    }
    position += (field?.raw.length ?? 0) + 1;
    out.push(pgCopyText(r.value));
  }
  return out.join('\t') + '\n';
}

/**
 * stl_load_errors.type is character(10): the short type name (int4, varchar, bpchar,
 * numeric, timestamp, ...), cut to 10 characters as a cast to character(10) cuts it
 * ('timestamptz' -> 'timestampt'; the guide lists no value for it, README Assumptions).
 */
export function shortType(col: Pick<TargetColumn, 'isSuper' | 'typname'>): string {
  return (col.isSuper ? 'super' : col.typname).slice(0, 10);
}

/**
 * How a JSON record maps to the target columns. A JSONPaths file is read whole and never
 * decompressed (GZIP/ZSTD apply to the data files); its errors fail the COPY, MAXERROR does
 * not apply (copy-parameters-data-format.html, JSONPaths file).
 */
async function resolveJsonMapping(ctx: CommandContext, cmd: CopyCommand, targets: TableColumn[]): Promise<JsonMapping> {
  const opt = cmd.json!;
  if (opt.kind === 'auto') return opt;
  if (opt.kind === 'noshred') {
    if (targets.length !== 1 || !targets[0]!.isSuper) throw new RsError("FORMAT JSON 'noshred' loads each document into a single SUPER column: the table (or column list) must have exactly one column, of type SUPER", 'XX000');
    return opt;
  }
  const { bucket, key } = parseS3Url(opt.url);
  const body = await getObject(ctx.s3, bucket, key);
  if (body === null) throw new RsError(`Problem reading JSONPaths file - S3ServiceException:The specified key does not exist.,Status 404,Error NoSuchKey,Key ${opt.url}`, 'XX000');
  const paths = parseJsonPathsFile(body, opt.url);
  if (paths === null) return { kind: 'auto', ignoreCase: false };
  if (paths.length !== targets.length)
    throw new RsError(`Number of jsonpaths and the number of columns should match. JSONPath size: ${paths.length}, Number of columns in table or column list: ${targets.length}`, 'XX000');
  return { kind: 'paths', paths };
}

/** One JSON record -> a Postgres COPY text line, or null after recording the error. */
export function convertJsonRecord(rec: JsonRecord, targets: TargetColumn[], m: JsonMapping, o: ValueOptions, filename: string, errors: LoadErrorRow[]): string | null {
  const asRaw = { fields: [], line: rec.line, raw: rec.raw };
  if (rec.error || !rec.value) {
    const e = rec.error ?? { code: 1216, reason: 'Invalid JSON' };
    errors.push(errorRow(filename, rec.line, asRaw, '', '', e.code, e.reason));
    return null;
  }
  const values = pickValues(rec.value, targets, m);
  if (!Array.isArray(values)) {
    errors.push(errorRow(filename, rec.line, asRaw, '', '', values.code, values.reason));
    return null;
  }
  const out: string[] = [];
  for (let i = 0; i < targets.length; i++) {
    const col = targets[i]!;
    const r = convertJsonValue(values[i], col, o);
    if (!r.ok) {
      errors.push(errorRow(filename, rec.line, asRaw, col.name, shortType(col), r.error.code, r.error.reason, Buffer.from(r.raw), col.length?.toString() ?? '0'));
      return null;
    }
    out.push(pgCopyText(r.value));
  }
  return out.join('\t') + '\n';
}

const sqlTimestamp = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

interface LoadSummary {
  queryId: number;
  xid: number;
  table: string;
  start: Date;
  cmd: CopyCommand;
  status: 'completed' | 'aborted';
  loaded: number;
  loadedBytes: number;
  files: number;
  filesScanned: number;
  bytesScanned: number;
  errors: number;
}

/** One row of SYS_LOAD_HISTORY per COPY (SYS_LOAD_HISTORY.html), through the side connection. */
async function writeLoadHistory(ctx: CommandContext, h: LoadSummary): Promise<void> {
  const end = new Date();
  await ctx.sideQuery(
    `INSERT INTO redshift_double.load_history (user_id, query_id, transaction_id, session_id, database_name, status, table_name, start_time, end_time, duration,
       data_source, file_format, loaded_rows, loaded_bytes, source_file_count, source_file_bytes, file_count_scanned, file_bytes_scanned, error_count, copy_job_id, serverless)
     VALUES (100, $1, $2, $3, current_database(), $4, $5, $6::timestamp, $7::timestamp, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 0, $18)`,
    [
      h.queryId, h.xid, ctx.sessionPid, h.status, h.table, sqlTimestamp(h.start), sqlTimestamp(end), (end.getTime() - h.start.getTime()) * 1000,
      h.cmd.from, h.cmd.format === 'csv' ? 'csv' : 'txt', h.loaded, h.loadedBytes, h.files, h.bytesScanned, h.filesScanned, h.bytesScanned, h.errors, ctx.serverless,
    ],
  );
}

async function writeLoadErrors(ctx: CommandContext, errors: LoadErrorRow[], queryId: number, tbl: number, start: Date, xid: number): Promise<void> {
  const ts = sqlTimestamp(start);
  const cols = ['filename', 'line_number', 'colname', 'type', 'col_length', 'position', 'raw_line', 'raw_field_value', 'err_code', 'err_reason'];
  const arrays: unknown[][] = cols.map(() => []);
  for (const e of errors) {
    const vals = [e.filename, e.line, e.colname, e.type, e.colLength, e.position, e.rawLine, e.rawField, e.code, e.reason];
    vals.forEach((v, i) => arrays[i]!.push(v));
  }
  await ctx.sideQuery(
    `INSERT INTO redshift_double.load_errors (userid, slice, tbl, starttime, session, query, filename, line_number, colname, type, col_length, position, raw_line, raw_field_value, err_code, err_reason, is_partial, start_offset, transaction_id, serverless)
     SELECT 100, 0, $1, $2::timestamp, $3, $4, u.filename::character(256), u.line_number, u.colname::character(127), u.type::character(10),
            u.col_length::character(10), u.position, u.raw_line::character(1024), u.raw_field_value::character(1024), u.err_code, u.err_reason::character(100), 0, 0, $15, $16
     FROM unnest($5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::int[], $11::text[], $12::text[], $13::int[], $14::text[])
       AS u(filename, line_number, colname, type, col_length, position, raw_line, raw_field_value, err_code, err_reason)`,
    [tbl, ts, ctx.sessionPid, queryId, ...arrays, xid, ctx.serverless],
  );
}

async function writeLoadCommits(ctx: CommandContext, commits: Array<{ url: string; lines: number; errors: number }>, queryId: number, format: string): Promise<void> {
  if (!commits.length) return;
  await ctx.sideQuery(
    `INSERT INTO redshift_double.load_commits (userid, query, slice, name, filename, byte_offset, lines_scanned, errors, curtime, status, file_format, serverless)
     SELECT 100, $1, 0, 'streamed-file', u.f::character(256), 0, u.l, u.e, (now() AT TIME ZONE 'UTC'), 1, $2, $6 FROM unnest($3::text[], $4::int[], $5::int[]) AS u(f, l, e)`,
    [queryId, format === 'csv' ? 'Csv' : format === 'json' ? 'Json' : 'Text', commits.map((c) => c.url), commits.map((c) => c.lines), commits.map((c) => c.errors), ctx.serverless],
  );
}
