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
