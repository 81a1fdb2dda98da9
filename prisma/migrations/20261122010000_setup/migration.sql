-- Setup and schema management (redshift-loader setup, issue 6): per-table target design
-- overrides and hard-delete detection, all optional.
--   dist_key         a column, or EVEN / ALL / AUTO; NULL: the primary key when it is one
--                    column, else DISTSTYLE EVEN
--   sort_keys        comma list of columns, or NONE; NULL: the updated key, then the primary key
--   include_columns  comma list: only these source columns are synced (NULL: all)
--   exclude_columns  comma list: these source columns are never synced
--   delete_detection compare primary keys with the source and delete rows gone there
ALTER TABLE "tables"
    ADD COLUMN "dist_key" TEXT,
    ADD COLUMN "sort_keys" TEXT,
    ADD COLUMN "include_columns" TEXT,
    ADD COLUMN "exclude_columns" TEXT,
    ADD COLUMN "delete_detection" BOOLEAN NOT NULL DEFAULT false;
