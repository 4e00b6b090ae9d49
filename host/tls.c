/*
 * tls.c - the destination TLS layer: OpenSSL over any layer below.
 *
 * States are OpenSSL's own (SSL_connect is restartable); this file maps
 * its retry signals to ours through a BIO whose read and write call the
 * layer below, and turns verification failures into errors a person can
 * act on.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain.h"
#include "error.h"
#include "tls.h"
#include "tls_cache.h"
#include "tls_files.h"
#include "tls_proxy.h"

struct ps_trust {
	X509_STORE *store;
	int failed;
	char why[256];
};

/* First verification failure, recorded by the verify callback. */
struct tls_verify_info {
	int error;
	int depth;
	char subject[256];
	char issuer[256];
};

struct tls_state {
	SSL *ssl;
	struct tls_verify_info verify;
	int verify_index_set;
	const struct tls_proxy *proxy;  /* a proxy hop's TLS, or NULL */
	unsigned long err_before;       /* newest error before our call */
	/* SSL_is_init_finished() turns false again at a fatal error. */
	int handshake_done;
	/* The layer of the current call, for the BIO: a layer can move
	 * (ps_layer_detach_below copies it into a sub-chain). */
	ps_layer *layer;
};

static BIO_METHOD *layer_bio_method;
static pthread_mutex_t tls_init_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------------ */
/* the BIO that runs over the layer below                              */
/* ------------------------------------------------------------------ */

static int layer_bio_write(BIO *bio, const char *data, size_t len,
			   size_t *written)
{
	struct tls_state *ts = BIO_get_data(bio);
	ps_layer *layer = ts->layer;
	int rc;

	BIO_clear_retry_flags(bio);
	rc = ps_layer_send_below(layer, data, len, written);
	if (rc == PS_OK)
		return 1;
	if (rc == PS_AGAIN) {
		/*
		 * -1, not 0: OpenSSL's alert path (a retried close_notify)
		 * takes only a negative result as "nothing sent", and would
		 * otherwise think the alert went out and drop its bytes.
		 */
		BIO_set_retry_write(bio);
		return -1;
	}
	return 0;
}

static int layer_bio_read(BIO *bio, char *data, size_t len, size_t *nread)
{
	struct tls_state *ts = BIO_get_data(bio);
	ps_layer *layer = ts->layer;
	int rc;

	BIO_clear_retry_flags(bio);
	rc = ps_layer_recv_below(layer, data, len, nread);
	if (rc == PS_OK && *nread == 0) {
		/* End of stream: BIO_eof() must say so, or OpenSSL takes the
		 * 0 for a syscall error: then neither its unexpected-EOF
		 * reason (tls_unexpected_eof()) nor a proxy hop's
		 * SSL_OP_IGNORE_UNEXPECTED_EOF works. */
		BIO_set_flags(bio, BIO_FLAGS_IN_EOF);
		return 0;
	}
	if (rc == PS_OK)
		return 1;
	if (rc == PS_AGAIN) {
		BIO_set_retry_read(bio);
		return -1;	/* as for writes: "try again", not "done" */
	}
	return 0;
}

static long layer_bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0;
	default:
		return 0;
	}
}

static int layer_bio_create(BIO *bio)
{
	BIO_set_init(bio, 1);
	return 1;
}

/* One-time set-up, retried until it succeeds (it allocates). */
static int tls_init(void)
{
	int ok;

	pthread_mutex_lock(&tls_init_lock);
	if (!layer_bio_method) {
		/*
		 * A fixed type, not BIO_get_new_index(): that runs a
		 * one-time init OpenSSL never retries once it failed.  The
		 * type only matters to BIO_find_type(), which we never use.
		 */
		BIO_METHOD *m = BIO_meth_new((BIO_TYPE_START + 0x5c) |
					     BIO_TYPE_SOURCE_SINK,
					     "proxystack layer");

		if (m && BIO_meth_set_write_ex(m, layer_bio_write) &&
		    BIO_meth_set_read_ex(m, layer_bio_read) &&
		    BIO_meth_set_ctrl(m, layer_bio_ctrl) &&
		    BIO_meth_set_create(m, layer_bio_create))
			layer_bio_method = m;
		else
			BIO_meth_free(m);
	}
	ok = layer_bio_method != NULL;
	pthread_mutex_unlock(&tls_init_lock);
	if (!ok)
		ERR_clear_error();
	return ok;
}

