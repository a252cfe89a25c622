"""pgbackrest-server.sh run for real, with a stand-in pgBackRest that prints its arguments."""
import os
import shutil
import subprocess
import tempfile
import unittest

from loader import SCRIPTS

SCRIPT = os.path.join(SCRIPTS, "pgbackrest-server.sh")


class PgbackrestServerTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.fake = os.path.join(self.dir, "pgbackrest")
        with open(self.fake, "w") as f:
            # Its pid too: the script must replace itself with the server (exec), so that the
            # reload wrapper's SIGHUP reaches pgBackRest.
            f.write('#!/bin/bash\necho "$$ $*"\n')
        os.chmod(self.fake, 0o755)
        self.if_inet6 = os.path.join(self.dir, "if_inet6")
        self.bindv6only = os.path.join(self.dir, "bindv6only")

    def run_script(self, *args, env=None):
        env = {"PATH": "/usr/bin:/bin", "PGC_IF_INET6": self.if_inet6, "PGC_BINDV6ONLY": self.bindv6only, **(env or {})}
        proc = subprocess.Popen(["/bin/bash", SCRIPT, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=10)
        return proc.pid, proc.returncode, out, err

    def write(self, path, text):
        with open(path, "w") as f:
            f.write(text)

    def test_ipv6_kernel_listens_on_every_address_of_both_families(self):
        self.write(self.if_inet6, "00000000000000000000000000000001 01 80 10 80       lo\n")
        self.write(self.bindv6only, "0\n")
        pid, code, out, _ = self.run_script(self.fake, "--log-level-console=info")
        self.assertEqual(code, 0)
        self.assertEqual(out, "%d --tls-server-address=:: --log-level-console=info server\n" % pid)

    def test_no_ipv6_in_the_kernel_keeps_the_configured_ipv4_address(self):
        self.write(self.bindv6only, "0\n")
        pid, code, out, _ = self.run_script(self.fake)
        self.assertEqual((code, out), (0, "%d server\n" % pid))

    def test_ipv6_sockets_that_refuse_ipv4_keep_the_configured_ipv4_address(self):
        self.write(self.if_inet6, "")
        self.write(self.bindv6only, "1\n")
        pid, code, out, _ = self.run_script(self.fake)
        self.assertEqual((code, out), (0, "%d server\n" % pid))

    def test_an_unreadable_bindv6only_counts_as_linux_default(self):
        self.write(self.if_inet6, "")
        pid, code, out, _ = self.run_script(self.fake)
        self.assertEqual((code, out), (0, "%d --tls-server-address=:: server\n" % pid))

    def test_without_arguments_it_says_how_to_call_it(self):
        _, code, out, err = self.run_script()
        self.assertEqual((code, out), (64, ""))
        self.assertIn("usage: pgbackrest-server.sh PGBACKREST", err)


if __name__ == "__main__":
    unittest.main()
