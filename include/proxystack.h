/*
 * proxystack.h - the host API of libproxystack.
 *
 * An agent creates one context (ps_ctx) from a configuration directory,
 * then asks it for channels to destinations named by URL:
 *
 *   tcp://host:port     TCP through the configured proxy chain
 *   tls://host:port     plus end-to-end TLS to the destination
 *   https://host[:port] same as tls:// with port 443 by default
 *   ws:// and wss://    plus an RFC 6455 websocket session (websocket issue)
 *
 * Two ways to build a channel:
 *
 *   blocking      ps_connect() returns a ready connection or NULL.
 *   non-blocking  ps_conn_start() returns at once; the agent polls the fd
 *                 that ps_conn_poll() names, for the events it names, with
 *                 the timeout it names, and calls ps_conn_step() until it
 *                 returns PS_OK or an error.  Nothing on this path blocks:
 *                 DNS runs on a helper thread, connects and handshakes are
 *                 non-blocking state machines.
 *
 * Threads: a ps_ctx may be used from any number of threads at once.  A
 * ps_conn belongs to one thread at a time (no internal locking).
 *
 * Errors: every failure fills a ps_error with a stable code, the layer and
 * hop that failed, a message and a hint a person can act on.  Secrets never
 * appear in errors, logs or dumps.
 *
 * Growing structures.  Which public structures may gain fields, and how:
 *
 *   ps_ctx_options, ps_connect_options   the caller allocates them, the
 *       library reads them.  They carry struct_size (set by their _init
 *       function) and grow only by appending.  The library reads a field
 *       only when it lies wholly inside struct_size; a field past it takes
 *       its default, so an agent built against an older header keeps
 *       working with a newer library.  Bytes past the fields this library
 *       knows (an agent built against a newer header) are ignored.  A
 *       struct_size below the 1.0 layout (PS_CTX_OPTIONS_SIZE_1_0,
 *       PS_CONNECT_OPTIONS_SIZE_1_0) is refused with PS_ERR_USAGE.
 *   ps_step       the library allocates it and passes it to the caller's
 *       callback: it may grow by appending (a callback reads only the
 *       fields it was built with).
 *   ps_error, ps_poll, ps_ws_message   the caller allocates them and the
 *       library fills them, with no size passed: their layout is fixed
 *       for the life of the 1.x library.  Anything new comes as a new
 *       function.
 */
#ifndef PROXYSTACK_H
#define PROXYSTACK_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Result codes (contract: values never change)                        */
/* ------------------------------------------------------------------ */

/*
 * Every function that can fail returns one of these.  PS_OK and PS_AGAIN
 * are not failures; everything from PS_ERR_CONFIG on is.
 */
typedef enum ps_code {
	PS_OK = 0,                  /* done */
	PS_AGAIN = 1,               /* non-blocking: poll, then call again */
	PS_ERR_CONFIG = 10,         /* configuration does not parse or is invalid */
	PS_ERR_MODULE = 11,         /* a module was refused or failed to load */
	PS_ERR_RESOLVE = 12,        /* a host name did not resolve */
	PS_ERR_CONNECT = 13,        /* TCP connect failed (refused, unreachable) */
	PS_ERR_TIMEOUT = 14,        /* the chain's deadline passed */
	PS_ERR_PROXY_AUTH = 15,     /* a proxy wants (other) credentials: 407 */
	PS_ERR_PROXY_DENIED = 16,   /* a proxy refused: 403 and other refusals */
	PS_ERR_PROXY_PROTOCOL = 17, /* a proxy answered something malformed */
	PS_ERR_TLS_VERIFY = 18,     /* a certificate did not verify */
	PS_ERR_TLS = 19,            /* any other TLS failure */
	PS_ERR_WEBSOCKET_HANDSHAKE = 20, /* the websocket upgrade was refused */
	PS_ERR_WEBSOCKET = 21,      /* websocket protocol violation / close */
	PS_ERR_UNSUPPORTED = 22,    /* configured feature not supported (socks, pac) */
	PS_ERR_USAGE = 23,          /* bad argument from the caller (e.g. bad URL) */
	PS_ERR_NOMEM = 24,          /* an allocation failed */
	PS_ERR_IO = 25,             /* read/write failure on an established channel */
	PS_ERR_INTERNAL = 26        /* a bug: please report */
} ps_code;

