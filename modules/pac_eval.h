/*
 * pac_eval.h - running a proxy auto-config script and reading its answer
 * (internal to the pac module; tests/unit/test_pac_eval.c uses it too).
 *
 * A script runs in a child process made for the one call: a fresh
 * duktape heap whose allocator counts bytes against a memory budget,
 * and a parent that waits at most the time budget and then kills the
 * child.  The child is the only way to bound time: Debian's duktape is
 * built without DUK_USE_EXEC_TIMEOUT_CHECK and DUK_USE_INTERRUPT_COUNTER
 * (see duk_config.h), so a running script cannot be interrupted in the
 * process that runs it.  The child has no access to the host beyond the
 * PAC functions (name lookups, the local addresses, the clock): no
 * files, no print, no modules.
 */
#ifndef MODULES_PAC_EVAL_H
#define MODULES_PAC_EVAL_H

#include <netdb.h>
#include <stddef.h>
#include <time.h>

/* The longest answer kept; a longer one is refused as malformed. */
#define PAC_ANSWER_MAX 4096
#define PAC_MAX_ALTERNATIVES 16

struct pac_limits {
	size_t memory_bytes;   /* the heap's budget */
	long time_ms;          /* wall clock for the whole call */
	time_t now;            /* 0: the real clock; else the time the date
				  functions see (tests) */
};

/*
 * Whether this build can run scripts (built with duktape).  When not,
 * pac_eval_run() fails with a message saying so.
 */
int pac_eval_available(void);

/*
 * How the PAC functions look names up (dnsResolve, dnsResolveEx,
 * isResolvable, isResolvableEx, isInNet): a function with the contract
 * of getaddrinfo(3), whose results freeaddrinfo(3) frees.  NULL:
 * getaddrinfo, the default.  Process-wide and not synchronized: set it
 * before any evaluation starts (each evaluation's child inherits it).
 * For tests, which must give the same answers on every machine and ask
 * no DNS server.
 */
typedef int (*pac_lookup_fn)(const char *node, const char *service,
			     const struct addrinfo *hints,
			     struct addrinfo **res);
void pac_eval_set_lookup(pac_lookup_fn lookup);

/*
 * Evaluate FindProxyForURL(url, host) in 'script' (len bytes, need not
 * be NUL-terminated).  Returns 0 with *answer (malloc'd, free it) the
 * string the function returned, or -1 with a one-line reason in 'why'
 * (a syntax error, a thrown exception, no FindProxyForURL, a result
 * that is not a string, the memory or the time budget exhausted).
 * Blocks up to limits->time_ms: call it off any event loop.  Safe to
 * call from several threads at once.
 */
int pac_eval_run(const char *script, size_t len, const char *url,
		 const char *host, const struct pac_limits *limits,
		 char **answer, char *why, size_t whysz);

/* One alternative of an answer. */
struct pac_alternative {
	int direct;            /* DIRECT: no proxy */
	char scheme[8];        /* "http", "https", "socks4a", "socks5h" */
	char host[256];        /* name or IP literal, no brackets */
	unsigned port;
};

/*
 * Parse "PROXY a:1; HTTPS b:2; SOCKS5 c:3; SOCKS d:4; DIRECT" into at
 * most 'max' alternatives, in order.  Keywords are case-insensitive:
 * PROXY and HTTP (port 80 by default), HTTPS (443), SOCKS and SOCKS4
 * (socks4a, 1080), SOCKS5 (socks5h, 1080), DIRECT.  Empty entries are
 * skipped.  A malformed entry fails the whole answer: returns -1 with
 * the reason (quoting at most a short, sanitized part of the entry) in
 * 'why'.  An answer with no entry at all is malformed too.
 */
int pac_parse_answer(const char *answer, struct pac_alternative *out,
		     size_t max, size_t *n, char *why, size_t whysz);

/*
 * The alternative as a URL ("http://a:1", "socks5h://[::1]:1080") or
 * "DIRECT".  Returns the length, or -1 when 'outsz' is too small.
 */
int pac_alternative_url(const struct pac_alternative *alt, char *out,
			size_t outsz);

#endif
