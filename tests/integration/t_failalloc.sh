#!/bin/bash
# t_failalloc.sh - allocation failures along a full chain build.
# run-tests: timeout=1500
# run-tests: long
#
# The chain: ps_ctx_new() from a configuration directory whose [default]
# proxy_url names a real squid with Basic auth (config load, module load:
# direct and http-connect), then wss:// through it to a real websocket
# echo server (python3-websockets): TCP to squid, CONNECT with the 407
# and the retry with credentials, TLS to the destination, the upgrade,
# one message echoed, the close handshake, ps_conn_close(), ps_ctx_free().
#
# tests/failalloc.so (LD_PRELOAD) makes the Nth allocation of that run
# fail, once; tests/failalloc_chain drives the run and checks, for each N:
#
#   - the process ends without a signal and within the timeout;
#   - the error, if any, carries an allocation-failure code: nomem, or
#     what an allocation failure inside OpenSSL or the dynamic loader
#     becomes (tls, tls-verify, io, module, websocket); never config,
#     usage, resolve, a proxy-* code, internal or none at all;
#   - /proc/self/fd holds as many descriptors after ps_ctx_free() as
#     before ps_ctx_new() (no socket to the proxy left half-open);
#   - after the failure, a second connection on the same context works
#     (a failure must not break the context for good);
#   - then a clean run in the same process works (nor the process);
#   - an echo that came back is exact.
#
# Modes:
#   warm  a clean chain runs first in the process, so the armed run sees
#         the steady state of an agent that connects again and again.
#         Its allocation count is measured first (FAILALLOC_N=0), then
#         the points are swept (about 1100 by call site, see
#         PS_FAILALLOC_EVERY: about a minute on 2 cores); with PS_FAILALLOC_FULL=0, below 3000 points every N,
#         else the first 300, the last 300 and a stride between them
#         that fits PS_FAILALLOC_SECONDS.
#   cold  the armed run is proxystack's first in the process (libltdl's
#         init, the first dlopen, the first thread, the TLS layer's BIO
#         method and ex_data index); OpenSSL is warmed first by a TLS
#         handshake of the driver's own, because OpenSSL 3 never retries
#         its lazily built global state once a part of it failed.  The
#         points swept are the allocations only a first run makes (a
#         diff of the two runs' allocation logs) and the two after each.
#   poll  warm, with the reload watcher polling (PS_RELOAD_POLL, what it
#         falls back to without inotify) and the proxy credentials in the
#         URL, so that no file but the configuration directory is
#         watched: the first 300 points (ps_ctx_new(), the watcher).
#   ntlm  (not by default) warm, through a squid that asks for NTLM
#         (ntlm_fake_auth): the points swept are the allocations the warm
#         Basic run does not make (the NTLM handshake: MD4 and HMAC-MD5
#         contexts, the messages, the MIC; about 100) and the two after
#         each, 30 to 100 s on 2 cores (105 points).  The library context with OpenSSL's legacy
#         provider (some 2400 allocations) is made once per process, in
#         the warm-up, and is not swept: OpenSSL 3.0.19 crashes when an
#         allocation fails inside OSSL_LIB_CTX_new_child() while the
#         legacy provider loads (its clean-up frees what it never set up).
#   raw   (not by default) nothing warmed at all, OpenSSL's global
#         state included: shows what OpenSSL itself cannot recover from.
# Then a sample of the points (evenly spread, plus the first point of
# each kind of misbehaviour the sweep found: the likeliest to hide a bad
# access) runs under valgrind --leak-check=full: no leak, no invalid
# access.
#
# Environment:
#   PS_FAILALLOC_FULL      1 (default): the whole sweep of every mode;
#                          0: a sample of the warm sweep, for a quick look
#   PS_FAILALLOC_EVERY     1: every N, each OpenSSL allocation included
#                          (some 6000 warm points, 7 minutes on 2 cores);
#                          default: every allocation of proxystack, libltdl
#                          and the loader, and of the ~5900 made inside
#                          OpenSSL (its decoders loading a CA file, the
#                          handshake) the first of each call stack (some
#                          900 sites): our code sees the same error from
#                          the same call either way
#   PS_FAILALLOC_SECONDS   time budget of that sample (default 75)
#   PS_FAILALLOC_MODES     default "warm cold poll"; add raw and ntlm for all
#   PS_FAILALLOC_VALGRIND  valgrind runs spread over the modes (default
#                          8; 0: none), plus up to
#   PS_FAILALLOC_VALGRIND_EXTRA (default 3) a mode: the first point of
#                          each kind of misbehaviour the sweep found,
#                          the rarest kinds first
#   PS_FAILALLOC_JOBS      parallel runs (default: CPUs, at most 4)
#   PS_FAILALLOC_TRACK=1   warm mode also lists allocations of the armed
#                          run still live after ps_ctx_free() (slower)
#
# The shim replaces malloc, and so does ASan: the sweep needs a build
# without sanitizers.  scripts/test.sh makes one beside the sanitizer
# build (_build-plain) and names it in PS_FAILALLOC_BUILD; then the
# library, modules, CLI and driver all come from there.  Without it, a
# sanitizer build skips the sweep (saying so) and a plain one runs it.
#
# By hand: FAILALLOC_N=N LD_PRELOAD=$PS_BUILD/tests/.libs/failalloc.so
# $PS_BUILD/tests/failalloc_chain [--warm | --warm-openssl] -c CONF
# --ca-file CA URL; PS_KEEP_TMP=1 keeps the configuration, certificates
# and every output ($TMP/fa/MODE/N.out: the result line and the failed
# allocation's backtrace; alloc.log: every allocation of the run).

