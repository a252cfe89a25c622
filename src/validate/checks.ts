/**
 * Every check `validate` runs, as a table: a new check is one row. Each takes the whole set of
 * objects (cross-object checks need them all) and returns its findings.
 */
import { CheckContext, apiServerFindings } from './api-server';
import { caKeyFindings } from './ca-key';
import { Finding, findingsOf } from './finding';
import { guardedRun, isObjectDocument } from './guard';
import { Manifest, missingPodSpecs, objectRef, podTemplates } from './manifest';
import { nameFindings } from './names';
import { restrictedViolations } from './pod-security';
import { referenceFindings } from './references';
import { resourceFindings } from './resources';
import { modelFor, validateManifest } from './schema';
import { secretLeaks } from './secret-scan';
import { selectorFindings } from './selectors';

/** One check: its name (as findings and `--check` name it), what it checks, and the check. */
export interface Check {
  readonly name: string;
  readonly description: string;
  readonly run: (manifests: readonly Manifest[], context: CheckContext) => Finding[];
}

/** Schema violations are errors; a kind without a known schema is a warning (it is not checked). */
export function schemaFindings(manifests: readonly Manifest[]): Finding[] {
  const out: Finding[] = [];
  for (const m of manifests) {
    try {
      modelFor(m);
    } catch {
      out.push({ check: 'schema', severity: 'warning', object: objectRef(m), message: `${objectRef(m)}: ${m.apiVersion}/${m.kind} has no known schema; not checked` });
      continue;
    }
    try {
      validateManifest(m);
    } catch (err) {
      out.push({ check: 'schema', severity: 'error', object: objectRef(m), message: (err as Error).message });
    }
  }
  return out;
}

/** The checks, in the order they report. */
export const CHECKS: readonly Check[] = [
  { name: 'schema', description: 'Kubernetes OpenAPI schemas (built-in kinds, cert-manager, PodMonitor, PrometheusRule)', run: schemaFindings },
  {
    name: 'restricted',
    description: 'Pod Security Standards "restricted" profile, rule by rule',
    run: (ms) => findingsOf('restricted', 'error', [...missingPodSpecs(ms), ...podTemplates(ms).flatMap((t) => restrictedViolations(t.owner, t.spec))]),
  },
  { name: 'references', description: 'ConfigMaps, Secrets, ServiceAccounts, claims, volume mounts and RBAC bindings resolve', run: referenceFindings },
  { name: 'selectors', description: 'workload and Service selectors select the right pods; target and probe ports exist', run: selectorFindings },
  { name: 'names', description: 'object, container, port and volume names; label keys and values; no duplicates', run: nameFindings },
  { name: 'resources', description: 'cpu and memory requests and limits on every container, limits >= requests', run: resourceFindings },
  { name: 'secrets', description: 'no Secret objects, password-like literals or key material in the YAML', run: (ms) => findingsOf('secrets', 'error', secretLeaks(ms)) },
  { name: 'ca-key', description: 'no pod but cert-manager reads a CA\'s private key Secret; clients get the CA certificate alone', run: caKeyFindings },
  {
    name: 'api-server',
    description: 'pods reach the Kubernetes API server in a form the CNI enforces (--cni; Cilium is also seen from its objects)',
    run: apiServerFindings,
  },
];

/** Runs the checks (all, or those named) and returns their findings, errors first, in a stable order. */
export function runChecks(manifests: readonly Manifest[], only?: readonly string[], context: CheckContext = {}): Finding[] {
  const unknown = (only ?? []).filter((n) => !CHECKS.some((c) => c.name === n));
  if (unknown.length > 0) throw new Error(`unknown check ${unknown.join(', ')}: the checks are ${CHECKS.map((c) => c.name).join(', ')}`);
  const checks = only ? CHECKS.filter((c) => only.includes(c.name)) : CHECKS;
  // A document that is not an object with a kind and a name is reported, not checked.
  const objects = manifests.filter(isObjectDocument);
  const findings: Finding[] = manifests.filter((m) => !isObjectDocument(m)).map((m) => {
    const ref = typeof m === 'object' && m !== null && typeof (m as any).kind === 'string' ? objectRef(m) : '(document)';
    return { check: 'schema', severity: 'error' as const, object: ref, message: `${ref}: not a Kubernetes object (a mapping with a string kind and metadata.name); not checked` };
  });
  // Malformed objects become findings of the check that could not read them; the check goes on with the rest.
  findings.push(...checks.flatMap((c) => guardedRun(c.name, (ms) => c.run(ms, context), objects)));
  const rank = (f: Finding) => (f.severity === 'error' ? 0 : 1);
  // Array.prototype.sort is stable: within a severity, findings keep the checks' order.
  return findings.sort((a, b) => rank(a) - rank(b));
}
