# The demo service: a shell loop that says who it is. Its hooks need nothing but /bin/sh
# (loading the plan needs bash, as every plan directory does).
# Warren learns its variables by letting bash source it (functions are not called), as
# Habitat's build does; Habitat would build it as is.
pkg_origin=warren
pkg_name=hello
pkg_version=0.1.0
pkg_maintainer="The Warren authors"
pkg_license=('Apache-2.0')
pkg_description="Prints its role in the group and its rendered configuration every few seconds."
pkg_exports=(
  [port]=port
  [message]=message
)
pkg_exposes=(port)

do_build() {
  return 0
}

do_install() {
  return 0
}
