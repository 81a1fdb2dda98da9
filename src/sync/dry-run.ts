import { resolveConnectionString } from '../config/connection.js';
import type { Env } from '../config/env.js';
import { connect } from '../db/connect.js';
import { redactText } from '../log.js';
import { sourceColumns } from './catalog.js';
import { copyAuth, jobS3, matchesGlob } from './engine.js';
import * as load from './load.js';
import * as meta from './metadata.js';
import { OPEN_TRANSACTIONS_SQL, WM_SETTING, planBatch, planTable, watermarkFromRow } from './plan.js';

/**
 * `sync --dry-run`: the plan and every statement of each table's next batch, printed, with
 * nothing written anywhere (it reads the metadata rows and the source catalog only).
 */
export async function dryRunJob(metadataUrl: string, jobName: string, tableGlob: string | undefined, env: Env): Promise<string> {
  const out: string[] = [];
  const db = await connect(metadataUrl);
  try {
    const job = await meta.getJobByName(db, jobName);
    const { bucket, prefix } = jobS3(job, env);
    const auth = copyAuth(job, env);
    const tables = (await meta.listTables(db, job.id)).filter((t) => !t.disabled && (!tableGlob || matchesGlob(tableGlob, t.sourceSchema, t.sourceName)));
    const src = await connect(resolveConnectionString(job.sourceConnectionString, `job "${job.name}" source_connection_string`));
    try {
      for (const t of tables) {
        const name = `${t.sourceSchema}.${t.sourceName}`;
        out.push(`-- job "${job.name}", table ${name}`);
        try {
          const plan = planTable(t, await sourceColumns(src, t.sourceSchema, t.sourceName), { rowLimit: env.IMPORT_ROW_LIMIT, chunkSize: env.IMPORT_CHUNK_SIZE, destinationSchema: job.destinationSchema }, job.name);
          const wm = watermarkFromRow(t, plan, job.name);
          const q = planBatch(plan, wm);
          out.push(
            `-- mode ${plan.mode}, target ${plan.target.schema}.${plan.target.name}, key (${plan.keysetColumns.join(', ') || 'none'}), watermark ${JSON.stringify(wm)}`,
            `-- row limit ${plan.rowLimit}, about ${plan.chunkSize} rows per file, files under s3://${bucket}/${prefix}/${name}/`,
            plan.mode === 'INSERT_AND_UPDATE' && wm.updatedKey ? `-- the first batch re-reads ${env.UPDATED_KEY_OVERLAP_SECONDS} s below the watermark (late commits)` : '',
            '-- on the source, per batch:',
            'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;',
            plan.mode === 'INSERT_AND_UPDATE' ? `${OPEN_TRANSACTIONS_SQL};` : '',
            `SELECT set_config('${WM_SETTING}', '${q.settings.replace(/'/g, "''")}', true);`,
            `${q.boundsSql};`,
            `${q.copySql};`,
            'COMMIT;',
            '-- on Redshift:',
          );
          const manifest = `s3://${bucket}/${prefix}/${name}/run-<id>/batch-00001/manifest.json`;
          if (plan.mode === 'FULL_DATA_SYNC') {
            out.push(...load.prepareSwapStatements(plan).map((s) => `${s};`), `${load.fullSyncBatchStatement(plan, manifest, auth)};`, '-- after the last batch, one transaction renames the swap table in, carrying owner and grants');
          } else {
            out.push(...load.incrementalStatements(plan, 'rl_stage_<random>', manifest, auth).map((s) => `${s};`));
          }
        } catch (err) {
          out.push(`-- ERROR: ${err instanceof Error ? err.message : String(err)}`);
        }
        out.push('');
      }
    } finally {
      await src.end().catch(() => undefined);
    }
  } finally {
    await db.end().catch(() => undefined);
  }
  return redactText(out.filter((l) => l !== '').join('\n')) + '\n';
}
