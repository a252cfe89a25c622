/**
 * Stands in for cluster DNS: names the pods' configuration uses (member DNS names under the
 * headless Service, Service names) are added to /etc/hosts in a marked block, removed again when
 * the tests end (or the process exits).
 */
import * as fs from 'node:fs';

const FILE = '/etc/hosts';
const BEGIN = `# cdk8s-postgres-cluster e2e ${process.pid} begin`;
const END = `# cdk8s-postgres-cluster e2e ${process.pid} end`;
const entries = new Map<string, string>();
let hooked = false;

/** Maps `name` to `ip` in /etc/hosts (replacing an earlier mapping of this process). */
export function addHost(name: string, ip: string): void {
  entries.set(name, ip);
  write();
  if (!hooked) {
    hooked = true;
    process.once('exit', removeHosts);
  }
}

/** Removes these names (a cluster's own, when other clusters of this process keep running). */
export function removeHostNames(names: Iterable<string>): void {
  for (const n of names) entries.delete(n);
  write();
}

/** Removes every entry this process added. */
export function removeHosts(): void {
  entries.clear();
  write();
}

/** Whether a process of this PID is alive. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Drops blocks left by runs whose process is gone (killed before it could clean up). */
function withoutStaleBlocks(text: string): string {
  return text.replace(/# cdk8s-postgres-cluster e2e (\d+) begin\n[\s\S]*?# cdk8s-postgres-cluster e2e \1 end\n?/g,
    (block, pid) => (Number(pid) !== process.pid && !alive(Number(pid)) ? '' : block));
}

function write(): void {
  const current = withoutStaleBlocks(fs.readFileSync(FILE, 'utf8'));
  const start = current.indexOf(BEGIN);
  const stop = current.indexOf(END);
  const base = start >= 0 && stop > start ? current.slice(0, start) + current.slice(stop + END.length + 1) : current;
  const block = entries.size === 0 ? '' : [BEGIN, ...[...entries].map(([n, ip]) => `${ip} ${n}`), END, ''].join('\n');
  fs.writeFileSync(FILE, (base.endsWith('\n') || base === '' ? base : base + '\n') + block);
}
