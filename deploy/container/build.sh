#!/usr/bin/env bash
# Builds Warren's two container images from this machine's own files, with no registry:
#
#   warren:local        Warren alone: the management ring (`warren run`, no plan), as PID 1,
#                       as user 10001, STOPSIGNAL SIGTERM.
#   warren-redis:local  the same plus redis-server, redis-cli, bash (Warren reads a plan by
#                       letting bash source its plan.sh) and plans/redis at /plans/redis; it
#                       runs the Redis leader-topology example by default.
#
# Each image is a root file system assembled from files of the host (the binaries, the shared
# libraries `ldd` names for them, busybox for /bin/sh and the hooks' tools) added to an image
# `FROM scratch`: nothing is pulled, and the result is a few megabytes larger than the binaries.
# Needs docker, busybox-static and redis-server (scripts/setup.sh installs them).
#
# Usage: deploy/container/build.sh [--binary PATH]
#   (default: the shipping build, `cargo build --profile dist -p warren`: fat LTO, one codegen
#   unit, and the functions an idle member runs placed together (crates/warren/hot-code.txt), so
#   that an empty member keeps about 6 MiB resident instead of 10.5)
# Prints each image's size. Safe to run repeatedly: unchanged files give the same image.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
binary=
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    *) echo "usage: $0 [--binary PATH]" >&2; exit 2 ;;
  esac
done
if [ -z "$binary" ]; then
  (cd "$repo" && cargo build --profile dist -p warren)
  binary=$repo/target/dist/warren
fi
for tool in docker busybox bash redis-server redis-cli ldd tar strip nm; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is missing (run scripts/setup.sh)" >&2; exit 1; }
done
# The hot-code list names functions of one build; after a dependency upgrade many names change
# and the binary silently loses its compact layout (more memory, nothing else).
hot=$repo/crates/warren/hot-code.txt
listed=$(grep -vc '^#' "$hot" || true)
found=$({ grep -v '^#' "$hot" || true; } | sort -u | comm -12 - <(nm --defined-only "$binary" | awk '{print $3}' | sort -u) | wc -l)
echo "build.sh: $found of the $listed functions in crates/warren/hot-code.txt are in $binary" >&2
if [ "$found" -lt $((listed * 9 / 10)) ]; then
  echo "build.sh: warning: the hot-code list is stale, so an empty member holds more code" \
    "resident; regenerate it with deploy/container/hot-code.sh and rebuild" >&2
fi
busybox=$(command -v busybox)
# ldd fails on a static executable, which is what this wants.
if [[ "$(LC_ALL=C ldd "$busybox" 2>&1 || true)" != *'not a dynamic executable'* ]]; then
  echo "build.sh: $busybox is not the static busybox (install busybox-static)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Copies executable $1 to $2 (a path inside the root $3) with every shared library it loads.
add_binary() {
  local src=$1 dst=$2 root=$3 lib
  install -D -m 0755 "$src" "$root$dst"
  # Release builds carry debug info (for profiling); the image does not need it.
  strip --strip-debug "$root$dst"
  while read -r lib; do
    [ -n "$lib" ] || continue
    install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
  done < <(LC_ALL=C ldd "$src" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}')
}

# The part both images share: Warren, a shell and its tools, users, writable state.
base_root() {
  local root=$1 applet
  mkdir -p "$root"/{bin,etc,tmp,hab,usr/bin,proc,sys,dev}
  install -m 0755 "$busybox" "$root/bin/busybox"
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  add_binary "$binary" /usr/bin/warren "$root"
  printf 'root:x:0:0:root:/root:/bin/sh\nwarren:x:10001:10001:warren:/hab:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\nwarren:x:10001:\n' > "$root/etc/group"
  printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
  chmod 1777 "$root/tmp"
  chown 10001:10001 "$root/hab"
}

# Builds image $2 from root $1 and the Dockerfile instructions that follow. The root goes in as
# one archive with fixed times and numeric owners (ADD keeps them, COPY would not), so an
# unchanged root hits the builder's cache and the image stays the same. The classic builder
# needs no buildx plugin and pulls nothing for `FROM scratch`.
build_image() {
  local root=$1 image=$2; shift 2
  local ctx=$work/ctx-${image%%:*}
  mkdir -p "$ctx"
  tar --sort=name --mtime='2020-01-01 00:00Z' --numeric-owner -C "$root" -cf "$ctx/root.tar" .
  { echo 'FROM scratch'; echo 'ADD root.tar /'; printf '%s\n' "$@"; } > "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$image" "$ctx" >/dev/null 2>"$work/build.err" || {
    cat "$work/build.err" >&2
    return 1
  }
  printf '%s: %s MB\n' "$image" \
    "$(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.1f", $1/1000000}')"
}

settings=(
  'USER 10001:10001'
  'WORKDIR /hab'
  'ENV PATH=/usr/bin:/bin'
  'STOPSIGNAL SIGTERM'
  'EXPOSE 9638/udp'
  'EXPOSE 9638/tcp'
  'EXPOSE 9631/tcp'
  'ENTRYPOINT ["/usr/bin/warren"]'
)

root=$work/warren
base_root "$root"
build_image "$root" warren:local "${settings[@]}" 'CMD ["run"]'

root=$work/warren-redis
base_root "$root"
add_binary "$(command -v redis-server)" /usr/bin/redis-server "$root"
add_binary "$(command -v redis-cli)" /usr/bin/redis-cli "$root"
# Warren learns a plan's variables by letting bash source its plan.sh.
add_binary "$(command -v bash)" /bin/bash "$root"
mkdir -p "$root/plans"
cp -r "$repo/plans/redis" "$root/plans/redis"
build_image "$root" warren-redis:local "${settings[@]}" 'EXPOSE 6379/tcp' \
  'CMD ["run", "/plans/redis", "--topology", "leader"]'
