#!/usr/bin/env bash
# A private Apache Kafka broker in KRaft mode (one node: broker + controller) on loopback,
# built from Maven Central jars (deploy/local/kafka/pom.xml) and run with the machine's Java.
#   deploy/local/kafka.sh {install|start|stop|status}
# Port: PTS_KAFKA_PORT (default 19092), controller PTS_KAFKA_CONTROLLER_PORT (19093).
# Data, logs and jars: .local/kafka/. Heap: PTS_KAFKA_HEAP (default 512m).
source "$(dirname "$0")/common.sh"
PORT="${PTS_KAFKA_PORT:-19092}"
CPORT="${PTS_KAFKA_CONTROLLER_PORT:-19093}"
DIR="$LOCAL_DIR/kafka"
LIB="$DIR/lib"
PIDFILE="$DIR/kafka.pid"
POM="$ROOT/deploy/local/kafka/pom.xml"

install() {
  command -v java >/dev/null || die "java not found: apt-get install openjdk-17-jre-headless"
  if [[ -f "$LIB/.complete" && "$LIB/.complete" -nt "$POM" ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found: apt-get install maven"
  log "fetching the Kafka broker and its dependencies from Maven Central"
  rm -rf "$LIB"; mkdir -p "$LIB"
  mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$LIB" || die "Maven could not fetch the Kafka jars"
  touch "$LIB/.complete"
}

write_config() {
  mkdir -p "$DIR/data" "$DIR/logs"
  cat >"$DIR/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$DIR/data
num.partitions=4
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
num.network.threads=2
num.io.threads=4
CONF
  cat >"$DIR/log4j.properties" <<CONF
log4j.rootLogger=WARN, file
log4j.logger.kafka=INFO
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$DIR/logs/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
CONF
}

java_run() {
  java -Xmx"${PTS_KAFKA_HEAP:-512m}" -Xms128m -XX:+UseG1GC \
    -Dlog4j.configuration="file:$DIR/log4j.properties" -cp "$LIB/*" "$@"
}

# Ready = the port accepts connections and the broker answers a metadata request.
ready() {
  port_taken "$PORT" || return 1
  python3 - "$PORT" <<'PY' 2>/dev/null
import socket, struct, sys
# ApiVersions request v0: the smallest request every Kafka answers once it serves clients.
body = struct.pack(">hhih", 18, 0, 1, 3) + b"pts"
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as s:
    s.sendall(struct.pack(">i", len(body)) + body)
    size = struct.unpack(">i", s.recv(4))[0]
    data = s.recv(size)
    sys.exit(0 if len(data) >= 6 and struct.unpack(">h", data[4:6])[0] == 0 else 1)
PY
}

start() {
  install
  if status >/dev/null 2>&1; then log "already running on port $PORT"; return 0; fi
  for p in "$PORT" "$CPORT"; do
    port_taken "$p" && die "port $p is taken by another process (set PTS_KAFKA_PORT / PTS_KAFKA_CONTROLLER_PORT)"
  done
  write_config
  if [[ ! -f "$DIR/data/meta.properties" ]]; then
    local id; id=$(java_run kafka.tools.StorageTool random-uuid | tail -1)
    java_run kafka.tools.StorageTool format -t "$id" -c "$DIR/server.properties" >"$DIR/logs/format.log" 2>&1 \
      || { cat "$DIR/logs/format.log" >&2; die "formatting the KRaft storage failed"; }
  fi
  nohup java -Xmx"${PTS_KAFKA_HEAP:-512m}" -Xms128m -XX:+UseG1GC \
    -Dlog4j.configuration="file:$DIR/log4j.properties" -cp "$LIB/*" \
    kafka.Kafka "$DIR/server.properties" >"$DIR/logs/stdout.log" 2>&1 &
  echo $! >"$PIDFILE"
  local i
  for ((i = 0; i < 600; i++)); do
    if ready; then log "running on 127.0.0.1:$PORT (KRaft, $(ls "$LIB" | grep -o 'kafka_2.13-[0-9.]*[0-9]' | head -1))"; return 0; fi
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
    sleep 0.2
  done
  tail -30 "$DIR/logs/server.log" "$DIR/logs/stdout.log" >&2 2>/dev/null || true
  stop
  die "Kafka did not become ready"
}

stop() {
  if [[ -f "$PIDFILE" ]]; then
    local pid i; pid=$(cat "$PIDFILE")
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
  fi
  log "stopped"
}

status() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && ready; }

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status && log "running on $PORT" || { log "not running"; exit 1; } ;;
  *) echo "usage: $0 {install|start|stop|status}" >&2; exit 2 ;;
esac
