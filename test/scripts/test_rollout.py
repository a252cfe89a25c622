"""apply-config.py's rollout: which members it replaces, in which order, and when it stops."""
import unittest

from fake_clock import Clock
from loader import load

ac = load("apply-config.py")

DCS = {"ttl": 30, "loop_wait": 10}
SELECTOR = "postgres.cdk8s.io/cluster=db"


class Cluster:
    """Patroni (its REST API) and Kubernetes (StatefulSets, pods, evictions) of one cluster.

    A pod is recreated at its StatefulSet's update revision `recreate_after` API reads after its
    eviction; an eviction is refused (429) while a member pod is not Ready, as the budget does.
    """

    def __init__(self, members, statefulsets, recreate_after=2):
        # members: (name, role, statefulset, revision[, tags])
        self.members = {}
        self.pods = {}
        self.sts = {}
        self.calls = []
        self.recreate_after = recreate_after
        self.uid = 0
        for name, (hash_, revision) in statefulsets.items():
            self.sts[name] = {"metadata": {"name": name, "generation": 2, "annotations": {ac.TEMPLATE_HASH_ANNOTATION: hash_}},
                              "status": {"observedGeneration": 2, "updateRevision": revision}}
        for name, role, sts, revision, *tags in members:
            self.members[name] = {"name": name, "role": role, "state": "running" if role == "leader" else "streaming",
                                  "api_url": "https://%s.db-pods:8008/patroni" % name, "lag": 0, "tags": tags[0] if tags else {}}
            self.add_pod(name, sts, revision)

    def add_pod(self, name, sts, revision, ready=True):
        self.uid += 1
        self.pods[name] = {"metadata": {"name": name, "uid": "u%d" % self.uid, "labels": {ac.REVISION_LABEL: revision},
                                        "ownerReferences": [{"kind": "StatefulSet", "name": sts}]},
                           "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}

    def events(self):
        return [c for c in self.calls if c[0] in ("evict", "switchover")]

    # Kubernetes
    def call(self, method, path, body=None):
        if method == "GET" and "/statefulsets/" in path:
            name = path.rsplit("/", 1)[1]
            return (200, self.sts[name]) if name in self.sts else (404, None)
        if method == "GET" and "/pods?labelSelector=" in path:
            assert path.endswith("labelSelector=postgres.cdk8s.io/cluster%3Ddb"), path
            self.advance()
            return 200, {"items": [dict(p) for p in self.pods.values()]}
        if method == "POST" and path.endswith("/eviction"):
            name = path.split("/")[-2]
            if any(not ac.is_ready(p) for p in self.pods.values()) or self.gone:
                self.calls.append(("refused", name))
                return 429, {"reason": "TooManyRequests"}
            self.calls.append(("evict", name))
            sts = ac.owner(self.pods[name])
            del self.pods[name]
            self.members[name]["state"] = "stopped"
            self.gone[name] = [self.recreate_after, sts]
            return 201, {}
        raise AssertionError("unexpected Kubernetes call %s %s" % (method, path))

    gone = None

    def advance(self):
        for name in list(self.gone):
            self.gone[name][0] -= 1
            if self.gone[name][0] <= 0:
                sts = self.gone.pop(name)[1]
                self.add_pod(name, sts, self.sts[sts]["status"]["updateRevision"])
                m = self.members[name]
                m["state"] = "running" if m["role"] == "leader" else "streaming"


class Rest:
    def __init__(self, cluster):
        self.c = cluster

    def call(self, url, method="GET", body=None, timeout=10):
        if url.endswith("/cluster"):
            return 200, {"members": [dict(m) for m in self.c.members.values()]}
        if url.endswith("/config") and method == "GET":
            return 200, dict(DCS)
        if url.endswith("/switchover") and method == "POST":
            self.c.calls.append(("switchover", body["leader"], body["candidate"]))
            self.c.members[body["leader"]]["role"] = "replica"
            self.c.members[body["leader"]]["state"] = "streaming"
            self.c.members[body["candidate"]]["role"] = "leader"
            self.c.members[body["candidate"]]["state"] = "running"
            return 200, "Successfully switched over"
        raise AssertionError("unexpected REST call %s %s" % (method, url))


def run(cluster, declared, settle_seconds=60, wait_seconds=600):
    cluster.gone = {}
    clock = Clock()
    urls = ["https://%s.db-pods:8008" % n for n in cluster.members]
    applier = ac.Applier(Rest(cluster), urls, wait_seconds, sleep=clock.sleep, clock=clock)
    applier.rollout = ac.Rollout(applier, cluster, {"namespace": "ns", "selector": SELECTOR, "statefulSets": declared}, settle_seconds)
    applier.apply(DCS, [])
    return clock


STS = {"db-primary": ("h1", "db-primary-new"), "db-replica": ("h2", "db-replica-new")}
DECLARED = {"db-primary": "h1", "db-replica": "h2"}


class RolloutTest(unittest.TestCase):
    def test_nothing_out_of_date_nothing_evicted_even_with_a_member_that_cannot_start(self):
        c = Cluster([("db-primary-0", "leader", "db-primary", "db-primary-new"), ("db-replica-0", "replica", "db-replica", "db-replica-new")], STS)
        c.pods["db-replica-0"]["status"]["conditions"][0]["status"] = "False"
        run(c, DECLARED)
        self.assertEqual(c.events(), [])

    def test_replicas_one_at_a_time_then_one_switchover_then_the_old_leader(self):
        c = Cluster([("db-primary-0", "leader", "db-primary", "old"), ("db-replica-1", "replica", "db-replica", "old"),
                     ("db-replica-0", "sync_standby", "db-replica", "old")], STS)
        run(c, DECLARED)
        self.assertEqual(c.events(), [("evict", "db-replica-0"), ("evict", "db-replica-1"),
                                      ("switchover", "db-primary-0", "db-replica-0"), ("evict", "db-primary-0")])
        self.assertEqual({n: p["metadata"]["labels"][ac.REVISION_LABEL] for n, p in c.pods.items()},
                         {"db-primary-0": "db-primary-new", "db-replica-0": "db-replica-new", "db-replica-1": "db-replica-new"})

    def test_never_two_members_down_the_next_eviction_waits_for_the_last_one_back(self):
        c = Cluster([("db-primary-0", "leader", "db-primary", "db-primary-new"), ("db-replica-0", "replica", "db-replica", "old"),
                     ("db-replica-1", "replica", "db-replica", "old")], STS, recreate_after=5)
        run(c, DECLARED)
        # The second eviction is asked for only once the first member is back: never refused.
        self.assertEqual([e for e in c.calls if e[0] in ("evict", "refused")], [("evict", "db-replica-0"), ("evict", "db-replica-1")])

    def test_a_refused_eviction_is_retried(self):
        c = Cluster([("db-primary-0", "leader", "db-primary", "db-primary-new"), ("db-replica-0", "replica", "db-replica", "old")], STS)
        refusals = iter([429, 429])
        real = c.call

        def call(method, path, body=None):
            if path.endswith("/eviction"):
                status = next(refusals, None)
                if status:
                    c.calls.append(("refused", "db-replica-0"))
                    return status, {}
            return real(method, path, body)
        c.call = call
        run(c, DECLARED)
        self.assertEqual([e for e in c.calls if e[0] in ("evict", "refused")], [("refused", "db-replica-0"), ("refused", "db-replica-0"), ("evict", "db-replica-0")])

    def test_only_the_leader_out_of_date_one_switchover_to_the_least_lagging_replica_that_may_lead(self):
        c = Cluster([("db-primary-0", "leader", "db-primary", "old"), ("db-replica-0", "replica", "db-replica", "db-replica-new"),
                     ("db-replica-1", "replica", "db-replica", "db-replica-new"),
                     ("db-replica-2", "replica", "db-replica", "db-replica-new", {"nofailover": True})], STS)
        c.members["db-replica-0"]["lag"] = 4096
        c.members["db-replica-2"]["lag"] = 0
        run(c, DECLARED)
        self.assertEqual(c.events(), [("switchover", "db-primary-0", "db-replica-1"), ("evict", "db-primary-0")])

    def test_a_single_member_is_replaced_while_leading(self):
        c = Cluster([("db-primary-0", "leader", "db-primary", "old")], {"db-primary": ("h1", "db-primary-new")})
        run(c, {"db-primary": "h1"})
        self.assertEqual(c.events(), [("evict", "db-primary-0")])

    def test_waits_for_the_controller_to_observe_the_new_template(self):
        c = Cluster([("db-primary-0", "leader", "db-primary", "db-primary-new"), ("db-replica-0", "replica", "db-replica", "db-replica-new")], STS)
        c.sts["db-replica"]["metadata"]["generation"] = 3
        reads = {"n": 0}
        real = c.call

        def call(method, path, body=None):
            if path.endswith("/statefulsets/db-replica"):
                reads["n"] += 1
                if reads["n"] == 3:
                    c.sts["db-replica"]["status"] = {"observedGeneration": 3, "updateRevision": "db-replica-newer"}
            return real(method, path, body)
        c.call = call
        run(c, DECLARED)
        self.assertEqual(c.events(), [("evict", "db-replica-0")])
        self.assertGreaterEqual(reads["n"], 3)

    def test_a_newer_declaration_stops_this_job_without_replacing_anything(self):
        c = Cluster([("db-primary-0", "leader", "db-primary", "old"), ("db-replica-0", "replica", "db-replica", "old")],
                    {"db-primary": ("h1", "db-primary-new"), "db-replica": ("h3", "db-replica-new")})
        clock = run(c, DECLARED, settle_seconds=60)
        self.assertEqual(c.events(), [])
        self.assertGreater(clock.now, 60)

    def test_a_failed_eviction_fails_the_job_with_the_reason(self):
        c = Cluster([("db-primary-0", "leader", "db-primary", "db-primary-new"), ("db-replica-0", "replica", "db-replica", "old")], STS)
        real = c.call
        c.call = lambda m, p, b=None: (403, {"message": "forbidden"}) if p.endswith("/eviction") else real(m, p, b)
        with self.assertRaises(SystemExit) as err:
            run(c, DECLARED)
        self.assertIn("eviction of db-replica-0 failed: 403", str(err.exception))

    def test_a_switchover_made_by_another_run_first_is_not_an_error(self):
        c = Cluster([("db-primary-0", "leader", "db-primary", "old"), ("db-replica-0", "replica", "db-replica", "db-replica-new")], STS)
        rest = Rest(c)
        real = rest.call

        def call(url, method="GET", body=None, timeout=10):
            if url.endswith("/switchover"):
                real(url, method, body, timeout)  # the other run's switchover
                return 412, "leader name does not match"
            return real(url, method, body, timeout)
        rest.call = call
        c.gone = {}
        clock = Clock()
        applier = ac.Applier(rest, ["https://%s.db-pods:8008" % n for n in c.members], 600, sleep=clock.sleep, clock=clock)
        applier.rollout = ac.Rollout(applier, c, {"namespace": "ns", "selector": SELECTOR, "statefulSets": DECLARED})
        applier.apply(DCS, [])
        self.assertEqual(c.events(), [("switchover", "db-primary-0", "db-replica-0"), ("evict", "db-primary-0")])

    def test_a_refused_switchover_with_the_leader_unchanged_fails_the_job(self):
        c = Cluster([("db-primary-0", "leader", "db-primary", "old"), ("db-replica-0", "replica", "db-replica", "db-replica-new")], STS)
        rest = Rest(c)
        real = rest.call
        rest.call = lambda url, method="GET", body=None, timeout=10: (503, "candidate not healthy") if url.endswith("/switchover") else real(url, method, body, timeout)
        c.gone = {}
        clock = Clock()
        applier = ac.Applier(rest, ["https://%s.db-pods:8008" % n for n in c.members], 600, sleep=clock.sleep, clock=clock)
        applier.rollout = ac.Rollout(applier, c, {"namespace": "ns", "selector": SELECTOR, "statefulSets": DECLARED})
        with self.assertRaises(SystemExit) as err:
            applier.apply(DCS, [])
        self.assertIn("switchover from db-primary-0 to db-replica-0 failed: 503", str(err.exception))
        self.assertEqual([e for e in c.calls if e[0] == "evict"], [])

    def test_runs_take_turns_oldest_first(self):
        def job(name, created, done=False):
            return {"metadata": {"name": name, "creationTimestamp": created},
                    "status": {"conditions": [{"type": "Complete", "status": "True"}]} if done else {}}
        jobs = [job("db-config-aaaa", "2026-12-01T10:00:00Z", done=True), job("db-reconcile-1", "2026-12-01T10:05:00Z"),
                job("db-config-bbbb", "2026-12-01T10:05:30Z"), job("db-config-cccc", "2026-12-01T10:06:00Z")]
        paths = []

        class Kube:
            def call(self, method, path, body=None):
                paths.append(path)
                if len(paths) == 3:
                    jobs[1]["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
                return 200, {"items": [dict(j) for j in jobs]}
        clock = Clock()
        applier = ac.Applier(None, [], 600, sleep=clock.sleep, clock=clock)
        spec = {"namespace": "ns", "selector": SELECTOR, "statefulSets": {}, "jobName": "db-config-bbbb",
                "jobSelector": "postgres.cdk8s.io/cluster=db,app.kubernetes.io/name=postgresql-config"}
        ac.Rollout(applier, Kube(), spec).wait_turn()
        # It waited for the older unfinished reconcile run only: not the finished Job, not the newer one.
        self.assertEqual(len(paths), 3)
        self.assertTrue(paths[0].startswith("/apis/batch/v1/namespaces/ns/jobs?labelSelector=postgres.cdk8s.io/cluster%3Ddb"))
        self.assertFalse(ac.unfinished(jobs[0]))
        self.assertTrue(ac.unfinished(jobs[3]))

    def test_a_run_stuck_on_a_member_that_never_comes_back_stops_when_a_newer_declaration_arrives(self):
        c = Cluster([("db-primary-0", "leader", "db-primary", "db-primary-new"), ("db-replica-0", "replica", "db-replica", "old")], STS,
                    recreate_after=10 ** 9)
        env = [{"name": "PGC_CONFIG", "value": "{}"}, {"name": "PGC_MEMBERS", "value": "m"}, {"name": "PGC_ROLLOUT", "value": "r1"}]
        mine = {"metadata": {"name": "db-config-aaaa", "creationTimestamp": "2026-12-01T10:00:00Z"},
                "spec": {"template": {"spec": {"containers": [{"env": env}]}}}}
        jobs = [mine]
        real = c.call
        evicted = {"n": 0}

        def call(method, path, body=None):
            if "/jobs?labelSelector=" in path:
                return 200, {"items": list(jobs)}
            if path.endswith("/eviction"):
                evicted["n"] += 1
                # The replaced member never comes back; meanwhile a fix is applied: a newer Job, and
                # a reconcile run of the same declaration as this one, which must not stop it.
                jobs.append({"metadata": {"name": "db-reconcile-1", "creationTimestamp": "2026-12-01T10:01:00Z"},
                             "spec": {"template": {"spec": {"containers": [{"env": env}]}}}})
            return real(method, path, body)
        c.call = call
        c.gone = {}
        clock = Clock()
        applier = ac.Applier(Rest(c), ["https://%s.db-pods:8008" % n for n in c.members], 600, sleep=clock.sleep, clock=clock)
        applier.rollout = ac.Rollout(applier, c, {"namespace": "ns", "selector": SELECTOR, "statefulSets": DECLARED,
                                                  "jobName": "db-config-aaaa", "jobSelector": "x=y"})
        orig_sleep = clock.sleep
        fix_at = []

        def sleep(sec):
            orig_sleep(sec)
            if clock.now > 100 and len(jobs) == 2:
                fix_at.append(clock.now)
                fixed = [dict(e) for e in env]
                fixed[2]["value"] = "r2"
                jobs.append({"metadata": {"name": "db-config-bbbb", "creationTimestamp": "2026-12-01T10:02:00Z"},
                             "spec": {"template": {"spec": {"containers": [{"env": fixed}]}}}})
        applier.sleep = sleep
        self.assertIsNone(applier.apply(DCS, []))
        self.assertEqual(evicted["n"], 1)
        # Not stopped by the reconcile run of its own declaration; stopped within the check period
        # after the newer Job appeared, not at the 600 s deadline.
        self.assertEqual(len(fix_at), 1)
        self.assertGreaterEqual(clock.now, fix_at[0])
        self.assertLess(clock.now, fix_at[0] + 15)

    def test_a_run_without_a_job_name_does_not_wait(self):
        applier = ac.Applier(None, [], 600, sleep=lambda s: None)

        class Kube:
            def call(self, method, path, body=None):
                raise AssertionError("no call expected")
        ac.Rollout(applier, Kube(), {"namespace": "ns", "selector": SELECTOR, "statefulSets": {}}).wait_turn()

    def test_candidate_prefers_the_synchronous_standby(self):
        members = [{"name": "a", "role": "leader", "state": "running"}, {"name": "b", "role": "replica", "state": "streaming", "lag": 0},
                   {"name": "c", "role": "sync_standby", "state": "streaming", "lag": 100}, {"name": "d", "role": "replica", "state": "starting"}]
        self.assertEqual(ac.switchover_candidate(members, "a", []), "c")
        self.assertEqual(ac.switchover_candidate(members, "a", ["c"]), "b")
        self.assertIsNone(ac.switchover_candidate(members, "a", ["b", "c"]))


if __name__ == "__main__":
    unittest.main()
