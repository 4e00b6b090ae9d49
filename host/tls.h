/*
 * tls.h - the host's TLS layer (internal): end-to-end TLS to the
 * destination, and TLS to a proxy hop that asked for it.
 *
 * The tls layer runs OpenSSL over the layer below through a custom BIO,
 * so the same code serves TLS over TCP, inside a CONNECT tunnel, and
 * inside another TLS session (an HTTPS proxy).  Destination trust: the
 * connection's ca_file, else [global] ca_file, else the system store;
 * plus what the stack's trust modules add.  A proxy hop's trust is its
 * section's (tls_proxy.h, the layer's instance).  Verification is on
 * unless insecure_tls.
 */
#ifndef HOST_TLS_H
#define HOST_TLS_H

/*
 * OpenSSL's global set-up (configuration, providers) and ours, done by
 * ps_ctx_new() so that a context's first connection does not pay for
 * them.  Failure is not reported here: the first TLS layer retries our
 * part and fails with PS_ERR_NOMEM if it still cannot.
 */
void tls_warm_up(void);

#endif
