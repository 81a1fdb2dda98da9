import pg from 'pg';
import { CommandError } from '../errors.js';
import { connectError, endpointOf } from './endpoint.js';
import { readMigrations } from './migrate.js';
import type { SessionTimeouts } from './connect.js';

/**
 * The metadata DB as a command finds it: reachable (else an error naming DATABASE_URL and
 * host:port/database, never the password) and, for every command but `migrate`, migrated
 * (else the fix: run `redshift-loader migrate`).
 */
export interface MetadataState {
  endpoint: string;
  /** Migrations in prisma/migrations/ not applied to this database. */
  missing: string[];
  /** No migration applied at all (the tables do not exist). */
  empty: boolean;
}

/** The metadata DB cannot be reached: names DATABASE_URL and host:port/database, never the password. */
export class MetadataUnreachable extends CommandError {
  constructor(
    readonly endpoint: string,
    readonly reason: string,
  ) {
    super(`cannot connect to the metadata DB (DATABASE_URL) at ${endpoint}: ${reason}; check DATABASE_URL and that the server accepts connections`);
  }
}

export async function inspectMetadataDb(url: string, timeouts?: Pick<SessionTimeouts, 'connectSeconds'>): Promise<MetadataState> {
  const endpoint = endpointOf(url);
  const client = new pg.Client({ connectionString: url, application_name: 'redshift-loader', connectionTimeoutMillis: (timeouts?.connectSeconds ?? 30) * 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    const e = connectError(url, err);
    throw new MetadataUnreachable(e.endpoint, e.reason);
  }
  try {
    const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('"_prisma_migrations"')::text AS t`);
    const applied = new Set<string>();
    if (exists.rows[0]!.t) {
      const r = await client.query<{ migration_name: string }>(`SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`);
      for (const row of r.rows) applied.add(row.migration_name);
    }
    const missing = (await readMigrations()).map((m) => m.name).filter((n) => !applied.has(n));
    return { endpoint, missing, empty: applied.size === 0 };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Throws a CommandError with the fix when the metadata DB is unreachable or not migrated. */
export async function requireMigratedMetadataDb(url: string, timeouts?: Pick<SessionTimeouts, 'connectSeconds'>): Promise<void> {
  const s = await inspectMetadataDb(url, timeouts);
  if (s.empty) throw new CommandError(`the metadata DB at ${s.endpoint} has no redshift-loader tables yet: run redshift-loader migrate (or check that DATABASE_URL names the right database)`);
  if (s.missing.length > 0) throw new CommandError(`the metadata DB at ${s.endpoint} is missing ${s.missing.length} migration(s) (${s.missing.join(', ')}): run redshift-loader migrate`);
}

/** Throws a CommandError naming the metadata DB when it cannot be reached. */
export async function requireReachableMetadataDb(url: string, timeouts?: Pick<SessionTimeouts, 'connectSeconds'>): Promise<void> {
  await inspectMetadataDb(url, timeouts);
}
