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


class FakeCursor:
    """Answers the replica's queries: RECOVERY with `recovery`, HEARTBEAT_AGE with `age`."""

    def __init__(self, recovery, age):
        self.recovery, self.age, self.last = recovery, age, None

    def execute(self, query, params=None):
        self.last = query

    def fetchone(self):
        if self.last == hb.RECOVERY:
            return self.recovery
        if self.last == hb.HEARTBEAT_AGE:
            return None if self.age is None else (self.age,)
        raise AssertionError("unexpected query %r" % self.last)


def replica_row(status="streaming", lag_bytes=0, paused=False, has_beat=True, received=1000, replayed=1000):
    return (status, lag_bytes, paused, has_beat, received, replayed)


class ReplicaCheckTest(unittest.TestCase):
    """Readiness of a replica: its own WAL receiver and replay decide, not the leader's sidecar."""

    def setUp(self):
        self.cfg = config(interval=5.0, max_lag_seconds=30.0, max_lag_bytes=1000)
        self.tracker = hb.ReplayTracker()
        self.clock = 1000.0

    def check(self, age=1.0, **row):
        with mock.patch.object(hb.time, "monotonic", lambda: self.clock):
            return hb.check_replica(FakeCursor(replica_row(**row), age), self.cfg, self.tracker)

    def test_healthy_streaming_replica_is_ready(self):
        observation, problems = self.check(age=2.0)
        self.assertEqual(problems, [])
        self.assertEqual(observation["role"], "replica")
        self.assertEqual(observation["replay_lag_seconds"], 0.0)

    def test_stale_leader_heartbeat_alone_keeps_a_caught_up_replica_ready(self):
        # The leader's heartbeat sidecar crashed: the row stops advancing while WAL keeps flowing.
        position = 1000
        for age in (10.0, 40.0, 400.0, 4000.0):
            position += 500
            observation, problems = self.check(age=age, received=position, replayed=position - 100, lag_bytes=100)
            self.clock += 5
            self.assertEqual(problems, [], "heartbeat %g s old" % age)
            self.assertEqual(observation["heartbeat_age_seconds"], age)
        self.assertTrue(any("heartbeat" in w for w in observation["warnings"]))

    def test_no_heartbeat_row_at_all_keeps_a_caught_up_replica_ready(self):
        observation, problems = self.check(age=None, has_beat=False)
        self.assertEqual(problems, [])
        self.assertIsNone(observation["heartbeat_age_seconds"])
        self.assertTrue(observation["warnings"])

    def test_paused_replay_is_a_problem_at_once(self):
        _, problems = self.check(age=1.0, paused=True)
        self.assertEqual(problems, ["replay is paused (pg_wal_replay_pause)"])

    def test_not_streaming_is_a_problem(self):
        for status, text in (("waiting", "is waiting"), (None, "not running")):
            _, problems = self.check(status=status)
            self.assertEqual(problems, ["primary unreachable: WAL receiver %s" % text])

    def test_too_many_bytes_behind_the_leader_is_a_problem_whatever_the_heartbeat(self):
        for age in (1.0, 500.0, None):
            _, problems = self.check(age=age, lag_bytes=5000, received=6000, replayed=1000)
            self.assertIn("lag 5000 bytes > max 1000 bytes (WAL not replayed)", problems)

    def test_replay_stuck_behind_received_wal_is_a_problem_after_max_lag_seconds(self):
        # Replay stalls (a conflicting query, a slow disk) a few bytes behind what was received,
        # while the leader's heartbeat row is stale too: the replica still turns unready.
        for step in range(7):
            observation, problems = self.check(age=500.0, received=1100 + step, replayed=1000, lag_bytes=100 + step)
            if step * 5 <= 30:
                self.assertEqual(problems, [], "after %d s" % (step * 5))
            self.clock += 5
        observation, problems = self.check(age=500.0, received=1200, replayed=1000, lag_bytes=200)
        self.assertEqual(problems, ["replay 35.0 s behind the WAL this replica received > max 30 s"])
        self.assertEqual(observation["replay_lag_seconds"], 35.0)
        # Replay catches up: ready again at the next check.
        self.clock += 5
        observation, problems = self.check(age=500.0, received=1200, replayed=1200, lag_bytes=0)
        self.assertEqual((problems, observation["replay_lag_seconds"]), ([], 0.0))

    def test_replay_that_keeps_moving_past_earlier_receipts_is_not_lag(self):
        received = 1000
        for _ in range(20):
            # Each check, replay has passed what had been received at the previous check.
            _, problems = self.check(age=900.0, received=received + 500, replayed=received + 10, lag_bytes=490)
            self.assertEqual(problems, [])
            received += 500
            self.clock += 5

    def test_a_fresh_heartbeat_older_than_the_limit_is_still_reported(self):
        observation, problems = self.check(age=45.0)
        self.assertEqual(problems, [])
        self.assertEqual(observation["warnings"], [
            "heartbeat 45.0 s old > 30 s: the leader's heartbeat is not advancing; readiness rests on this replica's WAL receiver and replay"])


class ListenTest(unittest.TestCase):
    """HB_LISTEN: `*` (the default) takes IPv4 and IPv6 on one socket, or IPv4 alone without IPv6."""

    def serve(self, listen):
        server = hb.Server(config(listen=listen, port=0), hb.Monitor(config()))
        self.addCleanup(server.server_close)
        return server

    def connects(self, family, address, port):
        import socket
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            return s.connect_ex((address, port)) == 0

    def test_default_is_every_address(self):
        with mock.patch.dict(hb.os.environ, {}, clear=True):
            self.assertEqual(hb.read_config().listen, "*")

    def test_star_is_one_dual_stack_socket_where_there_is_ipv6(self):
        import socket
        server = self.serve("*")
        port = server.server_address[1]
        self.assertTrue(self.connects(socket.AF_INET, "127.0.0.1", port), "IPv4 client")
        if not hb.has_dual_stack():  # a machine without IPv6: IPv4 alone, as in such a pod
            self.assertEqual(server.socket.family, socket.AF_INET)
            return
        self.assertEqual(server.socket.family, socket.AF_INET6)
        self.assertEqual(server.socket.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY), 0)
        self.assertTrue(self.connects(socket.AF_INET6, "::1", port), "IPv6 client")

    def test_star_without_ipv6_is_ipv4(self):
        import socket
        with mock.patch.object(hb, "has_dual_stack", return_value=False):
            server = self.serve("*")
        self.assertEqual(server.socket.family, socket.AF_INET)
        self.assertEqual(server.server_address[0], "0.0.0.0")

    def test_an_explicit_address_is_used_as_given(self):
        import socket
        self.assertEqual(self.serve("127.0.0.1").socket.family, socket.AF_INET)