void tls_warm_up(void)
{
	if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1 ||
	    !tls_init())
		ERR_clear_error();
}

/* ------------------------------------------------------------------ */
/* trust (host services for trust modules)                             */
/* ------------------------------------------------------------------ */

/* PS_ERR_CONFIG for a bad file, PS_ERR_NOMEM (errno says) otherwise. */
static int trust_fail(ps_trust *trust, int load_errno, const char *what,
		      const char *path)
{
	unsigned long e = ERR_peek_last_error();

	trust->failed = 1;
	snprintf(trust->why, sizeof(trust->why), "cannot load %s %s: %s", what,
		 path, load_errno == ENOMEM ? "out of memory"
		       : e ? ERR_reason_error_string(e) : "unknown error");
	ERR_clear_error();
	return load_errno == ENOMEM ? PS_ERR_NOMEM : PS_ERR_CONFIG;
}

int ps_trust_add_ca_file(ps_trust *trust, const char *path)
{
	errno = 0;
	if (X509_STORE_load_file(trust->store, path) != 1)
		return trust_fail(trust, errno, "CA file", path);
	return PS_OK;
}

int ps_trust_add_ca_dir(ps_trust *trust, const char *path)
{
	errno = 0;
	if (X509_STORE_load_path(trust->store, path) != 1)
		return trust_fail(trust, errno, "CA directory", path);
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* SSL_CTX per trust configuration, cached in the snapshot             */
/* ------------------------------------------------------------------ */

static const struct stack *conn_stack(const struct ps_conn *conn)
{
	return conn->choice.lines[conn->line].stack;
}

/*
 * Report the last OpenSSL error; an allocation failure anywhere in the
 * queue (it often sits under a "PEM lib" or "x509 lib") makes it nomem.
 */
static int tls_fail_openssl(ps_layer *layer, int code, const char *hint,
			    const char *what)
{
	unsigned long e, last = 0;
	char reason[256];
	int oom = 0;

	while ((e = ERR_get_error())) {
		last = e;
		oom |= tls_oom_error(e);
	}
	if (oom)
		code = PS_ERR_NOMEM;
	ERR_error_string_n(last, reason, sizeof(reason));
	return ps_layer_fail(layer, code, hint, "%s: %s", what,
			     last ? reason : "unknown error");
}

/*
 * A file OpenSSL could not load: a bad file (config), or an allocation
 * failure that OpenSSL 3.0 reports as a bare "PEM lib" and only errno
 * (cleared before the call) tells apart.
 */
static int tls_load_failed(ps_layer *layer, int load_errno, const char *hint,
			   const char *path)
{
	return tls_fail_openssl(layer, load_errno == ENOMEM ? PS_ERR_NOMEM
							    : PS_ERR_CONFIG,
				hint, path);
}

static int ctx_load_trust(ps_layer *layer, SSL_CTX *ctx)
{
	struct ps_conn *conn = layer->conn;
	const struct stack *st = conn_stack(conn);
	ps_trust trust = { .store = SSL_CTX_get_cert_store(ctx) };

	errno = 0;
	if (conn->opt.ca_file) {
		if (SSL_CTX_load_verify_file(ctx, conn->opt.ca_file) != 1)
			return tls_load_failed(layer, errno,
					       "check ca_file / --ca-file",
					       conn->opt.ca_file);
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		return tls_fail_openssl(layer, PS_ERR_TLS, NULL,
					"cannot load the system CA store");
	}
	for (size_t i = 0; i < st->ntrusts; i++) {
		const struct instance *t = st->trusts[i];

		if (!t->mod->ops.add_trust)
			continue;
		int rc = t->mod->ops.add_trust(t->state, &trust,
					       layer->target_host);

		if (rc != PS_OK)
			return ps_layer_fail(layer, rc == PS_ERR_NOMEM
						    ? PS_ERR_NOMEM
						    : PS_ERR_CONFIG, NULL,
					     "trust %s: %s", t->name,
					     trust.failed ? trust.why
							  : "failed");
	}
	return PS_OK;
}

static int ctx_load_identity(ps_layer *layer, SSL_CTX *ctx)
{
	const struct conn_options *o = &layer->conn->opt;

	if (!o->client_cert_file)
		return PS_OK;
	errno = 0;
	if (SSL_CTX_use_certificate_chain_file(ctx, o->client_cert_file) != 1)
		return tls_load_failed(layer, errno,
				       "check client_cert_file / --cert",
				       o->client_cert_file);
	errno = 0;
	if (SSL_CTX_use_PrivateKey_file(ctx, o->client_key_file,
					SSL_FILETYPE_PEM) != 1)
		return tls_load_failed(layer, errno,
				       "check client_key_file / --key",
				       o->client_key_file);
	if (SSL_CTX_check_private_key(ctx) != 1)
		return tls_fail_openssl(layer, PS_ERR_CONFIG,
					"the key must belong to the certificate",
					"client certificate and key");
	return PS_OK;
}

static int new_ssl_ctx(ps_layer *layer, SSL_CTX **out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int rc;

	*out = NULL;
	if (!ctx)
		return tls_fail_openssl(layer, PS_ERR_NOMEM, NULL, "SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/*
	 * No SSL_OP_IGNORE_UNEXPECTED_EOF: a TCP close without close_notify
	 * is how an attacker (or a dying proxy) cuts an answer short, and
	 * only TLS can tell; tls_fail_truncated() reports it.  A proxy
	 * hop's TLS (tls_proxy.c) sets it: the destination's own TLS, or
	 * nothing at all for tcp://, is what vouches for the end there.
	 */
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
	rc = ctx_load_trust(layer, ctx);
	if (rc == PS_OK)
		rc = ctx_load_identity(layer, ctx);
	if (rc != PS_OK) {
		SSL_CTX_free(ctx);
		return rc;
	}
	*out = ctx;
	return PS_OK;
}

/* What makes two connections' SSL_CTXs interchangeable. */
static char *cache_key(ps_layer *layer)
{
	const struct conn_options *o = &layer->conn->opt;
	const struct stack *st = conn_stack(layer->conn);
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s|%s|%s|%s|%s", o->ca_file ? o->ca_file : "",
		   o->client_cert_file ? o->client_cert_file : "",
		   o->client_key_file ? o->client_key_file : "", st->name,
		   st->ntrusts ? layer->target_host : "");
	return buf_steal(&b);
}

/* tls_cache_get()'s build function: reports its failure on the layer. */
static int build_ssl_ctx(void *layer, SSL_CTX **out)
{
	return new_ssl_ctx(layer, out);
}

static int get_ssl_ctx(ps_layer *layer, SSL_CTX **out)
{
	char *key = cache_key(layer);
	int rc;

	if (!key)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL, "out of memory");
	rc = tls_cache_get(layer->conn->snap->tls_cache, key, build_ssl_ctx,
			   layer, out);
	free(key);
	/* The first failure recorded is kept: this only fills in the
	 * cache's own allocation failure, which nobody reported yet. */
	if (rc != PS_OK)
		ps_layer_fail(layer, rc, NULL, "out of memory");
	return rc;
}

