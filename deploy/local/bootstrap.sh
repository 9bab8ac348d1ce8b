#!/usr/bin/env bash
# Installs what the local stack needs on a fresh Debian 12 machine. Idempotent: every step is
# skipped when its result is already there.
#
#   1. apt packages (only when missing): postgresql, openjdk-17-jre-headless (java >= 17), maven,
#      wrk, chromium and fonts-noto-cjk (the pages' browser tests; Playwright drives Debian's
#      chromium, its own browser download does not work here)
#   2. the Kafka broker's classpath (Maven Central jars) into $COMPLAINTS_HOME/cache/kafka-<v>/lib
#   3. the project venv (.venv) with `pip install -e '.[dev]'` when pyproject.toml changed
#
# Then: .venv/bin/python -m deploy.local.infra up
#
# Environment:
#   COMPLAINTS_HOME        state folder (default: <repo>/.local)
#   COMPLAINTS_KAFKA_CACHE jar cache folder (default: $COMPLAINTS_HOME/cache/kafka-<v>)
#   COMPLAINTS_SKIP_VENV=1 skip step 3
#   PYTHON                 interpreter for the venv (default: python3.11, else python3)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
COMPLAINTS_HOME="${COMPLAINTS_HOME:-$REPO_ROOT/.local}"
KAFKA_VERSION="4.1.1"
KAFKA_CACHE="${COMPLAINTS_KAFKA_CACHE:-$COMPLAINTS_HOME/cache/kafka-$KAFKA_VERSION}"
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "need root to run: $*"
        exit 1
    fi
}

# --- 1. system packages ------------------------------------------------------------------------
java_major() {
    # "17.0.15" -> 17, "1.8.0_412" -> 1; empty when java is missing
    command -v java >/dev/null 2>&1 || return 0
    java -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print v[1]; exit }'
}

packages=()
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
    packages+=(postgresql)
fi
major="$(java_major)"
if [ -z "$major" ] || [ "$major" -lt 17 ]; then
    packages+=(openjdk-17-jre-headless)
fi
if ! command -v mvn >/dev/null 2>&1; then
    packages+=(maven)
fi
if ! command -v wrk >/dev/null 2>&1; then
    packages+=(wrk)  # the C load generator of `make bench`'s HTTP figures
fi
if ! command -v chromium >/dev/null 2>&1; then
    packages+=(chromium)  # the browser the page tests drive (Playwright, executable_path)
fi
if ! dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q 'ok installed'; then
    packages+=(fonts-noto-cjk)  # without it Chinese renders as boxes in the browser tests
fi
if [ "${#packages[@]}" -gt 0 ]; then
    log "installing: ${packages[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
else
    log "system packages present (postgresql, java $major, maven)"
fi

# --- 2. Kafka jars -----------------------------------------------------------------------------
# The marker is written last, so an interrupted fetch is redone from scratch.
if [ -f "$KAFKA_CACHE/.complete" ] && [ -d "$KAFKA_CACHE/lib" ]; then
    log "kafka $KAFKA_VERSION jars cached in $KAFKA_CACHE/lib"
else
    log "fetching kafka $KAFKA_VERSION jars into $KAFKA_CACHE/lib"
    mkdir -p "$KAFKA_CACHE"
    rm -rf "$KAFKA_CACHE/lib" "$KAFKA_CACHE/lib.tmp" "$KAFKA_CACHE/.complete"
    (
        cd "$SCRIPT_DIR/kafka"
        mvn -q -B -Dstyle.color=never "$DEPENDENCY_PLUGIN:copy-dependencies" \
            -DincludeScope=runtime -DoutputDirectory="$KAFKA_CACHE/lib.tmp"
    )
    if ! compgen -G "$KAFKA_CACHE/lib.tmp/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null; then
        log "maven finished but kafka_2.13-$KAFKA_VERSION.jar is missing"
        exit 1
    fi
    mv "$KAFKA_CACHE/lib.tmp" "$KAFKA_CACHE/lib"
    date -u +%Y-%m-%dT%H:%M:%SZ >"$KAFKA_CACHE/.complete"
    log "$(find "$KAFKA_CACHE/lib" -name '*.jar' | wc -l) jars fetched"
fi

# --- 3. Python venv ----------------------------------------------------------------------------
if [ "${COMPLAINTS_SKIP_VENV:-0}" = "1" ]; then
    log "COMPLAINTS_SKIP_VENV=1: venv step skipped"
elif [ ! -f "$REPO_ROOT/pyproject.toml" ]; then
    log "no pyproject.toml yet: venv step skipped"
else
    VENV="$REPO_ROOT/.venv"
    MARKER="$VENV/.complaints-installed"
    if [ ! -x "$VENV/bin/python" ]; then
        python="${PYTHON:-}"
        if [ -z "$python" ]; then
            if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
        fi
        log "creating $VENV with $python"
        "$python" -m venv "$VENV"
        rm -f "$MARKER"
    fi
    if [ ! -f "$MARKER" ] || [ "$REPO_ROOT/pyproject.toml" -nt "$MARKER" ]; then
        log "pip install -e '.[dev]'"
        (
            cd "$REPO_ROOT"
            "$VENV/bin/python" -m pip install -q --upgrade pip
            "$VENV/bin/python" -m pip install -q -e '.[dev]'
        )
        touch "$MARKER"
    else
        log "venv up to date ($VENV)"
    fi
fi

log "done"
