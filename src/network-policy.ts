import { ApiObject } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { CONFIG_JOB_NAME_LABEL } from './config-job';
import { CLUSTER_LABEL, clusterLabels, memberSelector } from './labels';
import { PGBACKREST_PORT } from './render/pgbackrest';
import { ServiceIpFamilies } from './service-ip-families';

/**
 * Who may open connections to the cluster (a NetworkPolicy peer).
 */
export class NetworkPeer {
  /** Every pod in the cluster's own namespace. */
  public static sameNamespace(): NetworkPeer {
    return new NetworkPeer({ podSelector: {} });
  }

  /**
   * Pods with these labels in the cluster's own namespace only: it renders a bare podSelector,
   * which never admits pods of another namespace, whatever their labels. For pods elsewhere use
   * {@link NetworkPeer.podsInNamespace} or {@link NetworkPeer.podsInNamespaces}.
   */
  public static pods(labels: { [key: string]: string }): NetworkPeer {
    return new NetworkPeer({ podSelector: { matchLabels: { ...labels } } });
  }

  /**
   * Pods with these labels in the namespace of this name (selected by its
   * `kubernetes.io/metadata.name` label, which Kubernetes sets on every namespace).
   */
  public static podsInNamespace(labels: { [key: string]: string }, namespace: string): NetworkPeer {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) {
      throw new Error(`NetworkPeer.podsInNamespace: invalid namespace ${JSON.stringify(namespace)}: must be a DNS label (lower-case letters, digits and '-', at most 63 characters)`);
    }
    return new NetworkPeer({ podSelector: { matchLabels: { ...labels } }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } });
  }

  /** Every pod of the namespaces with these labels (for example `kubernetes.io/metadata.name: monitoring`). */
  public static namespaces(labels: { [key: string]: string }): NetworkPeer {
    return new NetworkPeer({ namespaceSelector: { matchLabels: { ...labels } } });
  }

  /** Pods with `podLabels` in the namespaces with `namespaceLabels` (any namespace when `namespaceLabels` is empty). */
  public static podsInNamespaces(podLabels: { [key: string]: string }, namespaceLabels: { [key: string]: string }): NetworkPeer {
    return new NetworkPeer({ podSelector: { matchLabels: { ...podLabels } }, namespaceSelector: { matchLabels: { ...namespaceLabels } } });
  }

  /** Every pod of every namespace. */
  public static anyNamespace(): NetworkPeer {
    return new NetworkPeer({ namespaceSelector: {} });
  }

  /** Addresses in a CIDR block (clients outside the Kubernetes cluster). */
  public static cidr(cidr: string): NetworkPeer {
    return new NetworkPeer({ ipBlock: { cidr } });
  }

  /** @internal */
  public readonly _peer: kplus.k8s.NetworkPolicyPeer;

  private constructor(peer: kplus.k8s.NetworkPolicyPeer) {
    this._peer = peer;
  }
}

/** The ports the Kubernetes API server listens on: 443 (managed clusters, the Service) and 6443 (kubeadm, RKE2, k3s, Talos). */
const API_SERVER_PORTS = [443, 6443];

/**
 * How the cluster's pods (Patroni on every member, the credentials Job, the CA publisher) are
 * allowed to reach the Kubernetes API server through the NetworkPolicies. Without it Patroni has no
 * DCS (no leader is elected) and the credentials Job creates no Secret. Which form is right depends
 * on the CNI: see the README ("Reaching the API server").
 */
export class ApiServerAccess {
  /**
   * Any address on the API server ports (ipBlock 0.0.0.0/0 and ::/0, TCP 443 and 6443). Works
   * with CNIs whose ipBlock matches node addresses (Calico, the kube-network-policies reference,
   * most managed clusters). **Not under Cilium's defaults**: there an ipBlock never matches a node
   * IP, and on kubeadm, RKE2, k3s or Talos the API server is a node IP on 6443. The default.
   */
  public static anywhere(): ApiServerAccess {
    return new ApiServerAccess('anywhere', ['0.0.0.0/0', '::/0'], API_SERVER_PORTS);
  }