[ -n "${PS_FAILALLOC_BUILD:-}" ] && PS_BUILD=$PS_FAILALLOC_BUILD
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

FA_DRIVER=$PS_BUILD/tests/failalloc_chain
FA_SHIM=$PS_BUILD/tests/.libs/failalloc.so
FA_SECONDS=${PS_FAILALLOC_SECONDS:-75}
FA_FULL=${PS_FAILALLOC_FULL:-1}
FA_EVERY=${PS_FAILALLOC_EVERY:-0}
FA_MODES=${PS_FAILALLOC_MODES:-warm cold poll}
FA_VALGRIND=${PS_FAILALLOC_VALGRIND:-8}
FA_VG_EXTRA=${PS_FAILALLOC_VALGRIND_EXTRA:-3}
FA_TRACK=${PS_FAILALLOC_TRACK:-0}
FA_JOBS=${PS_FAILALLOC_JOBS:-$(nproc 2>/dev/null || echo 2)}
[ "$FA_JOBS" -gt 4 ] && FA_JOBS=4
[ "$FA_JOBS" -lt 1 ] && FA_JOBS=1
# Codes an allocation failure may honestly end in.
FA_ALLOWED=" nomem tls tls-verify io module websocket "
FA_DIR=$TMP/fa

# ASan and the shim both replace malloc: a sanitizer build cannot run it.
if grep -qE '^SAN_CFLAGS = .*-fsanitize' "$PS_BUILD/Makefile" 2>/dev/null; then
	skip "failalloc" "sanitizer build: ASan replaces malloc itself (name a plain build in PS_FAILALLOC_BUILD)"
	exit 0
fi
if [ ! -x "$FA_DRIVER" ] || [ ! -f "$FA_SHIM" ]; then
	bail_out "failalloc" "$FA_DRIVER or $FA_SHIM missing (make check builds them)"
fi

# --- the peers: a wss echo server, squid with Basic auth ----------------

make_ca dest
make_leaf dest server
CA=$CERTS/dest.pem
start_ws_echo wss --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
URL=wss://localhost:$WS_PORT/failalloc
make_htpasswd "$TMP/htpasswd" alice 'fa-p@ss'
start_squid authsquid --basic "$TMP/htpasswd"
BASIC_SQUID_PORT=$SQUID_PORT
NTLM_SQUID_PORT=$(dead_port)
if [[ " $FA_MODES " == *" ntlm "* ]]; then
	start_squid ntlmsquid --ntlm
	NTLM_SQUID_PORT=$SQUID_PORT
	SQUID_PORT=$BASIC_SQUID_PORT
fi

printf 'fa-p@ss\n' >"$TMP/proxy-password"
chmod 0600 "$TMP/proxy-password"
# conf_with DIR file|url [GLOBAL LINE...]: the [default] proxy, its
# password in a file (one more file read, one more allocation path) or
# in the URL (the configuration names no file, so the reload watcher has
# nothing but the configuration directory to watch).
conf_with() {
	local dir=$1 how=$2 proxy
	shift 2
	if [ "$how" = ntlm ]; then
		proxy="proxy_url = http://127.0.0.1:$NTLM_SQUID_PORT
proxy_username = CORP\\alice
proxy_password_file = $TMP/proxy-password"
	elif [ "$how" = url ]; then
		proxy="proxy_url = http://alice:fa-p%40ss@127.0.0.1:$SQUID_PORT"
	else
		proxy="proxy_url = http://127.0.0.1:$SQUID_PORT
proxy_username = alice
proxy_password_file = $TMP/proxy-password"
	fi
	make_conf "$dir" "$@"
	printf '[default]\n%s\n' "$proxy" | write_conf "$dir" 50-default.conf
	chmod 0600 "$dir/50-default.conf"
}
CONF=$TMP/conf
conf_with "$CONF" file
URLCONF=$TMP/conf-url
conf_with "$URLCONF" url
# valgrind is 20 to 50 times slower: the same, with a longer deadline.
VGCONF=$TMP/conf-valgrind
conf_with "$VGCONF" file "connect_timeout = 60"
VGURLCONF=$TMP/conf-url-valgrind
conf_with "$VGURLCONF" url "connect_timeout = 60"
NTLMCONF=$TMP/conf-ntlm
conf_with "$NTLMCONF" ntlm
VGNTLMCONF=$TMP/conf-ntlm-valgrind
conf_with "$VGNTLMCONF" ntlm "connect_timeout = 60"

