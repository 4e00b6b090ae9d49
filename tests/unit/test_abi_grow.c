/*
 * test_abi_grow.c - the public structures can grow (proxystack.h,
 * "Growing structures"), and the module contract on a failed configure.
 *
 * A program compiled against today's header drives "tomorrow's" option
 * structures (today's fields, then one appended, struct_size larger):
 * accepted, the known fields honoured.  The 1.0 layout is accepted; a
 * struct_size below it is refused with PS_ERR_USAGE.  What a library
 * does with a caller built before a field existed is checked through
 * PS_HAS_FIELD/PS_TAKE_FIELD, the very macros the library reads with.
 *
 * PS_TEST_MODULE_DIR is the build's modules, PS_TEST_FAILCONF_DIR the
 * directory of the test modules (tests/modules/failconf.so,
 * proxysize.so, oldops.so, fake5.so); the module cases copy direct.so
 * and those into a module directory of their own.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "api_args.h"
#include "confdir.h"
#include "ctx.h"

/* Today's ps_ctx_options with a field appended, as a later header has. */
typedef struct ctx_options_tomorrow {
	size_t struct_size;
	const char *conf_dir;
	const char *env_prefix;
	ps_log_fn log_fn;
	void *log_user;
	int log_level;
	int ignore_environment;
	int reload;
	long tomorrow_field;
} ctx_options_tomorrow;

/* Today's ps_connect_options with a field appended. */
typedef struct connect_options_tomorrow {
	size_t struct_size;
	const char *ca_file;
	const char *client_cert_file;
	const char *client_key_file;
	int insecure_tls;
	const char *alpn;
	int timeout_ms;
	ps_step_fn on_step;
	void *step_user;
	const char *ws_subprotocols;
	const char *ws_origin;
	const char *const *ws_headers;
	int ws_ping_interval_s;
	int ws_pong_timeout_s;
	size_t ws_max_message;
	const char *forward_head;       /* 1.3 */
	size_t forward_head_len;
	int forward_has_body;
	const char *tomorrow_field;
} connect_options_tomorrow;

static void write_conf(const char *module_dir, const char *text)
{
	write_conf_in("abi", module_dir, text);
}

static int log_calls;

static void count_log(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	(void)msg;
	log_calls++;
}

/* insecure_tls warns as it loads: something for log_fn to get. */
#define PROXY_CONF                                                        \
	"[default]\nproxy_url = http://127.0.0.1:3128\n"                    \
	"[global]\ninsecure_tls = true\n" /* a warning at load */
#define PROXY_CHAIN "direct -> http-connect(http://127.0.0.1:3128)"

/* The context's `which`, or the error's code name. */
static char *which_of(ps_ctx *ctx, const ps_error *err)
{
	ps_error werr;
	char *out;

	if (!ctx)
		return strdup(ps_code_name(err->code));
	out = ps_ctx_which(ctx, "tcp://example.com:80", &werr);
	return out ? out : strdup(ps_code_name(werr.code));
}

static void ctx_tomorrow_is_honoured(void)
{
	ctx_options_tomorrow o;
	ps_error err;
	ps_ctx *ctx;
	char *chain;

	write_conf(PS_TEST_MODULE_DIR, PROXY_CONF);
	memset(&o, 0, sizeof(o));
	o.struct_size = sizeof(o);
	o.conf_dir = confdir;
	o.log_fn = count_log;
	o.log_level = PS_LOG_WARN;
	o.ignore_environment = 1;
	o.reload = PS_RELOAD_MANUAL;
	o.tomorrow_field = 12345;
	log_calls = 0;
	ctx = ps_ctx_new((const ps_ctx_options *)&o, &err);
	chain = which_of(ctx, &err);
	CHECK_STR(chain, PROXY_CHAIN);
	CHECK_MSG(log_calls > 0, "tomorrow's ctx options: log_fn honoured"
		  " (%d lines)", log_calls);
	CHECK_MSG(ctx && !ctx->watcher, "tomorrow's ctx options: reload ="
		  " manual honoured (no watcher)");
	free(chain);
	ps_ctx_free(ctx);
	remove_confdir();
}

