/* wsc_hist: a fixed-size log-bucket histogram for latencies.
 *
 * Like an HDR histogram with 5 significant bits: values below 64 are
 * exact, above that each power of two is split into 32 buckets, so a
 * recorded value is known to within 1/32 (about 3 %).  Values up to
 * 2^40 are kept (in µs, 12 days); larger ones go to the last bucket.
 * Memory is fixed (no sample arrays), recording is O(1), and
 * histograms merge by adding counts.
 */
#ifndef WSC_HIST_H
#define WSC_HIST_H

#include <stdint.h>

/* Sub-buckets per power of two (2^WSC_HIST_SUB_BITS). */
#define WSC_HIST_SUB_BITS 5
/* Largest power of two tracked. */
#define WSC_HIST_MAX_BITS 40
/* Bucket count: 64 exact values, 32 per power of two from 2^6, one overflow. */
#define WSC_HIST_BUCKETS (64 + (WSC_HIST_MAX_BITS - 6) * 32 + 1)

struct wsc_hist {
	uint64_t count;                     /* values recorded */
	uint64_t sum;                       /* their sum (for the mean) */
	uint64_t min;                       /* smallest value, UINT64_MAX when empty */
	uint64_t max;                       /* largest value, exact */
	uint64_t buckets[WSC_HIST_BUCKETS]; /* counts per bucket */
};

/* Empty h. */
void wsc_hist_init(struct wsc_hist *h);

/* Record one value. */
void wsc_hist_record(struct wsc_hist *h, uint64_t v);

/* Add the counts of src into dst. */
void wsc_hist_merge(struct wsc_hist *dst, const struct wsc_hist *src);

/* The value at quantile q (0..1): the upper end of the bucket holding
 * the q-th value, never above max; 0 when empty. */
uint64_t wsc_hist_quantile(const struct wsc_hist *h, double q);

/* The bucket index of v, and the largest value of bucket i (for tests). */
unsigned wsc_hist_bucket(uint64_t v);
uint64_t wsc_hist_bucket_high(unsigned i);

#endif