/* ------------------------------------------------------------------ */
/* the layer                                                           */
/* ------------------------------------------------------------------ */

/*
 * OpenSSL's error queue is the thread's.  The destination's TLS is the
 * top of the chain and starts each call with an empty queue.  A proxy
 * hop's TLS runs below another TLS (the destination's, or a further
 * proxy's) that may be in the middle of failing while it writes its
 * alert through us: the errors that one queued are its report.  So a
 * proxy hop's layer never clears the queue: it marks where its own
 * errors start, looks only at those, and removes only those.
 */
static void tls_enter(struct tls_state *ts, ps_layer *layer)
{
	ts->layer = layer;
	if (!ts->proxy) {
		ERR_clear_error();
		return;
	}
	ts->err_before = ERR_peek_last_error();
	ERR_set_mark();	/* fails on an empty queue: pop then empties it */
}

static void tls_leave(struct tls_state *ts)
{
	if (ts->proxy)
		ERR_pop_to_mark();
}

/* The newest error our call queued, or 0. */
static unsigned long tls_own_error(const struct tls_state *ts)
{
	unsigned long last = ERR_peek_last_error();

	if (ts->proxy && last == ts->err_before)
		return 0;
	return last;
}

/*
 * SSL_get_error() without being misled by errors another layer queued:
 * retry flags from the BIO, SSL_ERROR_SSL only when we queued an error
 * (a fatal alert included), ZERO_RETURN on close_notify or a bare end.
 */
