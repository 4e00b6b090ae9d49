/*
 * chain.h - a connection as a chain of layers, and the driver that
 * connects them bottom to top (internal).
 *
 * A layer is one module instance (or a host-internal layer such as tls)
 * on one connection.  Layers are connected strictly in order: layer i's
 * connect() is called only once layers 0..i-1 are established.  I/O on
 * an established chain enters at the top layer and walks down through
 * transparent layers (those without send/recv ops) at no cost.
 */
#ifndef HOST_CHAIN_H
#define HOST_CHAIN_H

#include <proxystack/module.h>

#include "buf.h"
#include "clock.h"
#include "offload.h"
#include "resolve.h"
#include "route.h"
#include "snapshot.h"
#include "url.h"

struct select_job;

#define CHAIN_MAX_LAYERS 16
#define CHAIN_MAX_WANTS 8

struct ps_layer {
	struct ps_conn *conn;
	int hop;                          /* index in conn->layers */
	const char *name;                 /* module or internal layer name */
	const struct ps_module_ops *ops;
	void *instance;                   /* the module instance (shared) */
	void *state;                      /* per connection, from open() */
	const struct instance *inst;      /* NULL for internal layers */
	int opened;
	int established;
	char target_host[256];
	unsigned target_port;
	struct buf unread;                /* bytes given back for the layer above */
	struct resolve_job *resolve;
	struct offload_job *offload;      /* ps_layer_offload(), while its
					     work is the host's */
	char detail[200];
	int socket_fd;                    /* ps_layer_set_socket(), if */
	int has_socket;                   /* has_socket */
	/* ABI 1.2 */
	struct ps_subchain *sub;          /* set once detached into one */
	int skipped;                      /* ps_layer_skip_below(): never
					     opened for this connection */
};

/*
 * Layers taken out of a connection (ps_layer_detach_below) for a module
 * to keep (subchain.c).  Their 'conn' is the driving connection's during
 * each call, 'shell' otherwise; failures are recorded in 'err', the
 * sub-chain's own, because it outlives every connection that drives it.
 */
struct ps_subchain {
	struct ps_conn *shell;            /* snapshot for logs, idle wants */
	struct ps_layer layers[CHAIN_MAX_LAYERS];
	size_t nlayers;
	ps_error err;
};

struct chain_want {
	int fd;
	short events;
};

enum conn_state {
	CONN_BUILDING,
	CONN_READY,
	CONN_FAILED
};

/* Connection options after defaults and the snapshot are applied. */
struct conn_options {
	char *ca_file;
	char *client_cert_file;
	char *client_key_file;
	char *alpn;
	int insecure;
	long timeout_ms;
	ps_step_fn on_step;
	void *step_user;
	/* websocket */
	char *ws_subprotocols;
	char *ws_origin;
	char **ws_headers;             /* NULL-terminated copy */
	long ws_ping_interval_ms;      /* 0: no pings */
	long ws_pong_timeout_ms;
	size_t ws_max_message;
	/* ps_connect_options.forward_head (since 1.3) */
	char *forward_head;
	size_t forward_head_len;
	int forward_has_body;
	int forward_taken;             /* a hop of this line sent it */
};

struct ps_conn {
	struct snapshot *snap;
	struct url dest;
	struct conn_options opt;
	int nonblocking;
	enum conn_state state;

	struct route_choice choice;
	size_t line;                      /* alternative being tried */

	struct ps_layer layers[CHAIN_MAX_LAYERS];
	size_t nlayers;
	size_t next;                      /* first layer not yet established */

	struct chain_want wants[CHAIN_MAX_WANTS];
	size_t nwants;
	long long wake_at_ms;             /* 0: none */
	long long started_us;             /* for step timings */
	long long deadline_ms;            /* of the current alternative */

	int epfd;                         /* when several fds are wanted */
	struct chain_want registered[CHAIN_MAX_WANTS];
	size_t nregistered;

	ps_error err;
	char *description;

	int reconnect_below;              /* hop that asked, or -1 */
	int reconnects;                   /* asked so far on this line */

	struct select_job *select_job;    /* a selection running (select.h) */
	struct offload_job *select_thread; /* ... its thread, until taken */
};

/*
 * Build the layers of the current route line (conn->line) and arm its
 * deadline.  PS_OK or an error in conn->err.
 */
int chain_setup_line(struct ps_conn *conn);

/* Advance the chain as far as it goes without blocking (ps_conn_step). */
int chain_step(struct ps_conn *conn);

/* Close layers [0, count) top to bottom, ready to be opened again. */
void chain_close_layers(struct ps_conn *conn, size_t count);

/* Close established/opened layers top to bottom and forget them. */
void chain_teardown(struct ps_conn *conn);

/* What to wait for now (ps_conn_poll). */
void chain_poll(struct ps_conn *conn, int *fd, short *events,
		int *timeout_ms);

/* Clear the wait set before a step or an I/O call. */
void chain_clear_wants(struct ps_conn *conn);

/*
 * Forget a usage error the caller was given (a read before the chain was
 * up, a ws call on a byte channel) on a connection that has not failed:
 * it is not the connection's cause, and ps_layer_fail() keeps the first
 * error, so a later real failure would be reported as usage.  Called by
 * every entry point before it works on the connection.
 */
void chain_forget_usage_error(struct ps_conn *conn);

/* I/O through layer 'l' (the top layer for the channel). */
int layer_send(struct ps_layer *l, const void *buf, size_t len, size_t *n);
int layer_recv(struct ps_layer *l, void *buf, size_t len, size_t *n);
int layer_shutdown_write(struct ps_layer *l);

/* The layer description "direct -> http-connect(url) -> tls". */
char *chain_describe_stack(const struct stack *st, const struct url *dest);

/* Block until what chain_poll names is ready or its timeout passes. */
void chain_wait(struct ps_conn *conn);

/* 1 for ws:// and wss:// connections. */
int conn_is_websocket(const struct ps_conn *conn);

/*
 * Let go of a layer's name lookup and offloaded work (a job still running
 * finishes on its own thread and frees what it holds there).
 */
void layer_release_jobs(struct ps_layer *l);

/* The layer below 'l' in its connection or sub-chain, or NULL. */
struct ps_layer *layer_below(struct ps_layer *l);

/* The internal TLS layer (tls.c): to the destination, or to a proxy hop
 * (its instance then is the hop's struct tls_proxy). */
extern const struct ps_module_ops tls_layer_ops;

/* The internal websocket layer (ws.c). */
extern const struct ps_module_ops ws_layer_ops;

#endif
