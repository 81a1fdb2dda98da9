-- Operate it with confidence (issue 19).

-- tables: per-table backoff and alert state, written by the loader (do not edit, except
-- retry_at: set it to NULL to retry a failing table at the worker's next tick).
--   failure_count   consecutive failed syncs of this table (0 after a success)
--   retry_at        after a failure the worker leaves this table alone until then (30 s
--                   doubling, capped at the job's shortest frequency and at one hour); the
--                   job's other tables keep their schedule
--   alert_failing   a "table failed" alert was sent and no "recovered" one since
--   alert_behind    a "table is behind" alert was sent and no "caught up" one since
ALTER TABLE "tables"
    ADD COLUMN "failure_count" INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN "retry_at" TIMESTAMPTZ(6),
    ADD COLUMN "alert_failing" BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN "alert_behind" BOOLEAN NOT NULL DEFAULT false;

ALTER TABLE "tables" ADD CONSTRAINT "tables_failure_count_check" CHECK ("failure_count" >= 0);

-- The loader's own bookkeeping is not an edit by a person: tables.updated_at ignores it.
-- This list also names columns of migrations that run before this one on main
-- (20261202020000_source_columns: source_attnums; 20261210000000_verify: verified_at,
-- verify_result, written by verify); removing a key a row does not have changes nothing.
DROP TRIGGER "tables_touch_updated_at" ON "tables";
CREATE TRIGGER "tables_touch_updated_at" BEFORE UPDATE ON "tables"
  FOR EACH ROW
  WHEN ((to_jsonb(OLD) - ARRAY['claimed_by', 'claimed_at', 'claim_expires_at', 'claim_token', 'updated_at',
                                'max_primary_key', 'max_updated_key', 'watermark_snapshot', 'last_synced_at', 'last_error',
                                'deletes_checked_at', 'deletes_removed', 'source_attnums', 'verified_at', 'verify_result',
                                'failure_count', 'retry_at', 'alert_failing', 'alert_behind'])
        IS DISTINCT FROM (to_jsonb(NEW) - ARRAY['claimed_by', 'claimed_at', 'claim_expires_at', 'claim_token', 'updated_at',
                                'max_primary_key', 'max_updated_key', 'watermark_snapshot', 'last_synced_at', 'last_error',
                                'deletes_checked_at', 'deletes_removed', 'source_attnums', 'verified_at', 'verify_result',
                                'failure_count', 'retry_at', 'alert_failing', 'alert_behind']))
  EXECUTE FUNCTION "redshift_loader_touch_updated_at"();

-- Rows are edited by hand, so the database refuses what the worker could never run, when
-- the row is written, with a message naming the row and the rule (SQLSTATE 23514). Rows
-- written before this migration are not rechecked; the worker still reports them.
-- (A misspelt copy_mode is refused by its enum type: invalid input value for enum copy_mode.)

-- An `at` value: NULL/blank, or a comma list of HH:MM patterns with * as a digit wildcard,
-- each matching some hour 00-23 and some minute 00-59 (src/scheduler/at-pattern.ts).
CREATE FUNCTION "redshift_loader_at_problem"("value" TEXT) RETURNS TEXT LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  part TEXT;
  pos INTEGER := 0;
BEGIN
  IF "value" IS NULL OR btrim("value") = '' THEN
    RETURN NULL;
  END IF;
  FOREACH part IN ARRAY string_to_array("value", ',') LOOP
    pos := pos + 1;
    part := btrim(part);
    IF part = '' THEN
      RETURN format('at %s: empty pattern at position %s (remove the extra comma)', quote_literal("value"), pos);
    END IF;
    IF part !~ '^[0-9*]{2}:[0-9*]{2}$' THEN
      RETURN format('at pattern "%s": expected HH:MM with digits or * as a wildcard digit, e.g. 09:30, 12:**, **:30', part);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM generate_series(0, 23) h WHERE lpad(h::text, 2, '0') LIKE replace(substr(part, 1, 2), '*', '_')) THEN
      RETURN format('at pattern "%s": hour %s never matches (hours are 00-23)', part, substr(part, 1, 2));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM generate_series(0, 59) m WHERE lpad(m::text, 2, '0') LIKE replace(substr(part, 4, 2), '*', '_')) THEN
      RETURN format('at pattern "%s": minute %s never matches (minutes are 00-59)', part, substr(part, 4, 2));
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

CREATE FUNCTION "redshift_loader_check_schedule_event"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  what TEXT := format('schedule_events row %s (job %s)', NEW."id", coalesce((SELECT quote_literal("name") FROM "jobs" WHERE "id" = NEW."job_id"), 'id ' || NEW."job_id"));
  problem TEXT;
