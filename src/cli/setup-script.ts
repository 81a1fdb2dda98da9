/**
 * `setup --dry-run > plan.sql`: the plan as a SQL script. Setup's report lines become
 * comments, the indexes its warnings suggest become a section of their own (run on the
 * source), followed by setup's Redshift and metadata DB sections. Every line is then SQL or
 * a comment, and each section runs as it is on its database.
 */
const INDEX_IN_WARNING = /\(CREATE INDEX ON ((?:"(?:[^"]|"")*")\.(?:"(?:[^"]|"")*")) \(((?:"(?:[^"]|"")*"))\)\)$/;

export const SOURCE_SECTION = '-- on the source (suggested; setup never runs it):';

export function setupPlanAsSql(output: string): string {
  const lines = output.replace(/\n$/, '').split('\n');
  let first = lines.findIndex((l) => /^-- on /.test(l));
  if (first < 0) first = lines.length;
  const plan = lines.slice(0, first).map((l) => (l === '' || l.startsWith('--') ? l : `-- ${l}`));
  const indexes = [...new Set(lines.slice(0, first).flatMap((l) => {
    const m = INDEX_IN_WARNING.exec(l);
    return m ? [`CREATE INDEX ON ${m[1]} (${m[2]});`] : [];
  }))];
  const source = indexes.length > 0 ? ['', SOURCE_SECTION, ...indexes] : [];
  const rest = lines.slice(first);
  return `${[...plan, ...source, ...(rest.length && rest[0] !== '' ? [''] : []), ...rest].join('\n')}\n`;
}
