"""The credentials Job's program: its Kubernetes API handling, with the API mocked."""
import base64
import contextlib
import io
import json
import os
import tempfile
import unittest
import urllib.error
from unittest import mock

from loader import load

es = load("ensure-secrets.py")


class FakeApi:
    """Answers GET with `reads` (name -> status, default 404) and POST with `create`."""

    def __init__(self, reads=None, create=201):
        self.reads, self.create, self.calls = reads or {}, create, []

    def call(self, method, path, body=None):
        self.calls.append((method, path, body))
        if method == "GET":
            return self.reads.get(path.rsplit("/", 1)[1], 404)
        return self.create(body) if callable(self.create) else self.create


def run_ensure(api, pairs, connections=None, userlists=(), labels=None):
    out, err = io.StringIO(), io.StringIO()
    passwords = iter("pw%d" % i for i in range(100))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        ok = es.ensure(api, "orders", pairs, connections or {}, list(userlists), labels or {}, new_password=lambda: next(passwords))
    return ok, out.getvalue(), err.getvalue()


def decoded(body):
    return {k: base64.b64decode(v).decode() for k, v in body["data"].items()}


class EnsureTest(unittest.TestCase):
    def test_missing_secret_is_created_with_labels_and_credentials(self):
        api = FakeApi()
        ok, out, _ = run_ensure(api, [("db-superuser", "postgres")], labels={"app": "db"})
        self.assertTrue(ok)
        self.assertEqual([(m, p) for m, p, _ in api.calls], [
            ("GET", "/api/v1/namespaces/orders/secrets/db-superuser"),
            ("POST", "/api/v1/namespaces/orders/secrets"),
        ])
        body = api.calls[1][2]
        self.assertEqual(body["metadata"], {"name": "db-superuser", "labels": {"app": "db"}})
        self.assertEqual(body["type"], "kubernetes.io/basic-auth")
        self.assertEqual(decoded(body), {"username": "postgres", "password": "pw0"})
        self.assertIn("secret db-superuser created", out)

    def test_existing_secret_is_never_written(self):
        api = FakeApi(reads={"db-superuser": 200})
        ok, out, _ = run_ensure(api, [("db-superuser", "postgres"), ("db-replication", "replicator")])
        self.assertTrue(ok)
        self.assertEqual([(m, p.rsplit("/", 1)[1]) for m, p, _ in api.calls],
                         [("GET", "db-superuser"), ("GET", "db-replication"), ("POST", "secrets")])
        self.assertEqual(api.calls[2][2]["metadata"]["name"], "db-replication")
        self.assertIn("secret db-superuser exists, left unchanged", out)

    def test_unexpected_read_status_fails_but_the_other_secrets_are_still_handled(self):
        for status in (403, 500, None):
            api = FakeApi(reads={"a": status})
            ok, _, err = run_ensure(api, [("a", "u1"), ("b", "u2")])
            self.assertFalse(ok)
            self.assertIn("secret a: unexpected status %s on read" % status, err)
            self.assertEqual([m for m, _, _ in api.calls], ["GET", "GET", "POST"])

    def test_create_conflict_is_success_and_other_create_errors_fail(self):
        ok, out, _ = run_ensure(FakeApi(create=409), [("a", "u")])
        self.assertTrue(ok)
        self.assertIn("secret a was created concurrently, left unchanged", out)
        for status in (403, 422, 500, None):
            ok, _, err = run_ensure(FakeApi(create=status), [("a", "u")])
            self.assertFalse(ok)
            self.assertIn("secret a: unexpected status %s on create" % status, err)

    def test_connection_keys_and_userlist(self):
        api = FakeApi()
        conn = {"host": "db-primary.orders.svc", "roHost": "db-replicas.orders.svc", "port": 5432, "dbname": "app", "sslmode": "verify-full"}
        ok, _, _ = run_ensure(api, [("db-app", "app"), ("db-pooler", "cdk8s_pgbouncer")], {"db-app": conn}, ["db-pooler"])
        self.assertTrue(ok)
        app = decoded(api.calls[1][2])
        self.assertEqual(app["uri"], "postgresql://app:pw0@db-primary.orders.svc:5432/app?sslmode=verify-full")
        self.assertEqual(app["ro-uri"], "postgresql://app:pw0@db-replicas.orders.svc:5432/app?sslmode=verify-full")
        self.assertEqual(app["jdbc-uri"], "jdbc:postgresql://db-primary.orders.svc:5432/app?sslmode=verify-full&user=app&password=pw0")
        self.assertEqual((app["host"], app["ro-host"], app["port"], app["dbname"]), ("db-primary.orders.svc", "db-replicas.orders.svc", "5432", "app"))
        self.assertNotIn("userlist.txt", app)
        pooler = decoded(api.calls[3][2])
        self.assertEqual(pooler, {"username": "cdk8s_pgbouncer", "password": "pw1", "userlist.txt": '"cdk8s_pgbouncer" "pw1"\n'})

    def test_real_passwords_are_random_and_url_safe(self):
        api = FakeApi()
        with contextlib.redirect_stdout(io.StringIO()):
            es.ensure(api, "ns", [("a", "u"), ("b", "u")], {}, [], {})
        pws = [decoded(body)["password"] for m, _, body in api.calls if m == "POST"]
        self.assertNotEqual(pws[0], pws[1])
        for pw in pws:
            self.assertRegex(pw, r"^[A-Za-z0-9_-]{43}$")


