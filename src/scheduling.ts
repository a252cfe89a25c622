import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { propError } from './errors';

/** What a taint does to pods that do not tolerate it. */
export enum TaintEffect {
  /** New pods are not scheduled on the node. */
  NO_SCHEDULE = 'NoSchedule',
  /** The scheduler avoids the node when it can. */
  PREFER_NO_SCHEDULE = 'PreferNoSchedule',
  /** Pods are not scheduled and running ones are evicted. */
  NO_EXECUTE = 'NoExecute',
}

/** How a toleration matches a taint's value. */
export enum TolerationOperator {
  /** The taint's value must equal the toleration's. */
  EQUAL = 'Equal',
  /** Any value (the toleration has none). */
  EXISTS = 'Exists',
}

/** A toleration of node taints. */
export interface Toleration {
  /**
   * The taint key. Unset with `TolerationOperator.EXISTS`: every taint.
   * @default - every key (needs TolerationOperator.EXISTS)
   */
  readonly key?: string;
  /**
   * How the value is matched.
   * @default TolerationOperator.EQUAL
   */
  readonly operator?: TolerationOperator;
  /**
   * The taint value (only with TolerationOperator.EQUAL).
   * @default - empty
   */
  readonly value?: string;
  /**
   * The effect tolerated.
   * @default - every effect
   */
  readonly effect?: TaintEffect;
  /**
   * With TaintEffect.NO_EXECUTE: how long the pod stays bound after the taint appears.
   * @default - forever
   */
  readonly tolerationSeconds?: Duration;
}

/**
 * Where pods may run: node selector, tolerations, affinity and priority. Given for the whole
 * cluster (`scheduling`) or per part (`primary`, `replicas`, `delayedReplicas`, `backup`, `pooler`):
 * a part's own settings replace the cluster's. The library's own rules (the required
 * anti-affinity of `requireSeparateNodes`, the backup node's anti-affinity to the members, the
 * backup Jobs' affinity to the backup node, the soft topology spread) are always kept; your
 * affinity terms are added to them.
 */
export interface SchedulingOptions {
  /**
   * Labels a node must have (nodeSelector).
   * @default - any node
   */
  readonly nodeSelector?: { [key: string]: string };
  /**
   * Taints the pods tolerate.
   * @default - none
   */
  readonly tolerations?: Toleration[];
  /**
   * Affinity rules (the Kubernetes `affinity` object). Node affinity is yours alone; pod affinity
   * and anti-affinity terms are added to the library's.
   * @default - only the library's rules
   */
  readonly affinity?: kplus.k8s.Affinity;
  /**
   * PriorityClass of the pods (it must exist in the Kubernetes cluster).
   * @default - the cluster's default priority
   */
  readonly priorityClassName?: string;
}

/** Scheduling settings, validated. @internal */
export interface ResolvedScheduling {
  readonly nodeSelector?: Record<string, string>;
  readonly tolerations?: kplus.k8s.Toleration[];
  readonly affinity?: kplus.k8s.Affinity;
  readonly priorityClassName?: string;
}

const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A label key: an optional DNS-subdomain prefix and `/`, then a name of up to 63 characters. */
function isLabelKey(key: string): boolean {
  const i = key.lastIndexOf('/');
  const prefix = i >= 0 ? key.slice(0, i) : undefined;
  const name = i >= 0 ? key.slice(i + 1) : key;
  return LABEL_NAME.test(name) && (prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)));
}

function isLabelValue(value: string): boolean {
  return value === '' || LABEL_NAME.test(value);
}

/**
 * Validates scheduling options; every error names `property` and the rule.
 *
 * @internal
 */
