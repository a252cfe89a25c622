"""reload-on-change.sh run for real around a small server that records the signals it gets."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from loader import SCRIPTS

SCRIPT = os.path.join(SCRIPTS, "reload-on-change.sh")

# Appends each SIGHUP to a file; exits 7 on SIGTERM, or with the status a stop file holds (which
# it removes, so that a server started again runs on).
# With a file hup-exit beside the log, a SIGHUP ends it with the status that file holds (as
# pgBackRest's server does when a reload cannot bind its port); term-exit does so for SIGTERM.
SERVER = textwrap.dedent("""
    import os, signal, sys, time
    log, stop = sys.argv[1], sys.argv[2]
    def status_in(name, default):
        path = os.path.join(os.path.dirname(log), name)
        return int(open(path).read()) if os.path.exists(path) else default
    def hup(*_):
        with open(log, "a") as f:
            f.write("HUP\\n")
        status = status_in("hup-exit", None)
        if status is not None:
            sys.exit(status)
    signal.signal(signal.SIGHUP, hup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(status_in("term-exit", 7)))
    with open(log, "a") as f:
        f.write("started %d\\n" % os.getpid())
    while not os.path.exists(stop):
        time.sleep(0.05)
    status = int(open(stop).read() or "0")
    os.remove(stop)
    sys.exit(status)
""")


class ReloadOnChangeTest(unittest.TestCase):
    OPTIONS = []

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.certs = os.path.join(self.dir, "certs")
        os.mkdir(self.certs)
        self.write_version("1")
        self.log = os.path.join(self.dir, "log")
        self.stop = os.path.join(self.dir, "stop")
        server = os.path.join(self.dir, "server.py")
        with open(server, "w") as f:
            f.write(SERVER)
        self.proc = subprocess.Popen(
            ["/bin/bash", SCRIPT, *self.OPTIONS, self.certs, os.path.join(self.dir, "userlist.txt"), "--",
             sys.executable, server, self.log, self.stop],
            env={**os.environ, "PGC_RELOAD_SECONDS": "1"}, stderr=subprocess.DEVNULL, start_new_session=True)
        self.addCleanup(self.kill)
        self.wait_for(lambda: self.lines() and self.lines()[0].startswith("started"))

    def kill(self):
        """The script, the server and the timer: the whole process group."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def write_version(self, v):
        """Swaps the directory as the kubelet does: a new timestamped directory behind ..data."""
        ts = os.path.join(self.certs, "..v" + v)
        os.mkdir(ts)
        for name in ("tls.crt", "tls.key"):
            with open(os.path.join(ts, name), "w") as f:
                f.write("%s-%s\n" % (name, v))
            link = os.path.join(self.certs, name)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", name), link)
        tmp = os.path.join(self.certs, "..data_tmp")
        os.symlink("..v" + v, tmp)
        os.replace(tmp, os.path.join(self.certs, "..data"))

    def lines(self):
        try:
            with open(self.log) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def wait_for(self, cond, seconds=5.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.05)
        self.fail("condition not met in %.1f s; server log: %r" % (seconds, self.lines()))

    def children(self):
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            return [int(x) for x in f.read().split()]

    def test_the_only_process_it_starts_is_the_server(self):
        # A helper (a timer, a subshell) would be a copy of the container's environment, passwords included.
        server = int(self.lines()[0].split()[1])
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            self.assertEqual(self.children(), [server])
            time.sleep(0.02)

    def test_no_change_no_reload(self):
        time.sleep(2.5)
        self.assertEqual(self.lines()[1:], [])

    def test_a_swapped_directory_reloads_once(self):
        self.write_version("2")
        self.wait_for(lambda: self.lines()[1:] == ["HUP"], 3.0)
        time.sleep(2.2)
        self.assertEqual(self.lines()[1:], ["HUP"])

    def test_a_watched_file_that_appears_reloads(self):
        with open(os.path.join(self.dir, "userlist.txt"), "w") as f:
            f.write('"app" "SCRAM-SHA-256$..."\n')
        self.wait_for(lambda: self.lines()[1:] == ["HUP"], 3.0)

    def test_sigterm_is_passed_on_and_the_servers_status_returned(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=3), 7)

    def test_the_server_exiting_ends_the_script_at_once_with_its_status(self):
        started = time.monotonic()
        with open(self.stop, "w") as f:
            f.write("3")
        self.assertEqual(self.proc.wait(timeout=3), 3)
        self.assertLess(time.monotonic() - started, 0.9)