  /**
   * The API server's own addresses and ports (ipBlocks), for example the control-plane nodes'
   * addresses and 6443. Same caveat under Cilium as `anywhere()`.
   * @param cidrs CIDR blocks of the API server endpoints, for example `['10.0.0.10/32']`
   * @param ports TCP ports, default 443 and 6443
   */
  public static cidrs(cidrs: string[], ports?: number[]): ApiServerAccess {
    return new ApiServerAccess('cidrs', [...cidrs], ports ? [...ports] : API_SERVER_PORTS);
  }

  /**
   * For Cilium: a CiliumNetworkPolicy `<cluster>-api-server` allows egress to the
   * `kube-apiserver` entity (wherever the API server runs, in or outside the cluster) on the API
   * server ports; the Kubernetes NetworkPolicies then carry no API rule. Needs Cilium's CRDs:
   * on another CNI the pods cannot reach the API server.
   * @param ports TCP ports, default 443 and 6443
   */
  public static cilium(ports?: number[]): ApiServerAccess {
    return new ApiServerAccess('cilium', [], ports ? [...ports] : API_SERVER_PORTS);
  }

  /** `anywhere`, `cidrs` or `cilium`. */
  public readonly form: string;
  /** The CIDR blocks (empty for `cilium`). */
  public readonly cidrBlocks: string[];
  /** The TCP ports. */
  public readonly ports: number[];

  private constructor(form: string, cidrs: string[], ports: number[]) {
    this.form = form;
    this.cidrBlocks = cidrs;
    this.ports = ports;
  }
}

/**
 * Network isolation of the cluster's pods, and the IP families of its Services.
 */
export interface NetworkOptions {
  /**
   * Emit NetworkPolicies: default deny for every pod of the cluster, then only what each part needs.
   * @default true
   */
  readonly policies?: boolean;
  /**
   * Who may connect to PostgreSQL (the read-write and read-only Services).
   * @default [NetworkPeer.sameNamespace()]
   */
  readonly allowFrom?: NetworkPeer[];
  /**
   * Who may scrape the metrics and heartbeat endpoints.
   * @default [NetworkPeer.anyNamespace()]
   */
  readonly metricsFrom?: NetworkPeer[];
  /**
   * How Patroni, the credentials Job and the CA publisher reach the Kubernetes API server.
   * @default ApiServerAccess.anywhere() (not under Cilium's defaults: use ApiServerAccess.cilium() there)
   */
  readonly apiServer?: ApiServerAccess;
  /**
   * Where the Kubernetes API server is (TCP 443 and 6443): the same as
   * `apiServer: ApiServerAccess.cidrs(apiServerCidrs)`. Not together with `apiServer`.
   * @default - see `apiServer`
   * @deprecated use `apiServer: ApiServerAccess.cidrs(...)`
   */
  readonly apiServerCidrs?: string[];
  /**
   * The IP families of every Service the cluster emits (IPv4, IPv6 or both): which ClusterIPs
   * clients get, and which addresses the members' DNS names resolve to.
   * @default ServiceIpFamilies.clusterDefault() (one ClusterIP of the cluster's primary family)
   */
  readonly serviceIpFamilies?: ServiceIpFamilies;
}

/** `app.kubernetes.io/name` of the pods that call the API server: members, the credentials Job, the CA publisher. */
const API_CLIENTS = ['postgresql', 'postgresql-credentials', 'postgresql-ca', CONFIG_JOB_NAME_LABEL];

/** @internal */
export interface ClusterNetworkPoliciesProps {
  readonly clusterName: string;
  readonly port: number;
  readonly restApiPort: number;
  readonly metricsPorts: number[];
  readonly options: NetworkOptions;
  /** Whether a PgBouncer pooler runs (its pods get their own policy). */
  readonly pooler: boolean;
  /** Whether the CA publisher runs (TLS on): it reaches only DNS and the API server. */
  readonly caPublisher: boolean;
  /** How the pods reach the API server (validated). */
  readonly apiServer: ApiServerAccess;
  /** pgBackRest traffic, when backups or a restore are configured. */
  readonly backup?: {
    /** A backup node (volume repository) receives WAL from the members. */
    readonly repoHost: boolean;
    /** Members run the pgBackRest server the backup Jobs read from. */
    readonly serverOnMembers: boolean;
    /** Ports of the object stores members and Jobs write to (any address: stores are outside the cluster). */
    readonly storePorts: number[];
    /** The restore source is another cluster's backup node. */
    readonly restoreFromVolume: boolean;
  };
}

