import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGzip, type Gzip } from 'node:zlib';
import type { CopyAuth } from '../redshift/sql.js';
import { quoteIdents, quoteLiteral } from '../sql/quote.js';
import { relationSql, type Relation } from './names.js';
import { authClause } from './s3-auth.js';

/**
 * JSON lines -> Redshift: the lines are split round-robin into one gzip file per slice
 * (so every slice loads one file), a jsonpaths file maps values to columns (the table's
 * columns in order, or every key alphabetically when the table does not exist yet), and
 * one COPY ... FORMAT AS JSON 'jsonpaths' GZIP TIMEFORMAT 'auto' reads them through a
 * manifest. Local files are temporary; S3 files are deleted after the COPY.
 */
export class CopyJsonError extends Error {
  override name = 'CopyJsonError';
}

export interface SplitResult {
  dir: string;
  files: Array<{ path: string; rows: number; bytes: number }>;
  rows: number;
  /** Every top-level key seen, sorted. */
  keys: string[];
  /** Input line numbers of the blank lines skipped (to map a file's line back to the input). */
  blankLines: number[];
}

/** `$['col']` for each column (bracket notation: any column name). */
export function jsonPaths(columns: readonly string[]): { jsonpaths: string[] } {
  return { jsonpaths: columns.map((c) => `$['${c.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`) };
}

export interface CopyJsonSqlOptions {
  table: Relation;
  /** COPY column list; omitted (all columns in order) when the jsonpaths follow the table. */
  columns?: readonly string[];
  manifestUrl: string;
  jsonPathsUrl: string;
  auth: CopyAuth;
  region?: string;
}

export function copyJsonSql(o: CopyJsonSqlOptions): string {
  const cols = o.columns?.length ? ` (${quoteIdents(o.columns)})` : '';
  const lines = [
    `COPY ${relationSql(o.table)}${cols}`,
    `FROM ${quoteLiteral(o.manifestUrl)}`,
    authClause(o.auth),
    `MANIFEST FORMAT AS JSON ${quoteLiteral(o.jsonPathsUrl)} GZIP TIMEFORMAT 'auto' DATEFORMAT 'auto'`,
  ];
  if (o.region) lines.push(`REGION ${quoteLiteral(o.region)}`);
  return lines.join('\n');
}

export const jsonPartName = (i: number) => `part-${String(i + 1).padStart(5, '0')}.json.gz`;

async function lineSource(input: string | Readable): Promise<Readable> {
  if (typeof input !== 'string') return input;
  if (input === '-') return process.stdin;
  await stat(input).catch(() => {
    throw new CopyJsonError(`cannot read ${input}: no such file`);
  });
  return createReadStream(input);
}

function endStream(gz: Gzip, out: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    out.once('finish', resolve);
    out.once('error', reject);
    gz.end();
  });
}

/**
 * Reads JSON lines (a path, `-` for stdin, or a stream) into `slices` gzip files in a new
 * temp dir, round-robin. Blank lines are skipped; a line that is not a JSON object fails
 * with its line number. The caller removes `dir`.
 */
export async function splitJsonLines(input: string | Readable, slices: number): Promise<SplitResult> {
  if (!Number.isInteger(slices) || slices < 1) throw new CopyJsonError('slices must be a positive whole number');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rl-copy-json-'));
  const outs = Array.from({ length: slices }, (_, i) => {
    const p = path.join(dir, jsonPartName(i));
    const gz = createGzip({ level: 6 });
    const out = createWriteStream(p);
    gz.pipe(out);
    return { path: p, gz, out, rows: 0 };
  });
  const keys = new Set<string>();
  const blankLines: number[] = [];
  let rows = 0;
  let lineNo = 0;
  try {
    const rl = createInterface({ input: await lineSource(input), crlfDelay: Infinity });
    for await (const line of rl) {
      lineNo++;
      if (line.trim() === '') {
        blankLines.push(lineNo);
        continue;
      }
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        throw new CopyJsonError(`line ${lineNo}: not valid JSON (${(e as Error).message})`);
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new CopyJsonError(`line ${lineNo}: not a JSON object`);
      for (const k of Object.keys(value)) keys.add(k);
      const o = outs[rows % slices]!;
      if (!o.gz.write(`${line}\n`)) await new Promise((r) => o.gz.once('drain', r));
      o.rows++;
      rows++;
    }
    await Promise.all(outs.map((o) => endStream(o.gz, o.out)));
  } catch (err) {
    for (const o of outs) o.gz.destroy();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const files = await Promise.all(outs.map(async (o) => ({ path: o.path, rows: o.rows, bytes: (await stat(o.path)).size })));
  return { dir, files, rows, keys: [...keys].sort(), blankLines };
}

/**
 * The input line of line `line` (1-based) of part file `part` (0-based) written by
 * splitJsonLines with `slices` files: records go round-robin, blank lines are skipped.
 */
export function inputLineOf(part: number, line: number, slices: number, blankLines: readonly number[]): number {
  const record = (line - 1) * slices + part; // 0-based among non-blank lines
  let n = record + 1;
  for (const b of blankLines) {
    if (b <= n) n++;
    else break;
  }
  return n;
}

/** `part-00003.json.gz` -> 2. */
export function partIndexOf(fileName: string): number | null {
  const m = /part-(\d+)\.json\.gz$/.exec(fileName);
  return m ? Number(m[1]) - 1 : null;
}

