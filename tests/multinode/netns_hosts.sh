#!/bin/bash
# Test hosts on one machine: a network namespace per host, each joined by a veth pair to a
# bridge that lives in its own "switch" namespace, on a private test subnet. Processes started
# in a host get that host's network stack and, through a UTS namespace, its own hostname.
#
#   netns_hosts.sh up NAME N        create hosts NAME-h1..hN (addresses FL_SUBNET.1..N), print the
#                                   state directory (hostfile, rsh agent, env file)
#   netns_hosts.sh down NAME        tear down everything NAME created (idempotent; kills what is
#                                   left in the namespaces by PID)
#   netns_hosts.sh exec NAME I CMD  run CMD on host I (its namespace and hostname)
#   netns_hosts.sh netexec NAME I CMD   the same, entering only the network namespace (I = 0: the
#                                   switch, address FL_SUBNET.254, hostname NAMEctl)
#   netns_hosts.sh link NAME I up|down   take host I's link up or down (a network partition)
#
# Node-local storage: every process started in host I (exec, and the daemons the rsh agent
# starts) also gets a mount namespace of its own in which STATE/nodelocal is host I's private
# directory STATE/nodelocal-hI (a bind mount). Everything else, STATE included, is shared by the
# hosts, as a cluster's shared file system is. The bind mounts exist only in the hosts' mount
# namespaces and end with their processes: `down` removes the plain directories.
#
# Nothing here touches the machine's own network: every address and route lives inside the
# namespaces. Exit 77 when namespaces cannot be made (not root, no CAP_NET_ADMIN, no iproute2):
# the tests report a skip then.
set -u

FL_SUBNET=${FL_SUBNET:-10.213.77}
FL_STATE_ROOT=${FL_STATE_ROOT:-/tmp/flopledger-netns}

die() {
  echo "netns_hosts: $*" >&2
  exit 1
}

# Interface and namespace names: NAME must be short (interface names are at most 15 bytes).
check_name() {
  [[ $1 =~ ^[a-z][a-z0-9]{0,7}$ ]] || die "name '$1': expected 1-8 lower-case letters/digits"
}

can_make_namespaces() {
  command -v ip > /dev/null 2>&1 || {
    echo "netns_hosts: 'ip' (iproute2) is not installed" >&2
    return 1
  }
  command -v unshare > /dev/null 2>&1 || {
    echo "netns_hosts: 'unshare' (util-linux) is not installed" >&2
    return 1
  }
  local probe="flprobe$$"
  if ! ip netns add "$probe" 2> /dev/null; then
    echo "netns_hosts: cannot create a network namespace (needs root or CAP_NET_ADMIN)" >&2
    return 1
  fi
  if ! ip netns exec "$probe" unshare --uts --mount true 2> /dev/null; then
    ip netns del "$probe" 2> /dev/null
    echo "netns_hosts: cannot create UTS and mount namespaces (needs CAP_SYS_ADMIN)" >&2
    return 1
  fi
  ip netns del "$probe"
}

host_ns() { echo "$1-h$2"; }
host_name() { echo "${1}node$2"; }

