-- CreateEnum
CREATE TYPE "copy_mode" AS ENUM ('INSERT_ONLY', 'INSERT_AND_UPDATE', 'FULL_DATA_SYNC');

-- CreateEnum
CREATE TYPE "sync_status" AS ENUM ('running', 'succeeded', 'failed');

-- CreateTable
CREATE TABLE "jobs" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "source_connection_string" TEXT NOT NULL,
    "destination_connection_string" TEXT NOT NULL,
    "s3_bucket" TEXT,
    "s3_prefix" TEXT,
    "iam_role" TEXT,
    "destination_schema" TEXT NOT NULL DEFAULT 'public',
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tables" (
    "id" SERIAL NOT NULL,
    "job_id" INTEGER NOT NULL,
    "source_schema" TEXT NOT NULL DEFAULT 'public',
    "source_name" TEXT NOT NULL,
    "destination_schema" TEXT,
    "destination_name" TEXT,
    "copy_mode" "copy_mode" NOT NULL,
    "primary_key" TEXT,
    "updated_key" TEXT,
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "max_primary_key" JSONB,
    "max_updated_key" TIMESTAMPTZ(6),
    "row_limit" INTEGER,
    "chunk_size" INTEGER,
    "last_synced_at" TIMESTAMPTZ(6),
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tables_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "schedule_events" (
    "id" SERIAL NOT NULL,
    "job_id" INTEGER NOT NULL,
    "frequency" INTEGER NOT NULL,
    "at" TEXT,
    "timezone" TEXT NOT NULL DEFAULT 'UTC',
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "last_run_at" TIMESTAMPTZ(6),
    "last_succeeded_at" TIMESTAMPTZ(6),
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "schedule_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sync_runs" (
    "id" BIGSERIAL NOT NULL,
    "job_id" INTEGER NOT NULL,
    "table_id" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(6),
    "status" "sync_status" NOT NULL DEFAULT 'running',
    "copy_mode" "copy_mode" NOT NULL,
    "rows" BIGINT NOT NULL DEFAULT 0,
    "bytes" BIGINT NOT NULL DEFAULT 0,
    "files" INTEGER NOT NULL DEFAULT 0,
    "batches" INTEGER NOT NULL DEFAULT 0,
    "max_primary_key_before" JSONB,
    "max_primary_key_after" JSONB,
    "max_updated_key_before" TIMESTAMPTZ(6),
    "max_updated_key_after" TIMESTAMPTZ(6),
    "error" TEXT,
    "worker_id" TEXT,

    CONSTRAINT "sync_runs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "jobs_name_key" ON "jobs"("name");

-- CreateIndex
CREATE UNIQUE INDEX "tables_job_id_source_schema_source_name_key" ON "tables"("job_id", "source_schema", "source_name");

-- CreateIndex
CREATE INDEX "sync_runs_table_id_started_at_idx" ON "sync_runs"("table_id", "started_at");

-- AddForeignKey
ALTER TABLE "tables" ADD CONSTRAINT "tables_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "schedule_events" ADD CONSTRAINT "schedule_events_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sync_runs" ADD CONSTRAINT "sync_runs_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sync_runs" ADD CONSTRAINT "sync_runs_table_id_fkey" FOREIGN KEY ("table_id") REFERENCES "tables"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Rows are edited by hand (SQL, Prisma Studio), so the database itself keeps updated_at
-- current and rejects values the worker could never run.
CREATE FUNCTION "redshift_loader_touch_updated_at"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW."updated_at" := CURRENT_TIMESTAMP;
  RETURN NEW;
END $$;

CREATE TRIGGER "jobs_touch_updated_at" BEFORE UPDATE ON "jobs"
  FOR EACH ROW EXECUTE FUNCTION "redshift_loader_touch_updated_at"();
CREATE TRIGGER "tables_touch_updated_at" BEFORE UPDATE ON "tables"
  FOR EACH ROW EXECUTE FUNCTION "redshift_loader_touch_updated_at"();
CREATE TRIGGER "schedule_events_touch_updated_at" BEFORE UPDATE ON "schedule_events"
  FOR EACH ROW EXECUTE FUNCTION "redshift_loader_touch_updated_at"();

ALTER TABLE "schedule_events" ADD CONSTRAINT "schedule_events_frequency_check" CHECK ("frequency" > 0);
ALTER TABLE "tables" ADD CONSTRAINT "tables_row_limit_check" CHECK ("row_limit" IS NULL OR "row_limit" > 0);
ALTER TABLE "tables" ADD CONSTRAINT "tables_chunk_size_check" CHECK ("chunk_size" IS NULL OR "chunk_size" > 0);
