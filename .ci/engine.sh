#!/usr/bin/env bash
# Make a Docker engine answer and the pinned benchd/tvm and benchd/riscv images exist, on a fresh CI machine
# (root, package registries only, no image registry). Idempotent: a running engine, the base image and an up-to-date
# benchd/tvm are reused (the image build is cached layer by layer).
#   1. docker.io + debootstrap from apt, when missing
#   2. dockerd as root in the background (log: $BENCHD_ENGINE_LOG, default /tmp/benchd-dockerd.log)
#   3. `benchd images bootstrap`: a Debian bookworm base from the apt mirror (no registry needed)
#   4. `benchd images build tvm` and `benchd images build riscv`, trusting the system CA bundle
#      (TLS-intercepting proxies)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BENCHD=${BENCHD:-.venv/bin/benchd}
ENGINE_LOG=${BENCHD_ENGINE_LOG:-/tmp/benchd-dockerd.log}
started=$(date +%s)
say() { printf -- '-- engine: %s (+%ss)\n' "$*" "$(( $(date +%s) - started ))"; }
answers() {
  "$PY" -c 'import sys; from daemon.executors.container import engine_available; sys.exit(not engine_available(3))'
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

if answers; then
  say "a docker engine already answers"
else
  if ! command -v dockerd > /dev/null || ! command -v debootstrap > /dev/null; then
    say "installing docker.io and debootstrap"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker.io debootstrap ca-certificates iproute2 > /dev/null
  fi
  for driver in "" vfs; do  # overlay2 first; vfs where the machine's own file system is an overlay
    say "starting dockerd${driver:+ (storage driver $driver)}, log in $ENGINE_LOG"
    as_root sh -c "nohup dockerd ${driver:+--storage-driver=$driver} >> '$ENGINE_LOG' 2>&1 &"
    for _ in $(seq 1 60); do
      answers && break
      if command -v pgrep > /dev/null && ! pgrep -x dockerd > /dev/null; then break; fi
      sleep 1
    done
    answers && break
    say "dockerd did not come up:"; tail -n 5 "$ENGINE_LOG" >&2
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [ -n "$pid" ]; then as_root kill "$pid" 2>/dev/null || true; sleep 3; fi
  done
  answers || { echo "docker engine not reachable: see $ENGINE_LOG" >&2; exit 1; }
  say "engine up"
fi

say "base image"
as_root "$BENCHD" images bootstrap
say "benchd/tvm"
extra_ca=${BENCHD_DOCKER_EXTRA_CA:-}
if [ -z "$extra_ca" ] && [ -s /etc/ssl/certs/ca-certificates.crt ]; then
  extra_ca=/etc/ssl/certs/ca-certificates.crt
fi
"$BENCHD" images build tvm ${extra_ca:+--extra-ca "$extra_ca"}
say "benchd/riscv"
"$BENCHD" images build riscv ${extra_ca:+--extra-ca "$extra_ca"}
"$BENCHD" images list
say "done"
