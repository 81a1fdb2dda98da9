import { cdcNames } from '../sync/cdc/slot.js';
import { resolveConnectionString } from '../config/connection.js';
import { connect } from '../db/connect.js';
import { qualify, quoteIdent } from '../sql/quote.js';
import * as meta from '../metadata/store.js';
import type { CopyMode, JobRow, TableRow } from '../metadata/types.js';

/**
 * `redshift-loader grants --job NAME`: the least-privilege SQL for the job's two users,
 * printed (never run). Pure builder plus a small loader of the job's rows.
 */
export interface GrantTable {
  sourceSchema: string;
  sourceName: string;
  targetSchema: string;
  targetName: string;
  copyMode: CopyMode;
}

export interface GrantsInput {
  jobName: string;
  sourceUser: string;
  sourceDatabase: string;
  destinationUser: string;
  destinationDatabase: string;
  tables: GrantTable[];
}

const uniq = <T>(xs: T[]) => [...new Set(xs)];

export function grantsSql(g: GrantsInput): string {
  const su = quoteIdent(g.sourceUser);
  const du = quoteIdent(g.destinationUser);
  const srcSchemas = uniq(g.tables.map((t) => t.sourceSchema)).sort();
  const dstSchemas = uniq(g.tables.map((t) => t.targetSchema)).sort();
  const L: string[] = [];
  L.push(`-- Least-privilege users for redshift-loader job "${g.jobName}" (${g.tables.length} table(s)).`);
  L.push('-- Review, set passwords, and run each part as an owner/superuser of that database.', '');
  L.push(`-- ===== Source (PostgreSQL, database ${g.sourceDatabase}): read-only user =====`);
  L.push(`-- CREATE ROLE ${su} LOGIN PASSWORD '...';`);
  L.push(`ALTER ROLE ${su} SET default_transaction_read_only = on;`);
  L.push(`GRANT CONNECT ON DATABASE ${quoteIdent(g.sourceDatabase)} TO ${su};`);
  for (const s of srcSchemas) L.push(`GRANT USAGE ON SCHEMA ${quoteIdent(s)} TO ${su};`);
  for (const t of g.tables) L.push(`GRANT SELECT ON ${qualify(t.sourceSchema, t.sourceName)} TO ${su};`);
  L.push('-- Tables created later (run as the role that creates them, or add FOR ROLE that_role):');
  for (const s of srcSchemas) L.push(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${quoteIdent(s)} GRANT SELECT ON TABLES TO ${su};`);
  L.push('-- Lets the loader see other sessions\' open transactions in pg_stat_activity, so an');
  L.push('-- INSERT_AND_UPDATE watermark never passes a transaction that has not committed yet');
  L.push('-- (late-commit safety). Without it, only UPDATED_KEY_OVERLAP_SECONDS protects those rows.');
  L.push(`GRANT pg_read_all_stats TO ${su};`);
  const cdc = g.tables.filter((t) => t.copyMode === 'CDC');
  if (cdc.length > 0) {
    // copy_mode CDC (src/sync/cdc): a replication slot and a publication named after the job.
    L.push('-- copy_mode CDC reads the write-ahead log (Amazon RDS/Aurora: GRANT rds_replication TO the user instead),');
    L.push("-- creates the job's publication, and writes one marker message per run (BEGIN READ WRITE):");
    L.push(`ALTER ROLE ${su} WITH REPLICATION;`);
    L.push(`GRANT CREATE ON DATABASE ${quoteIdent(g.sourceDatabase)} TO ${su};`);
    L.push('-- Only a table\'s owner may publish it: make the user the owner of the CDC tables, or');
    L.push(`-- create the publication yourself as their owner: CREATE PUBLICATION ${quoteIdent(cdcNames(g.jobName).publication)} FOR TABLE ${cdc.map((t) => qualify(t.sourceSchema, t.sourceName)).join(', ')};`);
    for (const t of cdc) L.push(`-- ALTER TABLE ${qualify(t.sourceSchema, t.sourceName)} OWNER TO ${su};`);
  }
  L.push('');
  L.push(`-- ===== Destination (Redshift, database ${g.destinationDatabase}): read-write user =====`);
  L.push(`-- CREATE USER ${du} PASSWORD '...';`);
  L.push('-- Staging tables are temporary tables:');
  L.push(`GRANT TEMP ON DATABASE ${quoteIdent(g.destinationDatabase)} TO ${du};`);
  const fullSchemas = new Set(g.tables.filter((t) => t.copyMode === 'FULL_DATA_SYNC').map((t) => t.targetSchema));
  for (const s of dstSchemas) {
    const why = fullSchemas.has(s) ? ' -- CREATE: setup creates tables, FULL_DATA_SYNC builds and swaps in a new table' : ' -- CREATE: setup creates the target tables';
    // Created here (by the admin running this script), so the user needs no CREATE ON DATABASE.
    L.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(s)};`);
    L.push(`GRANT USAGE, CREATE ON SCHEMA ${quoteIdent(s)} TO ${du};${why}`);
  }
  for (const t of g.tables) L.push(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${qualify(t.targetSchema, t.targetName)} TO ${du};`);
  const full = g.tables.filter((t) => t.copyMode === 'FULL_DATA_SYNC' || t.copyMode === 'CDC');
  if (full.length > 0) {
    L.push(`-- FULL_DATA_SYNC${full.some((t) => t.copyMode === 'CDC') ? " (and CDC's initial load)" : ''} renames and drops the old table, which Redshift allows only to the owner:`);
    for (const t of full) L.push(`ALTER TABLE ${qualify(t.targetSchema, t.targetName)} OWNER TO ${du};`);
  }
  L.push('-- Schema drift (ALTER TABLE ... ADD COLUMN / ALTER COLUMN TYPE) also needs ownership of the');
  L.push('-- targets (or the ALTER TABLE privilege); tables created by setup as this user are its own.');
  L.push('');
  return L.join('\n');
}

function userAndDatabase(value: string, what: string, fallbackUser: string): { user: string; database: string } {
  try {
    const u = new URL(resolveConnectionString(value, what));
    return { user: decodeURIComponent(u.username) || fallbackUser, database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres' };
  } catch {
    return { user: fallbackUser, database: 'DATABASE_NAME' };
  }
}

export function grantsInputFor(job: JobRow, tables: TableRow[], users: { sourceUser?: string; destinationUser?: string } = {}): GrantsInput {
  const src = userAndDatabase(job.sourceConnectionString, `job "${job.name}" source_connection_string`, 'redshift_loader_source');
  const dst = userAndDatabase(job.destinationConnectionString, `job "${job.name}" destination_connection_string`, 'redshift_loader');
  return {
    jobName: job.name,
    sourceUser: users.sourceUser ?? src.user,
    sourceDatabase: src.database,
    destinationUser: users.destinationUser ?? dst.user,
    destinationDatabase: dst.database,
    tables: tables
      .filter((t) => !t.disabled)
      .map((t) => ({ sourceSchema: t.sourceSchema, sourceName: t.sourceName, targetSchema: t.destinationSchema ?? job.destinationSchema, targetName: t.destinationName ?? t.sourceName, copyMode: t.copyMode })),
  };
}

export async function grantsForJob(metadataUrl: string, jobName: string, users: { sourceUser?: string; destinationUser?: string } = {}): Promise<string> {
  const db = await connect(metadataUrl, 'redshift-loader grants');
  try {
    const job = await meta.getJobByName(db, jobName);
    return grantsSql(grantsInputFor(job, await meta.listTables(db, job.id), users));
  } finally {
    await db.end().catch(() => undefined);
  }
}
