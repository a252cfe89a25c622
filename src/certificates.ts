import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { Certificate, Issuer } from './imports/cert-manager.io';
import { clusterLabels } from './labels';
import { CertManagerTlsOptions, IssuerKind } from './tls';

/** @internal */
export interface ClusterCertificatesProps {
  readonly clusterName: string;
  /** Namespace of the chart, when known: adds the namespaced DNS names. */
  readonly namespace?: string;
  readonly serviceNames: string[];
  readonly headlessServiceName: string;
  /** Names the user adds to the server certificate. */
  readonly extraDnsNames: string[];
  readonly options: CertManagerTlsOptions;
  /** pgBackRest certificates: the client (CN `pgbackrest`) and, with a volume repository, the backup node's server. */
  readonly pgbackrest?: { readonly clientSecretName: string; readonly repoHostSecretName?: string };
}

/**
 * cert-manager objects for a cluster: unless an issuer is given, a per-cluster CA (self-signed
 * Issuer -> CA Certificate -> CA Issuer), then the server certificate (PostgreSQL and Patroni's
 * REST API, server and client auth) and the replication client certificate (CN `replicator`).
 *
 * @internal
 */
export class ClusterCertificates extends Construct {
  /** Secret of the server certificate (tls.crt, tls.key, ca.crt). */
  public readonly serverSecretName: string;
  /** Secret of the replication client certificate. */
  public readonly replicationSecretName: string;

  constructor(scope: Construct, id: string, props: ClusterCertificatesProps) {
    super(scope, id);
    const name = props.clusterName;
    const labels = clusterLabels(name);
    const o = props.options;
    let issuerRef = { name: o.issuerName ?? '', kind: o.issuerKind ?? IssuerKind.ISSUER, group: 'cert-manager.io' };
    this.serverSecretName = `${name}-server-tls`;
    this.replicationSecretName = `${name}-replication-tls`;
    const key = { algorithm: 'ECDSA', size: 256, encoding: 'PKCS8', rotationPolicy: 'Always' };
    if (!o.issuerName) {
      const selfSigned = `${name}-selfsigned`;
      new Issuer(this, 'SelfSigned', { metadata: { name: selfSigned, labels }, spec: { selfSigned: {} } });
      new Certificate(this, 'CA', {
        metadata: { name: `${name}-ca`, labels },
        spec: {
          isCa: true,
          commonName: `${name}-ca`,
          secretName: `${name}-ca`,
          duration: '87600h',
          renewBefore: '720h',
          // Never: a renewed CA keeps its key (and so its subject key identifier), so certificates
          // signed before and after the renewal verify against the old and the new CA certificate
          // alike. With Always, a new key breaks every chain until each leaf renews.
          privateKey: { ...key, rotationPolicy: 'Never' },
          issuerRef: { name: selfSigned, kind: 'Issuer', group: 'cert-manager.io' },
        },
      });
      new Issuer(this, 'CAIssuer', { metadata: { name: `${name}-ca`, labels }, spec: { ca: { secretName: `${name}-ca` } } });
      issuerRef = { name: `${name}-ca`, kind: IssuerKind.ISSUER, group: 'cert-manager.io' };
    }
    const hours = (d: Duration | undefined, def: number) => `${d ? d.toHours({ integral: false }) : def}h`;
    const ns = props.namespace;
    const dnsNames: string[] = [];
    for (const svc of props.serviceNames) {
      dnsNames.push(svc);
      if (ns) dnsNames.push(`${svc}.${ns}`, `${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`);
    }
    dnsNames.push(`*.${props.headlessServiceName}`);
    if (ns) {
      dnsNames.push(`*.${props.headlessServiceName}.${ns}`, `*.${props.headlessServiceName}.${ns}.svc`, `*.${props.headlessServiceName}.${ns}.svc.cluster.local`);
    }
    dnsNames.push('localhost', ...props.extraDnsNames.filter((n) => !dnsNames.includes(n)));
    const lifetime = { duration: hours(o.duration, 2160), renewBefore: hours(o.renewBefore, 360) };
    new Certificate(this, 'Server', {
      metadata: { name: `${name}-server`, labels },
      spec: {
        secretName: this.serverSecretName,
        commonName: `${props.serviceNames[0]}`,
        dnsNames,
        usages: ['server auth', 'client auth', 'digital signature', 'key encipherment'],
        privateKey: key,
        issuerRef,
        ...lifetime,
      },
    });
    new Certificate(this, 'Replication', {
      metadata: { name: `${name}-replication`, labels },
      spec: {
        secretName: this.replicationSecretName,
        commonName: 'replicator',
        usages: ['client auth', 'digital signature', 'key encipherment'],
        privateKey: key,
        issuerRef,
        ...lifetime,
      },
    });
    const pgbr = props.pgbackrest;
    if (pgbr) {
      new Certificate(this, 'PgBackRestClient', {
        metadata: { name: `${name}-pgbackrest`, labels },
        spec: {
          secretName: pgbr.clientSecretName,
          commonName: 'pgbackrest',
          usages: ['client auth', 'digital signature', 'key encipherment'],
          privateKey: key,
          issuerRef,
          ...lifetime,
        },
      });
    }
    if (pgbr?.repoHostSecretName) {
      const host = `${name}-repo-host`;
      new Certificate(this, 'RepoHost', {
        metadata: { name: host, labels },
        spec: {
          secretName: pgbr.repoHostSecretName,
          commonName: `${host}-0.${host}`,
          dnsNames: [`*.${host}`, ...(ns ? [`*.${host}.${ns}`, `*.${host}.${ns}.svc`, `*.${host}.${ns}.svc.cluster.local`] : [])],
          usages: ['server auth', 'digital signature', 'key encipherment'],
          privateKey: key,
          issuerRef,
          ...lifetime,
        },
      });
    }
  }
}
