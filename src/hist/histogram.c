/*
 * histogram.c - HDR-style log-linear latency histogram (recording and queries).
 *
 * Design, after HdrHistogram: to keep `sigfigs` significant decimal digits, the
 * first bucket counts 0 .. sub_count-1 units one by one, where sub_count is the
 * smallest power of two >= 2 * 10^sigfigs (so a sub-bucket's width is at most
 * 10^-sigfigs of the values it holds). Each following bucket covers the next
 * power-of-two range with the same number of sub-buckets, twice as wide; since
 * its lower half would duplicate the previous bucket, only the upper half is
 * stored, and counts[] is one flat array of (bucket_count + 1) * sub_count / 2
 * int64_t. A value's index comes from its leading-zero count (the bucket) and a
 * shift (the sub-bucket): no loop, no floating point, no branch beyond the
 * range check, so recording costs a few nanoseconds and cannot fail except on
 * out-of-range values, which are counted, not crashed on.
 *
 * Everything reported is a bucket bound (HdrHistogram's "equivalent values"),
 * so figures derived from the same data agree across tools. Percentile
 * iteration and the .hgrm writer reproduce HdrHistogram's (Java) percentile
 * distribution output (see hist_output.c).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hist/hist_internal.h"

/* Smallest m with 2^m >= 2 * 10^sigfigs: sub-buckets needed for the precision. */
static int32_t hist_sub_count_mag(int sigfigs)
{
	int64_t need = 2;
	int32_t m = 0;

	for (int i = 0; i < sigfigs; i++)
		need *= 10;
	while ((INT64_C(1) << m) < need)
		m++;
	return m;
}

/* Power-of-two buckets needed so that @highest has an index. */
static int32_t hist_buckets_needed(int64_t highest, int32_t sub_count, int32_t unit_mag)
{
	int64_t untrackable = (int64_t)sub_count << unit_mag;
	int32_t n = 1;

	/* highest <= INT64_MAX / 2, so the doubling below cannot overflow */
	while (untrackable <= highest) {
		untrackable <<= 1;
		n++;
	}
	return n;
}

int shmbus_hist_create(int64_t lowest, int64_t highest, int sigfigs, struct shmbus_hist **out)
{
	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (lowest < 1 || sigfigs < SHMBUS_HIST_SIGFIGS_MIN || sigfigs > SHMBUS_HIST_SIGFIGS_MAX ||
	    highest > SHMBUS_HIST_HIGHEST_MAX || lowest > highest / 2)
		return -EINVAL;

	int32_t sub_mag = hist_sub_count_mag(sigfigs);
	int32_t sub_half_mag = (sub_mag > 1 ? sub_mag : 1) - 1;
	int32_t unit_mag = 63 - __builtin_clzll((uint64_t)lowest);
	if (unit_mag + sub_half_mag > 61)
		return -EINVAL; /* the first bucket alone would not fit in int64_t */

	int32_t sub_count = INT32_C(1) << (sub_half_mag + 1);
	int32_t buckets = hist_buckets_needed(highest, sub_count, unit_mag);
	int32_t counts_len = (buckets + 1) * (sub_count / 2);

	struct shmbus_hist *h = calloc(1, sizeof(*h) + (size_t)counts_len * sizeof(h->counts[0]));
	if (h == NULL)
		return -ENOMEM;
	h->lowest = lowest;
	h->highest = highest;
	h->sigfigs = sigfigs;
	h->unit_mag = unit_mag;
	h->sub_half_mag = sub_half_mag;
	h->sub_count = sub_count;
	h->sub_half = sub_count / 2;
	h->bucket_count = buckets;
	h->counts_len = counts_len;
	h->sub_mask = (int64_t)(sub_count - 1) << unit_mag;
	h->min_nonzero = INT64_MAX;
	*out = h;
	return 0;
}

void shmbus_hist_destroy(struct shmbus_hist *h)
{
	free(h);
}

void shmbus_hist_reset(struct shmbus_hist *h)
{
	if (h == NULL)
		return;
	memset(h->counts, 0, (size_t)h->counts_len * sizeof(h->counts[0]));
	h->total = 0;
	h->min_nonzero = INT64_MAX;
	h->max_value = 0;
	h->rejected = 0;
}

static inline void hist_note_min_max(struct shmbus_hist *h, int64_t v)
{
	if (v > h->max_value)
		h->max_value = v;
	if (v != 0 && v < h->min_nonzero)
		h->min_nonzero = v;
}

/* Count @n (>= 0) more rejected values. The rejected count saturates: record_n
 * and merge may bring counts up to INT64_MAX. Returns false, for the callers. */
static inline bool hist_reject(struct shmbus_hist *h, int64_t n)
{
	h->rejected = n > INT64_MAX - h->rejected ? INT64_MAX : h->rejected + n;
	return false;
}