BEGIN
  IF NEW."frequency" IS NULL OR NEW."frequency" <= 0 THEN
    RAISE EXCEPTION '%: frequency must be a whole number of seconds greater than 0, got %', what, coalesce(NEW."frequency"::text, 'NULL')
      USING ERRCODE = 'check_violation', HINT = 'e.g. 900 for every 15 minutes, 86400 for daily';
  END IF;
  problem := "redshift_loader_at_problem"(NEW."at");
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION '%: %', what, problem
      USING ERRCODE = 'check_violation', HINT = 'at is NULL (any time) or a comma list like 09:**,10:** read in the row''s timezone';
  END IF;
  IF NEW."timezone" IS NULL OR NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE "name" = NEW."timezone") THEN
    RAISE EXCEPTION '%: unknown timezone %: expected an IANA name like UTC or America/New_York', what, coalesce(quote_literal(NEW."timezone"), 'NULL')
      USING ERRCODE = 'check_violation', HINT = 'SELECT name FROM pg_timezone_names lists the names';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER "schedule_events_check" BEFORE INSERT OR UPDATE OF "frequency", "at", "timezone", "job_id" ON "schedule_events"
  FOR EACH ROW EXECUTE FUNCTION "redshift_loader_check_schedule_event"();

-- A key column list: NULL, or comma-separated column names (a name may be "quoted", with
-- "" for a quote), none empty, none twice (src/sql/quote.ts splitColumnList).
CREATE FUNCTION "redshift_loader_column_list_problem"("value" TEXT, "one" BOOLEAN) RETURNS TEXT LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  part TEXT;
  names TEXT[] := ARRAY[]::TEXT[];
  pos INTEGER := 0;
BEGIN
  IF "value" IS NULL THEN
    RETURN NULL;
  END IF;
  IF btrim("value") = '' THEN
    RETURN 'is empty (use NULL for none)';
  END IF;
  FOREACH part IN ARRAY string_to_array("value", ',') LOOP
    pos := pos + 1;
    part := btrim(part);
    IF part = '' THEN
      RETURN format('%s has an empty column name at position %s (remove the extra comma)', quote_literal("value"), pos);
    END IF;
    IF left(part, 1) = '"' THEN
      IF part !~ '^"([^"]|"")+"$' THEN
        RETURN format('%s: %s is not a well-formed quoted name (write a quote inside a name as "")', quote_literal("value"), part);
      END IF;
      part := replace(substr(part, 2, length(part) - 2), '""', '"');
    END IF;
    IF part = ANY(names) THEN
      RETURN format('%s names column %s twice', quote_literal("value"), quote_ident(part));
    END IF;
    names := names || part;
  END LOOP;
  IF "one" AND pos > 1 THEN
    RETURN format('%s names %s columns; it takes one', quote_literal("value"), pos);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION "redshift_loader_check_table"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  what TEXT := format('tables row %s (%s.%s of job %s)', NEW."id", NEW."source_schema", NEW."source_name",
                      coalesce((SELECT quote_literal("name") FROM "jobs" WHERE "id" = NEW."job_id"), 'id ' || NEW."job_id"));
  problem TEXT;
BEGIN
  problem := "redshift_loader_column_list_problem"(NEW."primary_key", false);
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION '%: primary_key %', what, problem USING ERRCODE = 'check_violation', HINT = 'primary_key is a column, or a comma-separated list for a composite key';
  END IF;
  problem := "redshift_loader_column_list_problem"(NEW."updated_key", true);
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION '%: updated_key %', what, problem USING ERRCODE = 'check_violation', HINT = 'updated_key is one timestamp, timestamptz or date column';
  END IF;
  IF NEW."copy_mode" IN ('INSERT_ONLY', 'INSERT_AND_UPDATE') AND NEW."primary_key" IS NULL THEN
    RAISE EXCEPTION '%: copy_mode % needs primary_key', what, NEW."copy_mode" USING ERRCODE = 'check_violation', HINT = 'set primary_key, or use copy_mode FULL_DATA_SYNC';
  END IF;
  IF NEW."copy_mode" = 'INSERT_AND_UPDATE' AND NEW."updated_key" IS NULL THEN
    RAISE EXCEPTION '%: copy_mode INSERT_AND_UPDATE needs updated_key', what USING ERRCODE = 'check_violation', HINT = 'set updated_key, or use copy_mode INSERT_ONLY or FULL_DATA_SYNC';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER "tables_check" BEFORE INSERT OR UPDATE OF "copy_mode", "primary_key", "updated_key" ON "tables"
  FOR EACH ROW EXECUTE FUNCTION "redshift_loader_check_table"();
