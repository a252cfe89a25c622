#!/usr/bin/env python3
"""Applies the declared configuration to a running cluster: cluster-wide settings, pod templates, restarts.

Patroni reads `bootstrap.dcs` once, when the cluster is created; afterwards the cluster-wide
settings live in the DCS and change only through Patroni's REST API (PATCH /config). The member
StatefulSets roll nothing by themselves (updateStrategy OnDelete): a changed pod template reaches
the pods only when this program replaces them. Run by a Job named after a hash of the declared
configuration and pod templates, it
1. makes the DCS equal to the declaration: it sends the difference (removed parameters as null)
   and waits for the members to load it;
2. replaces the members whose pod is not at their StatefulSet's update revision, one at a time:
   the replicas first, each evicted (the PodDisruptionBudget decides) and back, Ready and
   streaming before the next; then a switchover from the leader to an up-to-date replica, and the
   old leader last: one switchover is all clients see;
3. restarts the members whose PostgreSQL reports a pending restart, in the same order.
Before all of it, the members' volume claims grow to the declared size (storage.expandedSize)
when that is larger than what they request, and it waits until each has that capacity.
Before each replacement or restart every member must be Ready and running, so this program never
takes a second member down, and a Job of an older declaration stops once a newer one is applied.

Environment: PGC_CONFIG (JSON: {"config": the declared dynamic configuration, "removable": the
top-level keys the library may leave out}), PGC_MEMBERS (space-separated REST API base URLs,
e.g. https://db-primary-0.db-pods:8008), PGC_TLS_DIR (ca.crt, tls.crt, tls.key of a client
certificate of the cluster CA; empty: plain HTTP), PGC_WAIT_SECONDS (how long to wait for the
cluster and for each restarted member, default 600), PGC_RESTART (`pending`, the default: the
members with a pending restart; `all`: every member, in the same order, for `kubectl pg restart`),
PGC_ROLLOUT (JSON: {"selector": the members' label selector, "statefulSets": {name: the template
hash it declares}, "jobSelector": the label selector of this program's Jobs}; empty: no rollout
and no Kubernetes API call), PGC_NAMESPACE (the StatefulSets' namespace) and PGC_JOB_NAME (this
run's Job: it waits for the older unfinished ones), PGC_EXPAND_CLAIMS (JSON: [{"name": a member's
volume claim, "size": the quantity it grows to}]: expanded first, before anything else; empty:
none); the API is reached with the pod's service account token.
Standard library only.
"""
import decimal
import json
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def log(msg):
    print(msg, flush=True)


class Rest:
    """Patroni's REST API of the members."""

    def __init__(self, context):
        self.context = context

    def call(self, url, method="GET", body=None, timeout=10):
        """(status, parsed JSON or text); (None, reason) when the member was not reached."""
        return http(url, method, body, self.context, timeout)


def http(url, method, body, context, timeout, headers=None):
    """One JSON request: (status, parsed JSON or text); (None, reason) when nothing answered."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    if data is not None and "Content-Type" not in (headers or {}):
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, context=context, timeout=timeout) as resp:
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
        self.rollout = None
        self.expansion = None
        self.interrupt = None
        self.sleep, self.clock = sleep, clock
        self.noted = set()

    def until(self, what, check, interval=2.0):
        deadline = self.clock() + self.wait_seconds
        while True:
            result = check()
            if result:
                return result
            # While it waits, a newer declaration may replace this one (a fix for a change that
            # never comes up): this run then stops, and the newer one's Job takes over.
            if self.interrupt:
                self.interrupt()
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
        try:
            return self.apply_in_turn(desired, removable)
        except Superseded as why:
            log("stopped: %s; its own Job applies it" % why)
            return None

    def apply_in_turn(self, desired, removable):
        if self.rollout:
            self.interrupt = self.rollout.interrupt
            self.rollout.wait_turn()
        # The volumes first: the declared WAL settings may count on the grown room, and a refused
        # expansion stops the change before anything else of it is applied.
        if self.expansion:
            self.expansion.run()
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
        if self.rollout:
            self.rollout.run()
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


REVISION_LABEL = "controller-revision-hash"
TEMPLATE_HASH_ANNOTATION = "postgres.cdk8s.io/template-hash"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class Kube:
    """The Kubernetes API calls of a rollout, with the pod's service account token."""

    def __init__(self, base, token, context):
        self.base, self.token, self.context = base, token, context

    def call(self, method, path, body=None, content_type=None):
        """(status, parsed JSON or text); (None, reason) when the API server was not reached."""
        headers = {"Authorization": "Bearer " + self.token}
        if content_type:
            headers["Content-Type"] = content_type
        return http(self.base + path, method, body, self.context, 30, headers)


