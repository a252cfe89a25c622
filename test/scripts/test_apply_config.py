"""apply-config.py: the configuration difference it sends and the order it restarts members in."""
import unittest

from loader import load

ac = load("apply-config.py")

DECLARED = {
    "ttl": 30, "loop_wait": 10, "synchronous_mode": False, "failsafe_mode": True,
    "postgresql": {"use_pg_rewind": True, "use_slots": True, "parameters": {"max_connections": 200, "work_mem": "8MB"}},
}


class ConfigPatchTest(unittest.TestCase):
    def test_equal_configurations_need_no_patch(self):
        self.assertEqual(ac.config_patch(DECLARED, DECLARED, ["ignore_slots"]), {})

    def test_a_changed_parameter_and_setting_are_sent_alone(self):
        current = {**DECLARED, "synchronous_mode": True, "postgresql": {**DECLARED["postgresql"], "parameters": {"max_connections": 100, "work_mem": "8MB"}}}
        self.assertEqual(ac.config_patch(current, DECLARED, []), {"synchronous_mode": False, "postgresql": {"parameters": {"max_connections": 200}}})

    def test_numbers_and_their_strings_are_the_same_setting(self):
        current = {**DECLARED, "postgresql": {**DECLARED["postgresql"], "parameters": {"max_connections": "200", "work_mem": "8MB"}}}
        self.assertEqual(ac.config_patch(current, DECLARED, []), {})

    def test_a_parameter_no_longer_declared_is_deleted(self):
        current = {**DECLARED, "postgresql": {**DECLARED["postgresql"], "parameters": {"max_connections": 200, "work_mem": "8MB", "jit": "off"}}}
        self.assertEqual(ac.config_patch(current, DECLARED, []), {"postgresql": {"parameters": {"jit": None}}})

    def test_only_removable_keys_are_deleted_an_operators_pause_stays(self):
        current = {**DECLARED, "ignore_slots": [{"type": "logical"}], "pause": True, "slots": {"cdc": {"type": "logical"}}}
        self.assertEqual(ac.config_patch(current, DECLARED, ["ignore_slots"]), {"ignore_slots": None})

    def test_an_empty_dcs_gets_everything(self):
        patch = ac.config_patch({}, DECLARED, [])
        self.assertEqual(patch["postgresql"]["parameters"], {"max_connections": 200, "work_mem": "8MB"})
        self.assertEqual(patch["ttl"], 30)


def member(name, role, pending=False, state=None):
    m = {"name": name, "role": role, "state": state or ("running" if role == "leader" else "streaming"),
         "api_url": "https://%s.db-pods:8008/patroni" % name}
    if pending:
        m["pending_restart"] = True
    return m


class FakeRest:
    """Patroni as seen through its REST API: /cluster, /config, PATCH /config, POST /restart."""

    def __init__(self, members, config):
        self.members, self.config, self.calls = members, config, []
        self.unreachable = set()

    def call(self, url, method="GET", body=None, timeout=10):
        host = url.split("//")[1].split(":")[0]
        self.calls.append((method, url, body))
        if host in self.unreachable:
            return None, "connection refused"
        if url.endswith("/cluster"):
            return 200, {"members": [dict(m) for m in self.members]}
        if url.endswith("/config") and method == "GET":
            return 200, self.config
        if url.endswith("/config") and method == "PATCH":
            for k, v in body.items():
                if k != "postgresql":
                    self.config[k] = v
            if "parameters" in body.get("postgresql", {}):
                if body["postgresql"]["parameters"].get("max_connections") is not None:
                    for m in self.members:
                        m["pending_restart"] = True
            return 200, self.config
        if url.endswith("/restart") and method == "POST":
            name = host.split(".")[0]
            for m in self.members:
                if m["name"] == name:
                    m.pop("pending_restart", None)
            return 200, "restarted successfully"
        return 404, "not found"


