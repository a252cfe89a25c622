import { Yaml } from 'cdk8s';
import { Parameters } from './postgresql-parameters';

/** How Patroni uses the Kubernetes API as its distributed configuration store. */
export interface KubernetesDcsInput {
  /** Labels Patroni puts on (and selects) the objects it manages: the cluster's selector labels. */
  readonly labels: Record<string, string>;
  /** Label key holding the cluster name. */
  readonly scopeLabel: string;
  /** Label key Patroni sets on each pod to its role. */
  readonly roleLabel: string;
  /** Role label value of the leader (what the read-write Service selects). */
  readonly leaderLabelValue: string;
  /** Role label value of a streaming replica (what the read-only Service selects). */
  readonly followerLabelValue: string;
  /** Keep leader/config state in Endpoints (true) or ConfigMaps (false). */
  readonly useEndpoints: boolean;
}

/** Synchronous replication as Patroni configures it. */
export interface SynchronousInput {
  /** Whether commits wait for synchronous standbys. */
  readonly enabled: boolean;
  /** Never fall back to asynchronous commits when no standby is available. */
  readonly strict: boolean;
  /** How many standbys confirm each commit. */
  readonly standbys: number;
}

/** Everything one member's Patroni configuration is rendered from. */
export interface PatroniConfigInput {
  /** Patroni scope: the cluster name. */
  readonly scope: string;
  readonly kubernetes: KubernetesDcsInput;
  readonly ttl: number;
  readonly loopWait: number;
  readonly retryTimeout: number;
  /** A replica further behind than this many bytes is not promoted. */
  readonly maximumLagOnFailover: number;
  readonly synchronous: SynchronousInput;
  /** Parameters equal on every member, kept in the DCS. */
  readonly clusterParameters: Parameters;
  /** This member's own parameters. */
  readonly memberParameters: Parameters;
  /** pg_hba.conf lines. */
  readonly hba: string[];
  readonly dataDir: string;
  readonly binDir: string;
  readonly pgpassPath: string;
  /** Address PostgreSQL listens on (`*`, `0.0.0.0` or `::`). */
  readonly listenHost: string;
  readonly port: number;
  readonly restApiPort: number;
  readonly superuser: string;
  readonly replicationUser: string;
  /**
   * The role pg_rewind connects to the new leader as (database postgres). Patroni creates it at
   * bootstrap with EXECUTE on the four functions pg_rewind reads files with, and nothing else.
   */
  readonly rewindUser: string;
  /**
   * Patroni's `postgresql.callbacks.on_role_change` command line (ON_ROLE_CHANGE_SCRIPT); none
   * when undefined.
   */
  readonly onRoleChange?: string;
  /** Member tags (for example `nofailover`). */
  readonly tags: Record<string, boolean>;
  /** One replication slot per member on the leader. */
  readonly useSlots: boolean;
  /**
   * Leave logical replication slots alone (DCS `ignore_slots`): Patroni otherwise drops every
   * slot it does not manage, so a consumer that disconnects would lose its slot.
   */
  readonly ignoreLogicalSlots?: boolean;
  /** Patroni's own log level (DEBUG, INFO, WARNING, ERROR). */
  readonly patroniLogLevel: string;
  /** Script Patroni runs once after initdb, with a superuser connection URL as its argument. */
  readonly postBootstrap: string;
  /** TLS files, when TLS is on. */
  readonly tls?: PatroniTlsInput;
  /** pgBackRest: replicas are created from the repository (falling back to pg_basebackup) and fetch archived WAL. */
  readonly pgbackrest?: PatroniPgBackRestInput;
  /** Bootstrap from a backup instead of initdb. */
  readonly restoreBootstrap?: PatroniRestoreInput;
}

/** How members use pgBackRest. */
export interface PatroniPgBackRestInput {
  /** Command that restores a replica from the repository (Patroni adds no parameters). */
  readonly replicaCommand: string;
  /** restore_command of replicas. */
  readonly restoreCommand: string;
}

/** A custom bootstrap that restores a backup. */
export interface PatroniRestoreInput {
  /** The script Patroni runs (with no parameters) on an empty data directory. */
  readonly command: string;
  /** Recovery settings while the restored copy replays WAL (restore_command, targets). */
  readonly recoveryConf: Record<string, string>;
}

/** TLS of the REST API and of Patroni's own PostgreSQL connections. */
export interface PatroniTlsInput {
  /** Server certificate (also the client certificate for member-to-member REST calls). */
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** Client certificate of the replication role (CN replicator). */
  readonly replicationCertFile: string;
  readonly replicationKeyFile: string;
}

