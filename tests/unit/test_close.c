/* Unit tests for ws_close: code classification over the whole 16-bit
 * range, payload build/parse round trips and their error cases. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_close.h"
#include "ws_error.h"
#include "ws_utf8.h"

#include "req.h"

/* The rule written out as a list, independently of the code under test:
 * registered 1000-1003 and 1007-1014, private 3000-4999. */
static bool rule(unsigned c)
{
	static const unsigned registered[] = {1000, 1001, 1002, 1003, 1007, 1008,
	                                      1009, 1010, 1011, 1012, 1013, 1014};

	for (size_t i = 0; i < sizeof(registered) / sizeof(registered[0]); i++)
		if (c == registered[i])
			return true;
	return c >= 3000 && c < 5000;
}

START_TEST(test_every_code_classified)
{
	for (unsigned c = 0; c <= 65535; c++)
		REQ_MSG(ws_close_code_valid_on_wire(c) == rule(c), "code %u", c);
	/* spot checks of the edges the rule names */
	REQ(!ws_close_code_valid_on_wire(999));
	REQ(ws_close_code_valid_on_wire(1000));
	REQ(ws_close_code_valid_on_wire(1003));
	REQ(!ws_close_code_valid_on_wire(1004));
	REQ(!ws_close_code_valid_on_wire(1005));
	REQ(!ws_close_code_valid_on_wire(1006));
	REQ(ws_close_code_valid_on_wire(1007));
	REQ(ws_close_code_valid_on_wire(1014));
	REQ(!ws_close_code_valid_on_wire(1015));
	REQ(!ws_close_code_valid_on_wire(1016));
	REQ(!ws_close_code_valid_on_wire(2999));
	REQ(ws_close_code_valid_on_wire(3000));
	REQ(ws_close_code_valid_on_wire(4999));
	REQ(!ws_close_code_valid_on_wire(5000));
	REQ(!ws_close_code_valid_on_wire(70000));
}
END_TEST

/* Every valid code survives build then parse; every invalid one is
 * built as 1002; and a received payload with an invalid code fails. */
START_TEST(test_round_trip_every_code)
{
	uint8_t out[125];

	for (unsigned c = 1; c <= 65535; c++) {
		uint16_t code;
		const uint8_t *reason;
		size_t rlen;
		size_t n = ws_close_payload_build(out, c, "bye", 3);
		uint8_t wire[5] = {(uint8_t)(c >> 8), (uint8_t)c, 'b', 'y', 'e'};

		REQ_UINT_EQ(n, 5);
		REQ_INT_EQ(ws_close_payload_parse(out, n, &code, &reason, &rlen), WS_OK);
		REQ_UINT_EQ(code, rule(c) ? c : 1002);
		REQ_UINT_EQ(rlen, 3);
		REQ(memcmp(reason, "bye", 3) == 0);

		REQ_INT_EQ(ws_close_payload_parse(wire, 5, &code, &reason, &rlen),
		           rule(c) ? WS_OK : WS_ERR_PROTO_CLOSE_CODE);
		REQ_UINT_EQ(code, c);
	}
}
END_TEST

START_TEST(test_build_known_bytes)
{
	uint8_t out[125];
	size_t n;

	n = ws_close_payload_build(out, 1000, NULL, 0);
	REQ_UINT_EQ(n, 2);
	REQ_UINT_EQ(out[0], 0x03);
	REQ_UINT_EQ(out[1], 0xE8);

	n = ws_close_payload_build(out, 4999, "ab", 2);
	REQ_UINT_EQ(n, 4);
	REQ(memcmp(out,
	           "\x13\x87"
	           "ab",
	           4) == 0);

	/* invalid codes become 1002 (0x03EA) */
	n = ws_close_payload_build(out, 1005, NULL, 0);
	REQ_UINT_EQ(n, 2);
	REQ(memcmp(out, "\x03\xEA", 2) == 0);
	n = ws_close_payload_build(out, 1006, "x", 1);
	REQ_UINT_EQ(n, 3);
	REQ(memcmp(out, "\x03\xEAx", 3) == 0);
	n = ws_close_payload_build(out, 70000, NULL, 0);
	REQ_UINT_EQ(n, 2);
	REQ(memcmp(out, "\x03\xEA", 2) == 0);

	/* code 0: no status, empty payload, reason ignored */
	REQ_UINT_EQ(ws_close_payload_build(out, 0, "ignored", 7), 0);

	/* empty reason given as non-NULL */
	REQ_UINT_EQ(ws_close_payload_build(out, 1001, "", 0), 2);
}
END_TEST

