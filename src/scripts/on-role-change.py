#!/usr/bin/env python3
"""Patroni's on_role_change callback: a new leader takes the leader label off a lost leader's pod.

Patroni labels only its own pod. When a leader's node is lost, nothing runs there to relabel its
pod, and the pod stays Ready until the node lifecycle controller marks it NotReady (50 s by
default): until then the read-write Service, which selects the leader label, sends about half of
the new connections to the lost node, where they hang. Patroni runs this program on the member
it has just promoted. Every member pod that carries the leader label but is not the member the
DCS's leader object names loses that label (a JSON patch whose `test` makes it a no-op if the
label has changed meanwhile): the read-write Service then selects the leader alone. The leader
object, not this pod, is the reference, so a callback that runs late (after yet another
failover) still unlabels only the pods that should not have it.
A member whose Patroni is alive sets its own labels again on its next loop, so nothing is lost
if a pod is unlabelled by mistake; a lost leader's Patroni, if it comes back, labels its pod for
the role it then has.

    on-role-change.py --scope-label=KEY --role-label=KEY --leader-value=VALUE --leader-object=KIND/NAME \\
        ACTION ROLE SCOPE

The options come from the Patroni configuration's callback command; Patroni appends ACTION
(on_role_change), ROLE (primary, replica, standby_leader, ...) and SCOPE (the cluster name).
KIND/NAME is Patroni's leader object (configmaps/<scope>-leader, or endpoints/<scope>).
Patroni takes every PATRONI_* variable out of its environment as it reads them, so the callback
knows nothing of this pod but its service account: the namespace and the token come from there,
the API server's address from KUBERNETES_SERVICE_HOST and _PORT. It tries for at most
PGC_ROLE_CHANGE_SECONDS (default 20) and always exits 0: Patroni does not wait for it, and a
failure is only logged (the node lifecycle controller then removes the lost pod as before).
Standard library only.
"""
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
LEADER_ROLES = ("primary", "master", "standby_leader")


def log(msg):
    print("on-role-change.py: " + msg, file=sys.stderr, flush=True)


class Kube:
    """The Kubernetes API, with the pod's service account token."""

    def __init__(self, base, token, context):
        self.base, self.token, self.context = base, token, context

    def call(self, method, path, body=None, content_type="application/json"):
        """(status, parsed JSON or text); (None, reason) when the API server was not reached."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=5) as resp:
                return resp.status, parse(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, parse(err.read())
        except (urllib.error.URLError, OSError) as err:
            return None, str(getattr(err, "reason", err))


def parse(raw):
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def kube_from_env(env):
    host = env["KUBERNETES_SERVICE_HOST"]
    if ":" in host:
        host = "[" + host + "]"
    with open(os.path.join(SERVICE_ACCOUNT_DIR, "token")) as f:
        token = f.read().strip()
    ctx = ssl.create_default_context(cafile=os.path.join(SERVICE_ACCOUNT_DIR, "ca.crt"))
    return Kube("https://%s:%s" % (host, env.get("KUBERNETES_SERVICE_PORT", "443")), token, ctx)


def pointer(key):
    """A label key as a JSON pointer token (RFC 6901: ~ and / escaped)."""
    return key.replace("~", "~0").replace("/", "~1")


def parse_args(argv):
    """(options dict, action, role, scope); raises ValueError naming what is wrong."""
    options = {}
    rest = []
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            options[key] = value
        else:
            rest.append(arg)
    required = ("scope-label", "role-label", "leader-value", "leader-object")
    missing = [k for k in required if not options.get(k)]
    unknown = sorted(set(options) - set(required))
    if missing or unknown or len(rest) != 3:
        raise ValueError("usage: on-role-change.py --scope-label=KEY --role-label=KEY --leader-value=VALUE "
                         "--leader-object=KIND/NAME ACTION ROLE SCOPE (missing %s, unknown %s, %d positional)"
                         % (missing or "none", unknown or "none", len(rest)))
    kind, _, name = options["leader-object"].partition("/")
    if kind not in ("configmaps", "endpoints") or not name:
        raise ValueError("--leader-object must be configmaps/NAME or endpoints/NAME, got %r" % options["leader-object"])
    return options, rest[0], rest[1], rest[2]


def leader_of(kube, namespace, leader_object):
    """The member the DCS's leader object names; (None, reason) when it could not be read."""
    status, body = kube.call("GET", "/api/v1/namespaces/%s/%s" % (namespace, leader_object))
    if status != 200 or not isinstance(body, dict):
        return None, "GET %s: %s" % (leader_object, body if status is None else status)
    return ((body.get("metadata") or {}).get("annotations") or {}).get("leader"), None


def unlabel_others(kube, namespace, leader, options, scope):
    """Takes the leader label off every pod of the cluster that has it but is not `leader`.

    Returns (pods unlabelled, None) or (None, reason) when something should be tried again."""
    role_label, leader_value = options["role-label"], options["leader-value"]
    selector = "%s=%s,%s=%s" % (options["scope-label"], scope, role_label, leader_value)
    status, body = kube.call("GET", "/api/v1/namespaces/%s/pods?labelSelector=%s" % (namespace, urllib.parse.quote(selector)))
    if status != 200 or not isinstance(body, dict):
        return None, "listing pods (%s): %s" % (selector, body if status is None else status)
    done = []
    path = "/metadata/labels/" + pointer(role_label)
    for pod in body.get("items") or []:
        name = (pod.get("metadata") or {}).get("name")
        if not name or name == leader:
            continue
        patch = [{"op": "test", "path": path, "value": leader_value}, {"op": "remove", "path": path}]
        status, answer = kube.call("PATCH", "/api/v1/namespaces/%s/pods/%s" % (namespace, urllib.parse.quote(name)),
                                   patch, "application/json-patch+json")
        if status == 200:
            log("took %s=%s off pod %s: %s leads" % (role_label, leader_value, name, leader))
            done.append(name)
        elif status in (404, 422):
            # Gone, or its label changed since the list (the test failed): nothing to take off.
            log("pod %s: label already changed or pod gone (%s)" % (name, status))
        else:
            return None, "patching pod %s: %s" % (name, answer if status is None else status)
    return done, None


def run(argv, env, kube, namespace, clock=time.monotonic, sleep=time.sleep):
    """The callback; returns the pods it unlabelled (for tests). Never raises for API failures."""
    options, action, role, scope = parse_args(argv)
    if action != "on_role_change" or role not in LEADER_ROLES:
        return []
    deadline = clock() + float(env.get("PGC_ROLE_CHANGE_SECONDS") or 20)
    while True:
        leader, reason = leader_of(kube, namespace, options["leader-object"])
        if leader:
            done, reason = unlabel_others(kube, namespace, leader, options, scope)
            if done is not None:
                return done
        elif reason is None:
            reason = "the leader object names no leader yet"
        if clock() >= deadline:
            log("gave up: %s" % reason)
            return []
        sleep(0.5)


def main():
    try:
        kube = kube_from_env(os.environ)
        with open(os.path.join(SERVICE_ACCOUNT_DIR, "namespace")) as f:
            namespace = f.read().strip()
        run(sys.argv[1:], os.environ, kube, namespace)
    except (ValueError, KeyError, OSError) as err:
        log("not run: %s" % err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