class ApiTest(unittest.TestCase):
    def test_url_brackets_an_ipv6_service_host(self):
        self.assertEqual(es.api_url({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}), "https://10.96.0.1:443")
        self.assertEqual(es.api_url({"KUBERNETES_SERVICE_HOST": "fd00:10:96::1", "KUBERNETES_SERVICE_PORT": "6443"}), "https://[fd00:10:96::1]:6443")
        self.assertEqual(es.api_url({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}), "https://10.0.0.1:443")

    def test_request_carries_token_json_and_method(self):
        seen = []

        def urlopen(req, context, timeout):
            seen.append(req)
            response = mock.MagicMock()
            response.__enter__.return_value.status = 201
            return response

        api = es.Api("https://k8s:443", "tok", "ctx")
        with mock.patch.object(es.urllib.request, "urlopen", urlopen):
            self.assertEqual(api.call("POST", "/x", {"a": 1}), 201)
        req = seen[0]
        self.assertEqual((req.full_url, req.get_method()), ("https://k8s:443/x", "POST"))
        self.assertEqual(req.get_header("Authorization"), "Bearer tok")
        self.assertEqual(req.get_header("Content-type"), "application/json")
        self.assertEqual(json.loads(req.data), {"a": 1})

    def test_http_errors_are_statuses_and_unreachable_is_none(self):
        api = es.Api("https://k8s:443", "tok", None)

        def http_error(req, context, timeout):
            raise urllib.error.HTTPError(req.full_url, 404, "Not Found", {}, None)

        def refused(req, context, timeout):
            raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

        with mock.patch.object(es.urllib.request, "urlopen", http_error):
            self.assertEqual(api.call("GET", "/s"), 404)
        err = io.StringIO()
        with mock.patch.object(es.urllib.request, "urlopen", refused), contextlib.redirect_stderr(err):
            self.assertIsNone(api.call("GET", "/s"))
        self.assertIn("Connection refused", err.getvalue())


class MainTest(unittest.TestCase):
    def test_reads_the_service_account_and_exits_1_on_failure(self):
        with tempfile.TemporaryDirectory() as sa:
            for name, text in (("token", "tok\n"), ("namespace", "orders\n")):
                with open(os.path.join(sa, name), "w") as f:
                    f.write(text)
            env = {"SA_DIR": sa, "KUBERNETES_SERVICE_HOST": "10.0.0.1", "SECRETS": "db-a=a db-b=b"}
            calls = []

            def call(self, method, path, body=None):
                calls.append((self.base, self.token, method, path))
                return 200 if path.endswith("db-a") else 500

            with mock.patch.object(es.ssl, "create_default_context", lambda cafile: cafile), \
                    mock.patch.object(es.Api, "call", call), \
                    contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                self.assertEqual(es.main(env), 1)
            self.assertEqual(calls, [("https://10.0.0.1:443", "tok", "GET", "/api/v1/namespaces/orders/secrets/db-a"),
                                     ("https://10.0.0.1:443", "tok", "GET", "/api/v1/namespaces/orders/secrets/db-b")])


if __name__ == "__main__":
    unittest.main()
