import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import type { Encoder } from '@toondepauw/node-zstd';
import type { Compression } from '../extract/compress.js';
import { CSV_NULL } from '../redshift/csv.js';

/**
 * The rows `doctor` loads into the cluster to see that it reads what the loader writes:
 * the cases where a CSV dialect or a decompressor would go wrong, in the loader's own CSV
 * (src/redshift/csv.ts: every value quoted, NULL as the bare sentinel), the timestamps
 * as the extract prints them (UTC session, ISO).
 */
export interface ProbeRow {
  id: number;
  v: string | null;
  ts: string | null;
  /** What this row checks, in the doctor's words. */
  what: string;
}

export const PROBE_ROWS: readonly ProbeRow[] = [
  { id: 1, v: null, ts: '2024-02-29 23:59:59.123456+00', what: 'NULL, and a timestamptz with microseconds' },
  { id: 2, v: '', ts: null, what: "an empty string (not NULL), and a NULL timestamptz" },
  { id: 3, v: CSV_NULL, ts: '1970-01-01 00:00:00+00', what: `a quoted "${CSV_NULL}" (the NULL sentinel as text)` },
  { id: 4, v: 'a, "quoted"\nsecond line \\N\ttab', ts: '1999-12-31 23:59:59.999999+00', what: 'commas, quotes, a newline, \\N and a tab inside a value' },
  { id: 5, v: 'ünïcødé 🎉 漢字', ts: '2038-01-19 03:14:08+00', what: '2-, 3- and 4-byte UTF-8' },
];

/** One row as the extract writes it (COPY ... CSV, NULL '__RL_NULL__', FORCE_QUOTE *). */
export function probeCsvLine(r: ProbeRow): string {
  const field = (v: string | number | null) => (v === null ? CSV_NULL : `"${String(v).replace(/"/g, '""')}"`);
  return `${[field(r.id), field(r.v), field(r.ts)].join(',')}\n`;
}

/**
 * The probe file: zstd with one frame per row (several frames, as a file over 8 MiB of
 * CSV has in a real sync), or one gzip member with COMPRESSION=gzip.
 */
export function probeFile(c: Compression): { body: Buffer; frames: number } {
  const lines = PROBE_ROWS.map(probeCsvLine);
  if (c.format === 'gzip') return { body: gzipSync(lines.join(''), { level: c.level }), frames: 1 };
  const { Encoder: Enc } = createRequire(import.meta.url)('@toondepauw/node-zstd') as { Encoder: new (level: number) => Encoder };
  const enc = new Enc(c.level);
  return { body: Buffer.concat(lines.map((l) => enc.encodeSync(Buffer.from(l, 'utf8')))), frames: lines.length };
}
