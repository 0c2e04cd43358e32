#!/usr/bin/env bash
# A private PostgreSQL cluster for PTS on loopback, from the machine's own binaries.
#   deploy/local/postgres.sh {install|start|stop|restart|status|url [SERVICE]|logins|bindir}
# Port: PTS_PG_PORT (default 15432). Data: .local/postgres. Superuser: pts (trust on loopback).
# Authentication (docs/database-roles.md): only the owner `pts` is trusted on loopback (the
# migrations, admin commands and the test suite); every other role needs its scram-sha-256
# password. `start` makes one login per service (pts_stream_login, pts_intake_login,
# pts_web_login, pts_certify_login) in its group role, with a random password kept in
# .local/postgres/secrets/<login> and in the libpq password file .local/postgres/pgpass;
# `url SERVICE` prints the URL a service uses (passfile=…: no password on any command line).
# When TimescaleDB is installed into the server (deploy/local/timescaledb.sh install) the
# cluster preloads it, so new databases can be migrated in timescale mode; without it they get
# plain mode. A running cluster picks a change up only on `restart` (drops every connection).
source "$(dirname "$0")/common.sh"
PORT="${PTS_PG_PORT:-15432}"
DATA="$LOCAL_DIR/postgres/data"
LOGFILE="$LOCAL_DIR/postgres/server.log"

SECRETS="$LOCAL_DIR/postgres/secrets"
PGPASS="$LOCAL_DIR/postgres/pgpass"
SERVICES=(stream intake web certify)

