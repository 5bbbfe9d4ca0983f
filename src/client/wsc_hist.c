/* wsc_hist: log-bucket latency histogram. */
#include "wsc_hist.h"

#include <string.h>

void wsc_hist_init(struct wsc_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned wsc_hist_bucket(uint64_t v)
{
	unsigned msb, sub;

	if (v < 64)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	if (msb >= WSC_HIST_MAX_BITS)
		return WSC_HIST_BUCKETS - 1;
	/* The 5 bits after the leading one pick the sub-bucket. */
	sub = (unsigned)(v >> (msb - WSC_HIST_SUB_BITS)) & ((1u << WSC_HIST_SUB_BITS) - 1);
	return 64 + (msb - 6) * 32 + sub;
}

uint64_t wsc_hist_bucket_high(unsigned i)
{
	unsigned msb, sub;

	if (i < 64)
		return i;
	if (i >= WSC_HIST_BUCKETS - 1)
		return UINT64_MAX;
	msb = (i - 64) / 32 + 6;
	sub = (i - 64) % 32;
	return ((uint64_t)(32 + sub + 1) << (msb - WSC_HIST_SUB_BITS)) - 1;
}

void wsc_hist_record(struct wsc_hist *h, uint64_t v)
{
	h->buckets[wsc_hist_bucket(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void wsc_hist_merge(struct wsc_hist *dst, const struct wsc_hist *src)
{
	for (unsigned i = 0; i < WSC_HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t wsc_hist_quantile(const struct wsc_hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->count == 0)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	/* The smallest value with at least q of all values at or below it. */
	rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < WSC_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t hi = wsc_hist_bucket_high(i);
			return hi < h->max ? hi : h->max;
		}
	}
	return h->max;
}
