/*
 * subchain.c - layers taken out of a connection for a module to keep
 * (ABI 1.2: ps_layer_detach_below and the ps_subchain_* services).
 *
 * The https-proxy module's HTTP/2 session is the user: the host built
 * and connected `direct -> tls(proxy)` for the first tunnel, the module
 * takes them over and runs the session on them for every tunnel that
 * shares it.  The layers keep their ops and states; only where they
 * report changes: what to wait for goes to the connection driving the
 * call (its poll must wake for the session's socket), failures to the
 * sub-chain's own error (the session's, shared by every tunnel).
 */
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "error.h"

ps_subchain *ps_layer_detach_below(ps_layer *layer)
{
	struct ps_conn *conn = layer->conn;
	struct ps_subchain *sub;
	size_t n = (size_t)layer->hop;

	if (layer->sub || n == 0 || !conn->layers[n - 1].established ||
	    conn->layers[n - 1].skipped) {
		ps_layer_fail(layer, PS_ERR_INTERNAL, NULL, "%s: nothing "
			      "established below to detach", layer->name);
		return NULL;
	}
	sub = calloc(1, sizeof(*sub));
	if (sub)
		sub->shell = calloc(1, sizeof(*sub->shell));
	if (!sub || !sub->shell) {
		free(sub);
		ps_layer_fail(layer, PS_ERR_NOMEM, NULL, "out of memory");
		return NULL;
	}
	/* Not a reference: the module closes the sub-chain at the latest
	 * in unconfigure(), while the snapshot is still whole. */
	sub->shell->snap = conn->snap;
	sub->shell->epfd = -1;
	for (size_t i = 0; i < n; i++) {
		struct ps_layer *from = &conn->layers[i];

		sub->layers[i] = *from;	/* state, unread bytes, jobs */
		sub->layers[i].sub = sub;
		sub->layers[i].conn = sub->shell;
		/* The connection keeps the recipe (a reconnect below builds
		 * the layers anew) but no longer owns these. */
		from->state = NULL;
		from->opened = 0;
		buf_init(&from->unread);
		from->resolve = NULL;
		from->offload = NULL;
	}
	sub->nlayers = n;
	ps_layer_log(layer, PS_LOG_DEBUG, "took over the %zu layer%s below",
		     n, n == 1 ? "" : "s");
	return sub;
}

/* Point the layers at the connection driving this call. */
static struct ps_layer *subchain_drive(ps_subchain *sub, ps_layer *driver)
{
	struct ps_conn *conn = driver ? driver->conn : sub->shell;

	for (size_t i = 0; i < sub->nlayers; i++)
		sub->layers[i].conn = conn;
	return &sub->layers[sub->nlayers - 1];
}

int ps_subchain_send(ps_subchain *sub, ps_layer *driver, const void *buf,
		     size_t len, size_t *n)
{
	*n = 0;
	if (sub->err.code != PS_OK)
		return sub->err.code;
	return layer_send(subchain_drive(sub, driver), buf, len, n);
}

int ps_subchain_recv(ps_subchain *sub, ps_layer *driver, void *buf,
		     size_t len, size_t *n)
{
	*n = 0;
	if (sub->err.code != PS_OK)
		return sub->err.code;
	return layer_recv(subchain_drive(sub, driver), buf, len, n);
}

int ps_subchain_query(ps_subchain *sub, ps_layer *driver, int what,
		      void *out, size_t size)
{
	struct ps_layer *top = subchain_drive(sub, driver);

	for (struct ps_layer *l = top; l; l = layer_below(l)) {
		int rc;

		if (!l->ops->query || !l->state)
			continue;
		rc = l->ops->query(l, l->state, what, out, size);
		if (rc != PS_ERR_UNSUPPORTED)
			return rc;
	}
	return PS_ERR_UNSUPPORTED;
}

const char *ps_subchain_why(const ps_subchain *sub)
{
	return sub->err.message;
}

void ps_subchain_close(ps_subchain *sub, ps_layer *driver)
{
	if (!sub)
		return;
	subchain_drive(sub, driver);
	for (size_t i = sub->nlayers; i-- > 0;) {
		struct ps_layer *l = &sub->layers[i];

		if (l->ops->close)
			l->ops->close(l, l->state);
		buf_free(&l->unread);
		layer_release_jobs(l);
	}
	free(sub->shell);
	free(sub);
}