/*
 * Stable, lower-case name of a code ("proxy-auth", "tls-verify", ...).
 * Never NULL; unknown values give "unknown".  Thread-safe.
 */
const char *ps_code_name(int code);

/*
 * The proxystack(1) exit status for a code: 0 success, 1 other, 2 usage or
 * configuration, 3 proxy-auth, 4 proxy-denied, 5 tls-verify, 6 resolve,
 * connect or timeout, 7 unsupported.  Thread-safe.
 */
int ps_code_exit_status(int code);

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

#define PS_ERROR_MESSAGE_MAX 512
#define PS_ERROR_HINT_MAX 256
#define PS_ERROR_LAYER_MAX 32

/*
 * A failure, filled by the library, owned by the caller (usually on its
 * stack).  All strings are NUL-terminated and never hold a secret.
 */
typedef struct ps_error {
	int code;                          /* a ps_code, PS_OK when unset */
	int hop;                           /* 0-based layer index, -1 if none */
	char layer[PS_ERROR_LAYER_MAX];    /* module or layer name ("direct", "tls"), or "" */
	char message[PS_ERROR_MESSAGE_MAX];/* what happened */
	char hint[PS_ERROR_HINT_MAX];      /* what a person can do about it, or "" */
} ps_error;

/* Reset *err to "no error" (code PS_OK, hop -1, empty strings). */
void ps_error_clear(ps_error *err);

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

enum ps_log_level {
	PS_LOG_ERROR = 0,
	PS_LOG_WARN = 1,
	PS_LOG_INFO = 2,
	PS_LOG_DEBUG = 3
};

/*
 * Log sink.  Called from whichever thread is working (config load, reload,
 * connection building); it must be thread-safe itself.  'msg' has no
 * trailing newline, never holds a secret, and is valid only during the call.
 */
typedef void (*ps_log_fn)(void *user, int level, const char *msg);

/* ------------------------------------------------------------------ */
/* Context                                                             */
/* ------------------------------------------------------------------ */

typedef struct ps_ctx ps_ctx;

/*
 * Options for ps_ctx_new().  Initialise with ps_ctx_options_init(), then
 * set fields by name: never copy or build one field by field from a
 * positional initialiser, or a newer header's fields would be missed.
 */
typedef struct ps_ctx_options {
	size_t struct_size;     /* sizeof(ps_ctx_options), set by _init */
	/*
	 * Configuration directory.  NULL: $<prefix>CONF_DIR if set, else the
	 * compiled-in default (/etc/proxystack.d).  Copied.
	 */
	const char *conf_dir;
	/*
	 * Prefix of the highest-precedence environment variables, e.g.
	 * "GATEWAY_CONNECT_" reads GATEWAY_CONNECT_PROXY_URL.  NULL means
	 * "PROXYSTACK_".  Copied.
	 */
	const char *env_prefix;
	ps_log_fn log_fn;       /* NULL: warnings and errors go to stderr */
	void *log_user;         /* passed to log_fn */
	int log_level;          /* highest ps_log_level passed on; default WARN */
	/*
	 * Do not read the process environment at all (tests, sandboxes).
	 * Default 0: the environment is read as proxystack.conf(5)
	 * describes.
	 */
	int ignore_environment;
	/*
	 * Automatic reload: PS_RELOAD_WATCH (the default) starts a thread
	 * that calls ps_ctx_reload() when the configuration directory or a
	 * file it names changes (inotify, or polling every second where
	 * inotify is unavailable); PS_RELOAD_POLL forces polling;
	 * PS_RELOAD_MANUAL starts nothing (call ps_ctx_reload() yourself).
	 */
	int reload;
	/* New fields are appended here (see "Growing structures" above). */
} ps_ctx_options;