/* Record @n (>= 0) at @v; counts @v as rejected @n times when out of range or
 * when the total cannot hold @n more. */
static inline bool hist_add(struct shmbus_hist *h, int64_t v, int64_t n)
{
	if (__builtin_expect(v < 0 || v > h->highest || n > INT64_MAX - h->total, 0))
		return hist_reject(h, n);
	int32_t i = hist_index_of(h, v);
	if (__builtin_expect((uint32_t)i >= (uint32_t)h->counts_len, 0)) {
		h->rejected += n; /* cannot happen for v <= highest; kept as a guard */
		return false;
	}
	h->counts[i] += n;
	h->total += n;
	hist_note_min_max(h, v);
	return true;
}

bool shmbus_hist_record(struct shmbus_hist *h, int64_t v)
{
	if (h == NULL)
		return false;
	return hist_add(h, v, 1);
}

bool shmbus_hist_record_n(struct shmbus_hist *h, int64_t v, int64_t n)
{
	if (h == NULL || n < 0)
		return false;
	if (n == 0)
		return true;
	/* Out of range, @n counts as rejected whatever the total; in range, a
	 * total that cannot hold @n refuses it uncounted (hist_add would count). */
	if (v >= 0 && v <= h->highest && n > INT64_MAX - h->total)
		return false;
	return hist_add(h, v, n);
}

/*
 * The missing samples v - k*interval (k >= 1, while >= interval) form an
 * arithmetic progression; instead of recording them one by one (v / interval
 * calls: 3.6e12 for a 1-hour stall at 1 ns), count how many land in each
 * bucket, walking down from the largest. Low buckets are one unit wide, so the
 * walk visits at most min(terms, counts_len) buckets.
 */
static bool hist_add_progression(struct shmbus_hist *h, int64_t v, int64_t n, int64_t interval)
{
	int64_t terms = v / interval - 1; /* k = 1 .. v/interval - 1 keeps v - k*i >= i */
	int64_t added;

	if (terms <= 0)
		return true;
	if (__builtin_mul_overflow(terms, n, &added) || added > INT64_MAX - h->total)
		return false;

	int64_t m = v - interval; /* largest missing sample, < v <= highest */
	while (m >= interval) {
		int32_t i = hist_index_of(h, m);
		int64_t floor_v = hist_value_at_index(h, i);
		if (floor_v < interval)
			floor_v = interval;
		int64_t in_bucket = (m - floor_v) / interval + 1;
		h->counts[i] += in_bucket * n;
		m -= in_bucket * interval;
	}
	h->total += added;
	hist_note_min_max(h, m + interval); /* the smallest sample recorded */
	return true;
}

bool shmbus_hist_record_corrected(struct shmbus_hist *h, int64_t v, int64_t expected_interval)
{
	if (h == NULL)
		return false;
	/* All or nothing: when the total cannot hold @v and its missing samples,
	 * @v is refused as record refuses it on a full total, before anything is
	 * recorded (it was recorded, then the call said false). */
	int64_t terms =
	    expected_interval > 0 && v > expected_interval ? v / expected_interval - 1 : 0;
	if (terms > INT64_MAX - 1 - h->total)
		return hist_reject(h, 1);
	if (!hist_add(h, v, 1))
		return false;
	if (expected_interval <= 0 || v <= expected_interval)
		return true;
	return hist_add_progression(h, v, 1, expected_interval);
}

static bool hist_same_layout(const struct shmbus_hist *a, const struct shmbus_hist *b)
{
	return a->unit_mag == b->unit_mag && a->sub_half_mag == b->sub_half_mag &&
	       a->counts_len == b->counts_len && a->highest == b->highest;
}

int shmbus_hist_merge(struct shmbus_hist *dst, const struct shmbus_hist *src)
{
	int64_t dropped = 0;

	if (dst == NULL || src == NULL || dst == src)
		return -EINVAL;
	/* a sum past INT64_MAX goes bucket by bucket, dropping what does not fit */
	if (hist_same_layout(dst, src) && src->total <= INT64_MAX - dst->total) {
		/* same bucket bounds: add counts index by index, keep exact min/max */
		for (int32_t i = 0; i < src->counts_len; i++)
			dst->counts[i] += src->counts[i];
		dst->total += src->total;
		if (src->total > 0) {
			if (src->max_value > dst->max_value)
				dst->max_value = src->max_value;
			if (src->min_nonzero < dst->min_nonzero)
				dst->min_nonzero = src->min_nonzero;
		}
	} else {
		for (int32_t i = 0; i < src->counts_len; i++) {
			int64_t c = src->counts[i];
			if (c != 0 && !hist_add(dst, hist_value_at_index(src, i), c))
				dropped += c; /* hist_add counted them in dst->rejected */
		}
	}
	/* saturate as hist_add does: both counts may already be near INT64_MAX */
	dst->rejected =
	    src->rejected > INT64_MAX - dst->rejected ? INT64_MAX : dst->rejected + src->rejected;
	return dropped > INT_MAX ? INT_MAX : (int)dropped;
}

