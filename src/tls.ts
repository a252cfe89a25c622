import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';

/** Which kind of cert-manager issuer signs the cluster's certificates. */
export enum IssuerKind {
  /** A namespaced `Issuer` in the cluster's namespace. */
  ISSUER = 'Issuer',
  /** A cluster-wide `ClusterIssuer`. */
  CLUSTER_ISSUER = 'ClusterIssuer',
}

/** The oldest TLS version clients (and replicas) may use. */
export enum TlsVersion {
  /**
   * TLS 1.2: for clients that cannot do 1.3 (older Java/JDBC stacks, JDK 8 before 8u261, some
   * drivers built on old OpenSSL). Still only the server's secure cipher suites.
   */
  TLS_1_2 = 'TLSv1.2',
  /** TLS 1.3 only (the default). */
  TLS_1_3 = 'TLSv1.3',
}

/** Options of {@link Tls.certManager}. */
export interface CertManagerTlsOptions {
  /**
   * An existing issuer that signs the server and client certificates.
   * @default - a per-cluster CA: a self-signed Issuer signs the CA Certificate `<cluster>-ca`,
   * and the CA Issuer `<cluster>-ca` signs the rest
   */
  readonly issuerName?: string;
  /**
   * Kind of `issuerName`.
   * @default IssuerKind.ISSUER
   */
  readonly issuerKind?: IssuerKind;
  /**
   * Lifetime of the server and client certificates.
   * @default Duration.days(90)
   */
  readonly duration?: Duration;
  /**
   * Renew this long before they expire.
   * @default Duration.days(15)
   */
  readonly renewBefore?: Duration;
  /**
   * The namespace the cluster is deployed to, when the chart has none (`kubectl apply -n`,
   * Kustomize, Argo CD): the server certificate then also carries the namespaced names
   * (`<service>.<namespace>`, `<service>.<namespace>.svc`, `<service>.<namespace>.svc.cluster.local`),
   * so clients can verify by them (`sslmode=verify-full`). Must equal the chart's namespace if it
   * has one.
   * @default - the chart's namespace; without one, only the short names
   */
  readonly namespace?: string;
  /**
   * More names for the server certificate (and the pooler's), for example a DNS name of a load
   * balancer or a cluster domain other than `cluster.local`. A wildcard only as the whole first label.
   * @default - none
   */
  readonly extraDnsNames?: string[];
}

/** Options of {@link Tls.fromSecrets}. */
export interface TlsSecretsOptions {
  /**
   * Secret (`tls.crt`, `tls.key`, `ca.crt`) with the certificate PostgreSQL and Patroni's REST API
   * serve. Its SANs must cover the Services (`<cluster>-primary`, `<cluster>-replicas`) and
   * `*.<cluster>-pods`, and the namespaced names clients verify by (`<service>.<namespace>.svc`); its extended key usage must allow server and client authentication
   * (members call each other's REST API with it).
   */
  readonly server: kplus.ISecret;
  /**
   * Secret (`tls.crt`, `tls.key`, `ca.crt`) with a client certificate whose common name is
   * `replicator`, signed by the same CA.
   */
  readonly replicationClient: kplus.ISecret;
}

/**
 * Where the cluster's TLS certificates come from. With TLS on (the default), clients must use
 * TLS (`hostssl`, plain connections are refused), replicas authenticate with client certificates
 * over TLS, and Patroni's REST API serves HTTPS and requires a client certificate for anything
 * that changes state.
 */
export class Tls {
  /**
   * cert-manager issues and renews every certificate (cert-manager must be installed in the
   * Kubernetes cluster). The default.
   */
  public static certManager(options: CertManagerTlsOptions = {}): Tls {
    return new Tls('cert-manager', options, undefined);
  }

  /** Certificates you manage yourself, in Secrets. */
  public static fromSecrets(options: TlsSecretsOptions): Tls {
    return new Tls('secrets', {}, options);
  }

  /**
   * No TLS: passwords (SCRAM) over plain TCP. Only for clusters without cert-manager where the
   * network is trusted.
   */
  public static disabled(): Tls {
    return new Tls('disabled', {}, undefined);
  }

  /** `cert-manager`, `secrets` or `disabled`. */
  public readonly source: string;
  /** @internal */
  public readonly _certManager: CertManagerTlsOptions;
  /** @internal */
  public readonly _secrets?: TlsSecretsOptions;

  private constructor(source: string, certManager: CertManagerTlsOptions, secrets: TlsSecretsOptions | undefined) {
    this.source = source;
    this._certManager = certManager;
    this._secrets = secrets;
  }

  /** Whether TLS is on. */
  public get enabled(): boolean {
    return this.source !== 'disabled';
  }
}
