#!/usr/bin/env bash
# TimescaleDB for the local PostgreSQL, built from a source tarball (no package registry
# reachable from this project's machines ships it).
#   deploy/local/timescaledb.sh {install|ensure|status|source}
#   install  build and install it; fails when no source tarball is found (explicit request)
#   ensure   the same when a tarball is found, else explain where to get one and return 0
#            (`make services-up` and `make test-all` call this: plain mode still works)
#   status   is it installed (exit 0) and does the running cluster preload it?
#   source   print the tarball path looked for
# Does nothing when this version is already installed into the server's directories.
# Settings: PTS_TIMESCALEDB_SOURCE (tarball; default ../shared/vendor/timescaledb-VERSION.tar.gz
# beside the project), PTS_TIMESCALEDB_VERSION (2.28.3: the last line for PostgreSQL 15),
# PTS_TIMESCALEDB_SHA256 (checksum the tarball must have), PTS_PG_BINDIR (server binaries).
source "$(dirname "$0")/common.sh"
VERSION="${PTS_TIMESCALEDB_VERSION:-2.28.3}"
# sha256 of the tarball in ../shared/vendor/ (`git archive --prefix=timescaledb-2.28.3/` of
# tag 2.28.3, commit 4a77ff5cf1bf4348c4f0527e042434a289f06e39)
DEFAULT_SHA256=ec2f7de0ba53a473c01e0a57e09053898c6b1f7487228caff0f1d31c8cb2dedb
SHA256="${PTS_TIMESCALEDB_SHA256:-$DEFAULT_SHA256}"
SOURCE="${PTS_TIMESCALEDB_SOURCE:-$ROOT/../shared/vendor/timescaledb-$VERSION.tar.gz}"
BUILD_DIR="$LOCAL_DIR/timescaledb-build"

HERE="$(cd "$(dirname "$0")" && pwd)"
bindir() { bash "$HERE/postgres.sh" bindir; }
pg_config_value() { "$(bindir)/pg_config" "$1"; }
major() { "$(bindir)/pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/'; }

installed() {
  local lib share
  lib=$(pg_config_value --pkglibdir) share=$(pg_config_value --sharedir)
  [[ -f "$lib/timescaledb-$VERSION.so" && -f "$lib/timescaledb-tsl-$VERSION.so" \
     && -f "$share/extension/timescaledb--$VERSION.sql" ]]
}

where_to_get_it() {
  log "no TimescaleDB source tarball at $SOURCE"
  log "get TimescaleDB $VERSION's source (the tag archive of github.com/timescale/timescaledb:"
  log "  https://github.com/timescale/timescaledb/archive/refs/tags/$VERSION.tar.gz) and run"
  log "  PTS_TIMESCALEDB_SOURCE=/path/to/it.tar.gz $0 install"
  log "the vendored copy of this project's workplace has sha256 $DEFAULT_SHA256;"
  log "for another archive of the same tag set PTS_TIMESCALEDB_SHA256 to the checksum you trust"
}

# Debian build dependencies for the server's major version, pinned to the running server's
# version: the default candidate of postgresql-server-dev-N may be a newer minor release whose
# installation would upgrade the server under its running clusters.
build_dependencies() {
  local mj; mj=$(major)
  local need=()
  [[ -f "$(pg_config_value --includedir-server)/postgres.h" ]] || need+=("postgresql-server-dev-$mj")
  command -v cmake >/dev/null || need+=(cmake)
  command -v gcc >/dev/null || need+=(gcc)
  command -v make >/dev/null || need+=(make)
  [[ -f /usr/include/openssl/ssl.h ]] || need+=(libssl-dev)
  ((${#need[@]})) || return 0
  [[ $(id -u) -eq 0 ]] || die "missing build dependencies: ${need[*]} (install them as root)"
  command -v apt-get >/dev/null || die "missing build dependencies: ${need[*]}"
  local server; server=$(dpkg-query -W -f='${Version}' "postgresql-$mj" 2>/dev/null || true)
  local pkgs=()
  for p in "${need[@]}"; do
    if [[ $p == postgresql-server-dev-* && -n $server ]]; then pkgs+=("$p=$server"); else pkgs+=("$p"); fi
  done
  log "apt-get install ${pkgs[*]}"
  apt-get update -qq
  if [[ -n $server ]] && apt-get -s install "${pkgs[@]}" 2>/dev/null | grep -q "^Inst postgresql-$mj "; then
    die "installing ${pkgs[*]} would upgrade postgresql-$mj under the running server; stop here"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

build() {
  log "verifying $SOURCE"
  local sum; sum=$(sha256sum "$SOURCE" | cut -d' ' -f1)
  [[ $sum == "$SHA256" ]] || die "sha256 of $SOURCE is $sum, expected $SHA256 (PTS_TIMESCALEDB_SHA256)"
  build_dependencies
  rm -rf "$BUILD_DIR"; mkdir -p "$BUILD_DIR"
  tar -xzf "$SOURCE" -C "$BUILD_DIR" --strip-components=1
  log "building TimescaleDB $VERSION for PostgreSQL $(major) in $BUILD_DIR (a few minutes)"
  local jobs pg_config; jobs=$(nproc 2>/dev/null || echo 2) pg_config="$(bindir)/pg_config"
  # (a subshell checked by || ignores set -e: chain the steps)
  (
    cd "$BUILD_DIR" \
      && ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DLINTER=OFF \
        -DPG_CONFIG="$pg_config" >"$BUILD_DIR.log" 2>&1 \
      && cd build \
      && nice -n 10 make -j"$jobs" >>"$BUILD_DIR.log" 2>&1 \
      && make install >>"$BUILD_DIR.log" 2>&1
  ) || { tail -30 "$BUILD_DIR.log" >&2; die "build failed (log: $BUILD_DIR.log)"; }
  installed || die "built, but timescaledb-$VERSION.so is not in $(pg_config_value --pkglibdir)"
  rm -rf "$BUILD_DIR"
  log "installed TimescaleDB $VERSION; deploy/local/postgres.sh start preloads it (restart a running cluster)"
}

install() {
  bash "$HERE/postgres.sh" install  # the server first (Debian's packages when missing)
  if installed; then log "TimescaleDB $VERSION already installed"; return 0; fi
  [[ -f "$SOURCE" ]] || { where_to_get_it; exit 1; }
  build
}

ensure() {
  bash "$HERE/postgres.sh" install
  if installed; then log "TimescaleDB $VERSION already installed"; return 0; fi
  if [[ ! -f "$SOURCE" ]]; then
    where_to_get_it
    log "continuing without it: new databases get plain mode"
    return 0
  fi
  build
}

status() {
  if ! installed; then log "TimescaleDB $VERSION not installed"; return 1; fi
  log "TimescaleDB $VERSION installed in $(pg_config_value --pkglibdir)"
}

case "${1:-}" in
  install) install ;;
  ensure) ensure ;;
  status) status ;;
  source) echo "$SOURCE" ;;
  *) echo "usage: $0 {install|ensure|status|source}" >&2; exit 2 ;;
esac
