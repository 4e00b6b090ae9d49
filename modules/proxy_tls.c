/*
 * proxy_tls.c - the socket BIO and error-queue discipline of the
 * https-proxy module (see proxy_tls.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "proxy_tls.h"

/*
 * "Try again" and failures return -1, not 0: OpenSSL's alert path
 * (ssl3_dispatch_alert, taken when SSL_shutdown is retried) treats
 * anything but -1 from BIO_write as written, so a close_notify that met
 * a full socket would be reported sent and never flushed.  For a
 * write_ex method BIO_write passes our value on unchanged.
 */

/* A BIO's data. */
struct proxy_tls_socket {
	int fd;
	int eof; /* recv() returned 0 */
};

static int proxy_tls_bio_write(BIO *bio, const char *data, size_t len,
			       size_t *written)
{
	struct proxy_tls_socket *sock = BIO_get_data(bio);
	ssize_t n;

	BIO_clear_retry_flags(bio);
	do {
		n = send(sock->fd, data, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n >= 0) {
		*written = (size_t)n;
		return 1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		BIO_set_retry_write(bio);
	return -1;
}

static int proxy_tls_bio_read(BIO *bio, char *data, size_t len,
			      size_t *nread)
{
	struct proxy_tls_socket *sock = BIO_get_data(bio);
	ssize_t n;

	BIO_clear_retry_flags(bio);
	do {
		n = recv(sock->fd, data, len, 0);
	} while (n < 0 && errno == EINTR);
	if (n > 0) {
		*nread = (size_t)n;
		return 1;
	}
	if (n == 0) {
		sock->eof = 1;
		return 0; /* end of stream */
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		BIO_set_retry_read(bio);
	return -1;
}

static long proxy_tls_bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	struct proxy_tls_socket *sock = BIO_get_data(bio);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return sock && sock->eof;
	default:
		return 0;
	}
}

static int proxy_tls_bio_create(BIO *bio)
{
	BIO_set_init(bio, 1);
	return 1;
}

static int proxy_tls_bio_destroy(BIO *bio)
{
	free(BIO_get_data(bio));
	BIO_set_data(bio, NULL);
	return 1;
}

BIO_METHOD *proxy_tls_bio_method(void)
{
	int type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
	BIO_METHOD *m = BIO_meth_new(type, "proxystack https-proxy socket");

	if (!m)
		return NULL;
	BIO_meth_set_write_ex(m, proxy_tls_bio_write);
	BIO_meth_set_read_ex(m, proxy_tls_bio_read);
	BIO_meth_set_ctrl(m, proxy_tls_bio_ctrl);
	BIO_meth_set_create(m, proxy_tls_bio_create);
	BIO_meth_set_destroy(m, proxy_tls_bio_destroy);
	return m;
}

BIO *proxy_tls_bio_new(BIO_METHOD *method, int fd)
{
	struct proxy_tls_socket *sock = calloc(1, sizeof(*sock));
	BIO *bio;

	if (!sock)
		return NULL;
	bio = BIO_new(method);
	if (!bio) {
		free(sock);
		return NULL;
	}
	sock->fd = fd;
	BIO_set_data(bio, sock);
	return bio;
}

void proxy_tls_errors_mark(struct proxy_tls_errors *e)
{
	e->last_before = ERR_peek_last_error();
	/* Fails (and marks nothing) on an empty queue: the release then
	 * empties it, which removes exactly ours. */
	ERR_set_mark();
}

const char *proxy_tls_errors_reason(const struct proxy_tls_errors *e,
				    const char *fallback, char *buf,
				    size_t size)
{
	unsigned long last = ERR_peek_last_error();

	if (last == 0 || last == e->last_before)
		return fallback;
	ERR_error_string_n(last, buf, size);
	return buf;
}

void proxy_tls_errors_release(struct proxy_tls_errors *e)
{
	(void)e;
	ERR_pop_to_mark();
}

int proxy_tls_result(const SSL *ssl, int ret,
		     const struct proxy_tls_errors *e)
{
	unsigned long last;

	if (ret > 0)
		return SSL_ERROR_NONE;
	if (SSL_want_read(ssl) && BIO_should_read(SSL_get_rbio(ssl)))
		return SSL_ERROR_WANT_READ;
	if (SSL_want_write(ssl) && BIO_should_write(SSL_get_wbio(ssl)))
		return SSL_ERROR_WANT_WRITE;
	/* Before the shutdown flag: a fatal alert from the peer sets it
	 * too, and queues the error that says which alert. */
	last = ERR_peek_last_error();
	if (last != 0 && last != e->last_before)
		return SSL_ERROR_SSL;
	if (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN)
		return SSL_ERROR_ZERO_RETURN;
	return SSL_ERROR_SYSCALL; /* errno, or a bare end of stream */
}
