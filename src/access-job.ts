import { createHash } from 'crypto';
import { Lazy } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { DatabaseOptions, DatabasePrivilege, SchemaPrivilege, UserOptions } from './access';
import { PostgresImage } from './image';
import { clusterLabels } from './labels';
import { ACCESS_USER, JOB_TTL_SECONDS } from './monitoring-defaults';
import { APPLY_ACCESS_SCRIPT } from './render/access-script';
import { ResolvedScheduling, withScheduling } from './scheduling';
import { toolPodSpec } from './tool-pod';

const k8s = kplus.k8s;

/** Where the access Job mounts the Secret of each user with a declared password rotation. */
const ROTATED_DIR = '/etc/pgc-passwords';

/** @internal */
export interface AccessJobProps {
  readonly clusterName: string;
  readonly image: PostgresImage;
  readonly primaryHost: string;
  readonly port: number;
  /** The role the Job connects as and the Secret of its password (key `password`). */
  readonly login: { readonly user: string; readonly secretName: string };
  /** ConfigMap whose ca.crt (the CA certificate alone) verifies the server; undefined without TLS. */
  readonly caConfigMapName?: string;
  readonly users: UserOptions[];
  readonly databases: DatabaseOptions[];
  readonly userSecretName: (user: string) => string;
  /** Where the Job's pod may run. */
  readonly scheduling?: ResolvedScheduling;
  /** The pooler's auth_query user and its Secret, when a pooler is configured (read at synth). */
  readonly pooler: () => { readonly user: string; readonly secretName: string } | undefined;
}

/**
 * The Job that applies the declared roles, databases, grants and extensions to the primary
 * (through the read-write Service, over TLS when on) as `cdk8s_access`, a role that creates roles
 * and databases but is no superuser (as `postgres` only with `superuserNetworkAccess`). It is rendered at synth
 * time from the users and databases added until then, and named after a hash of its spec, so
 * each change is a new Job that re-applies everything idempotently.
 *
 * @internal
 */
export class AccessJob extends Construct {
  constructor(scope: Construct, id: string, props: AccessJobProps) {
    super(scope, id);
    const labels = { ...clusterLabels(props.clusterName), 'app.kubernetes.io/name': 'postgresql-access' };
    const render = () => {
      const pooler = props.pooler();
      // A user with a declared rotation reads its password from its mounted Secret, where the Job
      // waits for the rotation (the environment is fixed at container start); the others from env.
      const rotation = (u: UserOptions) => ((u.login ?? true) ? (u.passwordRotation ?? 0) : 0);
      const users = props.users.map((u, i) => ({
        name: u.name,
        login: u.login ?? true,
        connectionLimit: u.connectionLimit ?? -1,
        memberOf: u.memberOf ?? [],
        passwordEnv: (u.login ?? true) && rotation(u) === 0 ? `PGC_PASSWORD_${i}` : undefined,
        ...(rotation(u) > 0 ? { rotation: rotation(u), passwordDir: `${ROTATED_DIR}/${i}` } : {}),
        databases: (u.databases ?? []).map((d) => ({ database: d.database, privileges: d.privileges ?? [DatabasePrivilege.CONNECT] })),
        schemas: (u.schemas ?? []).map((s) => ({
          database: s.database, schema: s.schema ?? 'public', privileges: s.privileges ?? [SchemaPrivilege.USAGE], tables: s.tables ?? [],
        })),
      }));
      const spec = {
        users,
        databases: props.databases.map((d) => ({ name: d.name, owner: d.owner ?? ACCESS_USER, extensions: d.extensions ?? [] })),
        pooler: pooler ? { user: pooler.user, passwordEnv: 'PGC_POOLER_PASSWORD' } : null,
      };
      const secretEnv = (name: string, secret: string): kplus.k8s.EnvVar => ({ name, valueFrom: { secretKeyRef: { name: secret, key: 'password' } } });
      const env: kplus.k8s.EnvVar[] = [
        { name: 'PGC_ACCESS', value: JSON.stringify(spec) },
        { name: 'PATH', value: props.image.searchPath },
        { name: 'PGHOST', value: props.primaryHost },
        { name: 'PGPORT', value: String(props.port) },
        { name: 'PGUSER', value: props.login.user },
        secretEnv('PGPASSWORD', props.login.secretName),
        { name: 'PGSSLMODE', value: props.caConfigMapName ? 'verify-full' : 'prefer' },
        ...(props.caConfigMapName ? [{ name: 'PGSSLROOTCERT', value: '/etc/postgres-ca/ca.crt' }] : []),
        ...users.filter((u) => u.passwordEnv).map((u) => secretEnv(u.passwordEnv!, props.userSecretName(u.name))),
        ...(pooler ? [secretEnv('PGC_POOLER_PASSWORD', pooler.secretName)] : []),
      ];
      const rotated = props.users.map((u, i) => ({ u, i })).filter(({ u }) => rotation(u) > 0);
      const volumeMounts: kplus.k8s.VolumeMount[] = [
        ...(props.caConfigMapName ? [{ name: 'ca', mountPath: '/etc/postgres-ca', readOnly: true }] : []),
        ...rotated.map(({ i }) => ({ name: `password-${i}`, mountPath: `${ROTATED_DIR}/${i}`, readOnly: true })),
      ];
      const volumes: kplus.k8s.Volume[] = [
        ...(props.caConfigMapName
          ? [{ name: 'ca', configMap: { name: props.caConfigMapName, items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o444 } }] : []),
        // The key password-rotation exists once the credentials Job has rotated the Secret (until
        // then the pod waits for the mount); the files follow later updates of the Secret.
        ...rotated.map(({ u, i }) => ({
          name: `password-${i}`,
          secret: {
            secretName: props.userSecretName(u.name),
            items: [{ key: 'password', path: 'password' }, { key: 'password-rotation', path: 'password-rotation' }],
            // The pod has no fsGroup (nothing else to share): the files must be readable by its user.
            defaultMode: 0o444,
          },
        })),
      ];
      const jobSpec: kplus.k8s.JobSpec = {
        backoffLimit: 20,
        ttlSecondsAfterFinished: JOB_TTL_SECONDS,
        template: {
          metadata: { labels },
          spec: withScheduling(toolPodSpec({
            image: props.image,
            fsGroup: false,
            name: 'apply-access',
            command: [props.image.python3Path, '-c', APPLY_ACCESS_SCRIPT],
            env,
            volumeMounts: volumeMounts.length > 0 ? volumeMounts : undefined,
            volumes: volumes.length > 0 ? volumes : undefined,
          }), props.scheduling),
        },
      };
      return jobSpec;
    };
    const name = Lazy.any({
      produce: () => `${props.clusterName}-access-${createHash('sha256').update(JSON.stringify(render())).digest('hex').slice(0, 8)}`,
    }) as unknown as string;
    new k8s.KubeJob(this, 'Job', {
      metadata: { name, labels },
      spec: Lazy.any({ produce: () => render() }) as unknown as kplus.k8s.JobSpec,
    });
  }
}
