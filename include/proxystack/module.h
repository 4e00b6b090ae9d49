/*
 * proxystack/module.h - the module ABI: what a transport or trust module
 * exports, and the host services it may call.
 *
 * A module is a shared object in the module path that exports exactly one
 * symbol, PS_MODULE_SYMBOL ("proxystack_module"): a const struct ps_module.
 * Build it with `pkg-config --cflags --libs proxystack` and libtool
 * `-module -avoid-version -export-symbols-regex '^proxystack_module$'`.
 *
 * Life cycle (all calls come from the host; see proxystack-module(7)):
 *
 *   per configuration snapshot   configure() once per section that names
 *                                the module; unconfigure() when the
 *                                snapshot dies, only for the instances
 *                                whose configure() returned PS_OK (a
 *                                failed configure() frees what it built
 *                                itself).  The returned instance is shared
 *                                by every connection of the snapshot and
 *                                may be used from several threads at
 *                                once: treat it as read-only, except for
 *                                state the module synchronizes itself
 *                                (atomics, or a mutex around a connection
 *                                pool, as https-proxy keeps).
 *   per connection               open() -> connect()... -> send()/recv()...
 *                                -> close().  One thread at a time.
 *
 * The connect hook is NON-BLOCKING AND RESTARTABLE, as in curl's connection
 * filters: the host calls it again and again, and each call advances a
 * small state machine as far as it can without blocking, then returns
 *
 *   PS_OK      this layer is established; connect() is not called again
 *   PS_AGAIN   waiting for I/O: the layer below recorded what to wait for
 *              (a bottom layer calls ps_layer_want() itself)
 *   an error   after ps_layer_fail() recorded code, message and hint
 *
 * The host calls a layer's connect() only after every layer below it is
 * established, owns the poll loop, and enforces one deadline for the whole
 * chain: a module never sleeps, never blocks, never loops waiting.
 *
 * After connect, a layer whose tunnel is transparent (an HTTP CONNECT
 * tunnel) leaves send and recv NULL: the host then passes bytes straight
 * to the layer below at no cost.  A layer that transforms bytes (TLS to a
 * proxy, an HTTP/2 stream) provides send and recv.
 *
 * Memory: strings the host passes are valid for the duration of the call
 * unless said otherwise.  What a module allocates, it frees (in
 * unconfigure or close, or in configure itself when configure fails).
 *
 * Growing structures: struct ps_module_ops grows by appending, its size
 * in ps_module.ops_size; struct ps_proxy_info grows by appending, the
 * module passing its size (ps_config_get_proxy() does it for you);
 * struct ps_module itself does not grow (new descriptor information
 * would come through a new op).  Secrets read through ps_config_get_secret() must
 * be wiped by the module with ps_secret_free().
 */
#ifndef PROXYSTACK_MODULE_H
#define PROXYSTACK_MODULE_H

#include <stddef.h>
#include <stdint.h>
#include <proxystack.h>

/* From <netdb.h>; declared here so the header stands alone. */
struct addrinfo;

