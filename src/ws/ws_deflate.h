/* ws_deflate: permessage-deflate (RFC 7692): negotiation and codec.
 *
 * Negotiation: the server walks the client's offers in order and accepts
 * the first one it can honour; offers with unknown, duplicate,
 * malformed or out-of-range parameters are declined.  The response
 * echoes server_no_context_takeover, client_no_context_takeover,
 * server_max_window_bits and client_max_window_bits as RFC 7692 §7.1
 * requires.  zlib refuses raw deflate streams with an 8-bit window:
 * an offer asking the server for server_max_window_bits=8 is declined;
 * a client that promises client_max_window_bits=8 is answered with 8 and
 * inflated with a 9-bit window (a larger window always inflates data
 * made with a smaller one); a client told 8 deflates with 9, which stays
 * within 8 because zlib never emits a distance above 2^bits - 262.
 *
 * Codec: every piece of a message is compressed with a sync flush (so
 * each fragment is decodable as soon as it arrives) and the final
 * piece's trailing 00 00 FF FF removed; on receipt it is appended back.
 * An empty message compresses to the single byte 00.  A peer that ends
 * its stream with a BFINAL block (RFC 7692 §7.2.3.5) is understood.
 * Inflated output is bounded: a caller-supplied budget (the remaining
 * max message size) stops a bomb with WS_ERR_PROTO_MESSAGE_TOO_BIG
 * before any byte beyond it reaches the sink, with nothing allocated
 * beyond zlib's state; output goes out in chunks of at most 16 KiB from
 * a buffer on the stack.  zlib state is created on first use and its
 * allocations are counted.  A peer that reaches back further than its
 * agreed window (under 15 bits) is caught only when the distance leaves
 * the current 16 KiB output chunk; a compliant peer never is.
 */
#ifndef WS_DEFLATE_H
#define WS_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_frame.h"

/* What an endpoint is willing to do (server policy or client offer). */
struct ws_deflate_config {
	uint8_t server_max_window_bits;  /* 9..15: largest server window we allow/ask (0 = 15) */
	uint8_t client_max_window_bits;  /* 9..15: ditto client; a client offer leaves the
	                                    parameter out when 0, else 15 offers it bare */
	bool server_no_context_takeover; /* server: always ask for it; client: offer it */
	bool client_no_context_takeover; /* server: always ask for it; client: offer it */
	int level;                       /* zlib level 0..9 (default 1: fast) */
	int mem_level;                   /* zlib memLevel 1..9 (default 8) */
};

/* What was agreed for one connection. */
struct ws_deflate_params {
	uint8_t server_max_window_bits;  /* 9..15, window the server deflates with */
	uint8_t client_max_window_bits;  /* 9..15, window the client deflates with (8 -> 9) */
	bool server_no_context_takeover; /* server resets its compressor per message */
	bool client_no_context_takeover; /* client resets its compressor per message */
};

/* Fill c with defaults: windows 15, context takeover allowed, level 1,
 * memLevel 8.  Window values outside 9..15 in a config are read as
 * 15 (0 or above 15) or 9 (1..8). */
void ws_deflate_config_default(struct ws_deflate_config *c);

/* Room for the longest Sec-WebSocket-Extensions value libws builds
 * (every parameter with a two-digit value: 128 characters) and its NUL. */
#define WS_DEFLATE_EXT_MAX 160

/* Server side.  values[i]/lens[i] are the Sec-WebSocket-Extensions header
 * values in the order received (the header may be repeated; each value
 * is a comma-separated list of offers).  Other extensions are skipped.
 * On acceptance fills *out and writes the response extension value
 * (NUL-terminated) into response[WS_DEFLATE_EXT_MAX].  Returns WS_OK or
 * WS_ERR_DEFLATE_DECLINED (no acceptable offer: go on without deflate);
 * WS_ERR_HS_MALFORMED when the header itself cannot be parsed (list or
 * parameter syntax, anywhere in any value, even after an acceptable
 * offer).  A NULL cfg means the defaults.  Parameter names and the
 * extension name are compared case-insensitively. */
int ws_deflate_negotiate(const char *const *values, const size_t *lens, size_t n,
                         const struct ws_deflate_config *cfg, struct ws_deflate_params *out,
                         char response[WS_DEFLATE_EXT_MAX]);

