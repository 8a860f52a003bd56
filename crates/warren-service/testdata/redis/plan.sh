# Redis, in the shape of Habitat's core-plans/redis.
pkg_name=redis
pkg_origin=core
pkg_version="7.2.4"
pkg_description="Persistent key-value database, with built-in net interface"
pkg_upstream_url="http://redis.io/"
pkg_license=("BSD-3-Clause")
pkg_maintainer="The Habitat Maintainers <humans@habitat.sh>"
pkg_source="http://download.redis.io/releases/${pkg_name}-${pkg_version}.tar.gz"
pkg_shasum=3e2b196d6eb4ddb9e743088bfc2915ccbb42d40f5a8a3edd8cb69c716ec34be7
pkg_deps=(
  core/glibc
  core/openssl  # for TLS
)
pkg_build_deps=(core/make core/gcc core/pkg-config)
pkg_bin_dirs=(bin)
pkg_svc_run="redis-server ${pkg_svc_config_path}/redis.config"
pkg_exports=(
  [port]=port
  [host]=bind
)
pkg_exposes=(port)

do_build() {
  # Redis' Makefile has no configure step.
  make BUILD_TLS=yes -j"$(nproc)" PREFIX="${pkg_prefix}"
}

do_check() {
  make test
}

do_install() {
  make install PREFIX="${pkg_prefix}"
  cat > "${pkg_prefix}/README" <<EOF
Don't edit { this } file; it's generated (by ${pkg_name}).
EOF
}
