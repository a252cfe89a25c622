/**
 * Pod IPs of the node agent's Nodes: each Node has 10.250.<index>.0/24 and a new pod gets the
 * lowest free host number from 10. A pod keeps the address its status records (the API server
 * refuses to change a pod's IP), e.g. when its Node comes back or the agent restarts, so every
 * recorded address must be taken before a pod new to the Node is given one.
 */
import type { KubeObject } from './kube-client';

export interface AddressNode {
  readonly name: string;
  readonly index: number;
}

const FIRST = 10;
const LAST = 250;

export class PodAddresses {
  /** node -> host number -> pod uid */
  private readonly owners = new Map<string, Map<number, string>>();
  private readonly byUid = new Map<string, { node: string; host: number }>();

  /** The pod's address: the one its status records, else the lowest free one of its node. */
  allocate(node: AddressNode, uid: string, recorded?: string): string {
    const held = this.byUid.get(uid);
    if (held) return `10.250.${node.index}.${held.host}`;
    const owners = this.ownersOf(node);
    const prefix = `10.250.${node.index}.`;
    let host: number;
    if (recorded?.startsWith(prefix)) {
      host = Number(recorded.slice(prefix.length));
      const other = owners.get(host);
      if (other !== undefined && other !== uid) {
        throw new Error(`pod ${uid}: its recorded address ${recorded} is held by pod ${other}`);
      }
    } else {
      host = FIRST;
      while (owners.has(host)) host++;
      if (host > LAST) throw new Error(`node ${node.name}: no pod addresses left`);
    }
    owners.set(host, uid);
    this.byUid.set(uid, { node: node.name, host });
    return `${prefix}${host}`;
  }

  /** The pod's address is free again (its pod is gone or will not run again on this agent). */
  release(uid: string): void {
    const a = this.byUid.get(uid);
    if (!a) return;
    const owners = this.owners.get(a.node);
    if (owners?.get(a.host) === uid) owners.delete(a.host);
    this.byUid.delete(uid);
  }

  /**
   * Takes the addresses recorded in the status of the pods bound to the node that will run (at
   * start, and when a lost node comes back), before any pod without one is given an address. A
   * finished pod's address is free, as when a kubelet has removed its sandbox. An address two
   * pods record stays with the first; the other one's allocate() then refuses it.
   */
  reserveRecorded(node: AddressNode, pods: readonly KubeObject[]): void {
    for (const pod of pods) {
      if (pod.spec?.nodeName !== node.name || !pod.status?.podIP || pod.metadata.deletionTimestamp) continue;
      if (pod.status.phase === 'Succeeded' || pod.status.phase === 'Failed') continue;
      try {
        this.allocate(node, pod.metadata.uid, pod.status.podIP);
      } catch {
        // refused again, with its message, when that pod is started
      }
    }
  }

  private ownersOf(node: AddressNode): Map<number, string> {
    let owners = this.owners.get(node.name);
    if (!owners) {
      owners = new Map();
      this.owners.set(node.name, owners);
    }
    return owners;
  }
}
