/**
 * Stands in for cert-manager: issues the Certificates of the synthesized manifests with openssl,
 * following their spec (self-signed and CA issuers, commonName, dnsNames, usages, ECDSA keys), and
 * writes each Secret's tls.crt, tls.key and ca.crt to a directory.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Manifest, findObject, objectsOfKind } from './manifests';

const EKU: Record<string, string> = { 'server auth': 'serverAuth', 'client auth': 'clientAuth' };
const KU: Record<string, string> = { 'digital signature': 'digitalSignature', 'key encipherment': 'keyEncipherment', 'cert sign': 'keyCertSign' };

/** Issues every Certificate; returns the Secret directories by Secret name. */
export function issueCertificates(manifests: readonly Manifest[], dir: string): Map<string, string> {
  const secrets = new Map<string, string>();
  const certs = objectsOfKind(manifests, 'Certificate');
  // Issue in dependency order: a CA issuer's Secret must exist before what it signs.
  const pending = [...certs];
  for (let guard = 0; pending.length > 0 && guard < 10; guard++) {
    for (const cert of [...pending]) {
      const issuer = findObject(manifests, 'Issuer', cert.spec.issuerRef.name);
      const caSecret = issuer.spec.ca?.secretName as string | undefined;
      if (caSecret && !secrets.has(caSecret)) continue;
      secrets.set(cert.spec.secretName, issue(cert, dir, caSecret ? secrets.get(caSecret)! : undefined));
      pending.splice(pending.indexOf(cert), 1);
    }
  }
  if (pending.length > 0) throw new Error(`cannot issue ${pending.map((c) => c.metadata.name).join(', ')}: their issuers are not in the manifests`);
  return secrets;
}

function issue(cert: Manifest, dir: string, caDir: string | undefined): string {
  const out = path.join(dir, cert.spec.secretName);
  fs.mkdirSync(out, { recursive: true });
  const key = path.join(out, 'tls.key');
  const crt = path.join(out, 'tls.crt');
  if (cert.spec.privateKey?.algorithm !== 'ECDSA') throw new Error(`${cert.metadata.name}: only ECDSA keys are emulated`);
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], { stdio: 'pipe' });
  const ext: string[] = [];
  if (cert.spec.isCA) {
    ext.push('basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature');
  } else {
    ext.push('basicConstraints=critical,CA:FALSE');
    const usages = (cert.spec.usages ?? []) as string[];
    const ku = usages.filter((u) => KU[u]).map((u) => KU[u]);
    const eku = usages.filter((u) => EKU[u]).map((u) => EKU[u]);
    if (ku.length) ext.push(`keyUsage=critical,${ku.join(',')}`);
    if (eku.length) ext.push(`extendedKeyUsage=${eku.join(',')}`);
    const dns = (cert.spec.dnsNames ?? []) as string[];
    if (dns.length) ext.push(`subjectAltName=${dns.map((d) => `DNS:${d}`).join(',')}`);
  }
  const extFile = path.join(out, 'ext.cnf');
  fs.writeFileSync(extFile, ext.join('\n') + '\n');
  const subject = `/CN=${cert.spec.commonName ?? cert.metadata.name}`;
  const days = '30';
  if (!caDir) {
    execFileSync('openssl', ['req', '-new', '-x509', '-key', key, '-subj', subject, '-days', days, '-out', crt,
      '-extensions', 'v3', '-config', configWith(out, ext)], { stdio: 'pipe' });
    fs.copyFileSync(crt, path.join(out, 'ca.crt'));
  } else {
    const csr = path.join(out, 'tls.csr');
    execFileSync('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', csr], { stdio: 'pipe' });
    execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', path.join(caDir, 'tls.crt'), '-CAkey', path.join(caDir, 'tls.key'),
      '-CAcreateserial', '-days', days, '-out', crt, '-extfile', extFile], { stdio: 'pipe' });
    fs.copyFileSync(path.join(caDir, 'tls.crt'), path.join(out, 'ca.crt'));
  }
  return out;
}

/** An openssl config whose [v3] section holds the extensions (for self-signed certificates). */
function configWith(dir: string, ext: string[]): string {
  const file = path.join(dir, 'openssl.cnf');
  fs.writeFileSync(file, ['[req]', 'distinguished_name=dn', '[dn]', '[v3]', ...ext, ''].join('\n'));
  return file;
}
