/**
 * Why the CA Certificate keeps its key when cert-manager renews it (rotationPolicy Never), shown
 * with OpenSSL: a CA certificate re-issued with the same key and subject verifies the leaves the
 * old one signed, and the old one verifies the new leaves, so clients holding either keep working
 * through a renewal. With a new key (rotationPolicy Always) neither holds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'ca-rotation-'));
const f = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' }).toString();

/** A self-signed CA certificate for `key`, with the subject key identifier cert-manager sets (from the key). */
function caCertificate(key: string, out: string, days: string): void {
  openssl('req', '-x509', '-new', '-key', f(key), '-subj', '/CN=db-ca', '-days', days, '-sha256', '-extensions', 'v3', '-config', writeConfig(), '-out', f(out));
}

function writeConfig(): string {
  writeFileSync(f('req.cnf'), '[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
  return f('req.cnf');
}

/** A leaf (server) certificate signed by `ca` with `caKey`. */
function leaf(name: string, ca: string, caKey: string): void {
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f(`${name}.key`));
  openssl('req', '-new', '-key', f(`${name}.key`), '-subj', '/CN=db-primary', '-out', f(`${name}.csr`));
  writeFileSync(f(`${name}.ext`), 'authorityKeyIdentifier=keyid\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:db-primary\n');
  openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(ca), '-CAkey', f(caKey), '-CAcreateserial', '-days', '30', '-sha256', '-extfile', f(`${name}.ext`), '-out', f(`${name}.crt`));
}

function verifies(ca: string, cert: string): boolean {
  try {
    return openssl('verify', '-CAfile', f(ca), f(cert)).includes(': OK');
  } catch {
    return false;
  }
}

beforeAll(() => {
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ca.key'));
  caCertificate('ca.key', 'ca-old.crt', '3650');
  leaf('leaf-old', 'ca-old.crt', 'ca.key');
  // The renewal with rotationPolicy Never: same key, same subject, a new certificate.
  caCertificate('ca.key', 'ca-new.crt', '3650');
  leaf('leaf-new', 'ca-new.crt', 'ca.key');
  // The renewal with rotationPolicy Always: a new key.
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ca-rotated.key'));
  caCertificate('ca-rotated.key', 'ca-rotated.crt', '3650');
  leaf('leaf-rotated', 'ca-rotated.crt', 'ca-rotated.key');
});

test('the two CA certificates are different certificates of one key', () => {
  expect(openssl('x509', '-in', f('ca-old.crt'), '-noout', '-serial')).not.toBe(openssl('x509', '-in', f('ca-new.crt'), '-noout', '-serial'));
  expect(openssl('x509', '-in', f('ca-old.crt'), '-noout', '-pubkey')).toBe(openssl('x509', '-in', f('ca-new.crt'), '-noout', '-pubkey'));
});

test('same key (Never): old and new CA certificates each verify the leaves of both', () => {
  expect(verifies('ca-old.crt', 'leaf-old.crt')).toBe(true);
  expect(verifies('ca-old.crt', 'leaf-new.crt')).toBe(true);
  expect(verifies('ca-new.crt', 'leaf-old.crt')).toBe(true);
  expect(verifies('ca-new.crt', 'leaf-new.crt')).toBe(true);
});

test('new key (Always): a client holding the old CA certificate refuses the new leaves, and the other way round', () => {
  expect(verifies('ca-old.crt', 'leaf-rotated.crt')).toBe(false);
  expect(verifies('ca-rotated.crt', 'leaf-old.crt')).toBe(false);
});
