#!/usr/bin/env bash
# Installs what Warren's tests need beyond the Rust toolchain: pyzmq (it bundles libzmq 4.x) for
# the ZMTP interop tests, kubernetes-validate for the manifest checks (kubectl, which renders the
# Kustomize overlays offline, is expected on the machine), and redis-server (Debian's package; it
# brings redis-cli) for the redis plan's multi-process test, and busybox-static for the container
# images. Safe to run repeatedly; does nothing when all are there.
set -euo pipefail
if ! python3 -c 'import zmq' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check pyzmq==27.3.0
fi
# Strict, offline validation of the Kubernetes manifests (it bundles the API schemas).
if ! command -v kubernetes-validate >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check kubernetes-validate==1.37.0
fi
for c in rustfmt clippy; do
  if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$c"
  fi
done

# redis-server for tests/tests/redis.rs (WARREN_E2E_REDIS=1). The tests start their own
# redis-servers through the plan; the package's own service must not run (it would hold 6379).
install_redis() {
  local policy=/usr/sbin/policy-rc.d added_policy=
  # invoke-rc.d starts a package's service at install unless policy-rc.d says no (101). Container
  # images usually ship one; without it, add one for the install only.
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 0755 "$policy"
    added_policy=1
  fi
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
    -o Dpkg::Use-Pty=0 redis-server)
  local rc=0
  if ! "${apt[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null && "${apt[@]}" >/dev/null || rc=$?
  fi
  if [ -n "$added_policy" ]; then rm -f "$policy"; fi
  if [ "$rc" -ne 0 ]; then
    echo "setup: installing redis-server failed" >&2
    return "$rc"
  fi
  # Under systemd the unit is enabled (and policy-rc.d only kept it from starting now).
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
  # Without systemd nothing should have started it; stop it if something did.
  if [ -x /etc/init.d/redis-server ] && [ -s /run/redis/redis-server.pid ]; then
    /etc/init.d/redis-server stop >/dev/null 2>&1 || true
  fi
}
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    install_redis
  else
    echo "setup: redis-server is missing (the redis test needs it): run as root or 'sudo apt-get install redis-server'" >&2
  fi
fi

# A static busybox: /bin/sh and the hooks' tools inside the container images that
# deploy/container/build.sh assembles (tests/tests/docker.rs runs it when Docker is there).
if [[ "$(LC_ALL=C ldd /bin/busybox 2>&1 || true)" != *'not a dynamic executable'* ]]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
      -o Dpkg::Use-Pty=0 busybox-static)
    "${apt[@]}" >/dev/null 2>&1 || { apt-get update -qq >/dev/null && "${apt[@]}" >/dev/null; } ||
      echo "setup: installing busybox-static failed (the container images need it)" >&2
  else
    echo "setup: busybox-static is missing (the container images need it): run as root or 'sudo apt-get install busybox-static'" >&2
  fi
fi