/*
 * The smallest struct_size ps_ctx_new() accepts: the 1.0 layout, up to
 * and including 'reload'.  Smaller sizes are refused with PS_ERR_USAGE.
 */
#define PS_CTX_OPTIONS_SIZE_1_0                                           \
	(offsetof(ps_ctx_options, reload) + sizeof(int))

enum ps_reload_mode {
	PS_RELOAD_WATCH = 0,
	PS_RELOAD_POLL = 1,
	PS_RELOAD_MANUAL = 2
};

/* Fill *opts with defaults.  Never fails. */
void ps_ctx_options_init(ps_ctx_options *opts);

/*
 * Create a context: read the configuration directory, apply environment
 * variables, load and configure modules.  Fails closed: on any error
 * (PS_ERR_CONFIG with file:line in the message, PS_ERR_MODULE) it returns
 * NULL and fills *err (err may be NULL).  'opts' may be NULL for defaults;
 * its struct_size below PS_CTX_OPTIONS_SIZE_1_0 is PS_ERR_USAGE.
 * The returned context is released with ps_ctx_free().  It also sets
 * OpenSSL up (OPENSSL_init_ssl() with its default configuration file,
 * a no-op if the application did so first), so that the first
 * connection does not pay for it.  Thread-safe; costs a few ms (module
 * loading, TLS files of https-proxy sections, the reload watcher).
 */
ps_ctx *ps_ctx_new(const ps_ctx_options *opts, ps_error *err);

/*
 * Release a context.  Connections still open keep the configuration
 * snapshot they were built with alive until they are closed; only then are
 * its modules unloaded.  NULL is allowed.
 */
void ps_ctx_free(ps_ctx *ctx);

/*
 * Build a new snapshot from the configuration directory and the
 * environment, and swap it in only if every step succeeded.  On failure the
 * old snapshot stays and *err says why (file:line).  Open connections are
 * never affected.  Thread-safe.
 */
int ps_ctx_reload(ps_ctx *ctx, ps_error *err);

/*
 * The chain that a connection to 'url' would use, without connecting or
 * resolving: layers bottom to top joined by " -> ", each "module" or
 * "module(proxy-url-without-credentials)", e.g.
 * "direct -> http-connect(http://proxy:8080) -> tls".  Returns a string the
 * caller frees with ps_free(), or NULL with *err filled.  Thread-safe.
 */
char *ps_ctx_which(ps_ctx *ctx, const char *url, ps_error *err);

/*
 * The effective configuration as text, one setting a line with the source
 * it came from (file:line, environment variable, default).  With a
 * non-NULL 'url', also which route, stack and source were chosen for it
 * and why.  Secrets are shown as "<redacted>".  Caller frees with
 * ps_free(); NULL with *err on failure.  Thread-safe.
 */
char *ps_ctx_dump_config(ps_ctx *ctx, const char *url, ps_error *err);

/*
 * Shell export lines (http_proxy, https_proxy, HTTP_PROXY, HTTPS_PROXY,
 * no_proxy, NO_PROXY) that make child processes use the proxy this
 * context would use for 'url'; credentials are included, as those
 * variables require, so treat the text as a secret.  Caller frees with
 * ps_free(); NULL with *err on failure.  Thread-safe.
 */
char *ps_ctx_env_exports(ps_ctx *ctx, const char *url, ps_error *err);

/* ps_ctx_env_exports_opt() flags. */
#define PS_ENV_INCLUDE_PASSWORD 1u

/*
 * ps_ctx_env_exports() with 'flags'.  A proxy password kept in a
 * password_file (proxy_password_file) is left out, with a warning in the
 * log that a child process will then get 407, unless 'flags' holds
 * PS_ENV_INCLUDE_PASSWORD: then it is read from the file and put in the
 * URL, percent-encoded.  ps_ctx_env_exports() passes 0.
 */
