import { createHash } from 'crypto';
import { Lazy, Size, SizeRoundingBehavior, Yaml } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { BACKUP_PATHS, pgbackrestSidecar } from './backup-node';
import { resourceRequirements } from './container-resources';
import {
  CLUSTER_LABEL, CONFIG_HASH_ANNOTATION, FOLLOWER_ROLE, LEADER_ROLE, NODE_SET_LABEL, ROLE_LABEL, SERVES_READS_LABEL, TEMPLATE_HASH_ANNOTATION,
  clusterLabels, configMapLabels, memberSelector,
} from './labels';
import { MemberContext } from './member-context';
import { SidecarOptions } from './monitoring';
import { HEARTBEAT_PORT, INIT_RESOURCES, METRICS_PORT, MONITORING_USER } from './monitoring-defaults';
import { patroniConfig } from './render/patroni-config';
import { clusterParameters, sorted } from './render/postgresql-parameters';
import { onRoleChangeCommand, reloadingCommand } from './render/scripts';
import { k8sMebibytes } from './render/units';
import { WalLevel } from './replication';
import { Resources } from './resources';
import { ResolvedScheduling, withScheduling } from './scheduling';
import { restrictedContainer, restrictedPod } from './security-context';
import { StorageOptions } from './storage';

const k8s = kplus.k8s;

/** Mount paths inside the postgres container. */
export const PATHS = {
  data: '/pgdata',
  patroniConfigDir: '/etc/patroni',
  scripts: '/opt/cdk8s-postgres',
  tmp: '/tmp',
  shm: '/dev/shm',
  tlsServer: '/etc/postgres-tls/server',
  tlsReplication: '/etc/postgres-tls/replication',
  /** The monitoring Secret's password, as a file: never in the postgres container's environment. */
  monitoringSecret: '/etc/postgres-monitoring',
  /** The access role's password, as a file (post-bootstrap.sh creates the role from it). */
  accessSecret: '/etc/postgres-access',
} as const;

/** Replicas when `replicas.count` is not given. */
export const DEFAULT_REPLICAS = 2;
/** The members' volume claim template (and volume) name: each member's PVC is `pgdata-<pod>`. @internal */
export const MEMBER_VOLUME_CLAIM = 'pgdata';
/** Most WAL senders and slots, fixed so that scaling replicas never changes the cluster-wide settings. */
export const MAX_WAL_SENDERS = 16;
/** Most replicas: leaves WAL senders for pg_basebackup, pg_rewind and backups. */
export const MAX_REPLICAS = MAX_WAL_SENDERS - 4;

/**
 * One StatefulSet of cluster members (the preferred primary, or the replicas) with its Patroni
 * configuration.
 *
 * @internal
 */
export interface MemberSetSpec {
  /** `primary` or `replica`. */
  readonly nodeSet: string;
  readonly statefulSetName: string;
  readonly replicas: number;
  readonly resources: Resources;
  readonly storage: StorageOptions;
  /** Wait in an init container until a leader answers before a member with no data starts. */
  readonly waitForLeader: boolean;
  /** Patroni tags of the members (nofailover, nosync, noloadbalance, clonefrom). */
  readonly tags: Record<string, boolean>;
  /** recovery_min_apply_delay of a delayed replica, in seconds. */
  readonly applyDelaySeconds?: number;
  /** Whether the read-only Service may route to these members. */
  readonly servesReads: boolean;
  /** Property that set `resources`, for error messages (`resources`, `primary.resources`, ...). */
  readonly resourcesProperty: string;
  /** Property that set `storage`, for error messages. */
  readonly storageProperty: string;
  /** The node set's own scheduling (else the cluster's). */
  readonly scheduling?: ResolvedScheduling;
}

/** The objects of one member set. @internal */
export interface MemberSetObjects {
  readonly statefulSet: kplus.k8s.KubeStatefulSet;
  readonly configMap: kplus.k8s.KubeConfigMap;
  /** Patroni's `bootstrap.dcs` of this node set: the cluster-wide settings, the same for every set. */
  readonly dynamicConfig: Record<string, unknown>;
  /** A hash of the pod template as synthesized (escape-hatch JSON patches included); valid at synth. */
  readonly templateHash: () => string;
  /** The size its claims are expanded to (a quantity), when `storage.expandedSize` grows them. */
  readonly expandedClaimSize?: string;
}

