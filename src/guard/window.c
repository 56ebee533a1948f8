/* SPDX-License-Identifier: ISC */
/*
 * window - sliding-window counters and recent-member sets (see window.h).
 */
#include "guard/window.h"

static void
roll(struct window *w, uint64_t now, uint64_t span)
{
	uint64_t start = now - now % span;

	if (start == w->start)
		return;
	/* One bucket on: the current becomes the previous; more: both empty. */
	w->prev = start - w->start == span ? w->cur : 0;
	w->cur = 0;
	w->start = start;
}

uint32_t
window_estimate(uint32_t prev, uint32_t cur, uint64_t into, uint64_t span)
{
	uint64_t weighted, total;

	if (span == 0 || into >= span)
		return cur; /* the previous bucket is out of the window */
	weighted = ((uint64_t)prev * (span - into) + span - 1) / span;
	total = weighted + cur;
	return total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
}

static uint32_t
estimate(const struct window *w, uint64_t now, uint64_t span)
{
	return window_estimate(w->prev, w->cur, now - w->start, span);
}

uint32_t
window_add(struct window *w, uint64_t now, uint64_t span, uint32_t n)
{
	roll(w, now, span);
	w->cur = UINT32_MAX - w->cur < n ? UINT32_MAX : w->cur + n;
	return estimate(w, now, span);
}

uint32_t
window_count(const struct window *w, uint64_t now, uint64_t span)
{
	struct window t = *w;

	roll(&t, now, span);
	return estimate(&t, now, span);
}

bool
window_idle(const struct window *w, uint64_t now, uint64_t span)
{
	return window_count(w, now, span) == 0;
}

/* forget - drop members not seen within span. */
static void
forget(struct recent *r, uint64_t now, uint64_t span)
{
	size_t i = 0;

	while (i < r->n) {
		if (r->seen[i] + span <= now) {
			r->n--;
			r->member[i] = r->member[r->n];
			r->seen[i] = r->seen[r->n];
		} else {
			i++;
		}
	}
}

size_t
recent_add(struct recent *r, uint64_t member, uint64_t now, uint64_t span, size_t cap)
{
	size_t i, oldest = 0;

	if (cap == 0 || cap > WINDOW_SET_MAX)
		cap = WINDOW_SET_MAX;
	forget(r, now, span);
	for (i = 0; i < r->n; i++) {
		if (r->member[i] == member) {
			r->seen[i] = now;
			return r->n;
		}
		if (r->seen[i] < r->seen[oldest])
			oldest = i;
	}
	if (r->n < cap) {
		i = r->n++;
	} else {
		i = oldest;
	}
	r->member[i] = member;
	r->seen[i] = now;
	return r->n;
}

bool
recent_has(const struct recent *r, uint64_t member, uint64_t now, uint64_t span)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->member[i] == member && r->seen[i] + span > now)
			return true;
	return false;
}