class RestartOnExitTest(ReloadOnChangeTest):
    """--restart-on-exit=41,139: what the pgBackRest servers run with."""
    OPTIONS = ["--restart-on-exit=41,139"]

    def exit_on(self, signal_name, status):
        with open(os.path.join(self.dir, signal_name + "-exit"), "w") as f:
            f.write(str(status))

    def started(self):
        return [int(line.split()[1]) for line in self.lines() if line.startswith("started")]

    def test_a_reload_that_ends_the_server_with_that_status_starts_it_again(self):
        self.exit_on("hup", 41)
        self.write_version("2")
        self.wait_for(lambda: len(self.started()) == 2, 3.0)
        self.assertEqual([line.split()[0] for line in self.lines()], ["started", "HUP", "started"])
        self.assertIsNone(self.proc.poll())
        # The restarted server is the one signals reach now, and its status is the script's.
        self.assertEqual(self.children(), [self.started()[1]])
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=3), 7)

    def test_a_reload_that_ends_the_server_with_another_listed_status_starts_it_again(self):
        self.exit_on("hup", 139)
        self.write_version("2")
        self.wait_for(lambda: len(self.started()) == 2, 3.0)
        self.assertIsNone(self.proc.poll())

    def test_that_status_after_ten_seconds_up_starts_it_again_without_a_reload(self):
        # A crash with no reload near it (pgBackRest's SIGCHLD race): started again once the
        # server has run for 10 s, so that one failing as it starts still ends the container.
        time.sleep(10.5)
        with open(self.stop, "w") as f:
            f.write("139")
        self.wait_for(lambda: len(self.started()) == 2, 3.0)
        self.assertEqual([line.split()[0] for line in self.lines()], ["started", "started"])
        self.assertIsNone(self.proc.poll())
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=3), 7)

    def test_another_status_after_a_reload_ends_the_script(self):
        self.exit_on("hup", 3)
        self.write_version("2")
        self.assertEqual(self.proc.wait(timeout=3), 3)
        self.assertEqual(len(self.started()), 1)

    def test_that_status_without_a_reload_ends_the_script(self):
        with open(self.stop, "w") as f:
            f.write("41")
        self.assertEqual(self.proc.wait(timeout=3), 41)
        self.assertEqual(len(self.started()), 1)

    def test_that_status_after_a_stop_signal_ends_the_script(self):
        # A SIGHUP passed on just before, so the server's end falls within the reload's window.
        self.proc.send_signal(signal.SIGHUP)
        self.wait_for(lambda: self.lines()[1:] == ["HUP"], 3.0)
        self.exit_on("term", 41)
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=3), 41)
        self.assertEqual(len(self.started()), 1)


class UsageTest(unittest.TestCase):
    def run_script(self, *args, env=None):
        return subprocess.run(["/bin/bash", SCRIPT, *args], env={**os.environ, **(env or {})},
                              capture_output=True, text=True, timeout=10)

    def test_missing_separator_or_command(self):
        self.assertEqual(self.run_script("/tmp").returncode, 64)
        self.assertEqual(self.run_script("/tmp", "--").returncode, 64)
        self.assertEqual(self.run_script("--", "true").returncode, 64)

    def test_bad_restart_statuses(self):
        for bad in ("soon", "", "41,", "41,,139", ",139", "41;139"):
            res = self.run_script("--restart-on-exit=" + bad, "/tmp", "--", "true")
            self.assertEqual(res.returncode, 64, bad)
            self.assertIn("--restart-on-exit takes exit statuses separated by commas, got '%s'" % bad, res.stderr)

    def test_bad_interval(self):
        res = self.run_script("/tmp", "--", "true", env={"PGC_RELOAD_SECONDS": "soon"})
        self.assertEqual(res.returncode, 64)
        self.assertIn("PGC_RELOAD_SECONDS", res.stderr)


if __name__ == "__main__":
    unittest.main()
