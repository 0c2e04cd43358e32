#!/usr/bin/env bash
# A private Mosquitto broker for PTS on loopback, with authentication on (password file + ACL).
#   deploy/local/mosquitto.sh {install|start|stop|status|reload}
# Port: PTS_MQTT_PORT (default 11883), TLS port PTS_MQTTS_PORT (default 18883, only if
# .local/mosquitto/tls/{ca.crt,server.crt,server.key} exist). Data: .local/mosquitto.
# Users (name:password), for local use and tests only:
#   pts-bridge:pts-bridge-secret   reads every readings topic ($share subscriptions included)
#   gw-*: per-gateway users are added with `pts gateway add-user` / mosquitto_passwd
# Extra users and ACL lines can be placed in .local/mosquitto/passwd.extra / acl.extra
# (the registry generates these for DAS providers: see ingest/das).
source "$(dirname "$0")/common.sh"
PORT="${PTS_MQTT_PORT:-11883}"
TLS_PORT="${PTS_MQTTS_PORT:-18883}"
DIR="$LOCAL_DIR/mosquitto"
PIDFILE="$DIR/mosquitto.pid"

install() {
  if ! command -v mosquitto >/dev/null && [[ ! -x /usr/sbin/mosquitto ]]; then
    log "installing Mosquitto from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
  fi
}

bin() { command -v mosquitto || echo /usr/sbin/mosquitto; }

write_config() {
  mkdir -p "$DIR/data"
  : >"$DIR/passwd"
  mosquitto_passwd -b "$DIR/passwd" pts-bridge pts-bridge-secret
  mosquitto_passwd -b "$DIR/passwd" pts-test pts-test-secret
  mosquitto_passwd -b "$DIR/passwd" gw-test gw-test-secret
  if [[ -f "$DIR/passwd.extra" ]]; then
    # user:plaintext lines are hashed here; user:$7$... (already hashed) lines are kept as is
    while IFS=: read -r user pass; do
      [[ -n "$user" ]] || continue
      if [[ "$pass" == '$7$'* || "$pass" == '$6$'* ]]; then
        printf '%s:%s\n' "$user" "$pass" >>"$DIR/passwd"
      else
        mosquitto_passwd -b "$DIR/passwd" "$user" "$pass"
      fi
    done <"$DIR/passwd.extra"
  fi
  cat >"$DIR/acl" <<ACL
# the bridge and the test user read and write everything under pts/
user pts-bridge
topic readwrite pts/#
topic read \$share/#
user pts-test
topic readwrite pts/#
topic readwrite test/#
# a gateway writes only below its own id: pts/v1/<gateway_id>/...
pattern write pts/v1/%u/#
pattern read pts/v1/%u/control/#
ACL
  [[ -f "$DIR/acl.extra" ]] && cat "$DIR/acl.extra" >>"$DIR/acl"
  # Mosquitto started as root drops to its 'user'; keep it the owner of our files.
  local me; me=$(id -un)
  cat >"$DIR/mosquitto.conf" <<CONF
user $me
per_listener_settings false
allow_anonymous false
password_file $DIR/passwd
acl_file $DIR/acl
persistence true
persistence_location $DIR/data/
autosave_interval 1
max_inflight_messages 1000
max_queued_messages 1000000
max_packet_size 16777216
log_dest file $DIR/mosquitto.log
log_type error
log_type warning
log_type notice
listener $PORT 127.0.0.1
CONF
  if [[ -f "$DIR/tls/ca.crt" && -f "$DIR/tls/server.crt" && -f "$DIR/tls/server.key" ]]; then
    cat >>"$DIR/mosquitto.conf" <<CONF
listener $TLS_PORT 127.0.0.1
cafile $DIR/tls/ca.crt
certfile $DIR/tls/server.crt
keyfile $DIR/tls/server.key
CONF
  fi
  chmod 0700 "$DIR"; chmod 0600 "$DIR/passwd" "$DIR/acl"
}

start() {
  install
  if status >/dev/null 2>&1; then log "already running on port $PORT"; return 0; fi
  if port_taken "$PORT"; then die "port $PORT is taken by another process (set PTS_MQTT_PORT)"; fi
  write_config
  rm -f "$PIDFILE"
  "$(bin)" -c "$DIR/mosquitto.conf" -d 2>>"$DIR/mosquitto.log"
  wait_port 127.0.0.1 "$PORT" 20 || { tail -20 "$DIR/mosquitto.log" >&2; die "Mosquitto did not start"; }
  pgrep -n -f "mosquitto -c $DIR/mosquitto.conf" >"$PIDFILE"
  log "running on 127.0.0.1:$PORT (auth on)"
}

stop() {
  if [[ -f "$PIDFILE" ]]; then
    local pid; pid=$(cat "$PIDFILE")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$PIDFILE"
  fi
  pkill -f "mosquitto -c $DIR/mosquitto.conf" 2>/dev/null || true
  log "stopped"
}

reload() { write_config; [[ -f "$PIDFILE" ]] && kill -HUP "$(cat "$PIDFILE")"; log "reloaded"; }

status() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && port_taken "$PORT"; }

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  reload) reload ;;
  status) status && log "running on $PORT" || { log "not running"; exit 1; } ;;
  *) echo "usage: $0 {install|start|stop|status|reload}" >&2; exit 2 ;;
esac