# --- the shim catches what it must ---------------------------------------

fa_selftest() {
	local rc=0 line n=0
	LD_PRELOAD=$FA_SHIM timeout 30 "$FA_DRIVER" --self-test \
		>"$TMP/selftest.out" 2>&1 || rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - self-test: "*)
			ok "failalloc shim: ${line#ok - self-test: }"
			n=$((n + 1))
			;;
		"not ok - self-test: "*)
			fail "failalloc shim: ${line#not ok - self-test: }"
			n=$((n + 1))
			;;
		esac
	done <"$TMP/selftest.out"
	if [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then
		fail "failalloc shim: self-test" "exit status $rc"
		show_file output "$TMP/selftest.out"
	fi
}
fa_selftest

# --- the chain works, through the real squid ----------------------------

squid_log_mark authsquid
expect_exit 0 "failalloc: the chain works without the shim" -- \
	"$FA_DRIVER" -c "$CONF" --ca-file "$CA" "$URL" &&
	expect_grep '^result .* stage=ok code=ok ' "$OUT" \
		"failalloc: without the shim the echo and close succeed"
expect_squid_log authsquid "TCP_TUNNEL/200 CONNECT localhost:$WS_PORT alice " \
	"failalloc: squid tunnelled the wss CONNECT for alice (Basic auth)"

# --- one point ------------------------------------------------------------

# fa_point MODE N [valgrind]: one driver run; output in $FA_DIR/MODE/N.out
# (N.valgrind.out and N.valgrind.vg under valgrind), its exit status as
# the last line "rc=R".
fa_point() {
	local mode=$1 n=$2 vg=${3:-} out=$FA_DIR/$1/$2
	local -a flags=() cmd=()
	local conf=$CONF limit=30 track=0
	# Past the mode's deadline the remaining points are only counted.
	if [ -z "$vg" ] && [ -n "${FA_DEADLINE:-}" ] &&
		[ "$EPOCHSECONDS" -ge "$FA_DEADLINE" ]; then
		echo "rc=skip" >"$out.out"
		return
	fi
	case $mode in
	warm) flags=(--warm) && track=$FA_TRACK ;;
	cold) flags=(--warm-openssl) ;;
	poll) flags=(--warm --poll-reload) && conf=$URLCONF ;;
	ntlm) flags=(--warm) && conf=$NTLMCONF ;;
	esac
	if [ -n "$vg" ]; then
		out=$out.valgrind
		conf=$VGCONF
		[ "$mode" = poll ] && conf=$VGURLCONF
		[ "$mode" = ntlm ] && conf=$VGNTLMCONF
		limit=300
		# The shim must stay the allocator valgrind sees calls to: by
		# default valgrind would redirect its malloc as well.
		# shellcheck disable=SC2054  # the commas are valgrind's
		cmd=(valgrind -q --soname-synonyms=somalloc=nonexistent.so
			--leak-check=full --errors-for-leak-kinds=definite,possible
			--show-leak-kinds=definite,possible --error-exitcode=9
			"--log-file=$out.vg")
	fi
	FAILALLOC_N=$n FAILALLOC_TRACK=$track FAILALLOC_LOG=${FA_LOG:-} \
		LD_PRELOAD=$FA_SHIM \
		timeout -k 5 "$limit" "${cmd[@]}" "$FA_DRIVER" "${flags[@]}" \
		-c "$conf" --ca-file "$CA" "$URL" >"$out.out" 2>"$out.err"
	echo "rc=$?" >>"$out.out"
}
export -f fa_point
export FA_DIR FA_SHIM FA_DRIVER FA_TRACK CONF VGCONF URLCONF VGURLCONF NTLMCONF \
	VGNTLMCONF CA URL

# fa_run_points MODE [valgrind] < N list: run them FA_JOBS at a time
# (xargs hands MODE to bash -c as $0, each N as $1).
fa_run_points() {
	mkdir -p "$FA_DIR/$1"
	# shellcheck disable=SC2016  # expanded by the inner bash
	xargs -r -P "$FA_JOBS" -n 1 bash -c 'fa_point "$0" "$1" '"${2:-}" "$1"
}

# field NAME FILE: NAME=value of the result line.
fa_field() {
	sed -n "s/^result .*[ ]$1=\\([^ ]*\\).*/\\1/p" "$2" | head -n 1
}

# --- measuring: how many allocations a run makes, how long it takes ------

