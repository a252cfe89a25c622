"""The heartbeat monitor's state machine and checks, with PostgreSQL replaced by fakes."""
import types
import unittest
from unittest import mock

from loader import load

hb = load("heartbeat.py")


def config(**overrides):
    cfg = dict(port=8010, interval=5.0, timeout=3.0, threshold=3, max_lag_bytes=16 * 1024 * 1024,
               max_lag_seconds=30.0, listen="0.0.0.0")
    cfg.update(overrides)
    return types.SimpleNamespace(**cfg)


LEADER = {"role": "leader", "heartbeat_age_seconds": None, "lag_bytes": None, "streaming": None,
          "replay_paused": None, "replicas": [], "archive": None}


class MonitorTest(unittest.TestCase):
    def setUp(self):
        patcher = mock.patch.object(hb, "log")
        self.logged = patcher.start()
        self.addCleanup(patcher.stop)
        self.monitor = hb.Monitor(config(threshold=3))

    def ready(self):
        status, _ = self.monitor.snapshot()
        return status["ready"], status["reason"]

    def test_unready_until_the_first_successful_check(self):
        self.assertEqual(self.ready(), (False, "starting"))
        self.monitor.record(None, ["check failed: no socket"])
        self.assertEqual(self.ready(), (False, "check failed: no socket"))
        self.monitor.record(dict(LEADER), [])
        self.assertEqual(self.ready(), (True, "ok"))
        self.assertEqual(self.monitor.snapshot()[0]["role"], "leader")

    def test_unready_after_threshold_consecutive_failures_and_ready_after_one_success(self):
        self.monitor.record(dict(LEADER), [])
        for n in (1, 2):
            self.monitor.record(dict(LEADER), ["lag"])
            self.assertEqual(self.ready(), (True, "lag"), "failure %d of 3 keeps the member ready" % n)
        self.monitor.record(dict(LEADER), ["lag"])
        self.assertEqual(self.ready(), (False, "lag"))
        status, failures_total = self.monitor.snapshot()
        self.assertEqual((status["consecutive_failures"], failures_total), (3, 3))
        self.monitor.record(dict(LEADER), [])
        status, failures_total = self.monitor.snapshot()
        self.assertEqual((status["ready"], status["consecutive_failures"], failures_total), (True, 0, 3))

    def test_a_success_in_between_resets_the_count(self):
        self.monitor.record(dict(LEADER), [])
        for problems in (["x"], ["x"], [], ["x"], ["x"]):
            self.monitor.record(dict(LEADER), problems)
        self.assertEqual(self.ready(), (True, "x"))

    def test_no_answer_clears_the_measurements_but_keeps_the_role(self):
        replica = dict(LEADER, role="replica", heartbeat_age_seconds=1.5, lag_bytes=10, streaming=True, replay_paused=False)
        self.monitor.record(replica, [])
        self.monitor.record(None, ["check timed out after 3 s"])
        status, _ = self.monitor.snapshot()
        self.assertEqual(status["role"], "replica")
        for key in ("heartbeat_age_seconds", "lag_bytes", "streaming", "replay_paused", "archive"):
            self.assertIsNone(status[key], key)

    def test_a_stuck_check_makes_the_member_unready(self):
        clock = [1000.0]
        with mock.patch.object(hb.time, "monotonic", lambda: clock[0]):
            self.monitor.record(dict(LEADER), [])
            clock[0] += 5 + 2 * 3 + 1  # interval + 2 timeouts + 1: still fresh
            self.assertEqual(self.ready(), (True, "ok"))
            clock[0] += 1
            ready, reason = self.ready()
        self.assertFalse(ready)
        self.assertEqual(reason, "no check completed for 13 s")

    def test_transitions_are_logged_once(self):
        self.monitor.record(dict(LEADER), [])
        for _ in range(4):
            self.monitor.record(dict(LEADER), ["lag"])
        messages = [c.args[0] for c in self.logged.call_args_list]
        self.assertEqual(messages, ["role: leader", "ready", "failing: lag", "unready after 3 failed checks: lag"])


class MetricsTest(unittest.TestCase):
    def test_unknown_values_are_left_out_and_labels_escaped(self):
        monitor = hb.Monitor(config())
        status, _ = monitor.snapshot()
        status = dict(status, role="leader", ready=True, replicas=[
            {"application_name": 'a"b\\c', "client_addr": None, "state": "streaming", "sync_state": "async", "lag_bytes": 7, "lag_seconds": None}])
        text = hb.render_metrics(status, 2)
        self.assertIn("pgc_heartbeat_ready 1\n", text)
        self.assertIn("pgc_heartbeat_is_leader 1\n", text)
        self.assertIn("pgc_heartbeat_check_failures_total 2\n", text)
        self.assertIn('pgc_heartbeat_replica_lag_bytes{application_name="a\\"b\\\\c",client_addr=""} 7\n', text)
        self.assertNotIn("pgc_heartbeat_replica_lag_seconds{", text)
        self.assertNotIn("\npgc_heartbeat_age_seconds ", text)


if __name__ == "__main__":
    unittest.main()
