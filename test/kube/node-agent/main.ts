/**
 * The node agent: the one emulated part of the test cluster (a kubelet needs a container
 * runtime, which cannot run here). It registers the Nodes and renews their Leases, runs the pods
 * the scheduler binds to them (pod.ts), and offers the tests a control endpoint on loopback:
 *   POST /nodes/<name>/lose     kill -9 every process of the node's pods, cut their network and
 *                               stop the node's heartbeats (the node lifecycle controller decides the rest)
 *   POST /nodes/<name>/restore  heartbeats again; the pods still bound to it start again, as after a reboot
 *   GET  /pods                  the pods it runs, with their IPs and log directories
 * It also expands host-path volumes whose claims ask for more (resizer.ts).
 * Every difference from a kubelet is listed in differences.ts.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { HOST_PG_BIN_DIR } from './images';
import { IpFamily, parseIpFamilies, podCidr } from './ip-families';
import { KubeClient, KubeError, KubeObject } from './kube-client';
import { AgentContext, PodRunner } from './pod';
import { PodAddresses } from './pod-addresses';
import { startResizer } from './resizer';
import { MountPoints } from './sandbox';

const state = must('PGK_STATE');
/** The pod network's families, primary first, and the bridge's address in each (the Nodes' addresses). */
const families = parseIpFamilies(process.env.PGK_IP_FAMILY);
const gateways: Record<IpFamily, string> = { IPv4: must('PGK_GATEWAY'), IPv6: process.env.PGK_GATEWAY6 ?? 'fd00:250::1' };
const hostIps = families.map((f) => gateways[f]);
const api = new KubeClient(path.join(state, 'node-agent.kubeconfig'));
const log = (msg: string) => process.stderr.write(`${new Date().toISOString()} ${msg}\n`);

/** Nodes: name, zone; each gets 10.250.<index>.0/24 and fd00:250::<index>:0/112 for its pods (ip-families.ts). */
const NODES = (process.env.PGK_NODES ?? 'node-a:zone-a,node-b:zone-b,node-c:zone-a').split(',').map((s, i) => {
  const [name, zone] = s.split(':');
  return { name, zone, index: i + 1 };
});

const ctx: AgentContext = {
  api,
  stateDir: state,
  bridge: must('PGK_BRIDGE'),
  gateways,
  hostIps,
  dnsIp: must('PGK_DNS'),
  apiServiceIp: must('PGK_API_SERVICE'),
  host: { pgBinDir: HOST_PG_BIN_DIR, venv: must('PGK_VENV') },
  mountPoints: new MountPoints(path.join(state, 'mountpoints')),
  log,
};

const pods = new Map<string, PodRunner>();
const podNode = new Map<string, string>();
const lostNodes = new Set<string>();
const addresses = new PodAddresses(families);

function must(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`node agent: ${name} is not set`);
  return v;
}

function microTime(): string {
  return new Date().toISOString().replace(/Z$/, '000Z');
}

async function registerNode(n: typeof NODES[number]): Promise<void> {
  const body = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      labels: {
        'kubernetes.io/hostname': n.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/zone': n.zone,
        'topology.kubernetes.io/region': 'local',
      },
    },
    spec: { podCIDR: podCidr(families[0], n.index), podCIDRs: families.map((f) => podCidr(f, n.index)) },
  };
  const existing = await api.getOptional(`/api/v1/nodes/${n.name}`);
  if (!existing) await api.create('/api/v1/nodes', body);
  await postNodeStatus(n);
}