/* Index of the first bucket where the cumulative count reaches @rank (>= 1). */
static int32_t hist_index_at_rank(const struct shmbus_hist *h, int64_t rank)
{
	int64_t cum = 0;

	for (int32_t i = 0; i < h->counts_len; i++) {
		cum += h->counts[i];
		if (cum >= rank)
			return i;
	}
	return -1;
}

int64_t shmbus_hist_value_at_percentile(const struct shmbus_hist *h, double p)
{
	if (h == NULL || isnan(p) || p < 0.0 || p > 100.0)
		return -EINVAL;
	if (h->total == 0)
		return 0;

	/* (double)total may round up to 2^63: converting that is undefined (and
	 * gives INT64_MIN on x86), so the top rank is taken from total itself. */
	double want = p / 100.0 * (double)h->total + 0.5;
	int64_t rank = want < (double)h->total ? (int64_t)want : h->total;
	if (rank < 1)
		rank = 1;
	if (rank > h->total)
		rank = h->total;
	int32_t i = hist_index_at_rank(h, rank);
	if (i < 0)
		return 0; /* counts disagree with total: only if misused concurrently */
	return p == 0.0 ? hist_value_at_index(h, i) : hist_highest_at_index(h, i);
}

int64_t shmbus_hist_min(const struct shmbus_hist *h)
{
	if (h == NULL || h->total == 0 || h->counts[0] > 0)
		return 0;
	if (h->min_nonzero == INT64_MAX)
		return 0;
	return hist_value_at_index(h, hist_index_of(h, h->min_nonzero));
}

int64_t shmbus_hist_max(const struct shmbus_hist *h)
{
	if (h == NULL || h->max_value == 0)
		return 0;
	return hist_highest_at_index(h, hist_index_of(h, h->max_value));
}

double shmbus_hist_mean(const struct shmbus_hist *h)
{
	double sum = 0.0;

	if (h == NULL || h->total == 0)
		return 0.0;
	for (int32_t i = 0; i < h->counts_len; i++) {
		if (h->counts[i] != 0)
			sum += (double)hist_median_at_index(h, i) * (double)h->counts[i];
	}
	return sum / (double)h->total;
}

double shmbus_hist_stddev(const struct shmbus_hist *h)
{
	double dev_sum = 0.0;

	if (h == NULL || h->total == 0)
		return 0.0;
	double mean = shmbus_hist_mean(h);
	for (int32_t i = 0; i < h->counts_len; i++) {
		if (h->counts[i] != 0) {
			double d = (double)hist_median_at_index(h, i) - mean;
			dev_sum += d * d * (double)h->counts[i];
		}
	}
	return sqrt(dev_sum / (double)h->total);
}

int64_t shmbus_hist_total_count(const struct shmbus_hist *h)
{
	return h == NULL ? 0 : h->total;
}

int64_t shmbus_hist_rejected(const struct shmbus_hist *h)
{
	return h == NULL ? 0 : h->rejected;
}

static bool hist_in_range(const struct shmbus_hist *h, int64_t v)
{
	return h != NULL && v >= 0 && v <= h->highest;
}

int64_t shmbus_hist_count_at(const struct shmbus_hist *h, int64_t v)
{
	return hist_in_range(h, v) ? h->counts[hist_index_of(h, v)] : 0;
}

bool shmbus_hist_values_equivalent(const struct shmbus_hist *h, int64_t a, int64_t b)
{
	if (h == NULL)
		return false;
	return shmbus_hist_lowest_equivalent(h, a) == shmbus_hist_lowest_equivalent(h, b);
}

/* Equivalence is pure arithmetic on the value, so it is also defined above
 * highest (the top bucket usually extends past it): clear the bits below the
 * sub-bucket width. */
int64_t shmbus_hist_lowest_equivalent(const struct shmbus_hist *h, int64_t v)
{
	if (h == NULL || v < 0)
		return v;
	int32_t shift = hist_width_shift(h, v);
	return (v >> shift) << shift;
}

int64_t shmbus_hist_highest_equivalent(const struct shmbus_hist *h, int64_t v)
{
	if (h == NULL || v < 0)
		return v;
	int32_t shift = hist_width_shift(h, v);
	return ((v >> shift) << shift) + ((INT64_C(1) << shift) - 1);
}

int64_t shmbus_hist_lowest(const struct shmbus_hist *h)
{
	return h == NULL ? 0 : h->lowest;
}

