#!/bin/bash
# t_socks_hostile.sh - the socks module against hostile SOCKS5 answers:
# socks_script.py answers the greeting and the CONNECT with bytes from a
# seeded generator, often almost right (version 5, reply 0, a real
# address type, then random lengths and bytes, then a close).  Every run
# must end in a proxy code (3, 4, 6) or a granted tunnel that the proxy
# then closes (0): never a crash, a sanitizer report or a hang.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/socks_lib.sh"

start_socks_script sp
socks_conf "$TMP/c5" "socks5h://127.0.0.1:$SOCKS_PORT"
SEEDS=${PS_SOCKS_SEEDS:-25}

bad=""
for seed in $(seq 1 "$SEEDS"); do
	scenario sp "random-$seed"
	rc=0
	timeout 20 "$PROXYSTACK" -c "$TMP/c5" connect tcp://localhost:4242 \
		</dev/null >/dev/null 2>"$TMP/random.err" || rc=$?
	case $rc in
	0 | 3 | 4 | 6) ;;
	*) bad="$bad seed $seed: exit $rc;" ;;
	esac
	if grep -qE "Sanitizer|runtime error" "$TMP/random.err"; then
		bad="$bad seed $seed: sanitizer report;"
		show_file "seed $seed" "$TMP/random.err"
	fi
done
expect_eq "$bad" "" "$SEEDS hostile answers: each a clean result"
# The generator reached the reply parser, not only the greeting.
expect_grep "^request ver=5" "$TMP/sp.requests" \
	"hostile answers: some runs got as far as the CONNECT"
