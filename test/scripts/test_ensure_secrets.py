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


class StoredApi:
    """A namespace of Secrets (name -> object) behind GET, POST and PUT, as the API server keeps
    them: PUT must carry the stored resourceVersion (else 409) and bumps it. `conflicts` PUTs
    answer 409 first (a concurrent writer); `fail` maps a method to a status it answers."""

    def __init__(self, secrets=None, conflicts=0, fail=None):
        self.secrets = {name: dict(obj, metadata=dict(obj.get("metadata", {}), name=name, resourceVersion="1"))
                        for name, obj in (secrets or {}).items()}
        self.conflicts, self.fail, self.calls = conflicts, fail or {}, []

    def request(self, method, path, body=None):
        self.calls.append((method, path, body))
        if method in self.fail:
            return self.fail[method], None
        name = path.rsplit("/", 1)[1]
        if method == "GET":
            obj = self.secrets.get(name)
            return (200, json.loads(json.dumps(obj))) if obj else (404, None)
        if method == "POST":
            if body["metadata"]["name"] in self.secrets:
                return 409, None
            self.secrets[body["metadata"]["name"]] = dict(body, metadata=dict(body["metadata"], resourceVersion="1"))
            return 201, None
        if method == "PUT":
            stored = self.secrets[name]
            if self.conflicts > 0:
                self.conflicts -= 1
                stored["metadata"]["resourceVersion"] = str(int(stored["metadata"]["resourceVersion"]) + 1)
                return 409, None
            if body["metadata"].get("resourceVersion") != stored["metadata"]["resourceVersion"]:
                return 409, None
            self.secrets[name] = dict(body, metadata=dict(body["metadata"], resourceVersion=str(int(stored["metadata"]["resourceVersion"]) + 1)))
            return 200, None
        raise AssertionError(method)

    def call(self, method, path, body=None):
        return self.request(method, path, body)[0]


CONN = {"host": "db-primary.orders.svc", "roHost": "db-replicas.orders.svc", "port": 5432, "dbname": "app", "sslmode": "verify-full"}


def stored(api, name):
    return {k: base64.b64decode(v).decode() for k, v in api.secrets[name]["data"].items()}


def existing(username, password, conn=None, userlist=False, rotation=None, extra=None):
    """A Secret as the Job made it earlier (optionally at a rotation, with keys of someone else)."""
    data = es.secret_data(username, password, conn, userlist)
    metadata = {"labels": {"app": "db"}}
    if rotation is not None:
        data["password-rotation"] = str(rotation)
        metadata["annotations"] = {es.ROTATION_ANNOTATION: str(rotation)}
    data.update(extra or {})
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth", "metadata": metadata,
            "data": {k: es.b64(v) for k, v in data.items()}}


def run_rotate(api, pairs, rotations, connections=None, userlists=(), start=0):
    out, err = io.StringIO(), io.StringIO()
    passwords = iter("new%d" % i for i in range(start, start + 100))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        ok = es.ensure(api, "orders", pairs, connections or {}, list(userlists), {"app": "db"},
                       new_password=lambda: next(passwords), rotations=rotations)
    return ok, out.getvalue(), err.getvalue()


