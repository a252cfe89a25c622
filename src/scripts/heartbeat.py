#!/usr/bin/env python3
"""Heartbeat monitor of one cluster member; its /ready endpoint is the pod's readiness probe.

Every interval it connects over the Unix socket (libpq's PGHOST, PGPORT, PGUSER; peer
authentication) and checks the member. The leader writes the heartbeat row and lists its
replicas; a replica reads the replicated row, whose age is its lag end to end (on an idle leader
replay timestamps stand still, the heartbeat does not). A replica's readiness rests on its own
WAL receiver and replay only (streaming, not paused, close in bytes to the leader's end of WAL,
replay not stuck behind what it received): the leader's heartbeat sidecar, another pod, can
crash or be throttled without emptying the read-only Service. Nothing is written to disk.
"""
import datetime
import http.server
import json
import math
import os
import signal
import socket
import socketserver
import sys
import threading
import time
import types

import psycopg2
import psycopg2.errors
import psycopg2.extensions

# Upserted by the leader each interval. Missing schema or table: CREATE_BEAT runs, then this again.
UPSERT_BEAT = """INSERT INTO cdk8s_heartbeat.beat (id, at, lsn) VALUES (1, now(), pg_current_wal_lsn())
ON CONFLICT (id) DO UPDATE SET at = excluded.at, lsn = excluded.lsn"""

# pg_monitor may read the row: the metrics exporter reports the heartbeat's age too.
CREATE_BEAT = """CREATE SCHEMA IF NOT EXISTS cdk8s_heartbeat;
CREATE TABLE IF NOT EXISTS cdk8s_heartbeat.beat (id int PRIMARY KEY, at timestamptz, lsn pg_lsn);
GRANT USAGE ON SCHEMA cdk8s_heartbeat TO pg_monitor;
GRANT SELECT ON cdk8s_heartbeat.beat TO pg_monitor"""

REPLICAS = """SELECT application_name, host(client_addr), state, sync_state,
  pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint,
  extract(epoch FROM replay_lag)::float8
FROM pg_stat_replication ORDER BY application_name, client_addr"""

# One row even without a WAL receiver (then status is NULL). Bytes not replayed yet, counted
# from the end of WAL the leader's WAL sender last reported (or, without one, from what was
# received); then the received and replayed positions, as byte offsets.
RECOVERY = """SELECT r.status,
  pg_wal_lsn_diff(coalesce(r.latest_end_lsn, pg_last_wal_receive_lsn()), pg_last_wal_replay_lsn())::bigint,
  pg_is_wal_replay_paused(),
  to_regclass('cdk8s_heartbeat.beat') IS NOT NULL,
  pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::bigint,
  pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint
FROM (SELECT) AS one LEFT JOIN pg_stat_wal_receiver AS r ON true"""

# Archiving as the leader sees it (NULL when archive_mode is off): failing when the last attempt
# failed after the last success; segments still marked .ready wait for the archiver.
ARCHIVE = """SELECT last_failed_time IS NOT NULL AND (last_archived_time IS NULL OR last_failed_time > last_archived_time),
  extract(epoch FROM now() - last_archived_time)::float8, failed_count, last_failed_wal,
  (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready')
FROM pg_stat_archiver WHERE current_setting('archive_mode') <> 'off'"""

HEARTBEAT_AGE = "SELECT extract(epoch FROM now() - at)::float8 FROM cdk8s_heartbeat.beat WHERE id = 1"


def log(message):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    print("%s heartbeat: %s" % (stamp, message), flush=True)


def env_number(name, default, parse, valid, expected):
    """The variable parsed with `parse` (default when unset or empty); exits 2 when invalid."""
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or not valid(value):
        print("heartbeat: invalid %s=%r: expected %s" % (name, raw, expected), file=sys.stderr)
        sys.exit(2)
    return value


def read_config():
    positive = "a number of seconds greater than 0"
    cfg = types.SimpleNamespace(
        port=env_number("HB_PORT", 8010, int, lambda v: 1 <= v <= 65535, "an integer from 1 to 65535"),
        interval=env_number("HB_INTERVAL_SECONDS", 5.0, float, lambda v: v > 0, positive),
        timeout=env_number("HB_TIMEOUT_SECONDS", 3.0, float, lambda v: v > 0, positive),
        threshold=env_number("HB_FAILURE_THRESHOLD", 3, int, lambda v: v >= 1, "an integer of at least 1"),
        max_lag_bytes=env_number("HB_MAX_LAG_BYTES", 16 * 1024 * 1024, int, lambda v: v >= 0, "a number of bytes (integer, 0 or more)"),
        max_lag_seconds=env_number("HB_MAX_LAG_SECONDS", 30.0, float, lambda v: v > 0, positive),
        listen=os.environ.get("HB_LISTEN", "").strip() or "*",
    )
    # A replica sees the heartbeat up to one interval old even with no lag at all.
    if cfg.max_lag_seconds <= cfg.interval:
        print("heartbeat: invalid HB_MAX_LAG_SECONDS=%g: must exceed HB_INTERVAL_SECONDS=%g, the leader writes "
              "the heartbeat once per interval" % (cfg.max_lag_seconds, cfg.interval), file=sys.stderr)
        sys.exit(2)
    return cfg


