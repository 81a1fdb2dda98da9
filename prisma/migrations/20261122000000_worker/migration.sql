-- The worker's state (redshift-loader worker, issue 5).

-- Job claims: a worker sets claimed_by/claim_expires_at (database clock) before running a
-- job and renews claim_expires_at on a heartbeat; a crashed worker's claim simply expires.
-- claim_token grows by one on every claim, so a worker whose claim expired and was taken
-- over can tell (its writes are guarded by worker id and token).
ALTER TABLE "jobs"
    ADD COLUMN "claimed_by" TEXT,
    ADD COLUMN "claimed_at" TIMESTAMPTZ(6),
    ADD COLUMN "claim_expires_at" TIMESTAMPTZ(6),
    ADD COLUMN "claim_token" INTEGER NOT NULL DEFAULT 0;

-- Backoff after failed runs, kept in the row so that every worker (and a restarted one)
-- honours it. Set retry_at to NULL to retry now.
ALTER TABLE "schedule_events"
    ADD COLUMN "failure_count" INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN "retry_at" TIMESTAMPTZ(6);

ALTER TABLE "schedule_events" ADD CONSTRAINT "schedule_events_failure_count_check" CHECK ("failure_count" >= 0);

-- A claim or heartbeat is not an edit of the job: keep jobs.updated_at meaning "last
-- changed by a person" by ignoring the claim columns in its trigger.
DROP TRIGGER "jobs_touch_updated_at" ON "jobs";
CREATE TRIGGER "jobs_touch_updated_at" BEFORE UPDATE ON "jobs"
  FOR EACH ROW
  WHEN ((to_jsonb(OLD) - ARRAY['claimed_by', 'claimed_at', 'claim_expires_at', 'claim_token', 'updated_at'])
        IS DISTINCT FROM (to_jsonb(NEW) - ARRAY['claimed_by', 'claimed_at', 'claim_expires_at', 'claim_token', 'updated_at']))
  EXECUTE FUNCTION "redshift_loader_touch_updated_at"();
