export type CopyMode = 'INSERT_ONLY' | 'INSERT_AND_UPDATE' | 'FULL_DATA_SYNC' | 'CDC';
export const COPY_MODES: readonly CopyMode[] = ['INSERT_ONLY', 'INSERT_AND_UPDATE', 'FULL_DATA_SYNC', 'CDC'];

/** A job row, connection strings still unresolved. */
export interface JobRow {
  id: number;
  name: string;
  sourceConnectionString: string;
  destinationConnectionString: string;
  s3Bucket: string | null;
  s3Prefix: string | null;
  iamRole: string | null;
  destinationSchema: string;
  enabled: boolean;
}

/** A tables row as the engine uses it (watermark values as text, exact). */
export interface TableRow {
  id: number;
  jobId: number;
  sourceSchema: string;
  sourceName: string;
  destinationSchema: string | null;
  destinationName: string | null;
  copyMode: CopyMode;
  primaryKey: string | null;
  updatedKey: string | null;
  disabled: boolean;
  /**
   * The key watermark's values as exact text, read by the metadata DB from the stored JSON
   * (so a number like 1234567890123456789 is never rounded through a JavaScript number).
   * An element that is not a string or a number reads as null (and fails the plan).
   */
  maxPrimaryKey: Array<string | null> | null;
  /** The stored max_primary_key JSON as text, exactly (compare-and-set, display). */
  maxPrimaryKeyJson?: string | null;
  /** timestamptz as text (microseconds kept). */
  maxUpdatedKey: string | null;
  rowLimit: number | null;
  chunkSize: number | null;
  /** Target design overrides (see src/schema/ddl.ts): a column or EVEN/ALL/AUTO; comma lists. */
  distKey?: string | null;
  sortKeys?: string | null;
  includeColumns?: string | null;
  excludeColumns?: string | null;
  /** Compare primary keys with the source and delete target rows gone there. */
  deleteDetection?: boolean;
  /** Run delete detection at most this often (null: every run). */
  deleteDetectionMinutes?: number | null;
  deletesCheckedAt?: Date | null;
  /** Delete detection is due on this run (by the metadata DB's clock). */
  deletesDue?: boolean;
  /** Writers' time zone for a `timestamp`/`date` updated key (null: the source's default). */
  updatedKeyTimeZone?: string | null;
  /** The key is known not to be unique: keep every row instead of failing the batch. */
  allowDuplicateKeys?: boolean;
  /** What the last run had already read, when it is valid for the stored watermark. */
  watermarkSnapshot?: SeenRecord | null;
  /** The source columns' attnums as the last sync saw them (schema drift follows columns by identity). */
  sourceAttnums?: Record<string, number> | null;
  /** What a sync does with values Redshift cannot hold, per kind (see value-rules.ts); validated per run. */
  valuePolicies?: unknown;
}

/**
 * What one run read, so the next run can skip rows it had already loaded: every current row
 * version whose key lies in [from, upTo] and whose inserting transaction id is below `xmin`
 * (the xmin of the run's first snapshot, as an epoch-extended txid) was visible to every
 * batch of that run, hence extracted by it (or skipped by it for the same reason).
 */
export interface SeenRecord {
  xmin: string;
  from: Watermark;
  upTo: string[];
}

export interface SourceColumn {
  name: string;
  /** format_type() of the column, e.g. `timestamp with time zone`, `character varying(20)`. */
  type: string;
  notNull: boolean;
}

/** Where a keyset scan resumes: after (updatedKey, ...primaryKey), or from the start. */
export interface Watermark {
  updatedKey: string | null;
  primaryKey: string[] | null;
}
