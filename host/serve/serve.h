/*
 * serve.h - `proxystack serve`, a local proxy on the library's
 * non-blocking API (internal to the proxystack program).
 *
 * One epoll loop (serve_loop.c) owns listeners, a signalfd and every
 * client session.  A session (serve_session.c) reads the client's first
 * bytes, speaks HTTP/1.1 (serve_http.c) or SOCKS5 (serve_socks.c),
 * checks the allow list and client credentials (serve_acl.c), starts a
 * ps_conn with ps_conn_start() and drives it with ps_conn_step() from
 * the same loop, then relays bytes (serve_tunnel.c) and writes one
 * access-log line when it ends (serve_log.c).  Only the public API of
 * proxystack.h is used.
 */
#ifndef SERVE_SERVE_H
#define SERVE_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <proxystack.h>

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */

#define SERVE_HEAD_MAX 16384        /* request line and headers */
#define SERVE_HEAD_FIRST 1024       /* first allocation of the head buffer */
#define SERVE_HOST_MAX 255          /* DNS name limit, SOCKS5's too */
#define SERVE_HEADERS_MAX 100
#define SERVE_RELAY_BUFFER 16384    /* per direction, chain read/write path */
#define SERVE_PIPE_CHUNK 65536      /* per splice(2) call */
#define SERVE_LISTEN_MAX 16
#define SERVE_REALM "proxystack"

/* ------------------------------------------------------------------ */
/* HTTP requests (serve_http.c): parsing is pure, for the unit tests    */
/* ------------------------------------------------------------------ */

/* How a message body ends (RFC 9112 6.3). */
enum http_body_kind {
	BODY_NONE,                  /* no body: done at once */
	BODY_LENGTH,                /* Content-Length bytes */
	BODY_CHUNKED,               /* chunked transfer-coding, trailers */
	BODY_CLOSE                  /* until the sender closes */
};

/* A body's framing and how far a scan has come through it. */
struct http_body {
	enum http_body_kind kind;
	unsigned long long left;    /* LENGTH: to go; CHUNKED: of the chunk */
	int phase;                  /* CHUNKED: size, ext, data, CRLF,
				       trailer */
	size_t line;                /* CHUNKED: bytes of the current line */
	int done;                   /* the body ended */
};

/*
 * How many bytes of p[0..len) belong to the body, scanning on from where
 * the last call stopped (bytes are passed on unchanged, chunked framing
 * included); sets b->done when the body ends, and the bytes after that
 * are not counted.  -1 when the framing is malformed: a bad chunk size,
 * a size over 2^60, a chunk without its CRLF, a line over
 * SERVE_HEAD_MAX.  A BODY_CLOSE body takes every byte.
 */
long http_body_scan(struct http_body *b, const char *p, size_t len);

/* An origin's response head, as the client-side relay needs it. */
struct http_response {
	int status;
	int minor;                  /* HTTP/1.minor */
	int keep;                   /* the origin lets the connection live */
	struct http_body body;
	size_t head_len;            /* bytes of the head, final CRLF included */
};

/*
 * Parse a response head at buf[0..len) to a request that was a HEAD
 * ('head_request') or not.  Returns 0 when complete (*r filled), 1 when
 * more bytes are needed, -1 when malformed (bad status line or header,
 * bad or conflicting Content-Length, head over SERVE_HEAD_MAX).  1xx,
 * 204, 304 and answers to HEAD have no body; a Transfer-Encoding that
 * does not end in chunked, or no length at all, is BODY_CLOSE (and then
 * r->keep is 0).
 */
int http_parse_response(const char *buf, size_t len, int head_request,
			struct http_response *r);

/*
 * The response head as the client gets it: the origin's status line and
 * headers without hop-by-hop ones, then "Connection: keep-alive" or
 * "Connection: close" after 'keep' (none for a 1xx).  Returns a malloc'd
 * buffer (*outlen bytes) or NULL.
 */
char *http_client_response(const char *head, const struct http_response *r,
			   int keep, size_t *outlen);

enum http_kind {
	HTTP_CONNECT,               /* CONNECT host:port */
	HTTP_ABSOLUTE               /* METHOD http://host[:port]/path */
};

