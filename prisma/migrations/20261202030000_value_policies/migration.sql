-- Values Redshift cannot hold (issue 16): what a sync does with them, per kind, and what it
-- changed. By default a sync fails on them (see README, "Values Redshift cannot hold").
--   tables.value_policies     {"kind": "policy", ...}: numeric_digits (fail|round|truncate),
--                             numeric_special (fail|null), infinite_datetime (fail|null|clamp),
--                             date_range (fail|null|clamp), text_too_long (fail|null|truncate),
--                             super_too_large (fail|null)
--   sync_runs.values_changed  {"kind:column": count, ...}: the values a policy changed in the run
ALTER TABLE "tables" ADD COLUMN "value_policies" JSONB;
ALTER TABLE "sync_runs" ADD COLUMN "values_changed" JSONB;
