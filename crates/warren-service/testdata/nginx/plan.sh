# An nginx reverse proxy in front of a backend service group.
pkg_origin=acme
pkg_name=nginx-proxy
pkg_version=1.25.3
pkg_maintainer="Acme Ops <ops@example.com>"
pkg_license=('BSD-2-Clause')
pkg_source="https://nginx.org/download/nginx-${pkg_version}.tar.gz"
pkg_dirname="nginx-${pkg_version}"
pkg_filename=$(basename "${pkg_source}")   # bash computes it; Warren does not read it
pkg_deps=(core/glibc core/libedit core/openssl core/pcre core/zlib)
pkg_build_deps=(core/gcc core/make core/coreutils)
pkg_svc_run="nginx -c ${pkg_svc_config_path}/nginx.conf -g 'daemon off;'"
pkg_svc_user="root"
pkg_svc_group=nginx
pkg_shutdown_signal=SIGQUIT
pkg_shutdown_timeout_sec=30

declare -A pkg_exports
pkg_exports[port]=http.listen.port
pkg_exports+=(
  ["ssl-port"]=http.listen.ssl_port
  [server]="http.server_name"
)
pkg_exposes=(port ssl-port)

pkg_binds=(
  # The upstream application servers.
  [backend]="port host"
)
pkg_binds_optional=(
  [cache]="port"
  [metrics]='port path'
)

do_prepare() {
  if [[ ! -r /usr/bin/env ]]; then
    ln -sv "$(pkg_path_for coreutils)/bin/env" /usr/bin/env
    _clean_env=true
  fi
}

do_build() {
  ./configure --prefix="$pkg_prefix" \
    --with-http_ssl_module \
    --with-cc-opt="$CFLAGS" \
    --with-ld-opt="$LDFLAGS"
  make -j"$(nproc)"
}

do_install() {
  make install
  mkdir -p "$pkg_prefix/sbin"
  cp "$CACHE_PATH/objs/nginx" "$pkg_prefix/sbin"
  case "$pkg_target" in
    x86_64-linux) echo "linux" ;;
    *) echo "other" ;;
  esac
}

do_end() {
  if [[ -n "${_clean_env:-}" ]]; then
    rm -fv /usr/bin/env
  fi
}
