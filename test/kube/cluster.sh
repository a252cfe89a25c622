#!/usr/bin/env bash
# A local Kubernetes cluster from real components, for the end-to-end suite and for people:
#   cluster.sh up      builds (or reuses) the binaries, starts etcd, kube-apiserver,
#                      kube-controller-manager, kube-scheduler, kube-proxy, CoreDNS,
#                      cert-manager and the node agent, and prints the KUBECONFIG to use
#   cluster.sh down    stops every process it started and removes everything it made
#   PGK_IP_FAMILY=ipv6|dual cluster.sh up
#                      the same with single-stack IPv6 pods and Services, or dual-stack (IPv4 first)
#   cluster.sh env     prints the `export KUBECONFIG=... PATH=...` lines for a running cluster
#                      (eval "$(bash test/kube/cluster.sh env)" puts its kubectl first on PATH)
# Only the kubelet is emulated (node-agent/): see node-agent/differences.ts.
# Needs root (network namespaces, a bridge, nftables, mounts, cgroups). State lives in $PGK_STATE.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
state="${PGK_STATE:-/var/lib/cdk8s-pg-kube}"
# The pods' network: a bridge owned by this cluster, one /24 (and /112) per node, nothing routed
# beyond it. The host keeps its IPv4 bridge address in every mode: the control plane and the
# tests reach the API server there.
bridge=pgk0
gateway=10.250.0.1
pod_cidr=10.250.0.0/16
service_cidr=10.96.0.0/16
api_service_ip=10.96.0.1
dns_service_ip=10.96.0.10
gateway6=fd00:250::1
pod_cidr6=fd00:250::/64
service_cidr6=fd00:96::/108
api_service_ip6=fd00:96::1
dns_service_ip6=fd00:96::a
ip_family="${PGK_IP_FAMILY:-ipv4}"
case "$ip_family" in
  # primary family first, as Kubernetes orders a dual-stack cluster's ranges
  ipv4) pod_cidrs=$pod_cidr service_cidrs=$service_cidr node_ip=$gateway api_service=$api_service_ip dns_service=$dns_service_ip ;;
  ipv6) pod_cidrs=$pod_cidr6 service_cidrs=$service_cidr6 node_ip=$gateway6 api_service=$api_service_ip6 dns_service=$dns_service_ip6 ;;
  dual) pod_cidrs=$pod_cidr,$pod_cidr6 service_cidrs=$service_cidr,$service_cidr6 node_ip=$gateway api_service=$api_service_ip dns_service=$dns_service_ip ;;
  *) echo "cluster.sh: PGK_IP_FAMILY=$ip_family: use ipv4, ipv6 or dual" >&2; exit 2 ;;
esac
has_ipv6() { [ "$ip_family" != ipv4 ]; }
api_port=6443
etcd_port=23790

log() { echo "cluster.sh: $*" >&2; }

