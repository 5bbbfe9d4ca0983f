/* ws_deflate: permessage-deflate (RFC 7692): negotiation and codec.
 *
 * Negotiation: the server walks the client's offers in order and accepts
 * the first one it can honour; offers with unknown, duplicate,
 * malformed or out-of-range parameters are declined.  The response
 * echoes server_no_context_takeover, client_no_context_takeover,
 * server_max_window_bits and client_max_window_bits as RFC 7692 §7.1
 * requires.  zlib cannot produce a raw deflate stream with an 8-bit
 * window, so a request for 8 is answered with 9 where the RFC allows it
 * (client_max_window_bits) and declined where it does not.
 *
 * Codec: messages are compressed with a sync flush and the trailing
 * 00 00 FF FF removed; on receipt it is appended back.  Inflated output
 * is bounded: a caller-supplied budget (the remaining max message size)
 * stops a bomb with WS_ERR_PROTO_MESSAGE_TOO_BIG before it allocates
 * anything beyond a fixed output chunk.
 */
#ifndef WS_DEFLATE_H
#define WS_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_frame.h"

/* What an endpoint is willing to do (server policy or client offer). */
struct ws_deflate_config {
	uint8_t server_max_window_bits;  /* 9..15: largest server window we allow/ask */
	uint8_t client_max_window_bits;  /* 9..15: largest client window we allow/ask */
	bool server_no_context_takeover; /* server: always ask for it; client: offer it */
	bool client_no_context_takeover; /* server: always ask for it; client: offer it */
	int level;                       /* zlib level 0..9 (default 1: fast) */
	int mem_level;                   /* zlib memLevel 1..9 (default 8) */
};

/* What was agreed for one connection. */
struct ws_deflate_params {
	uint8_t server_max_window_bits;  /* 9..15, window the server deflates with */
	uint8_t client_max_window_bits;  /* 9..15, window the client deflates with */
	bool server_no_context_takeover; /* server resets its compressor per message */
	bool client_no_context_takeover; /* client resets its compressor per message */
};

/* Fill c with defaults: windows 15, context takeover allowed, level 1,
 * memLevel 8. */
void ws_deflate_config_default(struct ws_deflate_config *c);

/* Longest Sec-WebSocket-Extensions value libws builds. */
#define WS_DEFLATE_EXT_MAX 128

/* Server side.  values[i]/lens[i] are the Sec-WebSocket-Extensions header
 * values in the order received (the header may be repeated; each value
 * is a comma-separated list of offers).  Other extensions are skipped.
 * On acceptance fills *out and writes the response extension value
 * (NUL-terminated) into response[WS_DEFLATE_EXT_MAX].  Returns WS_OK or
 * WS_ERR_DEFLATE_DECLINED (no acceptable offer: go on without deflate);
 * WS_ERR_HS_MALFORMED when the header itself cannot be parsed. */
int ws_deflate_negotiate(const char *const *values, const size_t *lens, size_t n,
                         const struct ws_deflate_config *cfg, struct ws_deflate_params *out,
                         char response[WS_DEFLATE_EXT_MAX]);

/* Client side: build the offer for cfg into out[WS_DEFLATE_EXT_MAX];
 * returns its length. */
size_t ws_deflate_offer(const struct ws_deflate_config *cfg, char out[WS_DEFLATE_EXT_MAX]);

/* Client side: check the server's response value against what cfg
 * offered and fill *out.  Returns WS_OK, WS_ERR_DEFLATE_PARAMS or
 * WS_ERR_HS_UNSOLICITED (a parameter we cannot accept). */
int ws_deflate_accept_response(const char *value, size_t len, const struct ws_deflate_config *cfg,
                               struct ws_deflate_params *out);

/* Codec state of one connection: a deflater for what we send and an
 * inflater for what we receive, each created on first use so that an
 * idle session costs nothing. */
struct ws_deflate;

/* Output sink: receives chunks of (de)compressed bytes.  Returns 0 to go
 * on, WS_ERR_AGAIN to pause inflation after this chunk (the chunk itself
 * was taken), or another negative error to abort. */
typedef int (*ws_deflate_sink)(void *ctx, const uint8_t *p, size_t n);

/* Create codec state for role with the agreed params; level and
 * mem_level come from cfg (NULL = defaults).  Returns WS_OK or
 * WS_ERR_NOMEM. */
int ws_deflate_new(struct ws_deflate **out, enum ws_role role,
                   const struct ws_deflate_params *params, const struct ws_deflate_config *cfg);

void ws_deflate_free(struct ws_deflate *d);

/* Compress one piece of an outgoing message.  With final set, flushes,
 * strips the 00 00 FF FF tail and resets the context when our side has
 * no_context_takeover.  Output goes to sink in chunks.  Returns WS_OK,
 * WS_ERR_NOMEM, WS_ERR_INTERNAL or the sink's error. */
int ws_deflate_compress(struct ws_deflate *d, const uint8_t *in, size_t n, bool final,
                        ws_deflate_sink sink, void *ctx);

/* Inflate a piece of a received compressed message.  final marks the
 * message's last piece (the 00 00 FF FF tail is appended then).
 * *budget is how many more inflated bytes the message may produce; it
 * is decreased, and passing it fails with WS_ERR_PROTO_MESSAGE_TOO_BIG.
 * *consumed says how much input was used: less than n only when the
 * sink paused (WS_ERR_AGAIN is returned then); call ws_deflate_inflate
 * again, with the rest or with n = 0 to drain output zlib still holds.
 * Returns WS_OK, WS_ERR_AGAIN, WS_ERR_PROTO_DEFLATE (corrupt data),
 * WS_ERR_PROTO_MESSAGE_TOO_BIG, WS_ERR_NOMEM or the sink's error. */
int ws_deflate_inflate(struct ws_deflate *d, const uint8_t *in, size_t n, bool final,
                       uint64_t *budget, size_t *consumed, ws_deflate_sink sink, void *ctx);

/* True when an inflate was paused with output still pending in zlib. */
bool ws_deflate_inflate_pending(const struct ws_deflate *d);

/* Bytes of zlib state currently allocated (for memory reports). */
size_t ws_deflate_memory(const struct ws_deflate *d);

#endif