cmd_up() {
  local name=$1 n=$2
  check_name "$name"
  [[ $n =~ ^[1-9]$ ]] || die "host count '$n': expected 1 to 9"
  can_make_namespaces || exit 77
  local state="$FL_STATE_ROOT/$name"
  mkdir -p "$state" || die "cannot create $state"
  echo "$n" > "$state/hosts"
  local sw="$name-sw"
  ip netns add "$sw" || die "cannot add namespace $sw"
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  # The switch has an address too (FL_SUBNET.254): services every host reaches (slurmctld).
  ip -n "$sw" addr add "$FL_SUBNET.254/24" dev br0
  : > "$state/hostfile"
  mkdir -p "$state/nodelocal" || die "cannot create $state/nodelocal"
  local i
  for ((i = 1; i <= n; i++)); do
    mkdir -p "$state/nodelocal-h$i" || die "cannot create $state/nodelocal-h$i"
    local ns
    ns=$(host_ns "$name" "$i")
    ip netns add "$ns" || die "cannot add namespace $ns"
    ip -n "$ns" link set lo up
    # veth pair created in the switch namespace, one end moved into the host.
    ip -n "$sw" link add "p$i" type veth peer name "eth$i" || die "cannot add veth for $ns"
    ip -n "$sw" link set "eth$i" netns "$ns"
    ip -n "$ns" link set "eth$i" name eth0
    ip -n "$ns" addr add "$FL_SUBNET.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$sw" link set "p$i" master br0
    ip -n "$sw" link set "p$i" up
    echo "$FL_SUBNET.$i slots=2" >> "$state/hostfile"
  done
  # The rsh agent Open MPI uses to start its daemons (orted) "remotely": the host argument is a
  # test address; the agent enters that host's namespace with its hostname and runs the command.
  cat > "$state/rsh_agent" << EOF
#!/bin/sh
# Open MPI plm_rsh_agent for the test hosts of $name: AGENT HOST COMMAND...
host=\$1
shift
i=\${host##*.}
case "\$host" in
  $FL_SUBNET.[1-9]) ;;
  *) echo "rsh_agent: unknown test host '\$host'" >&2; exit 1 ;;
esac
exec ip netns exec "$name-h\$i" unshare --uts --mount sh -c \\
  'hostname "\$1" && mount --bind "\$2" "\$3" || exit 1; shift 3; exec sh -c "\$*"' \\
  sh "${name}node\$i" "$state/nodelocal-h\$i" "$state/nodelocal" "\$@"
EOF
  chmod +x "$state/rsh_agent"
  echo "$state"
}

cmd_exec() {
  local name=$1 i=$2 state="$FL_STATE_ROOT/$1"
  shift 2
  exec ip netns exec "$(host_ns "$name" "$i")" unshare --uts --mount sh -c \
    'hostname "$1" && mount --bind "$2" "$3" || exit 1; shift 3; exec "$@"' \
    sh "$(host_name "$name" "$i")" "$state/nodelocal-h$i" "$state/nodelocal" "$@"
}

# Like exec, but only the network namespace is entered: the mount namespace (and so /sys with
# its cgroup mounts, which slurmd needs) stays the machine's. I = 0 is the switch namespace.
cmd_netexec() {
  local name=$1 i=$2 ns host
  shift 2
  if [ "$i" = 0 ]; then
    ns="$name-sw" host="${name}ctl"
  else
    ns=$(host_ns "$name" "$i") host=$(host_name "$name" "$i")
  fi
  exec nsenter --net="/run/netns/$ns" unshare --uts sh -c 'hostname "$1"; shift; exec "$@"' \
    sh "$host" "$@"
}

cmd_link() {
  local name=$1 i=$2 updown=$3
  ip -n "$name-sw" link set "p$i" "$updown"
}

cmd_down() {
  local name=$1
  check_name "$name"
  local ns
  for ns in $(ip netns list 2> /dev/null | awk '{print $1}' | grep -E "^$name-(h[0-9]|sw)$"); do
    # Whatever still runs in the namespace (a rank, an orted) is killed by PID.
    local pids
    pids=$(ip netns pids "$ns" 2> /dev/null)
    [ -n "$pids" ] && kill -9 $pids 2> /dev/null
    ip netns del "$ns" 2> /dev/null
  done
  rm -rf "${FL_STATE_ROOT:?}/$name"
  return 0
}

[ $# -ge 2 ] || die "usage: $0 up NAME N | down NAME | exec NAME I CMD... | link NAME I up|down"
action=$1
shift
case "$action" in
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  exec) cmd_exec "$@" ;;
  netexec) cmd_netexec "$@" ;;
  link) cmd_link "$@" ;;
  *) die "unknown action '$action'" ;;
esac
