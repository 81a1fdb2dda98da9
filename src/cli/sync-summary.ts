import { withoutWhere } from '../format.js';
import type { JobResult } from '../sync/engine.js';

/**
 * What a person at a terminal sees after `sync`: one line per table (rows changed and
 * re-read, files, MiB of CSV, seconds), then each failure in full. Scripts get JSON log
 * lines on stdout and one line per table on stderr instead (stdout not a TTY).
 */
export function formatSyncSummary(r: JobResult): string {
  const header = ['TABLE', 'RESULT', 'CHANGED', 'RE-READ', 'FILES', 'MiB', 'SECONDS'];
  const rows = r.tables.map((t) => [
    t.table,
    t.ok ? 'ok' : 'FAILED',
    String(t.changed),
    String(t.reread),
    String(t.files ?? 0),
    ((t.bytes ?? 0) / 1024 / 1024).toFixed(2),
    (t.seconds ?? 0).toFixed(1),
  ]);
  const numeric = new Set([2, 3, 4, 5, 6]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const failed = r.tables.filter((t) => !t.ok);
  const lines = [fmt(header), ...rows.map(fmt)];
  lines.push(
    failed.length === 0
      ? `job "${r.job}": ${r.tables.length} table(s) synced`
      : `job "${r.job}": ${failed.length} of ${r.tables.length} table(s) failed:`,
  );
  for (const t of failed) lines.push(`  ${t.table}: ${withoutWhere(t.error ?? 'failed', r.job, t.table)}`);
  return `${lines.join('\n')}\n`;
}

/** One line per table, for stderr when stdout is not a terminal (the format scripts grep). */
export function formatSyncLines(r: JobResult): string {
  return r.tables.map((t) => `${t.ok ? 'ok    ' : 'FAILED'} ${t.table}: ${t.rows} rows in ${t.batches} batch(es)${t.error ? ` -- ${t.error}` : ''}\n`).join('');
}
