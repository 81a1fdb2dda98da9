-- One writer per table (issue 15).
--
-- Every table sync, whoever starts it (the worker, `redshift-loader sync`, verify's repair),
-- first claims its tables row: claimed_by / claim_expires_at, renewed by a heartbeat, as a
-- worker claims a job. claim_token is the run's fencing token: a new value from one
-- sequence for every claim, never reused (not even by a row deleted and added again), and
-- written into the target schema's redshift_loader_state table by the run; every Redshift
-- transaction of the run checks it there, so a run that lost its claim cannot commit.
CREATE SEQUENCE "table_claim_token_seq";

ALTER TABLE "tables"
    ADD COLUMN "claimed_by" TEXT,
    ADD COLUMN "claimed_at" TIMESTAMPTZ(6),
    ADD COLUMN "claim_expires_at" TIMESTAMPTZ(6),
    ADD COLUMN "claim_token" BIGINT;

-- A claim, a heartbeat, the loader's own bookkeeping are not edits by a person: keep
-- tables.updated_at meaning "last changed by a person or by setup".
DROP TRIGGER "tables_touch_updated_at" ON "tables";
CREATE TRIGGER "tables_touch_updated_at" BEFORE UPDATE ON "tables"
  FOR EACH ROW
  WHEN ((to_jsonb(OLD) - ARRAY['claimed_by', 'claimed_at', 'claim_expires_at', 'claim_token', 'updated_at',
                                'max_primary_key', 'max_updated_key', 'watermark_snapshot', 'last_synced_at', 'last_error',
                                'deletes_checked_at', 'deletes_removed'])
        IS DISTINCT FROM (to_jsonb(NEW) - ARRAY['claimed_by', 'claimed_at', 'claim_expires_at', 'claim_token', 'updated_at',
                                'max_primary_key', 'max_updated_key', 'watermark_snapshot', 'last_synced_at', 'last_error',
                                'deletes_checked_at', 'deletes_removed']))
  EXECUTE FUNCTION "redshift_loader_touch_updated_at"();

-- A run whose process died: its row is closed as 'abandoned' by the next run of the table.
ALTER TYPE "sync_status" ADD VALUE 'abandoned';