#ifdef __cplusplus
extern "C" {
#endif

/* The descriptor's magic: "psm1".  The host refuses anything else. */
#define PS_MODULE_MAGIC 0x70736d31u
/* Incompatible changes bump the major; the host refuses another major. */
#define PS_MODULE_ABI_MAJOR 1
/*
 * Compatible additions (new ops at the end of ps_module_ops, new host
 * services) bump the minor.  1.1 added ps_config_get_user_agent(),
 * ps_config_get_header_each() and ps_config_get_proxy_sized() (which
 * ps_config_get_proxy() now calls), and retired the select op; a module
 * built against the 1.1 header needs a 1.1 host (an older one refuses to
 * load it: a symbol is missing), and modules built for 1.0 work unchanged
 * with a 1.1 host.  1.2 added the byte-protocol helpers
 * ps_layer_send_all() and ps_layer_recv_exact() (see "Host services:
 * byte protocols" at the end of this file), the schemes op with struct
 * ps_scheme (modules claim proxy URL schemes),
 * ps_proxy_info.resolve_remotely, ps_layer_set_socket() (a bottom layer
 * names its socket, for ps_conn_fd()), and the select op with the
 * ps_select_* services (a select-phase module such as pac chooses the
 * stacks of a route).
 */
#define PS_MODULE_ABI_MINOR 4
/*
 * 1.4 adds ps_layer_offload() (see "ABI 1.4: work that must block" at the
 * end of this file): a layer hands a call that can only block (GSSAPI
 * asking the KDC for a ticket) to a helper thread and waits for it the
 * non-blocking way.  No op, no structure change.
 */
/*
 * 1.3 adds ps_layer_forward_take() (see "ABI 1.3: forwarding a request"
 * at the end of this file): the last proxy hop may send an HTTP request
 * head it is given instead of a CONNECT.  No op, no structure change:
 * modules built for 1.0-1.2 load unchanged and simply tunnel.
 */
/*
 * 1.2 adds (see the "ABI 1.2: layers that ask the layers below" block):
 * the query op appended to ps_module_ops, ps_layer_query_below() with
 * PS_QUERY_ALPN, ps_config_want_proxy_tls() and struct ps_proxy_tls (the
 * host's TLS layer to a proxy hop), ps_layer_detach_below() and the
 * ps_subchain_send/recv/query/why/close() services (a module that keeps
 * a connection to its proxy for several tunnels), ps_layer_skip_below(),
 * ps_layer_shutdown_below() and ps_clock_ms().  Modules built for 1.0
 * and 1.1 work unchanged with a 1.2 host (their query op reads as NULL);
 * a module that calls a 1.2 service needs a 1.2 host.
 */
/* The one symbol a module exports. */
#define PS_MODULE_SYMBOL "proxystack_module"

/* Which phases of the chain a module serves (ps_module.phases bits). */
enum ps_phase {
	/* [select NAME] sections: a route with `select = NAME` asks the
	 * module's select op (ABI 1.2) for its alternatives; a module
	 * without that op makes such a route fail with PS_ERR_UNSUPPORTED. */
	PS_PHASE_SELECT = 1u << 0,
	PS_PHASE_TRANSPORT = 1u << 1, /* a hop toward the destination */
	PS_PHASE_TRUST = 1u << 2      /* adds to the destination's trust */
};

/* Capability flags (ps_module.caps bits). */
enum ps_capability {
	/* Opens its own connection (fd) instead of running over a layer
	 * below: only such a module may be the bottom of a chain. */
	PS_CAP_BOTTOM = 1u << 0,
	/* Reaches its target through a proxy given by a URL ("url" key):
	 * ps_ctx_which() shows it as module(url-without-credentials).  A
	 * module that is both BOTTOM and PROXY reaches its proxy over a TCP
	 * connection of its own, shown as "direct -> module(url)". */
	PS_CAP_PROXY = 1u << 1
};

typedef struct ps_config ps_config; /* one configuration section (host-owned) */
typedef struct ps_layer ps_layer;   /* one layer of one connection (host-owned) */
typedef struct ps_trust ps_trust;   /* destination trust being built (host-owned) */
typedef struct ps_select ps_select; /* one selection in progress (host-owned); ABI 1.2 */

/*
 * The vtable.  Any op may be NULL where the module does not need it; the
 * host then does the obvious default (noted per op).  New ops are only
 * ever appended; the host reads only the first ps_module.ops_size bytes,
 * so an op appended later is NULL for a module built before it.  The host
 * refuses an ops_size smaller than ABI 1.0's table (up to and including
 * the reserved slot).
 */
struct ps_module_ops {
	/*
	 * Parse this section's keys with ps_config_get*() and build the
	 * module's instance.  Every key of the section must be read: keys
	 * the module never asked for are reported as unknown (configuration
	 * fails closed).  Return PS_OK and set *instance (may be NULL), or
	 * return ps_config_error(...).  A configure() that fails frees
	 * whatever it built before returning: the host ignores *instance
	 * then and never calls unconfigure() for it.  NULL op: the section
	 * must have no keys but "module".
	 */
	int (*configure)(ps_config *cfg, void **instance);

	/*
	 * Free what a successful configure() built, when the snapshot dies.
	 * Called once per instance whose configure() returned PS_OK, never
	 * after a failed one.  NULL op: nothing to free.
	 */
	void (*unconfigure)(void *instance);

	/*
	 * Per connection: allocate this layer's state.  The target it must
	 * reach is ps_layer_target_host()/ps_layer_target_port().  Return
	 * PS_OK, or an error via ps_layer_fail().  NULL op: no state.
	 */
	int (*open)(ps_layer *layer, void *instance, void **state);

	/*
	 * Advance the handshake (see the file comment).  NULL op: the layer
	 * is established at once.
	 */
	int (*connect)(ps_layer *layer, void *state);

	/*
	 * Established channel I/O.  Return PS_OK with *n > 0 (recv: 0 means
	 * orderly end of stream), PS_AGAIN after recording what to wait for,
	 * or an error via ps_layer_fail().  NULL ops: transparent, the host
	 * uses the layer below (ps_layer_send_below/ps_layer_recv_below).
	 */
	int (*send)(ps_layer *layer, void *state, const void *buf, size_t len,
		    size_t *n);
	int (*recv)(ps_layer *layer, void *state, void *buf, size_t len,
		    size_t *n);

	/*
	 * Close our sending side (half-close).  NULL op: passed to the layer
	 * below.
	 */
	int (*shutdown_write)(ps_layer *layer, void *state);

	/*
	 * Free the connection state.  Called for every layer whose open()
	 * was called, even when open() failed (with whatever *state it
	 * set, possibly NULL).  Must not block.  NULL op: nothing.
	 */
	void (*close)(ps_layer *layer, void *state);

	/*
	 * Trust phase: add what destination certificates may chain to for
	 * destination 'host', with ps_trust_add_ca_file()/_dir().  Return
	 * PS_OK or an error code.
	 */
	int (*add_trust)(void *instance, ps_trust *trust, const char *host);

	/*
	 * Reserved: the `select` op of ABI 1.0, which no host could use (it
	 * had no way to hand stacks back).  Leave it NULL; the host never
	 * reads it.  The slot stays so that the table keeps its 1.0 size
	 * (hosts 1.0 and 1.1 refuse a smaller ops_size) and so that no later
	 * op lands where a module built for 1.0 stored its select function.
	 * A working select op, when there is one, is appended after it.
	 */
	void (*reserved_1_0)(void);

	/* ---- since ABI 1.2 (URL schemes; see "Schemes" below) ---- */

	/*
	 * The proxy URL schemes this module serves: a table in the module's
	 * own static memory, ended by an entry whose name is NULL; called
	 * once per snapshot, from any thread, never freed by the host.  A
	 * proxy URL (proxy_url, HTTPS_PROXY, ALL_PROXY...) with one of these
	 * schemes is served by this module.  Two loaded modules claiming one
	 * scheme fail the configuration.  NULL op (and every module built
	 * before 1.2): the shipped modules get their built-in schemes
	 * (http-connect: http; https-proxy: https; socks: socks4, socks4a,
	 * socks5, socks5h), any other module none.
	 */
	const struct ps_scheme *(*schemes)(void);

	/* ---- ABI 1.2: choosing stacks (select phase) ---------------- */
	/*
	 * Select phase: choose how to reach 'url' (the destination as the
	 * agent gave it, without credentials) whose host is 'host' (a name
	 * or an IP literal, no brackets).  Add the alternatives in the
	 * order they are to be tried with ps_select_add(): "DIRECT" or a
	 * proxy URL ("http://a:3128", "https://b:443", "socks5h://c:1080",
	 * socks4/socks4a/socks5 too).  The host builds a stack for each
	 * (the [transport] section whose url is that proxy, else the
	 * shipped module for the scheme; over direct) and tries them in
	 * order, failing over on any error, as route lines
	 * `stack = X [default=next]` would.  It never adds DIRECT itself:
	 * when every alternative fails, the connection fails (fail closed).
	 *
	 * Called on a helper thread of the host, never on the thread of
	 * the agent's event loop, so it may block (name lookups, reading
	 * or fetching a script), but it must return within
	 * ps_select_remaining_ms(): the host waits no longer, and then
	 * fails the connection with PS_ERR_TIMEOUT (the call still runs to
	 * its end; its result is dropped).  Several calls may run at once
	 * on one instance.  ps_ctx_which() and `proxystack which` call it
	 * on the caller's thread.
	 *
	 * Return PS_OK with at least one alternative added, or an error
	 * after ps_select_fail().  NULL op: the module cannot choose, and a
	 * route through it fails with PS_ERR_UNSUPPORTED.  Since ABI 1.2.
	 */
	int (*select)(ps_select *sel, void *instance, const char *url,
		      const char *host);

	/* ---- ABI 1.2 (NULL in a module built for 1.0 or 1.1) ---- */

	/*
	 * Answer a question a layer above asked with ps_layer_query_below()
	 * (enum ps_query: 'what', and where the answer goes: 'out' of
	 * 'size' bytes).  Return PS_OK with the answer written, or
	 * PS_ERR_UNSUPPORTED when this layer does not know: the host then
	 * asks the next layer below.  Called on the connection's thread,
	 * only while this layer is established (or on a sub-chain the
	 * module holds).  NULL op: never knows anything.
	 */
	int (*query)(ps_layer *layer, void *state, int what, void *out,
		     size_t size);
};

/*
 * One URL scheme a module claims (the schemes op, since ABI 1.2).
 */
struct ps_scheme {
	/* Lower-case RFC 3986 scheme without "://": a letter, then
	 * letters, digits, '+', '-' or '.'; at most 16 bytes.  NULL ends
	 * the table. */
	const char *name;
	/* The proxy's port when the URL names none: 1-65535. */
	unsigned default_port;
	/* 1: the proxy resolves destination names (the module sends the
	 * name, as socks5h and HTTP CONNECT do); 0: they are resolved
	 * here first (socks5, socks4).  Told to the module in
	 * ps_proxy_info.resolve_remotely. */
	int resolve_remotely;
};

/* The descriptor a module exports as PS_MODULE_SYMBOL. */
struct ps_module {
	uint32_t magic;      /* PS_MODULE_MAGIC */
	uint16_t abi_major;  /* PS_MODULE_ABI_MAJOR the module was built with */
	uint16_t abi_minor;  /* PS_MODULE_ABI_MINOR the module was built with */
	uint32_t ops_size;   /* sizeof(struct ps_module_ops) it was built with */
	const char *name;    /* must equal the file name without ".so" */
	uint32_t phases;     /* enum ps_phase bits */
	uint32_t caps;       /* enum ps_capability bits */
	const char *summary; /* one line for `proxystack modules` */
	const struct ps_module_ops *ops;
};

/* Fill the ABI header fields of a descriptor. */
#define PS_MODULE_HEADER                                                  \
	.magic = PS_MODULE_MAGIC, .abi_major = PS_MODULE_ABI_MAJOR,       \
	.abi_minor = PS_MODULE_ABI_MINOR,                                 \
	.ops_size = sizeof(struct ps_module_ops)

/* ------------------------------------------------------------------ */
/* Host services: configuration (valid during configure() only)        */
/* ------------------------------------------------------------------ */

/* The section's instance name ("corp" for [transport corp]). */
const char *ps_config_name(const ps_config *cfg);

/*
 * The value of 'key' (the last one if repeated), or NULL if absent.
 * Marks the key as known.  The string lives as long as the snapshot.
 */
const char *ps_config_get(ps_config *cfg, const char *key);

/*
 * Call 'fn' for each value of a repeated key, in file order; stops early
 * when fn returns non-zero and returns that value.  Marks the key known.
 */
int ps_config_get_each(ps_config *cfg, const char *key,
		       int (*fn)(void *user, const char *value), void *user);

/*
 * Parse 'key' as a boolean (true/false/yes/no/on/off/1/0).  Absent: *out
 * = dflt.  Returns PS_OK or a ps_config_error() for a bad value.
 */
int ps_config_get_bool(ps_config *cfg, const char *key, int dflt, int *out);

/* Parse 'key' as an integer in [min, max]; like ps_config_get_bool(). */
int ps_config_get_long(ps_config *cfg, const char *key, long dflt, long min,
		       long max, long *out);

/*
 * A secret given either inline ('key', warned about if the file holding
 * it is readable by others) or in a file ('file_key', first line, warned
 * about if readable by others).  Both given is an error.  *out is NULL
 * when neither is set; otherwise free it with ps_secret_free().
 *
 * The file's line ends at its first LF (a CR just before it is dropped);
 * a secret holding a control byte (0x00-0x1f, 0x7f: an embedded CR, a
 * NUL) is refused with a ps_config_error() naming the key (and the file),
 * never the secret, because it could end the header it is sent in.
 */
int ps_config_get_secret(ps_config *cfg, const char *key,
			 const char *file_key, char **out);

/* Wipe and free a secret.  NULL is allowed. */
void ps_secret_free(char *secret);

/*
 * The User-Agent to send: the value of 'key' (normally "user_agent")
 * when set, else "proxystack/VERSION" with the host's own version (a
 * module never sees the host's config.h).  Marks the key known.  A value
 * that is empty or holds a control byte other than HTAB is refused with a
 * ps_config_error() naming the key.  *out lives as long as the snapshot;
 * do not free it.  Thread-safe like every configure-time service (it is
 * only called from configure()).  Since ABI 1.1.
 */
int ps_config_get_user_agent(ps_config *cfg, const char *key,
			     const char **out);

/*
 * ps_config_get_each() for a key whose values are HTTP header fields
 * "Name: value" (the proxy modules' "header" key).  Each value is checked
 * before fn sees it: the name an RFC 9110 token, then a colon, and no
 * control byte but HTAB anywhere; a bad one is a ps_config_error() naming
 * the key and the field's position, never its value (a header may carry
 * a token).  fn gets the field as written (whitespace after the colon
 * included); its non-zero result stops the walk and is returned.  Since
 * ABI 1.1.
 */
int ps_config_get_header_each(ps_config *cfg, const char *key,
			      int (*fn)(void *user, const char *field),
			      void *user);

/*
 * A proxy hop as the host resolved it from a section (see below).  The
 * module allocates it, the host fills it: it grows only by appending, and
 * the host writes only the fields that lie wholly inside the size the
 * module passes, so a module built against an older header never has
 * bytes written past its structure.
 */
struct ps_proxy_info {
	char *scheme;    /* lower-case: "http", "https", "socks5", ... */
	char *host;      /* name or IP literal, without brackets */
	unsigned port;   /* given, or the scheme's default */
	char *username;  /* NULL: none */
	char *password;  /* a secret; NULL: none */
	char *display;   /* "scheme://host:port", never any credential */
	/* Since ABI 1.2: 1 when the scheme's module sends destination
	 * names to the proxy (ps_scheme.resolve_remotely of the scheme's
	 * claim; http, https, socks4a, socks5h), 0 when they are to be
	 * resolved here first (socks4, socks5).  Written only when the
	 * size passed holds it (a module built for 1.1 never sees it). */
	int resolve_remotely;
	/* New fields are appended here. */
};

/* The size of the 1.0 layout: the smallest the host fills. */
#define PS_PROXY_INFO_SIZE_1_0                                            \
	(offsetof(struct ps_proxy_info, display) + sizeof(char *))

/*
 * Read the keys url (required), username, password and password_file and
 * resolve them the way every proxy module must: the URL is parsed and
 * percent-decoded by the host; credentials in the URL win over the
 * username/password keys, which win over the host's <prefix>PROXY_USERNAME
 * and <prefix>PROXY_PASSWORD variables.  If 'schemes' is non-NULL (a
 * NULL-terminated list) the URL's scheme must be one of them.  Returns
 * PS_OK, or a ps_config_error() naming the key.  Free the fields with
 * ps_proxy_info_clear().
 *
 * Every user name and password, from whichever source, is checked here
 * before a module sees it: no control byte (0x00-0x1f, 0x7f), and no ':'
 * in a user name (RFC 7617: Basic cannot carry it).  A refusal is a
 * ps_config_error() that names the source (file:line, or the variable)
 * and never the value.  A module may put the fields in a header as they
 * are, but must still quote them where the syntax asks (Digest's
 * quoted-string: '"' and '\' escaped).
 */
int ps_config_get_proxy(ps_config *cfg, const char *const *schemes,
			struct ps_proxy_info *out);

/*
 * ps_config_get_proxy() for a structure of 'out_size' bytes: zeroes them
 * and fills the fields that lie wholly inside.  An 'out_size' below
 * PS_PROXY_INFO_SIZE_1_0 is a ps_config_error().  The macro below makes
 * every ps_config_get_proxy() call pass sizeof(*out); the function of
 * that name stays for modules built for ABI 1.0 and fills the 1.0 layout
 * only.  Since ABI 1.1.
 */
int ps_config_get_proxy_sized(ps_config *cfg, const char *const *schemes,
			      struct ps_proxy_info *out, size_t out_size);
#define ps_config_get_proxy(cfg, schemes, out)                            \
	ps_config_get_proxy_sized((cfg), (schemes), (out), sizeof(*(out)))

/*
 * Free the 1.0 fields (wiping the password) and zero them.  NULL-safe.
 * (When a field that needs freeing is appended, a sized clear comes with
 * it, as for ps_config_get_proxy_sized().)
 */
void ps_proxy_info_clear(struct ps_proxy_info *p);

/*
 * Report a configuration error about 'key' (NULL: the section): the host
 * prefixes file:line.  Returns PS_ERR_CONFIG so a module can write
 * `return ps_config_error(cfg, "url", "bad port %s", p);`.
 */
int ps_config_error(ps_config *cfg, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Log during configure (prefixed with the section).  Never log secrets. */
void ps_config_log(ps_config *cfg, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* Host services: a connection layer (valid between open and close)    */
/* ------------------------------------------------------------------ */

/* The host name or IP literal this layer must lead to (no brackets). */
const char *ps_layer_target_host(const ps_layer *layer);
/* The port this layer must lead to. */
unsigned ps_layer_target_port(const ps_layer *layer);
/* This layer's 0-based index in the chain. */
int ps_layer_hop(const ps_layer *layer);
/* Milliseconds left before the chain's deadline (0 when passed). */
long ps_layer_remaining_ms(const ps_layer *layer);

/*
 * I/O on the layer below (only for layers above the bottom).  Same
 * results as the send/recv ops; on PS_AGAIN the below layers already
 * recorded what to wait for, so just return PS_AGAIN up.
 */
int ps_layer_send_below(ps_layer *layer, const void *buf, size_t len,
			size_t *n);
int ps_layer_recv_below(ps_layer *layer, void *buf, size_t len, size_t *n);

/*
 * Give bytes back: the next reads through this layer return them first.
 * For a handshake that read past its end (a CONNECT reply followed by
 * tunnel bytes).  Returns PS_OK or PS_ERR_NOMEM.
 */
int ps_layer_unread(ps_layer *layer, const void *buf, size_t len);

/*
 * From connect(): have the host close every layer below this one and
 * build them again, then call this layer's connect() once more with its
 * state kept.  For a proxy that closes its connection after asking for
 * credentials (a 407 with Connection: close).  Return PS_AGAIN after
 * calling it.  A layer may ask at most 3 times per chain; after that
 * this returns PS_ERR_PROXY_PROTOCOL (already recorded).
 */
int ps_layer_reconnect_below(ps_layer *layer);

/*
 * Bottom layers: wait for 'events' (POLLIN/POLLOUT) on 'fd' before the
 * next call.  May be called for several fds (happy eyeballs).
 */
void ps_layer_want(ps_layer *layer, int fd, short events);

/* Call the layer again after 'ms' milliseconds even without I/O. */
void ps_layer_wake_in(ps_layer *layer, long ms);

/*
 * Resolve host:port without blocking (a helper thread).  Returns PS_AGAIN
 * until the answer is in (call again from connect), then PS_OK with *res
 * owned by the layer (freed at close), or PS_ERR_RESOLVE via
 * ps_layer_fail().  IP literals resolve at once.
 */
int ps_layer_resolve(ps_layer *layer, const char *host, unsigned port,
		     const struct addrinfo **res);

/*
 * Record the failure of this layer: code, a hint a person can act on
 * (may be NULL) and a message.  Returns 'code'.  Never pass a secret.
 */
int ps_layer_fail(ps_layer *layer, int code, const char *hint,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Log, prefixed with the layer.  Never pass a secret. */
void ps_layer_log(ps_layer *layer, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The detail shown for this layer by `proxystack check` ("10.0.0.1:3128"). */
void ps_layer_set_detail(ps_layer *layer, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------ */
/* Host services: trust                                                */
/* ------------------------------------------------------------------ */

/*
 * Add a PEM bundle / a hashed CA directory to the destination's trust.
 * Returns PS_OK, PS_ERR_CONFIG when the file or directory cannot be
 * loaded, or PS_ERR_NOMEM; on failure the reason is kept in 'trust' and
 * the host reports it if add_trust passes the code on.  Call from
 * add_trust only (the connection's thread).
 */
int ps_trust_add_ca_file(ps_trust *trust, const char *path);
int ps_trust_add_ca_dir(ps_trust *trust, const char *path);

/* ------------------------------------------------------------------ */
/* Host services: small helpers                                        */
/* ------------------------------------------------------------------ */

/*
 * Base64 (RFC 4648, padded) of in[0..len) into out, NUL-terminated.
 * Returns the length written, or (size_t)-1 if outsz is too small
 * (needs 4 * ((len + 2) / 3) + 1).
 */
size_t ps_base64_encode(const void *in, size_t len, char *out, size_t outsz);

/*
 * Decode base64 (RFC 4648; the padding may be left out) in[0..len) into
 * out[0..outsz).  Returns the byte count (out is not NUL-terminated), or
 * -1 for a byte outside the alphabet, more than two '=', a lone last
 * digit, or no room.  Pure; thread-safe.  Since ABI 1.2.
 */
long ps_base64_decode(const char *in, size_t len, void *out, size_t outsz);

/*
 * Percent-decode 'in' (RFC 3986) into a new NUL-terminated string.
 * Returns NULL for a malformed escape, an encoded NUL, or no memory.
 * Free with ps_free() (ps_secret_free() when it held a secret).
 */
char *ps_percent_decode(const char *in);

/*
 * Read an HTTP head (status line and headers up to the empty line) from
 * the layer below into 'head' (capacity 'cap'), without blocking.  Call
 * from connect() until it returns PS_OK: *head_len then holds the head's
 * length including the final CRLFCRLF (or LFLF), and any bytes read past
 * it were given back with ps_layer_unread().  '*filled' keeps the progress
 * between calls (start it at 0).  Returns PS_AGAIN, PS_OK, or
 * PS_ERR_PROXY_PROTOCOL (head longer than 'cap', or end of stream).
 */
int ps_layer_read_head(ps_layer *layer, char *head, size_t cap,
		       size_t *filled, size_t *head_len);

/*
 * Bottom layers: 'fd' is this layer's connected socket and, once the
 * layer is established, the channel is exactly the bytes on it (no
 * framing, nothing buffered by the layer).  The host may then hand it to
 * the agent for zero-copy relaying (ps_conn_fd() in proxystack.h) when
 * every layer above is transparent too.  The fd stays the layer's: it
 * closes it in close() as before.  Call from connect() once connected;
 * a layer that never calls it is used only through its send/recv.
 * Since ABI 1.2.
 */
void ps_layer_set_socket(ps_layer *layer, int fd);

/* ------------------------------------------------------------------ */
/* Host services: byte protocols (since ABI 1.2)                       */
/* ------------------------------------------------------------------ */

/*
 * For handshakes made of fixed-size messages (SOCKS, and any binary
 * protocol a module speaks to its proxy), two helpers over the layer
 * below that never block and can be called again after PS_AGAIN.
 *
 * The progress of one message lives in a struct ps_bytes_progress owned
 * by the caller, normally inside the connection state: zero it (or let
 * the previous PS_OK do it) before the first call for a message, then
 * pass the same buffer, length and progress on every call until one
 * returns something other than PS_AGAIN.  The host keeps no pointer to
 * any of them between calls.  A receiver that learns the length of a
 * message from its first bytes may go on with the same buffer: set
 * done to the bytes already in it and call again with the full length
 * (the error then counts from the start of the message).
 */
struct ps_bytes_progress {
	size_t done;    /* bytes of the message sent or received so far */
};

/*
 * Send buf[0..len) to the layer below, from progress->done on, as far as
 * it takes without blocking.  'buf' must stay valid and unchanged until
 * the call that returns PS_OK (the host does not copy it).  Returns:
 *
 *   PS_OK     every byte was handed to the layer below; progress->done
 *             is back at 0, ready for the next message
 *   PS_AGAIN  the layer below is full and recorded what to wait for:
 *             return PS_AGAIN from connect() and call again later
 *   an error  the layer below failed (already recorded, usually
 *             PS_ERR_IO), or a layer below accepted nothing without
 *             saying PS_AGAIN (PS_ERR_IO, recorded here)
 *
 * A 'len' of 0 is PS_OK at once.  Call from connect() (or send()) of a
 * layer above the bottom, on the connection's thread.
 */
int ps_layer_send_all(ps_layer *layer, const void *buf, size_t len,
		      struct ps_bytes_progress *progress);

/*
 * Receive exactly 'len' bytes into buf[0..len), from progress->done on,
 * without blocking and never reading past 'len': bytes that follow stay
 * with the layer below for whoever reads next (the tunnel's first bytes
 * after a handshake reply are never swallowed).  Bytes this layer gave
 * back with ps_layer_unread() are taken first.  'what' names the message
 * for the error ("the SOCKS5 reply"; NULL: "the answer").  Returns:
 *
 *   PS_OK     buf holds all 'len' bytes; progress->done is back at 0
 *   PS_AGAIN  not all there yet (what was read is kept in buf and
 *             counted in progress): return PS_AGAIN from connect()
 *   PS_ERR_PROXY_PROTOCOL  the peer ended the stream first; recorded
 *             as "connection closed after D of LEN bytes of WHAT"
 *   another error          the layer below failed (already recorded)
 *
 * A 'len' of 0 is PS_OK at once.  Same threading as ps_layer_send_all().
 */
int ps_layer_recv_exact(ps_layer *layer, void *buf, size_t len,
			struct ps_bytes_progress *progress, const char *what);

/* ------------------------------------------------------------------ */
/* Host services: a selection (ABI 1.2; valid during the select op)    */
/* ------------------------------------------------------------------ */

/* The most alternatives one selection may add. */
#define PS_SELECT_MAX_ALTERNATIVES 16

/*
 * Add the next alternative: "DIRECT" (any case) or a proxy URL
 * scheme://host[:port] with scheme http, https, socks4, socks4a, socks5
 * or socks5h and nothing after the authority (no credentials, no path).
 * The string is copied.  Returns PS_OK, PS_ERR_USAGE (recorded, with the
 * reason) for a malformed one or one too many, or PS_ERR_NOMEM.  Since
 * ABI 1.2.
 */
int ps_select_add(ps_select *sel, const char *alternative);

/*
 * What the module decided from, shown by `proxystack which` and
 * ps_ctx_which() (a PAC script's raw answer: "PROXY a:1; DIRECT").
 * Copied, cut at 400 bytes, control bytes replaced.  Never a secret.
 * Since ABI 1.2.
 */
void ps_select_set_answer(ps_select *sel, const char *text);

/*
 * Record why the selection failed: code, hint (may be NULL), message.
 * Returns 'code'.  Never pass a secret.  Since ABI 1.2.
 */
int ps_select_fail(ps_select *sel, int code, const char *hint,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Log, prefixed with the select section.  Since ABI 1.2. */
void ps_select_log(ps_select *sel, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Milliseconds left before the host stops waiting (0: none).  ABI 1.2. */
long ps_select_remaining_ms(const ps_select *sel);

/* ------------------------------------------------------------------ */
/* ABI 1.2: layers that ask the layers below, TLS to a proxy hop,      */
/* connections to a proxy kept for several tunnels                     */
/* ------------------------------------------------------------------ */

/* Questions for ps_layer_query_below() and the query op. */
enum ps_query {
	/*
	 * The application protocol the nearest TLS layer below negotiated
	 * by ALPN: 'out' is a char buffer of 'size' bytes that receives it
	 * NUL-terminated ("h2", "http/1.1"), or "" when the peer chose
	 * none.  A protocol that does not fit is PS_ERR_UNSUPPORTED.
	 */
	PS_QUERY_ALPN = 1
};

/*
 * Ask the layers below 'layer', nearest first, until one answers (its
 * query op returned something else than PS_ERR_UNSUPPORTED).  Returns
 * that answer (PS_OK with 'out' filled), or PS_ERR_UNSUPPORTED when no
 * layer below knows (nothing recorded: the caller decides whether that
 * is a failure).  From connect(), send() or recv() of an established
 * chain below, on the connection's thread.  Since ABI 1.2.
 */
int ps_layer_query_below(ps_layer *layer, int what, void *out, size_t size);

/*
 * Half-close through the layers below (their shutdown_write), for a
 * layer that provides send and recv over them and is asked to shut
 * down its sending side.  Same results as the shutdown_write op.  Since
 * ABI 1.2.
 */
int ps_layer_shutdown_below(ps_layer *layer);

/*
 * TLS to a proxy hop, made by the host's TLS layer (the one the
 * destination's TLS uses), with the proxy's own trust.  Grows by
 * appending: set 'size' to sizeof(struct ps_proxy_tls) (the
 * PS_PROXY_TLS_INIT macro does); the host reads only the fields that
 * lie inside it.  Strings are read during the call only.
 */
struct ps_proxy_tls {
	size_t size;                  /* sizeof(struct ps_proxy_tls) */
	const char *ca_file;          /* what the proxy's certificate must
					 chain to; NULL: the system CAs
					 (never the destination's trust) */
	const char *client_cert_file; /* our certificate (PEM), or NULL */
	const char *client_key_file;  /* its key; NULL: in the cert file */
	int insecure;                 /* do not verify the proxy (loud) */
	const char *alpn;             /* "h2,http/1.1"; NULL: no ALPN */
	/* New fields are appended here. */
};

#define PS_PROXY_TLS_INIT { .size = sizeof(struct ps_proxy_tls) }

/* The size of the 1.2 layout: the smallest the host accepts. */
#define PS_PROXY_TLS_SIZE_1_2                                             \
	(offsetof(struct ps_proxy_tls, alpn) + sizeof(const char *))

/*
 * From configure() of a PS_CAP_PROXY module whose section has a url:
 * put a TLS layer under this hop on every connection, its target the
 * proxy's host and port from that url (SNI and a name check for a name,
 * an IP check for an IP literal; TLS 1.2 at least).  The host loads the
 * files and builds the TLS context now, once per snapshot: a file that
 * cannot be loaded is a ps_config_error() naming the section's key
 * (ca_file, client_cert_file or client_key_file: use those key names)
 * with file:line, and so is an 'opts->size' below the 1.2 layout or a
 * malformed ALPN list.  Returns PS_OK, PS_ERR_CONFIG or PS_ERR_NOMEM.
 * `which` and `check` then show the hop as "tls(host:port) -> module(url)".
 * Since ABI 1.2.
 */
int ps_config_want_proxy_tls(ps_config *cfg, const struct ps_proxy_tls *opts);

/*
 * The layers below a hop, taken out of their connection once they are
 * established (ps_layer_detach_below): a connection to a proxy that a
 * module keeps and shares between tunnels (an HTTP/2 session).  Owned
 * by the module, which must ps_subchain_close() it at the latest in
 * unconfigure().  Not thread-safe: the module serializes every call on
 * one sub-chain (a mutex around its session).
 */
typedef struct ps_subchain ps_subchain;

/*
 * From connect() of 'layer' once the layers below are established: take
 * them out of this connection.  The connection then goes on without
 * them ('layer' must provide send and recv itself from now on, over the
 * sub-chain), and closing the connection no longer closes them.
 * Returns the sub-chain, or NULL after recording PS_ERR_NOMEM (or
 * PS_ERR_INTERNAL: nothing below, or not established).  Since ABI 1.2.
 */
ps_subchain *ps_layer_detach_below(ps_layer *layer);

/*
 * I/O on a sub-chain, driven by 'driver': the layer of the connection
 * on whose behalf the call is made.  What to wait for, wake-ups and
 * failures are recorded on the driver's connection (as if the sub-chain
 * were below it), and logs name its hop.  Same results as
 * ps_layer_send_below()/ps_layer_recv_below().  Since ABI 1.2.
 */
int ps_subchain_send(ps_subchain *sub, ps_layer *driver, const void *buf,
		     size_t len, size_t *n);
int ps_subchain_recv(ps_subchain *sub, ps_layer *driver, void *buf,
		     size_t len, size_t *n);

/*
 * The first failure recorded on the sub-chain ("" while none): the
 * message for every tunnel that shared it.  Once a call failed, every
 * later send and recv returns that failure's code at once.  The string
 * lives as long as the sub-chain.  Since ABI 1.2.
 */
const char *ps_subchain_why(const ps_subchain *sub);

/* What the sub-chain's layers answer to a query (ps_layer_query_below). */
int ps_subchain_query(ps_subchain *sub, ps_layer *driver, int what,
		      void *out, size_t size);

/*
 * Close the sub-chain's layers top to bottom (TLS sends its close_notify
 * once, never waiting) and free it.  'driver' may be NULL (from
 * unconfigure: logs then go to the snapshot's logger, failures nowhere).
 * NULL 'sub' is allowed.  Since ABI 1.2.
 */
void ps_subchain_close(ps_subchain *sub, ps_layer *driver);

/*
 * From open() only: this connection needs no layers below 'layer' (it
 * will ride a connection the module already holds, such as a shared
 * HTTP/2 session): the host closes what it opened below and connects
 * none of it; 'layer's connect() is the next call.  A connect() that
 * finds it must make a connection of its own after all calls
 * ps_layer_reconnect_below(), which builds the layers below then (and
 * does not count against its limit).  Returns PS_OK, or an error
 * recorded (no layer below).  Since ABI 1.2.
 */
int ps_layer_skip_below(ps_layer *layer);

/*
 * A monotonic clock in milliseconds (CLOCK_MONOTONIC): for idle times
 * and timeouts a module keeps itself.  Thread-safe.  Since ABI 1.2.
 */
long long ps_clock_ms(void);

/* ------------------------------------------------------------------ */
/* ABI 1.3: forwarding a request                                       */
/* ------------------------------------------------------------------ */

/*
 * An agent (proxystack serve) may open a tcp:// channel with an HTTP
 * request head to forward (ps_connect_options.forward_head): an
 * absolute-form head ("GET http://host/path HTTP/1.1", its headers and
 * the empty line), without hop-by-hop or Proxy-* fields.  HTTP proxies
 * often refuse CONNECT to port 80 (squid's default rules allow it only
 * to 443), so such a request must reach the proxy as a request.
 *
 * From open() or connect() of the layer whose target is the destination:
 * when the connection carries such a head, the layer is the top of the
 * chain (nothing above it: no TLS to the destination), no other layer of
 * this route line took it, and the head is at most 'max_len' bytes,
 * take it: *head and *len point at the host's copy (valid until the
 * connection closes; do not free), *has_body says whether a body
 * follows it (the agent sends that once the layer is established, so a
 * layer cannot send the request again after a 407 challenge then).
 * Returns PS_OK, the head now the layer's to send: it must write it
 * (with its Proxy-Authorization inserted before the empty line) instead
 * of a CONNECT, and be established once the request is sent; bytes of
 * the proxy's response it read (to answer a challenge) go back with
 * ps_layer_unread(), for the agent reads the response from the channel
 * (ps_conn_forwarded() tells it so).  Otherwise PS_ERR_UNSUPPORTED,
 * nothing recorded: tunnel as usual (the agent then sends the request
 * itself, in origin form).  A layer that never calls it (every module
 * built before 1.3) tunnels.  Connection's thread only.  Since ABI 1.3.
 */
int ps_layer_forward_take(ps_layer *layer, size_t max_len,
			  const char **head, size_t *len, int *has_body);

/* ------------------------------------------------------------------ */
/* ABI 1.4: work that must block                                       */
/* ------------------------------------------------------------------ */

/*
 * A layer never blocks, but some libraries offer only calls that do:
 * gss_init_sec_context() sends the Kerberos request for a service ticket
 * to the KDC and waits for the answer (seconds on a slow link, the
 * library's own timeouts when the KDC is down).  Such a call goes to the
 * host, which runs it on a helper thread while the connection (and every
 * other connection of the same thread: an event loop such as proxystack
 * serve) goes on:
 *
 *   first call      starts work(arg) on a helper thread (every signal
 *                   blocked there) and returns PS_AGAIN: return PS_AGAIN
 *                   from connect(); the host calls connect() again when
 *                   work has returned, or fails the chain at its deadline.
 *   later calls     with the same arguments: PS_AGAIN while work runs;
 *                   PS_OK once it has returned.  The job is then over and
 *                   the next call starts a new one.
 *
 * One job per layer at a time: a call with another 'arg' while one is
 * pending fails with PS_ERR_INTERNAL.  Failing to start (no memory,
 * thread or descriptor) returns PS_ERR_NOMEM, recorded.
 *
 * Memory: from the first call until it returns PS_OK, 'arg' is the job's:
 * the layer must not touch it (work runs concurrently).  PS_OK gives it
 * back, with whatever work wrote in it.  If the layer is closed first (the
 * deadline passed, the application closed the connection, a failover),
 * the host does not wait: once work has returned, abandon(arg) is called
 * on the helper thread (or at once, if it already had), and the layer's
 * close op must not free 'arg' itself.  abandon may be NULL.  When the
 * first call fails, 'arg' is still the layer's and nothing was called.
 *
 * Thread-safety: work and abandon run on the helper thread; they may use
 * only 'arg' and thread-safe libraries, never a ps_* service.  The module
 * that holds them stays mapped for the rest of the process (the host pins
 * it), since work may outlive the snapshot that loaded the module.
 * Connection's thread only.  Since ABI 1.4.
 */
int ps_layer_offload(ps_layer *layer, void (*work)(void *arg),
		     void (*abandon)(void *arg), void *arg);

#ifdef __cplusplus
}
#endif

#endif /* PROXYSTACK_MODULE_H */