class RotationTest(unittest.TestCase):
    def test_a_higher_rotation_rewrites_every_password_key_and_records_the_rotation(self):
        api = StoredApi({"db-app": existing("app", "old", CONN, extra={"note": "kept"}), "db-other": existing("other", "theirs", CONN)})
        ok, out, _ = run_rotate(api, [("db-app", "app"), ("db-other", "other")], {"db-app": 1}, {"db-app": CONN, "db-other": CONN})
        self.assertTrue(ok)
        app = stored(api, "db-app")
        self.assertEqual(app["password"], "new0")
        self.assertEqual(app["uri"], "postgresql://app:new0@db-primary.orders.svc:5432/app?sslmode=verify-full")
        self.assertEqual(app["ro-uri"], "postgresql://app:new0@db-replicas.orders.svc:5432/app?sslmode=verify-full")
        self.assertEqual(app["jdbc-uri"], "jdbc:postgresql://db-primary.orders.svc:5432/app?sslmode=verify-full&user=app&password=new0")
        self.assertEqual(app["ro-jdbc-uri"], "jdbc:postgresql://db-replicas.orders.svc:5432/app?sslmode=verify-full&user=app&password=new0")
        self.assertNotIn("old", "".join(app.values()))
        self.assertEqual((app["username"], app["host"], app["port"], app["dbname"], app["note"]), ("app", "db-primary.orders.svc", "5432", "app", "kept"))
        self.assertEqual(app["password-rotation"], "1")
        meta = api.secrets["db-app"]["metadata"]
        self.assertEqual(meta["annotations"], {es.ROTATION_ANNOTATION: "1"})
        self.assertEqual(meta["labels"], {"app": "db"})
        self.assertIn("secret db-app rotated (rotation 0 -> 1)", out)
        # The other user's Secret is only read, never written.
        self.assertEqual(stored(api, "db-other")["password"], "theirs")
        self.assertEqual([m for m, p, _ in api.calls if p.endswith("db-other")], ["GET"])

    def test_the_same_rotation_applied_again_never_rotates(self):
        api = StoredApi({"db-app": existing("app", "old", CONN)})
        run_rotate(api, [("db-app", "app")], {"db-app": 2}, {"db-app": CONN})
        first = stored(api, "db-app")
        for _ in range(3):
            ok, out, _ = run_rotate(api, [("db-app", "app")], {"db-app": 2}, {"db-app": CONN})
            self.assertTrue(ok)
            self.assertIn("secret db-app is at rotation 2 (declared 2), left unchanged", out)
        self.assertEqual(stored(api, "db-app"), first)
        self.assertEqual(first["password-rotation"], "2")
        # Raising it again rotates once more.
        run_rotate(api, [("db-app", "app")], {"db-app": 3}, {"db-app": CONN}, start=50)
        self.assertEqual(stored(api, "db-app")["password-rotation"], "3")
        self.assertNotEqual(stored(api, "db-app")["password"], first["password"])

    def test_a_lower_declared_rotation_leaves_the_secret_as_is(self):
        api = StoredApi({"db-app": existing("app", "current", CONN, rotation=5)})
        ok, out, _ = run_rotate(api, [("db-app", "app")], {"db-app": 3}, {"db-app": CONN})
        self.assertTrue(ok)
        self.assertEqual(stored(api, "db-app")["password"], "current")
        self.assertIn("at rotation 5 (declared 3), left unchanged", out)
        self.assertNotIn("PUT", [m for m, _, _ in api.calls])

    def test_a_missing_secret_is_created_at_the_declared_rotation(self):
        api = StoredApi()
        ok, _, _ = run_rotate(api, [("db-app", "app")], {"db-app": 4}, {"db-app": CONN})
        self.assertTrue(ok)
        self.assertEqual(stored(api, "db-app")["password-rotation"], "4")
        self.assertEqual(stored(api, "db-app")["password"], "new0")
        self.assertEqual(api.secrets["db-app"]["metadata"]["annotations"], {es.ROTATION_ANNOTATION: "4"})
        self.assertEqual([m for m, _, _ in api.calls], ["GET", "POST"])

    def test_a_secret_created_concurrently_is_then_rotated_up_to_the_declared_rotation(self):
        api = StoredApi({"db-app": existing("app", "other-writer", CONN)})
        api.request = (lambda real: lambda method, path, body=None: (404, None) if method == "GET" and not api.calls else real(method, path, body))(api.request)
        ok, out, _ = run_rotate(api, [("db-app", "app")], {"db-app": 1}, {"db-app": CONN})
        self.assertTrue(ok)
        self.assertIn("was created concurrently", out)
        self.assertEqual(stored(api, "db-app")["password-rotation"], "1")
        self.assertEqual(stored(api, "db-app")["password"], "new1")

    def test_a_userlist_follows_the_new_password(self):
        api = StoredApi({"db-pooler": existing("cdk8s_pgbouncer", "old", userlist=True)})
        run_rotate(api, [("db-pooler", "cdk8s_pgbouncer")], {"db-pooler": 1}, userlists=["db-pooler"])
        self.assertEqual(stored(api, "db-pooler")["userlist.txt"], '"cdk8s_pgbouncer" "new0"\n')

    def test_a_concurrent_write_makes_it_read_again_and_an_endless_one_fails(self):
        api = StoredApi({"db-app": existing("app", "old", CONN)}, conflicts=2)
        ok, out, _ = run_rotate(api, [("db-app", "app")], {"db-app": 1}, {"db-app": CONN})
        self.assertTrue(ok)
        self.assertEqual(out.count("changed while it was rotated, reading it again"), 2)
        self.assertEqual(stored(api, "db-app")["password-rotation"], "1")
        api = StoredApi({"db-app": existing("app", "old", CONN)}, conflicts=100)
        ok, _, err = run_rotate(api, [("db-app", "app")], {"db-app": 1}, {"db-app": CONN})
        self.assertFalse(ok)
        self.assertIn("secret db-app: kept changing, not rotated", err)
        self.assertEqual(stored(api, "db-app")["password"], "old")

    def test_refused_reads_and_updates_fail_and_leave_the_secret(self):
        for method, status, message in (("GET", 403, "unexpected status 403 on read"), ("PUT", 403, "unexpected status 403 on update"),
                                        ("GET", None, "unexpected status None on read")):
            api = StoredApi({"db-app": existing("app", "old", CONN)}, fail={method: status})
            ok, _, err = run_rotate(api, [("db-app", "app")], {"db-app": 1}, {"db-app": CONN})
            self.assertFalse(ok)
            self.assertIn("secret db-app: " + message, err)
            self.assertEqual(stored(api, "db-app")["password"], "old")

    def test_an_unreadable_recorded_rotation_counts_as_0(self):
        self.assertEqual(es.recorded_rotation({"metadata": {"annotations": {es.ROTATION_ANNOTATION: "x"}}}), 0)
        self.assertEqual(es.recorded_rotation({"metadata": {}}), 0)
        self.assertEqual(es.recorded_rotation({"metadata": {"annotations": {es.ROTATION_ANNOTATION: "7"}}}), 7)


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