/**
 * The Patroni configuration file of one member, as a plain object.
 *
 * Per-pod values are not in the file: Patroni reads them from the environment the pod spec sets
 * (PATRONI_NAME, PATRONI_KUBERNETES_NAMESPACE, PATRONI_KUBERNETES_POD_IP,
 * PATRONI_POSTGRESQL_CONNECT_ADDRESS, PATRONI_RESTAPI_CONNECT_ADDRESS) and passwords from Secrets
 * (PATRONI_SUPERUSER_PASSWORD, PATRONI_REPLICATION_PASSWORD, PATRONI_REWIND_PASSWORD).
 */
export function patroniConfig(input: PatroniConfigInput): Record<string, unknown> {
  const k = input.kubernetes;
  const tls = input.tls;
  return {
    scope: input.scope,
    log: { level: input.patroniLogLevel },
    restapi: {
      // `*`: Patroni listens on IPv6 with IPv4 mapped in where the pod has IPv6, else on IPv4.
      listen: `*:${input.restApiPort}`,
      // verify_client optional: probes need no certificate, but anything that changes state does.
      ...(tls ? { certfile: tls.certFile, keyfile: tls.keyFile, cafile: tls.caFile, verify_client: 'optional' } : {}),
    },
    ...(tls ? { ctl: { certfile: tls.certFile, keyfile: tls.keyFile, cacert: tls.caFile } } : {}),
    kubernetes: {
      labels: { ...k.labels },
      scope_label: k.scopeLabel,
      role_label: k.roleLabel,
      leader_label_value: k.leaderLabelValue,
      follower_label_value: k.followerLabelValue,
      standby_leader_label_value: k.leaderLabelValue,
      use_endpoints: k.useEndpoints,
      // No bypass_api_service: it reads default/endpoints/kubernetes, which a namespaced Role
      // cannot grant (Patroni logs a warning and turns it off); members use the API Service.
    },
    bootstrap: {
      dcs: {
        ttl: input.ttl,
        loop_wait: input.loopWait,
        retry_timeout: input.retryTimeout,
        maximum_lag_on_failover: input.maximumLagOnFailover,
        failsafe_mode: true,
        synchronous_mode: input.synchronous.enabled,
        synchronous_mode_strict: input.synchronous.strict,
        synchronous_node_count: input.synchronous.standbys,
        ...(input.ignoreLogicalSlots ? { ignore_slots: [{ type: 'logical' }] } : {}),
        postgresql: {
          use_pg_rewind: true,
          use_slots: input.useSlots,
          parameters: { ...input.clusterParameters },
        },
      },
      ...(input.restoreBootstrap ? {
        method: 'pgbackrest_restore',
        pgbackrest_restore: {
          command: input.restoreBootstrap.command,
          no_params: true,
          recovery_conf: { ...input.restoreBootstrap.recoveryConf },
        },
      } : {}),
      initdb: [{ encoding: 'UTF8' }, 'data-checksums'],
      post_bootstrap: input.postBootstrap,
    },
    postgresql: {
      listen: `${input.listenHost}:${input.port}`,
      data_dir: input.dataDir,
      bin_dir: input.binDir,
      pgpass: input.pgpassPath,
      use_unix_socket: true,
      use_unix_socket_repl: false,
      authentication: {
        superuser: { username: input.superuser, ...(tls ? { sslmode: 'verify-ca', sslrootcert: tls.caFile } : {}) },
        replication: {
          username: input.replicationUser,
          ...(tls ? { sslmode: 'verify-ca', sslrootcert: tls.caFile, sslcert: tls.replicationCertFile, sslkey: tls.replicationKeyFile } : {}),
        },
        // pg_rewind never connects as the superuser, which may then be refused over TCP.
        rewind: { username: input.rewindUser, ...(tls ? { sslmode: 'verify-ca', sslrootcert: tls.caFile } : {}) },
      },
      parameters: { ...input.memberParameters },
      pg_hba: [...input.hba],
      ...(input.onRoleChange ? { callbacks: { on_role_change: input.onRoleChange } } : {}),
      create_replica_methods: input.pgbackrest ? ['pgbackrest', 'basebackup'] : ['basebackup'],
      ...(input.pgbackrest ? {
        // keep_data: a re-initialised replica restores with --delta over its old files.
        pgbackrest: { command: input.pgbackrest.replicaCommand, keep_data: true, no_params: true },
        recovery_conf: { restore_command: input.pgbackrest.restoreCommand },
      } : {}),
      basebackup: [{ checkpoint: 'fast' }],
      remove_data_directory_on_rewind_failure: true,
      remove_data_directory_on_diverged_timelines: true,
    },
    watchdog: { mode: 'off' },
    tags: { ...input.tags },
  };
}

/** The Patroni configuration file of one member, as YAML. */
export function renderPatroniConfig(input: PatroniConfigInput): string {
  return Yaml.stringify(patroniConfig(input));
}
