#!/usr/bin/env bash
# Local Redis + PostgreSQL for authd development and tests.
#
# Everything lives in a data folder the project owns ($AUTHD_DATA_DIR,
# default <repo>/.data):
#   $DATA/redis/           redis dir (AOF), redis.pid, redis.log
#   $DATA/pg/data/         PostgreSQL cluster (owned by the postgres OS user)
#   $DATA/pg/log           PostgreSQL server log
#
# Ports: $AUTHD_REDIS_PORT (default 6390), $AUTHD_PG_PORT (default 5440),
# both bound to 127.0.0.1 only.
#
#   $DATA/cluster/700N/    Redis Cluster nodes (cluster-up / cluster-down)
#
#   cmd/authd/testdata/interop/node_modules/   openid-client for the
#                          interoperability tests (node: npm ci, pinned by
#                          that folder's package-lock.json)
#
# Usage: scripts/services.sh {up|down|status|env|browser|node|redis-start|redis-stop|pg-start|pg-stop|cluster-up|cluster-down}
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

DATA="${AUTHD_DATA_DIR:-$REPO_ROOT/.data}"
REDIS_PORT="${AUTHD_REDIS_PORT:-6390}"
PG_PORT="${AUTHD_PG_PORT:-5440}"
CLUSTER_PORTS=(7000 7001 7002) # redis cluster (cluster-up): three masters
WAIT_SECS="${AUTHD_SERVICES_TIMEOUT:-60}"

HOST=127.0.0.1
PG_USER_OS=postgres
DATABASES=(authd authd_test)

log() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }

