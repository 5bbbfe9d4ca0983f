/* req.h: cheap assertions for Check suites with hot loops. */
#ifndef TEST_REQ_H
#define TEST_REQ_H

#include <check.h>
#include <stdint.h>

/* Check's ck_assert_* record a mark point (a write to the parent
 * process) on every success, which dominates loops of millions of
 * checks; these fail exactly the same way but cost nothing on success. */
#define REQ(e)                                                                                     \
	do {                                                                                       \
		if (!(e))                                                                          \
			ck_abort_msg("Assertion '%s' failed", #e);                                 \
	} while (0)
#define REQ_MSG(e, ...)                                                                            \
	do {                                                                                       \
		if (!(e))                                                                          \
			ck_abort_msg(__VA_ARGS__);                                                 \
	} while (0)
#define REQ_INT(x, op, y)                                                                          \
	do {                                                                                       \
		intmax_t x_ = (x), y_ = (y);                                                       \
		if (!(x_ op y_))                                                                   \
			ck_abort_msg("Assertion '%s %s %s' failed: %jd, %jd", #x, #op, #y, x_,     \
			             y_);                                                          \
	} while (0)
#define REQ_UINT(x, op, y)                                                                         \
	do {                                                                                       \
		uintmax_t x_ = (x), y_ = (y);                                                      \
		if (!(x_ op y_))                                                                   \
			ck_abort_msg("Assertion '%s %s %s' failed: %ju, %ju", #x, #op, #y, x_,     \
			             y_);                                                          \
	} while (0)
#define REQ_INT_EQ(x, y)  REQ_INT(x, ==, y)
#define REQ_INT_LE(x, y)  REQ_INT(x, <=, y)
#define REQ_UINT_EQ(x, y) REQ_UINT(x, ==, y)
#define REQ_UINT_LE(x, y) REQ_UINT(x, <=, y)
#define REQ_UINT_GE(x, y) REQ_UINT(x, >=, y)
#define REQ_UINT_GT(x, y) REQ_UINT(x, >, y)
#define REQ_PTR_EQ(x, y)  REQ((const void *)(x) == (const void *)(y))
#define REQ_NULL(x)       REQ((x) == NULL)
#define REQ_NONNULL(x)    REQ((x) != NULL)

#endif
