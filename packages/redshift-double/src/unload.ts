import { gzipSync } from 'node:zlib';
import type { CommandContext, CommandResult } from './context.js';
import { finishAuth, readAuthOption, type S3Auth } from './copy-parse.js';
import { RsError, syntaxError } from './errors.js';
import { deleteKeys, listKeys, parseS3Url, putObject } from './s3.js';
import { significant, str, syntaxAt, tokenize, TokenCursor } from './sql-lexer.js';

/**
 * UNLOAD ('select ...') TO 's3://bucket/prefix' <authorization> [options]: runs the query
 * on the client's session and writes the result to the S3 server, as one slice would
 * (PARALLEL ON: <prefix>0000_part_00; PARALLEL OFF: <prefix>000), plus <prefix>manifest.
 */
export interface UnloadCommand {
  kind: 'unload';
  query: string;
  to: string;
  auth: S3Auth;
  format: 'text' | 'csv' | 'json';
  delimiter: string | null;
  header: boolean;
  manifest: boolean;
  manifestVerbose: boolean;
  gzip: boolean;
  addQuotes: boolean;
  nullAs: string | null;
  escape: boolean;
  allowOverwrite: boolean;
  cleanPath: boolean;
  parallel: boolean;
  maxFileSize: number;
  extension: string | null;
}

const NOT_IMPLEMENTED = new Set(['parquet', 'partition', 'fixedwidth', 'encrypted', 'kms_key_id', 'bzip2', 'zstd', 'rowgroupsize', 'master_symmetric_key']);

export function parseUnload(sql: string, rewrite: (s: string) => string): UnloadCommand {
  const c = new TokenCursor(significant(tokenize(sql)), sql);
  c.expectWord('unload');
  c.expectOp('(');
  const query = str(c);
  c.expectOp(')');
  c.expectWord('to');
  const to = str(c);
  if (!/^s3:\/\/[^/]+\/./.test(to)) throw new RsError(`Invalid S3 path '${to}' for UNLOAD`, 'XX000');
  const cmd: UnloadCommand = {
    kind: 'unload',
    query: rewrite(query),
    to,
    auth: { type: 'iam_role', role: '' },
    format: 'text',
    delimiter: null,
    header: false,
    manifest: false,
    manifestVerbose: false,
    gzip: false,
    addQuotes: false,
    nullAs: null,
    escape: false,
    allowOverwrite: false,
    cleanPath: false,
    parallel: true,
    maxFileSize: 6.2 * 1024 ** 3,
    extension: null,
  };
  if (!/^\s*(select|with)\b/i.test(query)) throw new RsError('UNLOAD query must be a SELECT statement', 'XX000');
  let auth: S3Auth | null = null;
  while (!c.done()) {
    const a = readAuthOption(c, auth);
    if (a !== 'none') {
      auth = a;
      continue;
    }
    const t = c.next();
    if (t.type !== 'word') throw syntaxAt(t);
    switch (t.value) {
      case 'format': {
        c.acceptWord('as');
        const f = c.ident();
        if (f === 'csv' || f === 'json') cmd.format = f;
        else if (NOT_IMPLEMENTED.has(f)) throw new RsError(`UNLOAD format ${f.toUpperCase()} is not implemented by the Redshift double`, '0A000');
        else throw syntaxAt(c.peek(-1));
        break;
      }
      case 'csv':
        cmd.format = 'csv';
        break;
      case 'json':
        cmd.format = 'json';
        break;
      case 'header':
        cmd.header = true;
        break;
      case 'manifest':
        cmd.manifest = true;
        if (c.acceptWord('verbose')) cmd.manifestVerbose = true;
        break;
      case 'delimiter':
        c.acceptWord('as');
        cmd.delimiter = str(c);
        if (Buffer.byteLength(cmd.delimiter) !== 1) throw new RsError('DELIMITER must be a single-byte character', 'XX000');
        break;
      case 'gzip':
        cmd.gzip = true;
        break;
      case 'addquotes':
        cmd.addQuotes = true;
        break;
      case 'null':
        c.acceptWord('as');
        cmd.nullAs = str(c);
        break;
      case 'escape':
        cmd.escape = true;
        break;
      case 'allowoverwrite':
        cmd.allowOverwrite = true;
        break;
      case 'cleanpath':
        cmd.cleanPath = true;
        break;
      case 'parallel':
        if (c.acceptWord('off') || c.acceptWord('false')) cmd.parallel = false;
        else if (c.acceptWord('on') || c.acceptWord('true')) cmd.parallel = true;
        break;
      case 'maxfilesize': {
        c.acceptWord('as');
        const n = c.next();
        if (n.type !== 'number') throw syntaxAt(n);
        const unit = c.acceptWord('gb') ? 1024 ** 3 : (c.acceptWord('mb'), 1024 ** 2);
        cmd.maxFileSize = Number(n.text) * unit;
        if (cmd.maxFileSize < 5 * 1024 ** 2 || cmd.maxFileSize > 6.2 * 1024 ** 3) throw new RsError('MAXFILESIZE must be between 5 MB and 6.2 GB', 'XX000');
        break;
      }
      case 'region':
        c.acceptWord('as');
        str(c);
        break;
      case 'extension':
        cmd.extension = str(c).replace(/^\./, '');
        break;
      default:
        if (NOT_IMPLEMENTED.has(t.value)) throw new RsError(`UNLOAD option ${t.value.toUpperCase()} is not implemented by the Redshift double`, '0A000');
        throw syntaxError(t.text);
    }
  }
  cmd.auth = finishAuth(auth, 'UNLOAD');
  if (cmd.format === 'json' && (cmd.delimiter || cmd.header || cmd.addQuotes || cmd.escape || cmd.nullAs !== null))
    throw new RsError('UNLOAD FORMAT JSON cannot be used with DELIMITER, HEADER, ADDQUOTES, ESCAPE or NULL AS', 'XX000');
  if (cmd.format === 'csv' && (cmd.addQuotes || cmd.escape)) throw new RsError('UNLOAD FORMAT CSV cannot be used with ADDQUOTES or ESCAPE', 'XX000');
  if (cmd.allowOverwrite && cmd.cleanPath) throw new RsError('ALLOWOVERWRITE and CLEANPATH cannot be used together', 'XX000');
  return cmd;
}

