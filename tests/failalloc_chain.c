/*
 * failalloc_chain.c - one full chain build under the failalloc shim, for
 * tests/integration/t_failalloc.sh.
 *
 *   LD_PRELOAD=.../failalloc.so FAILALLOC_N=N \
 *     failalloc_chain -c CONFDIR [--ca-file CA] [--message TEXT]
 *                     [--warm | --warm-openssl]
 *                     [--manual-reload | --poll-reload] URL
 *   failalloc_chain --self-test      (the shim catches what it must)
 *   failalloc_chain --leak-probe     (loses 21 bytes, for valgrind)
 *
 * A run is: ps_ctx_new() from CONFDIR (config load, module load), then
 * ps_connect() to URL (for wss:// through a proxy: TCP to the proxy,
 * CONNECT, TLS to the destination, the websocket upgrade), one message
 * echoed (ps_ws_send/ps_ws_recv; for tcp/tls URLs ps_conn_write and
 * ps_conn_read), the close handshake, ps_conn_close(), ps_ctx_free().
 *
 * The shim counts (and fails the Nth of) the allocations between
 * failalloc_arm(), called right before ps_ctx_new(), and
 * failalloc_disarm(), right after ps_ctx_free().  Once the failure has
 * happened, a second connection on the same context must work (a
 * failure must not leave the context, its TLS cache or its modules
 * broken); then, in the same process, a second run with nothing failing
 * must work too (nor the process).  Each of those two gets a second try
 * when it fails (the reason is printed): what the failure broke fails
 * twice, a peer's rare hiccup does not.  With --warm a clean run comes before
 * the armed one, so that every one-time initialisation (OpenSSL's,
 * libltdl's, the TLS layer's) is done and the armed run sees the steady
 * state of an agent that reconnects.  With --warm-openssl only OpenSSL is
 * warmed, by a TLS handshake of our own to the destination: the armed
 * run then meets proxystack's own one-time initialisations.
 *
 * Around each run the open descriptors (/proc/self/fd) are counted: a
 * run, failed or not, must leave exactly as many as it found (no socket
 * to the proxy left half-open, no eventfd, no epoll fd).
 *
 * Output, on stdout: "# " lines (the backtrace of the failed allocation,
 * printed before the clean rerun so that a crash there still shows it;
 * what stayed live), and one line
 *
 *   result n=N count=C fired=F stage=S code=NAME exit=E fds=A/B/C
 *          same-ctx=ok|-|NAME rerun=ok|NAME live=L layer=L message="..."
 *
 * where count is the number of allocations the armed run made, fired
 * the allocation that was failed (0: none, N was beyond the run), stage
 * the step that failed ("ok" when none did), same-ctx how the second
 * connection on the same context went ("-": the failure came before
 * there was a context, or never), fds the descriptor counts before the
 * armed run, after it and after the rerun, and live (with
 * FAILALLOC_TRACK=1 and --warm) how many allocations of the armed run
 * were still live after ps_ctx_free().
 *
 * Exit status: 0 when the armed run succeeded, else the exit class of
 * its error (ps_code_exit_status: 1 to 7), when every check passed.
 * Checks that failed win: 10 a warm-up failed (the set-up is broken, not
 * the library), 11 the clean run after the failure failed, 12 a
 * descriptor leaked, 15 the second connection on the same context
 * failed, 13 an echo came back wrong, 14 allocations of the armed run
 * stayed live, 64 usage.  A failure whose ps_error says PS_OK (a NULL
 * with no error) shows as code=unknown.  Without the shim (LD_PRELOAD
 * unset) nothing fails and count is 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <dlfcn.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <proxystack.h>

typedef void (*arm_fn)(long);
typedef long (*long_fn)(void);
typedef void (*site_fn)(int);
typedef long (*live_fn)(int, int);

static arm_fn fa_arm;
static long_fn fa_disarm, fa_fired;
static site_fn fa_site;
static live_fn fa_live;

struct opts {
	const char *conf_dir;
	const char *ca_file;
	const char *url;
	const char *message;
	int warm;
	int warm_openssl;
	int manual_reload;
	int poll_reload;
};

struct run {
	const char *stage;	/* "ok" or where it failed */
	int code;		/* PS_OK or the error */
	char message[PS_ERROR_MESSAGE_MAX];
	char layer[PS_ERROR_LAYER_MAX];
	int bad_echo;
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

