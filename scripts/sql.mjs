#!/usr/bin/env node
// `npm run sql -- URL ['SQL']`: runs SQL (the argument, else stdin; several statements
// allowed) against a PostgreSQL or Redshift URL and prints each result as a table, so the
// README's first job needs nothing but Node and npm (psql works just as well). Errors are
// one line on stderr, exit 1; a bad invocation exits 2. Never prints the URL's password.
import { readFileSync } from 'node:fs';
import pg from 'pg';

const [url, sqlArg] = process.argv.slice(2);
if (!url || url === '--help' || !/^(postgres(ql)?|redshift):\/\//.test(url)) {
  process.stderr.write('usage: npm run sql -- URL [SQL]   (URL: postgres://... or redshift://...; SQL from stdin when not given)\n');
  process.exit(url === '--help' ? 0 : 2);
}
const text = sqlArg ?? readFileSync(0, 'utf8');
const where = (() => {
  const u = new URL(url.replace(/^redshift:/, 'postgres:'));
  return `${u.hostname}:${u.port || 5432}${u.pathname}`;
})();

function table(result) {
  const names = result.fields.map((f) => f.name);
  const cell = (v) => (v === null ? '' : v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const rows = result.rows.map((r) => names.map((n) => cell(r[n])));
  const widths = names.map((n, i) => Math.max(n.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join(' | ').trimEnd();
  return [line(names), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map(line), `(${rows.length} row${rows.length === 1 ? '' : 's'})`].join('\n');
}

const client = new pg.Client({ connectionString: url.replace(/^redshift:/, 'postgres:') });
try {
  await client.connect();
  const results = [].concat(await client.query(text));
  for (const r of results) {
    if (r.fields?.length) process.stdout.write(`${table(r)}\n`);
    else if (r.command) process.stdout.write(`${r.command}${r.rowCount ? ` ${r.rowCount}` : ''}\n`);
  }
} catch (err) {
  process.stderr.write(`sql: ${where}: ${String(err.message).replace(/postgres(ql)?:\/\/[^@\s]*@/g, 'postgres://***@')}\n`);
  process.exitCode = 1;
} finally {
  await client.end().catch(() => undefined);
}