def kube_from_env(env):
    host = env["KUBERNETES_SERVICE_HOST"]
    if ":" in host:
        host = "[" + host + "]"
    with open(os.path.join(SERVICE_ACCOUNT_DIR, "token")) as f:
        token = f.read().strip()
    ctx = ssl.create_default_context(cafile=os.path.join(SERVICE_ACCOUNT_DIR, "ca.crt"))
    return Kube("https://%s:%s" % (host, env.get("KUBERNETES_SERVICE_PORT", "443")), token, ctx)


def is_ready(pod):
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def owner(pod):
    """The name of the StatefulSet a pod belongs to (None for any other pod)."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == "StatefulSet":
            return ref.get("name")
    return None


def outdated(pods, revisions):
    """Names of the pods that are not at their StatefulSet's update revision, by name."""
    return sorted(p["metadata"]["name"] for p in pods
                  if owner(p) in revisions and (p["metadata"].get("labels") or {}).get(REVISION_LABEL) != revisions[owner(p)])


def unfinished(job):
    """A Job that has neither completed nor failed (started or not)."""
    conditions = (job.get("status") or {}).get("conditions") or []
    return not any(c.get("type") in ("Complete", "Failed", "SuccessCriteriaMet", "FailureTarget") and c.get("status") == "True"
                   for c in conditions)


def order(job):
    """Jobs in the order they were created (the name breaks a tie within a second)."""
    return (job["metadata"].get("creationTimestamp", ""), job["metadata"]["name"])


DECLARATION_ENV = ("PGC_CONFIG", "PGC_MEMBERS", "PGC_ROLLOUT", "PGC_EXPAND_CLAIMS")


