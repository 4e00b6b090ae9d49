/*
 * proxy_tls.h - OpenSSL on the https-proxy module's own socket, shared by
 * its TLS handshake and HTTP/1.1 tunnel (https-proxy.c) and its HTTP/2
 * sessions (h2_tunnel.c).
 *
 * Two things a layer that runs OpenSSL under another OpenSSL layer must
 * get right:
 *
 *   The socket BIO.  Writes use send(MSG_NOSIGNAL): the agent's process
 *   may not ignore SIGPIPE.  End of stream is reported as BIO_eof, so
 *   SSL_OP_IGNORE_UNEXPECTED_EOF turns a bare TCP close into an orderly
 *   end, as over TCP.
 *
 *   The thread's error queue.  The destination's TLS runs above us and
 *   may be in the middle of failing (a certificate that does not verify)
 *   while it writes its alert through us: the errors it queued are its
 *   report and must survive our calls.  So we never clear the queue:
 *   proxy_tls_errors_mark() before our calls, proxy_tls_errors_release()
 *   after them removes only what we added, and proxy_tls_result()
 *   classifies a result without being misled by older entries.
 */
#ifndef MODULES_PROXY_TLS_H
#define MODULES_PROXY_TLS_H

#include <stddef.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

/* The socket BIO's method, once per module instance; BIO_meth_free. */
BIO_METHOD *proxy_tls_bio_method(void);

/* A BIO on 'fd' (not closed with the BIO); NULL when out of memory. */
BIO *proxy_tls_bio_new(BIO_METHOD *method, int fd);

/* Where our errors start in the thread's queue. */
struct proxy_tls_errors {
	unsigned long last_before; /* newest entry before ours, 0: none */
};

void proxy_tls_errors_mark(struct proxy_tls_errors *e);

/*
 * Text for the newest error we added ("error:0A000086:SSL routines::
 * certificate verify failed"), or 'fallback' when we added none.
 */
const char *proxy_tls_errors_reason(const struct proxy_tls_errors *e,
				    const char *fallback, char *buf,
				    size_t size);

/* Remove the errors added since the mark, and only them. */
void proxy_tls_errors_release(struct proxy_tls_errors *e);

/*
 * SSL_get_error() for our own 'ssl' after a call made since mark 'e':
 * WANT_READ and WANT_WRITE from the BIO's retry flags, SSL_ERROR_SSL
 * only when we queued an error (a fatal alert included), ZERO_RETURN on
 * the peer's close_notify (or a bare end of stream, with
 * SSL_OP_IGNORE_UNEXPECTED_EOF), else SSL_ERROR_SYSCALL: errors another
 * layer queued are never taken for ours.
 */
int proxy_tls_result(const SSL *ssl, int ret,
		     const struct proxy_tls_errors *e);

#endif