char *ps_ctx_env_exports_opt(ps_ctx *ctx, const char *url, unsigned flags,
			     ps_error *err);

/*
 * One line per module found in the module path: name, ABI, phases,
 * status ("ok" or why it was refused).  Caller frees with ps_free().
 * Thread-safe.
 */
char *ps_ctx_list_modules(ps_ctx *ctx, ps_error *err);

/*
 * Load destination TLS files now, as a connection would, so that a
 * missing or broken one is reported before any connection is tried:
 * 'ca_file' as a CA bundle, 'client_cert_file' as a certificate chain,
 * 'client_key_file' as its key (which must match the certificate when
 * both are given).  NULL skips a file.  PS_OK, PS_ERR_NOMEM, or
 * PS_ERR_CONFIG with the file and the reason in err->message ("FILE: No
 * such file or directory", "no certificate found in FILE") and, in
 * err->layer, which argument failed: "ca_file", "client_cert_file" or
 * "client_key_file".  ps_ctx_new() checks the configured files this way.
 */
int ps_tls_check_files(const char *ca_file, const char *client_cert_file,
		       const char *client_key_file, ps_error *err);

/* Free memory returned by this library.  NULL is allowed. */
void ps_free(void *p);

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

typedef struct ps_conn ps_conn;

/*
 * One completed step of a chain, reported to ps_connect_options.on_step.
 * The library owns it; new fields may be appended.
 */
typedef struct ps_step {
	int hop;                /* 0-based layer index */
	const char *layer;      /* layer name, e.g. "direct", "tls" */
	const char *detail;     /* e.g. "127.0.0.1:8443", "TLSv1.3 ..." ; may be "" */
	long elapsed_us;        /* microseconds since the chain started */
} ps_step;

typedef void (*ps_step_fn)(void *user, const ps_step *step);

/*
 * Options for one connection.  Initialise with ps_connect_options_init(),
 * then set fields by name.
 */
typedef struct ps_connect_options {
	size_t struct_size;      /* sizeof(ps_connect_options), set by _init */
	/*
	 * Destination TLS overrides; NULL/0 means "as configured".  Strings are
	 * copied during ps_connect()/ps_conn_start().
	 */
	const char *ca_file;         /* trust only this CA bundle */
	const char *client_cert_file;/* mutual TLS: our certificate (PEM) */
	const char *client_key_file; /* mutual TLS: its key (PEM) */
	int insecure_tls;            /* 1: skip verification (logged as a warning) */
	const char *alpn;            /* comma-separated ALPN list, e.g. "h2,http/1.1" */
	int timeout_ms;              /* whole chain; 0: the configured connect_timeout */
	ps_step_fn on_step;          /* called as each layer completes; may be NULL */
	void *step_user;             /* passed to on_step */

	/* ws:// and wss:// only; NULL/0 means "as configured/none". */
	const char *ws_subprotocols; /* comma-separated offer, e.g. "AMQPWSB10" */
	const char *ws_origin;       /* Origin header, or NULL */
	const char *const *ws_headers; /* NULL-terminated "Name: value" lines;
					  these three hold no control byte
					  but HTAB (else PS_ERR_USAGE) */
	int ws_ping_interval_s;      /* keepalive ping every N s; 0: config
					(ws_ping_interval); -1: no pings */
	int ws_pong_timeout_s;       /* fail when a ping gets no pong within
					N s; 0: config (ws_pong_timeout) */
	size_t ws_max_message;       /* larger messages close with 1009;
					0: config (ws_max_message) */

	/*
	 * Since 1.3: an HTTP request to forward (tcp:// only).  A complete
	 * absolute-form request head ("GET http://host/path HTTP/1.1",
	 * headers, the empty line), without hop-by-hop or Proxy-* fields:
	 * when the last proxy hop of the route can forward requests (an
	 * http-connect hop), it sends this head itself, with its
	 * Proxy-Authorization, instead of a CONNECT, and the channel then
	 * carries the rest of the request (its body, which the caller
	 * sends) and the proxy's response; ps_conn_forwarded() tells which
	 * happened.  NULL: a tunnel, as always.  Copied during
	 * ps_conn_start(); a head that does not end with an empty line or
	 * holds a NUL byte is PS_ERR_USAGE.
	 */
	const char *forward_head;
	size_t forward_head_len;
	int forward_has_body;        /* 1: a body follows the head (the hop
					then cannot resend the request
					after a 407 challenge) */
	/* New fields are appended here (see "Growing structures" above). */
} ps_connect_options;

