"""The access Job's wait for a rotated password (the rest of the program: test/render/access-script.test.ts)."""
import contextlib
import io
import os
import tempfile
import unittest
from unittest import mock

from loader import load

with mock.patch.dict(os.environ, {"PGC_ACCESS": "{}"}):
    aa = load("apply-access.py")


def write(directory, name, text):
    with open(os.path.join(directory, name), "w") as f:
        f.write(text)


class RotatedPasswordTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.user = {"name": "orders_app", "rotation": 2, "passwordDir": self.dir}

    def wait(self, on_sleep=lambda n: None, wait_seconds=600):
        """rotated_password with a sleep that calls on_sleep(number of sleeps so far) instead."""
        sleeps = []

        def sleep(seconds):
            sleeps.append(seconds)
            on_sleep(len(sleeps))

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            value = aa.rotated_password(self.user, wait_seconds=wait_seconds, poll=2.0, sleep=sleep)
        return value, sleeps, out.getvalue()

    def test_the_declared_rotation_already_in_the_secret_is_used_at_once(self):
        write(self.dir, "password-rotation", "2")
        write(self.dir, "password", "new-password")
        self.assertEqual(self.wait(), ("new-password", [], ""))

    def test_it_waits_until_the_mounted_secret_reaches_the_rotation(self):
        write(self.dir, "password-rotation", "1")
        write(self.dir, "password", "old-password")

        def credentials_job_runs(n):
            if n == 3:
                # The kubelet swaps both files at once.
                write(self.dir, "password", "new-password")
                write(self.dir, "password-rotation", "2")

        value, sleeps, out = self.wait(credentials_job_runs)
        self.assertEqual(value, "new-password")
        self.assertEqual(sleeps, [2.0, 2.0, 2.0])
        self.assertIn("waiting for the Secret of orders_app to reach password rotation 2 (now 1)", out)

    def test_missing_or_unreadable_files_are_waited_for(self):
        def appear(n):
            if n == 1:
                write(self.dir, "password-rotation", "garbage")
            if n == 2:
                write(self.dir, "password-rotation", "2")
                write(self.dir, "password", "")
            if n == 3:
                write(self.dir, "password", "pw")

        value, sleeps, _ = self.wait(appear)
        self.assertEqual((value, len(sleeps)), ("pw", 3))

    def test_a_higher_recorded_rotation_is_the_current_password(self):
        write(self.dir, "password-rotation", "9")
        write(self.dir, "password", "current")
        self.assertEqual(self.wait()[0], "current")

    def test_it_gives_up_with_a_clear_error(self):
        write(self.dir, "password-rotation", "1")
        write(self.dir, "password", "old")
        with self.assertRaises(SystemExit) as raised:
            self.wait(wait_seconds=10)
        self.assertEqual(str(raised.exception),
                         "the Secret of orders_app is at password rotation 1, not 2, after 10 s: did the credentials Job run?")

    def test_password_of_reads_rotated_users_from_files_and_the_others_from_env(self):
        write(self.dir, "password-rotation", "2")
        write(self.dir, "password", "from-file")
        with mock.patch.dict(os.environ, {"PGC_PASSWORD_0": "from-env"}):
            self.assertEqual(aa.password_of(self.user), "from-file")
            self.assertEqual(aa.password_of({"name": "b", "passwordEnv": "PGC_PASSWORD_0"}), "from-env")
            self.assertIsNone(aa.password_of({"name": "group"}))


if __name__ == "__main__":
    unittest.main()