now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# fa_measure MODE: sets COUNT and RUN_MS (the slower of two runs: the
# budget must hold on a busy machine); $FA_DIR/MODE/alloc.log lists
# every allocation of the run (N, function, size, frames).  The logged
# run and the last timed run must agree on the count; with the polling
# watcher a slow run on a loaded machine can meet one more poll, so a
# disagreement is measured again (three tries) before it fails.
fa_measure() {
	local mode=$1 try
	for try in 1 2 3; do
		fa_measure_once "$mode" || return 1
		[ "$(wc -l <"$FA_DIR/$mode/alloc.log")" -eq "$COUNT" ] && break
		note "failalloc $mode: the count moved (try $try): measuring again"
	done
	if [ "$mode" = poll ] &&
		[ "$(wc -l <"$FA_DIR/$mode/alloc.log")" -ne "$COUNT" ]; then
		# poll sweeps the first 300 points only (ps_ctx_new(), the
		# watcher's start), which come before any poll: a count that
		# moves at the end does not move them.
		note "failalloc poll: the count still moves on this busy machine: sweeping the first 300 points regardless"
	elif [ "$(wc -l <"$FA_DIR/$mode/alloc.log")" -ne "$COUNT" ]; then
		fail "failalloc $mode: counting run (FAILALLOC_N=0)" \
			"the allocation log does not have $COUNT lines: is the count stable?"
		return 1
	fi
	ok "failalloc $mode: a full chain build makes $COUNT allocations ($RUN_MS ms a run)"
}

# fa_measure_once MODE: one logged counting run and two timed ones.
fa_measure_once() {
	local mode=$1 i t0 t1 out=$FA_DIR/$1/count
	mkdir -p "$FA_DIR/$mode"
	COUNT=0
	FA_LOG=$FA_DIR/$mode/alloc.log fa_point "$mode" count
	RUN_MS=0
	for i in 1 2; do
		t0=$(now_ms)
		fa_point "$mode" count
		t1=$(now_ms)
		[ $((t1 - t0)) -gt "$RUN_MS" ] && RUN_MS=$((t1 - t0))
	done
	if ! grep -q '^result .* fired=0 stage=ok code=ok .*rerun=ok' "$out.out"; then
		fail "failalloc $mode: counting run (FAILALLOC_N=0)" \
			"the run with nothing failing did not succeed"
		show_file output "$out.out"
		show_file stderr "$out.err"
		return 1
	fi
	COUNT=$(fa_field count "$out.out")
	if [ -z "$COUNT" ] || [ "$COUNT" -lt 100 ]; then
		fail "failalloc $mode: counting run (FAILALLOC_N=0)" \
			"implausible allocation count '$COUNT': is the shim armed?"
		return 1
	fi
}

# fa_first_run_only MODE: the allocations of MODE's run that the warm
# run does not make (a diff of the two logs, by function, size and
# frames): the one-time initialisations.  Each with the two after it,
# where the code that met the failure goes on.
fa_first_run_only() {
	diff --unchanged-line-format= --old-line-format= --new-line-format='%dn
' <(cut -d' ' -f2- "$FA_DIR/warm/alloc.log") \
		<(cut -d' ' -f2- "$FA_DIR/$1/alloc.log") |
		awk -v max="$COUNT" '{ for (i = 0; i < 3; i++) if ($1 + i <= max) print $1 + i }' |
		sort -un
}

# fa_distinct_sites LOG < N list: the N whose allocation is made by
# proxystack, libltdl or the loader (the first frame past libc's is not
# OpenSSL's), all of them; of those made inside OpenSSL, the first of
# each call stack (function and logged frames) in the list.  OpenSSL
# allocates thousands of times from a few hundred sites while it loads a
# CA file or runs a handshake, in loops over its providers and decoders:
# failing the 40th pass of one loop tells nothing the first did not,
# since our code sees the same error from the same call.
fa_distinct_sites() {
	awk -v logfile="$1" 'BEGIN {
		while ((getline line < logfile) > 0) {
			n = split(line, f, " ")
			lib = ""
			for (i = 4; i <= n; i++) {
				split(f[i], part, "+")
				if (part[1] != "libc.so.6") { lib = part[1]; break }
			}
			key = f[2]
			for (i = 4; i <= n; i++) key = key " " f[i]
			if (lib == "libcrypto.so.3" || lib == "libssl.so.3")
				site[f[1]] = key
		}
	}
	!($1 in site) { print; next }
	!(site[$1] in seen) { seen[site[$1]] = 1; print }'
}

