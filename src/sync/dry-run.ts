import { cdcNames } from './cdc/slot.js';
import type pg from 'pg';
import { resolveConnectionString } from '../config/connection.js';
import type { Env } from '../config/env.js';
import { connect, connectRedshift } from '../db/connect.js';
import { redactText } from '../log.js';
import { keyProblems } from '../redshift/sql.js';
import { Fence, showStep } from './fence.js';
import { selectColumns } from '../schema/ddl.js';
import { planDrift, readTargetColumns, sourceColumnsForDrift } from '../schema/drift.js';
import { compressionFromEnv } from '../extract/compress.js';
import { copyAuth, jobS3, matchesGlob } from './engine.js';
import * as load from './load.js';
import * as meta from '../metadata/store.js';
import {
  CLOSE_BATCH_KEYS_SQL,
  OPEN_TRANSACTIONS_SQL,
  SET_FILE_BOUNDS_SQL,
  SET_WATERMARK_SQL,
  SNAPSHOT_XIDS_SQL,
  batchKeysSql,
  batchKeysStepSql,
  batchRowsPerFile,
  declareBatchKeysSql,
  fullBatchFileEnds,
  planBatch,
  planFile,
  planTable,
  seenSettings,
  valueCheckSql,
  watermarkFromRow,
} from './plan.js';
import { hasRowXmin, sourceRelation } from '../schema/catalog.js';
import { parseTargetType } from '../schema/types.js';
import { tableValueRules } from '../schema/value-rules.js';

const literal = (v: string) => `'${v.replace(/'/g, "''")}'`;
/** A statement with its $n parameters, as a psql-ready line plus the values in a comment. */
const withParams = (sql: string, values: string[]) => `${sql.replace(/\$(\d+)/g, (_m, n: string) => literal(values[Number(n) - 1]!))};`;

/**
 * `sync --dry-run`: the plan and the statements of each table's next batch, printed, with
 * nothing written anywhere. It reads the metadata rows, the source catalog and (to show
 * schema drift) the target's columns; it writes nothing to any of them, nor to S3.
 */
