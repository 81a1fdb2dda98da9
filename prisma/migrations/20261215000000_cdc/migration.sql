-- Log-based change capture (issue 20): copy_mode CDC reads the source's write-ahead log
-- through one logical replication slot and one publication per job (see README, "Log-based
-- change capture").
--   jobs.cdc_position       {"lsn": "<commit LSN>", "changes": n}: the last change applied in
--                           Redshift (n = -1: that whole transaction), written after the
--                           Redshift commit that applied it (the authoritative copy is the
--                           target schema's redshift_loader_cdc table)
--   jobs.cdc_caught_up_at   when a run last drained the slot up to the WAL position current at its start
--   tables.cdc_loaded_lsn   the WAL position of the snapshot the table's initial load read (NULL: load it)
ALTER TYPE "copy_mode" ADD VALUE IF NOT EXISTS 'CDC';
ALTER TABLE "jobs" ADD COLUMN "cdc_position" JSONB;
ALTER TABLE "jobs" ADD COLUMN "cdc_caught_up_at" TIMESTAMPTZ(6);
ALTER TABLE "tables" ADD COLUMN "cdc_loaded_lsn" TEXT;
