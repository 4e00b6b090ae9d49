/*
 * tls_files.h - TLS files checked before any connection, and the OpenSSL
 * error reading shared with the TLS layer (internal).
 * ps_tls_check_files() itself is public (proxystack.h).
 */
#ifndef HOST_TLS_FILES_H
#define HOST_TLS_FILES_H

/* 1 when OpenSSL error 'e' is an allocation failure, however wrapped. */
int tls_oom_error(unsigned long e);

/*
 * OpenSSL's passphrase callback that refuses: a key is never prompted
 * for on the terminal while loading (an encrypted key is an error).
 */
int tls_no_passphrase(char *buf, int size, int rwflag, void *user);

#endif