/* Log lines go straight to stderr with write(2): no stdio buffer. */
static void quiet_log(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	if (write(2, "# log: ", 7) < 0 || write(2, msg, strlen(msg)) < 0 ||
	    write(2, "\n", 1) < 0)
		return;
}

static void fail_run(struct run *r, const char *stage, const ps_error *err,
		     int code)
{
	r->stage = stage;
	/* A failure that left *err at PS_OK is a bug of its own: -1. */
	r->code = !err ? code : err->code != PS_OK ? err->code : -1;
	snprintf(r->message, sizeof(r->message), "%s",
		 err ? err->message : "");
	snprintf(r->layer, sizeof(r->layer), "%s", err ? err->layer : "");
}

static int is_websocket(const char *url)
{
	return !strncmp(url, "ws://", 5) || !strncmp(url, "wss://", 6);
}

/* One text message there and back, then the close handshake. */
static void ws_exchange(ps_conn *c, const struct opts *o, struct run *r)
{
	size_t len = strlen(o->message);
	ps_ws_message m;
	int rc;

	rc = ps_ws_send(c, PS_WS_TEXT, o->message, len);
	if (rc != PS_OK) {
		fail_run(r, "ws-send", ps_conn_error(c), rc);
		return;
	}
	rc = ps_ws_recv(c, &m);
	if (rc != PS_OK) {
		fail_run(r, "ws-recv", ps_conn_error(c), rc);
		return;
	}
	if (m.type != PS_WS_TEXT || m.len != len ||
	    memcmp(m.data, o->message, len)) {
		r->bad_echo = 1;
		fail_run(r, "ws-echo", NULL, PS_ERR_INTERNAL);
		return;
	}
	rc = ps_ws_close(c, 1000, "failalloc");
	if (rc != PS_OK) {
		fail_run(r, "ws-close", ps_conn_error(c), rc);
		return;
	}
	rc = ps_ws_recv(c, &m);
	if (rc != PS_OK) {
		fail_run(r, "ws-close-recv", ps_conn_error(c), rc);
		return;
	}
	if (m.type != PS_WS_CLOSE || m.close_code != 1000) {
		r->bad_echo = 1;
		fail_run(r, "ws-close-answer", NULL, PS_ERR_INTERNAL);
	}
}

/* The message there and back as bytes (tcp://, tls://). */
static void byte_exchange(ps_conn *c, const struct opts *o, struct run *r)
{
	size_t len = strlen(o->message), got = 0, n;
	char back[512];
	int rc;

	rc = ps_conn_write(c, o->message, len, &n);
	if (rc != PS_OK) {
		fail_run(r, "write", ps_conn_error(c), rc);
		return;
	}
	rc = ps_conn_shutdown_write(c);
	if (rc != PS_OK) {
		fail_run(r, "shutdown-write", ps_conn_error(c), rc);
		return;
	}
	for (;;) {
		rc = ps_conn_read(c, back + got, sizeof(back) - got, &n);
		if (rc != PS_OK) {
			fail_run(r, "read", ps_conn_error(c), rc);
			return;
		}
		if (n == 0 || got + n == sizeof(back))
			break;
		got += n;
	}
	if (got != len || memcmp(back, o->message, len)) {
		r->bad_echo = 1;
		fail_run(r, "echo", NULL, PS_ERR_INTERNAL);
	}
}

static int failed(const struct run *r)
{
	return r->code != PS_OK || r->bad_echo;
}

static void report_retry(const char *what, const struct run *r)
{
	printf("# %s failed at %s (%s: %s); trying once more\n", what,
	       r->stage, r->code == -1 ? "unknown" : ps_code_name(r->code),
	       r->message);
}

