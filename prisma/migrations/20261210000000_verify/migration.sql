-- verify (issue 17): prove that each replica equals its source, and repair only what differs.
--
-- tables:
--   verify_interval_minutes  the worker verifies the table after its job's sync when this many
--                            minutes have passed since the last verify (NULL = never on its own;
--                            `redshift-loader verify` runs it on demand)
--   verified_at              when verify last finished for this table (written by the loader)
--   verify_result            what it found (written by the loader): status match / differ /
--                            failed, the rows compared, and the rows missing from the target,
--                            only in the target and differing, with example keys and columns
ALTER TABLE "tables"
    ADD COLUMN "verify_interval_minutes" INTEGER,
    ADD COLUMN "verified_at" TIMESTAMPTZ(6),
    ADD COLUMN "verify_result" JSONB;

ALTER TABLE "tables" ADD CONSTRAINT "tables_verify_interval_minutes_check"
    CHECK ("verify_interval_minutes" IS NULL OR "verify_interval_minutes" > 0);

-- sync_runs:
--   kind      'sync' (a table sync) or 'repair' (`verify --repair`: the differing keys re-synced)
--   repaired  for a repair: what was repaired (rows missing, only in the target, differing;
--             example keys; rows loaded and deleted), and what verifying those rows again found
ALTER TABLE "sync_runs"
    ADD COLUMN "kind" TEXT NOT NULL DEFAULT 'sync',
    ADD COLUMN "repaired" JSONB;

ALTER TABLE "sync_runs" ADD CONSTRAINT "sync_runs_kind_check" CHECK ("kind" IN ('sync', 'repair'));
