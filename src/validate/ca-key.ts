/**
 * No pod but cert-manager's may read a CA's private key: whoever reads the Secret of an `isCA`
 * Certificate can mint any client or server certificate the CA signs (`CN=replicator` is a
 * physical copy of every row). Clients need the CA certificate alone (the cluster publishes it in
 * the ConfigMap `<cluster>-ca-cert`).
 */
import { Finding } from './finding';
import { Manifest, objectRef, podTemplates } from './manifest';
import { references } from './references';

/** Secrets of the CA Certificates in the output (they hold the CA's `tls.key`). */
export function caKeySecrets(manifests: readonly Manifest[]): string[] {
  return manifests.filter((m) => m.apiVersion?.startsWith('cert-manager.io/') && m.kind === 'Certificate' && m.spec?.isCA === true)
    .map((m) => m.spec?.secretName).filter((s): s is string => typeof s === 'string');
}

/** Pods that mount or read a CA key Secret (errors), ConfigMaps that hand its name to applications (warnings). */
export function caKeyFindings(manifests: readonly Manifest[]): Finding[] {
  const secrets = caKeySecrets(manifests);
  if (secrets.length === 0) return [];
  const out: Finding[] = [];
  for (const t of podTemplates(manifests)) {
    for (const ref of new Set(references(t))) {
      const name = ref.startsWith('Secret/') ? ref.slice('Secret/'.length) : undefined;
      if (name && secrets.includes(name)) {
        out.push({
          check: 'ca-key',
          severity: 'error',
          object: objectRef(t.owner),
          message: `${objectRef(t.owner)}: reads Secret/${name}, which holds a CA's private key (its reader can mint any certificate the CA signs); `
            + 'mount the CA certificate alone instead (the cluster\'s ConfigMap <cluster>-ca-cert, key ca.crt)',
        });
      }
    }
  }
  for (const cm of manifests.filter((m) => m.kind === 'ConfigMap')) {
    for (const [key, value] of Object.entries(cm.data ?? {})) {
      if (typeof value === 'string' && secrets.includes(value.trim())) {
        out.push({
          check: 'ca-key',
          severity: 'warning',
          object: objectRef(cm),
          message: `${objectRef(cm)}: ${key} names Secret/${value.trim()}, which holds a CA's private key: give applications the CA certificate's ConfigMap instead`,
        });
      }
    }
  }
  return out;
}
