#!/usr/bin/env bash
# `npm run stack -- --env-file PATH`. Node 20 reads --env-file anywhere on its own command
# line (even after the script name) and fails when the file does not exist yet, so the
# option travels in the environment instead.
set -euo pipefail
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --env-file) export REDSHIFT_LOADER_STACK_ENV_FILE="$2"; shift 2 ;;
    --env-file=*) export REDSHIFT_LOADER_STACK_ENV_FILE="${1#*=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
here="$(cd "$(dirname "$0")/.." && pwd)"
exec node --import tsx "$here/src/cli/index.ts" stack ${args[@]+"${args[@]}"}
