#!/usr/bin/env bash
# Removes whatever the node agent left behind when it could not stop its pods itself: processes in
# its cgroups, tmpfs volumes, network namespaces and veths, cgroups, and the mount points it
# created on the host's root file system (recorded in $PGK_STATE/mountpoints).
set -uo pipefail
state="${PGK_STATE:-/var/lib/cdk8s-pg-kube}"
unified=/sys/fs/cgroup/unified/pgk
if [ -d "$unified" ]; then
  find "$unified" -name cgroup.kill -exec sh -c 'echo 1 > "$1"' _ {} \; 2>/dev/null
  sleep 0.5
fi
if [ -d "$state/pods" ]; then
  grep " $state/pods/" /proc/self/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m"; done
fi
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^pgk-'); do ip netns del "$ns"; done
for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^pgkv'); do ip link del "$link" 2>/dev/null; done
for base in /sys/fs/cgroup/unified /sys/fs/cgroup/memory /sys/fs/cgroup/cpu; do
  [ -d "$base/pgk" ] && find "$base/pgk" -depth -type d -exec rmdir {} \; 2>/dev/null
done
if [ -f "$state/mountpoints" ]; then
  # Newest first, so a directory goes after what was made inside it.
  tac "$state/mountpoints" | while read -r kind p; do
    if [ "$kind" = f ]; then rm -f "$p"; else rmdir "$p" 2>/dev/null; fi
  done
  rm -f "$state/mountpoints"
fi
exit 0
