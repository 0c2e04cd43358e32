#!/usr/bin/env bash
# A private Mosquitto broker for PTS on loopback, with authentication on (password file + ACL).
#   deploy/local/mosquitto.sh {install|start|stop|status|reload}
# Port: PTS_MQTT_PORT (default 11883), TLS port PTS_MQTTS_PORT (default 18883): MQTTS with a
# certificate for 127.0.0.1/localhost in .local/mosquitto/tls/, signed by the local CA
# .local/tls/ca.crt (deploy/local/tls.sh; the bridge: PTS_MQTT_TLS_CAFILE=.local/tls/ca.crt,
# PTS_MQTT_PORT=18883). Certificates already in .local/mosquitto/tls/ are kept (bring your
# own); PTS_MQTTS_PORT=0 turns MQTTS off. $SYS counts every PTS_MQTT_SYS_INTERVAL seconds (10).
# Data: .local/mosquitto.
# Accounts: the broker runs Mosquitto's dynamic-security plugin, which checks subscriptions
# too (an ACL file cannot: a gateway could join the bridge's $share group and make other sites'
# messages vanish). Every password is kept only as the broker's salted PBKDF2-SHA512 hash in
# .local/mosquitto/dynsec.json. The first start creates exactly two accounts, each with a random
# password in a file only its owner can read:
#   pts-admin   .local/mosquitto/secrets/pts-admin    changes accounts (dynamic-security API)
#   pts-bridge  .local/mosquitto/secrets/pts-bridge   reads readings only via $share/bridge/
# There are no fixed accounts. Gateways: `pts gateway add-user GATEWAY_ID` (publish only below
# pts/v1/GATEWAY_ID/); DAS providers: `pts das set-mqtt-password` and `pts das acl`. The test
# suite makes its own accounts through the same API. Everything else is refused.
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

plugin_path() {
  local found
  found=$(ls /usr/lib/*/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so \
    /usr/local/lib/mosquitto_dynamic_security.so 2>/dev/null | head -1) || true
  [[ -n "$found" ]] || die "Mosquitto's dynamic-security plugin (mosquitto_dynamic_security.so) is missing; install Debian's mosquitto 2.x"
  echo "$found"
}

# The first start: random passwords for pts-admin and pts-bridge, and the plugin's state file
# with their salted hashes, the two roles and refusing defaults. Kept across restarts.
init_accounts() {
  [[ -f "$DIR/dynsec.json" ]] && return 0
  mkdir -p "$DIR/secrets"; chmod 0700 "$DIR/secrets"
  local name
  for name in pts-admin pts-bridge; do
    [[ -s "$DIR/secrets/$name" ]] || (umask 077; openssl rand -base64 24 | tr -d '\n=+/' >"$DIR/secrets/$name")
  done
  SECRETS="$DIR/secrets" SHARE_GROUP="${PTS_MQTT_SHARE_GROUP:-bridge}" ROOT_TOPIC="${PTS_MQTT_TOPIC_ROOT:-pts/v1}" \
    python3 - "$DIR/dynsec.json" <<'PY'
import base64, hashlib, json, os, secrets, sys

def client(name, roles):
    password = open(os.path.join(os.environ["SECRETS"], name)).read().strip().encode()
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password, salt, 101, 64)
    return {"username": name, "password": base64.b64encode(digest).decode(),
            "salt": base64.b64encode(salt).decode(), "iterations": 101,
            "roles": [{"rolename": r} for r in roles]}

control = "$CONTROL/dynamic-security/#"
root, group = os.environ["ROOT_TOPIC"], os.environ["SHARE_GROUP"]
state = {
    "clients": [client("pts-admin", ["admin"]), client("pts-bridge", ["bridge"])],
    "roles": [
        {"rolename": "admin", "acls": [
            {"acltype": "publishClientSend", "topic": control, "allow": True},
            {"acltype": "publishClientReceive", "topic": control, "allow": True},
            {"acltype": "subscribePattern", "topic": control, "allow": True}]},
        {"rolename": "bridge", "acls": [
            {"acltype": "subscribePattern", "topic": f"$share/{group}/{root}/#", "allow": True},
            {"acltype": "publishClientReceive", "topic": f"{root}/#", "allow": True}] + [
            # the bridge's broker watch (ingest/broker_watch.py, ingest/broker_roles.py)
            {"acltype": kind, "topic": sys_topic, "allow": True}
            for sys_topic in ("$SYS/broker/store/messages/#", "$SYS/broker/clients/disconnected")
            for kind in ("subscribePattern", "publishClientReceive")]},
    ],
    "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                         "subscribe": False, "unsubscribe": True},
}
with open(sys.argv[1], "w") as out:
    json.dump(state, out, indent=1)
PY
  chmod 0600 "$DIR/dynsec.json"
  log "created accounts pts-admin and pts-bridge (passwords in $DIR/secrets/)"
}

write_config() {
  mkdir -p "$DIR/data"
  init_accounts
  [[ "$TLS_PORT" == 0 ]] || bash "$(dirname "$0")/tls.sh" server mosquitto "$DIR/tls"
  # Mosquitto started as root drops to its 'user'; keep it the owner of our files.
  local me; me=$(id -un)
  cat >"$DIR/mosquitto.conf" <<CONF
user $me
per_listener_settings false
allow_anonymous false
plugin $(plugin_path)
plugin_opt_config_file $DIR/dynsec.json
persistence true
persistence_location $DIR/data/
autosave_interval 1
sys_interval ${PTS_MQTT_SYS_INTERVAL:-10}
max_inflight_messages 1000
max_queued_messages 1000000
max_packet_size 16777216
log_dest file $DIR/mosquitto.log
log_type error
log_type warning
log_type notice
listener $PORT 127.0.0.1
CONF
  if [[ "$TLS_PORT" != 0 && -f "$DIR/tls/ca.crt" && -f "$DIR/tls/server.crt" && -f "$DIR/tls/server.key" ]]; then
    cat >>"$DIR/mosquitto.conf" <<CONF
listener $TLS_PORT 127.0.0.1
cafile $DIR/tls/ca.crt
certfile $DIR/tls/server.crt
keyfile $DIR/tls/server.key
CONF
  fi
  chmod 0700 "$DIR"
}

start() {
  install
  if status >/dev/null 2>&1; then log "already running on port $PORT"; return 0; fi
  if port_taken "$PORT"; then die "port $PORT is taken by another process (set PTS_MQTT_PORT)"; fi
  if [[ "$TLS_PORT" != 0 ]] && port_taken "$TLS_PORT"; then
    die "port $TLS_PORT is taken by another process (set PTS_MQTTS_PORT, or 0 for no MQTTS)"
  fi
  write_config
  rm -f "$PIDFILE"
  "$(bin)" -c "$DIR/mosquitto.conf" -d 2>>"$DIR/mosquitto.log"
  wait_port 127.0.0.1 "$PORT" 20 || { tail -20 "$DIR/mosquitto.log" >&2; die "Mosquitto did not start"; }
  if [[ "$TLS_PORT" != 0 ]]; then
    wait_port 127.0.0.1 "$TLS_PORT" 5 || { tail -20 "$DIR/mosquitto.log" >&2; die "Mosquitto's MQTTS listener did not open"; }
  fi
  pgrep -n -f "mosquitto -c $DIR/mosquitto.conf" >"$PIDFILE"
  log "running on 127.0.0.1:$PORT, MQTTS ${TLS_PORT/#0/off} (auth on)"
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