# Make DATA absolute without requiring it to exist yet.
case "$DATA" in
  /*) ;;
  *) DATA="$PWD/$DATA" ;;
esac
REDIS_DIR="$DATA/redis"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
PG_DIR="$DATA/pg"
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/log"

is_root() { [ "$(id -u)" -eq 0 ]; }

# ---------------------------------------------------------------- apt helpers

apt_lists_present() {
  compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null 2>&1 ||
    compgen -G '/var/lib/apt/lists/*_Packages.*' >/dev/null 2>&1
}

apt_run() {
  local sudo=()
  if ! is_root; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to run apt-get $*"
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=300 "$@"
}

# apt_install PKG...: install packages; runs `apt-get update` only when the
# package lists are missing or the first install attempt fails.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; please install: $*"
  log "installing $* with apt-get"
  if ! apt_lists_present; then
    apt_run update -q || die "apt-get update failed"
  fi
  if ! apt_run install -y -q "$@"; then
    log "apt-get install failed; running apt-get update and retrying"
    apt_run update -q || die "apt-get update failed"
    apt_run install -y -q "$@" || die "apt-get install -y $* failed"
  fi
}

# ---------------------------------------------------------------- generic

# wait_for TIMEOUT DESCRIPTION CMD...: poll CMD every 0.2s until it succeeds.
wait_for() {
  local timeout="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  while ! "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.2
  done
  log "$what is ready"
}

tail_log() {
  local f="$1"
  if [ -f "$f" ]; then
    printf -- '----- last lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2 || true
    printf -- '-----\n' >&2
  else
    log "(no log file at $f)"
  fi
}

# pid_alive PID NAME: the process exists and its command line mentions NAME.
pid_alive() {
  local pid="$1" name="$2"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"
}

# pidfile_pid FILE NAME: prints the pid the first line of FILE names when
# that process is alive and is NAME (pid_alive); fails otherwise.
pidfile_pid() {
  local pid=""
  [ -f "$1" ] && pid="$(head -n1 "$1" 2>/dev/null | tr -d '[:space:]' || true)"
  if pid_alive "$pid" "$2"; then
    echo "$pid"
  else
    return 1
  fi
}

# ---------------------------------------------------------------- redis

redis_ping() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
  else
    # Fallback without redis-cli: speak RESP over bash's /dev/tcp.
    (
      exec 3<>"/dev/tcp/$HOST/$REDIS_PORT" || exit 1
      printf 'PING\r\n' >&3
      reply=""
      IFS= read -r -t 2 reply <&3 || true
      [[ "$reply" == "+PONG"* ]]
    ) 2>/dev/null
  fi
}

redis_pid() {
  pidfile_pid "$REDIS_PID" redis-server
}

ensure_redis_installed() {
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    apt_install redis-server
    command -v redis-server >/dev/null 2>&1 || die "redis-server still not found after install"
  fi
}

redis_start() {
  if redis_ping; then
    log "redis already answering on $HOST:$REDIS_PORT"
    return 0
  fi
  ensure_redis_installed
  mkdir -p "$REDIS_DIR"
  if [ -f "$REDIS_PID" ] && ! redis_pid >/dev/null; then
    rm -f "$REDIS_PID" # stale
  fi
  local pid
  if pid="$(redis_pid)"; then
    log "redis-server (pid $pid) from $REDIS_DIR is running but not answering on port $REDIS_PORT; waiting"
  else
    log "starting redis-server on $HOST:$REDIS_PORT (dir $REDIS_DIR)"
    if ! redis-server \
      --bind "$HOST" --port "$REDIS_PORT" \
      --dir "$REDIS_DIR" \
      --appendonly yes --appendfsync everysec --hash-max-listpack-value 512 \
      --daemonize yes \
      --pidfile "$REDIS_PID" \
      --logfile "$REDIS_LOG" 9>&-; then
      tail_log "$REDIS_LOG"
      die "redis-server failed to start"
    fi
  fi
  if ! wait_for "$WAIT_SECS" "redis on $HOST:$REDIS_PORT" redis_ping; then
    tail_log "$REDIS_LOG"
    die "redis did not answer PING on $HOST:$REDIS_PORT within ${WAIT_SECS}s"
  fi
}

redis_stop() {
  local pid
  if ! pid="$(redis_pid)"; then
    if redis_ping; then
      log "redis on port $REDIS_PORT is not ours ($REDIS_PID has no live redis-server); leaving it alone"
    else
      log "redis ($REDIS_DIR) is not running"
    fi
    rm -f "$REDIS_PID"
    return 0
  fi
  log "stopping redis-server (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + WAIT_SECS))
  while pid_alive "$pid" redis-server; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "redis-server (pid $pid) did not exit after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.1
  done
  rm -f "$REDIS_PID"
  log "redis stopped"
}

# ---------------------------------------------------------------- postgres

PGBIN=""

# newest /usr/lib/postgresql/<ver>/bin that has postgres + initdb, or the
# version matching an existing cluster's PG_VERSION when that is installed.
find_pgbin() {
  local want="" d best="" bestv=-1 v
  [ -f "$PG_DATA/PG_VERSION" ] && want="$(tr -d '[:space:]' <"$PG_DATA/PG_VERSION")"
  if [ -n "$want" ] && [ -x "/usr/lib/postgresql/$want/bin/postgres" ]; then
    PGBIN="/usr/lib/postgresql/$want/bin"
    return 0
  fi
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] || continue
    v="$(basename "$(dirname "$d")")"
    v="${v%%.*}"
    [[ "$v" =~ ^[0-9]+$ ]] || continue
    if [ "$v" -gt "$bestv" ]; then
      bestv="$v"
      best="$d"
    fi
  done
  [ -n "$best" ] || return 1
  if [ -n "$want" ] && [ "$want" != "$bestv" ]; then
    die "cluster in $PG_DATA is PostgreSQL $want but only $bestv is installed (remove $PG_DATA to re-create it)"
  fi
  PGBIN="$best"
}

ensure_pg_installed() {
  if ! find_pgbin; then
    apt_install postgresql
    find_pgbin || die "no PostgreSQL server found under /usr/lib/postgresql/*/bin after install"
  fi
}

# Client tools: prefer the server's bin dir, else whatever is on PATH.
pg_tool() {
  local t="$1"
  if [ -n "$PGBIN" ] && [ -x "$PGBIN/$t" ]; then
    echo "$PGBIN/$t"
    return 0
  fi
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/$t" ] && { echo "$d/$t"; return 0; }
  done
  command -v "$t" 2>/dev/null && return 0
  return 1
}

