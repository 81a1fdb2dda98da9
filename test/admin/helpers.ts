import pg from 'pg';
import { Redshift } from '../../src/admin/redshift.js';
import { redshiftTarget, type RedshiftTarget } from '../helpers/redshift.js';
import { stackEnv } from '../helpers/stack.js';

/** A schema on the Redshift target, a Redshift handle on it, and a plain client for checks. */
export interface AdminFixture {
  target: RedshiftTarget;
  schema: string;
  rs: Redshift;
  q<R extends pg.QueryResultRow = Record<string, any>>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Replaces the random schema name with SCHEMA, for snapshots. */
  scrub(text: string): string;
  close(): Promise<void>;
}

export async function adminFixture(prefix: string): Promise<AdminFixture> {
  const target = await redshiftTarget(prefix);
  const c = new pg.Client({ connectionString: target.url });
  await c.connect();
  await c.query(`SET timezone TO 'UTC'`);
  const rs = new Redshift({ url: target.url, env: { ...target.env, REDSHIFT_SLICES: '2', IMPORT_CHUNK_SIZE: '3' } });
  return {
    target,
    schema: target.schema,
    rs,
    q: (sql, params) => c.query(sql, params as unknown[]),
    scrub: (text) => text.split(target.schema).join('SCHEMA').replace(/OWNER TO "[^"]+"/g, 'OWNER TO "OWNER"'),
    async close() {
      await rs.close();
      await c.end().catch(() => undefined);
      await target.cleanup().catch(() => undefined);
    },
  };
}

/** pg_table_def rows of a table (schema must be on the search_path: set it per query). */
export async function tableDef(f: AdminFixture, table: string): Promise<Array<Record<string, unknown>>> {
  await f.q(`SET search_path TO "${f.schema}"`);
  const r = await f.q(`SELECT "column", type, TRIM(encoding) AS encoding, distkey, sortkey, "notnull" FROM pg_table_def WHERE schemaname = $1 AND tablename = $2 ORDER BY "column"`, [f.schema, table]);
  await f.q(`SET search_path TO "$user", public`);
  // Redshift shows ENCODE RAW as 'none'; the double keeps 'raw' when it was written explicitly.
  return r.rows.map((row) => ({ ...row, encoding: row.encoding === 'raw' ? 'none' : row.encoding }));
}

/**
 * A URL that logs in as `user` with `password`. The double accepts any login and runs
 * everything as its admin user, so against the double this goes straight to its upstream
 * Postgres (same database), where passwords and privileges are checked.
 */
export function loginUrl(f: AdminFixture, user: string, password: string): string {
  const u = new URL(f.target.url);
  if (!f.target.real) {
    const up = new URL(stackEnv().STACK_POSTGRES_URL);
    u.host = up.host;
  }
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
}
