# Shared helpers for the local service scripts (sourced, not run).
# Data lives under the project-local, git-ignored folder .local/ (override with PTS_LOCAL_DIR).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL_DIR="${PTS_LOCAL_DIR:-$ROOT/.local}"
mkdir -p "$LOCAL_DIR"

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# wait_port HOST PORT SECONDS: wait until a TCP port accepts connections.
wait_port() {
  local host=$1 port=$2 secs=$3 i
  for ((i = 0; i < secs * 10; i++)); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# port_taken PORT: true if something already listens on 127.0.0.1:PORT.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
