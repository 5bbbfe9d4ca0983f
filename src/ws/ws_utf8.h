/* ws_utf8: strict streaming UTF-8 validation (RFC 3629).
 *
 * Rejects overlong forms, surrogates (U+D800..U+DFFF) and code points
 * above U+10FFFF.  Input may be split anywhere: the state carries a
 * partial sequence across calls, so fragments are validated where they
 * lie, without copying.  Validation fails at the first byte that cannot
 * start or continue a valid sequence (fail-fast), not at the end.
 */
#ifndef WS_UTF8_H
#define WS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ws_utf8 {
	uint32_t state; /* 0 = at a code-point boundary; otherwise mid-sequence */
};

/* Start a new validation (a new message). */
void ws_utf8_init(struct ws_utf8 *u);

/* Validate n more bytes.  Returns WS_OK, or WS_ERR_PROTO_UTF8 from the
 * very call that holds the first byte no valid text can continue with
 * (e.g. E0 80, ED A0, F4 90, C0, F5..FF, a stray continuation, a lead
 * byte inside a sequence); after an error the state is sticky until
 * ws_utf8_init. */
int ws_utf8_feed(struct ws_utf8 *u, const uint8_t *p, size_t n);

/* End of stream: WS_OK when at a code-point boundary, else
 * WS_ERR_PROTO_UTF8 (truncated sequence). */
int ws_utf8_finish(const struct ws_utf8 *u);

/* Whole-buffer check: true when p[0..n) is complete, valid UTF-8. */
bool ws_utf8_valid(const uint8_t *p, size_t n);

/* Largest length <= max that ends on a code-point boundary of the valid
 * UTF-8 text p[0..n) (used to cut close reasons); n when n <= max. */
size_t ws_utf8_cut(const uint8_t *p, size_t n, size_t max);

#endif