find_bindir() {
  local d
  for d in "${PTS_PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
    [[ -n "$d" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  done
  return 1
}

install() {
  if ! find_bindir >/dev/null; then
    log "installing PostgreSQL from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  find_bindir >/dev/null || die "no pg_ctl found under /usr/lib/postgresql/*/bin (set PTS_PG_BINDIR)"
}

timescaledb_installed() { [[ -f "$("$1/pg_config" --pkglibdir)/timescaledb.so" ]]; }

# The preload lives in its own file, included from postgresql.conf, rewritten on each start.
configure_timescaledb() {
  local bin=$1 conf="$DATA/pts-timescaledb.conf"
  grep -q "^include_if_exists = 'pts-timescaledb.conf'" "$DATA/postgresql.conf" \
    || echo "include_if_exists = 'pts-timescaledb.conf'" >>"$DATA/postgresql.conf"
  if timescaledb_installed "$bin"; then
    cat >"$conf" <<CONF
# written by deploy/local/postgres.sh: TimescaleDB is installed into this server
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
# one job scheduler per database with the extension (tests create many databases)
timescaledb.max_background_workers = 24
max_worker_processes = 36
CONF
    [[ $(id -u) -eq 0 ]] && chown postgres "$conf"
    log "TimescaleDB installed: preloaded (new databases get timescale mode)"
  else
    rm -f "$conf"
    log "TimescaleDB not installed: plain PostgreSQL mode (deploy/local/timescaledb.sh install adds it)"
  fi
}

# True when the running server loads what its configuration asks for.
preload_current() {
  local bin=$1 loaded
  loaded=$("$bin/psql" -h 127.0.0.1 -p "$PORT" -U pts -d postgres -tAc "SHOW shared_preload_libraries")
  if timescaledb_installed "$bin"; then [[ $loaded == *timescaledb* ]]; else [[ $loaded != *timescaledb* ]]; fi
}

# pg_hba.conf, rewritten on each start: trust for the owner only, scram-sha-256 for the rest.
configure_auth() {
  cat >"$DATA/pg_hba.conf" <<HBA
# written by deploy/local/postgres.sh (docs/database-roles.md); rewritten on each start
# the owner pts: trusted on loopback (migrations, admin commands, the test suite)
host    all             pts             127.0.0.1/32            trust
host    all             pts             ::1/128                 trust
host    replication     pts             127.0.0.1/32            trust
# every other role (services, analysts): its password, scram-sha-256
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
HBA
  [[ $(id -u) -eq 0 ]] && chown postgres "$DATA/pg_hba.conf"
  return 0
}

psql_owner() { "$1/psql" -h 127.0.0.1 -p "$PORT" -U pts -d postgres -v ON_ERROR_STOP=1 -qtA "${@:2}"; }

# One login per service in its group role (the groups are also made by migration 015), its
# password from its secret file (made once, random), written to the libpq password file.
# SQL goes to psql on stdin: no password on a command line.
service_logins() {
  local bin=$1 svc login secret
  mkdir -p "$SECRETS"; chmod 700 "$SECRETS"
  : >"$PGPASS.new"; chmod 600 "$PGPASS.new"
  for svc in "${SERVICES[@]}"; do
    login="pts_${svc}_login"
    [[ -s "$SECRETS/$login" ]] || (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$SECRETS/$login")
    secret=$(<"$SECRETS/$login")
    psql_owner "$bin" -f - <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pts_${svc}') THEN
        CREATE ROLE pts_${svc} NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${login}') THEN
        CREATE ROLE ${login} LOGIN IN ROLE pts_${svc};
    END IF;
END
\$\$;
SET password_encryption = 'scram-sha-256';
ALTER ROLE ${login} LOGIN PASSWORD '${secret}';
SQL
    printf '127.0.0.1:%s:*:%s:%s\n' "$PORT" "$login" "$secret" >>"$PGPASS.new"
  done
  mv "$PGPASS.new" "$PGPASS"
}

start() {
  install
  local bin; bin=$(find_bindir)
  if status >/dev/null 2>&1; then
    log "already running on port $PORT"
    configure_auth
    psql_owner "$bin" -c "SELECT pg_reload_conf()" >/dev/null
    service_logins "$bin"
    preload_current "$bin" || log "TimescaleDB $(timescaledb_installed "$bin" && echo installed \
      || echo removed) since this cluster started: \`deploy/local/postgres.sh restart\` to apply"
    return 0
  fi
  if port_taken "$PORT"; then die "port $PORT is taken by another process (set PTS_PG_PORT)"; fi
  # initdb refuses to run as root; run the cluster as the 'postgres' system user when root.
  local runas=()
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --home "$LOCAL_DIR/postgres" postgres
    mkdir -p "$LOCAL_DIR/postgres"; chown postgres "$LOCAL_DIR/postgres"
    runas=(runuser -u postgres --)
  fi
  if [[ ! -s "$DATA/PG_VERSION" ]]; then
    log "initdb $DATA"
    "${runas[@]}" "$bin/initdb" -D "$DATA" -U pts --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = on
synchronous_commit = off
shared_buffers = 256MB
max_connections = 200
max_wal_size = 2GB
CONF
  fi
  configure_timescaledb "$bin"
  configure_auth
  "${runas[@]}" "$bin/pg_ctl" -D "$DATA" -l "$LOGFILE" -o "-p $PORT" -w -t 60 start >/dev/null \
    || { tail -20 "$LOGFILE" >&2; die "PostgreSQL did not start"; }
  "$bin/psql" -h 127.0.0.1 -p "$PORT" -U pts -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='pts'" | grep -q 1 \
    || "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U pts pts
  service_logins "$bin"
  log "running: $(url)"
}

stop() {
  local bin; bin=$(find_bindir) || return 0
  [[ -s "$DATA/PG_VERSION" ]] || return 0
  local runas=(); [[ $(id -u) -eq 0 ]] && runas=(runuser -u postgres --)
  "${runas[@]}" "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
  log "stopped"
}

status() {
  local bin; bin=$(find_bindir) || return 1
  [[ -s "$DATA/PG_VERSION" ]] || return 1
  "$bin/pg_isready" -h 127.0.0.1 -p "$PORT" -q
}

# url [SERVICE]: the owner's URL, or the URL of a service's login (stream|intake|web|certify)
url() {
  if [[ -z "${1:-}" ]]; then echo "postgresql://pts@127.0.0.1:$PORT/pts"; return; fi
  [[ " ${SERVICES[*]} " == *" $1 "* ]] || die "no service $1 (one of: ${SERVICES[*]})"
  echo "postgresql://pts_${1}_login@127.0.0.1:$PORT/pts?passfile=$PGPASS"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  bindir) find_bindir || die "no pg_ctl found under /usr/lib/postgresql/*/bin (set PTS_PG_BINDIR)" ;;
  status) status && log "running on $PORT" || { log "not running"; exit 1; } ;;
  url) url "${2:-}" ;;
  logins) status || die "not running"; service_logins "$(find_bindir)"; log "logins written to $PGPASS" ;;
  *) echo "usage: $0 {install|start|stop|restart|status|url [SERVICE]|logins|bindir}" >&2; exit 2 ;;
esac