const NUMERIC_OIDS = new Set([20, 21, 23, 700, 701, 1700]);
const BOOL_OID = 16;
const JSON_OIDS = new Set([114, 3802]);

/** Formats rows as lines of the chosen format (no trailing newline per line). */
export function formatLines(cmd: UnloadCommand, fields: Array<{ name: string; typeOid: number; isJson: boolean }>, rows: Array<Array<string | null>>): string[] {
  const out: string[] = [];
  if (cmd.format === 'json') {
    for (const row of rows) {
      const obj: string[] = [];
      row.forEach((v, i) => {
        const f = fields[i]!;
        let json: string;
        if (v === null) json = 'null';
        else if (NUMERIC_OIDS.has(f.typeOid) && /^-?\d/.test(v)) json = v;
        else if (f.typeOid === BOOL_OID) json = v === 't' ? 'true' : 'false';
        else if (f.isJson) json = v;
        else json = JSON.stringify(v);
        obj.push(`${JSON.stringify(f.name)}:${json}`);
      });
      out.push(`{${obj.join(',')}}`);
    }
    return out;
  }
  const delim = cmd.delimiter ?? (cmd.format === 'csv' ? ',' : '|');
  const nullAs = cmd.nullAs ?? '';
  const cell = (v: string | null, isJson: boolean): string => {
    if (v === null) return isJson ? 'null' : nullAs;
    if (cmd.format === 'csv') return /[",\r\n]/.test(v) || v.includes(delim) ? `"${v.replace(/"/g, '""')}"` : v;
    let s = v;
    if (cmd.escape) s = s.replace(new RegExp(`[\\\\\\n\\r${escapeRe(delim)}${cmd.addQuotes ? '"' : ''}]`, 'g'), (ch) => `\\${ch}`);
    return cmd.addQuotes ? `"${s}"` : s;
  };
  if (cmd.header) out.push(fields.map((f) => cell(f.name, false)).join(delim));
  for (const row of rows) out.push(row.map((v, i) => cell(v, fields[i]!.isJson)).join(delim));
  return out;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

export async function runUnload(ctx: CommandContext, cmd: UnloadCommand): Promise<CommandResult> {
  const { bucket, key: prefix } = parseS3Url(cmd.to);
  const existing = await listKeys(ctx.s3, bucket, prefix);
  if (existing.length && cmd.cleanPath) await deleteKeys(ctx.s3, bucket, existing.map((e) => e.key));
  else if (existing.length && !cmd.allowOverwrite)
    throw new RsError(
      'Specified unload destination on S3 is not empty. Consider using a different bucket / prefix, manually removing the target files in S3, or using the ALLOWOVERWRITE option.',
      'XX000',
    );
  const r = await ctx.query(cmd.query);
  const superOids = await jsonLikeOids(ctx, r.fields.map((f) => f.typeOid));
  const fields = r.fields.map((f) => ({ ...f, isJson: JSON_OIDS.has(f.typeOid) || superOids.has(f.typeOid) }));
  const lines = formatLines(cmd, fields, r.rows);
  const header = cmd.header ? lines.shift() : undefined;
  // split into files no larger than MAXFILESIZE (uncompressed), each starting with the header
  const files: string[][] = [];
  let cur: string[] = [];
  let size = 0;
  for (const line of lines) {
    const n = Buffer.byteLength(line) + 1;
    if (cur.length && size + n > cmd.maxFileSize) {
      files.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(line);
    size += n;
  }
  files.push(cur);
  const entries: Array<{ url: string; length: number; records: number }> = [];
  for (let i = 0; i < files.length; i++) {
    let name = cmd.parallel ? `${prefix}0000_part_${String(i).padStart(2, '0')}` : `${prefix}${String(i).padStart(3, '0')}`;
    if (cmd.extension) name += `.${cmd.extension}`;
    if (cmd.gzip) name += '.gz';
    const content = [...(header !== undefined ? [header] : []), ...files[i]!].map((l) => l + '\n').join('');
    let body = Buffer.from(content, 'utf8');
    if (cmd.gzip) body = gzipSync(body);
    await putObject(ctx.s3, bucket, name, body);
    entries.push({ url: `s3://${bucket}/${name}`, length: body.length, records: files[i]!.length });
  }
  if (cmd.manifest) {
    const manifest = cmd.manifestVerbose
      ? {
          entries: entries.map((e) => ({ url: e.url, meta: { content_length: e.length, record_count: e.records } })),
          schema: { elements: fields.map((f) => ({ name: f.name, type: { base: String(f.typeOid) } })) },
          meta: { content_length: entries.reduce((a, e) => a + e.length, 0), record_count: r.rows.length },
          author: { name: 'Amazon Redshift', version: '1.0.0' },
        }
      : { entries: entries.map((e) => ({ url: e.url })) };
    await putObject(ctx.s3, bucket, `${prefix}manifest`, Buffer.from(JSON.stringify(manifest), 'utf8'));
  }
  ctx.notice(`UNLOAD completed, ${r.rows.length} record(s) unloaded successfully.`, 'INFO');
  return { tag: 'UNLOAD' };
}

async function jsonLikeOids(ctx: CommandContext, oids: number[]): Promise<Set<number>> {
  const unknown = [...new Set(oids)].filter((o) => o > 10000);
  if (!unknown.length) return new Set();
  const r = await ctx.query(`SELECT oid FROM pg_type WHERE oid IN (${unknown.join(',')}) AND typbasetype IN (114, 3802)`);
  return new Set(r.rows.map((row) => Number(row[0])));
}
