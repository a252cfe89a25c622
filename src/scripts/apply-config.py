#!/usr/bin/env python3
"""Applies the declared cluster-wide configuration to a running cluster, then the restarts it needs.

Patroni reads `bootstrap.dcs` once, when the cluster is created; afterwards the cluster-wide
settings live in the DCS and change only through Patroni's REST API (PATCH /config). This
program, run by a Job named after a hash of the declared configuration, makes the DCS equal to
the declaration: it sends the difference (removed parameters as null), waits for the members to
load it, and restarts the members whose PostgreSQL reports a pending restart, one at a time:
the replicas first, each back and streaming before the next, the leader last.

Environment: PGC_CONFIG (JSON: {"config": the declared dynamic configuration, "removable": the
top-level keys the library may leave out}), PGC_MEMBERS (space-separated REST API base URLs,
e.g. https://db-primary-0.db-pods:8008), PGC_TLS_DIR (ca.crt, tls.crt, tls.key of a client
certificate of the cluster CA; empty: plain HTTP), PGC_WAIT_SECONDS (how long to wait for the
cluster and for each restarted member, default 600), PGC_RESTART (`pending`, the default: the
members with a pending restart; `all`: every member, in the same order, for `kubectl pg restart`).
Standard library only.
"""
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request


def log(msg):
    print(msg, flush=True)


