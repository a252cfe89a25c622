#!/bin/bash
set -euo pipefail
psql=("$PG_BIN_DIR/psql" "$1" -X -q -v ON_ERROR_STOP=1)
# A SCRAM-SHA-256 verifier of the password in file $1 (Python's standard library), so a password
# is in no SQL text, log or environment: psql reads only the verifier, from its environment.
scram_verifier() {
  python3 -c '
import base64, hashlib, hmac, os, sys
with open(sys.argv[1], "rb") as f:
    password = f.read()
salt, iterations = os.urandom(16), 4096
salted = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
client_key = hmac.new(salted, b"Client Key", "sha256").digest()
server_key = hmac.new(salted, b"Server Key", "sha256").digest()
b64 = lambda v: base64.b64encode(v).decode()
print("SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, b64(salt), b64(hashlib.sha256(client_key).digest()), b64(server_key)))
' "$1"
}
"${psql[@]}" <<'SQL'
CREATE SCHEMA IF NOT EXISTS cdk8s_heartbeat;
CREATE TABLE IF NOT EXISTS cdk8s_heartbeat.beat (id int PRIMARY KEY, at timestamptz NOT NULL, lsn pg_lsn NOT NULL);
SQL
if [ -n "${PGC_MONITOR_USER:-}" ] && [ -s "${PGC_MONITOR_PASSWORD_FILE:-/nonexistent}" ]; then
  PGC_MONITOR_VERIFIER="$(scram_verifier "$PGC_MONITOR_PASSWORD_FILE")" \
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
if [ -n "${PGC_ACCESS_USER:-}" ] && [ -s "${PGC_ACCESS_PASSWORD_FILE:-/nonexistent}" ]; then
  # The access Job's role: creates roles and databases, never a superuser. ADMIN OPTION on the
  # predefined roles an application user may be granted (PostgreSQL 16 and later ask for it).
  PGC_ACCESS_VERIFIER="$(scram_verifier "$PGC_ACCESS_PASSWORD_FILE")" \
  "${psql[@]}" -v user="$PGC_ACCESS_USER" -v grantable="${PGC_ACCESS_GRANTABLE_ROLES:-}" <<'SQL'
\getenv pw PGC_ACCESS_VERIFIER
SELECT format('CREATE ROLE %I LOGIN', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user')
\gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER CREATEDB CREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', :'user', :'pw')
\gexec
SELECT format('GRANT %I TO %I WITH ADMIN OPTION', rolname, :'user') FROM pg_roles
WHERE rolname = ANY (string_to_array(:'grantable', ' ')) ORDER BY rolname
\gexec
SQL
  echo "access role $PGC_ACCESS_USER is ready"
fi
if [ -n "${PGC_POOLER_USER:-}" ]; then
  # PgBouncer looks up a client's SCRAM verifier through cdk8s_pgbouncer.get_auth(), as a role
  # that can read nothing else, in the database the client asks for: the function goes into
  # postgres, the cluster's database and template1, which every database created later copies.
  # Superusers and the library's own roles are never returned. The pooler role stays NOLOGIN
  # until the access Job gives it its password (with ADMIN OPTION on it, for PostgreSQL 16+).
  "${psql[@]}" -v user="$PGC_POOLER_USER" -v admin="${PGC_ACCESS_USER:-}" <<'SQL'
SELECT format('CREATE ROLE %I NOLOGIN', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user')
\gexec
SELECT format('GRANT %I TO %I WITH ADMIN OPTION', :'user', :'admin') WHERE :'admin' <> ''
\gexec
SQL
  databases=(template1 postgres)
  if [ -n "${PGC_DATABASE:-}" ] && [ "$PGC_DATABASE" != postgres ]; then databases+=("$PGC_DATABASE"); fi
  for db in "${databases[@]}"; do
    "${psql[@]}" -v user="$PGC_POOLER_USER" -v db="$db" <<'SQL'
\connect :"db"
CREATE SCHEMA IF NOT EXISTS cdk8s_pgbouncer AUTHORIZATION CURRENT_USER;
CREATE OR REPLACE FUNCTION cdk8s_pgbouncer.get_auth(p_usename text)
RETURNS TABLE (usename name, passwd text) LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
  SELECT rolname, rolpassword FROM pg_authid
  WHERE rolname = p_usename AND rolcanlogin AND NOT rolsuper
    AND rolname NOT IN ('postgres', 'replicator', 'cdk8s_monitor', 'cdk8s_pgbouncer', 'cdk8s_rewind', 'cdk8s_access')
$fn$;
REVOKE ALL ON FUNCTION cdk8s_pgbouncer.get_auth(text) FROM PUBLIC;
GRANT USAGE ON SCHEMA cdk8s_pgbouncer TO :"user";
GRANT EXECUTE ON FUNCTION cdk8s_pgbouncer.get_auth(text) TO :"user";
SQL
  done
  echo "pooler lookup is ready in ${databases[*]}"
fi
if [ -n "${PGC_TEMPLATE_EXTENSIONS:-}" ]; then
  # Extensions of libraries the server preloads (pg_stat_statements), which are not trusted: made
  # here by the superuser in template1, which every database created later copies (so the access
  # Job, no superuser, finds them there), in postgres and in the cluster's database.
  databases=(template1 postgres)
  if [ -n "${PGC_DATABASE:-}" ] && [ "$PGC_DATABASE" != postgres ]; then databases+=("$PGC_DATABASE"); fi
  for db in "${databases[@]}"; do
    for extension in $PGC_TEMPLATE_EXTENSIONS; do
      "${psql[@]}" -v db="$db" -v extension="$extension" <<'SQL'
\connect :"db"
SELECT format('CREATE EXTENSION IF NOT EXISTS %I', :'extension')
\gexec
SQL
    done
  done
  echo "extensions $PGC_TEMPLATE_EXTENSIONS are ready in ${databases[*]}"
fi
