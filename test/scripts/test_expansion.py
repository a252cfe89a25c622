"""apply-config.py's volume growth: which claims it patches, what it waits for, how a refusal reads."""
import unittest

from fake_clock import Clock
from loader import load

ac = load("apply-config.py")

PATH = "/api/v1/namespaces/ns/persistentvolumeclaims/"


class Claims:
    """The API server's claims. A patched claim reaches its new capacity `grow_after` reads later;
    `refuse` answers every patch with the admission plugin's 403."""

    def __init__(self, claims, grow_after=2, refuse=False):
        # claims: {name: (requested, capacity)}
        self.claims = {n: {"metadata": {"name": n}, "spec": {"storageClassName": "standard", "resources": {"requests": {"storage": r}}},
                           "status": {"capacity": {"storage": c}}} for n, (r, c) in claims.items()}
        self.grow_after, self.refuse = grow_after, refuse
        self.pending = {}
        self.calls = []

    def call(self, method, path, body=None, content_type=None):
        name = path[len(PATH):]
        self.calls.append((method, name, content_type))
        pvc = self.claims.get(name)
        if pvc is None:
            return 404, {"kind": "Status", "message": 'persistentvolumeclaims "%s" not found' % name}
        if method == "GET":
            if name in self.pending:
                self.pending[name] -= 1
                if self.pending[name] <= 0:
                    pvc["status"]["capacity"]["storage"] = pvc["spec"]["resources"]["requests"]["storage"]
                    pvc["status"].pop("conditions", None)
                    del self.pending[name]
            return 200, pvc
        if method == "PATCH":
            if self.refuse:
                return 403, {"kind": "Status", "message": 'persistentvolumeclaims "%s" is forbidden: only dynamically provisioned pvc '
                             "can be resized and the storageclass that provisions the pvc must support resize" % name}
            pvc["spec"]["resources"]["requests"]["storage"] = body["spec"]["resources"]["requests"]["storage"]
            pvc["status"]["conditions"] = [{"type": "Resizing", "status": "True"}]
            self.pending[name] = self.grow_after
            return 200, pvc
        return 405, "no"


def expand(claims, declared, wait_seconds=600):
    clock = Clock()
    applier = ac.Applier(None, ["https://db-primary-0.db-pods:8008"], wait_seconds, sleep=clock.sleep, clock=clock)
    return ac.Expansion(applier, claims, "ns", [{"name": n, "size": s} for n, s in declared]).run()


class QuantityTest(unittest.TestCase):
    def test_binary_decimal_exponent_and_plain_quantities(self):
        self.assertEqual(ac.quantity_bytes("10Gi"), 10 * 2 ** 30)
        self.assertEqual(ac.quantity_bytes("20480Mi"), 20 * 2 ** 30)
        self.assertEqual(ac.quantity_bytes("1500M"), 1500 * 10 ** 6)
        self.assertEqual(ac.quantity_bytes("1e9"), 10 ** 9)
        self.assertEqual(ac.quantity_bytes("512"), 512)
        self.assertEqual(ac.quantity_bytes("1.5Gi"), 3 * 2 ** 29)
        self.assertIsNone(ac.quantity_bytes(None))

    def test_what_is_no_quantity_is_refused(self):
        for bad in ("10GB", "ten", "-1Gi", ""):
            with self.assertRaises(ValueError):
                ac.quantity_bytes(bad)


class ExpansionTest(unittest.TestCase):
    def test_smaller_claims_are_patched_with_a_merge_patch_and_waited_for(self):
        claims = Claims({"pgdata-db-primary-0": ("1Gi", "1Gi"), "pgdata-db-replica-0": ("1Gi", "1Gi")})
        grown = expand(claims, [("pgdata-db-primary-0", "2048Mi"), ("pgdata-db-replica-0", "2048Mi")])
        self.assertEqual(grown, ["pgdata-db-primary-0", "pgdata-db-replica-0"])
        patches = [(n, t) for m, n, t in claims.calls if m == "PATCH"]
        self.assertEqual(patches, [("pgdata-db-primary-0", "application/merge-patch+json"), ("pgdata-db-replica-0", "application/merge-patch+json")])
        for pvc in claims.claims.values():
            self.assertEqual(pvc["status"]["capacity"]["storage"], "2048Mi")

    def test_claims_of_the_declared_size_or_larger_are_left_alone(self):
        claims = Claims({"pgdata-db-primary-0": ("2Gi", "2Gi"), "pgdata-db-replica-0": ("4Gi", "4Gi")})
        self.assertEqual(expand(claims, [("pgdata-db-primary-0", "2048Mi"), ("pgdata-db-replica-0", "2048Mi")]), [])
        self.assertEqual([c for c in claims.calls if c[0] != "GET"], [])
        self.assertEqual(claims.claims["pgdata-db-replica-0"]["spec"]["resources"]["requests"]["storage"], "4Gi")

    def test_a_claim_still_growing_from_an_earlier_run_is_waited_for_without_a_patch(self):
        claims = Claims({"pgdata-db-primary-0": ("2Gi", "1Gi")})
        claims.pending["pgdata-db-primary-0"] = 3
        self.assertEqual(expand(claims, [("pgdata-db-primary-0", "2Gi")]), ["pgdata-db-primary-0"])
        self.assertEqual([c for c in claims.calls if c[0] == "PATCH"], [])
        self.assertEqual(claims.claims["pgdata-db-primary-0"]["status"]["capacity"]["storage"], "2Gi")

    def test_a_claim_not_created_yet_is_skipped(self):
        claims = Claims({"pgdata-db-primary-0": ("1Gi", "1Gi")})
        self.assertEqual(expand(claims, [("pgdata-db-primary-0", "2Gi"), ("pgdata-db-replica-1", "2Gi")]), ["pgdata-db-primary-0"])

    def test_a_refusal_names_the_claim_the_class_and_what_to_do(self):
        claims = Claims({"pgdata-db-primary-0": ("1Gi", "1Gi")}, refuse=True)
        with self.assertRaises(SystemExit) as ctx:
            expand(claims, [("pgdata-db-primary-0", "2Gi")])
        msg = str(ctx.exception)
        self.assertIn("expanding volume claim pgdata-db-primary-0 to 2Gi was refused: 403", msg)
        self.assertIn("the storageclass that provisions the pvc must support resize", msg)
        self.assertIn("Its StorageClass (standard) must allow volume expansion (allowVolumeExpansion: true)", msg)

    def test_a_claim_that_never_grows_times_out_with_its_conditions(self):
        claims = Claims({"pgdata-db-primary-0": ("1Gi", "1Gi")}, grow_after=10 ** 9)
        with self.assertRaises(SystemExit) as ctx:
            expand(claims, [("pgdata-db-primary-0", "2Gi")], wait_seconds=30)
        self.assertIn("timed out after 30 s waiting for the volume claims pgdata-db-primary-0 to grow", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