/*
 * The smallest struct_size ps_connect() and ps_conn_start() accept: the
 * 1.0 layout, up to and including 'ws_max_message'.  Smaller sizes are
 * refused with PS_ERR_USAGE.
 */
#define PS_CONNECT_OPTIONS_SIZE_1_0                                       \
	(offsetof(ps_connect_options, ws_max_message) + sizeof(size_t))

/* Fill *opts with defaults.  Never fails. */
void ps_connect_options_init(ps_connect_options *opts);

/*
 * Build a channel to 'url' and return it ready, or NULL with *err filled.
 * Blocks at most the chain timeout.  'opts' may be NULL; its struct_size
 * below PS_CONNECT_OPTIONS_SIZE_1_0 is PS_ERR_USAGE.  The connection
 * keeps the context's current snapshot alive until ps_conn_close().
 * Thread-safe with respect to 'ctx'.
 */
ps_conn *ps_connect(ps_ctx *ctx, const char *url,
		    const ps_connect_options *opts, ps_error *err);

/*
 * Start building a channel without blocking.  Returns a connection in
 * progress (drive it with ps_conn_step()), or NULL with *err filled for
 * errors found before any I/O (bad URL, no route).  A connection started
 * this way stays non-blocking: ps_conn_read()/ps_conn_write() return
 * PS_AGAIN instead of waiting.
 */
ps_conn *ps_conn_start(ps_ctx *ctx, const char *url,
		       const ps_connect_options *opts, ps_error *err);

/* What to wait for before calling ps_conn_step/read/write again. */
typedef struct ps_poll {
	int fd;          /* file descriptor to poll, -1 if only the timeout matters */
	short events;    /* POLLIN and/or POLLOUT */
	int timeout_ms;  /* next deadline from now, -1 if none (established) */
} ps_poll;

/*
 * Advance the chain as far as it can go without blocking.  Returns PS_OK
 * when the channel is ready, PS_AGAIN when it waits for what
 * ps_conn_poll() says (call again when that fd is ready or the timeout
 * passed), or an error code (details in ps_conn_error()).  After PS_OK or
 * an error, further calls return the same result.
 */
int ps_conn_step(ps_conn *conn);

/*
 * Fill *p with what to wait for.  Valid after ps_conn_step(),
 * ps_conn_read() or ps_conn_write() returned PS_AGAIN.  The fd is owned by
 * the connection: poll it, never read, write or close it.
 */
void ps_conn_poll(const ps_conn *conn, ps_poll *p);

/*
 * Read up to 'len' bytes of the channel into 'buf'.  Returns PS_OK with
 * *nread > 0 for data, PS_OK with *nread == 0 at the peer's orderly end of
 * stream, PS_AGAIN (non-blocking connections only) or an error code.
 * Blocking connections wait as long as needed.
 */
int ps_conn_read(ps_conn *conn, void *buf, size_t len, size_t *nread);

/*
 * Write up to 'len' bytes.  Returns PS_OK with *nwritten > 0, PS_AGAIN
 * (non-blocking only) or an error.  Blocking connections write all of
 * 'len' before they return PS_OK.
 */
int ps_conn_write(ps_conn *conn, const void *buf, size_t len,
		  size_t *nwritten);

/*
 * Close our sending side only (TCP half-close, TLS close_notify) and keep
 * reading.  Returns PS_OK, PS_AGAIN (non-blocking) or an error.
 */
int ps_conn_shutdown_write(ps_conn *conn);

