"""on-role-change.py against a fake Kubernetes API that applies JSON patches as the API server does."""
import copy
import unittest

from fake_clock import Clock
from loader import load

orc = load("on-role-change.py")

ARGS = ["--scope-label=postgres.cdk8s.io/cluster", "--role-label=postgres.cdk8s.io/role", "--leader-value=primary",
        "--leader-object=configmaps/db-leader"]
ROLE = "postgres.cdk8s.io/role"


def pod(name, role, cluster="db"):
    labels = {"postgres.cdk8s.io/cluster": cluster}
    if role:
        labels[ROLE] = role
    return {"metadata": {"name": name, "labels": labels}}


class FakeKube:
    """Pods and a leader ConfigMap in namespace prod; `failures` answers the next calls with None."""

    def __init__(self, pods, leader="db-replica-0"):
        self.pods = {p["metadata"]["name"]: p for p in pods}
        self.leader = leader
        self.calls = []
        self.failures = 0
        self.before_patch = None

    def call(self, method, path, body=None, content_type="application/json"):
        self.calls.append((method, path, copy.deepcopy(body), content_type))
        if self.failures:
            self.failures -= 1
            return None, "connection refused"
        if method == "GET" and path == "/api/v1/namespaces/prod/configmaps/db-leader":
            annotations = {"leader": self.leader} if self.leader else {}
            return 200, {"metadata": {"name": "db-leader", "annotations": annotations}}
        if method == "GET" and path.startswith("/api/v1/namespaces/prod/pods?labelSelector="):
            selector = orc.urllib.parse.unquote(path.split("=", 1)[1])
            wanted = dict(term.split("=", 1) for term in selector.split(","))
            items = [p for p in self.pods.values() if all(p["metadata"]["labels"].get(k) == v for k, v in wanted.items())]
            return 200, {"items": copy.deepcopy(items)}
        if method == "PATCH" and path.startswith("/api/v1/namespaces/prod/pods/"):
            assert content_type == "application/json-patch+json"
            if self.before_patch:
                self.before_patch(self)
            target = self.pods.get(path.rsplit("/", 1)[1])
            if target is None:
                return 404, {"reason": "NotFound"}
            labels = target["metadata"]["labels"]
            for op in body:
                key = op["path"][len("/metadata/labels/"):].replace("~1", "/").replace("~0", "~")
                if op["op"] == "test" and labels.get(key) != op["value"]:
                    return 422, {"reason": "Invalid", "message": "testing value failed"}
                if op["op"] == "remove":
                    if key not in labels:
                        return 422, {"reason": "Invalid"}
                    del labels[key]
            return 200, target
        return 404, {"reason": "NotFound"}


def run(kube, role="primary", action="on_role_change", env=None, args=None):
    clock = Clock()
    return orc.run((args or ARGS) + [action, role, "db"], env or {}, kube, "prod", clock=clock, sleep=clock.sleep)


