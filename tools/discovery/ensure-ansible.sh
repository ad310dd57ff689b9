#!/usr/bin/env bash
# Make sure ansible-core is installed in a virtualenv of the project's cache, for the ansible
# discovery source's test (discovery/ansible), which runs `ansible localhost -m setup --tree DIR`.
# Idempotent: does nothing but print the path, quickly, when it is there.
#
#   tools/discovery/ensure-ansible.sh      prints the path of the `ansible` binary on stdout
#
# The virtualenv is ${SKEIN_CACHE_DIR:-<repo>/.cache}/ansible; ansible-core comes from PyPI
# through pip, pinned to ANSIBLE_CORE_VERSION (the newest release that runs on Python 3.11).
# Needs python3 with the venv module. The test finds the binary at the same place (or on PATH,
# or in $SKEIN_TEST_ANSIBLE).
set -euo pipefail

ANSIBLE_CORE_VERSION=${ANSIBLE_CORE_VERSION:-2.19.14}
log() { printf 'ensure-ansible: %s\n' "$*" >&2; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE_DIR=${SKEIN_CACHE_DIR:-$REPO_ROOT/.cache}
VENV=$CACHE_DIR/ansible
ANSIBLE=$VENV/bin/ansible

if [[ -x $ANSIBLE ]] && "$VENV/bin/python" -c 'import ansible' 2>/dev/null; then
  echo "$ANSIBLE"
  exit 0
fi

PYTHON=${PYTHON:-$(command -v python3 || true)}
[[ -n $PYTHON ]] || { log "python3 not found: install Python 3.11+ (with venv)"; exit 1; }

log "installing ansible-core $ANSIBLE_CORE_VERSION from PyPI into $VENV (once)..."
rm -rf "$VENV"
mkdir -p "$CACHE_DIR"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
  "ansible-core==$ANSIBLE_CORE_VERSION"
[[ -x $ANSIBLE ]] || { log "pip installed ansible-core but $ANSIBLE is missing"; exit 1; }
log "$("$ANSIBLE" --version | head -n 1)"
echo "$ANSIBLE"