struct http_request {
	enum http_kind kind;
	char method[24];
	char host[SERVE_HOST_MAX + 3];  /* IPv6 without brackets */
	unsigned port;
	int host_is_v6;
	const char *path;           /* absolute form: "/..." in the head */
	size_t path_len;
	int minor;                  /* HTTP/1.minor */
	const char *proxy_auth;     /* Proxy-Authorization value, or NULL */
	size_t proxy_auth_len;
	int has_host_header;
	struct http_body body;      /* absolute form: the request's body */
	int keep;                   /* the client wants the connection kept
				       (HTTP/1.1 unless close; 1.0 with
				       keep-alive; Connection and
				       Proxy-Connection alike) */
	size_t head_len;            /* bytes of the head, final CRLF included */
};

/*
 * Parse the request head at buf[0..len).  Returns 0 when it is complete
 * and valid (*req filled, pointers into buf), 1 when more bytes are
 * needed, or an HTTP status (400, 414, 431, 501, 505) with a one-line
 * reason in why[].  A request with both Content-Length and
 * Transfer-Encoding, or a malformed length, is 400; a Transfer-Encoding
 * other than chunked is 501.
 */
int http_parse_request(const char *buf, size_t len, struct http_request *req,
		       char *why, size_t whysz);

/*
 * The absolute-form request as the origin expects it: origin-form
 * request line, the client's headers without hop-by-hop ones
 * (Connection and what it names, Proxy-Connection, Proxy-Authorization,
 * Keep-Alive), a Host header if the client sent none, Connection:
 * keep-alive (the tunnel to the origin serves the next request too).
 * Returns a malloc'd buffer (*outlen bytes) or NULL.
 */
char *http_origin_request(const char *head, const struct http_request *req,
			  size_t *outlen);

/*
 * The same request for an HTTP proxy (forwarded by the route's proxy hop,
 * which adds its Proxy-Authorization): absolute-form request line
 * ("GET http://host[:port]/path HTTP/1.x", the port only when not 80),
 * then the headers as http_origin_request() writes them.  Returns a
 * malloc'd buffer (*outlen bytes) or NULL.
 */
char *http_forward_request(const char *head, const struct http_request *req,
			   size_t *outlen);

/*
 * An answer with a one-line text/plain body: "HTTP/1.1 STATUS REASON",
 * Connection: close, and for 407 a Proxy-Authenticate challenge.
 * Returns a malloc'd buffer or NULL.
 */
char *http_answer(int status, const char *body_line, size_t *outlen);

/* The status for a failed chain: 504 for timeouts, else 502. */
int http_status_for_code(int code);

/* ------------------------------------------------------------------ */
/* SOCKS5 (serve_socks.c): RFC 1928, RFC 1929                          */
/* ------------------------------------------------------------------ */

enum socks_parse {
	SOCKS_NEED_MORE = 1,
	SOCKS_DONE = 0,
	SOCKS_BAD = -1              /* *reply holds the reply code */
};

#define SOCKS_METHOD_NONE 0x00
#define SOCKS_METHOD_USERPASS 0x02
#define SOCKS_METHOD_REFUSED 0xff

#define SOCKS_REP_OK 0x00
#define SOCKS_REP_GENERAL 0x01
#define SOCKS_REP_NOT_ALLOWED 0x02
#define SOCKS_REP_NET_UNREACHABLE 0x03
#define SOCKS_REP_HOST_UNREACHABLE 0x04
#define SOCKS_REP_REFUSED 0x05
#define SOCKS_REP_TTL_EXPIRED 0x06
#define SOCKS_REP_COMMAND 0x07
#define SOCKS_REP_ATYP 0x08

struct socks_request {
	char host[SERVE_HOST_MAX + 1];
	unsigned port;
	int host_is_v6;
};

/*
 * The greeting: VER NMETHODS METHODS.  SOCKS_DONE with *used and the
 * method to choose (no-auth, or user/password when 'want_password'),
 * SOCKS_METHOD_REFUSED if the client offers none of them.
 */