static void ctx_1_0_is_accepted(void)
{
	ps_ctx_options o;
	ps_error err;
	ps_ctx *ctx;
	char *chain;

	write_conf(PS_TEST_MODULE_DIR, PROXY_CONF);
	ps_ctx_options_init(&o);
	o.struct_size = PS_CTX_OPTIONS_SIZE_1_0;
	o.conf_dir = confdir;
	o.log_fn = count_log;
	o.ignore_environment = 1;
	o.reload = PS_RELOAD_POLL;
	ctx = ps_ctx_new(&o, &err);
	chain = which_of(ctx, &err);
	CHECK_STR(chain, PROXY_CHAIN);
	CHECK_MSG(ctx && ctx->watcher, "1.0-sized ctx options: reload ="
		  " poll honoured (a watcher runs)");
	free(chain);
	ps_ctx_free(ctx);
	remove_confdir();
}

static void ctx_below_1_0_is_refused(size_t size)
{
	ps_ctx_options o;
	ps_error err;
	ps_ctx *ctx;

	ps_ctx_options_init(&o);
	o.struct_size = size;
	o.conf_dir = "/nonexistent";
	o.reload = PS_RELOAD_MANUAL;
	ctx = ps_ctx_new(&o, &err);
	CHECK_MSG(!ctx, "ctx options of %zu bytes: refused", size);
	CHECK_INT(err.code, PS_ERR_USAGE);
	CHECK_MSG(strstr(err.message, "ps_ctx_options.struct_size is") &&
		  strstr(err.message, "smaller than the 1.0 layout"),
		  "ctx options of %zu bytes: message (%s)", size,
		  err.message);
	CHECK_MSG(strstr(err.hint, "with ps_ctx_options_init()") != NULL,
		  "ctx options of %zu bytes: hint (%s)", size, err.hint);
	ps_ctx_free(ctx);
}

static ps_ctx *direct_ctx(void)
{
	ps_ctx_options o;
	ps_error err;

	write_conf(PS_TEST_MODULE_DIR, "");
	ps_ctx_options_init(&o);
	o.conf_dir = confdir;
	o.ignore_environment = 1;
	o.reload = PS_RELOAD_MANUAL;
	o.log_fn = count_log;
	return ps_ctx_new(&o, &err);
}

static void connect_tomorrow_is_honoured(ps_ctx *ctx)
{
	connect_options_tomorrow o;
	ps_error err;
	ps_conn *conn;

	memset(&o, 0, sizeof(o));
	o.struct_size = sizeof(o);
	o.tomorrow_field = "ignored";
	conn = ps_conn_start(ctx, "tcp://127.0.0.1:9",
			     (const ps_connect_options *)&o, &err);
	CHECK_MSG(conn != NULL, "tomorrow's connect options: accepted (%s)",
		  conn ? "" : err.message);
	ps_conn_close(conn);

	/* A certificate without its key: refused, so the field was read. */
	o.client_cert_file = "/nonexistent/cert.pem";
	conn = ps_conn_start(ctx, "tcp://127.0.0.1:9",
			     (const ps_connect_options *)&o, &err);
	CHECK_MSG(!conn && err.code == PS_ERR_USAGE &&
		  strstr(err.message, "needs its key"),
		  "tomorrow's connect options: client_cert_file honoured"
		  " (%s)", err.message);
	ps_conn_close(conn);

	/* The websocket fields, the last of 1.0, are read too. */
	o.client_cert_file = NULL;
	o.ws_origin = "http://a\r\nInjected: 1";
	conn = ps_conn_start(ctx, "tcp://127.0.0.1:9",
			     (const ps_connect_options *)&o, &err);
	CHECK_MSG(!conn && err.code == PS_ERR_USAGE &&
		  strstr(err.message, "ws_origin"),
		  "tomorrow's connect options: ws_origin honoured (%s)",
		  err.message);
	ps_conn_close(conn);

	/* forward_head (1.3) is read too: a head without its empty line is
	 * refused. */
	o.ws_origin = NULL;
	o.forward_head = "GET http://a/ HTTP/1.1\r\n";
	o.forward_head_len = strlen(o.forward_head);
	conn = ps_conn_start(ctx, "tcp://127.0.0.1:9",
			     (const ps_connect_options *)&o, &err);
	CHECK_MSG(!conn && err.code == PS_ERR_USAGE &&
		  strstr(err.message, "forward_head"),
		  "tomorrow's connect options: forward_head honoured (%s)",
		  err.message);
	ps_conn_close(conn);
}