static int tls_ssl_error(const struct tls_state *ts, int ret)
{
	if (!ts->proxy)
		return SSL_get_error(ts->ssl, ret);
	if (ret > 0)
		return SSL_ERROR_NONE;
	if (SSL_want_read(ts->ssl) && BIO_should_read(SSL_get_rbio(ts->ssl)))
		return SSL_ERROR_WANT_READ;
	if (SSL_want_write(ts->ssl) &&
	    BIO_should_write(SSL_get_wbio(ts->ssl)))
		return SSL_ERROR_WANT_WRITE;
	/* Before the shutdown flag: a fatal alert sets it too. */
	if (tls_own_error(ts))
		return SSL_ERROR_SSL;
	if (SSL_get_shutdown(ts->ssl) & SSL_RECEIVED_SHUTDOWN)
		return SSL_ERROR_ZERO_RETURN;
	return SSL_ERROR_SYSCALL;
}

/* tls_fail_openssl() for a layer: only its own errors are read. */
static int tls_fail_ssl(ps_layer *layer, const struct tls_state *ts,
			int code, const char *hint, const char *what)
{
	unsigned long e = tls_own_error(ts);
	char reason[256];

	if (!ts->proxy)
		return tls_fail_openssl(layer, code, hint, what);
	if (e && tls_oom_error(e))
		code = PS_ERR_NOMEM;
	ERR_error_string_n(e, reason, sizeof(reason));
	return ps_layer_fail(layer, code, hint, "%s: %s: %s", ts->proxy->who,
			     what, e ? reason : "unknown error");
}

/* Where a failure of this layer is kept (a sub-chain keeps its own). */
static ps_error *tls_layer_error(ps_layer *layer)
{
	return layer->sub ? &layer->sub->err : &layer->conn->err;
}

static int tls_insecure(const ps_layer *layer, const struct tls_state *ts)
{
	return ts->proxy ? ts->proxy->insecure : layer->conn->opt.insecure;
}

static int record_verify_failure(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
		store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_verify_info *vi = SSL_get_app_data(ssl);
	X509 *cert = X509_STORE_CTX_get_current_cert(store);

	if (!ok && vi && !vi->error) {
		vi->error = X509_STORE_CTX_get_error(store);
		vi->depth = X509_STORE_CTX_get_error_depth(store);
		if (cert) {
			X509_NAME_oneline(X509_get_subject_name(cert),
					  vi->subject, sizeof(vi->subject));
			X509_NAME_oneline(X509_get_issuer_name(cert),
					  vi->issuer, sizeof(vi->issuer));
		}
	}
	return ok;
}

