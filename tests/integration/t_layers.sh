#!/bin/bash
# t_layers.sh - the host core has a direction (docs/architecture.md,
# "Layers of the core"): each file of host/ includes only headers of its
# own level or below, and nothing below the context calls the public
# entry points that take a context or a connection.
#
# A cycle (chain.c calling ps_conn_poll, reload.c calling ps_ctx_reload)
# makes every file depend on every other; this keeps it from coming back.
. "$(dirname "$0")/lib.sh"

# Level of each host file, by base name.  Keep in step with
# docs/architecture.md.  A new file must be given one here.
declare -A LEVEL=(
	# 0: utilities that know nothing of the configuration
	[error]=0 [log]=0 [buf]=0 [clock]=0 [codec]=0 [credential]=0
	[env]=0 [hostmatch]=0 [url]=0 [offload]=0 [resolve]=0 [ini_load]=0
	[loader]=0 [ws_frame]=0 [tls_files]=0 [tls_cache]=0 [api_args]=0
	[forwarded]=0 [config]=0 [schemes]=0
	[proxystack]=0 # the public header
	# 1: the immutable snapshot and the module configure services
	[snapshot]=1 [modconfig]=1 [serve_config]=1 [tls_proxy]=1
	# 2: choosing a route; watching files for the context
	[route]=2 [reload]=2
	# 3: the chain driver, the layer services, the host's own layers
	[chain]=3 [layer]=3 [tls]=3 [ws]=3 [select]=3 [subchain]=3
	# 4: connections and dumps, started on a snapshot
	[conn]=4 [dump]=4
	# 5: the context, the top of the library
	[ctx]=5
	# 6: the command line, a user of the public API
	[cli]=6 [run_cli]=6 [serve]=6
)

HOST="$PS_SRC/host"

# check_includes FILE: every local include at the file's level or below.
check_includes() {
	local file=$1 base lvl inc ilvl bad=""
	base=$(basename "$file")
	base=${base%.*}
	lvl=${LEVEL[$base]:-}
	if [ -z "$lvl" ]; then
		fail "level of host/$(basename "$file")" \
			"give it a level in t_layers.sh and docs/architecture.md"
		return
	fi
	while read -r inc; do
		inc=${inc%.h}
		[ "$inc" = "$base" ] && continue
		ilvl=${LEVEL[$inc]:-}
		if [ -z "$ilvl" ]; then
			bad+=" $inc.h(no level)"
		elif [ "$ilvl" -gt "$lvl" ]; then
			bad+=" $inc.h(level $ilvl)"
		fi
	done < <(sed -n 's/^#include "\([a-z0-9_]*\.h\)".*/\1/p' "$file")
	if [ -n "$bad" ]; then
		fail "host/$(basename "$file") (level $lvl) includes only downward" \
			"includes:$bad"
	else
		ok "host/$(basename "$file") (level $lvl) includes only downward"
	fi
}

for f in "$HOST"/*.c "$HOST"/*.h; do
	check_includes "$f"
done

# Nothing below the connection API calls the public entry points of
# the connection or the context (comments aside).
below=""
for f in "$HOST"/*.c; do
	base=$(basename "$f" .c)
	lvl=${LEVEL[$base]:-9}
	[ "$lvl" -ge 4 ] && continue
	if sed 's://.*$::; s:/\*.*\*/::g; /^[[:space:]]*\*/d' "$f" |
		grep -qE '\bps_(conn|ctx)_[a-z_]+\(|\bps_connect\('; then
		below+=" $base.c"
	fi
done
expect_eq "$below" "" "no file below the connection API calls ps_conn_*/ps_ctx_*"

# Only the context knows struct ps_ctx.
users=$(grep -l '#include "ctx.h"' "$HOST"/*.c "$HOST"/*.h |
	xargs -n1 basename | grep -vx 'ctx.c' | tr '\n' ' ')
expect_eq "$users" "" "only ctx.c includes ctx.h"

# The check itself can fail: a planted upward include is caught.
mkdir -p "$TMP/host"
printf '#include "ctx.h"\n' >"$TMP/host/chain.c"
if (PS_FAILED_FILE=/dev/null; check_includes "$TMP/host/chain.c") |
	grep -q '^not ok'; then
	ok "an upward include (chain.c -> ctx.h) is refused"
else
	fail "an upward include (chain.c -> ctx.h) is refused"
fi
