/* gw_tls: server TLS contexts (see gw_tls.h). */
#include "gw_tls.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

/* TLS 1.2 suites: ECDHE only (forward secrecy), AEAD only. */
static const char cipher_list[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/* ALPN lists in wire format (length-prefixed), server preference first. */
static const unsigned char alpn_h2_h1[] = "\x02h2\x08http/1.1";
static const unsigned char alpn_h1[] = "\x08http/1.1";

/* The SSL_CTX ex_data slot would be overkill for one bit: the preference
 * list is passed as the callback argument instead. */
struct alpn_pref {
	const unsigned char *list; /* wire-format list */
	unsigned int len;          /* its length */
};

static const struct alpn_pref pref_h2 = {alpn_h2_h1, sizeof(alpn_h2_h1) - 1};
static const struct alpn_pref pref_h1 = {alpn_h1, sizeof(alpn_h1) - 1};

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
	const struct alpn_pref *p = arg;
	unsigned char *sel = NULL;
	/* SSL_select_next_proto walks our list in order, so our preference
	 * wins; when nothing overlaps we go on without ALPN (HTTP/1.1)
	 * rather than failing the handshake of an older client. */
	if (SSL_select_next_proto(&sel, outlen, p->list, p->len, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static void ssl_error(char *err, size_t errlen, const char *what, const char *file)
{
	char buf[256] = "";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	snprintf(err, errlen, "%s %s: %s", what, file ? file : "", buf[0] ? buf : "failed");
}

SSL_CTX *gw_tls_ctx_new(const char *cert, const char *key, bool offer_h2, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		ssl_error(err, errlen, "SSL_CTX_new", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE |
	                             SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
	/* Idle connections are the common case for WebSockets: let OpenSSL
	 * drop its 2x16 KiB record buffers between reads.  Never
	 * SSL_MODE_ENABLE_PARTIAL_WRITE: libevent 2.1's bufferevent_openssl
	 * goes on to the next output chunk after a short SSL_write and
	 * drains the sum, so a partial write reorders the byte stream. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_set_cipher_list(ctx, cipher_list) != 1) {
		ssl_error(err, errlen, "cipher list", NULL);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_error(err, errlen, "tls_certificate", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ssl_error(err, errlen, "tls_key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_error(err, errlen, "tls_key does not match tls_certificate", key);
		goto fail;
	}
	const struct alpn_pref *p = (offer_h2 && GW_TLS_HAVE_H2) ? &pref_h2 : &pref_h1;
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, (void *)p);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void gw_tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

bool gw_tls_selected_h2(const SSL *ssl)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;
	SSL_get0_alpn_selected(ssl, &p, &n);
	return n == 2 && memcmp(p, "h2", 2) == 0;
}