/* One connection on 'ctx': connect, exchange, close. */
static void conn_once(ps_ctx *ctx, const struct opts *o, struct run *r)
{
	ps_connect_options cn;
	ps_error err;
	ps_conn *c;

	memset(r, 0, sizeof(*r));
	r->stage = "ok";
	ps_connect_options_init(&cn);
	cn.ca_file = o->ca_file;
	cn.ws_ping_interval_s = -1;
	c = ps_connect(ctx, o->url, &cn, &err);
	if (!c) {
		fail_run(r, "connect", &err, PS_ERR_INTERNAL);
		return;
	}
	if (is_websocket(o->url))
		ws_exchange(c, o, r);
	else
		byte_exchange(c, o, r);
	ps_conn_close(c);
}

/*
 * One whole run; r->stage says how far it got.  With 'again' (the armed
 * run), once the allocation failure has happened a second connection
 * on the same context must work: a failure must not leave the context
 * (its snapshot, its TLS context cache, its modules' state) broken.
 * again->stage is NULL when that did not apply.
 */
static void run_chain(const struct opts *o, struct run *r, struct run *again)
{
	ps_ctx_options co;
	ps_error err;
	ps_ctx *ctx;

	memset(r, 0, sizeof(*r));
	r->stage = "ok";
	if (again)
		memset(again, 0, sizeof(*again));
	ps_ctx_options_init(&co);
	co.conf_dir = o->conf_dir;
	co.log_fn = quiet_log;
	co.log_level = PS_LOG_WARN;
	co.reload = o->manual_reload ? PS_RELOAD_MANUAL
		    : o->poll_reload ? PS_RELOAD_POLL : PS_RELOAD_WATCH;

	ctx = ps_ctx_new(&co, &err);
	if (!ctx) {
		fail_run(r, "ctx-new", &err, PS_ERR_INTERNAL);
		return;
	}
	conn_once(ctx, o, r);
	if (again && fa_arm && fa_fired()) {
		conn_once(ctx, o, again);
		if (failed(again)) {
			/* Once more: a broken context fails every time, a
			 * peer's hiccup does not. */
			report_retry("the same context", again);
			conn_once(ctx, o, again);
		}
	}
	ps_ctx_free(ctx);
}

/*
 * --warm-openssl: a TLS handshake of our own, straight to the
 * destination (not through proxystack), with the same CA file.  OpenSSL
 * 3 builds much of its global state lazily (the default library
 * context, its algorithm and decoder caches) and never retries a part
 * that failed once, so a failure there leaves the process without TLS
 * whatever proxystack does.  After this, the armed run's one-time
 * initialisations are proxystack's own (libltdl, the TLS layer's BIO
 * method and ex_data index).  0 when the handshake worked.
 */
static int openssl_warm_up(const char *url, const char *ca_file)
{
	char host[256], port[8], digest[SHA_DIGEST_LENGTH];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	const char *p = strstr(url, "://"), *colon, *end;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	int fd = -1, rc = -1;

	if (!p)
		return -1;
	p += 3;
	end = p + strcspn(p, "/");
	colon = memchr(p, ':', (size_t)(end - p));
	if (!colon || colon - p >= (long)sizeof(host) ||
	    end - colon - 1 >= (long)sizeof(port))
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - p), p);
	snprintf(port, sizeof(port), "%.*s", (int)(end - colon - 1), colon + 1);
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	ctx = SSL_CTX_new(TLS_client_method());
	if (fd < 0 || !ctx ||
	    (ca_file && SSL_CTX_load_verify_file(ctx, ca_file) != 1))
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_set1_host(ssl, host) != 1 ||
	    SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_connect(ssl) != 1)
		goto out;
	/* The websocket layer's digest and random bytes. */
	if (!SHA1((const unsigned char *)"x", 1, (unsigned char *)digest) ||
	    RAND_bytes((unsigned char *)digest, 4) != 1)
		goto out;
	SSL_shutdown(ssl);
	rc = 0;
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	ERR_clear_error();
	return rc;
}

static void print_quoted(const char *s)
{
	putchar('"');
	for (; *s; s++)
		putchar(*s == '"' || *s == '\n' ? '\'' : *s);
	putchar('"');
}

