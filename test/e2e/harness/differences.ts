/**
 * The loopback harness of the suites not yet moved onto the local Kubernetes cluster (test/kube,
 * whose only emulated part is listed in test/kube/node-agent/differences.ts).
 *
 * Every way a member run by this harness differs from the pod the manifests describe, in one
 * place, each with its reason. Everything not listed here is used exactly as synthesized:
 * the Patroni configuration (timings, synchronous mode, postgresql parameters, pg_hba, initdb,
 * authentication), the scripts, the container commands and arguments, the environment, the
 * probes and the ports.
 */

/** Where the Debian packages put PostgreSQL and Patroni on these machines. */
export const HOST_BIN_DIR = '/usr/lib/postgresql/15/bin';
export const HOST_PATRONI = '/usr/bin/patroni';
export const HOST_EXPORTER = '/usr/bin/prometheus-postgres-exporter';
export const HOST_PGBOUNCER = '/usr/sbin/pgbouncer';
export const HOST_PGBACKREST = '/usr/bin/pgbackrest';

/** The list, printed in the test log and the README. */
export const DIFFERENCES: ReadonlyArray<{ readonly what: string; readonly why: string }> = [
  {
    what: 'The `<cluster>-ca-cert` ConfigMap is filled with the server certificate\'s ca.crt when a pod mounts it, instead of by the CA publisher Job',
    why: 'the publisher patches the ConfigMap through the Kubernetes API, which this harness does not have (on the real control plane, test/kube, the Job does it)',
  },
  {
    what: 'Patroni DCS: the `kubernetes` section is replaced by `etcd3: {hosts: [<local etcd>]}` and PATRONI_KUBERNETES_* variables are not passed to Patroni',
    why: 'there is no Kubernetes API server here; etcd is Patroni\'s other production DCS and implements the same leader lease (ttl) semantics',
  },
  {
    what: 'Role labels: the emulated Services select members by the role Patroni reports on its REST API, mapped to the configured leader/follower label values',
    why: 'with etcd Patroni labels no pods; the mapping is the one Patroni applies to pod labels in Kubernetes',
  },
  {
    what: 'Volume mount paths (/pgdata, /etc/patroni, /opt/cdk8s-postgres, /tmp, /dev/shm) are rewritten to per-member directories in the Patroni configuration, commands, flags and environment (including a `host=/tmp` socket in a connection URI)',
    why: 'all members share one file system; each pod has its own volumes',
  },
  {
    what: `The image's PostgreSQL binary directory becomes ${HOST_BIN_DIR} and \`patroni\` becomes ${HOST_PATRONI}`,
    why: 'Debian bookworm ships PostgreSQL 15 and Patroni 3.0.2 where the image has PostgreSQL 16-18 and Patroni 4.x; the data directory keeps its name',
  },
  {
    what: `The metrics exporter image's postgres_exporter becomes ${'/usr/bin/prometheus-postgres-exporter'} and \`python3\` becomes /usr/bin/python3`,
    why: 'Debian ships postgres_exporter 0.11.1 (the image has 0.15.0) with the same flags used here, and Python with psycopg2 as the images do',
  },
  {
    what: 'Wildcard listen addresses (0.0.0.0, *, in Patroni\'s listen, *_LISTEN variables and --*listen*= flags) become the member\'s loopback IP (127.0.0.11, .12, ...); status.podIP is that IP; metadata.namespace is "default"',
    why: 'members share one network namespace; a distinct loopback IP per member keeps the pod\'s ports (5432, 8008)',
  },
  {
    what: 'ClusterIP Services are TCP proxies on their own loopback IP (127.0.0.2, .3, ...); their DNS names in environment values are replaced by that IP',
    why: 'there is no kube-proxy or cluster DNS; the proxy routes each connection to a ready member whose role matches the selector, as kube-proxy does',
  },
  {
    what: 'cert-manager Certificates are issued by openssl from their spec (issuer chain, commonName, dnsNames, usages, ECDSA P-256); Secret volumes get those files, keys 0600 owned by the postgres user',
    why: 'no cert-manager here; in the pod the key is root-owned 0640, which PostgreSQL accepts the same way',
  },
  {
    what: 'Member DNS names (<pod>.<headless Service>) and Service names resolve through entries added to /etc/hosts for the run',
    why: 'there is no cluster DNS; Patroni\'s REST connect address and TLS host-name checks use these names',
  },
  {
    what: 'The credentials Job runs its real script (from the scripts ConfigMap) against a fake Kubernetes API on 127.0.0.1 (HTTPS, bearer token, GET/POST of Secrets in namespace "default"); KUBERNETES_SERVICE_HOST/PORT point there and SA_DIR names a directory holding the token, namespace and CA instead of the service account mount',
    why: 'there is no API server; the Secrets it POSTs are read back and are the only source of secretKeyRef values and Secret volume files other than the certificates',
  },
  {
    what: 'Jobs (LoopbackCluster.runJob) run their pod once, first container only, as a process on its own loopback IP; no restarts, backoffLimit or completion tracking',
    why: 'the tests want each run\'s exit code and log; a Job retrying on failure would hide the failure',
  },
  {
    what: 'Pods other than Patroni members (Jobs, Deployments) keep Service names in their environment values; the names resolve to the Service proxies through /etc/hosts',
    why: 'they verify the server certificate by that name (sslmode verify-full), as in a cluster',
  },
  {
    what: `Deployment pods are named <deployment>-<i> (i < replicas) with their own loopback IP; \`pgbouncer\` becomes ${'/usr/sbin/pgbouncer'}; in the ConfigMap's pgbouncer.ini a wildcard listen_addr becomes the pod's IP and absolute paths become the volume directories; a Service selects them by their template labels and counts them ready by their tcpSocket readiness probe`,
    why: 'Debian bookworm ships PgBouncer 1.18.0 where the image has 1.25.1, with the same auth_query, SCRAM pass-through and TLS settings used here; no Deployment controller (no rollouts on template changes)',
  },
  {
    what: 'Secret volume files of credentials (and tls.key) are 0600 owned by the postgres user; certificates 0644; `items` select and rename keys as in Kubernetes',
    why: 'the pod\'s defaultMode with fsGroup gives its user the same read access',
  },
  {
    what: 'Processes run as the Debian `postgres` user (not uid 26) in a cgroup per member, without the container\'s memory/CPU limits',
    why: 'no container runtime; the cgroup makes `kill -9` of a member take down Patroni and every postgres process at once, like losing the node',
  },
  {
    what: `\`pgbackrest\` becomes ${'/usr/bin/pgbackrest'}; in pgbackrest.conf a wildcard tls-server-address becomes the pod's IP and absolute paths become the pod's volume directories`,
    why: 'Debian bookworm ships pgBackRest 2.45 where the image has 2.57; every option used here exists in 2.45',
  },
  {
    what: 'In a backup Job\'s pgbackrest.conf, pg1-path and pg1-socket-path become the directories of the member that leads when the Job starts',
    why: 'pgBackRest passes these paths to the leader\'s server; in Kubernetes every member has the same /pgdata and /tmp, here each member has its own directories',
  },
  {
    what: 'StatefulSets without Patroni (the backup node) run as plain pods started before the members; a persistentVolumeClaim volume `<template>-<pod>` is that pod\'s claim directory (a Job mounting the backup node\'s claim shares it, as ReadWriteOnce allows on one node); a CronJob runs when a test calls runJob, as `kubectl create job --from=cronjob/<name>` would',
    why: 'no StatefulSet or CronJob controller; the tests take backups at chosen moments',
  },
  {
    what: 'Services with several ports get one proxy per port on the Service\'s address; a second cluster in the same test runs on 127.0.<n>.x and may mount Secrets issued for the first (same namespace)',
    why: 'the read-write Service also carries pgBackRest\'s port; restore tests run the source and the restored cluster side by side',
  },
];