pg_ready() {
  local isready
  isready="$(pg_tool pg_isready)" || return 1
  "$isready" -q -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -t 2
}

# run a command as the postgres OS user (initdb/postgres refuse root).
as_pg() {
  if is_root; then
    runuser -u "$PG_USER_OS" -- "$@"
  else
    "$@"
  fi
}

# Unix socket directory: inside $DATA/pg unless the path would be too long for
# a socket (107 bytes), then /tmp. Clients use TCP anyway.
pg_sockdir() {
  local d="$PG_DIR/run"
  if [ $(( ${#d} + ${#PG_PORT} + 12 )) -lt 100 ]; then
    echo "$d"
  else
    echo /tmp
  fi
}

# Make every ancestor of $PG_DIR traversable by the postgres user (adds only
# the search bit for others where missing, e.g. a clone under /root).
ensure_traversable() {
  is_root || return 0
  local p="$PG_DIR"
  local dirs=()
  while [ "$p" != "/" ] && [ -n "$p" ]; do
    p="$(dirname "$p")"
    dirs+=("$p")
  done
  local i d
  # From / downwards, so a closed parent is fixed before its children are tested.
  for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
    d="${dirs[$i]}"
    if ! runuser -u "$PG_USER_OS" -- test -x "$d" 2>/dev/null; then
      log "making $d traversable for the $PG_USER_OS user (chmod o+x)"
      chmod o+x "$d"
    fi
  done
  runuser -u "$PG_USER_OS" -- test -x "$PG_DIR" ||
    die "$PG_DIR is not reachable by the $PG_USER_OS user"
}

pg_postmaster_pid() {
  pidfile_pid "$PG_DATA/postmaster.pid" postgres
}

pg_initdb() {
  [ -f "$PG_DATA/PG_VERSION" ] && return 0
  if [ -d "$PG_DATA" ] && [ -n "$(ls -A "$PG_DATA" 2>/dev/null)" ]; then
    die "$PG_DATA exists, is not empty and has no PG_VERSION; remove it to re-create the cluster"
  fi
  log "initdb $PG_DATA ($PGBIN)"
  mkdir -p "$PG_DATA"
  is_root && chown "$PG_USER_OS:" "$PG_DATA"
  chmod 700 "$PG_DATA"
  if ! as_pg "$PGBIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 \
    --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1; then
    # Older/odd systems may lack C.UTF-8.
    if grep -qi 'locale' "$PG_DIR/initdb.log"; then
      rm -rf "${PG_DATA:?}"/* 2>/dev/null || true
      as_pg "$PGBIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 \
        --locale=C >"$PG_DIR/initdb.log" 2>&1 || { tail_log "$PG_DIR/initdb.log"; die "initdb failed"; }
    else
      tail_log "$PG_DIR/initdb.log"
      die "initdb failed"
    fi
  fi
  # Loopback only, whatever the command line says; trust auth only for
  # local sockets and loopback TCP.
  cat >>"$PG_DATA/postgresql.conf" <<EOF

# --- authd scripts/services.sh ---
listen_addresses = '$HOST'
EOF
  cat >"$PG_DATA/pg_hba.conf" <<'EOF'
# authd development cluster (scripts/services.sh): loopback only, no passwords.
local   all all                trust
host    all all 127.0.0.1/32   trust
host    all all ::1/128        trust
local   replication all        trust
host    replication all 127.0.0.1/32 trust
EOF
  is_root && chown "$PG_USER_OS:" "$PG_DATA/postgresql.conf" "$PG_DATA/pg_hba.conf"
  return 0
}

pg_start() {
  if pg_ready; then
    log "postgres already answering on $HOST:$PG_PORT"
    pg_ensure_dbs
    return 0
  fi
  ensure_pg_installed
  if is_root && ! id "$PG_USER_OS" >/dev/null 2>&1; then
    # The postgresql-common package creates this user; be safe anyway.
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash "$PG_USER_OS"
  fi
  mkdir -p "$PG_DIR"
  local sockdir
  sockdir="$(pg_sockdir)"
  [ "$sockdir" = /tmp ] || mkdir -p "$sockdir"
  if is_root; then
    chown -R "$PG_USER_OS:" "$PG_DIR"
    ensure_traversable
  fi
  pg_initdb

  local pid
  if pid="$(pg_postmaster_pid)"; then
    log "postgres (pid $pid) from $PG_DATA is running but not answering on port $PG_PORT; waiting"
  else
    log "starting postgres on $HOST:$PG_PORT (data $PG_DATA, socket dir $sockdir)"
    # A stale postmaster.pid is handled by postgres itself (it also checks
    # for orphaned backends through it), except when its pid now belongs to
    # some other live process: then it would refuse to start.
    local oldpid=""
    [ -f "$PG_DATA/postmaster.pid" ] &&
      oldpid="$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null | tr -d '[:space:]')"
    if [[ "$oldpid" =~ ^[0-9]+$ ]] && [ -d "/proc/$oldpid" ] && ! pid_alive "$oldpid" postgres; then
      log "removing stale $PG_DATA/postmaster.pid (pid $oldpid is now another program)"
      rm -f "$PG_DATA/postmaster.pid"
    fi
    touch "$PG_LOG"
    is_root && chown "$PG_USER_OS:" "$PG_LOG"
    if ! as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -W \
      -o "-p $PG_PORT -k '$sockdir' -c listen_addresses=$HOST" start >/dev/null 9>&-; then
      tail_log "$PG_LOG"
      die "pg_ctl start failed"
    fi
  fi
  if ! wait_for "$WAIT_SECS" "postgres on $HOST:$PG_PORT" pg_ready; then
    tail_log "$PG_LOG"
    die "postgres did not become ready on $HOST:$PG_PORT within ${WAIT_SECS}s"
  fi
  pg_ensure_dbs
}

pg_ensure_dbs() {
  local psql db exists
  if ! psql="$(pg_tool psql)"; then
    ensure_pg_installed
    psql="$(pg_tool psql)" || die "psql not found"
  fi
  for db in "${DATABASES[@]}"; do
    exists="$("$psql" -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -tAq -X \
      -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ||
      die "cannot query postgres on $HOST:$PG_PORT as user postgres"
    if [ "$exists" != "1" ]; then
      log "creating database $db"
      local out
      if ! out="$("$psql" -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -X -q \
        -c "CREATE DATABASE \"$db\"" 2>&1)"; then
        # Tolerate a concurrent creator.
        if ! printf '%s' "$out" | grep -q 'already exists'; then
          printf '%s\n' "$out" >&2
          die "could not create database $db"
        fi
      fi
    fi
  done
}

pg_stop() {
  if ! pg_postmaster_pid >/dev/null; then
    if pg_ready; then
      log "postgres on port $PG_PORT is not ours ($PG_DATA has no live postmaster); leaving it alone"
    else
      log "postgres ($PG_DATA) is not running"
    fi
    return 0
  fi
  find_pgbin || die "PostgreSQL binaries not found; cannot run pg_ctl stop"
  log "stopping postgres ($PG_DATA)"
  if ! as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$WAIT_SECS" stop >/dev/null; then
    tail_log "$PG_LOG"
    die "pg_ctl stop failed"
  fi
  log "postgres stopped"
}

# ---------------------------------------------------------------- redis cluster

# A three-master Redis Cluster on loopback for the cluster variant of the
# storage conformance tests: ports $CLUSTER_PORTS, data in $DATA/cluster/<port>
# (AOF on), no replicas. cluster-up is idempotent; cluster-down stops the
# nodes and keeps their data.

cluster_node_ping() {
  [ "$(redis-cli -h "$HOST" -p "$1" ping 2>/dev/null)" = "PONG" ]
}

cluster_node_pid() {
  pidfile_pid "$DATA/cluster/$1/redis.pid" redis-server
}

cluster_ok() {
  redis-cli -h "$HOST" -p "${CLUSTER_PORTS[0]}" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}

cluster_up() {
  ensure_redis_installed
  local port dir
  for port in "${CLUSTER_PORTS[@]}"; do
    dir="$DATA/cluster/$port"
    mkdir -p "$dir"
    if cluster_node_ping "$port"; then
      continue
    fi
    log "starting cluster node on $HOST:$port (dir $dir)"
    # The config file name is relative to --dir.
    if ! (cd "$dir" && redis-server \
      --bind "$HOST" --port "$port" --dir "$dir" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --appendonly yes --appendfsync everysec --hash-max-listpack-value 512 \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" 9>&-); then
      tail_log "$dir/redis.log"
      die "cluster node $port failed to start"
    fi
  done
  for port in "${CLUSTER_PORTS[@]}"; do
    if ! wait_for "$WAIT_SECS" "cluster node $HOST:$port" cluster_node_ping "$port"; then
      tail_log "$DATA/cluster/$port/redis.log"
      die "cluster node $port did not answer PING within ${WAIT_SECS}s"
    fi
  done
  if cluster_ok; then
    log "redis cluster already formed on ports ${CLUSTER_PORTS[*]}"
    return 0
  fi
  # Only create the cluster from nodes that know nothing yet (a node with
  # slots or peers belongs to a half-formed cluster: wait for it instead).
  local known
  known="$(redis-cli -h "$HOST" -p "${CLUSTER_PORTS[0]}" cluster info 2>/dev/null | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')"
  if [ "${known:-1}" = "1" ]; then
    local addrs=()
    for port in "${CLUSTER_PORTS[@]}"; do addrs+=("$HOST:$port"); done
    log "creating redis cluster from ${addrs[*]}"
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$DATA/cluster/create.log" 2>&1 || {
      tail_log "$DATA/cluster/create.log"
      die "redis-cli --cluster create failed"
    }
  fi
  if ! wait_for "$WAIT_SECS" "redis cluster (ports ${CLUSTER_PORTS[*]})" cluster_ok; then
    redis-cli -h "$HOST" -p "${CLUSTER_PORTS[0]}" cluster info >&2 || true
    die "redis cluster did not reach cluster_state:ok within ${WAIT_SECS}s (remove $DATA/cluster to start over)"
  fi
}

cluster_down() {
  local port pid
  for port in "${CLUSTER_PORTS[@]}"; do
    [ -d "$DATA/cluster/$port" ] || continue # never started here
    if ! pid="$(cluster_node_pid "$port")"; then
      log "cluster node $port is not running (or not ours)"
      rm -f "$DATA/cluster/$port/redis.pid"
      continue
    fi
    log "stopping cluster node $port (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + WAIT_SECS))
    while pid_alive "$pid" redis-server; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
    rm -f "$DATA/cluster/$port/redis.pid"
  done
}

# ---------------------------------------------------------------- commands

with_lock() {
  mkdir -p "$DATA"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$DATA/.services.lock"
    flock -w 300 9 || die "timed out waiting for $DATA/.services.lock"
  fi
  "$@"
}

cmd_up() {
  redis_start
  pg_start
  log "up: redis $HOST:$REDIS_PORT, postgres $HOST:$PG_PORT, data $DATA"
}

cmd_down() {
  redis_stop
  pg_stop
  cluster_down
}

cmd_status() {
  local rc=0 pid
  if redis_ping; then
    if pid="$(redis_pid)"; then
      echo "redis:    up   $HOST:$REDIS_PORT  (pid $pid, dir $REDIS_DIR)"
    else
      echo "redis:    up   $HOST:$REDIS_PORT  (not started from $REDIS_DIR)"
    fi
  else
    echo "redis:    DOWN $HOST:$REDIS_PORT  (dir $REDIS_DIR)"
    rc=3
  fi
  if pg_ready; then
    if pid="$(pg_postmaster_pid)"; then
      echo "postgres: up   $HOST:$PG_PORT  (pid $pid, data $PG_DATA)"
    else
      echo "postgres: up   $HOST:$PG_PORT  (not started from $PG_DATA)"
    fi
  else
    echo "postgres: DOWN $HOST:$PG_PORT  (data $PG_DATA)"
    rc=3
  fi
  # The cluster is optional (tests of the cluster variant need it): not part of rc.
  if command -v redis-cli >/dev/null 2>&1 && cluster_ok; then
    echo "cluster:  up   $HOST:${CLUSTER_PORTS[0]}-${CLUSTER_PORTS[2]}  (data $DATA/cluster)"
  else
    echo "cluster:  down $HOST:${CLUSTER_PORTS[0]}-${CLUSTER_PORTS[2]}  (scripts/services.sh cluster-up)"
  fi
  return "$rc"
}

cmd_env() {
  cat <<EOF
export AUTHD_REDIS_URL='redis://$HOST:$REDIS_PORT/0'
export AUTHD_DATABASE_URL='postgres://postgres@$HOST:$PG_PORT/authd?sslmode=disable'
export AUTHD_TEST_REDIS_URL='redis://$HOST:$REDIS_PORT/1'
export AUTHD_TEST_DATABASE_URL='postgres://postgres@$HOST:$PG_PORT/authd_test?sslmode=disable'
export AUTHD_TEST_REDIS_CLUSTER_URL='redis+cluster://$HOST:${CLUSTER_PORTS[0]},$HOST:${CLUSTER_PORTS[1]},$HOST:${CLUSTER_PORTS[2]}'
EOF
}

cmd_browser() {
  if [ -x /usr/bin/chromium ]; then
    log "chromium present: /usr/bin/chromium"
    return 0
  fi
  apt_install chromium
  [ -x /usr/bin/chromium ] || die "/usr/bin/chromium still missing after apt-get install chromium"
}

# Node.js (20 or newer) and the interoperability tests' relying party
# library, openid-client, pinned by $INTEROP_DIR/package-lock.json and
# installed there with npm ci; again only when the lockfile has changed
# since (a copy of it in node_modules marks the install).
INTEROP_DIR="$REPO_ROOT/cmd/authd/testdata/interop"
cmd_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "node $(node --version) is too old: openid-client needs Node.js 20 or newer"
  local stamp="$INTEROP_DIR/node_modules/.authd-package-lock.json"
  if [ -f "$stamp" ] && cmp -s "$stamp" "$INTEROP_DIR/package-lock.json"; then
    log "openid-client present: $INTEROP_DIR/node_modules"
    return 0
  fi
  log "npm ci in $INTEROP_DIR"
  (cd "$INTEROP_DIR" && npm ci --no-audit --no-fund --ignore-scripts >&2) || die "npm ci failed in $INTEROP_DIR"
  cp "$INTEROP_DIR/package-lock.json" "$stamp"
}

usage() {
  cat >&2 <<EOF
usage: $0 {up|down|status|env|browser|node|redis-start|redis-stop|pg-start|pg-stop|cluster-up|cluster-down}
  data dir: $DATA (AUTHD_DATA_DIR)
  redis:    $HOST:$REDIS_PORT (AUTHD_REDIS_PORT)
  postgres: $HOST:$PG_PORT (AUTHD_PG_PORT)
  cluster:  $HOST:${CLUSTER_PORTS[0]}-${CLUSTER_PORTS[2]} (cluster-up: three Redis Cluster masters, data in \$DATA/cluster)
  browser:  Debian chromium for the browser tests; node: Node.js and openid-client (npm ci) for the interop tests
EOF
}

main() {
  local cmd="${1:-}"
  case "$cmd" in
    up) with_lock cmd_up ;;
    down) with_lock cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    browser) cmd_browser ;;
    node) with_lock cmd_node ;;
    redis-start) with_lock redis_start ;;
    redis-stop) with_lock redis_stop ;;
    pg-start) with_lock pg_start ;;
    pg-stop) with_lock pg_stop ;;
    cluster-up) with_lock cluster_up ;;
    cluster-down) with_lock cluster_down ;;
    -h | --help | help) usage ;;
    *)
      usage
      exit 2
      ;;
  esac
}

main "$@"
