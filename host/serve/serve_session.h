/*
 * serve_session.h - the daemon and its client sessions, shared by
 * serve_loop.c (epoll, accept, signals, timers), serve_session.c (one
 * client: request, chain, answers) and serve_tunnel.c (the relay).
 */
#ifndef SERVE_SESSION_H
#define SERVE_SESSION_H

#include <poll.h>

#include "serve.h"

enum watch_kind { WATCH_LISTENER, WATCH_SIGNAL, WATCH_CLIENT, WATCH_UPSTREAM };

/* What an epoll event's data.ptr points to. */
struct watch {
	enum watch_kind kind;
	void *owner;            /* listener, session or daemon */
};

enum session_state {
	SESSION_HEAD,           /* reading the HTTP head or the SOCKS5 steps */
	SESSION_BUILDING,       /* ps_conn_step() until the chain is up */
	SESSION_RELAY,          /* copying both ways, or one http exchange */
	SESSION_LINGER,         /* answer sent: read and drop until EOF */
	SESSION_DONE            /* to be freed by the loop */
};

enum session_proto { PROTO_UNKNOWN, PROTO_HTTP, PROTO_SOCKS };

enum socks_phase { SOCKS_GREETING, SOCKS_USERPASS, SOCKS_REQUEST };

/* One direction of a tunnel: source -> (bytes in buf, then pipe) -> sink. */
struct relay_dir {
	char *buf;              /* bytes to send first; the copy buffer on
				   the read/write path */
	size_t start, end, cap;
	int pipe[2];            /* splice path, made on first use; -1 */
	size_t in_pipe;
	int src_eof;            /* the source ended its stream */
	int shut;               /* end of stream passed on to the sink */
	int wait_src, wait_dst; /* the last try would block there */
};

/* An upstream fd the tunnel waits for (ps_conn_poll, or the raw fd). */
struct upstream_want {
	int fd;
	short events;
};

/* One absolute-form request and its response (serve_exchange.c). */
struct exchange {
	struct http_body req;   /* the request body still to pass on */
	int req_done;           /* all of it is queued upstream */
	int head_request;       /* HEAD: the response has no body */
	int keep_client;        /* the client may send another request */
	int reusable;           /* the tunnel may carry the next request */
	char *rhead;            /* the response head so far */
	size_t rhead_len;
	int head_done, resp_done;
	struct http_response resp;
	unsigned long long sent;/* bytes of this response to the client */
	int reused;             /* sent on the last exchange's tunnel */
	char *again;            /* the whole request, to send again on a new
				   tunnel if a reused one was closed; NULL */
	size_t again_len;
	char *fwd;              /* the absolute-form head for an HTTP proxy
				   hop to forward (http_forward = auto) */
	size_t fwd_len;
	int has_body;           /* the request has a body */
	int forwarded;          /* the proxy hop sent fwd: its response */
	int bad_body;           /* the request body's framing is malformed */
	char host[SERVE_HOST_MAX + 3];  /* the origin, for that new tunnel */
	unsigned port;
	int host_is_v6;
};

enum io_result { IO_DONE, IO_AGAIN, IO_EOF, IO_FAIL };

struct serve;
struct ip_count;

struct session {
	struct serve *srv;
	struct session *prev, *next;
	struct watch cw, uw;
	int fd;                 /* the client socket */
	unsigned cev;           /* client events registered with epoll */
	int upfd;               /* epoll of the upstream fds, -1 */
	struct upstream_want reg[2], want[2];
	size_t nreg, nwant;
	long long wake_ms;      /* the library's next deadline; 0: none */

	enum session_state state;
	enum session_proto proto;
	enum socks_phase socks;
	char *head;             /* request bytes so far */
	size_t head_len, head_cap;

	char client[64];        /* "addr:port" for the log */
	char addr[48];          /* numeric address, for allow and limits */
	struct ip_count *ipc;
	char dest[SERVE_HOST_MAX + 10];
	char user[256];
	const char *proto_name; /* "connect", "http", "socks5" */

	ps_conn *conn;
	char conn_dest[SERVE_HOST_MAX + 10]; /* where conn leads (exchanges) */
	struct exchange *ex;    /* absolute-form http://: the exchange */
	int raw;                /* ps_conn_fd() when transparent, else -1 */
	struct relay_dir up;    /* client -> destination */
	struct relay_dir down;  /* destination -> client */
	size_t prefix_up;       /* our own bytes in 'up' (origin request) */

	long long started_ms, last_io_ms, linger_until_ms;
	size_t lingered;
	unsigned long long nup, ndown;
	const char *result;     /* for the log; NULL: "ok" */
	int status;             /* HTTP status or SOCKS reply, -1 none */
	int logged;
	int over_limit;         /* max_tunnels_per_client reached at accept */
	int moved;              /* the last tunnel_pump() moved bytes */
};

/* The daemon. */
struct serve {
	ps_ctx *ctx;
	int epfd;
	int sigfd;
	struct watch sigw;
	struct listener *listeners;
	size_t nlisteners;
	int accepting;          /* listeners registered for EPOLLIN */
	long long accept_resume_ms; /* paused after EMFILE; 0: not */
	int draining;
	long long drain_until_ms;
	int stop;

	struct session *sessions;
	size_t nsessions;
	struct ip_count **ip_table;
	size_t ip_buckets;

	struct serve_acl acl;
	int max_clients, max_per_client, idle_ms, drain_ms;
	int http_forward_tunnel;/* [serve] http_forward = tunnel */
	FILE *log;
	int verbose;
	long long last_config_check_ms;
	char *allow_text, *users_text; /* what the acl was built from */
	char last_error[PS_ERROR_MESSAGE_MAX]; /* [serve] problem logged */
};

/* serve_session.c */
struct session *session_new(struct serve *srv, int fd,
			    const struct sockaddr_storage *peer);
void session_event(struct session *s, enum watch_kind from, unsigned events);
void session_timer(struct session *s, long long now);
long long session_deadline(const struct session *s);
void session_free(struct session *s);
void session_finish(struct session *s, const char *result, int status);

/* serve_tunnel.c */
int tunnel_start(struct session *s);
int tunnel_pump(struct session *s);
void tunnel_free(struct session *s);
/* Register what the relay's last tries wait for: 1, or 0 (internal). */
int tunnel_wait(struct session *s);
enum io_result tunnel_fd_result(ssize_t n, size_t *done);
enum io_result tunnel_upstream_read(struct session *s, void *buf, size_t len,
				    size_t *n);
enum io_result tunnel_upstream_write(struct session *s, const void *buf,
				     size_t len, size_t *n);

/* serve_exchange.c: 1 waiting, 0 ended (s->result), 2 response relayed. */
int exchange_pump(struct session *s);
/* A new exchange for request r: NULL when out of memory. */
struct exchange *exchange_new(const struct http_request *r);
void exchange_free(struct exchange *ex);

/* serve_loop.c: keep epoll in step with what a session waits for. */
int loop_client_events(struct session *s, unsigned events);
int loop_upstream_sync(struct session *s);
void loop_log(struct serve *srv, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
