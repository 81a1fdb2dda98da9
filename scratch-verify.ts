import pg from 'pg';
import { loadEnv } from './src/config/env.js';
import { createLogger } from './src/log.js';
import { syncJob } from './src/sync/engine.js';
import { verifyJob } from './src/verify/run.js';
import { copyOut } from './src/sync/copy-out.js';
import { copyToStdoutSql } from './src/sync/encoding.js';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const env0 = process.env;
const ROWS = Number(process.env.ROWS ?? 2000000);
async function main() {
  const env = loadEnv({ ...env0, LOG_LEVEL: 'info' });
  const log = createLogger({ level: process.env.LL ?? 'warn', pretty: false });
  const src = new pg.Client({ connectionString: env0.SOURCE_URL }); await src.connect();
  const rs = new pg.Client({ connectionString: env0.REDSHIFT_URL }); await rs.connect();
  const meta = new pg.Client({ connectionString: env0.DATABASE_URL }); await meta.connect();
  if (process.env.SETUP) {
    await src.query(`DROP TABLE IF EXISTS vb`);
    await src.query(`CREATE TABLE vb (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, note text NOT NULL, amount numeric(12,2), meta jsonb)`);
    await src.query(`INSERT INTO vb SELECT g, '2024-01-01'::timestamptz + g * interval '1 second', '2024-01-01'::timestamptz + g * interval '1 second',
           substr(md5(g::text) || md5((g * 7)::text), 1, 40 + g % 40), (g % 100000) / 100.0, jsonb_build_object('k', g % 10, 'tag', 'v' || (g % 100)) FROM generate_series(1, ${ROWS}) g`);
    await src.query(`VACUUM ANALYZE vb`);
    await rs.query(`DROP TABLE IF EXISTS vb`);
    await rs.query(`CREATE TABLE vb (id BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL, note VARCHAR(65535) NOT NULL, amount NUMERIC(12,2), meta SUPER) DISTKEY(id) SORTKEY(id)`);
    await meta.query(`DELETE FROM jobs WHERE name = 'vb'`);
    const job = await meta.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ('vb', 'env:SOURCE_URL', 'env:REDSHIFT_URL') RETURNING id`);
    await meta.query(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key, row_limit) VALUES ($1, 'vb', 'INSERT_ONLY', 'id', 1000000)`, [job.rows[0].id]);
    const t = Date.now();
    const r = await syncJob(env0.DATABASE_URL!, 'vb', {}, { env, log });
    console.log('sync', r.ok, (Date.now() - t) / 1000);
    await rs.query('VACUUM'); await src.query('CHECKPOINT');
  }
  const drain = async () => { const t = Date.now(); await pipeline(src.query(copyOut(copyToStdoutSql('SELECT id, created_at, updated_at, note, amount, meta FROM vb')) as never) as Readable, new Writable({ write: (_c, _e, cb) => cb() })); return (Date.now() - t) / 1000; };
  for (let i = 0; i < Number(process.env.ROUNDS ?? 2); i++) {
    const c = await drain();
    const t = Date.now();
    const v = await verifyJob(env0.DATABASE_URL!, 'vb', {}, { env, log });
    const s = (Date.now() - t) / 1000;
    const r = v.tables[0]!;
    console.log(`copy ${c} verify ${s} ratio ${(s / c).toFixed(2)} status ${r.status} ${r.error ?? ''} ranges ${JSON.stringify(r.ranges)} transferred ${r.rowsTransferred} diff ${r.missing.count}/${r.extra.count}/${r.differ.count}`);
  }
  if (process.env.DIRTY) {
    await rs.query(`UPDATE vb SET note = note || 'x' WHERE id IN (SELECT 1 + (g * 19997) % ${ROWS} FROM generate_series(1, 100) g)`);
    for (let i = 0; i < 2; i++) {
      const c = await drain();
      const t = Date.now();
      const v = await verifyJob(env0.DATABASE_URL!, 'vb', {}, { env, log });
      const s = (Date.now() - t) / 1000;
      const r = v.tables[0]!;
      console.log(`DIRTY copy ${c} verify ${s} ratio ${(s / c).toFixed(2)} status ${r.status} ranges ${JSON.stringify(r.ranges)} transferred ${r.rowsTransferred} diff ${r.missing.count}/${r.extra.count}/${r.differ.count}`);
    }
    const t = Date.now();
    const v = await verifyJob(env0.DATABASE_URL!, 'vb', { repair: true }, { env, log });
    console.log('repair', (Date.now() - t) / 1000, JSON.stringify(v.tables[0]!.repair));
  }
  await src.end(); await rs.end(); await meta.end();
}
main().catch((e) => { console.error(e); process.exit(1); });
