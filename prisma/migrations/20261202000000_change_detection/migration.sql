-- Change detection that sees every change (issue 13).
--
-- tables:
--   updated_key_time_zone     the time zone in which a `timestamp without time zone` or `date`
--                             updated key is written at the source (its writers' TimeZone);
--                             NULL = the source database's default TimeZone. The late-commit
--                             guard compares open transactions' start times with the column in
--                             this zone.
--   allow_duplicate_keys      the primary_key is known not to be unique at the source: keep every
--                             source row (INSERT_ONLY, FULL_DATA_SYNC) instead of failing the batch
--   delete_detection_minutes  run delete detection at most this often (NULL = on every run)
--   deletes_checked_at        when delete detection last finished for this table
--   deletes_removed           target rows it removed that time
--   watermark_snapshot        written by the loader, do not edit: what the last run had already
--                             read (the xmin of its first snapshot and the key range it covered),
--                             so the next run re-reads only rows written since. It is used only
--                             while the watermark is the one it was written with, so an edit of
--                             max_primary_key / max_updated_key makes the next run re-read fully.
ALTER TABLE "tables"
    ADD COLUMN "updated_key_time_zone" TEXT,
    ADD COLUMN "allow_duplicate_keys" BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN "delete_detection_minutes" INTEGER,
    ADD COLUMN "deletes_checked_at" TIMESTAMPTZ(6),
    ADD COLUMN "deletes_removed" BIGINT,
    ADD COLUMN "watermark_snapshot" JSONB;

ALTER TABLE "tables" ADD CONSTRAINT "tables_delete_detection_minutes_check"
    CHECK ("delete_detection_minutes" IS NULL OR "delete_detection_minutes" >= 0);

-- sync_runs: changed rows and re-read rows apart (rows = both), and rows removed by delete
-- detection in this run (NULL when it did not run).
ALTER TABLE "sync_runs"
    ADD COLUMN "rows_changed" BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN "rows_reread" BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN "rows_deleted" BIGINT;