# fa_points COUNT MAX [LIST]: the N to sweep, one a line (from LIST, a
# file of candidates, or from 1 to COUNT); sets FA_HOW.  Uses FA_MODE's
# allocation log to keep one point per OpenSSL site (fa_distinct_sites)
# unless PS_FAILALLOC_EVERY=1.
fa_points() {
	local count=$1 max=$2 list=${3:-} total step
	if [ -z "$list" ]; then
		list=$FA_DIR/all-points
		seq 1 "$count" >"$list"
	fi
	if [ "$FA_FULL" = 1 ] && [ "$FA_EVERY" != 1 ]; then
		fa_distinct_sites "$FA_DIR/$FA_MODE/alloc.log" <"$list" \
			>"$list.sites"
		FA_HOW="proxystack's own and each OpenSSL call site once: $(wc -l <"$list.sites")"
		cat "$list.sites"
	elif [ "$FA_FULL" = 1 ] || [ "$(wc -l <"$list")" -lt 3000 ] ||
		[ "$(wc -l <"$list")" -le "$max" ]; then
		FA_HOW="every one"
		cat "$list"
	else
		total=$(wc -l <"$list")
		[ "$max" -lt 700 ] && max=700
		step=$(((total - 600 + max - 601) / (max - 600)))
		FA_HOW="the first 300, one in ${step} between, the last 300"
		awk -v t="$total" -v s="$step" \
			'NR <= 300 || NR > t - 300 || (NR - 301) % s == 0' "$list"
	fi
	# Beyond the last allocation nothing fails: the run must succeed.
	echo $((count + 1))
}

# --- reading the results ------------------------------------------------------

# fa_frames FILE: the frames of the failed allocation's backtrace (the
# shim's own two frames left out).
fa_frames() {
	awk '/^# (failalloc: signal [0-9]+; )?failed allocation/ { on = 1; skip = 2; next }
	     on && /^\// { if (skip) { skip--; next } print; next }
	     on { exit }' "$1"
}

