#!/usr/bin/env bash
# Install the tools the end-to-end tests drive, each in its own virtualenv so
# that their pinned dependencies never fight the project's own test env:
#
#   ${E2E_TOOLS:-/opt/keypairs-e2e}/keystone  keystone + gunicorn (a real Identity server)
#   ${E2E_TOOLS:-/opt/keypairs-e2e}/tempest   tempest (+ stestr, pulled in by tempest)
#
# Idempotent: a venv whose stamp matches the wanted spec (and constraints file)
# and whose scripts and modules are still there is reused as is (a second run
# takes under a second). Silent on success; on failure the tail of the pip log
# is printed and the exit status is non-zero.
#
# Environment:
#   E2E_TOOLS         where the venvs live (default /opt/keypairs-e2e)
#   E2E_PYTHON        interpreter for the venvs (default python3)
#   KEYSTONE_SPEC     pip requirement(s) for keystone (default below)
#   TEMPEST_SPEC      pip requirement(s) for tempest (default below)
#   E2E_TOOLS_FORCE=1 rebuild both venvs from scratch
set -euo pipefail

E2E_TOOLS=${E2E_TOOLS:-/opt/keypairs-e2e}
E2E_PYTHON=${E2E_PYTHON:-python3}
# Top-level pins: the versions the e2e helpers were written and checked
# against. Their transitive dependencies come from the constraints files in
# tests/e2e/ (a `pip freeze` of a working venv), so a new release of some
# oslo library cannot break CI behind our back.
KEYSTONE_SPEC=${KEYSTONE_SPEC:-"keystone==30.0.0 gunicorn"}
TEMPEST_SPEC=${TEMPEST_SPEC:-"tempest==47.0.0"}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
constraints_dir="$here/tests/e2e"

logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
log=/dev/null  # set per venv in build_venv

fail() {
    echo "e2e-tools: $*" >&2
    if [[ -s $log ]]; then
        echo "---- last 60 lines of the install log ----" >&2
        tail -n 60 "$log" >&2
    fi
    exit 1
}

# venv_ok DIR STAMP QUICK_CHECK: the venv exists, carries STAMP and the cheap
# QUICK_CHECK (run with the venv's bin first on PATH) succeeds.
venv_ok() {
    local dir=$1 stamp=$2 quick=$3
    [[ ${E2E_TOOLS_FORCE:-0} != 1 ]] || return 1
    [[ -x $dir/bin/python && -f $dir/.e2e-stamp ]] || return 1
    [[ $(cat "$dir/.e2e-stamp") == "$stamp" ]] || return 1
    PATH="$dir/bin:$PATH" bash -c "$quick" >/dev/null 2>&1
}

# build_venv NAME SPEC CONSTRAINTS QUICK_CHECK FULL_CHECK...
#   QUICK_CHECK decides whether an existing venv is reused; after a fresh
#   install it and every FULL_CHECK (which may take seconds) must pass.
build_venv() {
    local name=$1 spec=$2 constraints=$3 quick=$4
    shift 4
    local dir=$E2E_TOOLS/$name
    log=$logdir/$name.log
    local cflag=()
    local stamp="$spec"
    if [[ -f $constraints ]]; then
        cflag=(-c "$constraints")
        stamp="$spec|$(sha256sum "$constraints" | cut -d' ' -f1)"
    fi
    stamp="$stamp|$("$E2E_PYTHON" -c 'import sys; print(sys.version.split()[0])')"

    if venv_ok "$dir" "$stamp" "$quick"; then
        return 0
    fi
    rm -rf "$dir"
    mkdir -p "$E2E_TOOLS"
    "$E2E_PYTHON" -m venv "$dir" >>"$log" 2>&1 || fail "cannot create venv $dir"
    # shellcheck disable=SC2086  # spec is a list of requirements
    "$dir/bin/pip" install --quiet --disable-pip-version-check --no-input \
        "${cflag[@]}" $spec >>"$log" 2>&1 ||
        fail "pip install of '$spec' into $dir failed"
    local check
    for check in "$quick" "$@"; do
        PATH="$dir/bin:$PATH" bash -c "$check" >>"$log" 2>&1 ||
            fail "$name venv installed but check failed: $check"
    done
    printf '%s' "$stamp" >"$dir/.e2e-stamp"
}

# find_spec only locates the modules (no import): cheap enough for every run.
build_venv keystone "$KEYSTONE_SPEC" "$constraints_dir/constraints-keystone.txt" \
    'test -x "$(command -v keystone-manage)" && test -x "$(command -v gunicorn)" &&
     python -c "import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in (\"keystone.wsgi.api\", \"keystoneclient\")))"' \
    'keystone-manage --version' \
    'gunicorn --version' \
    'python -c "import keystone.server.wsgi"' &
ks_pid=$!
build_venv tempest "$TEMPEST_SPEC" "$constraints_dir/constraints-tempest.txt" \
    'test -x "$(command -v tempest)" && test -x "$(command -v stestr)" &&
     python -c "import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in (\"tempest.api.compute.keypairs\", \"tempest.api.compute.admin.test_keypairs_v210\")))"' \
    'tempest --version' \
    'stestr --version' \
    'python -c "import tempest.api.compute.keypairs.test_keypairs"' &
tp_pid=$!

status=0
wait "$ks_pid" || status=1
wait "$tp_pid" || status=1
exit "$status"
