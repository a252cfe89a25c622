#!/usr/bin/env bash
# Whether this kernel can send packets to userspace the way kube-network-policies does: an
# nftables rule with the native "queue" expression (nft_queue, CONFIG_NFT_QUEUE). For comparison
# it also loads the xtables NFQUEUE target (what iptables -j NFQUEUE uses, through nft_compat).
# Runs in a scratch network namespace, so the host's rules are never touched. Needs root.
# Exit 0 when the native queue expression loads, 1 when it does not.
set -uo pipefail
ns="nfqcheck-$$"
ip netns add "$ns" || exit 2
trap 'ip netns del "$ns"' EXIT
nsx() { ip netns exec "$ns" "$@"; }
nsx nft add table inet nfqcheck
nsx nft add chain inet nfqcheck postrouting '{ type filter hook postrouting priority srcnat - 5; policy accept; }'
echo "kernel $(uname -r)"
if out="$(nsx nft add rule inet nfqcheck postrouting ip daddr 192.0.2.1 queue num 100 bypass 2>&1)"; then
  native=yes
  echo "nft queue expression: loads"
else
  native=no
  echo "nft queue expression: refused: $(echo "$out" | head -1)"
fi
if out="$(nsx iptables -t mangle -A POSTROUTING -d 192.0.2.1 -j NFQUEUE --queue-num 100 --queue-bypass 2>&1)"; then
  echo "xtables NFQUEUE target: loads"
else
  echo "xtables NFQUEUE target: refused: $(echo "$out" | head -1)"
fi
[ "$native" = yes ]
