export type CopyMode = 'INSERT_ONLY' | 'INSERT_AND_UPDATE' | 'FULL_DATA_SYNC';
export const COPY_MODES: readonly CopyMode[] = ['INSERT_ONLY', 'INSERT_AND_UPDATE', 'FULL_DATA_SYNC'];

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
  /** JSON array of the key tuple's values, text form. */
  maxPrimaryKey: unknown;
  /** timestamptz as text (microseconds kept). */
  maxUpdatedKey: string | null;
  rowLimit: number | null;
  chunkSize: number | null;
  /** Target design overrides (see src/setup/ddl.ts): a column or EVEN/ALL/AUTO; comma lists. */
  distKey?: string | null;
  sortKeys?: string | null;
  includeColumns?: string | null;
  excludeColumns?: string | null;
  /** Compare primary keys with the source and delete target rows gone there. */
  deleteDetection?: boolean;
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
