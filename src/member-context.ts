import { MemberBackup } from './backup-node';
import { FailoverTiming } from './failover-timing';
import { PostgresImage } from './image';
import { SidecarOptions } from './monitoring';
import { NodeConfig } from './node-config';
import { Resources } from './resources';
import { ResolvedScheduling } from './scheduling';

/**
 * What a node set (the preferred primary or the replicas) needs from its cluster.
 * Nothing here depends on the number of replicas, so scaling never touches the primary.
 *
 * @internal
 */
export interface MemberContext {
  readonly clusterName: string;
  readonly image: PostgresImage;
  readonly timing: FailoverTiming;
  readonly config: NodeConfig;
  readonly synchronous: { readonly enabled: boolean; readonly strict: boolean; readonly standbys: number };
  /** max_worker_processes: equal on every member, from the largest CPU limit of any node set. */
  readonly maxWorkerProcesses: number;
  readonly useEndpoints: boolean;
  readonly port: number;
  readonly restApiPort: number;
  readonly superuser: string;
  readonly replicationUser: string;
  readonly superuserSecretName: string;
  readonly replicationSecretName: string;
  readonly serviceAccountName: string;
  readonly headlessServiceName: string;
  readonly primaryServiceName: string;
  readonly scriptsConfigMapName: string;
  readonly scriptsHash: string;
  readonly requireSeparateNodes: boolean;
  readonly heartbeat: {
    readonly intervalSeconds: number;
    readonly timeoutSeconds: number;
    readonly failureThreshold: number;
    readonly maxLagBytes: number;
    readonly maxLagSeconds: number;
    readonly resources: Resources;
  };
  /** The exporter sidecar, when enabled. */
  readonly metrics?: { readonly image: string; readonly resources: Resources };
  readonly monitoringSecretName: string;
  /** pg_rewind's role between members and the Secret of its password. */
  readonly rewindUser: string;
  readonly rewindSecretName: string;
  /** The access Job's role and its Secret, which post-bootstrap.sh creates the role from. */
  readonly accessUser: string;
  readonly accessSecretName: string;
  /** The pooler's role, for which post-bootstrap.sh installs the auth_query lookup. */
  readonly poolerUser: string;
  /** Predefined roles the access role may grant (with ADMIN OPTION). */
  readonly grantableRoles: readonly string[];
  /** TLS Secrets, when TLS is on. */
  readonly tls?: { readonly serverSecretName: string; readonly replicationSecretName: string };
  /** The user's own sidecars; read when the pods are rendered, so addSidecar() may come later. */
  readonly sidecars: SidecarOptions[];
  /** pgBackRest (archiving, the server sidecar, restore), when backups or a restore are configured. */
  readonly backup?: MemberBackup;
  /** The cluster's scheduling (`scheduling`), for every pod without its own. */
  readonly scheduling?: ResolvedScheduling;
}