class Rest:
    """Patroni's REST API of the members."""

    def __init__(self, context):
        self.context = context

    def call(self, url, method="GET", body=None, timeout=10):
        """(status, parsed JSON or text); (None, reason) when the member was not reached."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=timeout) as resp:
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


def config_patch(current, desired, removable):
    """The PATCH body that makes `current` (the DCS configuration) equal `desired`; {} if equal.

    Top-level keys: what differs is set, a removable key left out of `desired` is deleted (null).
    Keys the library never sets (an operator's `pause`, permanent `slots`) are left alone.
    `postgresql`: its settings are set where they differ; parameters the declaration no longer has
    are deleted.
    """
    patch = {}
    for key, value in desired.items():
        if key == "postgresql":
            continue
        if current.get(key) != value:
            patch[key] = value
    for key in removable:
        if key not in desired and key in current:
            patch[key] = None
    want = desired.get("postgresql", {})
    have = current.get("postgresql") or {}
    pg = {}
    for key, value in want.items():
        if key == "parameters":
            continue
        if have.get(key) != value:
            pg[key] = value
    want_params = want.get("parameters", {})
    have_params = have.get("parameters") or {}
    params = {k: v for k, v in want_params.items() if not same_value(have_params.get(k), v)}
    params.update({k: None for k in have_params if k not in want_params})
    if params:
        pg["parameters"] = params
    if pg:
        patch["postgresql"] = pg
    return patch


def same_value(a, b):
    """Patroni keeps what it was given; 100 and "100" are the same setting."""
    if a is None or b is None:
        return a is b
    return str(a) == str(b)


def restart_order(members, everyone=False):
    """Members with a pending restart (or every member): replicas (by name) first, the leader last."""
    pending = [m for m in members if everyone or m.get("pending_restart")]
    replicas = sorted((m for m in pending if m.get("role") not in ("leader", "standby_leader")), key=lambda m: m["name"])
    leaders = [m for m in pending if m.get("role") in ("leader", "standby_leader")]
    return replicas + leaders


def base_url(api_url):
    """A member's api_url (…/patroni) without its path."""
    return api_url.rsplit("/", 1)[0] if api_url.endswith("/patroni") else api_url.rstrip("/")


class Applier:
    def __init__(self, rest, members, wait_seconds, sleep=time.sleep, clock=time.monotonic, restart_all=False):
        self.rest, self.members, self.wait_seconds = rest, members, wait_seconds
        self.restart_all = restart_all
        self.sleep, self.clock = sleep, clock
        self.noted = set()

    def until(self, what, check, interval=2.0):
        deadline = self.clock() + self.wait_seconds
        while True:
            result = check()
            if result:
                return result
            if self.clock() > deadline:
                raise SystemExit("timed out after %d s waiting for %s" % (self.wait_seconds, what))
            self.sleep(interval)

    def cluster(self):
        """GET /cluster from the first member that answers with a leader, else None."""
        for url in self.members:
            status, body = self.rest.call(url + "/cluster")
            if status == 200 and isinstance(body, dict) and any(m.get("role") in ("leader", "standby_leader") for m in body.get("members", [])):
                return body
            self.note("%s/cluster: %s %s" % (url, status, body if status != 200 else "no leader"))
        return None

    def note(self, msg):
        """Logs why a member did not answer, once per distinct reason."""
        if msg not in self.noted:
            self.noted.add(msg)
            log(msg)

    def current_config(self):
        for url in self.members:
            status, body = self.rest.call(url + "/config")
            if status == 200 and isinstance(body, dict):
                return body
        return None

    def apply(self, desired, removable):
        self.until("a member that answers with a leader", self.cluster)
        current = self.until("the DCS configuration", self.current_config)
        patch = config_patch(current, desired, removable)
        if patch:
            log("changing the cluster configuration: %s" % json.dumps(patch, sort_keys=True))
            status, body = self.rest.call(self.members[0] + "/config", "PATCH", patch)
            if status != 200:
                # Any member accepts the patch: try the others before giving up.
                for url in self.members[1:]:
                    status, body = self.rest.call(url + "/config", "PATCH", patch)
                    if status == 200:
                        break
            if status != 200:
                raise SystemExit("PATCH /config failed: %s %s" % (status, body))
            # Members load a new configuration on their next loop; two loops and a margin.
            loop_wait = int(desired.get("loop_wait", 10))
            self.sleep(2 * loop_wait + 2)
        else:
            log("the cluster configuration already matches the declaration")
        left = self.until("a member that answers with a leader", self.cluster)
        order = restart_order(left["members"], self.restart_all)
        for member in order:
            self.restart(member)
        still = [m["name"] for m in self.until("a member that answers with a leader", self.cluster)["members"] if m.get("pending_restart")]
        if still:
            raise SystemExit("pending restart after the restarts: %s" % ", ".join(still))
        log("done: %d member(s) restarted" % len(order))
        return patch

    def restart(self, member):
        url = base_url(member["api_url"])
        leader = member.get("role") in ("leader", "standby_leader")
        log("restarting %s (%s) for %s" % (member["name"], member.get("role"), member.get("pending_restart_reason") or "pending restart"))
        request = {} if self.restart_all else {"restart_pending": True}
        status, body = self.rest.call(url + "/restart", "POST", request, timeout=self.wait_seconds)
        if status not in (200, 202):
            raise SystemExit("restart of %s failed: %s %s" % (member["name"], status, body))

        def back():
            cluster = self.cluster()
            if not cluster:
                return None
            for m in cluster["members"]:
                if m["name"] != member["name"]:
                    continue
                if m.get("state") not in ("running", "streaming"):
                    return None
                if not leader and m.get("state") != "streaming":
                    return None
                return m
            return None

        self.until("%s running again" % member["name"], back)
        log("%s is back" % member["name"])


def ssl_context(tls_dir):
    if not tls_dir:
        return None
    ctx = ssl.create_default_context(cafile=os.path.join(tls_dir, "ca.crt"))
    # The chain is verified against the cluster's own CA, which signs only this cluster's
    # certificates; not the name: `*.<cluster>-pods` has one label after the wildcard, which
    # OpenSSL never matches, and the namespaced names exist only when the namespace is known.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(os.path.join(tls_dir, "tls.crt"), os.path.join(tls_dir, "tls.key"))
    return ctx


def main(env):
    spec = json.loads(env["PGC_CONFIG"])
    members = env["PGC_MEMBERS"].split()
    if not members:
        raise SystemExit("PGC_MEMBERS is empty")
    restart = env.get("PGC_RESTART", "pending")
    if restart not in ("pending", "all"):
        raise SystemExit("PGC_RESTART must be pending or all, got %r" % restart)
    applier = Applier(Rest(ssl_context(env.get("PGC_TLS_DIR", ""))), members, int(env.get("PGC_WAIT_SECONDS", "600")),
                      restart_all=restart == "all")
    applier.apply(spec["config"], spec.get("removable", []))


if __name__ == "__main__":
    main(os.environ)
    sys.exit(0)