int socks_parse_greeting(const uint8_t *b, size_t len, int want_password,
			 size_t *used, int *method);

/* RFC 1929: VER ULEN UNAME PLEN PASSWD into user[256] and pass[256]. */
int socks_parse_userpass(const uint8_t *b, size_t len, size_t *used,
			 char *user, char *pass);

/* The request: VER CMD RSV ATYP DST.ADDR DST.PORT (CONNECT only). */
int socks_parse_request(const uint8_t *b, size_t len, size_t *used,
			struct socks_request *r, int *reply);

/* The 10-byte reply with code 'rep' into out[10]. */
void socks_reply(uint8_t out[10], int rep);

/* The reply code for a failed chain (ps_code). */
int socks_reply_for_code(int code);

/* ------------------------------------------------------------------ */
/* Access control (serve_acl.c)                                        */
/* ------------------------------------------------------------------ */

struct serve_user {
	char *name;
	char *hash;                 /* crypt(3) form: $2y$, $2b$, $5$, $6$, $y$ */
};

struct serve_acl {
	char *allow;                /* NULL: loopback only */
	char *users_file;           /* NULL: no client auth */
	struct serve_user *users;
	size_t nusers;
	long long users_mtime_ns;
};

/* Load users_file (if any): PS_OK or PS_ERR_CONFIG with file:line. */
int acl_load(struct serve_acl *acl, const char *allow, const char *users_file,
	     ps_error *err);
void acl_free(struct serve_acl *acl);

/* May a client at 'addr' (numeric text) use the proxy at all? */
int acl_client_allowed(const struct serve_acl *acl, const char *addr);

/* Does the "Basic ..." header value name a user with that password?
 * Writes the user name (for the log) into user[256]. */
int acl_check_basic(const struct serve_acl *acl, const char *value,
		    size_t len, char *user);

/* SOCKS5 user/password (RFC 1929). */
int acl_check_password(const struct serve_acl *acl, const char *user,
		       const char *pass);

/* Decode base64 (RFC 4648, padding optional) into out; -1 if malformed or
 * it does not fit (outsz includes room for a NUL, which is written). */
long acl_base64_decode(const char *in, size_t len, char *out, size_t outsz);

/* ------------------------------------------------------------------ */
/* Access log (serve_log.c)                                            */
/* ------------------------------------------------------------------ */

struct access_entry {
	const char *client;         /* "addr:port" */
	const char *proto;          /* "connect", "http", "socks5" */
	const char *dest;           /* "host:port", or "-" */
	const char *user;           /* client user, or "-" */
	const char *chain;          /* ps_conn_describe(), or "-" */
	const char *result;         /* "ok", a ps_code name, or serve's own */
	int status;                 /* HTTP status or SOCKS reply; -1 none */
	unsigned long long up, down;/* bytes client->dest, dest->client */
	long long ms;
};

/* Open the log (NULL or "-": stderr).  0 or -1 with errno. */
int access_log_open(const char *path, FILE **out);
void access_log_write(FILE *log, const struct access_entry *e);

/* ------------------------------------------------------------------ */
/* Daemon (serve_loop.c)                                               */
/* ------------------------------------------------------------------ */

struct serve_options {
	const char *listen[SERVE_LISTEN_MAX];   /* --listen, overrides */
	int nlisten;
	int verbose;
};

/*
 * Block the signals the loop takes from a signalfd (HUP, TERM, INT):
 * call before any thread starts (the library's watcher thread inherits
 * the mask), or a signal may kill a thread instead of reaching the loop.
 */
int serve_block_signals(void);

/*
 * Run the local proxy until SIGTERM/SIGINT and the drain; returns the
 * proxystack(1) exit status (0 after a drain, 2 for a configuration or
 * usage error, 1 when a listener cannot be opened).
 */
int serve_run(ps_ctx *ctx, const struct serve_options *opts);

/* The first listen address ("127.0.0.1:3128") for env --serve; the
 * caller frees it.  NULL on error with *err. */
char *serve_first_listen(ps_ctx *ctx, const struct serve_options *opts,
			 ps_error *err);

/* Monotonic milliseconds. */
long long serve_now_ms(void);

#endif