static int tls_configure_ssl(ps_layer *layer, struct tls_state *ts)
{
	const struct conn_options *o = &layer->conn->opt;
	const char *host = layer->target_host;
	int is_ip = ts->proxy ? ts->proxy->is_ip : layer->conn->dest.host_is_ip;
	unsigned char wire[256];
	size_t wire_len;
	BIO *bio;

	SSL_set_app_data(ts->ssl, &ts->verify);
	if (tls_insecure(layer, ts)) {
		SSL_set_verify(ts->ssl, SSL_VERIFY_NONE, NULL);
		ps_layer_log(layer, PS_LOG_WARN, "insecure_tls: the certificate"
			     " of %s%s is NOT verified",
			     ts->proxy ? "proxy " : "", host);
	} else {
		SSL_set_verify(ts->ssl, SSL_VERIFY_PEER, record_verify_failure);
		if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(
				    SSL_get0_param(ts->ssl), host) != 1
			  : SSL_set1_host(ts->ssl, host) != 1)
			return tls_fail_ssl(layer, ts, PS_ERR_TLS, NULL,
					    "cannot set the name to verify");
	}
	/* SNI carries names only, never addresses (RFC 6066). */
	if (!is_ip && SSL_set_tlsext_host_name(ts->ssl, host) != 1)
		return tls_fail_ssl(layer, ts, PS_ERR_TLS, NULL, "SNI");
	/* A proxy hop's ALPN list is in its context already. */
	if (!ts->proxy && o->alpn &&
	    (tls_alpn_wire(o->alpn, wire, sizeof(wire), &wire_len) ||
	     SSL_set_alpn_protos(ts->ssl, wire, (unsigned)wire_len) != 0))
		return ps_layer_fail(layer, PS_ERR_USAGE, "e.g. h2,http/1.1",
				     "bad ALPN list");
	bio = BIO_new(layer_bio_method);
	if (!bio)
		return tls_fail_ssl(layer, ts, PS_ERR_NOMEM, NULL, "BIO_new");
	BIO_set_data(bio, ts);
	SSL_set_bio(ts->ssl, bio, bio);
	SSL_set_connect_state(ts->ssl);
	return PS_OK;
}

static int tls_open(ps_layer *layer, void *instance, void **state)
{
	struct tls_state *ts;
	SSL_CTX *ctx = NULL;
	int rc;

	if (!tls_init())
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "OpenSSL initialisation failed");
	ts = calloc(1, sizeof(*ts));
	if (!ts)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL, "out of memory");
	*state = ts;
	ts->proxy = instance;
	tls_enter(ts, layer);
	if (ts->proxy) {
		ts->ssl = SSL_new(ts->proxy->ctx);
	} else {
		rc = get_ssl_ctx(layer, &ctx);
		if (rc != PS_OK)
			return rc;
		ts->ssl = SSL_new(ctx);
		SSL_CTX_free(ctx);
	}
	rc = ts->ssl ? tls_configure_ssl(layer, ts)
		     : tls_fail_ssl(layer, ts, PS_ERR_NOMEM, NULL, "SSL_new");
	tls_leave(ts);
	return rc;
}

static const char *verify_hint(int error)
{
	switch (error) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return "the certificate does not name this host: connect by a"
		       " name it lists, or fix the server's certificate";
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "renew the certificate (or check this machine's clock)";
	default:
		return "trust the issuer with ca_file or --ca-file; behind a"
		       " TLS-inspecting proxy, add its root CA with a"
		       " tls-intercept-trust module";
	}
}

/* The same for a proxy hop: its trust is its section's. */
static void proxy_verify_hint(const struct tls_proxy *p, int error,
			      char *hint, size_t size)
{
	switch (error) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		snprintf(hint, size, "the proxy's certificate does not name "
			 "it: use a name it lists in url in [transport %s], "
			 "or fix the proxy's certificate", p->section);
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		snprintf(hint, size, "renew the proxy's certificate (or check "
			 "this machine's clock)");
		break;
	default:
		snprintf(hint, size, "set ca_file in [transport %s] to the CA "
			 "of the proxy's certificate", p->section);
		break;
	}
}