static int self_check(int ok, const char *what)
{
	printf("%s - self-test: %s\n", ok ? "ok" : "not ok", what);
	return !ok;
}

/* Prove the shim catches what it must, in this very process. */
static int self_test(void)
{
	char *s1, *s2, *s3, *s4, *s5;
	void *p1, *p2, *p3;
	long count;
	int bad = 0;

	if (!fa_arm)
		return self_check(0, "failalloc.so is preloaded");
	fa_arm(1);
	s1 = strdup("x");
	fa_disarm();
	bad |= self_check(s1 == NULL, "strdup fails when its malloc does");

	fa_arm(1);
	s2 = strndup("xyz", 2);
	fa_disarm();
	bad |= self_check(s2 == NULL, "strndup fails when its malloc does");

	fa_arm(0);
	s3 = strdup("counted");
	count = fa_disarm();
	bad |= self_check(count == 1 && s3, "one strdup counts one allocation");

	fa_arm(1);
	p1 = OPENSSL_malloc(64);
	fa_disarm();
	bad |= self_check(p1 == NULL, "OPENSSL_malloc (CRYPTO_malloc) fails"
			  " when malloc does");

	fa_arm(2);
	p2 = OPENSSL_zalloc(64);
	s4 = OPENSSL_strdup("openssl");
	fa_disarm();
	bad |= self_check(p2 && !s4, "the 2nd allocation fails, the 1st not");

	fa_arm(1);
	p3 = malloc(8);
	s5 = strdup("again");
	fa_disarm();
	bad |= self_check(!p3 && s5, "one failure only, then allocations"
			  " work");

	free(s1);
	free(s2);
	free(s3);
	OPENSSL_free(p1);
	OPENSSL_free(p2);
	OPENSSL_free(s4);
	free(p3);
	free(s5);
	fflush(stdout);
	return bad;
}

/*
 * --leak-probe: lose one allocation on purpose, so that the test can
 * prove valgrind still tracks allocations through the shim (it would
 * not if it took the shim for the allocator: --soname-synonyms).
 */
static int leak_probe(void)
{
	char *lost = strdup("failalloc leak probe");

	/* Print it, then drop the only pointer to it. */
	printf("# leak probe: %s\n", lost ? lost : "(none)");
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: failalloc_chain -c DIR [--ca-file CA]"
		" [--message TEXT] [--warm | --warm-openssl]\n"
		"                       [--manual-reload | --poll-reload] URL\n"
		"       failalloc_chain --self-test | --leak-probe\n");
	return 64;
}

