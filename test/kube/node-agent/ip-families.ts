/**
 * The IP families of the test cluster's pod network (cluster.sh's PGK_IP_FAMILY): IPv4 alone
 * (the default), IPv6 alone, or dual-stack with IPv4 first. Node <index> owns 10.250.<index>.0/24
 * and fd00:250::<index>:0/112; a pod's host number is the same in both, so its addresses are
 * 10.250.<index>.<n> and fd00:250::<index>:<n> (the number written as it is, read as hex in IPv6).
 */

/** An address family, as Kubernetes spells it in ipFamilies. */
export type IpFamily = 'IPv4' | 'IPv6';

/** The families of a PGK_IP_FAMILY value, primary first. */
export function parseIpFamilies(value: string | undefined): IpFamily[] {
  switch (value ?? 'ipv4') {
    case 'ipv4': return ['IPv4'];
    case 'ipv6': return ['IPv6'];
    case 'dual': return ['IPv4', 'IPv6'];
    default: throw new Error(`PGK_IP_FAMILY=${value}: use ipv4, ipv6 or dual`);
  }
}

const PREFIX: Record<IpFamily, (node: number) => string> = {
  IPv4: (node) => `10.250.${node}.`,
  IPv6: (node) => `fd00:250::${node}:`,
};

/** Host number `host` of node `node` in the family. */
export function podAddress(family: IpFamily, node: number, host: number): string {
  return `${PREFIX[family](node)}${host}`;
}

/** The host number of `ip` if it is one of node `node`'s addresses in the family. */
export function hostNumber(family: IpFamily, node: number, ip: string): number | undefined {
  const prefix = PREFIX[family](node);
  if (!ip.startsWith(prefix)) return undefined;
  const rest = ip.slice(prefix.length);
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}

/** The node's pod CIDR in the family. */
export function podCidr(family: IpFamily, node: number): string {
  return family === 'IPv4' ? `10.250.${node}.0/24` : `fd00:250::${node}:0/112`;
}

/** The prefix length of a pod's address on the shared bridge. */
export function bridgePrefix(family: IpFamily): number {
  return family === 'IPv4' ? 16 : 64;
}

/** The family of an address. */
export function familyOf(ip: string): IpFamily {
  return ip.includes(':') ? 'IPv6' : 'IPv4';
}
