/* SPDX-License-Identifier: ISC */
/*
 * window - counting over a sliding time window in constant memory.
 *
 * A window counter keeps two fixed buckets (the current span and the one
 * before) and estimates the count over the last span by weighting the
 * previous bucket with the part of it still inside the window. The error is
 * bounded by the previous bucket's count and the estimate never exceeds
 * cur + prev, which is what rate limits and failure thresholds need: exact
 * at the edges that matter, O(1) per event, and the same arithmetic works on
 * a shared store (two keys per counter).
 *
 * A recent set remembers up to WINDOW_SET_MAX distinct 64-bit members with
 * the time each was last seen: how many accounts one address failed on, how
 * many addresses failed at all. Past its capacity the oldest member goes.
 *
 * SECURITY: pure; no allocation. Times are seconds, supplied by the caller.
 */
#ifndef POSTERN_WINDOW_H
#define POSTERN_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct window {
	uint64_t start; /* of the current bucket, a multiple of span */
	uint32_t cur, prev;
};

/* window_add - add n at time now (seconds) to a window of span seconds
 * (span > 0) and return the estimated count over the last span. */
uint32_t window_add(struct window *w, uint64_t now, uint64_t span, uint32_t n);
/* window_count - the estimate without adding. */
uint32_t window_count(const struct window *w, uint64_t now, uint64_t span);
/* window_idle - nothing was counted in the last 2 spans (it may be freed). */
bool window_idle(const struct window *w, uint64_t now, uint64_t span);
/* window_estimate - the count over the last span seconds from the two
 * buckets: prev (the whole previous bucket) weighted by the part of it still
 * inside the window, rounded up, plus cur; into is how far now is into the
 * current bucket (0 .. span-1). The one formula for every backend (memory
 * and shared stores), so that they agree to the unit. */
uint32_t window_estimate(uint32_t prev, uint32_t cur, uint64_t into, uint64_t span);

#define WINDOW_SET_MAX 32

struct recent {
	uint64_t member[WINDOW_SET_MAX];
	uint64_t seen[WINDOW_SET_MAX];
	size_t n;
};

/* recent_add - remember member at now; returns how many distinct members
 * were seen within span seconds (counting this one), at most cap (cap <=
 * WINDOW_SET_MAX: a threshold needs no more). */
size_t recent_add(struct recent *r, uint64_t member, uint64_t now, uint64_t span, size_t cap);
/* recent_has - member was seen within span. */
bool recent_has(const struct recent *r, uint64_t member, uint64_t now, uint64_t span);

#endif