/*
 * The layers of the chain being built or built, bottom to top, in the
 * ps_ctx_which() format (after a failover, those of the route line now
 * tried).  Owned by the connection; valid until the next ps_conn_step()
 * or ps_conn_close().
 */
const char *ps_conn_describe(const ps_conn *conn);

/* The error that ended the connection or the last call; owned by 'conn'. */
const ps_error *ps_conn_error(const ps_conn *conn);

/*
 * Tear down the layers that were established, top to bottom, release the
 * connection and its hold on the configuration snapshot.  NULL is allowed.
 */
void ps_conn_close(ps_conn *conn);

/* ------------------------------------------------------------------ */
/* WebSocket messages (ws:// and wss:// connections)                   */
/* ------------------------------------------------------------------ */

/*
 * A websocket connection carries messages, not bytes: ps_conn_read() and
 * ps_conn_write() refuse it (PS_ERR_USAGE).  The library answers pings,
 * sends keepalive pings, enforces the pong timeout and the maximum
 * message size, validates UTF-8 of text, and closes with 1002 on any
 * protocol violation by the server (PS_ERR_WEBSOCKET).
 */
enum ps_ws_type {
	PS_WS_TEXT = 1,    /* UTF-8 text */
	PS_WS_BINARY = 2,
	PS_WS_CLOSE = 8,   /* the peer closed: code and reason in the message */
	PS_WS_PING = 9,    /* send only: the library answers received pings */
	PS_WS_PONG = 10    /* send only (unsolicited pong) */
};

/* A received message.  'data' is owned by the connection. */
typedef struct ps_ws_message {
	int type;                  /* PS_WS_TEXT, PS_WS_BINARY or PS_WS_CLOSE */
	const unsigned char *data; /* valid until the next ps_ws_* call */
	size_t len;
	unsigned close_code;       /* PS_WS_CLOSE: the peer's code, 1005 if none */
} ps_ws_message;

/*
 * Send one whole message of 'type' (text, binary, ping, pong).  Large
 * messages are split into frames; every frame gets a fresh random mask.
 * Returns PS_OK once the message is queued (blocking connections: once
 * it is sent), PS_AGAIN (non-blocking) when too much is still queued
 * (poll, then call again), or an error: PS_ERR_USAGE for invalid UTF-8
 * text, a control message over 125 bytes, or after close.
 */
int ps_ws_send(ps_conn *conn, int type, const void *data, size_t len);

/*
 * Receive the next whole message; also sends what is queued, keepalive
 * pings and pongs.  Returns PS_OK with *msg filled, PS_AGAIN
 * (non-blocking; ps_conn_poll() then also names the next keepalive
 * deadline — call again when it passes), or an error.  After the peer's
 * close, *msg has type PS_WS_CLOSE; further calls return PS_ERR_IO.
 */
int ps_ws_recv(ps_conn *conn, ps_ws_message *msg);

/*
 * Start the close handshake with 'code' (1000 for a normal end) and a
 * reason (NULL or at most 123 bytes of UTF-8).  Keep calling ps_ws_recv()
 * until it returns the peer's PS_WS_CLOSE (the library gives up after 5
 * s with PS_ERR_WEBSOCKET).  PS_OK, PS_AGAIN or an error.
 */
int ps_ws_close(ps_conn *conn, unsigned code, const char *reason);

/* The subprotocol the server chose, or "" (owned by the connection). */
const char *ps_ws_subprotocol(const ps_conn *conn);

/*
 * The ws_max_message in effect for 'conn' (the option, else the
 * configuration): the largest message accepted from the peer, in bytes,
 * and the size a sender should keep its messages within.  0 for NULL.
 */
size_t ps_ws_max_message(const ps_conn *conn);

/* ------------------------------------------------------------------ */
/* Behind a reverse proxy (the accepting side)                         */
/* ------------------------------------------------------------------ */

/* Room for any answer of ps_forwarded_client(), NUL included. */
#define PS_FORWARDED_CLIENT_MAX 46	/* INET6_ADDRSTRLEN */