# fa_symbolize FRAME: "func (file:line) < caller (file:line)" for a
# frame of our code ("lib(+0xoff)"), the symbol for "lib(sym+0xoff)".
fa_symbolize() {
	local frame=$1 lib off
	if fa_ours "$frame" && [[ $frame =~ ^([^\(]+)\(\+(0x[0-9a-f]+)\) ]]; then
		lib=${BASH_REMATCH[1]}
		off=${BASH_REMATCH[2]}
		addr2line -f -i -p -e "$lib" "$(printf '0x%x' $((off - 1)))" \
			2>/dev/null | sed -E 's/^ *\(inlined by\) //; s/ \(discriminator [0-9]+\)$//
			s# at [^ ]*/([^/ ]+)$# (\1)#' |
			paste -sd'<' - | sed 's/</ < /g'
	elif [[ $frame =~ ^([^\(]+)\(([^+\)]+)\+ ]]; then
		echo "${BASH_REMATCH[2]} ($(basename "${BASH_REMATCH[1]}"))"
	else
		frame=${frame%%\[*}
		echo "${frame##*/}"
	fi
}

# fa_ours FRAME: a frame of proxystack (library, module, driver)?
fa_ours() {
	case $1 in
	*libproxystack.so* | */modules/.libs/* | */failalloc_chain\(*) return 0 ;;
	esac
	return 1
}

# fa_site FILE: where the failed allocation came from, for a person:
# the allocating function and the first frames of proxystack's code.
fa_site() {
	local frame first="" shown=0 text=""
	while IFS= read -r frame; do
		[ -z "$first" ] && first=$(fa_symbolize "$frame") && continue
		if fa_ours "$frame"; then
			text="$text${text:+ <- }$(fa_symbolize "$frame")"
			shown=$((shown + 1))
			[ "$shown" -ge 2 ] && break
		fi
	done < <(fa_frames "$1")
	echo "failed ${first:-?}${text:+ <- $text}"
}

# fa_site_key FILE: what groups points with the same cause: the first
# frame of our code that led to the failed allocation, raw.
fa_site_key() {
	local frame
	while IFS= read -r frame; do
		if fa_ours "$frame"; then
			frame=${frame%%\[*}
			echo "${frame##*/}"
			return
		fi
	done < <(fa_frames "$1")
	echo "?"
}

# fa_classify MODE: for every swept point, "N PROBLEM..." (nothing after
# N when it failed cleanly) in $FA_DIR/MODE/problems, "N STAGE CODE" in
# $FA_DIR/MODE/outcome, and a count of the codes the failures carried in
# $FA_DIR/MODE/codes.  One awk for all the files.
fa_classify() {
	local dir=$FA_DIR/$1
	: >"$dir/skipped"
	(cd "$dir" && awk -v allowed="$FA_ALLOWED" -v codes="$dir/codes" \
		-v outcome="$dir/outcome" -v skipped="$dir/skipped" '
	function flush(   n, p, a) {
		if (fname == "")
			return
		n = fname
		sub(/\.out$/, "", n)
		if (skip) {
			print n >skipped
			return
		}
		p = ""
		if (!has) {
			p = (rc == 124 || rc == 137) ? " hang" : " crash"
		} else {
			if (rc == 124 || rc == 137)
				p = p " hang"
			else if (rc > 128)
				p = p " crash"
			if (F["stage"] != "ok" && index(allowed, " " F["code"] " ") == 0)
				p = p " code"
			split(F["fds"], a, "/")
			if (a[1] != a[2] || a[1] != a[3])
				p = p " fds"
			if (F["same-ctx"] != "ok" && F["same-ctx"] != "-")
				p = p " same-ctx"
			if (F["rerun"] != "ok")
				p = p " rerun"
			if (rc == 13 || (F["same-ctx"] F["rerun"]) ~ /bad-echo/)
				p = p " echo"
			if (rc == 14)
				p = p " live"
			if (F["stage"] == "ok")
				succeeded++
			else
				hist[F["code"]]++
		}
		print n p
		print n, (has ? F["stage"] : "-"), (has ? F["code"] : "-") >outcome
	}
	BEGIN {
		while ((getline line <"points") > 0)
			ARGV[ARGC++] = line ".out"
	}
	FNR == 1 { flush(); fname = FILENAME; has = 0; rc = 0; skip = 0; delete F }
	/^rc=skip/ { skip = 1 }
	/^rc=/ { rc = substr($0, 4) + 0 }
	/^result / {
		has = 1
		for (i = 2; i <= NF && $i !~ /^message=/; i++) {
			k = $i
			sub(/=.*/, "", k)
			v = substr($i, length(k) + 2)
			F[k] = v
		}
	}
	END {
		flush()
		printf "%d succeeded despite it", succeeded >codes
		for (k in hist)
			printf ", %s %d", k, hist[k] >codes
	}') >"$dir/problems"
}

# fa_describe FILE: one line about a point, for the notes.
fa_describe() {
	local f=$1 n
	n=$(basename "$f" .out)
	if grep -q '^result ' "$f"; then
		printf 'stage=%s code=%s same-ctx=%s rerun=%s fds=%s: %s\n' \
			"$(fa_field stage "$f")" "$(fa_field code "$f")" \
			"$(fa_field same-ctx "$f")" "$(fa_field rerun "$f")" \
			"$(fa_field fds "$f")" \
			"$(sed -n 's/^result .* message=//p' "$f" | head -n 1 | cut -c1-200)"
		grep -E '^# (the same context|rerun failed)' "$f" | head -n 2 | cut -c1-240
	else
		echo "no result line, $(tail -n 1 "$f"); $(grep -m1 '^# failalloc: signal' "$f")"
		grep -A12 '^# the crash, from' "$f" | grep -E 'libproxystack|modules/|libltdl|libssl|libcrypto' |
			head -n 4 | while IFS= read -r fr; do
			echo "  crashed in $(fa_symbolize "${fr%%\[*}")"
		done
	fi
}

# fa_report MODE PROBLEM TITLE LIST: one assertion over every point; the
# failing points are grouped by cause (consecutive N, same site).
fa_report() {
	local mode=$1 problem=$2 title=$3 list=$4
	local bad key prev_key="" from="" to="" count=0 groups=0 notes=$TMP/fa.notes
	bad=$(awk -v p="$problem" '{ for (i = 2; i <= NF; i++) if ($i == p) print $1 }' "$list")
	if [ -z "$bad" ]; then
		ok "failalloc $mode: $title"
		return 0
	fi
	: >"$notes"
	flush_group() {
		[ -z "$from" ] && return
		groups=$((groups + 1))
		if [ "$groups" -le 12 ]; then
			local f=$FA_DIR/$mode/$from.out
			if [ "$from" = "$to" ]; then
				echo "N=$from: $(fa_site "$f")"
			else
				echo "N=$from..$to ($count points): $(fa_site "$f")"
			fi
			fa_describe "$f" | sed 's/^/    /'
		fi
	}
	for n in $bad; do
		key=$(fa_site_key "$FA_DIR/$mode/$n.out")
		if [ -n "$from" ] && [ "$key" = "$prev_key" ]; then
			to=$n
			count=$((count + 1))
			continue
		fi
		flush_group
		from=$n
		to=$n
		count=1
		prev_key=$key
	done >>"$notes"
	flush_group >>"$notes"
	[ "$groups" -gt 12 ] && echo "... and $((groups - 12)) more groups" >>"$notes"
	fail "failalloc $mode: $title" "$(echo "$bad" | wc -w) points: $(echo "$bad" | paste -sd' ' - | cut -c1-120)
$(cat "$notes")"
	return 1
}

# --- the sweeps ------------------------------------------------------------------

nmodes=$(echo "$FA_MODES" | wc -w)
declare -A FA_SWEPT
# The warm run is every other mode's baseline: measured first, always.
fa_measure warm || bail_out "failalloc" "no baseline: the warm counting run failed"
WARM_COUNT=$COUNT
WARM_MS=$RUN_MS
for mode in $FA_MODES; do
	if [ "$mode" = warm ]; then
		COUNT=$WARM_COUNT
		RUN_MS=$WARM_MS
	else
		case $mode in
		cold | raw | poll | ntlm) ;;
		*) fail "failalloc $mode: unknown mode (warm, cold, poll, raw)"; continue ;;
		esac
		fa_measure "$mode" || continue
		if [ "$mode" = poll ]; then
			# ps_ctx_new() and the watcher's start are the first
			# allocations; the chain after them is warm's.
			seq 1 $((COUNT < 300 ? COUNT : 300)) >"$FA_DIR/$mode/first-run-only"
		else
			fa_first_run_only "$mode" >"$FA_DIR/$mode/first-run-only"
		fi
	fi
	# warm and raw share the budget (cold and poll sweep a few dozen or
	# hundred points); a failing run is shorter than a whole one: this
	# errs on the quick side.  Parallel runs share the machine with squid
	# and the echo server: count on three quarters of FA_JOBS.
	shares=$(echo "$FA_MODES" | tr ' ' '\n' | grep -cvxE 'cold|poll|ntlm')
	max=$((FA_SECONDS * 750 * FA_JOBS / (shares > 0 ? shares : 1) / (RUN_MS > 0 ? RUN_MS : 1)))
	FA_MODE=$mode
	if [ "$mode" = warm ]; then
		fa_points "$COUNT" "$max" >"$FA_DIR/$mode/points"
		what="of $COUNT allocation points"
	elif [ "$mode" = poll ]; then
		fa_points "$COUNT" "$max" "$FA_DIR/$mode/first-run-only" >"$FA_DIR/$mode/points"
		what="of the first $(wc -l <"$FA_DIR/$mode/first-run-only") allocation points (of $COUNT)"
	else
		fa_points "$COUNT" "$max" "$FA_DIR/$mode/first-run-only" >"$FA_DIR/$mode/points"
		what="of the $(wc -l <"$FA_DIR/$mode/first-run-only") points (of $COUNT) around the allocations only a first run makes"
	fi
	npoints=$(wc -l <"$FA_DIR/$mode/points")
	# A hard stop at twice the planned time (a slow machine, a slow
	# stretch of points): the first and last 300 go first, so that what
	# an early stop leaves out is stride points only.
	planned=$((npoints * (RUN_MS > 0 ? RUN_MS : 1) * 4 / 3 / FA_JOBS / 1000))
	export FA_DEADLINE=$((EPOCHSECONDS + 2 * planned + 30))
	t0=$SECONDS
	awk -v t="$npoints" '{ print (NR <= 300 || NR > t - 300 ? 0 : 1), $1 }' \
		"$FA_DIR/$mode/points" | sort -s -k1,1n | cut -d' ' -f2 |
		fa_run_points "$mode"
	unset FA_DEADLINE
	elapsed=$((SECONDS - t0))

	list=$FA_DIR/$mode/problems
	fa_classify "$mode"
	hist=$(cat "$FA_DIR/$mode/codes")
	nskipped=$(wc -l <"$FA_DIR/$mode/skipped")
	if [ "$nskipped" -gt 0 ]; then
		note <<<"failalloc $mode: out of time after $elapsed s: $nskipped stride points not run"
		npoints=$((npoints - nskipped))
		FA_HOW="$FA_HOW, but $nskipped of them not run: out of time"
	fi
	note <<<"failalloc $mode: $npoints points ($FA_HOW) in $elapsed s, $FA_JOBS at a time: $hist"

	fa_report "$mode" crash "no crash at $npoints allocation points" "$list"
	fa_report "$mode" hang "no hang (every run within 30 s)" "$list"
	fa_report "$mode" code "every failure carries an allocation-failure code ($hist)" "$list"
	fa_report "$mode" fds "no descriptor left open after ps_ctx_free() (/proc/self/fd)" "$list"
	fa_report "$mode" same-ctx "after the failure the same context connects again" "$list"
	fa_report "$mode" rerun "after the failure a clean run in the same process works" "$list"
	fa_report "$mode" echo "every echo that came back is exact" "$list"
	[ "$FA_TRACK" = 1 ] && [ "$mode" = warm ] &&
		fa_report "$mode" live "no allocation of the run left live after ps_ctx_free()" "$list"

	nbad=$(awk 'NF > 1' "$list" | wc -l)
	if [ "$nbad" -eq 0 ]; then
		ok "failalloc $mode: $npoints points fail cleanly ($FA_HOW $what)"
	else
		fail "failalloc $mode: $((npoints - nbad)) of $npoints points fail cleanly ($FA_HOW $what)" \
			"$nbad points misbehave: $(awk '{ for (i = 2; i <= NF; i++) print $i }' "$list" | sort | uniq -c | awk '{ printf "%s%s %d", s, $2, $1; s = ", " }')"
	fi
	FA_SWEPT[$mode]=$COUNT
done

# --- valgrind: no leak, no invalid access on the failure paths ------------

if [ "$FA_VALGRIND" -le 0 ]; then
	skip "failalloc valgrind" "PS_FAILALLOC_VALGRIND=0"
elif ! command -v valgrind >/dev/null 2>&1; then
	skip "failalloc valgrind" "valgrind is not installed"
else
	# valgrind must still see the allocations through the shim: a probe
	# that loses one on purpose has to be caught.
	LD_PRELOAD=$FA_SHIM timeout 120 valgrind -q \
		--soname-synonyms=somalloc=nonexistent.so --leak-check=full \
		--error-exitcode=9 "$FA_DRIVER" --leak-probe >"$TMP/probe.out" 2>&1
	rc=$?
	if [ "$rc" = 9 ] && grep -q 'definitely lost' "$TMP/probe.out"; then
		ok "failalloc valgrind: sees allocations through the shim (a deliberate leak is caught)"
	else
		fail "failalloc valgrind: sees allocations through the shim (a deliberate leak is caught)" \
			"valgrind exit $rc, want 9 and a definite leak: its verdicts below would mean nothing"
		show_file output "$TMP/probe.out"
	fi
	vg_total=0
	vg_bad=""
	vg_nofire=""
	t0=$SECONDS
	for mode in $FA_MODES; do
		[ -n "${FA_SWEPT[$mode]:-}" ] || continue
		# Two thirds of the runs for the steady state, where a leak
		# would add up over an agent's life.
		want=$FA_VALGRIND
		if [ "$nmodes" -gt 1 ]; then
			if [ "$mode" = warm ]; then
				want=$(((FA_VALGRIND * 2 + 2) / 3))
			else
				want=$(((FA_VALGRIND - (FA_VALGRIND * 2 + 2) / 3 + nmodes - 2) / (nmodes - 1)))
			fi
		fi
		{
			# Evenly spread over the swept points, and the first point
			# of each kind of misbehaviour the sweep found, the rarest
			# kinds first (unusual paths, where bad accesses hide);
			# crashes are known bad already.
			awk -v w="$want" '{ p[NR] = $1 }
				END { n = NR - 1	# not the point beyond the last
				      for (i = 0; i < w && n > 0; i++)
					      print p[int(n * (2 * i + 1) / (2 * w)) + 1] }' \
				"$FA_DIR/$mode/points"
			awk 'NR == FNR { o[$1] = $2 " " $3; next }
			     NF > 1 && !/ (crash|hang)/ {
				     k = o[$1]
				     for (i = 2; i <= NF; i++) k = k " " $i
				     if (!(k in first)) first[k] = $1
				     count[k]++
			     }
			     END { for (k in first) print count[k], first[k] }' \
				"$FA_DIR/$mode/outcome" "$FA_DIR/$mode/problems" |
				sort -n | head -n "$FA_VG_EXTRA" | cut -d' ' -f2
		} | sort -un | awk 'NR == FNR { if (/ (crash|hang)/) bad[$1] = 1; next }
				  !($1 in bad)' "$FA_DIR/$mode/problems" - \
			>"$FA_DIR/$mode/valgrind-points"
		fa_run_points "$mode" valgrind <"$FA_DIR/$mode/valgrind-points"
		while read -r n; do
			vg_total=$((vg_total + 1))
			f=$FA_DIR/$mode/$n.valgrind
			rc=$(sed -n 's/^rc=//p' "$f.out" | tail -n 1)
			if [ "$rc" = 9 ] || [ "${rc:-0}" -gt 128 ] || [ "$rc" = 124 ] ||
				grep -qE '^==[0-9]+== (Invalid|Conditional jump|Use of uninitialised)' "$f.vg"; then
				vg_bad="$vg_bad $mode:$n"
			fi
			# The point must have failed under valgrind as well.
			if grep -q '^result ' "$f.out" &&
				[ "$(fa_field fired "$f.out")" != "$n" ]; then
				vg_nofire="$vg_nofire $mode:$n"
			fi
		done <"$FA_DIR/$mode/valgrind-points"
	done
	points=$(for mode in $FA_MODES; do
		[ -f "$FA_DIR/$mode/valgrind-points" ] &&
			echo "$mode N=$(paste -sd, "$FA_DIR/$mode/valgrind-points")"
	done | paste -sd';' -)
	if [ -z "$vg_nofire" ]; then
		ok "failalloc valgrind: the allocation failure happens under valgrind too"
	else
		fail "failalloc valgrind: the allocation failure happens under valgrind too" \
			"no failure injected at$vg_nofire: valgrind took over the shim's malloc?"
	fi
	if [ -z "$vg_bad" ]; then
		ok "failalloc valgrind: $vg_total points without a leak or an invalid access ($points; $((SECONDS - t0)) s)"
	else
		detail="at$vg_bad ($points)"
		for p in $vg_bad; do
			mode=${p%%:*}
			n=${p#*:}
			f=$FA_DIR/$mode/$n.valgrind
			detail="$detail
$mode N=$n (exit $(sed -n 's/^rc=//p' "$f.out" | tail -n 1)): $(fa_site "$FA_DIR/$mode/$n.valgrind.out")
$(grep -E '^==[0-9]+== ' "$f.vg" | sed -E 's/^==[0-9]+== //' | grep -vE '^$' | head -n 24)"
		done
		fail "failalloc valgrind: $((vg_total - $(echo "$vg_bad" | wc -w))) of $vg_total points without a leak or an invalid access" "$detail"
	fi
fi
