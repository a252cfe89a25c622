#!/usr/bin/env python3
"""Creates the cluster's credential Secrets that do not exist yet, with random passwords.

Idempotent: an existing Secret is left as is, so re-applying the manifests never rotates a
password. Talks to the Kubernetes API with the pod's service account token; standard library
only. Configured by the environment (see src/render/scripts.ts).
"""
import base64
import json
import os
import secrets
import ssl
import sys
import urllib.error
import urllib.request


def api_url(env):
    """The API server's base URL; an IPv6 service host goes in brackets."""
    host = env["KUBERNETES_SERVICE_HOST"]
    if ":" in host:
        host = "[" + host + "]"
    return "https://%s:%s" % (host, env.get("KUBERNETES_SERVICE_PORT", "443"))


class Api:
    """The few calls this program makes, authenticated with the service account token."""

    def __init__(self, base, token, context):
        self.base, self.token, self.context = base, token, context

    def call(self, method, path, body=None):
        """The HTTP status of the call (an error status too; None when the server was not reached)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=30) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code
        except (urllib.error.URLError, OSError) as err:
            print("%s %s: %s" % (method, path, getattr(err, "reason", err)), file=sys.stderr)
            return None


def b64(text):
    return base64.b64encode(text.encode()).decode()


def secret_data(username, password, conn, userlist):
    """The Secret's keys: the credentials, what a client needs to connect, PgBouncer's userlist."""
    data = {"username": username, "password": password}
    if conn:
        # What a client needs, for the read-write and the read-only Service.
        query = "?sslmode=%s" % conn["sslmode"]
        for prefix, host in (("", conn["host"]), ("ro-", conn["roHost"])):
            data[prefix + "host"] = host
            data[prefix + "uri"] = "postgresql://%s:%s@%s:%s/%s%s" % (username, password, host, conn["port"], conn["dbname"], query)
            data[prefix + "jdbc-uri"] = "jdbc:postgresql://%s:%s/%s%s&user=%s&password=%s" % (host, conn["port"], conn["dbname"], query, username, password)
        data["port"] = str(conn["port"])
        data["dbname"] = conn["dbname"]
    if userlist:
        # PgBouncer's auth_file: the line for its auth_query user.
        data["userlist.txt"] = '"%s" "%s"\n' % (username, password)
    return data


def ensure(api, namespace, pairs, connections, userlists, labels, new_password=lambda: secrets.token_urlsafe(32)):
    """Creates each missing Secret of `pairs` ((name, username)); True when all exist afterwards."""
    ok = True
    path = "/api/v1/namespaces/%s/secrets" % namespace
    for name, username in pairs:
        status = api.call("GET", path + "/" + name)
        if status == 200:
            print("secret %s exists, left unchanged" % name)
            continue
        if status != 404:
            print("secret %s: unexpected status %s on read" % (name, status), file=sys.stderr)
            ok = False
            continue
        data = secret_data(username, new_password(), connections.get(name), name in userlists)
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "labels": labels},
            "type": "kubernetes.io/basic-auth",
            "data": {key: b64(value) for key, value in data.items()},
        }
        status = api.call("POST", path, body)
        if status in (200, 201):
            print("secret %s created" % name)
        elif status == 409:
            print("secret %s was created concurrently, left unchanged" % name)
        else:
            print("secret %s: unexpected status %s on create" % (name, status), file=sys.stderr)
            ok = False
    return ok


def main(env):
    sa_dir = env.get("SA_DIR", "/var/run/secrets/kubernetes.io/serviceaccount")
    with open(os.path.join(sa_dir, "token")) as f:
        token = f.read().strip()
    with open(os.path.join(sa_dir, "namespace")) as f:
        namespace = f.read().strip()
    api = Api(api_url(env), token, ssl.create_default_context(cafile=os.path.join(sa_dir, "ca.crt")))
    pairs = [tuple(pair.split("=", 1)) for pair in env["SECRETS"].split()]
    ok = ensure(api, namespace, pairs,
                connections=json.loads(env.get("SECRET_CONNECTIONS", "{}")),
                userlists=env.get("SECRET_USERLISTS", "").split(),
                labels=json.loads(env.get("SECRET_LABELS", "{}")))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(os.environ))