def check_leader(cur):
    """Writes the heartbeat and lists the replicas; replica trouble is never a problem here."""
    try:
        cur.execute(UPSERT_BEAT)
    except (psycopg2.errors.InvalidSchemaName, psycopg2.errors.UndefinedTable):
        cur.execute(CREATE_BEAT)
        cur.execute(UPSERT_BEAT)
    cur.execute(REPLICAS)
    replicas = [
        {"application_name": name, "client_addr": addr, "state": state, "sync_state": sync,
         "lag_bytes": lag_bytes, "lag_seconds": lag_seconds}
        for name, addr, state, sync, lag_bytes, lag_seconds in cur.fetchall()
    ]
    cur.execute(ARCHIVE)
    row = cur.fetchone()
    archive = None if row is None else {
        "failing": row[0], "last_archived_age_seconds": row[1], "failed_count": row[2],
        "last_failed_wal": row[3], "ready_segments": row[4]}
    observation = {"role": "leader", "heartbeat_age_seconds": None, "lag_bytes": None,
                   "replay_lag_seconds": None, "streaming": None, "replay_paused": None,
                   "replicas": replicas, "archive": archive, "warnings": []}
    return observation, []


class ReplayTracker:
    """How long replay has been behind the WAL this replica had received, measured on the replica.

    Each check records when a received position was first seen; replay is behind since the
    earliest recorded position it has not reached. A lower bound of the replay lag that needs
    nothing from the leader: a replay stuck a few bytes behind (a conflicting query, a slow disk)
    grows it, a replay that keeps passing what was received earlier keeps it near zero.
    """

    def __init__(self):
        self.samples = []  # (monotonic time, received position), received increasing

    def observe(self, now, received, replayed):
        """The replay lag in seconds now (None when the positions are unknown)."""
        if received is None or replayed is None:
            self.samples = []
            return None
        if self.samples and received < self.samples[-1][1]:
            self.samples = []  # a new timeline or WAL receiver: start over
        if not self.samples or received > self.samples[-1][1]:
            self.samples.append((now, received))
        self.samples = [(t, pos) for t, pos in self.samples if pos > replayed]
        if not self.samples:
            return 0.0
        return max(0.0, now - self.samples[0][0])


def check_replica(cur, cfg, tracker):
    """Reads the replicated heartbeat and the WAL positions; lists what exceeds the limits.

    Readiness rests on this replica alone: a stale or missing heartbeat row (the leader's sidecar
    crashed or is throttled) is only a warning, since real lag shows here as bytes behind the
    leader's end of WAL, a paused replay, or a replay stuck behind the WAL received.
    """
    cur.execute(RECOVERY)
    receiver_status, lag_bytes, paused, has_beat, received, replayed = cur.fetchone()
    age = None
    if has_beat:
        cur.execute(HEARTBEAT_AGE)
        row = cur.fetchone()
        age = row[0] if row else None
    streaming = receiver_status == "streaming"
    replay_lag = tracker.observe(time.monotonic(), received, replayed)
    problems = []
    warnings = []
    if not streaming:
        problems.append("primary unreachable: WAL receiver %s" % ("is " + receiver_status if receiver_status else "not running"))
    if paused:
        problems.append("replay is paused (pg_wal_replay_pause)")
    if lag_bytes is not None and lag_bytes > cfg.max_lag_bytes:
        problems.append("lag %d bytes > max %d bytes (WAL not replayed)" % (lag_bytes, cfg.max_lag_bytes))
    if replay_lag is not None and replay_lag > cfg.max_lag_seconds:
        problems.append("replay %.1f s behind the WAL this replica received > max %g s" % (replay_lag, cfg.max_lag_seconds))
    rests = "readiness rests on this replica's WAL receiver and replay"
    if age is None:
        warnings.append("no heartbeat replicated from the leader yet: " + rests)
    elif age > cfg.max_lag_seconds:
        warnings.append("heartbeat %.1f s old > %g s: the leader's heartbeat is not advancing; %s" % (age, cfg.max_lag_seconds, rests))
    observation = {"role": "replica", "heartbeat_age_seconds": age, "lag_bytes": lag_bytes,
                   "replay_lag_seconds": replay_lag, "streaming": streaming, "replay_paused": paused,
                   "replicas": [], "archive": None, "warnings": warnings}
    return observation, problems


