#!/usr/bin/env python3
"""Creates the cluster's credential Secrets that do not exist yet, with random passwords, and
rotates the password of a Secret whose declared rotation is higher than the one it records.

Idempotent: an existing Secret is left as is, so re-applying the manifests never rotates a
password, unless its declared rotation (SECRET_ROTATIONS) is above the one recorded on the
Secret (annotation postgres.cdk8s.io/password-rotation, key password-rotation): then every key
that holds the password (password, uri, jdbc-uri, their ro- twins, userlist.txt) gets a new
one and the Secret records the rotation, so the same rotation never rotates twice. Talks to the
Kubernetes API with the pod's service account token; standard library only. Configured by the
environment (see src/render/scripts.ts).
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
        return self.request(method, path, body)[0]

    def request(self, method, path, body=None):
        """The HTTP status and the decoded JSON answer (None unless 2xx) of the call."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=30) as resp:
                raw = resp.read() if method == "GET" else b""
                return resp.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as err:
            return err.code, None
        except (urllib.error.URLError, OSError, ValueError) as err:
            print("%s %s: %s" % (method, path, getattr(err, "reason", err)), file=sys.stderr)
            return None, None


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


# Where a Secret records the rotation its password comes from: the annotation for people
# (kubectl), the key for the access Job, which mounts it and waits for it before it sets the password.
ROTATION_ANNOTATION = "postgres.cdk8s.io/password-rotation"
ROTATION_KEY = "password-rotation"


def recorded_rotation(secret):
    """The rotation a Secret records (0 when none or unreadable)."""
    value = ((secret.get("metadata") or {}).get("annotations") or {}).get(ROTATION_ANNOTATION, "0")
    try:
        return max(0, int(value))
    except ValueError:
        return 0


def rotate(api, path, name, username, rotation, conn, userlist, new_password, attempts=5):
    """Gives an existing Secret a new password when it records a rotation below `rotation`.

    Every key that holds the password is rewritten from the same new password; other keys are
    kept. The update carries the read resourceVersion: a concurrent writer makes it fail (409)
    and it starts over from a fresh read. True when the Secret is at `rotation` or above.
    """
    for _ in range(attempts):
        status, secret = api.request("GET", path + "/" + name)
        if status != 200 or not secret:
            print("secret %s: unexpected status %s on read" % (name, status), file=sys.stderr)
            return False
        current = recorded_rotation(secret)
        if current >= rotation:
            print("secret %s is at rotation %d (declared %d), left unchanged" % (name, current, rotation))
            return True
        data = dict(secret.get("data") or {})
        fresh = secret_data(username, new_password(), conn, userlist)
        fresh[ROTATION_KEY] = str(rotation)
        data.update({key: b64(value) for key, value in fresh.items()})
        metadata = secret["metadata"]
        metadata["annotations"] = dict(metadata.get("annotations") or {}, **{ROTATION_ANNOTATION: str(rotation)})
        secret["data"] = data
        status = api.call("PUT", path + "/" + name, secret)
        if status == 200:
            print("secret %s rotated (rotation %d -> %d)" % (name, current, rotation))
            return True
        if status != 409:
            print("secret %s: unexpected status %s on update" % (name, status), file=sys.stderr)
            return False
        print("secret %s changed while it was rotated, reading it again" % name)
    print("secret %s: kept changing, not rotated" % name, file=sys.stderr)
    return False


def ensure(api, namespace, pairs, connections, userlists, labels, new_password=lambda: secrets.token_urlsafe(32), rotations=None):
    """Creates each missing Secret of `pairs` ((name, username)) and rotates those `rotations`
    (name -> declared rotation) asks for; True when all exist, rotated as declared, afterwards."""
    ok = True
    rotations = rotations or {}
    path = "/api/v1/namespaces/%s/secrets" % namespace
    for name, username in pairs:
        rotation = rotations.get(name, 0)
        if rotation > 0:
            if not rotate_or_create(api, path, name, username, rotation, connections.get(name), name in userlists, labels, new_password):
                ok = False
            continue
        status = api.call("GET", path + "/" + name)
        if status == 200:
            print("secret %s exists, left unchanged" % name)
            continue
        if status != 404:
            print("secret %s: unexpected status %s on read" % (name, status), file=sys.stderr)
            ok = False
            continue
        if create(api, path, name, username, connections.get(name), name in userlists, labels, new_password) is None:
            ok = False
    return ok


def create(api, path, name, username, conn, userlist, labels, new_password, rotation=0):
    """Creates the Secret; returns "created", "exists" (made concurrently) or None (failed)."""
    data = secret_data(username, new_password(), conn, userlist)
    metadata = {"name": name, "labels": labels}
    if rotation > 0:
        # A Secret made at rotation N already has that rotation's password.
        data[ROTATION_KEY] = str(rotation)
        metadata["annotations"] = {ROTATION_ANNOTATION: str(rotation)}
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "kubernetes.io/basic-auth",
        "data": {key: b64(value) for key, value in data.items()},
    }
    status = api.call("POST", path, body)
    if status in (200, 201):
        print("secret %s created" % name)
        return "created"
    if status == 409:
        print("secret %s was created concurrently, left unchanged" % name)
        return "exists"
    print("secret %s: unexpected status %s on create" % (name, status), file=sys.stderr)
    return None


def rotate_or_create(api, path, name, username, rotation, conn, userlist, labels, new_password):
    """A Secret with a declared rotation: created at that rotation when missing, else rotated up to it."""
    status, _ = api.request("GET", path + "/" + name)
    if status == 404:
        made = create(api, path, name, username, conn, userlist, labels, new_password, rotation)
        if made != "exists":
            return made is not None
    elif status != 200:
        print("secret %s: unexpected status %s on read" % (name, status), file=sys.stderr)
        return False
    return rotate(api, path, name, username, rotation, conn, userlist, new_password)


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
                labels=json.loads(env.get("SECRET_LABELS", "{}")),
                rotations=json.loads(env.get("SECRET_ROTATIONS", "{}")))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(os.environ))
