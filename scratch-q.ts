import pg from 'pg';
import { planVerify, verifyColumnsOf } from './src/verify/plan.js';
import { summarySql } from './src/verify/sql.js';
import { sourceColumnsForDrift, readTargetColumns } from './src/setup/drift.js';
async function main() {
  const src = new pg.Client({ connectionString: process.env.SOURCE_URL }); await src.connect();
  await src.query("SET TimeZone='UTC'");
  const rs = new pg.Client({ connectionString: process.env.REDSHIFT_URL }); await rs.connect();
  await rs.query("SET timezone TO 'UTC'");
  const sc = verifyColumnsOf(await sourceColumnsForDrift(src, 'public', 'vb'));
  const tc = await readTargetColumns(rs, { schema: 'public', name: 'vb' });
  const plan = planVerify({ job: 'vb', table: { id: 1, jobId: 1, sourceSchema: 'public', sourceName: 'vb', destinationSchema: 'public', destinationName: null, copyMode: 'FULL_DATA_SYNC', primaryKey: 'id', updatedKey: null, disabled: false, maxPrimaryKey: null, maxUpdatedKey: null, rowLimit: null, chunkSize: null } as never, destinationSchema: 'public', sourceColumns: sc, targetColumns: tc, updatedKeyCutoff: null });
  const cut = { kind: 'range' as const, width: 1024n };
  const qs = summarySql('postgres', plan.source, plan.shape, cut, { kind: 'all' }, null);
  const qt = summarySql('redshift', plan.target, plan.shape, cut, { kind: 'all' }, null);
  let t = Date.now(); await src.query(qs); console.log('source', (Date.now() - t) / 1000);
  t = Date.now(); await rs.query(qt); console.log('target', (Date.now() - t) / 1000);
  const direct = new pg.Client({ connectionString: process.env.REDSHIFT_URL!.replace(/:\d+\/dev$/, ':' + new URL(process.env.DATABASE_URL!).port + '/dev') }); await direct.connect();
  await direct.query("SET timezone TO 'UTC'");
  console.log(qt);
  await src.end(); await rs.end(); await direct.end();
}
main();
