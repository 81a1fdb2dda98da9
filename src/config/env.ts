import { z } from 'zod';

/**
 * The worker's environment, parsed once. Every variable is listed here with its default,
 * and the README's configuration table is written from this list.
 *
 * Commands need different subsets (`migrate` needs only DATABASE_URL), so requiredness is
 * checked by `requireEnv`, which reports every missing variable at once.
 */
const positiveInt = (def: number) =>
  z.coerce.number().int('must be a whole number').positive('must be greater than 0').default(def);

const url = z
  .string()
  .min(1)
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// URL');

export const envSchema = z.object({
  DATABASE_URL: url.optional(),
  S3_BUCKET: z.string().min(1).optional(),
  S3_ENDPOINT: z.string().url('must be a URL like http://127.0.0.1:4569').optional(),
  S3_FORCE_PATH_STYLE: z
    .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
    .optional()
    .transform((v) => (v === undefined ? undefined : v === 'true' || v === '1')),
  AWS_REGION: z.string().min(1).default('us-east-1'),
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  AWS_SESSION_TOKEN: z.string().min(1).optional(),
  REDSHIFT_IAM_ROLE: z.string().min(1).optional(),
  REDSHIFT_URL: z
    .string()
    .min(1)
    .refine((v) => /^(postgres(ql)?|redshift):\/\//.test(v), 'must be a postgres:// or redshift:// URL')
    .optional(),
  IMPORT_ROW_LIMIT: positiveInt(100_000),
  IMPORT_CHUNK_SIZE: positiveInt(25_000),
  /** Files per batch are rounded up to a multiple of this (the cluster's slice count). */
  REDSHIFT_SLICES: positiveInt(2),
  /** Source sessions per table sync that extract files of one batch concurrently (one snapshot). */
  EXTRACT_SESSIONS: z.coerce.number().int().min(1).max(16).default(2),
  /** How the staging files are compressed (src/extract/compress.ts; BENCHMARKS.md measures both). */
  COMPRESSION: z.enum(['zstd', 'gzip']).default('zstd'),
  ZSTD_LEVEL: z.coerce.number().int().min(-7).max(19).default(1),
  GZIP_LEVEL: z.coerce.number().int().min(0).max(9).default(1),
  /** zlib window of the staging files: any gzip reader takes any window; smaller is faster. */
  GZIP_WINDOW_BITS: z.coerce.number().int().min(9).max(15).default(14),
  /** Seconds re-read below the updated_key watermark on every run (late commits). */
  UPDATED_KEY_OVERLAP_SECONDS: z.coerce.number().int().min(0).default(60),
  SYNC_DB_EVENTS_FREQUENCY: positiveInt(60),
  WORKER_TICK_SECONDS: positiveInt(5),
  WORKER_CONCURRENCY: positiveInt(2),
  WORKER_LOCK_TTL_SECONDS: positiveInt(120),
  /** Deadlines, so that a hung dependency becomes an error naming it (0 = no limit where allowed). */
  CONNECT_TIMEOUT_SECONDS: positiveInt(30),
  STATEMENT_TIMEOUT_SECONDS: z.coerce.number().int().min(0).default(3600),
  IDLE_IN_TRANSACTION_TIMEOUT_SECONDS: z.coerce.number().int().min(0).default(600),
  S3_REQUEST_TIMEOUT_SECONDS: positiveInt(120),
  S3_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  BATCH_TIMEOUT_SECONDS: z.coerce.number().int().min(0).default(3600),
  /** copy_mode CDC (src/sync/cdc): changes per drained batch (one Redshift transaction each), and its size bound. */
  CDC_BATCH_ROWS: positiveInt(100_000),
  CDC_BATCH_MB: positiveInt(64),
  /** `status` warns about a replication slot that retains more WAL than this, or lags more than this. */
  CDC_WARN_RETAINED_MB: positiveInt(1024),
  CDC_WARN_LAG_SECONDS: positiveInt(3600),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Slack-compatible incoming webhook for alerts (a table fails, recovers, falls behind, catches up). */
  ALERT_WEBHOOK_URL: z.string().url('must be an http(s) URL, e.g. https://hooks.slack.com/services/...').optional(),
  /**
   * A table is behind when its sync is overdue by more than this: its last success plus its
   * job's frequency (inside the schedule's `at` window) is this long past. Used by `status`
   * (exit 1) and by the worker's alerts.
   */
  ALERT_LAG_SECONDS: positiveInt(3600),
});

export type Env = z.infer<typeof envSchema>;
export type EnvName = keyof Env;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError with one line per bad or missing variable. */
export function loadEnv(
  source: Record<string, string | undefined> = process.env,
  required: readonly EnvName[] = [],
): Env {
  // Treat empty strings as unset: `FOO=` in an env file means "not configured".
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined && v !== '') cleaned[k] = v;
  const parsed = envSchema.safeParse(cleaned);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? '?');
      const raw = cleaned[name];
      problems.push(`${name}: ${issue.message}${raw !== undefined && !isSecret(name) ? ` (got ${JSON.stringify(raw)})` : ''}`);
    }
  }
  for (const name of required) {
    if (cleaned[name] === undefined) problems.push(`${name}: is required but not set`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed.data!;
}

function isSecret(name: string): boolean {
  return /SECRET|PASSWORD|TOKEN|WEBHOOK|_URL$/.test(name);
}