pki() {
  local d="$state/pki"
  mkdir -p "$d"
  [ -f "$d/ca.crt" ] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=cdk8s-pg-kube-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  cat > "$d/apiserver.ext" <<EOF
subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$gateway,IP:$api_service_ip,IP:$gateway6,IP:$api_service_ip6
extendedKeyUsage=serverAuth
keyUsage=digitalSignature,keyEncipherment
EOF
  issue apiserver "/CN=kube-apiserver" "$d/apiserver.ext"
  printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n' > "$d/client.ext"
  issue admin "/O=system:masters/CN=kubernetes-admin" "$d/client.ext"
  issue controller-manager "/CN=system:kube-controller-manager" "$d/client.ext"
  issue scheduler "/CN=system:kube-scheduler" "$d/client.ext"
  issue kube-proxy "/CN=system:kube-proxy" "$d/client.ext"
  issue node-agent "/O=system:masters/CN=cdk8s-node-agent" "$d/client.ext"
  issue coredns "/CN=system:coredns" "$d/client.ext"
  issue cert-manager "/CN=system:cert-manager" "$d/client.ext"
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

issue() {
  local d="$state/pki" name="$1" subj="$2" ext="$3"
  openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$d/$name.key" -out "$d/$name.csr" 2>/dev/null
  openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 3650 \
    -extfile "$ext" -out "$d/$name.crt" 2>/dev/null
  kubeconfig "$name"
}

kubeconfig() {
  local d="$state/pki" name="$1"
  cat > "$state/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cdk8s-pg-kube
  cluster:
    server: https://$gateway:$api_port
    certificate-authority: $d/ca.crt
users:
- name: $name
  user:
    client-certificate: $d/$name.crt
    client-key: $d/$name.key
contexts:
- name: cdk8s-pg-kube
  context: {cluster: cdk8s-pg-kube, user: $name}
current-context: cdk8s-pg-kube
EOF
}

network() {
  ip link show "$bridge" >/dev/null 2>&1 && return 0
  # A fixed address: a bridge without one takes the lowest of its ports', so it changes whenever a
  # pod's veth comes or goes, and every pod whose neighbour entry still holds the old one sends
  # its traffic for the host (and, through kube-proxy, every ClusterIP) into the void until the
  # entry is resolved again (tens of seconds).
  ip link add "$bridge" address 02:50:47:4b:00:01 type bridge
  ip addr add "$gateway/16" dev "$bridge"
  ip link set "$bridge" up
  # Host-originated traffic to a ClusterIP needs a route before kube-proxy's DNAT rewrites it;
  # one that leads onto the bridge keeps an unmatched packet on this machine.
  ip route add "$service_cidr" dev "$bridge"
  cat /proc/sys/net/ipv4/ip_forward > "$state/ip_forward.saved"
  echo 1 > /proc/sys/net/ipv4/ip_forward
  if has_ipv6; then
    ip -6 addr add "$gateway6/64" dev "$bridge" nodad
    ip -6 route add "$service_cidr6" dev "$bridge"
    cat /proc/sys/net/ipv6/conf/all/forwarding > "$state/ip6_forward.saved"
    echo 1 > /proc/sys/net/ipv6/conf/all/forwarding
  fi
  # Pod traffic is forwarded between pods and to the host, never beyond the bridge.
  nft -f - <<EOF
table inet cdk8s-pg-kube-guard {
  chain forward {
    type filter hook forward priority -10; policy accept;
    iifname "$bridge" oifname != "$bridge" drop
    oifname "$bridge" iifname != "$bridge" drop
  }
}
EOF
  # Bridged pod-to-pod replies must pass conntrack for Service DNAT to be undone.
  echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || true
  echo 1 > /proc/sys/net/bridge/bridge-nf-call-ip6tables 2>/dev/null || true
}

# The cluster DNS Service with an address per family, and the slices CoreDNS's pod would publish
# (CoreDNS runs as a host process on the bridge's addresses).
dns_objects() {
  local first=$dns_service_ip ips="\"$dns_service_ip\"" families="IPv4" policy=SingleStack
  case "$ip_family" in
    ipv6) first=$dns_service_ip6 ips="\"$dns_service_ip6\"" families="IPv6" ;;
    dual) ips="\"$dns_service_ip\", \"$dns_service_ip6\"" families="IPv4, IPv6" policy=RequireDualStack ;;
  esac
  cat <<EOF
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  clusterIP: "$first"
  clusterIPs: [$ips]
  ipFamilies: [$families]
  ipFamilyPolicy: $policy
  ports:
    - {name: dns, port: 53, protocol: UDP, targetPort: 53}
    - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
EOF
  local family address
  for family in IPv4 IPv6; do
    case "$family,$ip_family" in
      IPv4,ipv6|IPv6,ipv4) continue ;;
      IPv4,*) address=$gateway ;;
      IPv6,*) address=$gateway6 ;;
    esac
    cat <<EOF
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host-${family,,}
  namespace: kube-system
  labels:
    kubernetes.io/service-name: kube-dns
    endpointslice.kubernetes.io/managed-by: cdk8s-pg-kube