def check(cfg, tracker):
    """One check on a fresh connection: (observation, problems). Raises psycopg2.Error."""
    timeout_ms = max(1, int(cfg.timeout * 1000))
    conn = psycopg2.connect(
        dbname="postgres",
        application_name="pgc-heartbeat",
        connect_timeout=max(1, math.ceil(cfg.timeout)),
        # local: the heartbeat write never waits for a synchronous standby.
        options="-c statement_timeout=%d -c synchronous_commit=local" % timeout_ms,
    )
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_is_in_recovery()")
            if cur.fetchone()[0]:
                return check_replica(cur, cfg, tracker)
            tracker.observe(None, None, None)
            return check_leader(cur)
    finally:
        conn.close()


class Monitor:
    """The latest status, shared by the check loop and the HTTP threads."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.lock = threading.Lock()
        self.succeeded_once = False
        self.failures_total = 0
        self.checked_mono = None
        self.replay = ReplayTracker()
        self.status = {
            "role": "unknown", "ready": False, "reason": "starting", "checked_at": None,
            "heartbeat_age_seconds": None, "lag_bytes": None, "replay_lag_seconds": None, "streaming": None,
            "replay_paused": None, "replicas": [], "archive": None, "warnings": [], "consecutive_failures": 0,
        }

    def snapshot(self):
        """The status; a member whose checks stopped completing (a check stuck) is not ready."""
        with self.lock:
            status = dict(self.status)
            stale_after = self.cfg.interval + 2 * self.cfg.timeout + 1
            if self.checked_mono is not None and time.monotonic() - self.checked_mono > stale_after:
                status["ready"] = False
                status["reason"] = "no check completed for %.0f s" % (time.monotonic() - self.checked_mono)
            return status, self.failures_total

    def record(self, observation, problems):
        """Applies one check's outcome. observation is None when PostgreSQL did not answer."""
        with self.lock:
            previous = self.status
            status = dict(previous)
            if observation is not None:
                status.update(observation)
            else:
                # Unknown now; the role stays the last one seen.
                status.update(heartbeat_age_seconds=None, lag_bytes=None, replay_lag_seconds=None, streaming=None,
                              replay_paused=None, replicas=[], archive=None, warnings=[])
            if problems:
                self.failures_total += 1
                status["consecutive_failures"] = previous["consecutive_failures"] + 1
            else:
                self.succeeded_once = True
                status["consecutive_failures"] = 0
            status["ready"] = self.succeeded_once and status["consecutive_failures"] < self.cfg.threshold
            status["reason"] = "; ".join(problems) if problems else "ok"
            status["checked_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
            self.checked_mono = time.monotonic()
            self.status = status
        if status["role"] != previous["role"]:
            log("role: %s" % status["role"])
        if problems and status["consecutive_failures"] == 1:
            log("failing: %s" % status["reason"])
        if status["warnings"] and not previous["warnings"]:
            log("warning: %s" % "; ".join(status["warnings"]))
        if status["ready"] != previous["ready"]:
            log("ready" if status["ready"] else "unready after %d failed checks: %s"
                % (status["consecutive_failures"], status["reason"]))

    def run(self):
        """Checks every interval, forever (runs in its own daemon thread)."""
        due = time.monotonic()
        while True:
            try:
                observation, problems = check(self.cfg, self.replay)
            except psycopg2.extensions.QueryCanceledError:
                observation, problems = None, ["check timed out after %g s" % self.cfg.timeout]
            except psycopg2.Error as err:
                observation, problems = None, ["check failed: " + (str(err).strip().splitlines() or ["unknown error"])[0]]
            except Exception as err:  # never let an unexpected error freeze the last status
                observation, problems = None, ["check failed: %r" % err]
            self.record(observation, problems)
            due = max(due + self.cfg.interval, time.monotonic())
            time.sleep(due - time.monotonic())


def metric(lines, name, kind, help_text, samples):
    """Appends one metric family; samples are (labels dict, value), None values are left out."""
    lines.append("# HELP %s %s" % (name, help_text))
    lines.append("# TYPE %s %s" % (name, kind))
    for labels, value in samples:
        if value is None:
            continue
        text = ",".join('%s="%s"' % (k, str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))
                        for k, v in labels.items())
        number = value if isinstance(value, int) else repr(float(value))
        lines.append("%s%s %s" % (name, "{%s}" % text if text else "", number))


