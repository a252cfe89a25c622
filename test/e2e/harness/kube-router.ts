/**
 * kube-router's network policy controller (test/kube/build-kube-router.sh: the upstream
 * netpol package of github.com/cloudnativelabs/kube-router/v2 with a main of our own) as a host
 * process for the duration of one suite, enforcing the NetworkPolicies of one namespace with
 * iptables (iptables-nft) and ipsets. The cluster is shared with other suites, so the daemon is
 * scoped to the suite's namespace (--namespace) and every chain and ipset it made is gone after
 * stop(). See test/kube/ADDONS.md ("kube-router").
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { waitFor } from '../lib/processes';

const REPO = path.resolve(__dirname, '../../..');
/** The Service CIDR of test/kube/cluster.sh. */
const SERVICE_CIDR = '10.96.0.0/16';

/** kube-router's iptables chains and ipsets (its name prefixes in pkg/controllers/netpol). */
const CHAIN = /^:(KUBE-ROUTER-(INPUT|FORWARD|OUTPUT)|KUBE-POD-FW-\w+|KUBE-NWPLCY-\w+) /;
const IPSET = /^KUBE-(SRC|DST)-\w+$/;

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** The filter table as iptables-save prints it (iptables-nft), with packet counters. */
export function filterRules(): string {
  return run('iptables-save', ['-c', '-t', 'filter']);
}

/** Leftovers of kube-router: its chains in the filter table and its ipsets. */
export function kubeRouterState(): { chains: string[]; ipsets: string[] } {
  const chains = filterRules().split('\n').filter((l) => CHAIN.test(l)).map((l) => l.slice(1).split(' ')[0]);
  const ipsets = run('ipset', ['list', '-n']).split('\n').filter((l) => IPSET.test(l));
  return { chains, ipsets };
}

/** Members of one ipset. */
export function ipsetMembers(name: string): string[] {
  return run('ipset', ['list', name]).split('\n').map((l) => l.trim().split(' ')[0]).filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
}

/** Whether nftables has the `ip filter` table (iptables-nft creates it on first use). */
function hasIpFilterTable(): boolean {
  return /^table ip filter$/m.test(run('nft', ['list', 'tables']));
}

/** The running daemon. */
export class KubeRouter {
  /**
   * Builds (cached) and starts the daemon for `namespace`; resolves once its top-level chains are
   * in the filter table. Refuses to start when kube-router chains or ipsets already exist (another
   * daemon, or one that was not cleaned up).
   */
  static async start(namespace: string, kubeconfig: string, logFile: string): Promise<KubeRouter> {
    const bin = path.join(run('bash', [path.join(REPO, 'test/kube/build-kube-router.sh')]).trim(), 'kube-router-netpol');
    const before = kubeRouterState();
    if (before.chains.length + before.ipsets.length > 0) {
      throw new Error(`kube-router state exists before start (another daemon?): ${JSON.stringify(before)}`);
    }
    const hadTable = hasIpFilterTable();
    const log = fs.openSync(logFile, 'a');
    const child = spawn(bin, [
      '--kubeconfig', kubeconfig,
      // Every Node has the same InternalIP, and a Pod is "local" to the controller when its
      // status.hostIP is that address: one daemon enforces for the Pods of all three Nodes.
      '--hostname-override', 'node-a',
      '--run-firewall=true', '--run-router=false', '--run-service-proxy=false',
      '--service-cluster-ip-range', SERVICE_CIDR,
      '--health-port', '0', '--metrics-port', '0',
      '--namespace', namespace,
    ], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const kr = new KubeRouter(child, logFile, hadTable);
    try {
      await waitFor(async () => {
        if (kr.exited) throw new Error(`kube-router exited: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
        return /-A FORWARD .*-j KUBE-ROUTER-FORWARD/.test(filterRules());
      }, 60_000, 200, 'kube-router\'s FORWARD jump in the filter table');
    } catch (err) {
      await kr.stop().catch(() => undefined);
      throw err;
    }
    return kr;
  }

  private exited = false;
  private readonly exit: Promise<number | null>;

  private constructor(private readonly child: ChildProcess, readonly logFile: string, private readonly hadTable: boolean) {
    this.exit = new Promise((resolve) => child.on('exit', (code) => {
      this.exited = true;
      resolve(code);
    }));
  }

  /**
   * SIGTERM: the daemon stops its controller and runs the controller's Cleanup(). Then nothing of
   * kube-router may remain; what does is removed here and reported as an error. The `ip filter`
   * table iptables-nft created is deleted when it was not there before and holds no rule.
   */
  async stop(): Promise<void> {
    if (!this.exited) this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([this.exit, new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), 20_000); })]);
    clearTimeout(timer);
    if (code === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exit;
    }
    const left = kubeRouterState();
    if (left.chains.length + left.ipsets.length > 0) {
      removeKubeRouterState();
    }
    if (!this.hadTable && hasIpFilterTable() && !/^(\[\d+:\d+\] )?-A /m.test(filterRules())) run('nft', ['delete', 'table', 'ip', 'filter']);
    if (code === 'timeout') throw new Error('kube-router did not stop within 20 s of SIGTERM (killed)');
    if (code !== 0) throw new Error(`kube-router exited with ${code}: ${fs.readFileSync(this.logFile, 'utf8').slice(-2000)}`);
    if (left.chains.length + left.ipsets.length > 0) throw new Error(`kube-router left state behind (removed now): ${JSON.stringify(left)}`);
  }
}

/** Removes kube-router's jumps, chains and ipsets by hand (only after a failed cleanup). */
function removeKubeRouterState(): void {
  for (const [builtin, own] of [['INPUT', 'KUBE-ROUTER-INPUT'], ['FORWARD', 'KUBE-ROUTER-FORWARD'], ['OUTPUT', 'KUBE-ROUTER-OUTPUT']]) {
    for (const line of filterRules().split('\n').filter((l) => l.includes(`-A ${builtin} `) && l.includes(`-j ${own}`))) {
      run('iptables', ['-t', 'filter', ...line.replace(/^\[\d+:\d+\] /, '').replace(/^-A /, '-D ').match(/"[^"]*"|\S+/g)!.map((a) => a.replace(/^"|"$/g, ''))]);
    }
  }
  const { chains, ipsets } = kubeRouterState();
  for (const c of chains) run('iptables', ['-t', 'filter', '-F', c]);
  for (const c of chains) run('iptables', ['-t', 'filter', '-X', c]);
  for (const s of ipsets) run('ipset', ['destroy', s]);
}
