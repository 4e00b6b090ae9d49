/*
 * passthrough.c - the skeleton for module authors: a transport that
 * passes every byte through unchanged, like OpenSSL's null BIO.
 *
 *   [transport pt]
 *   module = passthrough
 *   note   = any text        ; optional, logged at connect
 *
 * Copy it, rename it (the file name must equal .name), and put your
 * protocol where the comments say.  docs/module-guide.md walks through
 * it; include/proxystack/module.h is the contract.  No caps: the host
 * puts `direct` below it, and this layer's target is the destination.
 *
 * The rules every hook keeps: never block, sleep or wait in a loop (the
 * host owns the poll loop and the deadline); return PS_OK, PS_AGAIN
 * (only when the layer below returned it, or after ps_layer_want() in a
 * bottom layer) or an error recorded with ps_layer_fail(); free what
 * you allocate, in unconfigure() or close() (or in configure() itself
 * when it fails: unconfigure() is called only after a successful
 * configure()); never log a secret.
 */
#include <stdlib.h>

#include <proxystack/module.h>

/* Per [transport NAME] section: built once, then shared read-only by
 * every connection of the snapshot, from any thread. */
struct passthrough_conf {
	const char *note; /* NULL: none; the host's string, lives as long */
};

/* Per connection: one thread at a time, so no locking here.  Every
 * state has a name, and every transition goes through go_state(). */
enum passthrough_state { PASSTHROUGH_LOG_ONCE, PASSTHROUGH_DONE };

static const char *const passthrough_state_names[] = {
	[PASSTHROUGH_LOG_ONCE] = "LOG_ONCE",
	[PASSTHROUGH_DONE] = "DONE",
};

struct passthrough {
	const struct passthrough_conf *conf;
	enum passthrough_state state;
	unsigned long long sent, received; /* bytes, logged at close */
};

/* Read EVERY key you accept: any key left unread fails the config,
 * with its file:line (configuration fails closed). */
static int passthrough_configure(ps_config *cfg, void **instance)
{
	struct passthrough_conf *conf = calloc(1, sizeof(*conf));

	if (!conf)
		return PS_ERR_NOMEM;
	/* The string lives as long as the snapshot: no copy needed. */
	conf->note = ps_config_get(cfg, "note");
	/* A bad value: free conf yourself (the host ignores *instance
	 * and never calls unconfigure() after a failed configure()), then
	 * return ps_config_error(cfg, "note", "why"). */
	*instance = conf;
	return PS_OK;
}

static void passthrough_unconfigure(void *instance)
{
	free(instance);
}

/* No I/O here: just allocate.  Set *state at once: close() gets it
 * even when open() fails. */
static int passthrough_open(ps_layer *layer, void *instance, void **state)
{
	struct passthrough *p = calloc(1, sizeof(*p));

	*state = p;
	if (!p)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory");
	p->conf = instance;
	return PS_OK;
}

static void passthrough_go_state(ps_layer *layer, struct passthrough *p,
				 enum passthrough_state next)
{
	ps_layer_log(layer, PS_LOG_DEBUG, "state %s -> %s",
		     passthrough_state_names[p->state],
		     passthrough_state_names[next]);
	p->state = next;
}

/* Called again and again until it returns PS_OK (or an error).  Never
 * block, sleep or loop waiting: do what can be done now, keep the
 * progress in the state, and return PS_AGAIN when the layer below did
 * (it recorded what the host must wait for). */
static int passthrough_connect(ps_layer *layer, void *state)
{
	struct passthrough *p = state;

	for (;;) {
		switch (p->state) {
		case PASSTHROUGH_LOG_ONCE:
			/* A real handshake does one step of I/O here with
			 * ps_layer_send_below()/_recv_below(), and returns
			 * what they return unless it is PS_OK. */
			ps_layer_log(layer, PS_LOG_DEBUG, "passing through to"
				     " %s:%u%s%s", ps_layer_target_host(layer),
				     ps_layer_target_port(layer),
				     p->conf->note ? ", note: " : "",
				     p->conf->note ? p->conf->note : "");
			ps_layer_set_detail(layer, "to %s:%u",
					    ps_layer_target_host(layer),
					    ps_layer_target_port(layer));
			passthrough_go_state(layer, p, PASSTHROUGH_DONE);
			break;
		case PASSTHROUGH_DONE:
			return PS_OK; /* established: not called again */
		}
	}
}

/* After connect: the agent's bytes, on their way down.  A transforming
 * layer (TLS to a proxy, a framing) encodes here; this one counts.  The
 * layer below may take fewer than len bytes: *n says how many, and the
 * caller sends the rest later.  PS_AGAIN or an error from below goes up
 * unchanged (it is already recorded).  Leave send and recv NULL for a
 * transparent tunnel: the host then skips the layer at no cost. */
static int passthrough_send(ps_layer *layer, void *state, const void *buf,
			    size_t len, size_t *n)
{
	struct passthrough *p = state;
	int rc = ps_layer_send_below(layer, buf, len, n);

	if (rc == PS_OK)
		p->sent += *n;
	return rc;
}

/* Bytes on their way up.  PS_OK with *n == 0 is the orderly end of
 * the stream; a decoding layer keeps a partial record in its state and
 * returns PS_AGAIN only when the layer below did. */
static int passthrough_recv(ps_layer *layer, void *state, void *buf,
			    size_t len, size_t *n)
{
	struct passthrough *p = state;
	int rc = ps_layer_recv_below(layer, buf, len, n);

	if (rc == PS_OK)
		p->received += *n;
	return rc;
}

/* Free everything; never block.  state may be NULL (open failed). */
static void passthrough_close(ps_layer *layer, void *state)
{
	struct passthrough *p = state;

	if (!p)
		return;
	ps_layer_log(layer, PS_LOG_DEBUG, "closed after %llu bytes sent,"
		     " %llu received", p->sent, p->received);
	free(p);
}

static const struct ps_module_ops passthrough_ops = {
	.configure = passthrough_configure,
	.unconfigure = passthrough_unconfigure,
	.open = passthrough_open,
	.connect = passthrough_connect,
	.send = passthrough_send,
	.recv = passthrough_recv,
	/* shutdown_write NULL: the host half-closes the layer below.  A
	 * layer with a framing of its own ends its stream there. */
	.close = passthrough_close,
};

/* The one exported symbol; everything above is static. */
const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "passthrough",
	.phases = PS_PHASE_TRANSPORT,
	.caps = 0,
	.summary = "passes bytes through unchanged (the skeleton module)",
	.ops = &passthrough_ops,
};
