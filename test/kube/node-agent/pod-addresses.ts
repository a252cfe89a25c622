/**
 * Pod IPs of the node agent's Nodes: each Node has a range per IP family (ip-families.ts) and a
 * new pod gets the lowest free host number from 10, the same in every family. A pod keeps the
 * address its status records (the API server refuses to change a pod's IP), e.g. when its Node
 * comes back or the agent restarts, so every recorded address must be taken before a pod new to
 * the Node is given one.
 */
import { hostNumber, IpFamily, podAddress } from './ip-families';
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

  /** `families`: the pod network's, primary first. */
  constructor(private readonly families: readonly IpFamily[] = ['IPv4']) {}

  /**
   * The pod's addresses, one per family, primary first: the ones its status records (its
   * primary podIP), else the lowest free host number of its node.
   */
  allocate(node: AddressNode, uid: string, recorded?: string): string[] {
    const held = this.byUid.get(uid);
    if (held) return this.addresses(node, held.host);
    const owners = this.ownersOf(node);
    const recordedHost = recorded === undefined ? undefined : hostNumber(this.families[0], node.index, recorded);
    let host: number;
    if (recordedHost !== undefined) {
      host = recordedHost;
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
    return this.addresses(node, host);
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

  private addresses(node: AddressNode, host: number): string[] {
    return this.families.map((f) => podAddress(f, node.index, host));
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
