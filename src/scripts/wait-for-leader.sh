#!/bin/bash
set -euo pipefail
if [ -s "$PGDATA/PG_VERSION" ]; then
  echo "data directory $PGDATA exists: starting without waiting for a leader"
  exit 0
fi
until "$PG_BIN_DIR/pg_isready" -q -h "$PGC_LEADER_HOST" -p "$PGC_PORT"; do
  echo "waiting for a leader at $PGC_LEADER_HOST:$PGC_PORT before cloning"
  sleep 2
done
echo "leader at $PGC_LEADER_HOST:$PGC_PORT answers"
