import type { S3Client } from '@aws-sdk/client-s3';
import type { FieldDesc } from './protocol.js';
import type { SessionValues } from './rewrite.js';

/** Result of an internal query on the client's upstream session (text format). */
export interface QueryResult {
  fields: FieldDesc[];
  rows: Array<Array<string | null>>;
  tags: string[];
}

/**
 * What a command handler (COPY, UNLOAD, DDL, ...) can do. `query` and `copyIn` run on the
 * client's own upstream session (inside its transaction); `sideQuery` on a separate
 * autocommit connection to the same database (stl_load_errors, query ids).
 */
export interface CommandContext {
  database: string;
  /** Serverless flavour: loads are recorded for the SYS views only. */
  serverless: boolean;
  /** The pid the client was given (stl_load_errors.session). */
  sessionPid: number;
  query(sql: string): Promise<QueryResult>;
  /** Runs `COPY ... FROM STDIN`; `produce` sends data; returns the row count. */
  copyIn(sql: string, produce: (send: (chunk: Buffer) => void) => Promise<void>): Promise<number>;
  txStatus(): string;
  sideQuery(sql: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  s3: S3Client;
  values: SessionValues;
  notice(message: string, severity?: string): void;
  cancelled(): boolean;
}

export interface CommandResult {
  tag: string;
  /** Rows a command returns (text columns), e.g. SHOW. */
  rows?: { columns: string[]; values: Array<Array<string | null>> };
}