export async function dryRunJob(metadataUrl: string, jobName: string, tableGlob: string | undefined, env: Env): Promise<string> {
  const out: string[] = [];
  const db = await connect(metadataUrl);
  try {
    const job = await meta.getJobByName(db, jobName);
    const { bucket, prefix } = jobS3(job, env);
    const auth = copyAuth(job, env);
    const compression = compressionFromEnv(env);
    const tables = (await meta.listTables(db, job.id)).filter((t) => !t.disabled && (!tableGlob || matchesGlob(tableGlob, t.sourceSchema, t.sourceName)));
    const src = await connect(resolveConnectionString(job.sourceConnectionString, `job "${job.name}" source_connection_string`));
    let rs: pg.Client | null = null;
    let rsError: string | null = null;
    try {
      rs = await connectRedshift(resolveConnectionString(job.destinationConnectionString, `job "${job.name}" destination_connection_string`));
    } catch (err) {
      rsError = err instanceof Error ? err.message : String(err);
    }
    try {
      for (const t of tables) {
        const name = `${t.sourceSchema}.${t.sourceName}`;
        const where = `job "${job.name}", table ${name}`;
        out.push(`-- ${where}`);
        if (t.copyMode === 'CDC') {
          // copy_mode CDC (src/sync/cdc): its batches are what the slot holds; reading them would consume nothing but is not a plan.
          out.push(`-- mode CDC: drained with the job's other CDC tables from replication slot "${cdcNames(job.name).slot}" (publication "${cdcNames(job.name).publication}"); each batch is staged and applied in one Redshift transaction (see src/sync/cdc/plan.ts); --dry-run does not read the slot`);
          continue;
        }
        try {
          const all = await sourceColumnsForDrift(src, t.sourceSchema, t.sourceName);
          if (all.length === 0) throw new Error(`${where}: source table ${name} not found`);
          const columns = selectColumns(all, t, where);
          let plan = planTable(t, columns, { rowLimit: env.IMPORT_ROW_LIMIT, chunkSize: env.IMPORT_CHUNK_SIZE, destinationSchema: job.destinationSchema }, job.name);
          const keyed = plan.keysetColumns.length > 0;
          const perFile = batchRowsPerFile(plan.rowLimit, plan.chunkSize, env.REDSHIFT_SLICES);
          const ends = fullBatchFileEnds(plan.rowLimit, plan.chunkSize, env.REDSHIFT_SLICES);
          out.push(
            `-- mode ${plan.mode}, target ${plan.target.schema}.${plan.target.name}, key (${plan.keysetColumns.join(', ') || 'none'}), watermark ${JSON.stringify(watermarkFromRow(t, plan, job.name))}`,
            `-- row limit ${plan.rowLimit}, about ${plan.chunkSize} rows per file, files under s3://${bucket}/${prefix}/${name}/`,
          );
          let resync = false;
          // Schema drift, exactly as the sync would plan it (and apply it, before the first batch).
          if (rs) {
            const target = await readTargetColumns(rs, plan.target);
            if (target.length === 0) {
              out.push(`-- ERROR: target table ${plan.target.schema}.${plan.target.name} does not exist in Redshift (run: redshift-loader setup --job ${job.name})`);
            } else {
              const d = planDrift(all, target, { target: plan.target, overrides: t, jobName: job.name, sourceName: name, knownAttnums: t.sourceAttnums ?? null });
              // Values Redshift cannot hold: the extract's SELECT under the table's value policies.
              plan = { ...plan, valueRules: tableValueRules(plan.columns, new Map(target.map((c) => [c.name, parseTargetType(c.type)])), t.valuePolicies, plan.primaryKey, where) };
              for (const p of d.problems) out.push(`-- ERROR: ${p}`);
              if (d.statements.length > 0) {
                out.push('-- schema drift: on Redshift, before the first batch:', ...d.statements.map((s) => `${s};`));
                resync = d.resync;
                if (d.resync) out.push('-- then both watermarks are set to NULL and the table is resynced from the start to fill the new column(s)');
              }
            }
          } else {
            out.push(`-- (schema drift not checked: cannot connect to Redshift: ${rsError})`);
          }
          const wm = watermarkFromRow(resync ? { ...t, maxPrimaryKey: null, maxUpdatedKey: null } : t, plan, job.name);
          if (plan.mode === 'INSERT_AND_UPDATE' && !resync && t.watermarkSnapshot) {
            const rel = await sourceRelation(src, t.sourceSchema, t.sourceName);
            if (rel && hasRowXmin(rel)) plan = { ...plan, seen: t.watermarkSnapshot };
          }
          const q = planBatch(plan, wm);
          const seen = plan.seen ? seenSettings(plan, '<xmax of the batch snapshot>') : '[]';
          if (plan.mode === 'INSERT_AND_UPDATE' && wm.updatedKey) out.push(`-- the first batch re-reads ${env.UPDATED_KEY_OVERLAP_SECONDS} s below the watermark (late commits)`);
          if (plan.seen) out.push('-- rows the previous run had already read are skipped: they lie in its key range and were committed before its first snapshot (the NOT (...) condition below)', `${SNAPSHOT_XIDS_SQL};`);
          out.push(
            '-- on the source, per batch:',
            'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;',
            plan.mode === 'INSERT_AND_UPDATE' ? `${OPEN_TRANSACTIONS_SQL};` : '',
            withParams(SET_WATERMARK_SQL, [q.settings, seen]),
          );
          if (keyed) {
            const file = planFile(plan, wm, plan.keysetColumns.map((c) => `<last ${c} of the file>`));
            out.push(
              `-- the batch's size, last key and file boundaries: a cursor over its keys, one step per file (every ${perFile}th key, ${ends.length} files for a full batch); each file is handed to the extract as soon as the next step shows the batch goes on`,
              `${declareBatchKeysSql(plan, wm)};`,
              `${batchKeysStepSql(ends[0]!)}; -- repeated, until the row-limit-th key or the end`,
              `${CLOSE_BATCH_KEYS_SQL};`,
              `-- a batch shorter than the row limit: its rows not yet handed out are cut again with their own file size, e.g. for a batch that ends within the first step (the rows after the last file handed out, in general):`,
              withParams(batchKeysSql(plan, wm), ['<rows per file>']),
              env.EXTRACT_SESSIONS > 1
                ? `-- files are extracted on ${env.EXTRACT_SESSIONS} sessions sharing this snapshot (the scanning session joins when the scan is done): SELECT pg_export_snapshot(); then on each other session: BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '<id>';`
                : '',
              '-- per file, on its session: its key bounds (the previous file\'s last key, or the watermark), then its COPY',
              withParams(SET_FILE_BOUNDS_SQL, [file.lo, file.hi, seen]),
              `${file.copySql};`,
            );
          } else {
            out.push(`${q.countSql};`, `${q.copySql};`, `-- the stream is cut into files of about ${perFile} rows at record boundaries`);
          }
          const check = valueCheckSql(plan, wm);
          if (check) out.push('-- values Redshift cannot hold: counted (and refused, for a kind Redshift would take silently) over the batch\'s rows', `${check};`);
          out.push('COMMIT;', '-- on Redshift:');
          // The run's fencing token is its table claim's; each writing transaction checks it.
          const fence = new Fence(plan.target, Number.NaN, 'dry-run');
          out.push(`-- at the start of the run: this run's claim token is written into ${plan.target.schema}.redshift_loader_state for the target (unless a newer run's is there)`);
          const manifest = `s3://${bucket}/${prefix}/${name}/run-<id>/batch-00001/manifest.json`;
          if (plan.mode === 'FULL_DATA_SYNC') {
            out.push(
              ...load.prepareSwapStatements(plan, '<run id>').map((s) => `${s};`),
              `${load.fullSyncBatchStatement(plan, '<run id>', manifest, auth, compression)};`,
              '-- after the last batch, one transaction locks the state table and the target, checks the fence, renames the swap table in, carrying owner and grants',
            );
          } else {
            const st = load.incrementalStatements(plan, 'rl_stage_<random>', manifest, auth, compression, fence, where);
            out.push(
              ...st.stage.map((s) => `${s};`),
              `SELECT pg_last_copy_count(); -- must equal the rows extracted, else the batch stops`,
              ...(t.allowDuplicateKeys ? [] : [`${keyProblems({ name: 'rl_stage_<random>', temp: true }, load.keyColumns(plan))}; -- must return nothing, else the batch stops naming the keys`]),
              ...st.merge.map(showStep),
              ...st.cleanup.map((s) => `${s};`),
            );
            if (t.deleteDetection) out.push('-- after the last batch: delete detection compares key sets in ranges and deletes target rows whose key is gone');
          }
        } catch (err) {
          out.push(`-- ERROR: ${err instanceof Error ? err.message : String(err)}`);
        }
        out.push('');
      }
    } finally {
      await src.end().catch(() => undefined);
      await rs?.end().catch(() => undefined);
    }
  } finally {
    await db.end().catch(() => undefined);
  }
  return redactText(out.filter((l) => l !== '').join('\n')) + '\n';
}