/** A memory quantity in bytes. */
function bytesOf(size: Size): number {
  return size.toKibibytes({ rounding: SizeRoundingBehavior.NONE }) * 1024;
}

/**
 * Emits the ConfigMap (Patroni configuration) and StatefulSet of one member set.
 *
 * @internal
 */
export function addMemberSet(scope: Construct, ctx: MemberContext, spec: MemberSetSpec): MemberSetObjects {
  const image = ctx.image;
  const res = spec.resources;
  const config = ctx.config;
  const rendered = config._renderMember({
    scope,
    resources: res,
    resourcesProperty: spec.resourcesProperty,
    storage: spec.storage,
    storageProperty: spec.storageProperty,
    postgresVersion: image.postgresVersion,
    socketDirectory: PATHS.tmp,
    applyDelaySeconds: spec.applyDelaySeconds,
    ssl: ctx.tls ? { certFile: `${PATHS.tlsServer}/tls.crt`, keyFile: `${PATHS.tlsServer}/tls.key`, caFile: `${PATHS.tlsServer}/ca.crt` } : undefined,
  });
  const memoryLimit = bytesOf(res.memoryLimit);
  const memoryRequest = bytesOf(res.memoryRequest);
  const storageBytes = rendered.claimBytes;
  const dataDir = `${PATHS.data}/pg${image.postgresVersion}`;
  const backup = ctx.backup;
  const archiving = backup?.archiving === true;
  const stanza = backup?.stanza;
  const memberParameters = archiving ? sorted({
    ...rendered.parameters,
    archive_mode: 'on',
    archive_command: `${image.pgbackrestPath} --stanza=${stanza} archive-push "%p"`,
    archive_timeout: backup.archiveTimeoutSeconds,
  }) : rendered.parameters;
  const patroni = patroniConfig({
    scope: ctx.clusterName,
    kubernetes: {
      labels: { 'app.kubernetes.io/name': 'postgresql' },
      scopeLabel: CLUSTER_LABEL,
      roleLabel: ROLE_LABEL,
      leaderLabelValue: LEADER_ROLE,
      followerLabelValue: FOLLOWER_ROLE,
      useEndpoints: ctx.useEndpoints,
    },
    ttl: ctx.timing.ttlSeconds,
    loopWait: ctx.timing.loopWaitSeconds,
    retryTimeout: ctx.timing.retryTimeoutSeconds,
    maximumLagOnFailover: config.maximumLagOnFailoverBytes,
    synchronous: ctx.synchronous,
    clusterParameters: clusterParameters({
      maxConnections: config.maxConnections,
      // Consumers' logical slots come on top of the fixed set the cluster's own members use.
      maxWalSenders: MAX_WAL_SENDERS + config.logicalSlots,
      maxReplicationSlots: MAX_WAL_SENDERS + config.logicalSlots,
      walLevel: config.walLevel,
      maxWorkerProcesses: ctx.maxWorkerProcesses,
      overrides: config._clusterOverrides,
    }),
    memberParameters,
    hba: config._hba(config.node.scope ?? scope, ctx.tls !== undefined),
    dataDir,
    binDir: image.binDir,
    pgpassPath: `${PATHS.tmp}/pgpass`,
    listenHost: config.listenAddress,
    port: ctx.port,
    restApiPort: ctx.restApiPort,
    superuser: ctx.superuser,
    replicationUser: ctx.replicationUser,
    rewindUser: ctx.rewindUser,
    tags: spec.tags,
    useSlots: config.slots,
    ignoreLogicalSlots: config.walLevel === WalLevel.LOGICAL,
    patroniLogLevel: config._patroniLogLevel,
    postBootstrap: `${PATHS.scripts}/post-bootstrap.sh`,
    onRoleChange: onRoleChangeCommand({
      python3Path: image.python3Path,
      scriptsDir: PATHS.scripts,
      scopeLabel: CLUSTER_LABEL,
      roleLabel: ROLE_LABEL,
      leaderValue: LEADER_ROLE,
      // Patroni's leader object: `<scope>-leader` in ConfigMaps mode, `<scope>` in Endpoints mode.
      leaderObject: ctx.useEndpoints ? `endpoints/${ctx.clusterName}` : `configmaps/${ctx.clusterName}-leader`,
    }),
    tls: ctx.tls ? {
      certFile: `${PATHS.tlsServer}/tls.crt`,
      keyFile: `${PATHS.tlsServer}/tls.key`,
      caFile: `${PATHS.tlsServer}/ca.crt`,
      replicationCertFile: `${PATHS.tlsReplication}/tls.crt`,
      replicationKeyFile: `${PATHS.tlsReplication}/tls.key`,
    } : undefined,
    pgbackrest: archiving ? {
      replicaCommand: `${image.pgbackrestPath} --stanza=${stanza} --delta restore`,
      restoreCommand: `${image.pgbackrestPath} --stanza=${stanza} archive-get %f "%p"`,
    } : undefined,
    restoreBootstrap: backup?.restore ? {
      command: `${PATHS.scripts}/bootstrap-restore.sh`,
      recoveryConf: { restore_command: `${PATHS.scripts}/pgbackrest-source.sh archive-get %f "%p"`, ...backup.restore.recoveryConf },
    } : undefined,
  });
  const patroniYaml = Yaml.stringify(patroni);

  const labels: Record<string, string> = { ...clusterLabels(ctx.clusterName), [NODE_SET_LABEL]: spec.nodeSet };
  if (spec.servesReads) labels[SERVES_READS_LABEL] = 'true';
  const configMapName = `${spec.statefulSetName}-config`;
  const configMap = new k8s.KubeConfigMap(scope, 'Config', {
    metadata: { name: configMapName, labels: { ...configMapLabels(ctx.clusterName), [NODE_SET_LABEL]: spec.nodeSet } },
    data: { 'patroni.yaml': patroniYaml },
  });

  const selector = { ...memberSelector(ctx.clusterName), [NODE_SET_LABEL]: spec.nodeSet };
  // What a member reads when it starts. Not `bootstrap.dcs`: Patroni reads it only when it creates
  // the cluster, so a change there restarting pods would apply nothing; the config Job applies it
  // through the REST API and restarts the members that need it, in order.
  const { dcs: _dcs, ...bootstrapRest } = patroni.bootstrap as Record<string, unknown>;
  const startupConfig = Yaml.stringify({ ...patroni, bootstrap: bootstrapRest });
  const configHash = createHash('sha256').update(startupConfig).update(ctx.scriptsHash).digest('hex').slice(0, 16);
  const containerSecurity = restrictedContainer();
  const quantity = (v: string) => k8s.Quantity.fromString(v);
  const hugePages: Record<string, kplus.k8s.Quantity> = config._hugePagesBytes > 0 ? { 'hugepages-2Mi': quantity(k8sMebibytes(config._hugePagesBytes)) } : {};
  const resources: kplus.k8s.ResourceRequirements = {
    requests: { cpu: quantity(res.cpuRequest.amount), memory: quantity(k8sMebibytes(memoryRequest)), ...hugePages },
    limits: { cpu: quantity(res.cpuLimit.amount), memory: quantity(k8sMebibytes(memoryLimit)), ...hugePages },
  };
  const timing = ctx.timing;
  const probe = (path: string, periodSeconds: number, failureThreshold: number): kplus.k8s.Probe => ({
    httpGet: { path, port: k8s.IntOrString.fromString('patroni'), scheme: ctx.tls ? 'HTTPS' : 'HTTP' },
    periodSeconds,
    timeoutSeconds: Math.max(1, Math.min(5, Math.floor(periodSeconds / 2))),
    failureThreshold,
  });
  const secretEnv = (name: string, secret: string): kplus.k8s.EnvVar => ({
    name, valueFrom: { secretKeyRef: { name: secret, key: 'password' } },
  });
  const env: kplus.k8s.EnvVar[] = [
    { name: 'PATRONI_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'PATRONI_KUBERNETES_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'PATRONI_KUBERNETES_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    // Members reach each other by the pod's DNS name on the headless Service (which publishes
    // not-ready pods too): right for IPv4, IPv6 and dual-stack pods alike, where `<pod IP>:port`
    // would need brackets around an IPv6 address, and the name the REST API's certificate carries.
    { name: 'PATRONI_POSTGRESQL_CONNECT_ADDRESS', value: `$(PATRONI_NAME).${ctx.headlessServiceName}:${ctx.port}` },
    { name: 'PATRONI_RESTAPI_CONNECT_ADDRESS', value: `$(PATRONI_NAME).${ctx.headlessServiceName}:${ctx.restApiPort}` },
    secretEnv('PATRONI_SUPERUSER_PASSWORD', ctx.superuserSecretName),
    secretEnv('PATRONI_REPLICATION_PASSWORD', ctx.replicationSecretName),
    secretEnv('PATRONI_REWIND_PASSWORD', ctx.rewindSecretName),
    { name: 'PATH', value: image.searchPath },
    { name: 'PGDATA', value: dataDir },
    { name: 'PGHOST', value: PATHS.tmp },
    { name: 'PGPORT', value: String(ctx.port) },
    { name: 'PGUSER', value: ctx.superuser },
    { name: 'PG_BIN_DIR', value: image.binDir },
    { name: 'PGC_DATABASE', value: config.databaseName },
    { name: 'PGC_MONITOR_USER', value: MONITORING_USER },
    // A file, not a variable: Patroni strips only PATRONI_* and KUBERNETES_* from the environment
    // it gives the postmaster, so a variable would reach every backend and archive_command.
    { name: 'PGC_MONITOR_PASSWORD_FILE', value: `${PATHS.monitoringSecret}/password` },
    { name: 'PGC_ACCESS_USER', value: ctx.accessUser },
    { name: 'PGC_ACCESS_PASSWORD_FILE', value: `${PATHS.accessSecret}/password` },
    { name: 'PGC_ACCESS_GRANTABLE_ROLES', value: ctx.grantableRoles.join(' ') },
    { name: 'PGC_POOLER_USER', value: ctx.poolerUser },
    ...(config._templateExtensions.length > 0 ? [{ name: 'PGC_TEMPLATE_EXTENSIONS', value: config._templateExtensions.join(' ') }] : []),
    ...(backup?.env ?? []),
    ...(backup?.restore?.env ?? []),
  ];
  const mounts: kplus.k8s.VolumeMount[] = [
    { name: MEMBER_VOLUME_CLAIM, mountPath: PATHS.data },
    { name: 'patroni-config', mountPath: PATHS.patroniConfigDir, readOnly: true },
    { name: 'tmp', mountPath: PATHS.tmp },
    { name: 'dshm', mountPath: PATHS.shm },
    { name: 'scripts', mountPath: PATHS.scripts, readOnly: true },
    { name: 'monitoring-secret', mountPath: PATHS.monitoringSecret, readOnly: true },
    { name: 'access-secret', mountPath: PATHS.accessSecret, readOnly: true },
    ...(ctx.tls ? [
      { name: 'tls-server', mountPath: PATHS.tlsServer, readOnly: true },
      { name: 'tls-replication', mountPath: PATHS.tlsReplication, readOnly: true },
    ] : []),
    ...(backup?.mounts ?? []),
  ];
  const initContainers: kplus.k8s.Container[] = [];
  if (spec.waitForLeader) {
    initContainers.push({
      name: 'wait-for-leader',
      image: image.image,
      command: ['/bin/bash', `${PATHS.scripts}/wait-for-leader.sh`],
      env: [
        { name: 'PATH', value: image.searchPath },
        { name: 'PGDATA', value: dataDir },
        { name: 'PG_BIN_DIR', value: image.binDir },
        { name: 'PGC_LEADER_HOST', value: ctx.primaryServiceName },
        { name: 'PGC_PORT', value: String(ctx.port) },
      ],
      volumeMounts: [
        { name: MEMBER_VOLUME_CLAIM, mountPath: PATHS.data, readOnly: true },
        { name: 'scripts', mountPath: PATHS.scripts, readOnly: true },
      ],
      resources: resourceRequirements(INIT_RESOURCES),
      securityContext: containerSecurity,
    });
  }

  const postgres: kplus.k8s.Container = {
    name: 'postgres',
    image: image.image,
    // With TLS, Patroni runs under the reload wrapper: a renewed certificate gets it SIGHUP, on
    // which it loads the REST API's new certificate and reloads PostgreSQL (which loads its own).
    command: ctx.tls
      ? reloadingCommand(PATHS.scripts, [PATHS.tlsServer, PATHS.tlsReplication], [image.patroniPath, `${PATHS.patroniConfigDir}/patroni.yaml`])
      : [image.patroniPath, `${PATHS.patroniConfigDir}/patroni.yaml`],
    ports: [
      { name: 'postgres', containerPort: ctx.port, protocol: 'TCP' },
      { name: 'patroni', containerPort: ctx.restApiPort, protocol: 'TCP' },
    ],
    env,
    resources,
    securityContext: containerSecurity,
    volumeMounts: mounts,
    startupProbe: probe('/liveness', 5, 120),
    livenessProbe: probe('/liveness', timing.loopWaitSeconds, Math.ceil(timing.ttlSeconds / timing.loopWaitSeconds)),
    readinessProbe: probe('/readiness', Math.min(5, timing.loopWaitSeconds), 3),
  };

  // Soft spreading across nodes and zones always; with requireSeparateNodes, a required pod
  // anti-affinity to every member of the cluster (all node sets): a spread with maxSkew 1 still
  // allows two members on one node (2/1/1 on three nodes with four members).
  const spreadConstraint = (topologyKey: string): kplus.k8s.TopologySpreadConstraint => ({
    topologyKey,
    maxSkew: 1,
    whenUnsatisfiable: 'ScheduleAnyway',
    labelSelector: { matchLabels: memberSelector(ctx.clusterName) },
  });
  const affinity: kplus.k8s.Affinity | undefined = ctx.requireSeparateNodes ? {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [{
        labelSelector: { matchLabels: memberSelector(ctx.clusterName) },
        topologyKey: 'kubernetes.io/hostname',
      }],
    },
  } : undefined;

  // The hash of the pod template as it is written out, JSON patches included: rendered from the
  // object itself, which renders this annotation too (the reentrant call sees a placeholder).
  let hashing = false;
  const templateHash = (): string => {
    if (hashing) return '';
    hashing = true;
    try {
      const template = (statefulSet.toJson() as { spec: { template: unknown } }).spec.template;
      return createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 16);
    } finally {
      hashing = false;
    }
  };
  const statefulSet: kplus.k8s.KubeStatefulSet = new k8s.KubeStatefulSet(scope, 'StatefulSet', {
    metadata: {
      name: spec.statefulSetName,
      labels,
      annotations: { [TEMPLATE_HASH_ANNOTATION]: Lazy.any({ produce: templateHash }) as unknown as string },
    },
    spec: {
      serviceName: ctx.headlessServiceName,
      replicas: spec.replicas,
      podManagementPolicy: 'Parallel',
      // The StatefulSet controller replaces no pod by itself: the config Job does, in a safe order
      // (replicas one at a time, a switchover, the old leader last); see config-job.ts.
      updateStrategy: { type: 'OnDelete' },
      selector: { matchLabels: selector },
      template: {
        metadata: { labels, annotations: { [CONFIG_HASH_ANNOTATION]: configHash } },
        // The node set's own scheduling, else the cluster's; the library's affinity is kept.
        spec: withScheduling({
          serviceAccountName: ctx.serviceAccountName,
          automountServiceAccountToken: true,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 60,
          securityContext: restrictedPod(image.uid, image.gid, true),
          affinity,
          topologySpreadConstraints: [
            spreadConstraint('kubernetes.io/hostname'),
            spreadConstraint('topology.kubernetes.io/zone'),
          ],
          initContainers: initContainers.length > 0 ? initContainers : undefined,
          // Lazy: sidecars added with addSidecar() after the cluster was built still land in every pod.
          containers: Lazy.any({
            produce: () => [
              postgres,
              ...monitoringSidecars(ctx, containerSecurity, spec.applyDelaySeconds),
              ...(archiving ? [pgbackrestSidecar(image, backup, [
                { name: MEMBER_VOLUME_CLAIM, mountPath: PATHS.data },
                { name: 'tmp', mountPath: PATHS.tmp },
                { name: 'scripts', mountPath: PATHS.scripts, readOnly: true },
                ...(ctx.tls ? [{ name: 'tls-server', mountPath: PATHS.tlsServer, readOnly: true }] : []),
                ...backup.mounts,
              ], { scriptsDir: PATHS.scripts, watched: [PATHS.tlsServer, BACKUP_PATHS.config] })] : []),
              ...ctx.sidecars.map((o) => userSidecar(o, containerSecurity)),
            ],
          }) as any,
          volumes: [
            { name: 'patroni-config', configMap: { name: configMapName, defaultMode: 0o444 } },
            { name: 'scripts', configMap: { name: ctx.scriptsConfigMapName, defaultMode: 0o555 } },
            // 0440: root-owned, readable by the pod's fsGroup (the PostgreSQL group) only.
            { name: 'monitoring-secret', secret: { secretName: ctx.monitoringSecretName, items: [{ key: 'password', path: 'password' }], defaultMode: 0o440 } },
            { name: 'access-secret', secret: { secretName: ctx.accessSecretName, items: [{ key: 'password', path: 'password' }], defaultMode: 0o440 } },
            { name: 'tmp', emptyDir: { sizeLimit: quantity('64Mi') } },
            { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: quantity(k8sMebibytes(rendered.sharedMemoryVolume)) } },
            // 0640: PostgreSQL accepts a root-owned key readable by its group (the pod's fsGroup).
            ...(ctx.tls ? [
              { name: 'tls-server', secret: { secretName: ctx.tls.serverSecretName, defaultMode: 0o640 } },
              { name: 'tls-replication', secret: { secretName: ctx.tls.replicationSecretName, defaultMode: 0o640 } },
            ] : []),
            ...(backup?.volumes ?? []),
          ],
        }, spec.scheduling ?? ctx.scheduling),
      },
      volumeClaimTemplates: [{
        metadata: { name: MEMBER_VOLUME_CLAIM, labels: clusterLabels(ctx.clusterName) },
        spec: {
          accessModes: [spec.storage.accessMode ?? kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
          storageClassName: spec.storage.storageClassName,
          resources: { requests: { storage: quantity(k8sMebibytes(storageBytes)) } },
        },
      }],
    },
  });
  // Larger than the template's size (as NodeConfig decided): the config Job expands the claims.
  const expandedClaimSize = rendered.expandedClaimBytes === undefined ? undefined : k8sMebibytes(rendered.expandedClaimBytes);
  return { statefulSet, configMap, dynamicConfig: (patroni.bootstrap as { dcs: Record<string, unknown> }).dcs, templateHash, expandedClaimSize };
}