async function postNodeStatus(n: typeof NODES[number]): Promise<void> {
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const cond = (type: string, status: string, reason: string) =>
    ({ type, status, reason, message: reason, lastHeartbeatTime: t, lastTransitionTime: t });
  const capacity = { 'cpu': '4', 'memory': '8Gi', 'pods': '110', 'ephemeral-storage': '50Gi' };
  await api.strategicPatch(`/api/v1/nodes/${n.name}/status`, {
    status: {
      capacity,
      allocatable: capacity,
      conditions: [
        cond('Ready', 'True', 'KubeletReady'), cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure'), cond('PIDPressure', 'False', 'KubeletHasSufficientPID'),
      ],
      addresses: [...hostIps.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: n.name }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: n.name,
        systemUUID: n.name,
        bootID: `${n.name}-${process.pid}`,
        kernelVersion: os.release(),
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        containerRuntimeVersion: 'pgk://node-agent',
        kubeletVersion: 'v1.36.3',
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  });
}

async function renewLease(n: typeof NODES[number]): Promise<void> {
  const p = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${n.name}`;
  const lease = await api.getOptional(p);
  const spec = { holderIdentity: n.name, leaseDurationSeconds: 40, renewTime: microTime() };
  if (!lease) {
    const node = await api.get(`/api/v1/nodes/${n.name}`);
    await api.create('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: n.name, namespace: 'kube-node-lease', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: n.name, uid: node.metadata.uid }] },
      spec,
    });
  } else {
    await api.put(p, { ...lease, spec: { ...lease.spec, ...spec } });
  }
}

/** The kubelet's loops: lease every 10 s, node status every 60 s (and at once after a restore). */
function heartbeats() {
  let ticks = 0;
  setInterval(() => {
    ticks++;
    for (const n of NODES) {
      if (lostNodes.has(n.name)) continue;
      renewLease(n).catch((err) => log(`lease ${n.name}: ${err.message}`));
      if (ticks % 6 === 0) postNodeStatus(n).catch((err) => log(`node status ${n.name}: ${err.message}`));
    }
  }, 10_000);
}

function startPod(pod: KubeObject) {
  const node = NODES.find((n) => n.name === pod.spec.nodeName)!;
  let ips: string[];
  try {
    ips = addresses.allocate(node, pod.metadata.uid, pod.status?.podIP);
  } catch (err) {
    log(`pod ${pod.metadata.namespace}/${pod.metadata.name}: not started: ${(err as Error).message}`);
    return;
  }
  const runner = new PodRunner(pod, node, ips, ctx);
  pods.set(pod.metadata.uid, runner);
  podNode.set(pod.metadata.uid, node.name);
  log(`pod ${runner.name}: starting on ${node.name}`);
  void runner.start();
}

/** Deletes the pod object once its containers are gone, as the kubelet does after a graceful stop. */
async function finishDeletion(pod: KubeObject, runner: PodRunner) {
  await runner.stop(pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30);
  addresses.release(pod.metadata.uid);
  try {
    await api.delete(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`,
      { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
  } catch (err) {
    if (!(err instanceof KubeError && (err.status === 404 || err.status === 409))) log(`delete ${runner.name}: ${(err as Error).message}`);
  }
  pods.delete(pod.metadata.uid);
  log(`pod ${runner.name}: deleted`);
}

const deleting = new Set<string>();

function onPod(type: string, pod: KubeObject) {
  const uid = pod.metadata.uid;
  if (!NODES.some((n) => n.name === pod.spec?.nodeName)) return;
  if (lostNodes.has(pod.spec.nodeName)) return;
  const runner = pods.get(uid);
  if (type === 'DELETED') {
    if (runner) {
      // Deleted without waiting for us (force deletion): the processes go at once.
      runner.kill();
      void runner.release().then(() => { pods.delete(uid); addresses.release(uid); });
    }
    return;
  }
  if (runner) {
    runner.update(pod);
    if (pod.metadata.deletionTimestamp && !deleting.has(uid)) {
      deleting.add(uid);
      void finishDeletion(pod, runner).finally(() => deleting.delete(uid));
    }
    return;
  }
  if (pod.metadata.deletionTimestamp) {
    // A pod this agent no longer runs (e.g. it was on a lost node): nothing left to stop.
    void api.delete(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`,
      { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, preconditions: { uid } }).catch(() => undefined);
    return;
  }
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
  startPod(pod);
}

async function loseNode(name: string) {
  lostNodes.add(name);
  for (const [uid, runner] of pods) {
    if (podNode.get(uid) !== name) continue;
    runner.kill();
  }
  for (const [uid, runner] of [...pods]) {
    if (podNode.get(uid) !== name) continue;
    await runner.release();
    pods.delete(uid);
    addresses.release(uid);
  }
  log(`node ${name}: lost`);
}

async function restoreNode(name: string) {
  lostNodes.delete(name);
  const n = NODES.find((x) => x.name === name)!;
  await renewLease(n);
  await postNodeStatus(n);
  const list = await api.get(`/api/v1/pods?fieldSelector=spec.nodeName=${name}`);
  // Its pods' addresses were released when it was lost; the ones their status records go back to
  // them before a pod bound to the node meanwhile is given one.
  addresses.reserveRecorded(n, list.items);
  for (const pod of list.items) onPod('ADDED', pod);
  log(`node ${name}: restored`);
}

function controlServer() {
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const m = /^\/nodes\/([^/]+)\/(lose|restore)$/.exec(req.url ?? '');
    if (req.method === 'POST' && m) {
      if (!NODES.some((n) => n.name === m[1])) return send(404, { error: `no node ${m[1]}` });
      const action = m[2] === 'lose' ? loseNode(m[1]) : restoreNode(m[1]);
      action.then(() => send(200, { node: m[1], action: m[2] }), (err) => send(500, { error: err.message }));
      return;
    }
    if (req.method === 'GET' && req.url === '/pods') {
      return send(200, [...pods.values()].map((p) => ({ name: p.name, uid: p.uid })));
    }
    if (req.method === 'GET' && req.url === '/healthz') return send(200, { ok: true });
    send(404, { error: 'not found' });
  });
  server.listen(Number(process.env.PGK_AGENT_PORT ?? 10350), '127.0.0.1');
}

async function shutdown() {
  log('stopping every pod');
  await Promise.all([...pods.values()].map((p) => p.stop(5)));
  process.exit(0);
}

/** Addresses recorded in the status of pods bound to these nodes are taken before any new pod gets one. */
async function reserveRecordedIps() {
  const list = await api.get('/api/v1/pods?fieldSelector=spec.nodeName!%3D');
  for (const node of NODES) addresses.reserveRecorded(node, list.items);
}

async function main() {
  fs.mkdirSync(path.join(state, 'pods'), { recursive: true });
  for (;;) {
    try {
      for (const n of NODES) {
        await registerNode(n);
        await renewLease(n);
      }
      break;
    } catch (err) {
      log(`registering nodes: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  await reserveRecordedIps();
  heartbeats();
  api.informer('/api/v1/pods', 'fieldSelector=spec.nodeName!%3D', onPod);
  startResizer(api, log);
  controlServer();
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
  log(`node agent: nodes ${NODES.map((n) => `${n.name} (${n.zone})`).join(', ')}`);
}

void main();