export function resolveScheduling(scope: IConstruct, property: string, o: SchedulingOptions | undefined): ResolvedScheduling | undefined {
  if (!o) return undefined;
  for (const [key, value] of Object.entries(o.nodeSelector ?? {})) {
    if (!isLabelKey(key)) throw propError(scope, `${property}.nodeSelector`, key, 'keys must be label keys ([prefix/]name, name at most 63 characters of letters, digits, -, _ and .)');
    if (typeof value !== 'string' || !isLabelValue(value)) {
      throw propError(scope, `${property}.nodeSelector.${key}`, value, 'must be a label value (at most 63 letters, digits, -, _ and ., starting and ending with a letter or digit)');
    }
  }
  const tolerations = (o.tolerations ?? []).map((t, i): kplus.k8s.Toleration => {
    const where = `${property}.tolerations[${i}]`;
    const operator = t.operator ?? TolerationOperator.EQUAL;
    if (!Object.values(TolerationOperator).includes(operator)) throw propError(scope, `${where}.operator`, operator, `must be one of ${Object.values(TolerationOperator).join(', ')}`);
    if (t.effect !== undefined && !Object.values(TaintEffect).includes(t.effect)) {
      throw propError(scope, `${where}.effect`, t.effect, `must be one of ${Object.values(TaintEffect).join(', ')}`);
    }
    if (t.key !== undefined && !isLabelKey(t.key)) throw propError(scope, `${where}.key`, t.key, 'must be a label key ([prefix/]name)');
    if (t.key === undefined && operator !== TolerationOperator.EXISTS) {
      throw propError(scope, `${where}.key`, undefined, 'an empty key matches every taint and needs TolerationOperator.EXISTS');
    }
    if (operator === TolerationOperator.EXISTS && t.value !== undefined) {
      throw propError(scope, `${where}.value`, t.value, 'TolerationOperator.EXISTS matches any value: leave value unset');
    }
    if (t.value !== undefined && !isLabelValue(t.value)) throw propError(scope, `${where}.value`, t.value, 'must be a label value');
    let seconds: number | undefined;
    if (t.tolerationSeconds !== undefined) {
      if (t.effect !== TaintEffect.NO_EXECUTE) {
        throw propError(scope, `${where}.tolerationSeconds`, `${t.tolerationSeconds.toSeconds()}s`, 'only applies with TaintEffect.NO_EXECUTE');
      }
      const ms = t.tolerationSeconds.toMilliseconds();
      if (ms % 1000 !== 0 || ms < 0) throw propError(scope, `${where}.tolerationSeconds`, `${ms}ms`, 'must be a whole number of seconds, 0 or more');
      seconds = ms / 1000;
    }
    return { key: t.key, operator, value: t.value, effect: t.effect, tolerationSeconds: seconds };
  });
  if (o.priorityClassName !== undefined && (!DNS_SUBDOMAIN.test(o.priorityClassName) || o.priorityClassName.length > 253)) {
    throw propError(scope, `${property}.priorityClassName`, o.priorityClassName, 'must be a PriorityClass name (a DNS subdomain: lower-case letters, digits, - and .)');
  }
  const a = o.affinity;
  const podTerms = [
    ...(a?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => ['podAffinity', t] as const),
    ...(a?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => ['podAntiAffinity', t] as const),
    ...(a?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => ['podAffinity', t.podAffinityTerm] as const),
    ...(a?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => ['podAntiAffinity', t.podAffinityTerm] as const),
  ];
  for (const [kind, term] of podTerms) {
    if (!term?.topologyKey || !isLabelKey(term.topologyKey)) {
      throw propError(scope, `${property}.affinity.${kind}`, term?.topologyKey, 'every term needs a topologyKey that is a label key (for example kubernetes.io/hostname)');
    }
  }
  for (const kind of ['podAffinity', 'podAntiAffinity'] as const) {
    for (const p of a?.[kind]?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
      if (!Number.isInteger(p.weight) || p.weight < 1 || p.weight > 100) {
        throw propError(scope, `${property}.affinity.${kind}.preferredDuringSchedulingIgnoredDuringExecution.weight`, p.weight, 'must be a whole number from 1 to 100');
      }
    }
  }
  for (const p of a?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    if (!Number.isInteger(p.weight) || p.weight < 1 || p.weight > 100) {
      throw propError(scope, `${property}.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.weight`, p.weight, 'must be a whole number from 1 to 100');
    }
  }
  return {
    nodeSelector: o.nodeSelector && Object.keys(o.nodeSelector).length > 0 ? { ...o.nodeSelector } : undefined,
    tolerations: tolerations.length > 0 ? tolerations : undefined,
    affinity: a,
    priorityClassName: o.priorityClassName,
  };
}

/** The library's affinity and the user's together: pod (anti-)affinity terms concatenated, node affinity the user's. */
function mergeAffinity(own: kplus.k8s.Affinity | undefined, user: kplus.k8s.Affinity | undefined): kplus.k8s.Affinity | undefined {
  if (!user) return own;
  if (!own) return user;
  const both = <T>(a?: T[], b?: T[]): T[] | undefined => (a || b ? [...(a ?? []), ...(b ?? [])] : undefined);
  type Terms = kplus.k8s.PodAffinity | kplus.k8s.PodAntiAffinity;
  const pod = (x?: Terms, y?: Terms) => (x || y ? {
    requiredDuringSchedulingIgnoredDuringExecution: both(
      x?.requiredDuringSchedulingIgnoredDuringExecution, y?.requiredDuringSchedulingIgnoredDuringExecution),
    preferredDuringSchedulingIgnoredDuringExecution: both(
      x?.preferredDuringSchedulingIgnoredDuringExecution, y?.preferredDuringSchedulingIgnoredDuringExecution),
  } : undefined);
  return {
    nodeAffinity: user.nodeAffinity ?? own.nodeAffinity,
    podAffinity: pod(own.podAffinity, user.podAffinity),
    podAntiAffinity: pod(own.podAntiAffinity, user.podAntiAffinity),
  };
}

/**
 * A pod spec with the scheduling settings applied (the library's affinity kept).
 *
 * @internal
 */
export function withScheduling(spec: kplus.k8s.PodSpec, s: ResolvedScheduling | undefined): kplus.k8s.PodSpec {
  if (!s) return spec;
  return {
    ...spec,
    nodeSelector: s.nodeSelector ?? spec.nodeSelector,
    tolerations: s.tolerations ?? spec.tolerations,
    affinity: mergeAffinity(spec.affinity, s.affinity),
    priorityClassName: s.priorityClassName ?? spec.priorityClassName,
  };
}