static void connect_1_0_is_accepted(ps_ctx *ctx)
{
	ps_connect_options o;
	ps_error err;
	ps_conn *conn;

	ps_connect_options_init(&o);
	o.struct_size = PS_CONNECT_OPTIONS_SIZE_1_0;
	conn = ps_conn_start(ctx, "tcp://127.0.0.1:9", &o, &err);
	CHECK_MSG(conn != NULL, "1.0-sized connect options: accepted (%s)",
		  conn ? "" : err.message);
	ps_conn_close(conn);
}

static void connect_below_1_0_is_refused(ps_ctx *ctx, size_t size)
{
	ps_connect_options o;
	ps_error err;
	ps_conn *conn;

	ps_connect_options_init(&o);
	o.struct_size = size;
	conn = ps_conn_start(ctx, "tcp://127.0.0.1:9", &o, &err);
	CHECK_MSG(!conn, "connect options of %zu bytes: refused", size);
	CHECK_INT(err.code, PS_ERR_USAGE);
	CHECK_MSG(strstr(err.message, "ps_connect_options.struct_size is") &&
		  strstr(err.message, "smaller than the 1.0 layout"),
		  "connect options of %zu bytes: message (%s)", size,
		  err.message);
	ps_conn_close(conn);
	/* The blocking form goes through the same check. */
	conn = ps_connect(ctx, "tcp://127.0.0.1:9", &o, &err);
	CHECK_MSG(!conn && err.code == PS_ERR_USAGE,
		  "ps_connect, options of %zu bytes: refused", size);
	ps_conn_close(conn);
}

/*
 * Tomorrow's library, today's caller: the library's structure has a
 * field the caller's struct_size does not reach; it keeps its default.
 */
struct library_options_v2 {
	size_t struct_size;
	int today;
	long added_later;
};

static void field_past_struct_size_is_defaulted(void)
{
	typedef struct library_options_v2 T;
	T caller = { .struct_size = offsetof(T, added_later),
		     .today = 7, .added_later = 99 };
	T taken = { .struct_size = sizeof(T), .today = 0,
		    .added_later = -1 };

	CHECK(PS_HAS_FIELD(T, &caller, today));
	CHECK(!PS_HAS_FIELD(T, &caller, added_later));
	PS_TAKE_FIELD(T, &taken, &caller, today);
	PS_TAKE_FIELD(T, &taken, &caller, added_later);
	CHECK_INT(taken.today, 7);
	CHECK_INT(taken.added_later, -1);
	/* A size ending inside a field does not hold it either. */
	caller.struct_size = offsetof(T, added_later) + 1;
	CHECK(!PS_HAS_FIELD(T, &caller, added_later));
	caller.struct_size = sizeof(T) + 8;
	CHECK(PS_HAS_FIELD(T, &caller, added_later));
}

static char moddir[256];

