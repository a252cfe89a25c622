import { createHash } from 'crypto';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { PoolerOptions, PoolMode } from './access';
import { Certificate } from './imports/cert-manager.io';
import { CLUSTER_LABEL, CONFIG_HASH_ANNOTATION, clusterLabels } from './labels';
import { renderPgBouncerIni } from './render/pgbouncer';
import { RELOAD_ON_CHANGE_FILE, RELOAD_ON_CHANGE_SCRIPT, reloadingCommand } from './render/scripts';
import { k8sMebibytes } from './render/units';
import { ResolvedScheduling, withScheduling } from './scheduling';
import { restrictedContainer, restrictedPod } from './security-context';

const k8s = kplus.k8s;

/** Where the pooler image keeps `pgbouncer`. */
const POOLER_BINARY = '/usr/bin/pgbouncer';

/** @internal */
export interface PoolerProps {
  readonly clusterName: string;
  /** `<cluster>-pooler` or `<cluster>-pooler-ro`. */
  readonly name: string;
  readonly serverHost: string;
  readonly port: number;
  readonly options: PoolerOptions;
  readonly image: string;
  readonly uid: number;
  readonly gid: number;
  readonly authUser: string;
  readonly authSecretName: string;
  /** The cluster's scripts ConfigMap (the reload wrapper comes from it) and where pods mount it. */
  readonly scriptsConfigMapName: string;
  readonly scriptsMountPath: string;
  /**
   * TLS: the issuer of the pooler's own certificate (without one it serves the server
   * certificate). The `ca.crt` of the certificate it serves verifies the server.
   */
  readonly tls?: {
    readonly issuerRef?: { name: string; kind: string };
    readonly fallbackSecretName: string;
    readonly namespace?: string;
    /** Names the user adds to the certificates. */
    readonly extraDnsNames: string[];
    /** The oldest TLS version clients may use (`TLSv1.2` or `TLSv1.3`). */
    readonly minVersion: string;
  };
  readonly resources: { cpu: string; memoryBytes: number };
  /** Where the pooler's pods may run. */
  readonly scheduling?: ResolvedScheduling;
}

/**
 * A PgBouncer Deployment with its ConfigMap, Service and (with cert-manager) its certificate.
 *
 * @internal
 */