static int tls_fail_verify(ps_layer *layer, struct tls_state *ts)
{
	const struct tls_verify_info *vi = &ts->verify;
	long res = SSL_get_verify_result(ts->ssl);
	int error = vi->error ? vi->error : (int)res;
	char proxy_hint[PS_ERROR_HINT_MAX];
	const char *hint = verify_hint(error);
	unsigned long e;
	int oom = error == X509_V_ERR_OUT_OF_MEM;

	/*
	 * An allocation failure while building the chain (a store lookup)
	 * looks like a missing issuer to the verifier: the error queue
	 * tells.  Out of memory is not a certificate problem.
	 */
	if (ts->proxy)
		oom |= (e = tls_own_error(ts)) != 0 && tls_oom_error(e);
	else
		while ((e = ERR_get_error()))
			oom |= tls_oom_error(e);
	if (oom)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL, "certificate"
				     " verification for %s ran out of memory",
				     layer->target_host);
	if (ts->proxy) {
		proxy_verify_hint(ts->proxy, error, proxy_hint,
				  sizeof(proxy_hint));
		return ps_layer_fail(layer, PS_ERR_TLS_VERIFY, proxy_hint,
				     "%s: certificate verify failed: %s "
				     "(depth %d, subject %s, issuer %s; "
				     "verified against %s)", ts->proxy->who,
				     X509_verify_cert_error_string(error),
				     vi->depth,
				     vi->subject[0] ? vi->subject : "?",
				     vi->issuer[0] ? vi->issuer : "?",
				     ts->proxy->trust);
	}
	/* The stack already trusts an inspecting proxy: say where to look. */
	if (conn_stack(layer->conn)->ntrusts &&
	    error != X509_V_ERR_HOSTNAME_MISMATCH &&
	    error != X509_V_ERR_IP_ADDRESS_MISMATCH &&
	    error != X509_V_ERR_CERT_HAS_EXPIRED)
		hint = "the stack's trust module does not cover this: check"
		       " its ca_file (the inspecting proxy's root) and its"
		       " match patterns";
	ERR_clear_error();
	return ps_layer_fail(layer, PS_ERR_TLS_VERIFY, hint,
			     "certificate verify failed for %s: %s"
			     " (depth %d, subject %s, issuer %s)",
			     layer->target_host,
			     X509_verify_cert_error_string(error), vi->depth,
			     vi->subject[0] ? vi->subject : "?",
			     vi->issuer[0] ? vi->issuer : "?");
}

/* What a person can do about an OpenSSL error from the peer. */
static const char *tls_error_hint(const struct tls_state *ts,
				  unsigned long e)
{
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	if (reason && strstr(reason, "alert") &&
	    (strstr(reason, "certificate") || strstr(reason, "unknown ca")))
		return ts->proxy ? "the proxy refused our TLS client identity:"
				   " set client_cert_file and client_key_file"
				   " in its [transport] section to a"
				   " certificate it accepts"
				 : "the server wants a client certificate it"
				   " trusts: set client_cert_file and"
				   " client_key_file (or --cert and --key)";
	if (reason && strstr(reason, "alert"))
		return ts->proxy ? "the proxy refused the TLS session: see its"
				   " logs"
				 : "the server refused the TLS session: see its"
				   " logs";
	return ts->proxy ? "is the proxy speaking TLS on this port? an "
			   "http:// proxy needs module = http-connect"
			 : "is the destination speaking TLS on this port?";
}

/* The layer below failed (its error is kept) or closed. */
static int tls_fail_closed(ps_layer *layer, const struct tls_state *ts,
			   const char *what)
{
	if (!ts->proxy)
		ERR_clear_error();
	return ps_layer_fail(layer, PS_ERR_TLS,
			     ts->proxy ? "is the proxy speaking TLS "
					 "on this port? see its logs"
				       : "is the destination speaking"
					 " TLS on this port?",
			     "%s: connection closed by %s%s", what,
			     ts->proxy ? "proxy " : "", layer->target_host);
}