START_TEST(test_parse_cases)
{
	uint16_t code = 1;
	const uint8_t *reason = (const uint8_t *)"junk";
	size_t rlen = 99;
	static const uint8_t one[1] = {0x03};
	static const uint8_t two[2] = {0x03, 0xE8};
	static const uint8_t bad_utf8[4] = {0x03, 0xE8, 0xC0, 0x80};
	static const uint8_t trunc_utf8[4] = {0x03, 0xE8, 0xE2, 0x82};
	static const uint8_t surrogate[5] = {0x0B, 0xB8, 0xED, 0xA0, 0x80};
	static const uint8_t ok_utf8[5] = {0x0F, 0xA0, 0xE2, 0x82, 0xAC};

	/* empty: 1005, no reason */
	REQ_INT_EQ(ws_close_payload_parse(two, 0, &code, &reason, &rlen), WS_OK);
	REQ_UINT_EQ(code, 1005);
	REQ_NULL(reason);
	REQ_UINT_EQ(rlen, 0);

	REQ_INT_EQ(ws_close_payload_parse(one, 1, &code, &reason, &rlen), WS_ERR_PROTO_CLOSE_LEN);

	REQ_INT_EQ(ws_close_payload_parse(two, 2, &code, &reason, &rlen), WS_OK);
	REQ_UINT_EQ(code, 1000);
	REQ_UINT_EQ(rlen, 0);

	REQ_INT_EQ(ws_close_payload_parse(bad_utf8, 4, &code, &reason, &rlen), WS_ERR_PROTO_UTF8);
	REQ_INT_EQ(ws_close_payload_parse(trunc_utf8, 4, &code, &reason, &rlen), WS_ERR_PROTO_UTF8);
	REQ_INT_EQ(ws_close_payload_parse(surrogate, 5, &code, &reason, &rlen), WS_ERR_PROTO_UTF8);

	REQ_INT_EQ(ws_close_payload_parse(ok_utf8, 5, &code, &reason, &rlen), WS_OK);
	REQ_UINT_EQ(code, 4000);
	REQ_UINT_EQ(rlen, 3);
	REQ_PTR_EQ(reason, ok_utf8 + 2);

	/* the code is checked before the reason */
	{
		static const uint8_t both[4] = {0x03, 0xED, 0xFF, 0xFF};
		REQ_INT_EQ(ws_close_payload_parse(both, 4, &code, &reason, &rlen),
		           WS_ERR_PROTO_CLOSE_CODE);
		REQ_UINT_EQ(code, 1005);
	}
}
END_TEST

/* A reason of 3-byte characters longer than 123 bytes is cut to at most
 * 123 bytes, on a code-point boundary, and still parses. */
START_TEST(test_reason_truncation)
{
	uint8_t out[125];
	char reason[300];
	uint16_t code;
	const uint8_t *r;
	size_t rlen;

	for (size_t shift = 0; shift < 4; shift++) {
		size_t n = 0, built;
		/* shift ASCII bytes first, so the 123-byte mark falls at every
		 * position inside a 3-byte character */
		for (size_t i = 0; i < shift; i++)
			reason[n++] = 'a';
		while (n + 3 <= sizeof(reason)) {
			memcpy(reason + n, "\xE2\x82\xAC", 3);
			n += 3;
		}
		built = ws_close_payload_build(out, 1000, reason, n);
		REQ_UINT_LE(built, 125);
		REQ_UINT_GE(built, 125 - 2);
		REQ_INT_EQ(ws_close_payload_parse(out, built, &code, &r, &rlen), WS_OK);
		REQ_UINT_EQ(code, 1000);
		REQ_UINT_LE(rlen, WS_CLOSE_REASON_MAX);
		REQ(memcmp(r, reason, rlen) == 0);
		/* on a boundary: the kept prefix ends where a character ends */
		REQ_UINT_EQ((rlen - shift) % 3, 0);
		REQ_UINT_EQ(rlen, shift + (WS_CLOSE_REASON_MAX - shift) / 3 * 3);
	}

	/* 4-byte characters: 123 = 30 * 4 + 3, so 120 bytes are kept */
	{
		size_t n = 0, built;
		while (n + 4 <= sizeof(reason)) {
			memcpy(reason + n, "\xF0\x9D\x84\x9E", 4);
			n += 4;
		}
		built = ws_close_payload_build(out, 3000, reason, n);
		REQ_UINT_EQ(built, 2 + 120);
		REQ(ws_utf8_valid(out + 2, 120));
	}

	/* exactly 123 ASCII bytes are kept whole, 124 are cut to 123 */
	memset(reason, 'z', sizeof(reason));
	REQ_UINT_EQ(ws_close_payload_build(out, 1000, reason, 123), 125);
	REQ_UINT_EQ(ws_close_payload_build(out, 1000, reason, 124), 125);
	REQ_UINT_EQ(ws_close_payload_build(out, 1000, reason, 122), 124);
}
END_TEST

/* A reason that is not valid UTF-8 is dropped: the peer would fail the
 * connection with 1007 on it. */
START_TEST(test_invalid_reason_dropped)
{
	uint8_t out[125];
	char big[200];

	REQ_UINT_EQ(ws_close_payload_build(out, 1000, "\xC0\x80", 2), 2);
	REQ_UINT_EQ(ws_close_payload_build(out, 1000, "ab\xED\xA0\x80", 5), 2);
	REQ_UINT_EQ(ws_close_payload_build(out, 1000, "abc\xE2\x82", 5), 2);
	/* invalid past the cut point still drops the whole reason */
	memset(big, 'a', sizeof(big));
	big[150] = (char)0xFF;
	REQ_UINT_EQ(ws_close_payload_build(out, 1000, big, sizeof(big)), 2);
	REQ(memcmp(out, "\x03\xE8", 2) == 0);
}
END_TEST

static Suite *close_suite(void)
{
	Suite *s = suite_create("ws_close");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_every_code_classified);
	tcase_add_test(tc, test_round_trip_every_code);
	tcase_add_test(tc, test_build_known_bytes);
	tcase_add_test(tc, test_parse_cases);
	tcase_add_test(tc, test_reason_truncation);
	tcase_add_test(tc, test_invalid_reason_dropped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(close_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
