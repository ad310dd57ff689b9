#!/usr/bin/env bash
# Make sure nmap is installed, for the nmap discovery source's test (discovery/nmap), which
# scans 127.0.0.1 with a real `nmap -oX`. Idempotent: does nothing, quickly, when it is there.
#
#   tools/discovery/ensure-nmap.sh
#
# Installs Debian's `nmap` package with apt-get when nmap is not on PATH; needs root (or sudo)
# and a Debian-like system. Elsewhere it says what to do and exits non-zero.
set -euo pipefail

log() { printf 'ensure-nmap: %s\n' "$*" >&2; }

if command -v nmap >/dev/null; then
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  log "nmap not found and no apt-get here: install nmap yourself."
  log "Without it the nmap discovery test skips (and fails when CI=true)."
  exit 1
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { log "installing nmap needs root (or sudo)"; exit 1; }
  sudo=(sudo)
fi

log "installing Debian's nmap with apt-get (once)..."
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends nmap >/dev/null
command -v nmap >/dev/null || { log "apt-get installed nmap but it is not on PATH"; exit 1; }
log "$(nmap --version | head -n 1)"