/* OpenSSL 3 saw the end of the stream before the peer's close_notify. */
static int tls_unexpected_eof(const struct tls_state *ts)
{
	unsigned long e = tls_own_error(ts);

	return e && ERR_GET_LIB(e) == ERR_LIB_SSL &&
	       ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

/*
 * A bare TCP close after the handshake: whatever came before it may be
 * only part of what the peer sent, so it is an error, never the end of
 * the stream (RFC 8446 6.1).  During the handshake it is a plain close.
 */
static int tls_fail_truncated(ps_layer *layer, const struct tls_state *ts,
			      const char *what)
{
	if (!ts->handshake_done)
		return tls_fail_closed(layer, ts, what);
	if (!ts->proxy)
		ERR_clear_error();
	return ps_layer_fail(layer, PS_ERR_TLS,
			     "the server (or something on the way) ended the"
			     " TCP connection without ending TLS: check the"
			     " answer's own framing, or the server's logs",
			     "%s: the peer %s closed without close_notify"
			     " (the answer may be truncated)", what,
			     layer->target_host);
}

/* Map an SSL result; 'what' names the operation. */
static int tls_result(ps_layer *layer, struct tls_state *ts, int ret,
		      const char *what)
{
	int err = tls_ssl_error(ts, ret);

	switch (err) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		/* The layer below recorded what to wait for. */
		return PS_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return PS_OK;
	case SSL_ERROR_SSL:
		if (tls_unexpected_eof(ts))
			return tls_fail_truncated(layer, ts, what);
		/* With insecure_tls the chain's result is recorded but was
		 * not the failure. */
		if (!tls_insecure(layer, ts) &&
		    (ts->verify.error ||
		     SSL_get_verify_result(ts->ssl) != X509_V_OK))
			return tls_fail_verify(layer, ts);
		return tls_fail_ssl(layer, ts, PS_ERR_TLS,
				    tls_error_hint(ts, tls_own_error(ts)),
				    what);
	default:
		return tls_fail_closed(layer, ts, what);
	}
}

/* check's detail: protocol, cipher, ALPN, and what it was verified by. */
static void tls_set_detail(ps_layer *layer, const struct tls_state *ts)
{
	const unsigned char *alpn = NULL;
	unsigned alpn_len = 0;

	SSL_get0_alpn_selected(ts->ssl, &alpn, &alpn_len);
	if (ts->proxy) {
		ps_layer_set_detail(layer, "%s %s alpn %.*s %s%s",
				    ts->proxy->who, SSL_get_version(ts->ssl),
				    alpn_len ? (int)alpn_len : 4,
				    alpn_len ? (const char *)alpn : "none",
				    ts->proxy->insecure ? "NOT verified, "
							  "insecure_tls"
							: "verified against ",
				    ts->proxy->insecure ? ""
							: ts->proxy->trust);
		return;
	}
	ps_layer_set_detail(layer, "%s %s%s%.*s%s", SSL_get_version(ts->ssl),
			    SSL_get_cipher_name(ts->ssl),
			    alpn_len ? " alpn " : "", (int)alpn_len,
			    alpn ? (const char *)alpn : "",
			    layer->conn->opt.insecure ? " (NOT verified)"
						      : " verified");
}

static int tls_connect(ps_layer *layer, void *state)
{
	struct tls_state *ts = state;
	int ret, rc = PS_OK;

	tls_enter(ts, layer);
	ret = SSL_connect(ts->ssl);
	if (ret != 1) {
		rc = tls_result(layer, ts, ret, "TLS handshake");
		if (rc == PS_OK)
			rc = ps_layer_fail(layer, PS_ERR_TLS, NULL,
					   "TLS handshake: peer closed");
		/* A proxy hop's context is its instance's, not the cache's. */
		if (rc != PS_AGAIN && !ts->proxy)
			tls_cache_evict(layer->conn->snap->tls_cache,
					SSL_get_SSL_CTX(ts->ssl));
	} else {
		ts->handshake_done = 1;
		tls_set_detail(layer, ts);
	}
	tls_leave(ts);
	return rc;
}

/*
 * A write failed below (the peer reset the connection).  In TLS 1.3 a
 * server refuses our certificate, or the lack of one, only after our
 * handshake is done: its alert may be waiting unread.  Peek for it, and
 * if there is one, it is the cause to report, not the reset.
 */