class ApplierTest(unittest.TestCase):
    def applier(self, rest):
        urls = ["https://%s.db-pods:8008" % m["name"] for m in rest.members]
        return ac.Applier(rest, urls, 60, sleep=lambda s: None)

    def test_a_restart_parameter_restarts_the_replicas_one_at_a_time_then_the_leader(self):
        current = {**DECLARED, "postgresql": {**DECLARED["postgresql"], "parameters": {"max_connections": 100, "work_mem": "8MB"}}}
        rest = FakeRest([member("db-primary-0", "leader"), member("db-replicas-1", "replica"), member("db-replicas-0", "sync_standby")], current)
        patch = self.applier(rest).apply(DECLARED, [])
        self.assertEqual(patch, {"postgresql": {"parameters": {"max_connections": 200}}})
        restarts = [url.split("//")[1].split(".")[0] for method, url, _ in rest.calls if url.endswith("/restart")]
        self.assertEqual(restarts, ["db-replicas-0", "db-replicas-1", "db-primary-0"])
        self.assertTrue(all(body == {"restart_pending": True} for method, url, body in rest.calls if url.endswith("/restart")))

    def test_a_reloadable_parameter_restarts_nothing(self):
        current = {**DECLARED, "postgresql": {**DECLARED["postgresql"], "parameters": {"max_connections": 200, "work_mem": "4MB"}}}
        rest = FakeRest([member("db-primary-0", "leader"), member("db-replicas-0", "replica")], current)
        self.assertEqual(self.applier(rest).apply(DECLARED, []), {"postgresql": {"parameters": {"work_mem": "8MB"}}})
        self.assertEqual([c for c in rest.calls if c[1].endswith("/restart")], [])

    def test_nothing_changed_nothing_sent(self):
        rest = FakeRest([member("db-primary-0", "leader")], dict(DECLARED))
        self.assertEqual(self.applier(rest).apply(DECLARED, []), {})
        self.assertEqual([c for c in rest.calls if c[0] != "GET"], [])

    def test_an_unreachable_member_is_skipped_for_reads_and_the_patch(self):
        current = {**DECLARED, "ttl": 20}
        rest = FakeRest([member("db-primary-0", "leader"), member("db-replicas-0", "replica")], current)
        rest.unreachable.add("db-primary-0.db-pods")
        self.assertEqual(self.applier(rest).apply(DECLARED, []), {"ttl": 30})
        self.assertEqual(rest.config["ttl"], 30)

    def test_no_leader_ever_times_out_with_a_message(self):
        rest = FakeRest([member("db-replicas-0", "replica")], dict(DECLARED))
        ticks = iter(range(0, 10_000, 30))
        applier = ac.Applier(rest, ["https://db-replicas-0.db-pods:8008"], 60, sleep=lambda s: None, clock=lambda: next(ticks))
        with self.assertRaises(SystemExit) as err:
            applier.apply(DECLARED, [])
        self.assertIn("waiting for a member that answers with a leader", str(err.exception))

    def test_restart_all_restarts_every_member_in_the_same_order_unconditionally(self):
        rest = FakeRest([member("db-primary-0", "leader"), member("db-replicas-0", "replica")], dict(DECLARED))
        urls = ["https://%s.db-pods:8008" % m["name"] for m in rest.members]
        ac.Applier(rest, urls, 60, sleep=lambda s: None, restart_all=True).apply(DECLARED, [])
        restarts = [(url.split("//")[1].split(".")[0], body) for method, url, body in rest.calls if url.endswith("/restart")]
        self.assertEqual(restarts, [("db-replicas-0", {}), ("db-primary-0", {})])

    def test_a_bad_restart_mode_is_refused(self):
        with self.assertRaises(SystemExit) as err:
            ac.main({"PGC_CONFIG": "{}", "PGC_MEMBERS": "https://x:8008", "PGC_RESTART": "now"})
        self.assertIn("PGC_RESTART must be pending or all", str(err.exception))

    def test_base_url_of_an_api_url(self):
        self.assertEqual(ac.base_url("https://db-primary-0.db-pods:8008/patroni"), "https://db-primary-0.db-pods:8008")


if __name__ == "__main__":
    unittest.main()