int main(int argc, char **argv)
{
	struct opts o = { .message = "hello from failalloc" };
	struct run warm, armed, again, rerun;
	long count = 0, fired = 0, live = -1;
	int fds0, fds1, fds2, status, i;
	const char *n_text = getenv("FAILALLOC_N");

	fa_arm = (arm_fn)dlsym(RTLD_DEFAULT, "failalloc_arm");
	fa_disarm = (long_fn)dlsym(RTLD_DEFAULT, "failalloc_disarm");
	fa_fired = (long_fn)dlsym(RTLD_DEFAULT, "failalloc_fired");
	fa_site = (site_fn)dlsym(RTLD_DEFAULT, "failalloc_site");
	fa_live = (live_fn)dlsym(RTLD_DEFAULT, "failalloc_live");
	if (!fa_disarm || !fa_fired || !fa_site || !fa_live)
		fa_arm = NULL;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--self-test"))
			return self_test();
		if (!strcmp(argv[i], "--leak-probe"))
			return leak_probe();
		if (!strcmp(argv[i], "--warm"))
			o.warm = 1;
		else if (!strcmp(argv[i], "--warm-openssl"))
			o.warm_openssl = 1;
		else if (!strcmp(argv[i], "--manual-reload"))
			o.manual_reload = 1;
		else if (!strcmp(argv[i], "--poll-reload"))
			o.poll_reload = 1;
		else if (i + 1 < argc && !strcmp(argv[i], "-c"))
			o.conf_dir = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--ca-file"))
			o.ca_file = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--message"))
			o.message = argv[++i];
		else
			return usage();
	}
	if (i != argc - 1 || !o.conf_dir || strlen(o.message) >= 512)
		return usage();
	o.url = argv[i];
	/* stdout's buffer now, not inside the armed run. */
	setvbuf(stdout, NULL, _IOFBF, 8192);
	printf("# failalloc_chain %s, N=%s%s\n", o.url, n_text ? n_text : "0",
	       fa_arm ? "" : " (no shim: nothing fails)");

	if (o.warm_openssl && openssl_warm_up(o.url, o.ca_file)) {
		printf("result n=%s stage=warm-up:openssl code=unknown"
		       " message=\"a TLS handshake to the destination failed\"\n",
		       n_text ? n_text : "0");
		return 10;
	}
	if (o.warm) {
		run_chain(&o, &warm, NULL);
		if (warm.code != PS_OK || warm.bad_echo) {
			printf("result n=%s stage=warm-up:%s code=%s"
			       " message=", n_text ? n_text : "0", warm.stage,
			       ps_code_name(warm.code));
			print_quoted(warm.message);
			putchar('\n');
			return 10;
		}
	}

	fds0 = count_fds();
	fflush(stdout);
	if (fa_arm)
		fa_arm(-1);
	run_chain(&o, &armed, &again);
	if (fa_arm) {
		count = fa_disarm();
		fired = fa_fired();
		/*
		 * Only meaningful in the steady state (after a warm-up).
		 * OpenSSL keeps this thread's error queue (and the text of
		 * its last error) alive between calls: release it, it is
		 * not ours.
		 */
		if (o.warm) {
			OPENSSL_thread_stop();
			live = fa_live(-1, 0);
		}
		if (live > 0) {
			printf("# %ld allocations of the armed run still live"
			       " after ps_ctx_free():\n", live);
			fflush(stdout);
			fa_live(1, 8);
		}
	}
	/* The failure site now: should the rerun crash, it is known. */
	fflush(stdout);
	if (fired && fa_site) {
		if (write(1, "# ", 2) < 0)
			return 1;
		fa_site(1);
	}
	fds1 = count_fds();
	run_chain(&o, &rerun, NULL);
	if (failed(&rerun)) {
		report_retry("the clean rerun", &rerun);
		run_chain(&o, &rerun, NULL);
	}
	fds2 = count_fds();

	printf("result n=%s count=%ld fired=%ld stage=%s code=%s exit=%d"
	       " fds=%d/%d/%d same-ctx=%s%s rerun=%s%s live=%ld layer=%s"
	       " message=",
	       n_text ? n_text : "0", count, fired, armed.stage,
	       ps_code_name(armed.code), ps_code_exit_status(armed.code),
	       fds0, fds1, fds2, again.bad_echo ? "bad-echo:" : "",
	       !again.stage ? "-" : again.code == PS_OK ? "ok"
						    : ps_code_name(again.code),
	       rerun.bad_echo ? "bad-echo:" : "",
	       rerun.code == PS_OK ? "ok" : ps_code_name(rerun.code), live,
	       armed.layer[0] ? armed.layer : "-");
	print_quoted(armed.message);
	putchar('\n');
	if (again.stage && (again.code != PS_OK || again.bad_echo)) {
		printf("# the same context failed again after the failure,"
		       " at %s: ", again.stage);
		print_quoted(again.message);
		putchar('\n');
	}
	if (rerun.code != PS_OK) {
		printf("# rerun failed at %s: ", rerun.stage);
		print_quoted(rerun.message);
		putchar('\n');
	}

	if (rerun.code != PS_OK || rerun.bad_echo)
		status = 11;
	else if (fds0 != fds1 || fds0 != fds2)
		status = 12;
	else if (again.stage && (again.code != PS_OK || again.bad_echo))
		status = 15;
	else if (armed.bad_echo)
		status = 13;
	else if (live > 0)
		status = 14;
	else
		status = ps_code_exit_status(armed.code);
	fflush(stdout);
	return status;
}
