#!/usr/bin/env python3
import base64, hashlib, hmac, json, os, sys, time

import psycopg2
from psycopg2 import sql

SPEC = json.loads(os.environ["PGC_ACCESS"])
RESERVED = ("postgres", "public", "replicator", "cdk8s_monitor", "cdk8s_pgbouncer")
# Every database a client can connect to (template0 takes none), the templates marked.
ALL_DATABASES = "SELECT datname, datistemplate FROM pg_database WHERE datallowconn ORDER BY datname"


def log(message):
    print(message, flush=True)


def verifier(password):
    """A SCRAM-SHA-256 verifier of the password (what PostgreSQL stores), computed here."""
    salt, iterations = os.urandom(16), 4096
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda v: base64.b64encode(v).decode()
    return "SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, b64(salt), b64(hashlib.sha256(client_key).digest()), b64(server_key))


def connect(dbname):
    conn = psycopg2.connect(dbname=dbname, application_name="cdk8s-access", connect_timeout=10)
    conn.autocommit = True
    return conn


def primary():
    """Waits for the primary (the read-write Service), up to ten minutes."""
    for attempt in range(120):
        try:
            conn = connect("postgres")
            with conn.cursor() as cur:
                cur.execute("SELECT pg_is_in_recovery()")
                if not cur.fetchone()[0]:
                    return conn
            conn.close()
            log("connected to a replica, waiting for the primary")
        except psycopg2.OperationalError as err:
            log("waiting for the primary: %s" % str(err).strip().splitlines()[0])
        time.sleep(5)
    sys.exit("the primary did not answer in ten minutes")


def ensure_role(cur, name, login, limit, password):
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
    if cur.fetchone() is None:
        cur.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(name)))
        log("role %s created" % name)
    options = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS %s CONNECTION LIMIT %d" % ("LOGIN" if login else "NOLOGIN", limit)
    if password is not None:
        cur.execute(sql.SQL("ALTER ROLE {} WITH " + options + " PASSWORD %s").format(sql.Identifier(name)), (verifier(password),))
    else:
        cur.execute(sql.SQL("ALTER ROLE {} WITH " + options).format(sql.Identifier(name)))


def password_of(user):
    env = user.get("passwordEnv")
    if not env:
        return None
    value = os.environ.get(env, "")
    if not value:
        sys.exit("password of %s missing (%s)" % (user["name"], env))
    return value


def main():
    conn = primary()
    cur = conn.cursor()
    users = SPEC.get("users", [])
    databases = SPEC.get("databases", [])
    pooler = SPEC.get("pooler")
    for user in users:
        if user["name"] in RESERVED or user["name"].startswith("pg_"):
            sys.exit("refusing to manage the reserved role %s" % user["name"])
        ensure_role(cur, user["name"], user.get("login", True), user.get("connectionLimit", -1), password_of(user))
    for user in users:
        for group in user.get("memberOf", []):
            cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(user["name"])))
    for db in databases:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db["name"],))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(db["name"]), sql.Identifier(db["owner"])))
            log("database %s created" % db["name"])
        else:
            cur.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(db["name"]), sql.Identifier(db["owner"])))
        # Only the roles granted below (and the owner) may connect.
        cur.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(db["name"])))
    for user in users:
        for grant in user.get("databases", []):
            privileges = sql.SQL(", ").join(sql.SQL(p) for p in grant["privileges"])
            cur.execute(sql.SQL("GRANT {} ON DATABASE {} TO {}").format(privileges, sql.Identifier(grant["database"]), sql.Identifier(user["name"])))
    if pooler:
        ensure_role(cur, pooler["user"], True, -1, os.environ[pooler["passwordEnv"]])
    owners = {db["name"]: db["owner"] for db in databases}
    targets = ["postgres"] + [db["name"] for db in databases]
    templates = set()
    if pooler:
        # The pooler forwards every database (`* =`) and PgBouncer runs auth_query in the one the
        # client asked for: the lookup function goes into every database that takes connections,
        # also those this declaration does not name (the cluster's own `config.database.name`,
        # databases made by hand), and into template1, so a database created later inherits it.
        cur.execute(ALL_DATABASES)
        for name, is_template in cur.fetchall():
            if is_template:
                templates.add(name)
            if name not in targets:
                targets.append(name)
    for dbname in targets:
        dbconn = connect(dbname)
        dcur = dbconn.cursor()
        for db in databases:
            if db["name"] == dbname:
                for extension in db.get("extensions", []):
                    dcur.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)))
        for user in users:
            for grant in user.get("schemas", []):
                if grant["database"] != dbname:
                    continue
                schema = sql.Identifier(grant["schema"])
                who = sql.Identifier(user["name"])
                dcur.execute(sql.SQL("GRANT {} ON SCHEMA {} TO {}").format(sql.SQL(", ").join(sql.SQL(p) for p in grant["privileges"]), schema, who))
                if grant.get("tables"):
                    tables = sql.SQL(", ").join(sql.SQL(p) for p in grant["tables"])
                    dcur.execute(sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA {} TO {}").format(tables, schema, who))
                    dcur.execute(sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT {} ON TABLES TO {}").format(
                        sql.Identifier(owners.get(dbname, "postgres")), schema, tables, who))
        if pooler:
            # PgBouncer looks up a client's SCRAM verifier through this function, as a role that
            # can read nothing else; superusers and the library's own roles are never returned.
            role = sql.Identifier(pooler["user"])
            dcur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS cdk8s_pgbouncer AUTHORIZATION postgres"))
            dcur.execute("""CREATE OR REPLACE FUNCTION cdk8s_pgbouncer.get_auth(p_usename text)
RETURNS TABLE (usename name, passwd text) LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
  SELECT rolname, rolpassword FROM pg_authid
  WHERE rolname = p_usename AND rolcanlogin AND NOT rolsuper
    AND rolname NOT IN ('postgres', 'replicator', 'cdk8s_monitor', 'cdk8s_pgbouncer')
$fn$""")
            dcur.execute("REVOKE ALL ON FUNCTION cdk8s_pgbouncer.get_auth(text) FROM PUBLIC")
            dcur.execute(sql.SQL("GRANT USAGE ON SCHEMA cdk8s_pgbouncer TO {}").format(role))
            dcur.execute(sql.SQL("GRANT EXECUTE ON FUNCTION cdk8s_pgbouncer.get_auth(text) TO {}").format(role))
            if dbname not in templates:
                cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(dbname), role))
        dbconn.close()
    log("access applied: %d roles, %d databases" % (len(users), len(databases)))


if __name__ == "__main__":
    main()