export class Pooler extends Construct {
  constructor(scope: Construct, id: string, props: PoolerProps) {
    super(scope, id);
    const o = props.options;
    const labels = { ...clusterLabels(props.clusterName), 'app.kubernetes.io/name': 'pgbouncer', 'app.kubernetes.io/component': props.name };
    const selector = { [CLUSTER_LABEL]: props.clusterName, 'app.kubernetes.io/component': props.name };
    let tlsSecret: string | undefined;
    if (props.tls) {
      if (props.tls.issuerRef) {
        tlsSecret = `${props.name}-tls`;
        const ns = props.tls.namespace;
        new Certificate(this, 'Certificate', {
          metadata: { name: props.name, labels },
          spec: {
            secretName: tlsSecret,
            commonName: props.name,
            dnsNames: [props.name, ...(ns ? [`${props.name}.${ns}`, `${props.name}.${ns}.svc`, `${props.name}.${ns}.svc.cluster.local`] : []), ...props.tls.extraDnsNames],
            usages: ['server auth', 'digital signature', 'key encipherment'],
            privateKey: { algorithm: 'ECDSA', size: 256, encoding: 'PKCS8', rotationPolicy: 'Always' },
            issuerRef: { ...props.tls.issuerRef, group: 'cert-manager.io' },
            duration: '2160h',
            renewBefore: '360h',
          },
        });
      } else {
        tlsSecret = props.tls.fallbackSecretName;
      }
    }
    const ini = renderPgBouncerIni({
      serverHost: props.serverHost,
      serverPort: props.port,
      listenPort: props.port,
      poolMode: o.poolMode ?? PoolMode.TRANSACTION,
      defaultPoolSize: o.defaultPoolSize ?? 20,
      maxClientConnections: o.maxClientConnections ?? 1000,
      authUser: props.authUser,
      authFile: '/etc/pgbouncer-auth/userlist.txt',
      clientTls: tlsSecret ? { certFile: '/etc/pgbouncer-tls/tls.crt', keyFile: '/etc/pgbouncer-tls/tls.key', minVersion: props.tls?.minVersion } : undefined,
      serverCaFile: props.tls ? '/etc/pgbouncer-ca/ca.crt' : undefined,
    });
    new k8s.KubeConfigMap(this, 'Config', { metadata: { name: props.name, labels }, data: { 'pgbouncer.ini': ini } });
    const q = (v: string) => k8s.Quantity.fromString(v);
    const mem = k8sMebibytes(props.resources.memoryBytes);
    new k8s.KubeDeployment(this, 'Deployment', {
      metadata: { name: props.name, labels },
      spec: {
        replicas: o.instances ?? 2,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels, annotations: { [CONFIG_HASH_ANNOTATION]: createHash('sha256').update(ini).update(RELOAD_ON_CHANGE_SCRIPT).digest('hex').slice(0, 16) } },
          spec: withScheduling({
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: restrictedPod(props.uid, props.gid, true),
            topologySpreadConstraints: [{ topologyKey: 'kubernetes.io/hostname', maxSkew: 1, whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector } }],
            containers: [{
              name: 'pgbouncer',
              image: props.image,
              // By absolute path (the pgbouncer RPM's), like every binary the library runs.
              // Under the reload wrapper: a renewed certificate or a rotated password in the
              // userlist gets PgBouncer SIGHUP, which reloads both without dropping a client.
              command: reloadingCommand(props.scriptsMountPath, [
                '/etc/pgbouncer-auth',
                ...(tlsSecret ? ['/etc/pgbouncer-tls'] : []),
                ...(props.tls ? ['/etc/pgbouncer-ca'] : []),
              ], [POOLER_BINARY, '/etc/pgbouncer/pgbouncer.ini']),
              ports: [{ name: 'postgres', containerPort: props.port, protocol: 'TCP' }],
              resources: { requests: { cpu: q(props.resources.cpu), memory: q(mem) }, limits: { cpu: q(props.resources.cpu), memory: q(mem) } },
              securityContext: restrictedContainer(),
              readinessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('postgres') }, periodSeconds: 5, failureThreshold: 3 },
              livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('postgres') }, periodSeconds: 10, failureThreshold: 6 },
              volumeMounts: [
                { name: 'config', mountPath: '/etc/pgbouncer', readOnly: true },
                { name: 'auth', mountPath: '/etc/pgbouncer-auth', readOnly: true },
                { name: 'scripts', mountPath: props.scriptsMountPath, readOnly: true },
                ...(tlsSecret ? [{ name: 'tls', mountPath: '/etc/pgbouncer-tls', readOnly: true }] : []),
                ...(props.tls ? [{ name: 'ca', mountPath: '/etc/pgbouncer-ca', readOnly: true }] : []),
              ],
            }],
            volumes: [
              { name: 'config', configMap: { name: props.name, defaultMode: 0o444 } },
              { name: 'auth', secret: { secretName: props.authSecretName, items: [{ key: 'userlist.txt', path: 'userlist.txt' }], defaultMode: 0o440 } },
              { name: 'scripts', configMap: { name: props.scriptsConfigMapName, items: [{ key: RELOAD_ON_CHANGE_FILE, path: RELOAD_ON_CHANGE_FILE }], defaultMode: 0o555 } },
              ...(tlsSecret ? [{ name: 'tls', secret: { secretName: tlsSecret, defaultMode: 0o440 } }] : []),
              // The CA that signed its own certificate (the cluster's issuer) verifies the server.
              ...(tlsSecret ? [{ name: 'ca', secret: { secretName: tlsSecret, items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o444 } }] : []),
            ],
          }, props.scheduling),
        },
      },
    });
    new k8s.KubeService(this, 'Service', {
      metadata: { name: props.name, labels },
      spec: {
        type: 'ClusterIP',
        selector,
        ports: [{ name: 'postgres', port: props.port, targetPort: k8s.IntOrString.fromString('postgres'), protocol: 'TCP' }],
      },
    });
  }
}
