#!/usr/bin/env python3
import base64, hashlib, hmac, json, os, sys, time

import psycopg2
import psycopg2.errors
from psycopg2 import sql

SPEC = json.loads(os.environ["PGC_ACCESS"])
RESERVED = ("postgres", "public", "replicator", "cdk8s_monitor", "cdk8s_pgbouncer", "cdk8s_rewind", "cdk8s_access")
# Every database a client can connect to (template0 takes none), and whether it has the pooler's
# lookup (post-bootstrap.sh puts it in template1, which databases created later copy).
ALL_DATABASES = "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname"
HAS_LOOKUP = "SELECT to_regprocedure('cdk8s_pgbouncer.get_auth(text)') IS NOT NULL"


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


def ensure_role(cur, name, login, limit, password, superuser):
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
    if cur.fetchone() is None:
        cur.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(name)))
        log("role %s created" % name)
    # Only a superuser may even name SUPERUSER, REPLICATION or BYPASSRLS; roles made by a
    # non-superuser never have them (and it cannot alter a role that has).
    forbidden = "NOSUPERUSER NOREPLICATION NOBYPASSRLS " if superuser else ""
    options = "%sNOCREATEDB NOCREATEROLE %s CONNECTION LIMIT %d" % (forbidden, "LOGIN" if login else "NOLOGIN", limit)
    if password is not None:
        cur.execute(sql.SQL("ALTER ROLE {} WITH " + options + " PASSWORD %s").format(sql.Identifier(name)), (verifier(password),))
    else:
        cur.execute(sql.SQL("ALTER ROLE {} WITH " + options).format(sql.Identifier(name)))


def rotated_password(user, wait_seconds=600, poll=2.0, sleep=time.sleep):
    """The password of a user with a declared rotation, once its Secret has it.

    The credentials Job writes the new password and the rotation (key password-rotation) into
    the user's Secret in one update; this Job mounts both keys and waits until the mounted
    rotation reaches the declared one (the kubelet refreshes the files), so it never sets the
    password the Secret is about to lose. A higher recorded rotation is fine (the declaration was
    lowered: the Secret's password is still the current one).
    """
    rotation, directory = user["rotation"], user["passwordDir"]
    waited, seen = 0.0, None
    while True:
        try:
            with open(os.path.join(directory, "password-rotation")) as f:
                seen = int(f.read().strip() or "0")
            if seen >= rotation:
                with open(os.path.join(directory, "password")) as f:
                    value = f.read()
                if value:
                    return value
        except (OSError, ValueError):
            pass
        if waited >= wait_seconds:
            sys.exit("the Secret of %s is at password rotation %s, not %d, after %d s: did the credentials Job run?"
                     % (user["name"], seen, rotation, wait_seconds))
        if waited == 0:
            log("waiting for the Secret of %s to reach password rotation %d (now %s)" % (user["name"], rotation, seen))
        sleep(poll)
        waited += poll


def password_of(user):
    if user.get("passwordDir"):
        return rotated_password(user)
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
    cur.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
    me, superuser = cur.fetchone()
    for user in users:
        if user["name"] in RESERVED or user["name"].startswith("pg_"):
            sys.exit("refusing to manage the reserved role %s" % user["name"])
        ensure_role(cur, user["name"], user.get("login", True), user.get("connectionLimit", -1), password_of(user), superuser)
    for user in users:
        for group in user.get("memberOf", []):
            cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(user["name"])))
    for db in databases:
        if not superuser and db["owner"] != me:
            # A non-superuser gives a database to a role, and grants on it, as a member of that role.
            cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(db["owner"]), sql.Identifier(me)))
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
        ensure_role(cur, pooler["user"], True, -1, os.environ[pooler["passwordEnv"]], superuser)
        for db in databases:
            cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(db["name"]), sql.Identifier(pooler["user"])))
    owners = {db["name"]: db["owner"] for db in databases}
    targets = ["postgres"] + [db["name"] for db in databases]
    if pooler:
        # The pooler forwards every database (`* =`) and PgBouncer runs auth_query in the one the
        # client asked for: every database that takes connections is checked for the lookup.
        cur.execute(ALL_DATABASES)
        for (name,) in cur.fetchall():
            if name not in targets:
                targets.append(name)
    missing = []
    for dbname in targets:
        dbconn = connect(dbname)
        dcur = dbconn.cursor()
        for db in databases:
            if db["name"] == dbname:
                for extension in db.get("extensions", []):
                    try:
                        dcur.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)))
                    except psycopg2.errors.InsufficientPrivilege:
                        sys.exit("extension %s in database %s is not trusted: only a superuser may create it (%s is not one; "
                                 "config.connection.superuserNetworkAccess lets the access Job run as postgres)" % (extension, dbname, me))
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
                        sql.Identifier(owners.get(dbname, me)), schema, tables, who))
        if pooler:
            dcur.execute(HAS_LOOKUP)
            if not dcur.fetchone()[0]:
                missing.append(dbname)
        dbconn.close()
    if missing:
        # Made from template0, or before the cluster had the lookup in template1: a superuser adds
        # it (the function of post-bootstrap.sh); until then the pooler refuses logins to them.
        log("WARNING: no pooler lookup cdk8s_pgbouncer.get_auth in database(s) %s: the pooler cannot log in to them" % ", ".join(missing))
    log("access applied: %d roles, %d databases" % (len(users), len(databases)))


if __name__ == "__main__":
    main()
