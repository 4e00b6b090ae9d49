/*
 * snapshot.h - one immutable, reference-counted configuration (internal).
 *
 * Built whole from the configuration directory and the environment:
 * parse, load modules, configure instances.  Only a snapshot for which
 * every step succeeded is ever used; connections hold a reference to the
 * one they started with, so a reload never changes a chain under way.
 */
#ifndef HOST_SNAPSHOT_H
#define HOST_SNAPSHOT_H

#include <pthread.h>
#include <stdatomic.h>

#include "env.h"
#include "ini_load.h"
#include "loader.h"
#include "log.h"
#include "schemes.h"

#define SOURCE_MAX 300

/* A global or [default] setting and where it came from (show-config). */
struct setting {
	char *value;              /* NULL: unset; owned */
	char source[SOURCE_MAX];  /* "file:line", "environment X", "default" */
	int secret;               /* never shown */
};

/* A configured module: a [transport|trust|select NAME] or a synthetic one. */
struct instance {
	char *kind;               /* "transport", "trust", "select" */
	char *name;
	struct loaded_module *mod;
	void *state;              /* what the module's configure returned */
	int configured;
	int builtin;              /* made by the host, not a section */
	char *display;            /* "module" or "module(proxy-url)" */
	char *proxy_host;         /* PS_CAP_PROXY: the proxy's address, */
	unsigned proxy_port;      /* which the hop below must reach */
	struct tls_proxy *proxy_tls; /* TLS under this hop (tls_proxy.h) */
	char source[SOURCE_MAX];  /* where the section starts */
};

/* Result classes a route line maps to actions (the bracket form). */
enum result_class {
	RC_RESOLVE, RC_CONNECT, RC_TIMEOUT, RC_PROXY_AUTH, RC_PROXY_DENIED,
	RC_PROXY_PROTOCOL, RC_TLS_VERIFY, RC_TLS, RC_WEBSOCKET, RC_UNSUPPORTED,
	RC_DEFAULT, RC_COUNT
};

enum route_action { ACT_DIE = 0, ACT_NEXT = 1 };

/* Where a stack comes from. */
enum stack_origin {
	STACK_BUILTIN,    /* direct, [default], the environment's proxies */
	STACK_SECTION,    /* a [stack NAME] section */
	STACK_TRANSPORT   /* a route naming a [transport NAME] alone */
};

struct proxy_stack;

/* Hops bottom to top (the implied direct included) and trust modules. */
struct stack {
	char *name;
	enum stack_origin origin;
	char *broken;             /* a system proxy variable that does not
				     parse: using the stack fails with this,
				     never a silent direct connection */
	struct instance **hops;
	size_t nhops;
	struct instance **trusts;
	size_t ntrusts;
	char source[SOURCE_MAX];
};

struct route_line {
	struct stack *stack;
	unsigned char action[RC_COUNT];   /* enum route_action per class */
	char control[64];                 /* as written, for show-config */
	char source[SOURCE_MAX];
};

struct route {
	char *name;
	const char *match;                /* host list (hostmatch.h) */
	struct route_line *lines;
	size_t nlines;
	struct instance *select;          /* select = NAME, or NULL */
	char source[SOURCE_MAX];
};

struct tls_cache;

struct snapshot {
	atomic_int refs;
	struct logger lg;
	struct ini_doc doc;
	struct ini_doc synthetic;         /* sections made from [default]/env */
	struct env_settings env;
	char *env_prefix;

	/* [global] */
	struct setting module_path, connect_timeout, ws_ping_interval;
	struct setting ws_pong_timeout, ws_max_message;
	struct setting ca_file, client_cert_file, client_key_file;
	struct setting insecure_tls;
	long connect_timeout_ms;
	long ws_ping_interval_s;
	long ws_pong_timeout_s;
	long ws_max_message_bytes;
	int insecure;

	/* [default] after level-1 environment overrides */
	struct setting proxy_url, proxy_username, proxy_password;
	struct setting proxy_password_file, no_proxy;

	struct loaded_module **modules;
	size_t nmodules;
	struct instance **instances;
	size_t ninstances;
	struct stack **stacks;
	size_t nstacks;
	struct route *routes;
	size_t nroutes;

	struct stack *direct_stack;       /* the predefined "direct" */
	struct stack *default_stack;      /* from [default]/prefix, or NULL */
	struct stack *env_https_stack;    /* from HTTPS_PROXY..., or NULL */
	struct stack *env_http_stack;
	struct stack *env_all_stack;

	/* Proxy URL schemes claimed by the modules of module_path. */
	struct scheme_table schemes;

	/* SSL_CTXs the TLS layers built for this snapshot (tls_cache.h). */
	struct tls_cache *tls_cache;

	/* Stacks made for select modules' alternatives, under proxy_lock
	 * (snapshot_proxy_stack). */
	pthread_mutex_t proxy_lock;
	struct proxy_stack *proxy_stacks;
	size_t nproxy_stacks;
};

struct snapshot_params {
	const char *conf_dir;
	int conf_dir_missing_ok;          /* default directory may be absent */
	const char *env_prefix;
	env_lookup_fn env_lookup;         /* NULL: no environment */
	void *env_user;
	struct logger lg;
};

/* Build a snapshot.  PS_OK, or an error (config/module) in *err. */
int snapshot_build(const struct snapshot_params *p, struct snapshot **out,
		   ps_error *err);

struct snapshot *snapshot_ref(struct snapshot *s);
/* Drop a reference; the last one unconfigures and unloads. NULL-safe. */
void snapshot_unref(struct snapshot *s);

/* The stack named NAME as a route may name it, or NULL. */
struct stack *snapshot_find_stack(const struct snapshot *s, const char *name);

/*
 * The stack for the proxy URL 'url' a select module chose ("http://a:1",
 * "socks5h://b:1080"): the instance of the first [transport] section
 * whose url is that proxy (scheme, host, port), so its trust and
 * credentials apply; else the shipped module for its scheme
 * (http-connect, https-proxy, socks) configured with url = URL on first
 * use; over direct, and kept, like every instance, until the snapshot
 * dies.  At most
 * 64 per snapshot (a script cannot grow memory without bound).
 * Thread-safe.  PS_OK with *out (valid while the snapshot is held), or
 * an error in *err.
 */
int snapshot_proxy_stack(struct snapshot *s, const char *url,
			 struct stack **out, ps_error *err);

/* Map a ps_code to its result class. */
enum result_class result_class_of(int code);
const char *result_class_name(enum result_class rc);

#endif
