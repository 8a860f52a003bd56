# Redis in a leader topology: one member is elected leader, the others replicate from it.
# Load it with `--topology leader`. Needs redis-server and redis-cli on PATH.
# Warren learns its variables by letting bash source it (functions are not called), as
# Habitat's build does; Habitat would build it as is.
pkg_origin=warren
pkg_name=redis
pkg_version=7.2.4
pkg_maintainer="The Warren authors"
pkg_license=('BSD-3-Clause')
pkg_description="Redis with leader/follower replication driven by the supervisor's election."
pkg_deps=(core/redis)
pkg_exports=(
  [port]=port
  [host]=bind
)
pkg_exposes=(port)
pkg_svc_user=hab
pkg_svc_group=hab

do_build() {
  return 0
}

do_install() {
  return 0
}