def render_metrics(status, failures_total):
    def flag(value):
        return None if value is None else int(bool(value))

    replicas = status["replicas"]

    def per_replica(key):
        return [({"application_name": r["application_name"] or "", "client_addr": r["client_addr"] or ""}, r[key])
                for r in replicas]

    lines = []
    metric(lines, "pgc_heartbeat_ready", "gauge", "1 when this member is ready (GET /ready answers 200).",
           [({}, flag(status["ready"]))])
    metric(lines, "pgc_heartbeat_is_leader", "gauge", "1 on the leader, 0 on a replica (absent until known).",
           [({}, None if status["role"] == "unknown" else flag(status["role"] == "leader"))])
    metric(lines, "pgc_heartbeat_age_seconds", "gauge", "Age of the replicated heartbeat row on a replica: its lag end to end.",
           [({}, status["heartbeat_age_seconds"])])
    metric(lines, "pgc_heartbeat_lag_bytes", "gauge", "WAL this replica has not replayed yet, in bytes.",
           [({}, status["lag_bytes"])])
    metric(lines, "pgc_heartbeat_replay_lag_seconds", "gauge", "Seconds replay has been behind the WAL this replica received.",
           [({}, status["replay_lag_seconds"])])
    metric(lines, "pgc_heartbeat_streaming", "gauge", "1 while this replica's WAL receiver streams from the primary.",
           [({}, flag(status["streaming"]))])
    metric(lines, "pgc_heartbeat_check_failures_total", "counter", "Failed checks since the monitor started.",
           [({}, failures_total)])
    metric(lines, "pgc_heartbeat_replica_lag_bytes", "gauge", "WAL each replica has not replayed yet, in bytes, seen from the leader.",
           per_replica("lag_bytes"))
    metric(lines, "pgc_heartbeat_replica_lag_seconds", "gauge", "Replay lag of each replica, in seconds, seen from the leader.",
           per_replica("lag_seconds"))
    archive = status["archive"] or {}
    metric(lines, "pgc_heartbeat_archive_failing", "gauge", "1 while WAL archiving fails (leader, archive_mode on).",
           [({}, flag(archive.get("failing")))])
    metric(lines, "pgc_heartbeat_archive_ready_segments", "gauge", "WAL segments waiting to be archived (leader).",
           [({}, archive.get("ready_segments"))])
    metric(lines, "pgc_heartbeat_archive_last_success_age_seconds", "gauge", "Seconds since a WAL segment was last archived (leader).",
           [({}, archive.get("last_archived_age_seconds"))])
    return "\n".join(lines) + "\n"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status, failures_total = self.server.monitor.snapshot()
        path = self.path.split("?", 1)[0]
        if path == "/status":
            self.reply(200, "application/json", json.dumps(status) + "\n")
        elif path == "/ready":
            self.reply(200 if status["ready"] else 503, "text/plain; charset=utf-8", status["reason"] + "\n")
        elif path == "/metrics":
            self.reply(200, "text/plain; version=0.0.4; charset=utf-8", render_metrics(status, failures_total))
        else:
            self.reply(404, "text/plain; charset=utf-8", "not found: GET /status, /ready or /metrics\n")

    def reply(self, code, content_type, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        """Probes call every few seconds: no access log."""


def has_dual_stack():
    """True when an IPv6 socket can also take IPv4 connections (the pod has IPv6 at all)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            return True
    except (AttributeError, OSError):
        return False


class Server(http.server.ThreadingHTTPServer):
    def __init__(self, cfg, monitor):
        self.monitor = monitor
        host = cfg.listen
        self.dual_stack = False
        if host == "*":
            # Every address: IPv6 with IPv4 mapped in (IPv4, IPv6 and dual-stack pods alike), or
            # IPv4 alone where the pod has no IPv6.
            self.dual_stack = has_dual_stack()
            host = "::" if self.dual_stack else "0.0.0.0"
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, cfg.port), Handler)

    def server_bind(self):
        if self.dual_stack:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        # HTTPServer.server_bind would resolve the address's FQDN: a DNS lookup nobody needs.
        socketserver.TCPServer.server_bind(self)


def main():
    cfg = read_config()
    # Only this thread takes SIGTERM/SIGINT (the mask is inherited by the threads started
    # below): it waits for them, so shutdown is prompt even while a check is blocked in libpq,
    # and works as PID 1 of a container, which has no default signal handling.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    monitor = Monitor(cfg)
    try:
        server = Server(cfg, monitor)
    except OSError as err:
        print("heartbeat: cannot listen on %s port %d: %s" % (cfg.listen, cfg.port, err), file=sys.stderr)
        sys.exit(1)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    threading.Thread(target=monitor.run, name="checks", daemon=True).start()
    log("listening on %s:%d; every %g s, timeout %g s, unready after %d failures, max lag %d bytes / %g s"
        % (cfg.listen, cfg.port, cfg.interval, cfg.timeout, cfg.threshold, cfg.max_lag_bytes, cfg.max_lag_seconds))
    received = signal.sigwait({signal.SIGTERM, signal.SIGINT})
    log("%s received, exiting" % signal.Signals(received).name)
    sys.exit(0)


if __name__ == "__main__":
    main()
