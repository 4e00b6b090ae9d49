/*
 * tls_files.c - TLS files (CA, certificate, key) checked as a connection
 * would load them, before any connection: ps_tls_check_files() for the
 * configuration and the command line, and the OpenSSL error reading the
 * TLS layer shares.  Below the snapshot and the chain: it knows files and
 * OpenSSL, nothing of layers.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "tls_files.h"

int tls_oom_error(unsigned long e)
{
	return ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE ||
	       (ERR_SYSTEM_ERROR(e) && ERR_GET_REASON(e) == ENOMEM);
}

/*
 * Why 'path' cannot even be read, in the OS's words, or PS_OK when it
 * can: OpenSSL would only say "system lib" for these.  Opened without
 * blocking and required to be a regular file, so that a FIFO or a
 * device named by mistake cannot hang the load.
 */
static int tls_file_unreadable(const char *path, char *why, size_t whysz)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int saved, regular;

	if (fd < 0) {
		saved = errno;
		snprintf(why, whysz, "%s: %s", path, strerror(saved));
		return saved == ENOMEM ? PS_ERR_NOMEM : PS_ERR_CONFIG;
	}
	regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	close(fd);
	if (!regular) {
		snprintf(why, whysz, "%s: not a regular file", path);
		return PS_ERR_CONFIG;
	}
	return PS_OK;
}

/*
 * OpenSSL refused a readable file: say what it lacks ("no certificate
 * found in FILE") rather than "no start line", or give OpenSSL's reason.
 */
static int tls_file_unparsed(const char *path, const char *wanted, int errno_,
			     char *why, size_t whysz)
{
	unsigned long e, first = 0;
	int oom = errno_ == ENOMEM, nothing_found = 0, encrypted = 0;

	while ((e = ERR_get_error())) {
		if (!first)
			first = e;
		oom |= tls_oom_error(e);
		nothing_found |=
			(ERR_GET_LIB(e) == ERR_LIB_PEM &&
			 ERR_GET_REASON(e) == PEM_R_NO_START_LINE) ||
			(ERR_GET_LIB(e) == ERR_LIB_X509 &&
			 ERR_GET_REASON(e) == X509_R_NO_CERTIFICATE_OR_CRL_FOUND) ||
			(ERR_GET_LIB(e) == ERR_LIB_OSSL_DECODER &&
			 ERR_GET_REASON(e) == ERR_R_UNSUPPORTED);
		encrypted |= ERR_GET_REASON(e) == ERR_R_INTERRUPTED_OR_CANCELLED;
	}
	if (oom)
		return PS_ERR_NOMEM;
	/* The first error is the cause; later ones only say "PEM lib". */
	if (encrypted)
		snprintf(why, whysz, "%s: the %s is encrypted, and nothing can"
			 " ask for its passphrase: decrypt it", path, wanted);
	else if (nothing_found || !first || !ERR_reason_error_string(first))
		snprintf(why, whysz, "no %s found in %s", wanted, path);
	else
		snprintf(why, whysz, "%s: not a usable PEM %s (%s)", path,
			 wanted, ERR_reason_error_string(first));
	return PS_ERR_CONFIG;
}

/* Never prompt on the terminal for a key's passphrase while loading. */
int tls_no_passphrase(char *buf, int size, int rwflag, void *user)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)user;
	return -1;
}

static int tls_check_fail(ps_error *err, int rc, const char *setting,
			  const char *hint, const char *why)
{
	if (rc == PS_ERR_NOMEM)
		return err_nomem(err);
	return err_set(err, rc, setting, -1, hint, "%s", why);
}

/* Load one file into 'ctx' as a connection would; PS_OK or why not. */
int tls_load_one(SSL_CTX *ctx, enum tls_file_kind kind,
			const char *path, char *why, size_t whysz)
{
	static const char *const wanted[] = {
		"certificate", "certificate", "private key",
	};
	int rc = tls_file_unreadable(path, why, whysz), ok;

	if (rc != PS_OK)
		return rc;
	errno = 0;
	if (kind == TLS_FILE_CA)
		ok = SSL_CTX_load_verify_file(ctx, path);
	else if (kind == TLS_FILE_CERT)
		ok = SSL_CTX_use_certificate_chain_file(ctx, path);
	else
		ok = SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM);
	if (ok == 1)
		return PS_OK;
	return tls_file_unparsed(path, wanted[kind], errno, why, whysz);
}

int ps_tls_check_files(const char *ca_file, const char *client_cert_file,
		       const char *client_key_file, ps_error *err)
{
	static const char *const settings[] = {
		"ca_file", "client_cert_file", "client_key_file",
	};
	const char *paths[] = { ca_file, client_cert_file, client_key_file };
	const char *hint = "point it at a readable PEM file";
	char why[PS_ERROR_MESSAGE_MAX];
	int rc = PS_OK;
	size_t i;
	SSL_CTX *ctx;

	ps_error_clear(err);
	if (!ca_file && !client_cert_file && !client_key_file)
		return PS_OK;
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ERR_clear_error();
		return err_nomem(err);
	}
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
	for (i = 0; rc == PS_OK && i < 3; i++)
		if (paths[i])
			rc = tls_load_one(ctx, (enum tls_file_kind)i, paths[i],
					  why, sizeof(why));
	SSL_CTX_free(ctx);
	ERR_clear_error();
	if (rc == PS_OK)
		return PS_OK;
	/* A key that does not match the loaded certificate is refused
	 * by OpenSSL as "key values mismatch": name the pair plainly. */
	if (rc == PS_ERR_CONFIG && i == 3 && client_cert_file &&
	    strstr(why, "values mismatch")) {
		hint = "give the key that belongs to the certificate";
		snprintf(why, sizeof(why), "%s does not match the certificate"
			 " in %s", client_key_file, client_cert_file);
	}
	return tls_check_fail(err, rc, settings[i - 1], hint, why);
}

