/**
 * Shell and Python programs the pods run, shipped in a ConfigMap. Each is plain text with no
 * templating: what they need comes from the environment the pod spec sets.
 */

/**
 * Init container of replica pods: a member with no data waits until a leader answers on the
 * read-write Service, so only the preferred primary bootstraps a new cluster and replicas always
 * clone from a running leader. A member that already has data starts at once (it may have to lead).
 *
 * Environment: PGDATA, PG_BIN_DIR, PGC_LEADER_HOST, PGC_PORT.
 */
export const WAIT_FOR_LEADER_SCRIPT = `#!/bin/bash
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
`;

/**
 * Run by Patroni once, right after initdb on the member that bootstraps the cluster, with a
 * superuser connection URL as its argument: creates the monitoring role (pg_monitor, no
 * superuser rights; its password from the monitoring Secret, stored as a SCRAM verifier), the
 * heartbeat table it may read, and the application database.
 *
 * Environment: PG_BIN_DIR, PGC_DATABASE (empty or `postgres`: no database to create),
 * PGC_MONITOR_USER and PGC_MONITOR_PASSWORD (empty: no monitoring role).
 */
export const POST_BOOTSTRAP_SCRIPT = `#!/bin/bash
set -euo pipefail
psql=("$PG_BIN_DIR/psql" "$1" -X -q -v ON_ERROR_STOP=1)
"\${psql[@]}" <<'SQL'
CREATE SCHEMA IF NOT EXISTS cdk8s_heartbeat;
CREATE TABLE IF NOT EXISTS cdk8s_heartbeat.beat (id int PRIMARY KEY, at timestamptz NOT NULL, lsn pg_lsn NOT NULL);
SQL
if [ -n "\${PGC_MONITOR_USER:-}" ] && [ -n "\${PGC_MONITOR_PASSWORD:-}" ]; then
  # Only a SCRAM verifier reaches the server (computed here with Python's standard library), so
  # the password is in no SQL text or log; psql reads it from the environment (\\getenv).
  PGC_MONITOR_VERIFIER="$(python3 -c '
import base64, hashlib, hmac, os
password = os.environ["PGC_MONITOR_PASSWORD"].encode()
salt, iterations = os.urandom(16), 4096
salted = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
client_key = hmac.new(salted, b"Client Key", "sha256").digest()
server_key = hmac.new(salted, b"Server Key", "sha256").digest()
b64 = lambda v: base64.b64encode(v).decode()
print("SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, b64(salt), b64(hashlib.sha256(client_key).digest()), b64(server_key)))
')" \\
  "\${psql[@]}" -v user="$PGC_MONITOR_USER" <<'SQL'
\\getenv pw PGC_MONITOR_VERIFIER
SELECT format('CREATE ROLE %I LOGIN', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user')
\\gexec
SELECT format('ALTER ROLE %I WITH NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'user', :'pw')
\\gexec
SELECT format('GRANT pg_monitor TO %I', :'user')
\\gexec
SELECT format('GRANT USAGE ON SCHEMA cdk8s_heartbeat TO %I', :'user')
\\gexec
SELECT format('GRANT SELECT ON cdk8s_heartbeat.beat TO %I', :'user')
\\gexec
SQL
  echo "monitoring role $PGC_MONITOR_USER is ready"
fi
if [ -n "\${PGC_DATABASE:-}" ] && [ "$PGC_DATABASE" != postgres ]; then
  "\${psql[@]}" -v db="$PGC_DATABASE" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\\gexec
SQL
  echo "database $PGC_DATABASE is ready"
fi
`;

/**
 * Creates the cluster's credential Secrets when they do not exist yet, with random passwords made
 * inside the cluster (never in the synthesized YAML). Idempotent: an existing Secret is left as is,
 * so re-applying the manifests never rotates a password. Talks to the Kubernetes API with the
 * pod's service account token; standard library only.
 *
 * Environment: SECRETS (space-separated `name=username` pairs), KUBERNETES_SERVICE_HOST,
 * KUBERNETES_SERVICE_PORT, optional SA_DIR (defaults to the service account mount),
 * SECRET_CONNECTIONS (JSON: Secret name -> {host, roHost, port, dbname, sslmode}: adds host, port,
 * dbname, uri, jdbc-uri and their `ro-` twins) and SECRET_USERLISTS (Secret names that also get
 * PgBouncer's `userlist.txt`).
 */