/* Client side: build the offer for cfg into out[WS_DEFLATE_EXT_MAX]
 * (NUL-terminated); returns its length.  Parameters appear only when
 * cfg asks for them, client_max_window_bits bare when it is 15. */
size_t ws_deflate_offer(const struct ws_deflate_config *cfg, char out[WS_DEFLATE_EXT_MAX]);

/* Client side: check the server's response value against what cfg
 * offered and fill *out.  Returns WS_OK, WS_ERR_DEFLATE_PARAMS (bad
 * syntax; an unknown, duplicate or out-of-range parameter; a bare
 * client_max_window_bits; or a server_no_context_takeover /
 * server_max_window_bits we asked for missing from the answer) or
 * WS_ERR_HS_UNSOLICITED (another extension, more than one, a window
 * above what we offered, client_max_window_bits we did not offer). */
int ws_deflate_accept_response(const char *value, size_t len, const struct ws_deflate_config *cfg,
                               struct ws_deflate_params *out);

/* Codec state of one connection: a deflater for what we send and an
 * inflater for what we receive, each created on first use so that an
 * idle session costs nothing. */
struct ws_deflate;

/* Output sink: receives chunks of (de)compressed bytes, never empty and
 * never over 16 KiB.  Returns 0 to go on, WS_ERR_AGAIN to pause
 * inflation after this chunk (the chunk itself was taken), or another
 * negative error to abort.  Compression cannot pause: there any nonzero
 * return aborts. */
typedef int (*ws_deflate_sink)(void *ctx, const uint8_t *p, size_t n);

/* Create codec state for role with the agreed params; level and
 * mem_level come from cfg (NULL = defaults).  Returns WS_OK or
 * WS_ERR_NOMEM. */
int ws_deflate_new(struct ws_deflate **out, enum ws_role role,
                   const struct ws_deflate_params *params, const struct ws_deflate_config *cfg);

void ws_deflate_free(struct ws_deflate *d);

/* Compress one piece of an outgoing message.  Every piece is
 * sync-flushed, so a non-final piece yields its complete output at once
 * (usually a few bytes or more; none for an empty piece right after a
 * flush); with final set the 00 00 FF FF tail is stripped (never
 * leaving an empty payload) and the context reset when our side has
 * no_context_takeover.  Output goes to sink in chunks.  Returns WS_OK,
 * WS_ERR_NOMEM, WS_ERR_INTERNAL or the sink's error; after a failure
 * the deflater is unusable (later calls fail). */
int ws_deflate_compress(struct ws_deflate *d, const uint8_t *in, size_t n, bool final,
                        ws_deflate_sink sink, void *ctx);

/* Inflate a piece of a received compressed message.  final marks the
 * message's last piece (the 00 00 FF FF tail is appended then).
 * *budget is how many more inflated bytes the message may produce; it
 * is decreased, and passing it fails with WS_ERR_PROTO_MESSAGE_TOO_BIG.
 * *consumed says how much input was used: less than n only when the
 * sink paused (WS_ERR_AGAIN is returned then); call ws_deflate_inflate
 * again, with the rest or with n = 0 to drain output zlib still holds.
 * A message must end with a call with final set that returns WS_OK;
 * a zero-length message payload is taken as an empty message.
 * Returns WS_OK, WS_ERR_AGAIN, WS_ERR_PROTO_DEFLATE (corrupt data, or a
 * message that does not end on a block boundary),
 * WS_ERR_PROTO_MESSAGE_TOO_BIG, WS_ERR_NOMEM or the sink's error; after
 * any error but WS_ERR_AGAIN the inflater is unusable. */
int ws_deflate_inflate(struct ws_deflate *d, const uint8_t *in, size_t n, bool final,
                       uint64_t *budget, size_t *consumed, ws_deflate_sink sink, void *ctx);

/* True when a paused inflate must be called again even with no new
 * input (n = 0, same final flag): zlib may hold output, or the final
 * piece was read but the message is not finished yet. */
bool ws_deflate_inflate_pending(const struct ws_deflate *d);

/* Bytes of zlib state currently allocated (for memory reports). */
size_t ws_deflate_memory(const struct ws_deflate *d);

#endif
