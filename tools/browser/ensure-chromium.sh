#!/usr/bin/env bash
# Make sure Debian's Chromium is installed, for the browser test of the Playground
# (cmd/skein/browser_test.go). Idempotent: does nothing, quickly, when it is there.
#
#   tools/browser/ensure-chromium.sh
#
# Installs the `chromium` package with apt-get when /usr/bin/chromium is missing; needs root
# (or sudo) and a Debian-like system. Elsewhere it says what to do and exits non-zero.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
log() { printf 'ensure-chromium: %s\n' "$*" >&2; }

if [[ -x $CHROMIUM ]]; then
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  log "$CHROMIUM not found and no apt-get here: install Chromium (or Chrome) yourself."
  log "Without it the browser test skips (and fails when CI=true)."
  exit 1
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { log "installing chromium needs root (or sudo)"; exit 1; }
  sudo=(sudo)
fi

log "installing Debian's chromium with apt-get (once)..."
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
[[ -x $CHROMIUM ]] || { log "apt-get installed chromium but $CHROMIUM is missing"; exit 1; }
log "$("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM installed")"