/** The heartbeat sidecar (always) and the metrics exporter (unless disabled). */
function monitoringSidecars(ctx: MemberContext, securityContext: kplus.k8s.SecurityContext, applyDelaySeconds?: number): kplus.k8s.Container[] {
  const hb = ctx.heartbeat;
  // A delayed replica is meant to be behind: its heartbeat is applyDelay old and its unreplayed
  // WAL grows without bound, so only "not streaming" or lag beyond the delay makes it unready.
  const maxLagSeconds = hb.maxLagSeconds + (applyDelaySeconds ?? 0);
  const maxLagBytes = applyDelaySeconds !== undefined ? 2 ** 50 : hb.maxLagBytes;
  const out: kplus.k8s.Container[] = [{
    name: 'heartbeat',
    image: ctx.image.image,
    command: [ctx.image.python3Path, `${PATHS.scripts}/heartbeat.py`],
    env: [
      { name: 'PATH', value: ctx.image.searchPath },
      { name: 'HB_LISTEN', value: '*' },
      { name: 'HB_PORT', value: String(HEARTBEAT_PORT) },
      { name: 'HB_INTERVAL_SECONDS', value: String(hb.intervalSeconds) },
      { name: 'HB_TIMEOUT_SECONDS', value: String(hb.timeoutSeconds) },
      { name: 'HB_FAILURE_THRESHOLD', value: String(hb.failureThreshold) },
      { name: 'HB_MAX_LAG_BYTES', value: String(maxLagBytes) },
      { name: 'HB_MAX_LAG_SECONDS', value: String(maxLagSeconds) },
      { name: 'PGHOST', value: PATHS.tmp },
      { name: 'PGPORT', value: String(ctx.port) },
      { name: 'PGUSER', value: ctx.superuser },
    ],
    ports: [{ name: 'heartbeat', containerPort: HEARTBEAT_PORT, protocol: 'TCP' }],
    resources: resourceRequirements(hb.resources),
    securityContext,
    volumeMounts: [
      { name: 'tmp', mountPath: PATHS.tmp },
      { name: 'scripts', mountPath: PATHS.scripts, readOnly: true },
    ],
    // The script applies the failure threshold itself: one failed probe is its verdict.
    readinessProbe: {
      httpGet: { path: '/ready', port: k8s.IntOrString.fromString('heartbeat'), scheme: 'HTTP' },
      periodSeconds: hb.intervalSeconds,
      timeoutSeconds: Math.max(1, Math.min(hb.timeoutSeconds, hb.intervalSeconds)),
      failureThreshold: 1,
    },
    livenessProbe: {
      httpGet: { path: '/status', port: k8s.IntOrString.fromString('heartbeat'), scheme: 'HTTP' },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
  }];
  if (ctx.metrics) {
    out.push({
      name: 'metrics',
      image: ctx.metrics.image,
      args: ['--extend.query-path=/etc/postgres-exporter/exporter-queries.yaml', `--web.listen-address=:${METRICS_PORT}`],
      env: [
        // Over the Unix socket: independent of listen addresses, TLS and network pg_hba rules.
        { name: 'DATA_SOURCE_URI', value: `:${ctx.port}/postgres?host=${PATHS.tmp}&sslmode=disable` },
        { name: 'DATA_SOURCE_USER', value: MONITORING_USER },
        { name: 'DATA_SOURCE_PASS', valueFrom: { secretKeyRef: { name: ctx.monitoringSecretName, key: 'password' } } },
      ],
      ports: [{ name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' }],
      resources: resourceRequirements(ctx.metrics.resources),
      securityContext,
      volumeMounts: [
        { name: 'scripts', mountPath: '/etc/postgres-exporter', readOnly: true },
        { name: 'tmp', mountPath: PATHS.tmp },
      ],
      // No readiness probe: a broken exporter must never take the database out of its Services.
      livenessProbe: {
        tcpSocket: { port: k8s.IntOrString.fromString('metrics') },
        periodSeconds: 10,
        timeoutSeconds: 5,
        failureThreshold: 6,
      },
    });
  }
  return out;
}

/** A container of the user's, under the pod's security context and with its declared resources. */
function userSidecar(o: SidecarOptions, securityContext: kplus.k8s.SecurityContext): kplus.k8s.Container {
  return {
    name: o.name,
    image: o.image,
    command: o.command,
    args: o.args,
    env: o.env ? Object.keys(o.env).sort().map((name) => ({ name, value: o.env![name] })) : undefined,
    ports: o.ports ? Object.keys(o.ports).sort().map((name) => ({ name, containerPort: o.ports![name], protocol: 'TCP' })) : undefined,
    resources: resourceRequirements(o.resources),
    securityContext,
    volumeMounts: o.socketMountPath ? [{ name: 'tmp', mountPath: o.socketMountPath }] : undefined,
  };
}