class ApiRequestTest(unittest.TestCase):
    def test_get_returns_the_decoded_object(self):
        def urlopen(req, context, timeout):
            response = mock.MagicMock()
            response.__enter__.return_value.status = 200
            response.__enter__.return_value.read.return_value = b'{"metadata": {"name": "s"}}'
            return response

        with mock.patch.object(es.urllib.request, "urlopen", urlopen):
            self.assertEqual(es.Api("https://k8s:443", "tok", None).request("GET", "/s"), (200, {"metadata": {"name": "s"}}))


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

    def test_reads_the_declared_rotations(self):
        with tempfile.TemporaryDirectory() as sa:
            for name, text in (("token", "tok\n"), ("namespace", "orders\n")):
                with open(os.path.join(sa, name), "w") as f:
                    f.write(text)
            env = {"SA_DIR": sa, "KUBERNETES_SERVICE_HOST": "10.0.0.1", "SECRETS": "db-a=a db-b=b", "SECRET_ROTATIONS": '{"db-b": 3}'}
            seen = {}

            def ensure(api, namespace, pairs, connections, userlists, labels, rotations):
                seen.update(pairs=pairs, rotations=rotations)
                return True

            with mock.patch.object(es.ssl, "create_default_context", lambda cafile: cafile), mock.patch.object(es, "ensure", ensure):
                self.assertEqual(es.main(env), 0)
            self.assertEqual(seen, {"pairs": [("db-a", "a"), ("db-b", "b")], "rotations": {"db-b": 3}})


if __name__ == "__main__":
    unittest.main()