static void tls_blame_peer_alert(ps_layer *layer, struct tls_state *ts)
{
	unsigned long e;
	char byte, reason[200];
	size_t n;
	int ret;

	if (!ts->proxy)
		ERR_clear_error();
	ret = SSL_peek_ex(ts->ssl, &byte, 1, &n);
	if (ret == 1 || tls_ssl_error(ts, ret) != SSL_ERROR_SSL)
		goto out;
	e = tls_own_error(ts);
	if (!e)
		goto out;
	ERR_error_string_n(e, reason, sizeof(reason));
	err_set(tls_layer_error(layer), PS_ERR_TLS, layer->name, layer->hop,
		tls_error_hint(ts, e), "%s%s refused the TLS session: %s",
		ts->proxy ? "proxy " : "", layer->target_host, reason);
out:
	if (!ts->proxy)
		ERR_clear_error();
}

static int tls_send(ps_layer *layer, void *state, const void *buf,
		    size_t len, size_t *n)
{
	struct tls_state *ts = state;
	int ret;

	tls_enter(ts, layer);
	ret = SSL_write_ex(ts->ssl, buf, len, n);
	if (ret == 1) {
		ret = PS_OK;
	} else {
		if (tls_ssl_error(ts, ret) == SSL_ERROR_SYSCALL &&
		    tls_layer_error(layer)->code != PS_OK)
			tls_blame_peer_alert(layer, ts);
		ret = tls_result(layer, ts, ret, "TLS write");
		if (ret == PS_OK)
			ret = ps_layer_fail(layer, PS_ERR_IO, NULL,
					    "TLS write after close");
	}
	tls_leave(ts);
	return ret;
}

static int tls_recv(ps_layer *layer, void *state, void *buf, size_t len,
		    size_t *n)
{
	struct tls_state *ts = state;
	int ret;

	tls_enter(ts, layer);
	ret = SSL_read_ex(ts->ssl, buf, len, n);
	if (ret == 1) {
		ret = PS_OK;
	} else {
		*n = 0;
		ret = tls_result(layer, ts, ret, "TLS read");
	}
	tls_leave(ts);
	return ret;
}

static int tls_shutdown_write(ps_layer *layer, void *state)
{
	struct tls_state *ts = state;
	int ret;

	tls_enter(ts, layer);
	ret = SSL_shutdown(ts->ssl);
	ret = ret < 0 ? tls_result(layer, ts, ret, "TLS close_notify") : PS_OK;
	tls_leave(ts);
	/*
	 * close_notify is the end of our stream.  The transport stays open:
	 * proxies such as squid tear a whole tunnel down on a half-close,
	 * which would lose the answer still on its way.
	 */
	return ret;
}

/* PS_QUERY_ALPN: what the peer chose, for the layer above. */
static int tls_query(ps_layer *layer, void *state, int what, void *out,
		     size_t size)
{
	struct tls_state *ts = state;
	const unsigned char *alpn = NULL;
	unsigned alpn_len = 0;

	(void)layer;
	if (what != PS_QUERY_ALPN || !ts->ssl || !SSL_is_init_finished(ts->ssl))
		return PS_ERR_UNSUPPORTED;
	SSL_get0_alpn_selected(ts->ssl, &alpn, &alpn_len);
	if (alpn_len >= size)
		return PS_ERR_UNSUPPORTED;
	memcpy(out, alpn_len ? (const void *)alpn : "", alpn_len);
	((char *)out)[alpn_len] = '\0';
	return PS_OK;
}

static void tls_close(ps_layer *layer, void *state)
{
	struct tls_state *ts = state;

	(void)layer;
	if (!ts)
		return;
	tls_enter(ts, layer);
	/* A proxy hop's TLS that carried a tunnel: one try at close_notify
	 * (the destination's TLS says goodbye through shutdown_write). */
	if (ts->proxy && ts->ssl && SSL_is_init_finished(ts->ssl) &&
	    !(SSL_get_shutdown(ts->ssl) & SSL_SENT_SHUTDOWN) &&
	    tls_layer_error(layer)->code == PS_OK)
		SSL_shutdown(ts->ssl);
	SSL_free(ts->ssl);
	tls_leave(ts);
	free(ts);
}

const struct ps_module_ops tls_layer_ops = {
	.open = tls_open,
	.connect = tls_connect,
	.send = tls_send,
	.recv = tls_recv,
	.shutdown_write = tls_shutdown_write,
	.close = tls_close,
	.query = tls_query,
};
