import { readFile } from 'node:fs/promises';
import { connect, type SessionTimeouts } from '../db/connect.js';
import { redactText } from '../log.js';
import { executePlan, readSnapshot } from './db.js';
import { parseConfigText } from './file.js';
import { formatPlan, hasChanges, planApply, type ApplyPlan } from './plan.js';

/** Serializes concurrent applies (two people applying at once would each plan on rows the other changes). */
const APPLY_LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtext('redshift-loader apply'))`;

export interface ApplyOptions {
  file: string;
  dryRun?: boolean;
  prune?: boolean;
  timeouts?: SessionTimeouts;
}

export interface ApplyResult {
  /** 0 applied or nothing to do, 1 could not apply, 2 the file is invalid. */
  code: 0 | 1 | 2;
  /** The plan and the outcome (stdout). */
  output: string;
  /** One line per problem (stderr). */
  problems: string[];
  plan?: ApplyPlan;
}

/** `redshift-loader apply FILE`: validate (pure), read the rows, plan (pure), write in one transaction. */
export async function runApply(metadataUrl: string, opts: ApplyOptions): Promise<ApplyResult> {
  let text: string;
  try {
    text = await readFile(opts.file, 'utf8');
  } catch (err) {
    return { code: 2, output: '', problems: [`${opts.file}: cannot read the file: ${(err as Error).message}`] };
  }
  const parsed = parseConfigText(text, opts.file);
  if (!parsed.ok) return { code: 2, output: '', problems: parsed.problems };
  const names = parsed.config.jobs.map((j) => String(j.values.name));
  const db = await connect(metadataUrl, 'redshift-loader apply', opts.timeouts);
  try {
    await db.query(opts.dryRun ? 'BEGIN READ ONLY' : 'BEGIN');
    try {
      if (!opts.dryRun) await db.query(APPLY_LOCK_SQL);
      const plan = planApply(parsed.config, await readSnapshot(db, names), { prune: opts.prune ?? false });
      const text = formatPlan(plan);
      if (plan.blockers.length > 0) {
        await db.query('ROLLBACK');
        return { code: 1, output: `${text}nothing was written\n`, problems: plan.blockers.map((b) => `cannot apply: ${b}`), plan };
      }
      if (opts.dryRun || !hasChanges(plan)) {
        await db.query('ROLLBACK');
        return { code: 0, output: opts.dryRun && hasChanges(plan) ? `${text}dry run: nothing was written\n` : text, problems: [], plan };
      }
      await executePlan(db, plan);
      await db.query('COMMIT');
      return { code: 0, output: `${text}applied in one transaction\n`, problems: [], plan };
    } catch (err) {
      await db.query('ROLLBACK').catch(() => undefined);
      return { code: 1, output: '', problems: [`${opts.file}: nothing was written: ${redactText((err as Error).message)}`] };
    }
  } finally {
    await db.end().catch(() => undefined);
  }
}