/* A module directory holding direct.so and the test modules. */
static void make_module_dir(void)
{
	char cmd[900];

	snprintf(moddir, sizeof(moddir), "/tmp/ps-test-abi-modules-%d",
		 (int)getpid());
	snprintf(cmd, sizeof(cmd), "mkdir -m 700 '%s' && cp '%s/direct.so'"
		 " '%s/failconf.so' '%s/proxysize.so' '%s/oldops.so'"
		 " '%s/fake5.so' '%s'", moddir, PS_TEST_MODULE_DIR,
		 PS_TEST_FAILCONF_DIR, PS_TEST_FAILCONF_DIR,
		 PS_TEST_FAILCONF_DIR, PS_TEST_FAILCONF_DIR, moddir);
	CHECK_MSG(system(cmd) == 0, "a module directory with the test"
		  " modules");
}

static void remove_module_dir(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", moddir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", moddir);
}

static char last_log[512];

static void keep_log(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

/* ps_ctx_new() on a configuration of the test module directory. */
static ps_ctx *module_ctx(const char *conf, ps_error *err)
{
	ps_ctx_options o;

	write_conf(moddir, conf);
	ps_ctx_options_init(&o);
	o.conf_dir = confdir;
	o.ignore_environment = 1;
	o.reload = PS_RELOAD_MANUAL;
	o.log_fn = keep_log;
	last_log[0] = '\0';
	return ps_ctx_new(&o, err);
}

/*
 * A module built for the 1.0 layout passes its size: the host fills it
 * and writes nothing past it.  One byte less is refused.
 */
static void proxy_info_takes_the_module_size(void)
{
	ps_error err;
	ps_ctx *ctx;

	ctx = module_ctx("[transport p]\nmodule = proxysize\n"
			 "url = http://127.0.0.1:3128\nsize = 1.0\n", &err);
	CHECK_MSG(ctx != NULL, "proxy info of the 1.0 size: accepted (%s)",
		  ctx ? "" : err.message);
	CHECK_MSG(strstr(last_log, "127.0.0.1:3128 filled in") &&
		  strstr(last_log, "nothing written past them"),
		  "proxy info of the 1.0 size: filled, nothing past it (%s)",
		  last_log);
	ps_ctx_free(ctx);
	remove_confdir();

	ctx = module_ctx("[transport p]\nmodule = proxysize\n"
			 "url = http://127.0.0.1:3128\nsize = small\n",
			 &err);
	CHECK_MSG(!ctx, "proxy info below the 1.0 size: refused");
	CHECK_INT(err.code, PS_ERR_CONFIG);
	CHECK_MSG(strstr(err.message, "module proxysize passed a"
			 " ps_proxy_info of") &&
		  strstr(err.message, "smaller than the 1.0 layout"),
		  "proxy info below the 1.0 size: message (%s)", err.message);
	ps_ctx_free(ctx);
	remove_confdir();
}

/*
 * The schemes op (ABI 1.2) is read only inside ops_size: oldops, built
 * with 1.1's ops_size, has one past it that the host must not see, so
 * its scheme is unknown; fake5's claim (1.2) is honoured, with its
 * default port and ps_proxy_info.resolve_remotely.
 */
static void schemes_op_only_inside_ops_size(void)
{
	ps_error err;
	ps_ctx *ctx;

	ctx = module_ctx("[default]\nproxy_url = oldops://127.0.0.1:1\n",
			 &err);
	CHECK_MSG(!ctx, "a schemes op past ops_size is not read");
	CHECK_MSG(!ctx && strstr(err.message, "unsupported proxy scheme"
				 " 'oldops://'"),
		  "a schemes op past ops_size: scheme unknown (%s)",
		  ctx ? "" : err.message);
	ps_ctx_free(ctx);
	remove_confdir();

	ctx = module_ctx("[default]\nproxy_url = fake5://127.0.0.1\n", &err);
	CHECK_MSG(ctx != NULL, "a 1.2 module's claimed scheme is served (%s)",
		  ctx ? "" : err.message);
	CHECK_MSG(strstr(last_log, "fake5: fake5://127.0.0.1:1085, names"
			 " resolved by the proxy") != NULL,
		  "the claim's default port and resolve_remotely reach the"
		  " module (%s)", last_log);
	ps_ctx_free(ctx);
	remove_confdir();
}

/*
 * ps_config_want_proxy_tls (ABI 1.2): the 1.2 size and a later, larger
 * one are accepted (which shows the TLS step under the hop), one byte
 * less is refused.
 */
static void proxy_tls_takes_the_module_size(void)
{
	static const char *const accepted[] = { "1.2", "later" };
	ps_error err;
	ps_ctx *ctx;
	char conf[200], *which;

	for (size_t i = 0; i < 2; i++) {
		snprintf(conf, sizeof(conf), "[transport p]\nmodule = "
			 "proxysize\nurl = http://127.0.0.1:3128\nsize = 1.0\n"
			 "tls = %s\n[route r]\nmatch = *\nstack = p\n",
			 accepted[i]);
		ctx = module_ctx(conf, &err);
		CHECK_MSG(ctx != NULL, "proxy tls of size %s: accepted (%s)",
			  accepted[i], ctx ? "" : err.message);
		which = ctx ? ps_ctx_which(ctx, "tcp://example.test:1", &err)
			    : NULL;
		CHECK_STR(which ? which : "(none)", "direct -> "
			  "tls(127.0.0.1:3128) -> proxysize(http://127.0.0.1:"
			  "3128)");
		ps_free(which);
		ps_ctx_free(ctx);
		remove_confdir();
	}
	ctx = module_ctx("[transport p]\nmodule = proxysize\n"
			 "url = http://127.0.0.1:3128\nsize = 1.0\n"
			 "tls = small\n", &err);
	CHECK_MSG(!ctx, "proxy tls below the 1.2 size: refused");
	CHECK_INT(err.code, PS_ERR_CONFIG);
	CHECK_MSG(strstr(err.message, "struct ps_proxy_tls of") &&
		  strstr(err.message, "below ABI 1.2's"),
		  "proxy tls below the 1.2 size: message (%s)", err.message);
	ps_ctx_free(ctx);
	remove_confdir();
}

/*
 * failconf's configure() fails after allocating and frees what it
 * built; its unconfigure() frees again.  Under AddressSanitizer, a host
 * that called unconfigure() after the failure crashes here.
 */
static void failed_configure_is_not_unconfigured(void)
{
	ps_error err;
	ps_ctx *ctx;

	ctx = module_ctx("[transport f]\nmodule = failconf\n"
			 "[route all]\nmatch = *\nstack = f\n", &err);
	CHECK_MSG(!ctx, "a failing configure() fails the context");
	CHECK_INT(err.code, PS_ERR_CONFIG);
	CHECK_MSG(strstr(err.message, "failconf always fails") != NULL,
		  "the module's own message is kept (%s)", err.message);
	ps_ctx_free(ctx);
	remove_confdir();
}

int main(void)
{
	ps_ctx *ctx;

	ctx_tomorrow_is_honoured();
	ctx_1_0_is_accepted();
	ctx_below_1_0_is_refused(PS_CTX_OPTIONS_SIZE_1_0 - 1);
	ctx_below_1_0_is_refused(0);
	ctx = direct_ctx();
	CHECK_MSG(ctx != NULL, "a context for the connect cases");
	if (ctx) {
		connect_tomorrow_is_honoured(ctx);
		connect_1_0_is_accepted(ctx);
		connect_below_1_0_is_refused(ctx,
					     PS_CONNECT_OPTIONS_SIZE_1_0 - 1);
		connect_below_1_0_is_refused(ctx, sizeof(size_t));
	}
	ps_ctx_free(ctx);
	remove_confdir();
	field_past_struct_size_is_defaulted();
	make_module_dir();
	proxy_info_takes_the_module_size();
	proxy_tls_takes_the_module_size();
	failed_configure_is_not_unconfigured();
	schemes_op_only_inside_ops_size();
	remove_module_dir();
	return check_done();
}
