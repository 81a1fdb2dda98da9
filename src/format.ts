/** Small text helpers shared by status, alerts and the CLI's summaries: pure. */

export function humanSeconds(s: number): string {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${Math.round(s / 86400)} days`;
}

/** An error without its leading `job "x", table s.t: ` when the line names them already. */
export function withoutWhere(error: string, job: string, table: string): string {
  const where = `job "${job}", table ${table}: `;
  return error.startsWith(where) ? error.slice(where.length) : error;
}

export const utcText = (d: Date | null) => (d ? `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC` : 'never');
