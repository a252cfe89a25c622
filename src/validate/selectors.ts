/**
 * Selectors and ports: every workload selects its own pods and no other's, every Service selects
 * some workload's pods and its target ports exist on them, every probe's port exists.
 */
import { Finding, findingsOf } from './finding';
import { Manifest, PodTemplate, allContainers, objectRef, ofKind, podTemplates, selects } from './manifest';

/**
 * Labels set on pods at run time rather than in their template (Patroni's role label): a
 * selector's static part is what must match a template.
 */
export const RUNTIME_LABELS: readonly string[] = ['postgres.cdk8s.io/role'];

/** A selector without the labels set at run time. */
export function staticSelector(selector: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(selector ?? {})) if (!RUNTIME_LABELS.includes(k)) out[k] = v;
  return out;
}

function controllers(manifests: readonly Manifest[]): Manifest[] {
  return manifests.filter((m) => ['StatefulSet', 'Deployment', 'DaemonSet', 'ReplicaSet'].includes(m.kind));
}

/** Workloads whose selector misses their own pod template, or selects another workload's pods. */
export function workloadSelectorProblems(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  const owners = controllers(manifests);
  for (const a of owners) {
    const selector = a.spec?.selector?.matchLabels;
    if (!selects(selector, a.spec?.template?.metadata?.labels)) {
      out.push(`${objectRef(a)}: spec.selector.matchLabels ${JSON.stringify(selector ?? {})} does not select its own pod template`);
    }
    for (const b of owners) {
      if (a !== b && selects(selector, b.spec?.template?.metadata?.labels)) out.push(`${objectRef(a)}: its selector also selects the pods of ${objectRef(b)}`);
    }
  }
  return out;
}

/** The label on the pods of Patroni's member StatefulSets: only these get the run-time role label. */
export const MEMBER_LABEL = 'postgres.cdk8s.io/node-set';

/**
 * The pod templates a Service's selector selects. A selector with a run-time label (the role)
 * selects, by its other labels, the pods of member StatefulSets (Patroni sets the role on them,
 * and on no other pod); any other selector selects on all its labels.
 */
export function selectedTemplates(svc: Manifest, templates: readonly PodTemplate[]): PodTemplate[] {
  const selector: Record<string, string> | undefined = svc.spec?.selector;
  const fixed = staticSelector(selector);
  const runtime = Object.keys(selector ?? {}).length !== Object.keys(fixed).length;
  if (!runtime) return templates.filter((t) => selects(selector, t.metadata.labels));
  return templates.filter((t) => t.owner.kind === 'StatefulSet' && t.metadata.labels?.[MEMBER_LABEL] !== undefined && selects(fixed, t.metadata.labels));
}

function portNames(container: any): string[] {
  return (container.ports ?? []).map((p: any) => p.name).filter((n: unknown) => n !== undefined);
}

function portNumbers(container: any): number[] {
  return (container.ports ?? []).map((p: any) => p.containerPort);
}

/** The ports a container's probes use. */
export function probePorts(container: any): Array<string | number> {
  const out: Array<string | number> = [];
  for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
    if (!probe) continue;
    if (probe.httpGet) out.push(probe.httpGet.port);
    if (probe.tcpSocket) out.push(probe.tcpSocket.port);
    if (probe.grpc) out.push(probe.grpc.port);
  }
  return out;
}

/** Services that select no workload's pods (or nothing at all), and target ports missing on the pods they select. */
export function serviceProblems(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  const templates = podTemplates(manifests).filter((t) => t.owner.kind !== 'Job' && t.owner.kind !== 'CronJob');
  for (const svc of ofKind(manifests, 'Service')) {
    const where = objectRef(svc);
    const selector = svc.spec?.selector;
    if (!selector || Object.keys(selector).length === 0) {
      if (svc.spec?.type !== 'ExternalName') out.push(`${where}: has no selector (it would route to no pod)`);
      continue;
    }
    const matched = selectedTemplates(svc, templates);
    if (matched.length === 0) {
      out.push(`${where}: spec.selector ${JSON.stringify(selector)} selects no StatefulSet's, Deployment's or DaemonSet's pods`);
      continue;
    }
    for (const p of svc.spec.ports ?? []) {
      const target = p.targetPort ?? p.port;
      for (const t of matched) {
        const ctrs = t.spec.containers ?? [];
        const found = typeof target === 'string' ? ctrs.flatMap(portNames).includes(target) : ctrs.flatMap(portNumbers).includes(target);
        if (!found) out.push(`${where}: port ${p.name ?? p.port} targets ${target}, which no container of ${objectRef(t.owner)} exposes`);
      }
    }
  }
  return out;
}

/** Probes whose port the container does not expose. */
export function probeProblems(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  for (const t of podTemplates(manifests)) {
    for (const ctr of allContainers(t.spec)) {
      for (const port of probePorts(ctr)) {
        const found = typeof port === 'string' ? portNames(ctr).includes(port) : portNumbers(ctr).includes(port);
        if (!found) out.push(`${objectRef(t.owner)} container ${ctr.name}: a probe uses port ${port}, which the container does not expose`);
      }
    }
  }
  return out;
}

/** The selector findings of a set of objects. */
export function selectorFindings(manifests: readonly Manifest[]): Finding[] {
  return findingsOf('selectors', 'error', [...workloadSelectorProblems(manifests), ...serviceProblems(manifests), ...probeProblems(manifests)]);
}