def declaration(job):
    """What a Job of this program applies: its configuration, members and pod templates."""
    containers = (((job.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [{}]
    env = {e.get("name"): e.get("value") for e in containers[0].get("env") or []}
    return tuple(env.get(k) for k in DECLARATION_ENV)


def switchover_candidate(members, leader, pending):
    """The member to hand the leadership to: up to date, streaming, allowed to lead; a synchronous
    standby first (in synchronous mode Patroni accepts no other), then the least lag; else None."""
    def lag(m):
        return m.get("lag") if isinstance(m.get("lag"), int) else 2 ** 62
    fit = [m for m in members if m["name"] != leader and m["name"] not in pending and m.get("state") == "streaming"
           and not (m.get("tags") or {}).get("nofailover")]
    fit.sort(key=lambda m: (m.get("role") != "sync_standby", lag(m), m["name"]))
    return fit[0]["name"] if fit else None


class Superseded(Exception):
    """A newer declaration was applied: its own Job rolls the members."""


class Rollout:
    """Replaces the members whose pod template is out of date, replicas first, the leader last."""

    def __init__(self, applier, kube, spec, settle_seconds=60):
        self.applier, self.kube = applier, kube
        self.namespace, self.selector, self.declared = spec["namespace"], spec["selector"], spec["statefulSets"]
        # This run's Job and the label selector of every Job of this program for the cluster.
        self.job_name, self.job_selector = spec.get("jobName"), spec.get("jobSelector")
        self.settle_seconds = settle_seconds
        self.checked = float("-inf")

    def path(self, suffix):
        return "/api/v1/namespaces/%s/%s" % (self.namespace, suffix)

    def jobs(self):
        """(this run's Job, every Job of this program for the cluster); None when not listed."""
        status, body = self.kube.call("GET", "/apis/batch/v1/namespaces/%s/jobs?labelSelector=%s" % (
            self.namespace, urllib.parse.quote(self.job_selector)))
        if status != 200 or not isinstance(body, dict):
            self.applier.note("list jobs: %s %s" % (status, body))
            return None
        jobs = body.get("items", [])
        me = next((j for j in jobs if j["metadata"]["name"] == self.job_name), None)
        if me is None:
            self.applier.note("job %s is not in the list yet" % self.job_name)
            return None
        return me, jobs

    def wait_turn(self):
        """Waits until no older Job of this program for this cluster is unfinished: the config Job
        of a change, the CronJobs' runs (reconcile, restart) take turns, oldest first, so two never
        replace or restart members at once."""
        if not self.job_name:
            return

        def turn():
            listed = self.jobs()
            if not listed:
                return False
            me, jobs = listed
            ahead = sorted(j["metadata"]["name"] for j in jobs if j is not me and unfinished(j) and order(j) < order(me))
            if ahead:
                self.applier.note("waiting for the Job(s) before this one to finish: %s" % ", ".join(ahead))
                return False
            return True
        self.applier.until("the Jobs before this one to finish", turn, interval=3.0)

    def interrupt(self):
        """Raises Superseded once a Job newer than this run declares something else (checked at
        most every 10 s while this run waits)."""
        now = self.applier.clock()
        if not self.job_name or now - self.checked < 10:
            return
        self.checked = now
        listed = self.jobs()
        if not listed:
            return
        me, jobs = listed
        newer = sorted(j["metadata"]["name"] for j in jobs if j is not me and order(j) > order(me) and declaration(j) != declaration(me))
        if newer:
            raise Superseded("%s declares something else" % ", ".join(newer))

    def revisions(self):
        """{StatefulSet: update revision} once each carries this Job's declaration and its controller
        has acted on it; None while not yet. Raises Superseded when another declaration is there."""
        out = {}
        for name, want in sorted(self.declared.items()):
            status, sts = self.kube.call("GET", "/apis/apps/v1/namespaces/%s/statefulsets/%s" % (self.namespace, name))
            if status != 200 or not isinstance(sts, dict):
                self.applier.note("statefulset %s: %s" % (name, status))
                return None
            have = (sts["metadata"].get("annotations") or {}).get(TEMPLATE_HASH_ANNOTATION)
            if have != want:
                self.applier.note("statefulset %s declares template %s, this Job %s" % (name, have, want))
                return "other"
            st = sts.get("status") or {}
            if st.get("observedGeneration", 0) < sts["metadata"].get("generation", 0) or not st.get("updateRevision"):
                return None
            out[name] = st["updateRevision"]
        return out

    def current_revisions(self):
        """revisions(), waiting for the controller; a declaration other than this Job's for
        settle_seconds (not applied yet, or replaced by a newer one) means Superseded."""
        first_other = None
        while True:
            rev = self.revisions()
            if isinstance(rev, dict):
                return rev
            now = self.applier.clock()
            if rev == "other":
                first_other = now if first_other is None else first_other
                if now - first_other > self.settle_seconds:
                    raise Superseded("the StatefulSets declare other pod templates: a newer declaration was applied")
            else:
                first_other = None
            self.applier.sleep(2)

    def pods(self):
        status, body = self.kube.call("GET", self.path("pods?labelSelector=" + urllib.parse.quote(self.selector)))
        if status != 200 or not isinstance(body, dict):
            self.applier.note("list pods: %s %s" % (status, body))
            return None
        return [p for p in body.get("items", []) if owner(p) in self.declared]

    def pod_list(self):
        """{"items": the member pods} (an empty list too), None when the API did not answer."""
        pods = self.pods()
        return None if pods is None else {"items": pods}

    def healthy(self):
        """The Patroni cluster when every member's pod is Ready and every member runs (a leader,
        the others streaming), with the pods; else None."""
        pods = self.pods()
        cluster = self.applier.cluster()
        if pods is None or not cluster:
            return None
        names = {m["name"]: m for m in cluster["members"]}
        for p in pods:
            m = names.get(p["metadata"]["name"])
            if not is_ready(p) or not m or m.get("state") not in ("running", "streaming"):
                return None
        if any(m["name"] not in {p["metadata"]["name"] for p in pods} for m in cluster["members"]):
            return None
        return cluster, pods

    def run(self):
        """Replaces every out-of-date member; the number replaced."""
        replaced = 0
        while True:
            revisions = self.current_revisions()
            # Nothing to replace: done, whether or not every member runs (a member that cannot
            # be scheduled must not fail the Job of a change that needs no rollout).
            if not outdated(self.applier.until("the member pods", self.pod_list)["items"], revisions):
                if replaced:
                    log("rollout done: %d member(s) replaced" % replaced)
                return replaced
            cluster, pods = self.applier.until("every member Ready and running", self.healthy)
            todo = outdated(pods, revisions)
            if not todo:
                continue
            leader = next((m["name"] for m in cluster["members"] if m.get("role") in ("leader", "standby_leader")), None)
            replicas = [n for n in todo if n != leader]
            if replicas:
                target = replicas[0]
            else:
                target = leader
                candidate = switchover_candidate(cluster["members"], leader, todo)
                if candidate:
                    self.switchover(cluster, leader, candidate)
                    continue
                log("no up-to-date replica can take over from %s: it is replaced while leading" % leader)
            uid = next(p["metadata"]["uid"] for p in pods if p["metadata"]["name"] == target)
            self.evict(target)
            self.applier.until("%s replaced, Ready and running" % target, lambda: self.back(target, uid))
            log("%s replaced" % target)
            replaced += 1

    def evict(self, name):
        """Asks the API server to evict `name`; retried while the PodDisruptionBudget refuses."""
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": self.namespace}}
        log("evicting %s (its pod template is out of date)" % name)

        def attempt():
            status, answer = self.kube.call("POST", self.path("pods/%s/eviction" % name), body)
            if status in (200, 201, 404):
                return True
            if status == 429:
                self.applier.note("eviction of %s refused for now by the disruption budget" % name)
                return False
            raise SystemExit("eviction of %s failed: %s %s" % (name, status, answer))
        self.applier.until("the disruption budget to allow evicting %s" % name, attempt, interval=5.0)

    def back(self, name, old_uid):
        """True once `name` runs again in a new pod at its update revision, Ready and running."""
        state = self.healthy()
        if not state:
            return False
        _, pods = state
        pod = next((p for p in pods if p["metadata"]["name"] == name), None)
        return pod is not None and pod["metadata"]["uid"] != old_uid

    def switchover(self, cluster, leader, candidate):
        log("switching over from %s to %s (the leader's pod template is out of date)" % (leader, candidate))
        url = next(base_url(m["api_url"]) for m in cluster["members"] if m["name"] == leader)
        status, body = self.applier.rest.call(url + "/switchover", "POST", {"leader": leader, "candidate": candidate},
                                              timeout=self.applier.wait_seconds)
        if status != 200:
            # Another run of this program (the CronJob beside a Job) may have switched over first.
            now = self.applier.cluster()
            if now and not any(m["name"] == leader and m.get("role") == "leader" for m in now["members"]):
                log("switchover refused (%s %s), but %s no longer leads: going on" % (status, body, leader))
                return
            raise SystemExit("switchover from %s to %s failed: %s %s" % (leader, candidate, status, body))

        def led():
            c = self.applier.cluster()
            return c and any(m["name"] == candidate and m.get("role") == "leader" for m in c["members"])
        self.applier.until("%s leading" % candidate, led)
        log("%s leads" % candidate)


QUANTITY_SUFFIXES = {"": 1, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18,
                     "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}


def quantity_bytes(q):
    """A Kubernetes storage quantity ("10Gi", "1500M", "1e9", "512") in bytes, rounded up; None for None."""
    if q is None:
        return None
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]*)?)(?:[eE]([0-9]+)|([a-zA-Z]*))", str(q).strip())
    if not m or (m.group(3) or "") not in QUANTITY_SUFFIXES:
        raise ValueError("not a storage quantity: %r" % (q,))
    n = decimal.Decimal(m.group(1)) * (10 ** int(m.group(2)) if m.group(2) else QUANTITY_SUFFIXES[m.group(3) or ""])
    return int(n.to_integral_value(rounding=decimal.ROUND_CEILING))


class Expansion:
    """Grows the members' volume claims to the declared size (storage.expandedSize): patches each
    claim that requests less, then waits until every claim's capacity is at least that size.
    Claims only grow: one that requests more is left as it is."""

    def __init__(self, applier, kube, namespace, claims):
        self.applier, self.kube, self.namespace, self.claims = applier, kube, namespace, claims

    def path(self, name):
        return "/api/v1/namespaces/%s/persistentvolumeclaims/%s" % (self.namespace, name)

    def get(self, name):
        status, pvc = self.kube.call("GET", self.path(name))
        if status == 404:
            return None
        if status != 200 or not isinstance(pvc, dict):
            raise SystemExit("reading the volume claim %s failed: %s %s" % (name, status, pvc))
        return pvc

    def run(self):
        """The names of the claims it expanded (or found still growing)."""
        growing = {}
        for claim in self.claims:
            name, size = claim["name"], claim["size"]
            want = quantity_bytes(size)
            pvc = self.get(name)
            if pvc is None:
                # Its member was never started (scaled up, not scheduled yet): the CronJob
                # <cluster>-reconcile expands it once the StatefulSet controller has created it.
                log("volume claim %s does not exist yet: not expanded" % name)
                continue
            requested = ((pvc.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
            if quantity_bytes(requested) < want:
                log("expanding volume claim %s from %s to %s" % (name, requested, size))
                status, body = self.kube.call("PATCH", self.path(name), {"spec": {"resources": {"requests": {"storage": size}}}},
                                              content_type="application/merge-patch+json")
                if status != 200:
                    reason = body.get("message") if isinstance(body, dict) else body
                    raise SystemExit(
                        "expanding volume claim %s to %s was refused: %s %s. Its StorageClass (%s) must allow volume expansion "
                        "(allowVolumeExpansion: true); nothing else of this change was applied. Remove storage.expandedSize, "
                        "or expand the claims another way." % (name, size, status, reason,
                                                               (pvc.get("spec") or {}).get("storageClassName") or "the default"))
            elif quantity_bytes(requested) > want:
                self.applier.note("volume claim %s requests %s, more than the declared %s: claims only grow, it is left as it is"
                                  % (name, requested, size))
                want = quantity_bytes(requested)
            if self.capacity(pvc) < want:
                growing[name] = want
        if growing:
            self.applier.until("the volume claims %s to grow" % ", ".join(sorted(growing)), lambda: self.grown(growing), interval=2.0)
            log("volume claims expanded: %s" % ", ".join(sorted(growing)))
        return sorted(growing)

    @staticmethod
    def capacity(pvc):
        return quantity_bytes(((pvc.get("status") or {}).get("capacity") or {}).get("storage") or "0")

    def grown(self, growing):
        """True once every claim in `growing` has its size; notes why one has not (its conditions)."""
        done = True
        for name, want in sorted(growing.items()):
            pvc = self.get(name)
            if pvc is not None and self.capacity(pvc) >= want:
                continue
            done = False
            conditions = ", ".join("%s: %s" % (c.get("type"), c.get("message") or c.get("reason") or c.get("status"))
                                   for c in ((pvc or {}).get("status") or {}).get("conditions") or [])
            self.applier.note("volume claim %s has %s of %d bytes%s" % (
                name, ((pvc or {}).get("status") or {}).get("capacity", {}).get("storage", "nothing"), want,
                " (%s)" % conditions if conditions else ""))
        return done


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
    kube = kube_from_env(env) if env.get("PGC_ROLLOUT") or env.get("PGC_EXPAND_CLAIMS") else None
    if env.get("PGC_ROLLOUT"):
        applier.rollout = Rollout(applier, kube, dict(json.loads(env["PGC_ROLLOUT"]), namespace=env["PGC_NAMESPACE"],
                                                      jobName=env.get("PGC_JOB_NAME")))
    if env.get("PGC_EXPAND_CLAIMS"):
        applier.expansion = Expansion(applier, kube, env["PGC_NAMESPACE"], json.loads(env["PGC_EXPAND_CLAIMS"]))
    applier.apply(spec["config"], spec.get("removable", []))


if __name__ == "__main__":
    main(os.environ)
    sys.exit(0)