class OnRoleChangeTest(unittest.TestCase):
    def test_the_new_leader_takes_the_label_off_the_lost_leader(self):
        kube = FakeKube([pod("db-primary-0", "primary"), pod("db-replica-0", "primary"), pod("db-replica-1", "replica"),
                         pod("other-0", "primary", cluster="other")])
        self.assertEqual(run(kube), ["db-primary-0"])
        self.assertNotIn(ROLE, kube.pods["db-primary-0"]["metadata"]["labels"])
        # Its own label, the replica's and another cluster's leader are left alone.
        self.assertEqual(kube.pods["db-replica-0"]["metadata"]["labels"][ROLE], "primary")
        self.assertEqual(kube.pods["db-replica-1"]["metadata"]["labels"][ROLE], "replica")
        self.assertEqual(kube.pods["other-0"]["metadata"]["labels"][ROLE], "primary")
        patch = [c for c in kube.calls if c[0] == "PATCH"][0]
        self.assertEqual(patch[2], [{"op": "test", "path": "/metadata/labels/postgres.cdk8s.io~1role", "value": "primary"},
                                    {"op": "remove", "path": "/metadata/labels/postgres.cdk8s.io~1role"}])

    def test_a_standby_leader_does_the_same(self):
        kube = FakeKube([pod("db-primary-0", "primary"), pod("db-replica-0", "primary")])
        self.assertEqual(run(kube, role="standby_leader"), ["db-primary-0"])

    def test_the_leader_object_is_the_reference_not_this_pod(self):
        # The callback runs late: another failover made db-replica-1 the leader since. It keeps
        # its label; this pod (no longer the leader) and the lost leader lose theirs.
        kube = FakeKube([pod("db-primary-0", "primary"), pod("db-replica-0", "primary"), pod("db-replica-1", "primary")],
                        leader="db-replica-1")
        self.assertEqual(sorted(run(kube)), ["db-primary-0", "db-replica-0"])
        self.assertEqual(kube.pods["db-replica-1"]["metadata"]["labels"][ROLE], "primary")

    def test_other_roles_and_actions_touch_nothing(self):
        kube = FakeKube([pod("db-primary-0", "primary"), pod("db-replica-0", "replica")])
        self.assertEqual(run(kube, role="replica"), [])
        self.assertEqual(run(kube, action="on_start"), [])
        self.assertEqual(kube.calls, [])

    def test_a_label_changed_since_the_list_is_left_alone(self):
        kube = FakeKube([pod("db-primary-0", "primary"), pod("db-replica-0", "primary")])

        def old_leader_relabels_itself(k):
            k.pods["db-primary-0"]["metadata"]["labels"][ROLE] = "replica"
        kube.before_patch = old_leader_relabels_itself
        self.assertEqual(run(kube), [])
        self.assertEqual(kube.pods["db-primary-0"]["metadata"]["labels"][ROLE], "replica")

    def test_the_api_unreachable_at_first_is_tried_again(self):
        kube = FakeKube([pod("db-primary-0", "primary"), pod("db-replica-0", "primary")])
        kube.failures = 3
        self.assertEqual(run(kube), ["db-primary-0"])

    def test_it_gives_up_after_its_deadline(self):
        kube = FakeKube([pod("db-primary-0", "primary"), pod("db-replica-0", "primary")])
        kube.failures = 10_000
        self.assertEqual(run(kube, env={"PGC_ROLE_CHANGE_SECONDS": "5"}), [])
        # Every half second for 5 s, then once more at the deadline.
        self.assertEqual(len(kube.calls), 11)
        self.assertEqual(kube.pods["db-primary-0"]["metadata"]["labels"][ROLE], "primary")

    def test_no_leader_recorded_yet_is_waited_for(self):
        kube = FakeKube([pod("db-primary-0", "primary"), pod("db-replica-0", "primary")], leader=None)
        gets = []

        original = kube.call

        def call(method, path, body=None, content_type="application/json"):
            gets.append(path)
            if len(gets) == 3:
                kube.leader = "db-replica-0"
            return original(method, path, body, content_type)
        kube.call = call
        self.assertEqual(run(kube), ["db-primary-0"])

    def test_endpoints_mode_reads_the_endpoints_leader_object(self):
        kube = FakeKube([pod("db-primary-0", "primary"), pod("db-replica-0", "primary")])
        args = ARGS[:3] + ["--leader-object=endpoints/db"]
        self.assertEqual(run(kube, args=args), [])
        self.assertEqual(kube.calls[0][:2], ("GET", "/api/v1/namespaces/prod/endpoints/db"))

    def test_bad_arguments_are_named(self):
        kube = FakeKube([])
        with self.assertRaisesRegex(ValueError, r"missing \['leader-object'\]"):
            run(kube, args=ARGS[:3])
        with self.assertRaisesRegex(ValueError, "unknown \\['colour'\\]"):
            run(kube, args=ARGS + ["--colour=red"])
        with self.assertRaisesRegex(ValueError, "--leader-object must be configmaps/NAME or endpoints/NAME, got 'secrets/x'"):
            run(kube, args=ARGS[:3] + ["--leader-object=secrets/x"])
        self.assertEqual(kube.calls, [])

    def test_pointer_escapes_label_keys(self):
        self.assertEqual(orc.pointer("a/b~c"), "a~1b~0c")


if __name__ == "__main__":
    unittest.main()
