import { ApiObject, JsonPatch } from 'cdk8s';
import { Construct } from 'constructs';

/** An IP address family, as Kubernetes names it in a Service's `ipFamilies`. */
export enum IpFamily {
  /** IPv4. */
  IPV4 = 'IPv4',
  /** IPv6. */
  IPV6 = 'IPv6',
}

/**
 * The IP families of every Service the cluster emits: the read-write and read-only Services, the
 * poolers', the members' headless Service (so the members' DNS names, which replication and the
 * REST API use, resolve in the same families) and the backup repository host's.
 *
 * The members listen on every address of both families (`config.connection.listenAddress`
 * defaults to `*`), so any choice works on IPv4, IPv6 and dual-stack clusters; this decides which
 * addresses clients get. Kubernetes allows changing it on an existing Service, except that a
 * Service's primary family (its first ClusterIP) is fixed once it is created.
 */
export class ServiceIpFamilies {
  /**
   * What the Kubernetes cluster gives a Service by default: one ClusterIP, of the cluster's
   * primary family (IPv4 on IPv4 and IPv4-first dual-stack clusters, IPv6 on IPv6 and IPv6-first ones).
   * Nothing is written into the Services.
   */
  public static clusterDefault(): ServiceIpFamilies {
    return new ServiceIpFamilies(undefined, undefined);
  }

  /**
   * One family only (`ipFamilyPolicy: SingleStack`): for example IPv6 Services on an IPv4-first
   * dual-stack cluster. The API server refuses the Services where the cluster lacks the family.
   */
  public static singleStack(family: IpFamily): ServiceIpFamilies {
    return new ServiceIpFamilies('SingleStack', [family]);
  }

  /**
   * Both families where the cluster has both, else its one (`ipFamilyPolicy: PreferDualStack`,
   * the cluster's order): the same manifests fit single-stack and dual-stack clusters.
   */
  public static preferDualStack(): ServiceIpFamilies {
    return new ServiceIpFamilies('PreferDualStack', undefined);
  }

  /**
   * Both families (`ipFamilyPolicy: RequireDualStack`); the API server refuses the Services on a
   * single-stack cluster.
   * @param primary the family of each Service's first ClusterIP (`spec.clusterIP`)
   * @default primary - the cluster's primary family
   */
  public static requireDualStack(primary?: IpFamily): ServiceIpFamilies {
    const families = primary === undefined ? undefined : [primary, primary === IpFamily.IPV4 ? IpFamily.IPV6 : IpFamily.IPV4];
    return new ServiceIpFamilies('RequireDualStack', families);
  }

  /**
   * The Services' `spec.ipFamilyPolicy`.
   * @default - unset: the cluster's default (SingleStack)
   */
  public readonly ipFamilyPolicy?: string;

  /**
   * The Services' `spec.ipFamilies`, primary first.
   * @default - unset: the cluster's order
   */
  public readonly ipFamilies?: IpFamily[];

  private constructor(policy: string | undefined, families: IpFamily[] | undefined) {
    this.ipFamilyPolicy = policy;
    this.ipFamilies = families;
  }

  /**
   * Writes the families into every Service of `scope`'s tree.
   * @internal
   */
  public _applyTo(scope: Construct): void {
    if (this.ipFamilyPolicy === undefined) return;
    const services = scope.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject && c.apiVersion === 'v1' && c.kind === 'Service');
    for (const service of services) {
      service.addJsonPatch(JsonPatch.add('/spec/ipFamilyPolicy', this.ipFamilyPolicy));
      if (this.ipFamilies) service.addJsonPatch(JsonPatch.add('/spec/ipFamilies', [...this.ipFamilies]));
    }
  }
}
