/**
 * How pods under NetworkPolicies reach the Kubernetes API server, checked against the CNI: where
 * the chosen form is known not to match, a warning names the pod and what to use instead.
 *
 * - Under Cilium (`--cni cilium`, or Cilium objects in the output) an ipBlock never matches a node
 *   IP with Cilium's defaults, and on kubeadm, RKE2, k3s or Talos the API server is a node IP on
 *   6443: a pod whose only API rule is an ipBlock gets no API (Patroni: no DCS, no leader).
 * - Under another CNI (`--cni <name>`), a CiliumNetworkPolicy is not enforced (nor accepted
 *   without Cilium's CRDs): a pod whose only API access is one gets none.
 */
import { Finding } from './finding';
import { Manifest, PodTemplate, objectRef, ofKind, podTemplates } from './manifest';

/** What the checks are told about the Kubernetes cluster the manifests are for. */
export interface CheckContext {
  /** The CNI (`cilium`, `calico`, …), when the user says which. */
  readonly cni?: string;
}

/** The API server's ports: 443 (managed clusters, the Service) and 6443 (kubeadm, RKE2, k3s, Talos). */
const API_PORTS = [443, 6443];

interface Requirement { key: string; operator: string; values?: string[] }
interface Selector { matchLabels?: Record<string, string>; matchExpressions?: Requirement[] }

/** Label selection as the API server does it; an empty selector selects every pod. */
export function labelSelects(selector: Selector | undefined, labels: Record<string, string> = {}): boolean {
  if (!selector) return false;
  const expressions = (selector.matchExpressions ?? []).every((e) => {
    switch (e.operator) {
      case 'In': return e.key in labels && (e.values ?? []).includes(labels[e.key]);
      case 'NotIn': return !(e.key in labels) || !(e.values ?? []).includes(labels[e.key]);
      case 'Exists': return e.key in labels;
      case 'DoesNotExist': return !(e.key in labels);
      default: return false;
    }
  });
  return expressions && Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

const sameNamespace = (a: Manifest, b: Manifest) => (a.metadata.namespace ?? '') === (b.metadata.namespace ?? '');

/** Whether a NetworkPolicy egress rule allows TCP to an API server port. */
function allowsApiPort(rule: any): boolean {
  const ports = rule.ports;
  if (!ports || ports.length === 0) return true;
  return ports.some((p: any) => (p.protocol ?? 'TCP') === 'TCP' && (p.port === undefined || API_PORTS.includes(Number(p.port))
    || (p.endPort !== undefined && API_PORTS.some((x) => x >= Number(p.port) && x <= Number(p.endPort)))));
}

/** How one pod may reach the API server under the Kubernetes NetworkPolicies that select it. */
function kubernetesApiAccess(t: PodTemplate, policies: Manifest[]): 'unrestricted' | 'none' | 'ipBlock' | 'other' {
  const egressPolicies = policies.filter((p) => sameNamespace(p, t.owner) && labelSelects(p.spec?.podSelector ?? {}, t.metadata.labels)
    && ((p.spec?.policyTypes ?? []).includes('Egress') || p.spec?.egress !== undefined));
  if (egressPolicies.length === 0) return 'unrestricted';
  const rules = egressPolicies.flatMap((p) => p.spec?.egress ?? []).filter(allowsApiPort);
  if (rules.length === 0) return 'none';
  // A rule without `to` (every destination) or with a pod or namespace selector is not ipBlock-only.
  if (rules.some((r: any) => !r.to || r.to.length === 0 || r.to.some((peer: any) => !peer.ipBlock))) return 'other';
  return 'ipBlock';
}

/** Whether a CiliumNetworkPolicy in the output lets this pod reach the kube-apiserver entity. */
function ciliumApiAccess(t: PodTemplate, cnps: Manifest[]): Manifest | undefined {
  return cnps.find((c) => sameNamespace(c, t.owner) && labelSelects(c.spec?.endpointSelector ?? {}, t.metadata.labels)
    && (c.spec?.egress ?? []).some((r: any) => (r.toEntities ?? []).some((e: string) => e === 'kube-apiserver' || e === 'all')));
}

/** The api-server findings (warnings). */
export function apiServerFindings(manifests: readonly Manifest[], context: CheckContext = {}): Finding[] {
  const policies = ofKind(manifests, 'NetworkPolicy');
  const cnps = ofKind(manifests, 'CiliumNetworkPolicy');
  const ciliumInOutput = manifests.some((m) => m.apiVersion?.startsWith('cilium.io/'));
  const cni = context.cni?.toLowerCase() ?? (ciliumInOutput ? 'cilium' : undefined);
  if (cni === undefined) return [];
  const out: Finding[] = [];
  for (const t of podTemplates(manifests)) {
    const who = objectRef(t.owner);
    const kube = kubernetesApiAccess(t, policies);
    const cilium = ciliumApiAccess(t, cnps);
    if (cni === 'cilium' && kube === 'ipBlock' && !cilium) {
      out.push({
        check: 'api-server',
        severity: 'warning',
        object: who,
        message: `${who}: its pods reach the Kubernetes API server only through an ipBlock on ${API_PORTS.join('/')}, which Cilium never matches `
          + 'against node IPs by default (on kubeadm, RKE2, k3s or Talos the API server is a node IP on 6443): without the API, Patroni has no DCS '
          + 'and the credentials Job creates no Secret. Use network.apiServer: ApiServerAccess.cilium() (a CiliumNetworkPolicy to the kube-apiserver entity)',
      });
    }
    if (cni !== 'cilium' && cilium && kube === 'none') {
      out.push({
        check: 'api-server',
        severity: 'warning',
        object: who,
        message: `${who}: only CiliumNetworkPolicy/${cilium.metadata.name} lets its pods reach the Kubernetes API server, and ${cni} does not enforce `
          + 'CiliumNetworkPolicies (the API server refuses them without Cilium\'s CRDs): its pods get no API. Use network.apiServer: '
          + 'ApiServerAccess.anywhere() or ApiServerAccess.cidrs([...]) on this CNI',
      });
    }
  }
  return out;
}
