/* gw_tls: OpenSSL 3 server contexts for TLS listeners.
 *
 * One SSL_CTX per TLS listener: TLS 1.2 and 1.3 only, forward-secret
 * AEAD cipher suites for 1.2 (OpenSSL's 1.3 defaults), no compression,
 * no renegotiation, buffers released while idle.  ALPN offers, in the
 * server's order of preference, "h2" (only when the listener enables
 * HTTP/2 and the daemon was built with HTTP/2 support, GW_TLS_HAVE_H2)
 * and "http/1.1"; a client that offers neither still gets HTTP/1.1.
 *
 * Certificate reload on SIGHUP builds a fresh context; a connection
 * keeps the context it was accepted with (SSL_new holds a reference),
 * so swapping never disturbs live sessions.
 */
#ifndef GW_TLS_H
#define GW_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* 1: gw_conn serves h2 (gw_h2), so a TLS listener with http2 = on offers
 * it in ALPN.  Build with -DGW_TLS_HAVE_H2=0 to never offer it. */
#ifndef GW_TLS_HAVE_H2
#define GW_TLS_HAVE_H2 1
#endif

/* Build a server context from a PEM certificate chain and key.  offer_h2
 * adds "h2" to ALPN (ignored unless GW_TLS_HAVE_H2).  Returns the
 * context, or NULL with err holding "cert: reason" (unreadable file,
 * key not matching the certificate, OpenSSL failure). */
SSL_CTX *gw_tls_ctx_new(const char *cert, const char *key, bool offer_h2, char *err, size_t errlen);

/* Release a context (connections still holding it keep it alive). */
void gw_tls_ctx_free(SSL_CTX *ctx);

/* True when the handshake on ssl selected ALPN "h2". */
bool gw_tls_selected_h2(const SSL *ssl);

#endif
