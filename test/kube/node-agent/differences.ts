/**
 * Every way the node agent differs from a kubelet, in one place, each with its reason. The rest
 * of the test cluster is the real program: kube-apiserver (TLS, RBAC, ServiceAccount tokens,
 * admission with PodSecurity), kube-controller-manager (all controllers), kube-scheduler,
 * kube-proxy (nftables), CoreDNS (kubernetes plugin), cert-manager's controller and etcd 3.6.
 * The manifests are applied unchanged with server-side apply; Patroni 4 runs them unchanged.
 */

/** One difference and why it exists. */
export interface Difference {
  readonly what: string;
  readonly why: string;
}

/** The list, printed in the test log and linked from the README. */
export const NODE_AGENT_DIFFERENCES: readonly Difference[] = [
  {
    what: 'Images are not pulled or unpacked: a container runs on the host\'s root file system, with the image\'s programs stood in for by installed ones bound read-only at the image\'s paths (images.ts): Debian\'s PostgreSQL 15 binaries at /usr/pgsql-<major>/bin, Patroni 4.1 from PyPI (a venv) at /usr/bin/patroni and /usr/bin/patronictl, Debian\'s pgbouncer, pgbackrest, python3 (psycopg2) and prometheus-postgres-exporter at the paths the images have them',
    why: 'no container runtime or registry can be reached here; this is the only rewrite: commands, arguments, paths and configuration files run as synthesized',
  },
  {
    what: 'PostgreSQL is 15 where the image tag says 17 (the data directory keeps the name the manifests give it, e.g. /pgdata/pg17)',
    why: 'Debian bookworm ships PostgreSQL 15; no newer major installs from the registries reached here',
  },
  {
    what: 'Container isolation is a private mount namespace, a UTS namespace with the pod\'s hostname, the pod\'s network namespace, cgroups (v1 memory limit and CPU quota from resources.limits; cgroup v2 to hold and kill every process) and setpriv (uid/gid/fsGroup, no_new_privs, capabilities dropped); there is no PID, IPC or user namespace and no seccomp filter',
    why: 'enough to run each container as its own user with its own volumes, limits and network, which is what the tests observe',
  },
  {
    what: 'readOnlyRootFilesystem makes the host\'s root file system read-only inside the container; mount points the manifests need (/pgdata, /etc/patroni, ...) are created on the host and removed by `cluster.sh down`',
    why: 'bind mounts need an existing mount point; the host\'s root stands in for the image\'s',
  },
  {
    what: '/etc/passwd and /etc/group inside a container are the host\'s with the image\'s postgres user (uid/gid 26); /etc/hosts, /etc/resolv.conf (cluster DNS, search path, ndots:5) and /etc/hostname are written per pod as the kubelet writes them',
    why: 'initdb and Patroni look their user up; the UBI images have postgres at 26',
  },
  {
    what: 'The agent authenticates with a system:masters client certificate, not as system:node:<name>, so the Node authorizer and NodeRestriction do not limit it',
    why: 'one agent serves three nodes; the objects under test (the library\'s ServiceAccounts, Roles and Jobs) are authorized by RBAC exactly as in a cluster',
  },
  {
    what: 'All three Nodes share one kernel, one host address per family (InternalIP 10.250.0.1, and fd00:250::1 on an IPv6 or dual-stack cluster) and one kube-proxy; a pod\'s IP is 10.250.<node>.<n> (fd00:250::<node>:<n>) on one bridge. The host keeps its IPv4 address on an IPv6 cluster, where the control plane and the tests reach the API server',
    why: 'one machine; Services, DNS and pod-to-pod traffic still go through kube-proxy\'s nftables rules and the pods\' own network namespaces',
  },
  {
    what: 'Node loss (POST /nodes/<name>/lose) is kill -9 of every process of the node\'s pods, their veths set down and the node\'s Lease and status no longer renewed; restoring it starts its pods again with fresh network namespaces and the same volumes (emptyDirs on disk keep their files, as after a reboot)',
    why: 'the node lifecycle controller, the endpoint controllers and Patroni then act on their own, as when a machine dies',
  },
  {
    what: 'No exec probes, lifecycle hooks (postStart/preStop), ephemeral or sidecar (restartPolicy: Always init) containers, hostPath/CSI volumes other than the host-path PersistentVolumes of the controller manager\'s provisioner, image pull policies, resource usage metrics (no /stats, no logs or exec through the API server), or eviction under node pressure',
    why: 'the library\'s manifests use none of them; an unsupported field makes the pod fail with a message naming it, so a new use cannot pass silently',
  },
  {
    what: 'Container logs are files in the agent\'s state directory (pods/<namespace>_<pod>_<uid>/logs/<container>.log), not served through `kubectl logs`',
    why: 'no kubelet API server; the tests read the files',
  },
  {
    what: 'Each Node declares a fixed capacity (4 CPUs, 8 GiB, 110 pods) whatever the machine has; the scheduler fits requests against it. Limits are enforced by cgroups; requests set no CPU shares',
    why: 'three Nodes share one 2-core machine: the declared capacity lets the examples\' requests fit, as on nodes of that size',
  },
  {
    what: 'HOME is the image user\'s home as the UBI images have it (/var/lib/pgsql for uid 26, / otherwise); the image\'s other ENV lines are not known, PATH is the image profile\'s',
    why: 'no image configuration is read (images.ts); the manifests set every variable the library\'s programs use',
  },
  {
    what: 'CoreDNS and cert-manager run as host processes, not pods; the kube-dns Service\'s EndpointSlice is written by cluster.sh (bootstrap.yaml) and points at the bridge address',
    why: 'they are cluster add-ons, not under test; the real programs answer DNS and issue the certificates',
  },
  {
    what: 'Pod status is written with one strategic-merge patch per change (debounced to 0.5 s); the node status every 60 s and the Lease every 10 s',
    why: 'the kubelet\'s own frequencies (10 s lease, status on change or every 5 min) within what the node lifecycle controller needs',
  },
  {
    what: 'While a container waits out its restart back-off, its status shows `state.waiting` with an empty `lastState`; the kubelet already shows the ended run in `lastState.terminated` (exit code, reason, finishedAt). The agent reports `lastState.terminated` once the container runs again',
    why: 'the agent keeps one status per container run; tests that read an exit status (the heartbeat suite\'s SIGTERM) read it after the restart',
  },
  {
    what: 'ConfigMap, Secret and projected volumes are refreshed every 5 s (written as the kubelet\'s atomic writer does: a timestamped directory behind a `..data` symlink swapped by one rename); a kubelet refreshes them on its sync period plus its cache TTL, about a minute by default',
    why: 'the renewal and rotation suites measure the servers\' reload, not the kubelet\'s delay; the README states the bound with the kubelet\'s own period',
  },
  {
    what: 'NetworkPolicies are enforced only while the network-policy suite runs (kube-router\'s firewall, scoped to that suite\'s namespace, test/kube/ADDONS.md); kube-router admits all traffic from the node\'s own address, which is the host here, where the test clients run',
    why: 'the bridge network has no policy engine of its own, as with a kubelet and the plain bridge CNI; the daemon is scoped so the other suites on the shared cluster are not judged by a half-built rule set',
  },
  {
    what: 'The agent is also the volume resizer: when a bound claim on a host-path PersistentVolume requests more than its capacity (the API server having admitted the growth by its StorageClass\'s allowVolumeExpansion), it sets the volume\'s capacity and then the claim\'s status capacity in one step (resizer.ts); a CSI driver\'s external resizer and the kubelet\'s online file system resize take two, with the conditions Resizing and FileSystemResizePending between them, and a real disk may refuse or take minutes',
    why: 'the controller manager does not expand host-path volumes ("waiting for an external controller"), and a host-path volume is a directory with no file system of its own to grow; the library\'s part, patching the claims and waiting for their capacity, runs as it would against any driver',
  },
];
