#!/usr/bin/env bash
# Run a command against a throwaway Neo4j (embedded 5.26, Bolt only, no Docker).
#
#   tools/neo4j/with-neo4j.sh CMD [ARGS...]   start Neo4j, run CMD with NEO4J_URI/NEO4J_USER/
#                                             NEO4J_PASSWORD exported (and SKEIN_TEST_NEO4J_*, to
#                                             start private instances), stop Neo4j, exit with CMD's status
#   tools/neo4j/with-neo4j.sh bash            explore: a shell with the variables set
#   NEO4J_PASSWORD=... tools/neo4j/with-neo4j.sh --hold
#                                             keep Neo4j running (with that password) until Ctrl-C
#
# If NEO4J_URI is already set, CMD simply runs against that server.
# Environment knobs: NEO4J_START_TIMEOUT (seconds, default 180), NEO4J_JAVA_OPTS (extra JVM
# flags), JAVA_HOME, SKEIN_CACHE_DIR (default <repo>/.cache). See tools/neo4j/README.md.
# shellcheck disable=SC2317 # cleanup/on_signal/stop_neo4j run from traps
set -euo pipefail

log() { printf 'neo4j: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

usage() {
  sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

hold=false
case "${1:-}" in
  --hold) hold=true; shift; [[ $# -eq 0 ]] || usage ;;
  -h|--help|"") usage ;;
esac

if [[ -n "${NEO4J_URI:-}" ]]; then
  log "NEO4J_URI is set; using the existing Neo4j at $NEO4J_URI"
  $hold && die "--hold makes no sense with NEO4J_URI set"
  exec "$@"
fi

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE_DIR=${SKEIN_CACHE_DIR:-$REPO_ROOT/.cache}
M2_REPO=$CACHE_DIR/m2
BUILD_DIR=$CACHE_DIR/neo4j/build
START_TIMEOUT=${NEO4J_START_TIMEOUT:-180}

if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
  JAVA=$JAVA_HOME/bin/java
else
  JAVA=$(command -v java) || die "java not found (need a JDK >= 17), or set NEO4J_URI to use an existing Neo4j"
fi

java_spec=$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')
[[ ${java_spec%%.*} =~ ^[0-9]+$ && ${java_spec%%.*} -ge 17 ]] \
  || die "$JAVA is Java ${java_spec:-?}; Neo4j 5.26 needs Java 17 or 21 (set JAVA_HOME), or set NEO4J_URI"

if $hold; then
  NEO4J_PASSWORD=${NEO4J_PASSWORD:-}
  [[ ${#NEO4J_PASSWORD} -ge 8 ]] \
    || die "--hold needs NEO4J_PASSWORD (>= 8 chars) in the environment; or run: $0 bash"
  password=$NEO4J_PASSWORD
else
  password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
fi

# ---------------------------------------------------------------------------------------------
# Build the launcher into the cache unless it is up to date.

launcher_fingerprint() {
  {
    echo "$M2_REPO"
    cat "$SCRIPT_DIR/pom.xml"
    find "$SCRIPT_DIR/src" -type f -name '*.java' -print0 | LC_ALL=C sort -z | xargs -0 cat
  } | sha256sum | cut -d' ' -f1
}

launcher_ok() {
  [[ -f $BUILD_DIR/.fingerprint && -f $BUILD_DIR/classpath.txt && -f $BUILD_DIR/classes/org/skein/neo4j/Launcher.class ]] || return 1
  [[ $(<"$BUILD_DIR/.fingerprint") == "$1" ]] || return 1
  local jar jars
  IFS=: read -r -a jars <"$BUILD_DIR/classpath.txt"
  [[ ${#jars[@]} -gt 0 ]] || return 1
  for jar in "${jars[@]}"; do [[ -f $jar ]] || return 1; done
}

build_launcher() {
  local fp
  fp=$(launcher_fingerprint)
  launcher_ok "$fp" && return 0
  mkdir -p "$CACHE_DIR/neo4j"
  local lock_fd=
  if command -v flock >/dev/null; then
    exec {lock_fd}>"$CACHE_DIR/neo4j/.build.lock"
    flock -w 900 "$lock_fd" || die "timed out waiting for another build of the launcher"
    if launcher_ok "$fp"; then exec {lock_fd}>&-; return 0; fi
  fi
  command -v mvn >/dev/null || die "mvn not found (needed once to build the launcher), or set NEO4J_URI"
  log "building the launcher into $BUILD_DIR (a cold $M2_REPO means ~155 MB of downloads)"
  # Build next to the old one and swap, so a concurrently starting run never sees a half build.
  local new=$BUILD_DIR.new.$$ mvn_log=$CACHE_DIR/neo4j/build.log
  rm -rf "$new"
  if ! JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$JAVA")")") \
      mvn -B -ntp -Dstyle.color=never -f "$SCRIPT_DIR/pom.xml" \
        -Dmaven.repo.local="$M2_REPO" -Dskein.neo4j.buildDir="$new" compile >"$mvn_log" 2>&1; then
    rm -rf "$new"
    tail -n 60 "$mvn_log" >&2
    die "building the launcher failed (full log: $mvn_log)"
  fi
  echo "$fp" >"$new/.fingerprint"
  rm -rf "$BUILD_DIR"
  mv "$new" "$BUILD_DIR"
  launcher_ok "$fp" || die "launcher build produced no usable classpath (see $mvn_log)"
  [[ -z $lock_fd ]] || exec {lock_fd}>&-
}

build_launcher

# ---------------------------------------------------------------------------------------------
# Start Neo4j.

JVM_OPTS=(
  -Xms256m -Xmx1g
  -XX:+UseG1GC
  -XX:+ExitOnOutOfMemoryError
  -XX:-OmitStackTraceInFastThrow
  -XX:+UnlockExperimentalVMOptions -XX:+TrustFinalNonStaticFields
  -XX:+DisableExplicitGC
  -Djdk.nio.maxCachedBufferSize=1024
  -Dlog4j2.disable.jmx=true
  --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  -Dio.netty.tryReflectionSetAccessible=true
)
# shellcheck disable=SC2206 # word splitting intended
[[ -z "${NEO4J_JAVA_OPTS:-}" ]] || JVM_OPTS+=(${NEO4J_JAVA_OPTS})

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/skein-neo4j.XXXXXXXX")
JAVA_PID=
CMD_PID=
got_signal=

stop_neo4j() {
  [[ -n $JAVA_PID ]] || return 0
  if kill -0 "$JAVA_PID" 2>/dev/null; then
    kill -TERM "$JAVA_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 300; i++)); do
      kill -0 "$JAVA_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$JAVA_PID" 2>/dev/null; then
      log "Neo4j did not stop within 30 s; killing it"
      kill -KILL "$JAVA_PID" 2>/dev/null || true
    fi
  fi
  wait "$JAVA_PID" 2>/dev/null || true
  JAVA_PID=
}

cleanup() {
  local rc=$?
  trap - EXIT
  trap '' INT TERM HUP
  if [[ -n $CMD_PID ]] && kill -0 "$CMD_PID" 2>/dev/null; then
    kill -TERM "$CMD_PID" 2>/dev/null || true
  fi
  stop_neo4j
  rm -rf "$RUN_DIR"
  exit "$rc"
}
trap cleanup EXIT

on_signal() {
  got_signal=$1
  if [[ -n $CMD_PID ]]; then
    # CMD got SIGINT from the terminal already; forward the others.
    [[ $1 == INT ]] || kill -"$1" "$CMD_PID" 2>/dev/null || true
  else
    exit $((128 + $2))
  fi
}
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM
trap 'on_signal HUP 1' HUP

start_fail() {
  log "$1"
  if [[ -s $RUN_DIR/launcher.out ]]; then # JVM startup errors land on stdout
    log "--- launcher stdout (tail) ---"
    tail -n 20 "$RUN_DIR/launcher.out" >&2
  fi
  if [[ -s $RUN_DIR/launcher.err ]]; then
    log "--- launcher stderr (tail) ---"
    tail -n 40 "$RUN_DIR/launcher.err" >&2
  fi
  if [[ -f $RUN_DIR/home/logs/debug.log ]]; then
    log "--- debug.log (tail) ---"
    tail -n 40 "$RUN_DIR/home/logs/debug.log" >&2
  fi
  exit 1
}

# As a background job of this (non-interactive) script the JVM starts with SIGINT ignored, and
# HotSpot then installs no SIGINT handler: a Ctrl-C meant for CMD does not hit Neo4j; cleanup
# stops it with SIGTERM. The password travels in the environment, never on the command line.
LAUNCHER_CP="$BUILD_DIR/classes:$(<"$BUILD_DIR/classpath.txt")"
CLASSPATH=$LAUNCHER_CP NEO4J_PASSWORD=$password \
  "$JAVA" "${JVM_OPTS[@]}" org.skein.neo4j.Launcher \
  --cleanup-if-orphaned="$RUN_DIR" "$RUN_DIR/home" \
  >"$RUN_DIR/launcher.out" 2>"$RUN_DIR/launcher.err" </dev/null &
JAVA_PID=$!

ready=
deadline=$((SECONDS + START_TIMEOUT))
while :; do
  # Complete line only (file ends with a newline).
  if [[ -s $RUN_DIR/launcher.out && -z $(tail -c 1 "$RUN_DIR/launcher.out") ]]; then
    ready=$(grep -m 1 '^NEO4J READY ' "$RUN_DIR/launcher.out" || true)
    [[ -n $ready ]] && break
  fi
  kill -0 "$JAVA_PID" 2>/dev/null || start_fail "Neo4j exited during startup"
  ((SECONDS < deadline)) || start_fail "Neo4j did not start within ${START_TIMEOUT} s"
  sleep 0.2
done

[[ $ready =~ ^NEO4J\ READY\ (bolt://([0-9.]+):([0-9]+))\ version=([^ ]+)$ ]] \
  || start_fail "unexpected ready line: $ready"
uri=${BASH_REMATCH[1]} host=${BASH_REMATCH[2]} port=${BASH_REMATCH[3]} version=${BASH_REMATCH[4]}

until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
  kill -0 "$JAVA_PID" 2>/dev/null || start_fail "Neo4j exited during startup"
  ((SECONDS < deadline)) || start_fail "Bolt at $uri does not accept connections"
  sleep 0.2
done

log "started Neo4j $version at $uri"
export NEO4J_URI=$uri NEO4J_USER=neo4j NEO4J_PASSWORD=$password
# What a test needs to start a private Neo4j of its own (internal/neo4jtest.StartPrivate), for
# tests that stop and restart the server: not the shared one above. The options are the JVM
# flags used above, space-separated (none contains a space).
export SKEIN_TEST_NEO4J_JAVA=$JAVA
export SKEIN_TEST_NEO4J_CLASSPATH=$LAUNCHER_CP
export SKEIN_TEST_NEO4J_JAVA_OPTS="${JVM_OPTS[*]}"

# ---------------------------------------------------------------------------------------------
# Run CMD (in the background so TERM/HUP to this script can be forwarded; the subshell restores
# default SIGINT/SIGQUIT handling, which bash would otherwise ignore for a background job).

if $hold; then
  log "holding; user neo4j, password from your NEO4J_PASSWORD; home $RUN_DIR/home; Ctrl-C to stop"
  set -- sleep infinity
fi
(trap - INT QUIT; exec "$@") <&0 &
CMD_PID=$!
set +e
while :; do
  wait "$CMD_PID"
  rc=$?
  kill -0 "$CMD_PID" 2>/dev/null || break # else wait was interrupted by a trapped signal
done
set -e
CMD_PID=
if $hold && [[ -n $got_signal ]]; then
  rc=0
fi
exit "$rc"
