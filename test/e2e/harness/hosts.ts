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

/** Removes every entry this process added. */
export function removeHosts(): void {
  entries.clear();
  write();
}

function write(): void {
  const current = fs.readFileSync(FILE, 'utf8');
  const start = current.indexOf(BEGIN);
  const stop = current.indexOf(END);
  const base = start >= 0 && stop > start ? current.slice(0, start) + current.slice(stop + END.length + 1) : current;
  const block = entries.size === 0 ? '' : [BEGIN, ...[...entries].map(([n, ip]) => `${ip} ${n}`), END, ''].join('\n');
  fs.writeFileSync(FILE, (base.endsWith('\n') || base === '' ? base : base + '\n') + block);
}
