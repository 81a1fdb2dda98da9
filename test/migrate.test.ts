import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { migrate, readMigrations } from '../src/db/migrate.js';
import { freshDatabase, withClient } from './helpers/stack.js';

// The data model as schema.prisma states it (what Prisma Studio shows): the migrations
// must produce exactly that. The schema is read here with a small parser of its model
// blocks: fields, their types, `?`, `@map` and `@@map`.
interface DmmfField { name: string; kind: 'scalar' | 'enum' | 'object'; type: string; dbName?: string }
interface DmmfModel { fields: DmmfField[]; dbName: string | null }

async function clientModels(): Promise<Record<string, DmmfModel>> {
  const src = await readFile(new URL('../prisma/schema.prisma', import.meta.url), 'utf8');
  const enums = new Set([...src.matchAll(/^enum (\w+) \{/gm)].map((m) => m[1]!));
  const models: Record<string, DmmfModel> = {};
  for (const block of src.matchAll(/^model (\w+) \{([\s\S]*?)\n\}/gm)) {
    const names = new Set([...src.matchAll(/^model (\w+) \{/gm)].map((m) => m[1]!));
    const fields: DmmfField[] = [];
    let dbName: string | null = null;
    for (const raw of block[2]!.split('\n')) {
      const line = raw.replace(/\/\/.*$/, '').trim();
      const tableMap = line.match(/^@@map\("([^"]+)"\)/);
      if (tableMap) dbName = tableMap[1]!;
      const f = line.match(/^(\w+)\s+(\w+)(\?|\[\])?(.*)$/);
      if (!f) continue;
      const map = f[4]!.match(/@map\("([^"]+)"\)/);
      const kind = names.has(f[2]!) ? 'object' : enums.has(f[2]!) ? 'enum' : 'scalar';
      fields.push({ name: f[1]!, kind, type: f[2]!, ...(map ? { dbName: map[1]! } : {}) });
    }
    models[block[1]!] = { fields, dbName };
  }
  return models;
}

/** Field optionality straight from schema.prisma (`Type?`). */
async function schemaOptional(): Promise<Map<string, Set<string>>> {
  const src = await readFile(new URL('../prisma/schema.prisma', import.meta.url), 'utf8');
  const out = new Map<string, Set<string>>();
  for (const block of src.matchAll(/model (\w+) \{([\s\S]*?)\n\}/g)) {
    const opt = new Set<string>();
    for (const line of block[2]!.split('\n')) {
      const f = line.trim().match(/^(\w+)\s+(\w+)(\?|\[\])?/);
      if (f && f[3] === '?') opt.add(f[1]!);
    }
    out.set(block[1]!, opt);
  }
  return out;
}

const PG_TYPE: Record<string, string> = {
  Int: 'int4',
  BigInt: 'int8',
  String: 'text',
  Boolean: 'bool',
  DateTime: 'timestamptz',
  Json: 'jsonb',
};

describe('migrations', () => {
  it('are idempotent and recorded like Prisma Migrate records them', async () => {
    const { url } = await freshDatabase('mig');
    const first = await migrate(url);
    expect(first.applied.length).toBeGreaterThan(0);
    const second = await migrate(url);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toEqual(first.applied);
    const files = await readMigrations();
    const rows = await withClient(url, (c) =>
      c.query('SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name'),
    );
    expect(rows.rows.map((r) => [r.migration_name, r.checksum, r.applied_steps_count])).toEqual(files.map((f) => [f.name, f.checksum, 1]));
    expect(rows.rows.every((r) => r.finished_at instanceof Date)).toBe(true);
  });

  it('agree with schema.prisma (contract)', async () => {
    const { url } = await freshDatabase('contract');
    await migrate(url);
    const models = await clientModels();
    const optional = await schemaOptional();
    const cols = await withClient(url, (c) =>
      c.query<{ table_name: string; column_name: string; udt_name: string; is_nullable: string; data_type: string }>(
        `SELECT table_name, column_name, udt_name, is_nullable, data_type FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`,
      ),
    );
    const db = new Map<string, Map<string, { type: string; nullable: boolean }>>();
    for (const r of cols.rows) {
      if (!db.has(r.table_name)) db.set(r.table_name, new Map());
      db.get(r.table_name)!.set(r.column_name, { type: r.udt_name, nullable: r.is_nullable === 'YES' });
    }
    const expected = new Map<string, Map<string, { type: string; nullable: boolean }>>();
    for (const [modelName, model] of Object.entries(models)) {
      const table = model.dbName ?? modelName;
      const m = new Map<string, { type: string; nullable: boolean }>();
      for (const f of model.fields) {
        if (f.kind === 'object') continue;
        const type = f.kind === 'enum' ? (f.type === 'CopyMode' ? 'copy_mode' : 'sync_status') : PG_TYPE[f.type]!;
        m.set(f.dbName ?? f.name, { type, nullable: optional.get(modelName)!.has(f.name) });
      }
      expected.set(table, m);
    }
    const asObj = (x: Map<string, Map<string, unknown>>) => Object.fromEntries([...x].map(([k, v]) => [k, Object.fromEntries(v)]));
    expect(asObj(db)).toEqual(asObj(expected));
    // The contract the issue names, spelled out, so a rename in both places still fails here.
    expect([...db.keys()].sort()).toEqual(['jobs', 'schedule_events', 'sync_runs', 'tables']);
    for (const c of ['source_connection_string', 'destination_connection_string', 's3_bucket', 's3_prefix', 'iam_role', 'destination_schema', 'enabled']) {
      expect(db.get('jobs')!.has(c)).toBe(true);
    }
    for (const c of ['source_schema', 'source_name', 'destination_schema', 'destination_name', 'copy_mode', 'primary_key', 'updated_key', 'disabled', 'max_primary_key', 'max_updated_key', 'row_limit', 'chunk_size', 'last_synced_at', 'last_error']) {
      expect(db.get('tables')!.has(c)).toBe(true);
    }
  });

  it('keep updated_at current on hand edits and apply defaults', async () => {
    const { url } = await freshDatabase('defaults');
    await migrate(url);
    await withClient(url, async (c) => {
      await c.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ('a', 'env:S', 'env:D')`);
      const job = (await c.query('SELECT * FROM jobs')).rows[0];
      expect(job).toMatchObject({ destination_schema: 'public', enabled: true, s3_bucket: null });
      await c.query(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key) VALUES ($1, 'orders', 'INSERT_ONLY', 'id')`, [job.id]);
      const t = (await c.query('SELECT * FROM tables')).rows[0];
      expect(t).toMatchObject({ source_schema: 'public', disabled: false, max_primary_key: null, destination_name: null });
      await expect(c.query(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key) VALUES ($1, 'orders', 'INSERT_ONLY', 'id')`, [job.id])).rejects.toThrow(/duplicate key/);
      await expect(c.query(`INSERT INTO tables (job_id, source_name, copy_mode) VALUES ($1, 'x', 'UPSERT')`, [job.id])).rejects.toThrow(/invalid input value for enum copy_mode/);
      await new Promise((r) => setTimeout(r, 5));
      await c.query(`UPDATE jobs SET enabled = false`);
      const after = (await c.query('SELECT * FROM jobs')).rows[0];
      expect(after.updated_at.getTime()).toBeGreaterThan(job.updated_at.getTime());
    });
  });
});