/*
 * The real client of a connection an agent accepted behind reverse
 * proxies: 'peer' is the TCP peer address, 'x_forwarded_for' the
 * X-Forwarded-For value (NULL or "" if absent; repeated headers joined
 * with ","), 'trust' the TRUST_PROXY-style setting that says which hops
 * may be believed.  Semantics follow Express's "trust proxy":
 *
 *   NULL, "", "false"  trust nobody: the answer is 'peer'; the header is
 *                      ignored.
 *   "true"             trust every hop: the left-most entry.  DANGEROUS:
 *                      anyone who can reach the agent directly sends
 *                      "X-Forwarded-For: <any address>" and is believed.
 *                      Only for a socket no client can reach except
 *                      through proxies that overwrite the header.
 *   "N" (0 to 64)      hop count: the peer and the N-1 entries nearest
 *                      to it are trusted proxies, the entry after them is
 *                      the client (the left-most if there are fewer).
 *                      "0" is the same as "false".
 *   a list             IPs and CIDR blocks, IPv4 and IPv6, separated by
 *                      commas and/or spaces ("127.0.0.1, 10.0.0.0/8,
 *                      fd00::/8"), and the keywords loopback (127.0.0.0/8,
 *                      ::1), private (10.0.0.0/8, 172.16.0.0/12,
 *                      192.168.0.0/16, fc00::/7; alias uniquelocal) and
 *                      linklocal (169.254.0.0/16, fe80::/10): starting at
 *                      the peer, every address in the list is a trusted
 *                      proxy and the first one not in it is the client
 *                      (the left-most if all are trusted).  An untrusted
 *                      peer is itself the client: its header is ignored.
 *                      "::/0" covers IPv6 only; IPv4-mapped blocks
 *                      (::ffff:0:0/96) are IPv4 blocks.
 *
 * Keywords are case-insensitive; spaces and tabs around the setting are
 * ignored; anything else (a bad address or prefix, a port, a name, "2x",
 * "-1", a hop count over 64) is refused, whatever the header holds.
 *
 * Header entries are trimmed of spaces and tabs and may be "1.2.3.4",
 * "1.2.3.4:port", "::1", "[::1]" or "[::1]:port" (ports are dropped; an
 * unbracketed IPv6 address never has one).  Empty entries are skipped.
 * Anything else ("unknown", "_hidden", names, zone ids, garbage) ends the
 * walk there: the answer is the address just right of it, never the
 * entry itself, so a spoofed string can never come back.  Only the
 * right-most 64 entries are considered; a longer header is read as if it
 * began there.  'peer' takes the same forms.
 *
 * On success the address is written to 'out' in canonical form
 * (inet_ntop(3); "::ffff:1.2.3.4" becomes "1.2.3.4") and PS_OK is
 * returned.  Errors return PS_ERR_USAGE with 'out' set to "" (when
 * outsz > 0): 'peer' NULL or not an address, a bad 'trust' setting, 'out'
 * NULL, or an answer that does not fit in 'outsz' bytes
 * (PS_FORWARDED_CLIENT_MAX always fits).
 *
 * The caller owns every buffer; nothing is kept after the call.  Pure
 * function: no allocation, no I/O, thread-safe; the work is bounded by
 * the lengths of the inputs and the 64-entry limit.
 */
int ps_forwarded_client(const char *peer, const char *x_forwarded_for,
			const char *trust, char *out, size_t outsz);

/* ------------------------------------------------------------------ */
/* Local proxy support (proxystack serve)                              */
/* ------------------------------------------------------------------ */

/*
 * The raw socket of an established byte channel, for zero-copy relaying
 * (splice(2), sendfile(2)): returned only when the chain is transparent
 * down to a socket -- the bottom layer named its connected socket
 * (ps_layer_set_socket()), no layer above it transforms bytes (no TLS,
 * no HTTP/2 stream, no websocket) and no layer holds bytes already read
 * for the channel.  Otherwise, and before the chain is up or after it
 * failed, -1: use ps_conn_read()/ps_conn_write().
 *
 * The socket stays owned by the connection: read, write, shut down,
 * splice and poll it, never close it or change its flags; it is closed
 * by ps_conn_close().  Once you used it directly, keep using it and not
 * ps_conn_read()/ps_conn_write() (the library does not see those bytes).
 * Thread-safety: as any call on 'conn'.  NULL gives -1.
 */
