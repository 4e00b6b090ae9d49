/*
 * tls_files.h - TLS files checked before any connection, and the OpenSSL
 * error reading shared with the TLS layer (internal).
 * ps_tls_check_files() itself is public (proxystack.h).
 */
#ifndef HOST_TLS_FILES_H
#define HOST_TLS_FILES_H

#include <stddef.h>
#include <openssl/ssl.h>

/* 1 when OpenSSL error 'e' is an allocation failure, however wrapped. */
int tls_oom_error(unsigned long e);

/*
 * OpenSSL's passphrase callback that refuses: a key is never prompted
 * for on the terminal while loading (an encrypted key is an error).
 */
int tls_no_passphrase(char *buf, int size, int rwflag, void *user);

/*
 * Load one file into 'ctx' as a connection would (a CA bundle, a
 * certificate chain, a private key): PS_OK, PS_ERR_NOMEM, or
 * PS_ERR_CONFIG with why[whysz] saying why in a person's words ("no
 * certificate found in F", the OS's reason for an unreadable file).
 * The file is opened without blocking and must be a regular file.
 * Used by ps_tls_check_files() and the proxy hops' TLS (tls_proxy.c).
 */
enum tls_file_kind { TLS_FILE_CA, TLS_FILE_CERT, TLS_FILE_KEY };

int tls_load_one(SSL_CTX *ctx, enum tls_file_kind kind, const char *path,
		 char *why, size_t whysz);

#endif
