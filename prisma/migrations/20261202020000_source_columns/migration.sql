-- Schema drift follows columns by identity (issue 16): the source columns' attnums as the
-- last sync saw them ({"name": attnum, ...}), written by the loader. A name whose attnum
-- changed was dropped and added again: a new column, whose old values must not stay.
ALTER TABLE "tables" ADD COLUMN "source_attnums" JSONB;

-- Loader bookkeeping, not an edit by a person.
DROP TRIGGER "tables_touch_updated_at" ON "tables";
CREATE TRIGGER "tables_touch_updated_at" BEFORE UPDATE ON "tables"
  FOR EACH ROW
  WHEN ((to_jsonb(OLD) - ARRAY['claimed_by', 'claimed_at', 'claim_expires_at', 'claim_token', 'updated_at',
                                'max_primary_key', 'max_updated_key', 'watermark_snapshot', 'last_synced_at', 'last_error',
                                'deletes_checked_at', 'deletes_removed', 'source_attnums'])
        IS DISTINCT FROM (to_jsonb(NEW) - ARRAY['claimed_by', 'claimed_at', 'claim_expires_at', 'claim_token', 'updated_at',
                                'max_primary_key', 'max_updated_key', 'watermark_snapshot', 'last_synced_at', 'last_error',
                                'deletes_checked_at', 'deletes_removed', 'source_attnums']))
  EXECUTE FUNCTION "redshift_loader_touch_updated_at"();