int ps_conn_fd(const ps_conn *conn);

/*
 * Since 1.3.  1 when the established channel was opened with
 * ps_connect_options.forward_head and the route's last proxy hop sent
 * that head itself (with its proxy authentication): the caller must not
 * send it again, only the request's body; what it reads is the proxy's
 * response.  0 otherwise (no forward_head, a direct route, a hop that
 * only tunnels, or the channel is not up): the channel reaches the
 * destination, and the caller sends the request itself in origin form.
 * Thread-safety: as any call on 'conn'.  NULL gives 0.
 */
int ps_conn_forwarded(const ps_conn *conn);

/*
 * Is 'addr' (an IPv4 or IPv6 address, e.g. a client's getpeername()
 * text; "::ffff:1.2.3.4" counts as 1.2.3.4) in 'list'?  'list' holds
 * IPs and CIDR blocks separated by commas and/or spaces, and the
 * keywords loopback, private (alias uniquelocal) and linklocal, as the
 * list form of ps_forwarded_client()'s trust setting.  Returns 1 (in
 * it), 0 (not in it, or 'addr' is not an address) or -1 ('list' is
 * NULL, empty or malformed).  Pure: no allocation, thread-safe.
 */
int ps_addr_in_list(const char *addr, const char *list);

/*
 * The [serve] section of the configuration (proxystack.conf(5)), with
 * defaults filled in, for a local proxy built on this library.  The
 * library validated it when the snapshot was built: a bad value or an
 * unknown key failed ps_ctx_new()/ps_ctx_reload() with PS_ERR_CONFIG and
 * file:line.  The library allocates it in one block: release it with
 * ps_free().  It may grow by appending fields: struct_size says how many
 * bytes this library filled; read a field only if it lies inside.
 */
typedef struct ps_serve_config {
	size_t struct_size;
	size_t nlisten;              /* at least 1 */
	const char *const *listen;   /* "ADDR:PORT", IP literals; default
					"127.0.0.1:3128" */
	const char *allow;           /* clients allowed (ps_addr_in_list()
					syntax); NULL: loopback only */
	const char *users_file;      /* "user:hash" lines for client Basic
					auth; NULL: no client auth */
	const char *access_log;      /* file to append to; NULL: stderr */
	int max_clients;             /* open client connections; 1024 */
	int max_tunnels_per_client;  /* open connections per client
					address; 512 */
	int idle_timeout_s;          /* quiet tunnel, or request head not
					complete, after N s; 300 */
	int drain_timeout_s;         /* SIGTERM: tunnels get N s; 10 */
	const char *source;          /* where [serve] starts ("file:line"),
					or "default" */
	/* Since 1.3 (read it only when struct_size holds it). */
	int http_forward_tunnel;     /* http_forward: 0 auto (absolute-form
					requests forwarded to an HTTP proxy
					hop), 1 tunnel (always CONNECT) */
} ps_serve_config;

/*
 * The [serve] settings of the context's current snapshot, or NULL with
 * *err filled (PS_ERR_NOMEM).  Free with ps_free().  Thread-safe.
 */
ps_serve_config *ps_ctx_serve_config(ps_ctx *ctx, ps_error *err);

/*
 * Is "ADDR:PORT" (an IPv4 literal, or an IPv6 literal in brackets) a
 * valid listen address?  Returns 1 when it is a loopback address
 * (127.0.0.0/8, ::1), 0 for any other valid address, -1 when it does not
 * parse.  Thread-safe.
 */
int ps_serve_listen_kind(const char *addr_port);

#ifdef __cplusplus
}
#endif

#endif /* PROXYSTACK_H */
