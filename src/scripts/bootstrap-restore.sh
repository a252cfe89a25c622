#!/bin/bash
set -euo pipefail
args=(--pg1-path="$PGDATA")
if [ -n "${PGC_RESTORE_TYPE:-}" ] && [ "$PGC_RESTORE_TYPE" != default ]; then
  args+=(--type="$PGC_RESTORE_TYPE" --target="$PGC_RESTORE_TARGET" --target-action=promote)
fi
if [ -n "${PGC_RESTORE_SET:-}" ]; then args+=(--set="$PGC_RESTORE_SET"); fi
echo "bootstrap-restore: restoring stanza $PGC_SOURCE_STANZA ${args[*]:1}" >&2
exec "$(dirname "$0")/pgbackrest-source.sh" "${args[@]}" restore
