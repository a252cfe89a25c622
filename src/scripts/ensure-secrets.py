#!/usr/bin/env python3
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
        data["userlist.txt"] = '"%s" "%s"\n' % (username, password)
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