/**
 * The cluster's NetworkPolicies: a default deny for every pod labelled with the cluster, then
 * members may talk to each other (PostgreSQL, Patroni), clients reach PostgreSQL, scrapers reach
 * the metrics ports, and members and Jobs reach DNS and the Kubernetes API.
 *
 * @internal
 */
export class ClusterNetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: ClusterNetworkPoliciesProps) {
    super(scope, id);
    const name = props.clusterName;
    const labels = clusterLabels(name);
    const members = { matchLabels: memberSelector(name) };
    const o = props.options;
    const tcp = (port: number): kplus.k8s.NetworkPolicyPort => ({ protocol: 'TCP', port: kplus.k8s.IntOrString.fromNumber(port) });
    const dns: kplus.k8s.NetworkPolicyEgressRule = {
      ports: [{ protocol: 'UDP', port: kplus.k8s.IntOrString.fromNumber(53) }, { protocol: 'TCP', port: kplus.k8s.IntOrString.fromNumber(53) }],
    };
    const access = props.apiServer;
    // With Cilium the API rule is a CiliumNetworkPolicy (below): none in the Kubernetes policies.
    const api: kplus.k8s.NetworkPolicyEgressRule[] = access.form === 'cilium' ? [] : [{
      to: access.cidrBlocks.map((cidr) => ({ ipBlock: { cidr } })),
      ports: access.ports.map(tcp),
    }];
    const jobs: kplus.k8s.LabelSelector = {
      matchLabels: { [CLUSTER_LABEL]: name },
      matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: ['postgresql-credentials', 'postgresql-access'] }],
    };
    const configJob: kplus.k8s.LabelSelector = { matchLabels: { [CLUSTER_LABEL]: name, 'app.kubernetes.io/name': CONFIG_JOB_NAME_LABEL } };
    const poolers: kplus.k8s.LabelSelector = { matchLabels: { [CLUSTER_LABEL]: name, 'app.kubernetes.io/name': 'pgbouncer' } };
    const peers = (list: NetworkPeer[] | undefined, def: NetworkPeer) => (list ?? [def]).map((p) => p._peer);
    const b = props.backup;
    const pgbackrest: kplus.k8s.LabelSelector = { matchLabels: { [CLUSTER_LABEL]: name, 'app.kubernetes.io/name': 'pgbackrest' } };
    const repoHost: kplus.k8s.LabelSelector = { matchLabels: { [CLUSTER_LABEL]: name, 'app.kubernetes.io/component': 'repo-host' } };
    const stores: kplus.k8s.NetworkPolicyEgressRule[] = b && b.storePorts.length > 0 ? [{ ports: b.storePorts.map(tcp) }] : [];

    new kplus.k8s.KubeNetworkPolicy(this, 'DefaultDeny', {
      metadata: { name: `${name}-default-deny`, labels },
      spec: { podSelector: { matchLabels: { [CLUSTER_LABEL]: name } }, policyTypes: ['Ingress', 'Egress'] },
    });
    new kplus.k8s.KubeNetworkPolicy(this, 'Members', {
      metadata: { name: `${name}-members`, labels },
      spec: {
        podSelector: members,
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          { from: [{ podSelector: members }], ports: [tcp(props.port), tcp(props.restApiPort)] },
          // The access Job and the pooler reach PostgreSQL whoever the clients are.
          { from: [{ podSelector: jobs }, ...(props.pooler ? [{ podSelector: poolers }] : [])], ports: [tcp(props.port)] },
          { from: peers(o.allowFrom, NetworkPeer.sameNamespace()), ports: [tcp(props.port)] },
          ...(props.metricsPorts.length > 0
            ? [{ from: peers(o.metricsFrom, NetworkPeer.anyNamespace()), ports: props.metricsPorts.map(tcp) }] : []),
          // Backup Jobs read the leader's data directory through its pgBackRest server.
          ...(b?.serverOnMembers ? [{ from: [{ podSelector: pgbackrest }], ports: [tcp(PGBACKREST_PORT)] }] : []),
          // The config Job changes the cluster-wide settings, and switches over, through Patroni's REST API.
          { from: [{ podSelector: configJob }], ports: [tcp(props.restApiPort)] },
        ],
        egress: [
          { to: [{ podSelector: members }], ports: [tcp(props.port), tcp(props.restApiPort)] },
          dns,
          ...api,
          ...(b?.repoHost ? [{ to: [{ podSelector: repoHost }], ports: [tcp(PGBACKREST_PORT)] }] : []),
          ...(b?.restoreFromVolume ? [{ to: [{ namespaceSelector: {} }], ports: [tcp(PGBACKREST_PORT)] }] : []),
          ...stores,
        ],
      },
    });
    new kplus.k8s.KubeNetworkPolicy(this, 'Jobs', {
      metadata: { name: `${name}-jobs`, labels },
      spec: {
        podSelector: jobs,
        policyTypes: ['Ingress', 'Egress'],
        egress: [dns, ...api, { to: [{ podSelector: members }], ports: [tcp(props.port)] }],
      },
    });
    new kplus.k8s.KubeNetworkPolicy(this, 'ConfigJob', {
      metadata: { name: `${name}-config`, labels },
      spec: {
        podSelector: configJob,
        policyTypes: ['Ingress', 'Egress'],
        // The API server: the StatefulSets, the members' pods and their evictions (rollouts).
        egress: [dns, ...api, { to: [{ podSelector: members }], ports: [tcp(props.restApiPort)] }],
      },
    });
    if (b && (b.serverOnMembers || b.repoHost)) {
      new kplus.k8s.KubeNetworkPolicy(this, 'PgBackRest', {
        metadata: { name: `${name}-pgbackrest`, labels },
        spec: {
          podSelector: pgbackrest,
          policyTypes: ['Ingress', 'Egress'],
          // The backup node serves WAL and backups to member pods: this cluster's, and those of clusters restoring from it in this namespace.
          ingress: b.repoHost ? [{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'postgresql' } } }], ports: [tcp(PGBACKREST_PORT)] }] : [],
          egress: [dns, { to: [{ podSelector: members }], ports: [tcp(PGBACKREST_PORT)] }, ...stores],
        },
      });
    }
    if (props.caPublisher) {
      new kplus.k8s.KubeNetworkPolicy(this, 'CaPublisher', {
        metadata: { name: `${name}-publish-ca`, labels },
        spec: {
          podSelector: { matchLabels: { [CLUSTER_LABEL]: name, 'app.kubernetes.io/name': 'postgresql-ca' } },
          policyTypes: ['Ingress', 'Egress'],
          egress: [dns, ...api],
        },
      });
    }
    if (access.form === 'cilium') {
      // Cilium enforces Kubernetes NetworkPolicies and CiliumNetworkPolicies together (the allowed
      // traffic is their union): this adds only the API server to the default deny above.
      new ApiObject(this, 'ApiServerCilium', {
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumNetworkPolicy',
        metadata: { name: `${name}-api-server`, labels },
        spec: {
          endpointSelector: {
            matchLabels: { [CLUSTER_LABEL]: name },
            matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: API_CLIENTS }],
          },
          egress: [{
            toEntities: ['kube-apiserver'],
            toPorts: [{ ports: access.ports.map((port) => ({ port: String(port), protocol: 'TCP' })) }],
          }],
        },
      });
    }
    if (props.pooler) {
      new kplus.k8s.KubeNetworkPolicy(this, 'Pooler', {
        metadata: { name: `${name}-pooler`, labels },
        spec: {
          podSelector: poolers,
          policyTypes: ['Ingress', 'Egress'],
          ingress: [{ from: peers(o.allowFrom, NetworkPeer.sameNamespace()), ports: [tcp(props.port)] }],
          egress: [dns, { to: [{ podSelector: members }], ports: [tcp(props.port)] }],
        },
      });
    }
  }
}
