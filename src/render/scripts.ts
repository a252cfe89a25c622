import { scriptText } from './script-files';

/**
 * Shell and Python programs the pods run, shipped in a ConfigMap. Each lives as a real file in
 * src/scripts (linted and tested in its own language) and is plain text with no templating: what
 * they need comes from the environment the pod spec sets.
 */

/**
 * Init container of replica pods: a member with no data waits until a leader answers on the
 * read-write Service, so only the preferred primary bootstraps a new cluster and replicas always
 * clone from a running leader. A member that already has data starts at once (it may have to lead).
 *
 * Environment: PGDATA, PG_BIN_DIR, PGC_LEADER_HOST, PGC_PORT.
 */
export const WAIT_FOR_LEADER_SCRIPT = scriptText('wait-for-leader.sh');

/**
 * Run by Patroni once, right after initdb on the member that bootstraps the cluster, with a
 * superuser connection URL as its argument: creates the monitoring role (pg_monitor, no
 * superuser rights; its password from the monitoring Secret, stored as a SCRAM verifier), the
 * heartbeat table it may read, and the application database.
 *
 * Environment: PG_BIN_DIR, PGC_DATABASE (empty or `postgres`: no database to create),
 * PGC_MONITOR_USER and PGC_MONITOR_PASSWORD_FILE (the mounted password; empty user or missing
 * or empty file: no monitoring role). The password is never in an environment variable.
 */
export const POST_BOOTSTRAP_SCRIPT = scriptText('post-bootstrap.sh');

/**
 * Patroni's on_role_change callback: on the member Patroni has just promoted, takes the leader
 * role label off every member pod that has it but is not the member the DCS's leader object
 * names. After a node loss the lost leader's pod keeps that label and stays Ready until the node
 * lifecycle controller marks it NotReady (50 s by default), and the read-write Service would
 * route to it until then. Talks to the Kubernetes API with Patroni's service account (pods list
 * and patch, the leader object get: grants Patroni has anyway); standard library only.
 *
 * Arguments: see onRoleChangeCommand. Patroni removes PATRONI_* from its environment, so the
 * namespace comes from the service account mount.
 */
export const ON_ROLE_CHANGE_SCRIPT = scriptText('on-role-change.py');

/** The file name of ON_ROLE_CHANGE_SCRIPT in the scripts ConfigMap. */
export const ON_ROLE_CHANGE_FILE = 'on-role-change.py';

/** What the on_role_change callback needs to know about Patroni's labels and leader object. */
export interface OnRoleChangeInput {
  readonly python3Path: string;
  readonly scriptsDir: string;
  /** Label key holding the cluster name (Patroni's scope_label). */
  readonly scopeLabel: string;
  /** Label key Patroni sets to each pod's role (role_label). */
  readonly roleLabel: string;
  /** The leader's value of that label (leader_label_value). */
  readonly leaderValue: string;
  /** Patroni's leader object as `configmaps/<scope>-leader` or `endpoints/<scope>`. */
  readonly leaderObject: string;
}

/**
 * The command line of Patroni's `postgresql.callbacks.on_role_change` (Patroni splits it as a
 * shell would and appends the action, the role and the scope).
 */
export function onRoleChangeCommand(input: OnRoleChangeInput): string {
  const words = [input.python3Path, `${input.scriptsDir}/${ON_ROLE_CHANGE_FILE}`, `--scope-label=${input.scopeLabel}`,
    `--role-label=${input.roleLabel}`, `--leader-value=${input.leaderValue}`, `--leader-object=${input.leaderObject}`];
  // Quoted as a POSIX shell (and Python's shlex.split, which Patroni uses) reads it back.
  return words.map((w) => (/^[A-Za-z0-9_./=:@+-]+$/.test(w) ? w : `'${w.replace(/'/g, '\'"\'"\'')}'`)).join(' ');
}

/**
 * Creates the cluster's credential Secrets when they do not exist yet, with random passwords made
 * inside the cluster (never in the synthesized YAML). Idempotent: an existing Secret is left as is,
 * so re-applying the manifests never rotates a password. Talks to the Kubernetes API with the
 * pod's service account token; standard library only.
 *
 * Environment: SECRETS (space-separated `name=username` pairs), KUBERNETES_SERVICE_HOST,
 * KUBERNETES_SERVICE_PORT, optional SA_DIR (defaults to the service account mount),
 * SECRET_CONNECTIONS (JSON: Secret name -> {host, roHost, port, dbname, sslmode}: adds host, port,
 * dbname, uri, jdbc-uri and their `ro-` twins) and SECRET_USERLISTS (Secret names that also get
 * PgBouncer's `userlist.txt`).
 */
export const ENSURE_SECRETS_SCRIPT = scriptText('ensure-secrets.py');

/**
 * The backup init Job: creates the stanza in every repository (idempotent) once the leader's
 * pgBackRest server answers, then takes a full backup into each repository that has none, so
 * scheduled incremental backups and replicas from the repository work without a manual step.
 * Environment: PGC_STANZA, PGC_REPOS (space-separated indexes), PGC_WAIT_SECONDS.
 */
export const BACKUP_INIT_SCRIPT = scriptText('backup-init.sh');