export const ENSURE_SECRETS_SCRIPT = `#!/usr/bin/env python3
import base64, json, os, secrets, ssl, sys, urllib.error, urllib.request

sa_dir = os.environ.get("SA_DIR", "/var/run/secrets/kubernetes.io/serviceaccount")
host = os.environ["KUBERNETES_SERVICE_HOST"]
if ":" in host:
    host = "[" + host + "]"
api = "https://%s:%s" % (host, os.environ.get("KUBERNETES_SERVICE_PORT", "443"))
with open(os.path.join(sa_dir, "token")) as f:
    token = f.read().strip()
with open(os.path.join(sa_dir, "namespace")) as f:
    namespace = f.read().strip()
ctx = ssl.create_default_context(cafile=os.path.join(sa_dir, "ca.crt"))


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(api + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def b64(text):
    return base64.b64encode(text.encode()).decode()


CONNECTIONS = json.loads(os.environ.get("SECRET_CONNECTIONS", "{}"))
USERLISTS = os.environ.get("SECRET_USERLISTS", "").split()
failed = False
for pair in os.environ["SECRETS"].split():
    name, username = pair.split("=", 1)
    path = "/api/v1/namespaces/%s/secrets" % namespace
    status = call("GET", path + "/" + name)
    if status == 200:
        print("secret %s exists, left unchanged" % name)
        continue
    if status != 404:
        print("secret %s: unexpected status %d on read" % (name, status), file=sys.stderr)
        failed = True
        continue
    password = secrets.token_urlsafe(32)
    data = {"username": username, "password": password}
    conn = CONNECTIONS.get(name)
    if conn:
        # What a client needs, for the read-write and the read-only Service.
        query = "?sslmode=%s" % conn["sslmode"]
        for prefix, host in (("", conn["host"]), ("ro-", conn["roHost"])):
            data[prefix + "host"] = host
            data[prefix + "uri"] = "postgresql://%s:%s@%s:%s/%s%s" % (username, password, host, conn["port"], conn["dbname"], query)
            data[prefix + "jdbc-uri"] = "jdbc:postgresql://%s:%s/%s%s&user=%s&password=%s" % (host, conn["port"], conn["dbname"], query, username, password)
        data["port"] = str(conn["port"])
        data["dbname"] = conn["dbname"]
    if name in USERLISTS:
        # PgBouncer's auth_file: the line for its auth_query user.
        data["userlist.txt"] = '"%s" "%s"\\n' % (username, password)
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": json.loads(os.environ.get("SECRET_LABELS", "{}"))},
        "type": "kubernetes.io/basic-auth",
        "data": {key: b64(value) for key, value in data.items()},
    }
    status = call("POST", path, body)
    if status in (200, 201):
        print("secret %s created" % name)
    elif status == 409:
        print("secret %s was created concurrently, left unchanged" % name)
    else:
        print("secret %s: unexpected status %d on create" % (name, status), file=sys.stderr)
        failed = True
sys.exit(1 if failed else 0)
`;

/**
 * The backup init Job: creates the stanza in every repository (idempotent) once the leader's
 * pgBackRest server answers, then takes a full backup into each repository that has none, so
 * scheduled incremental backups and replicas from the repository work without a manual step.
 * Environment: PGC_STANZA, PGC_REPOS (space-separated indexes), PGC_WAIT_SECONDS.
 */
export const BACKUP_INIT_SCRIPT = `#!/bin/bash
set -uo pipefail
deadline=$((SECONDS + \${PGC_WAIT_SECONDS:-1800}))
until pgbackrest --stanza="$PGC_STANZA" stanza-create; do
  if [ "$SECONDS" -ge "$deadline" ]; then echo "backup-init: the leader's pgBackRest server did not answer in time" >&2; exit 1; fi
  sleep 5
done
for repo in $PGC_REPOS; do
  count="$(pgbackrest --stanza="$PGC_STANZA" --repo="$repo" --output=json info | python3 -c 'import json, sys; d = json.load(sys.stdin); print(len(d[0].get("backup", [])) if d else 0)')"
  if [ "\${count:-0}" -gt 0 ]; then
    echo "backup-init: repo$repo already holds $count backup(s)"
    continue
  fi
  echo "backup-init: first full backup into repo$repo"
  pgbackrest --stanza="$PGC_STANZA" --repo="$repo" --type=full backup || exit 1
done
`;

/**
 * Runs pgBackRest against a restore source only: the source's own configuration file and stanza,
 * its credentials read from files, and none of the cluster's own PGBACKREST_* variables, so a
 * restore can never write into the source's repository with the cluster's settings or the other
 * way round. Environment: PGC_SOURCE_CONFIG, PGC_SOURCE_STANZA, and the directories of the mounted Secrets
 * PGC_SOURCE_CREDENTIALS (object storage keys) and PGC_SOURCE_CIPHER (the cipher pass).
 */
export const PGBACKREST_SOURCE_SCRIPT = `#!/bin/bash
set -euo pipefail
config="$PGC_SOURCE_CONFIG"; stanza="$PGC_SOURCE_STANZA"
creds="\${PGC_SOURCE_CREDENTIALS:-/nonexistent}"; cipher="\${PGC_SOURCE_CIPHER:-/nonexistent}"
for v in $(compgen -e); do case "$v" in PGBACKREST_*) unset "$v";; esac; done
put() { if [ -f "$1" ]; then export "$2=$(cat "$1")"; fi; }
put "$creds/access-key-id" PGBACKREST_REPO1_S3_KEY
put "$creds/secret-access-key" PGBACKREST_REPO1_S3_KEY_SECRET
put "$creds/key" PGBACKREST_REPO1_AZURE_KEY
put "$cipher/cipher-pass" PGBACKREST_REPO1_CIPHER_PASS
exec pgbackrest --config="$config" --stanza="$stanza" "$@"
`;

/**
 * Patroni's custom bootstrap of a cluster restored from a backup: restores the source's backup
 * into PGDATA. Environment: PGC_RESTORE_TYPE, PGC_RESTORE_TARGET, PGC_RESTORE_SET (optional).
 */
export const BOOTSTRAP_RESTORE_SCRIPT = `#!/bin/bash
set -euo pipefail
args=(--pg1-path="$PGDATA")
if [ -n "\${PGC_RESTORE_TYPE:-}" ] && [ "$PGC_RESTORE_TYPE" != default ]; then
  args+=(--type="$PGC_RESTORE_TYPE" --target="$PGC_RESTORE_TARGET" --target-action=promote)
fi
if [ -n "\${PGC_RESTORE_SET:-}" ]; then args+=(--set="$PGC_RESTORE_SET"); fi
echo "bootstrap-restore: restoring stanza $PGC_SOURCE_STANZA \${args[*]:1}" >&2
exec "$(dirname "$0")/pgbackrest-source.sh" "\${args[@]}" restore
`;
