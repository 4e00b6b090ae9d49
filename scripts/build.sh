# shellcheck shell=bash
# scripts/build.sh - sourced by scripts/test.sh and scripts/demo.sh, from
# the top of the source tree: configuring the build directory a script
# owns.
#
# Each script builds in a directory of its own (the demo _build-demo/, the
# test script _build/ and _build-plain/), so that neither ever runs on the
# other's objects.  A directory someone configured with other options (by
# hand, or an older script) is not trusted as it is either: re-running
# configure with new options changes the Makefiles but make rebuilds
# nothing, so the old objects would stay (a sanitizer build whose library
# has no sanitizer in it).

# configure_build DIR OPTION...: DIR, a directory directly under the source
# tree, configured out of tree with exactly OPTIONs (plain words, as
# config.status --config prints them).  When it was configured before
# with other options, everything built there is cleaned away, so that the
# next make rebuilds it all.  Compiler variables in the environment, such
# as CFLAGS, are recorded by configure and so count as options too.
configure_build() {
	local dir=$1
	shift
	local wanted="$*" recorded=
	local had_config=0
	mkdir -p "$dir" || return
	if [ -f "$dir/config.status" ]; then
		had_config=1
		recorded=$(cd "$dir" && ./config.status --config) || recorded='?'
		# Same options: make re-runs configure itself when configure
		# or Makefile.am change.
		if [ "$recorded" = "$wanted" ] && [ -f "$dir/Makefile" ]; then
			return 0
		fi
	fi
	(cd "$dir" && ../configure "$@") || return
	if [ "$had_config" = 1 ] && [ "$recorded" != "$wanted" ]; then
		echo "$dir was configured with '$recorded', now '$wanted':" \
			"cleaning it so that everything is rebuilt"
		make -C "$dir" --no-print-directory clean >/dev/null || return
	fi
}