/**
 * Runs pgBackRest against a restore source only: the source's own configuration file and stanza,
 * its credentials read from files, and none of the cluster's own PGBACKREST_* variables, so a
 * restore can never write into the source's repository with the cluster's settings or the other
 * way round. Environment: PGC_SOURCE_CONFIG, PGC_SOURCE_STANZA, and the directories of the mounted Secrets
 * PGC_SOURCE_CREDENTIALS (object storage keys) and PGC_SOURCE_CIPHER (the cipher pass).
 */
export const PGBACKREST_SOURCE_SCRIPT = scriptText('pgbackrest-source.sh');

/**
 * Patroni's custom bootstrap of a cluster restored from a backup: restores the source's backup
 * into PGDATA. Environment: PGC_RESTORE_TYPE, PGC_RESTORE_TARGET, PGC_RESTORE_SET (optional).
 */
export const BOOTSTRAP_RESTORE_SCRIPT = scriptText('bootstrap-restore.sh');

/**
 * The wrapper every TLS server of the cluster runs under (Patroni with PostgreSQL, the pgBackRest
 * servers, PgBouncer): it starts the server and sends it SIGHUP when the mounted certificates
 * (or PgBouncer's userlist) change, so a certificate cert-manager renewed is served within the
 * script's check period (10 s) of the kubelet updating the files, with no restart and no dropped
 * connection. Signals are passed on and the server's exit status is the container's.
 * Arguments: the watched files and directories, `--`, the server's command.
 */
export const RELOAD_ON_CHANGE_SCRIPT = scriptText('reload-on-change.sh');

/** The file name of RELOAD_ON_CHANGE_SCRIPT in the scripts ConfigMap. */
export const RELOAD_ON_CHANGE_FILE = 'reload-on-change.sh';

/**
 * The starter of every pgBackRest TLS server (members and repository host): it listens on `::`
 * where the pod has IPv6 (an IPv6 socket takes IPv4 too), else on `*`, because pgBackRest binds
 * only the first address of its tls-server-address. Arguments: pgBackRest's path, then options.
 */
export const PGBACKREST_SERVER_SCRIPT = scriptText('pgbackrest-server.sh');

/** The file name of PGBACKREST_SERVER_SCRIPT in the scripts ConfigMap. */
export const PGBACKREST_SERVER_FILE = 'pgbackrest-server.sh';

/**
 * The status pgBackRest's server (up to 2.53) ends with when a reload cannot bind its port again
 * (FileOpenError, "Address already in use": the child serving a connection accepted just before
 * still holds the listening socket). The reload wrapper starts such a server again.
 */
export const PGBACKREST_REBIND_FAILURE_STATUS = 41;

/**
 * The status of pgBackRest's server killed by SIGSEGV (128 + 11). Under a stream of short
 * connections its SIGCHLD handler, which removes the ended child from the list the accept loop
 * appends to, now and then crashes it (2.45 and up to 2.59 at least). The reload wrapper starts
 * such a server again; the children serving connections go on.
 */
export const PGBACKREST_CRASH_STATUS = 139;

/**
 * The `command` of a pgBackRest TLS server (members' sidecar, repository host): the starter
 * (PGBACKREST_SERVER_SCRIPT) under the reload wrapper, which watches `watched` and starts the
 * server again when it ends with PGBACKREST_REBIND_FAILURE_STATUS or PGBACKREST_CRASH_STATUS
 * (within 10 s of a reload, or after running for 10 s).
 */
export function pgbackrestServerCommand(scriptsDir: string, watched: readonly string[], pgbackrestPath: string): string[] {
  return reloadingCommand(scriptsDir, watched, ['/bin/bash', `${scriptsDir}/${PGBACKREST_SERVER_FILE}`, pgbackrestPath],
    [PGBACKREST_REBIND_FAILURE_STATUS, PGBACKREST_CRASH_STATUS]);
}

/**
 * The `command` that runs `server` under the reload wrapper, watching `watched`. A server that
 * ends with one of `restartOnExit` (not after a stop signal), within 10 s of a reload or after
 * running for 10 s, is started again instead of ending the container.
 */
export function reloadingCommand(scriptsDir: string, watched: readonly string[], server: readonly string[],
  restartOnExit: readonly number[] = []): string[] {
  const restart = restartOnExit.length === 0 ? [] : [`--restart-on-exit=${restartOnExit.join(',')}`];
  return ['/bin/bash', `${scriptsDir}/${RELOAD_ON_CHANGE_FILE}`, ...restart, ...watched, '--', ...server];
}

/**
 * The config Job's program (src/scripts/apply-config.py): makes the cluster-wide settings in the
 * DCS equal the declared ones through Patroni's REST API (PATCH /config, removed parameters as
 * null; an operator's `pause` and permanent slots are left alone), waits two Patroni loops, then
 * restarts the members with a pending restart one at a time, replicas first and the leader last,
 * each back (and streaming) before the next. Python 3 standard library.
 *
 * Environment: PGC_CONFIG (JSON {config, removable}), PGC_MEMBERS (REST API base URLs),
 * PGC_TLS_DIR (client certificate, key and CA; empty for plain HTTP), PGC_WAIT_SECONDS.
 */
export const APPLY_CONFIG_SCRIPT = scriptText('apply-config.py');
