#!/usr/bin/env bash
# The local services' own certificate authority (development only; production uses the
# site's CA): one CA signs the loopback certificates of Mosquitto's MQTTS listener and of
# Kafka's SASL_SSL listener, so a client trusts both with one file, .local/tls/ca.crt.
#   deploy/local/tls.sh ca                 make .local/tls/ca.{crt,key} if missing
#   deploy/local/tls.sh server NAME DIR    make DIR/{ca.crt,server.crt,server.key} for NAME
#                                          (valid for 127.0.0.1 and localhost) unless DIR
#                                          has all three already
# Keys are EC P-256, readable by their owner only; certificates are valid 825 days.
source "$(dirname "$0")/common.sh"
TLS_DIR="$LOCAL_DIR/tls"

ca() {
  [[ -s "$TLS_DIR/ca.crt" && -s "$TLS_DIR/ca.key" ]] && return 0
  command -v openssl >/dev/null || die "openssl not found: apt-get install openssl"
  mkdir -p "$TLS_DIR"; chmod 0700 "$TLS_DIR"
  (umask 077; openssl ecparam -name prime256v1 -genkey -noout -out "$TLS_DIR/ca.key")
  openssl req -x509 -new -key "$TLS_DIR/ca.key" -sha256 -days 3650 \
    -subj "/CN=PTS local CA $(hostname)" -out "$TLS_DIR/ca.crt" 2>/dev/null
  log "made the local CA $TLS_DIR/ca.crt"
}

server() {
  local name=$1 dir=$2
  # Certificates already there are kept (an operator's own, or a test's own CA).
  [[ -s "$dir/ca.crt" && -s "$dir/server.crt" && -s "$dir/server.key" ]] && return 0
  ca
  mkdir -p "$dir"; chmod 0700 "$dir"
  (umask 077; openssl ecparam -name prime256v1 -genkey -noout -out "$dir/server.key")
  local ext; ext=$(mktemp)
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$ext"
  openssl req -new -key "$dir/server.key" -subj "/CN=$name" 2>/dev/null |
    openssl x509 -req -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
      -days 825 -sha256 -extfile "$ext" -out "$dir/server.crt" 2>/dev/null
  rm -f "$ext"
  cp -f "$TLS_DIR/ca.crt" "$dir/ca.crt"
  log "made a certificate for $name in $dir (signed by $TLS_DIR/ca.crt)"
}

case "${1:-}" in
  ca) ca ;;
  server) [[ $# -eq 3 ]] || { echo "usage: $0 server NAME DIR" >&2; exit 2; }; server "$2" "$3" ;;
  *) echo "usage: $0 {ca|server NAME DIR}" >&2; exit 2 ;;
esac