addressType: $family
endpoints:
  - addresses: ["$address"]
    conditions: {ready: true}
ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
EOF
  done
}

start() {
  local name="$1"; shift
  mkdir -p "$state/logs" "$state/pids"
  setsid "$@" >"$state/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$state/pids/$name.pid"
}

wait_for() {
  local what="$1" tries="$2"; shift 2
  for _ in $(seq "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "timed out waiting for $what"
  return 1
}

env_lines() {
  echo "export KUBECONFIG=$state/admin.kubeconfig"
  echo "export PATH=$(cat "$state/bin-dir"):\$PATH"
}

kctl() { "$bin/kubectl" --kubeconfig "$state/admin.kubeconfig" "$@"; }

up() {
  [ "$(id -u)" -eq 0 ] || { log "needs root (network namespaces, bridge, nftables, mounts)"; exit 1; }
  if [ -f "$state/pids/kube-apiserver.pid" ] && kill -0 "$(cat "$state/pids/kube-apiserver.pid")" 2>/dev/null; then
    log "already running"; env_lines; return 0
  fi
  # A cluster whose processes are gone (a reboot, a killed session) leaves its state behind:
  # start from nothing rather than from its old objects.
  if [ -e "$state" ] || ip link show "$bridge" >/dev/null 2>&1 || [ -d /dev/shm/cdk8s-pg-kube-etcd ]; then
    log "removing what a stopped cluster left behind"
    down
  fi
  bin="$(bash "$here/build.sh")"
  addons="$(bash "$here/build-addons.sh")"
  venv="$(bash "$here/python-env.sh")"
  mkdir -p "$state"
  echo "$bin" > "$state/bin-dir"
  echo "$ip_family" > "$state/ip-family"
  pki
  network
  mkdir -p /dev/shm/cdk8s-pg-kube-etcd
  start etcd "$bin/etcd" --name cdk8s-pg-kube --data-dir /dev/shm/cdk8s-pg-kube-etcd --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
    --initial-cluster cdk8s-pg-kube=http://127.0.0.1:23800 --quota-backend-bytes 2147483648
  cat > "$state/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
EOF
  start kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address "$(has_ipv6 && echo :: || echo "$gateway")" --advertise-address "$node_ip" --secure-port "$api_port" \
    --tls-cert-file "$state/pki/apiserver.crt" --tls-private-key-file "$state/pki/apiserver.key" \
    --client-ca-file "$state/pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$state/pki/sa.pub" --service-account-signing-key-file "$state/pki/sa.key" \
    --service-cluster-ip-range "$service_cidrs" \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction \
    --audit-policy-file "$state/audit-policy.yaml" --audit-log-path "$state/logs/audit.log" \
    --audit-log-maxsize 1000
  wait_for "kube-apiserver" 120 kctl get --raw /readyz
  start kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$state/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$state/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$state/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 10257 \
    --controllers '*' --use-service-account-credentials \
    --service-account-private-key-file "$state/pki/sa.key" --root-ca-file "$state/pki/ca.crt" \
    --cluster-cidr "$pod_cidrs" --service-cluster-ip-range "$service_cidrs" \
    --enable-hostpath-provisioner --leader-elect=false
  start kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig "$state/scheduler.kubeconfig" \
    --authentication-kubeconfig "$state/scheduler.kubeconfig" \
    --authorization-kubeconfig "$state/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 10259 --leader-elect=false
  start kube-proxy "$bin/kube-proxy" --kubeconfig "$state/kube-proxy.kubeconfig" \
    --proxy-mode nftables --cluster-cidr "$pod_cidrs" --hostname-override node-a \
    --conntrack-max-per-core 0 --metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256
  kctl apply --server-side -f "$here/bootstrap.yaml" >/dev/null
  dns_objects | kctl apply --server-side -f - >/dev/null
  kctl apply --server-side -f "$(dirname "$addons")/cert-manager-crds" >/dev/null
  kctl wait --for condition=Established --timeout 60s crd --all >/dev/null
  # Cluster DNS: CoreDNS on the bridge's host address, behind the kube-dns Service's ClusterIP.
  cat > "$state/Corefile" <<EOF
.:53 {
    bind $gateway$(if has_ipv6; then echo " $gateway6"; fi)
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $state/coredns.kubeconfig cdk8s-pg-kube
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
    loadbalance
}
EOF
  start coredns "$addons/coredns" -conf "$state/Corefile"
  start cert-manager "$addons/cert-manager-controller" --kubeconfig "$state/cert-manager.kubeconfig" \
    --cluster-resource-namespace cert-manager --metrics-listen-address 127.0.0.1:19402
  start node-agent env PGK_STATE="$state" PGK_VENV="$venv" PGK_GATEWAY="$gateway" PGK_BRIDGE="$bridge" \
    PGK_IP_FAMILY="$ip_family" PGK_GATEWAY6="$gateway6" PGK_DNS="$dns_service" PGK_API_SERVICE="$api_service" \
    node "$repo/node_modules/ts-node/dist/bin.js" --transpile-only --project "$repo/test/tsconfig.json" \
    "$here/node-agent/main.ts"
  wait_for "three Ready nodes" 120 bash -c "[ \"\$('$bin/kubectl' --kubeconfig '$state/admin.kubeconfig' get nodes --no-headers 2>/dev/null | grep -c ' Ready ')\" = 3 ]"
  wait_for "the default ServiceAccount" 120 kctl -n default get serviceaccount default
  log "up ($ip_family): $(kctl version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -1), state in $state"
  env_lines
}

down() {
  if [ -d "$state/pids" ]; then
    # The host-path PersistentVolumes' directories, while the API server can still list them.
    if [ -f "$state/bin-dir" ] && [ -f "$state/admin.kubeconfig" ]; then
      "$(cat "$state/bin-dir")/kubectl" --kubeconfig "$state/admin.kubeconfig" get pv --request-timeout 5s \
        -o jsonpath='{range .items[*]}{.spec.hostPath.path}{"\n"}{end}' 2>/dev/null > "$state/pv-paths" || true
    fi
    # The node agent first: it stops its pods (SIGTERM, then SIGKILL) and removes their namespaces.
    for name in node-agent cert-manager coredns kube-proxy kube-scheduler kube-controller-manager kube-apiserver etcd; do
      local f="$state/pids/$name.pid"
      [ -f "$f" ] || continue
      local pid; pid="$(cat "$f")"
      if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
      fi
      rm -f "$f"
    done
  fi
  # Whatever a killed agent left behind: pod processes, mounts, network namespaces, cgroups.
  PGK_STATE="$state" bash "$here/node-agent/cleanup.sh"
  nft delete table inet cdk8s-pg-kube-guard 2>/dev/null || true
  nft delete table ip kube-proxy 2>/dev/null || true
  nft delete table ip6 kube-proxy 2>/dev/null || true
  ip route del "$service_cidr" dev "$bridge" 2>/dev/null || true
  ip -6 route del "$service_cidr6" dev "$bridge" 2>/dev/null || true
  ip link del "$bridge" 2>/dev/null || true
  if [ -f "$state/ip_forward.saved" ]; then cat "$state/ip_forward.saved" > /proc/sys/net/ipv4/ip_forward; fi
  if [ -f "$state/ip6_forward.saved" ]; then cat "$state/ip6_forward.saved" > /proc/sys/net/ipv6/conf/all/forwarding; fi
  if [ -f "$state/pv-paths" ]; then
    # No PersistentVolume left (every namespace deleted first) is an empty list, not a failure.
    { grep '^/tmp/hostpath_pv/' "$state/pv-paths" || true; } | while read -r p; do rm -rf "$p"; done
    rmdir /tmp/hostpath_pv 2>/dev/null || true
  fi
  rm -rf /dev/shm/cdk8s-pg-kube-etcd "$state"
  log "down: everything removed"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) [ -f "$state/bin-dir" ] || { log "not running (cluster.sh up starts it)"; exit 1; }; env_lines ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