int64_t shmbus_hist_highest(const struct shmbus_hist *h)
{
	return h == NULL ? 0 : h->highest;
}

int shmbus_hist_sigfigs(const struct shmbus_hist *h)
{
	return h == NULL ? 0 : h->sigfigs;
}

int32_t shmbus_hist_bucket_count(const struct shmbus_hist *h)
{
	return h == NULL ? 0 : h->bucket_count;
}

int32_t shmbus_hist_sub_bucket_count(const struct shmbus_hist *h)
{
	return h == NULL ? 0 : h->sub_count;
}

int32_t shmbus_hist_counts_len(const struct shmbus_hist *h)
{
	return h == NULL ? 0 : h->counts_len;
}

/* ---- iteration over recorded buckets ---- */

int shmbus_hist_iter_init(struct shmbus_hist_iter *it, const struct shmbus_hist *h)
{
	if (it == NULL || h == NULL)
		return -EINVAL;
	it->h = h;
	it->index = -1;
	it->cumulative = 0;
	it->total = h->total;
	return 0;
}

bool shmbus_hist_iter_next(struct shmbus_hist_iter *it, struct shmbus_hist_bucket *out)
{
	if (it == NULL || out == NULL || it->h == NULL)
		return false;
	const struct shmbus_hist *h = it->h;
	/* stop once every counted value was seen: skips the empty tail */
	while (it->cumulative < it->total && ++it->index < h->counts_len) {
		int64_t c = h->counts[it->index];
		if (c == 0)
			continue;
		it->cumulative += c;
		out->value_lo = hist_value_at_index(h, it->index);
		out->value_hi = hist_highest_at_index(h, it->index);
		out->count = c;
		out->cumulative = it->cumulative;
		return true;
	}
	return false;
}

/* ---- percentile iteration (HdrHistogram's PercentileIterator) ---- */

int shmbus_hist_pct_iter_init(struct shmbus_hist_pct_iter *it, const struct shmbus_hist *h,
                              int ticks_per_half_distance)
{
	if (it == NULL || h == NULL || ticks_per_half_distance < 1)
		return -EINVAL;
	memset(it, 0, sizeof(*it));
	it->h = h;
	it->ticks_per_half = ticks_per_half_distance;
	it->fresh = true;
	it->total = h->total;
	it->level = 0.0;
	return 0;
}

/*
 * Next level: the distance to 100% is cut in halves, each walked in
 * ticks_per_half equal steps, so steps shrink as the level nears 100%. The
 * expression mirrors HdrHistogram's so that rows land on the same levels.
 */
static void hist_pct_advance(struct shmbus_hist_pct_iter *it)
{
	double left = 100.0 - it->level;

	if (!(left > 0.0)) {
		it->level = 100.0;
		return;
	}
	double halvings = floor(log(100.0 / left) / log(2.0)) + 1.0;
	if (halvings > 1000.0)
		halvings = 1000.0; /* level == 100 - tiny: keep ldexp finite */
	double ticks = (double)it->ticks_per_half * ldexp(1.0, (int)halvings);
	double next = it->level + 100.0 / ticks;
	/* Within a few ulps of 100% the step rounds away: move on by one ulp at
	 * least, or a bucket just short of 100% would be reported forever. */
	it->level = next > it->level ? next : nextafter(it->level, 100.0);
}

static void hist_pct_fill(const struct shmbus_hist_pct_iter *it, struct shmbus_hist_pct_step *out)
{
	out->percentile = it->level;
	out->value = hist_highest_at_index(it->h, it->index);
	out->count = it->h->counts[it->index];
	out->cumulative = it->cumulative;
}

bool shmbus_hist_pct_iter_next(struct shmbus_hist_pct_iter *it, struct shmbus_hist_pct_step *out)
{
	if (it == NULL || out == NULL || it->h == NULL || it->total <= 0)
		return false;
	const struct shmbus_hist *h = it->h;

	if (it->cumulative >= it->total) {
		/* every value counted: one last step, at exactly 100% */
		if (it->done_last || it->index >= h->counts_len)
			return false;
		it->done_last = true;
		it->level = 100.0;
		hist_pct_fill(it, out);
		return true;
	}
	while (it->index < h->counts_len) {
		int64_t c = h->counts[it->index];
		if (it->fresh) {
			it->cumulative += c;
			it->fresh = false;
		}
		/* A share a hair below 100% reads as 100.0 in a double: level 100 is
		 * reached only once every value is counted, and then it is the last. */
		if (c != 0 && 100.0 * (double)it->cumulative / (double)it->total >= it->level &&
		    (it->level < 100.0 || it->cumulative >= it->total)) {
			hist_pct_fill(it, out);
			it->done_last = it->level >= 100.0;
			hist_pct_advance(it);
			return true;
		}
		it->index++;
		it->fresh = true;
	}
	return false;
}
