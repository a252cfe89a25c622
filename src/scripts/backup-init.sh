#!/bin/bash
set -uo pipefail
deadline=$((SECONDS + ${PGC_WAIT_SECONDS:-1800}))
until pgbackrest --stanza="$PGC_STANZA" stanza-create; do
  if [ "$SECONDS" -ge "$deadline" ]; then echo "backup-init: the leader's pgBackRest server did not answer in time" >&2; exit 1; fi
  sleep 5
done
for repo in $PGC_REPOS; do
  count="$(pgbackrest --stanza="$PGC_STANZA" --repo="$repo" --output=json info | python3 -c 'import json, sys; d = json.load(sys.stdin); print(len(d[0].get("backup", [])) if d else 0)')"
  if [ "${count:-0}" -gt 0 ]; then
    echo "backup-init: repo$repo already holds $count backup(s)"
    continue
  fi
  echo "backup-init: first full backup into repo$repo"
  pgbackrest --stanza="$PGC_STANZA" --repo="$repo" --type=full backup || exit 1
done
