#!/bin/bash
set -euo pipefail
psql=("$PG_BIN_DIR/psql" "$1" -X -q -v ON_ERROR_STOP=1)
"${psql[@]}" <<'SQL'
CREATE SCHEMA IF NOT EXISTS cdk8s_heartbeat;
CREATE TABLE IF NOT EXISTS cdk8s_heartbeat.beat (id int PRIMARY KEY, at timestamptz NOT NULL, lsn pg_lsn NOT NULL);
SQL
if [ -n "${PGC_MONITOR_USER:-}" ] && [ -s "${PGC_MONITOR_PASSWORD_FILE:-/nonexistent}" ]; then
  # Only a SCRAM verifier reaches the server (computed here with Python's standard library from
  # the password file), so the password is in no SQL text, log or environment; psql reads the
  # verifier from its environment (\getenv).
  PGC_MONITOR_VERIFIER="$(python3 -c '
import base64, hashlib, hmac, os
with open(os.environ["PGC_MONITOR_PASSWORD_FILE"], "rb") as f:
    password = f.read()
salt, iterations = os.urandom(16), 4096
salted = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
client_key = hmac.new(salted, b"Client Key", "sha256").digest()
server_key = hmac.new(salted, b"Server Key", "sha256").digest()
b64 = lambda v: base64.b64encode(v).decode()
print("SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, b64(salt), b64(hashlib.sha256(client_key).digest()), b64(server_key)))
')" \
  "${psql[@]}" -v user="$PGC_MONITOR_USER" <<'SQL'
\getenv pw PGC_MONITOR_VERIFIER
SELECT format('CREATE ROLE %I LOGIN', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user')
\gexec
SELECT format('ALTER ROLE %I WITH NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'user', :'pw')
\gexec
SELECT format('GRANT pg_monitor TO %I', :'user')
\gexec
SELECT format('GRANT USAGE ON SCHEMA cdk8s_heartbeat TO %I', :'user')
\gexec
SELECT format('GRANT SELECT ON cdk8s_heartbeat.beat TO %I', :'user')
\gexec
SQL
  echo "monitoring role $PGC_MONITOR_USER is ready"
fi
if [ -n "${PGC_DATABASE:-}" ] && [ "$PGC_DATABASE" != postgres ]; then
  "${psql[@]}" -v db="$PGC_DATABASE" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec
SQL
  echo "database $PGC_DATABASE is ready"
fi
