/*
 * frag.c — CAPWAP fragmentation and reassembly (§1.14, §5.2 row 13).
 *
 * Each fragment is a complete CAPWAP packet: the transport header with F
 * set, then a slice of what follows the header of the whole message (the
 * control header travels in the first slice only). Offsets count 8-byte
 * units, so every slice but the last is a multiple of 8 bytes.
 *
 * Reassembly keeps one partial message per context and never trusts the
 * peer with memory: the buffer grows only to the bytes actually received,
 * up to limits.max_size, and is released as soon as the message completes
 * (at the next call, since *out points into it), expires, or is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "capwap/capwap_int.h"

#define DEFAULT_MAX_FRAGMENTS 64
#define DEFAULT_TIMEOUT_MS    5000
#define MAX_RANGES (sizeof(((struct capwap_reasm *)0)->ranges) / \
		    sizeof(((struct capwap_reasm *)0)->ranges[0]))
/* Offsets are 13 bits of 8-byte units and ranges are kept in 16 bits. */
#define MAX_REASM_SIZE 0xffff

/* ------------------------------------------------------------------------
 * Fragmentation
 * ------------------------------------------------------------------------ */

enum capwap_status capwap_fragment(const uint8_t *pkt, size_t len,
				   size_t max_len, uint16_t frag_id,
				   capwap_fragment_cb cb, void *arg,
				   struct capwap_error *err)
{
	struct capwap_header hdr;
	enum capwap_status st;
	size_t hlen, payload_len, chunk, off;
	uint8_t *frag;

	capwap_error_clear(err);
	st = capwap_header_decode(pkt, len, &hdr, &hlen, err);
	if (st != CAPWAP_OK)
		return st;
	if (hdr.fragment)
		return capwap_fail(err, CAPWAP_ERR_FRAGMENT,
				   "packet is already a fragment (id %u)", hdr.frag_id);
	if (hdr.keepalive)
		return capwap_fail(err, CAPWAP_ERR_FRAGMENT,
				   "a keep-alive is never fragmented");
	if (len <= max_len) {
		cb(pkt, len, arg);
		return CAPWAP_OK;
	}
	if (max_len < hlen + 8)
		return capwap_fail(err, CAPWAP_ERR_LIMIT,
				   "max_len %zu leaves no 8-byte slice after a %zu-byte header",
				   max_len, hlen);
	payload_len = len - hlen;
	chunk = (max_len - hlen) & ~(size_t)7;
	if ((payload_len - 1) / chunk * chunk / 8 > 0x1fff)
		return capwap_fail(err, CAPWAP_ERR_LIMIT,
				   "%zu bytes need fragment offsets past 13 bits at %zu per fragment",
				   payload_len, chunk);

	frag = malloc(hlen + chunk);
	if (frag == NULL)
		return capwap_fail(err, CAPWAP_ERR_LIMIT,
				   "out of memory for a %zu-byte fragment", hlen + chunk);
	memcpy(frag, pkt, hlen);
	for (off = 0; off < payload_len; off += chunk) {
		size_t n = payload_len - off < chunk ? payload_len - off : chunk;
		bool last = off + n == payload_len;
		uint16_t offset_units = (uint16_t)(off / 8);

		/* Same header as the message (so Radio MAC and wireless info
		 * stay), with F, L, the id and the offset set. */
		frag[3] = (uint8_t)((frag[3] & ~(CAPWAP_FLAG_F | CAPWAP_FLAG_L)) |
				    CAPWAP_FLAG_F | (last ? CAPWAP_FLAG_L : 0));
		frag[4] = (uint8_t)(frag_id >> 8);
		frag[5] = (uint8_t)frag_id;
		frag[6] = (uint8_t)(offset_units >> 5);
		frag[7] = (uint8_t)((offset_units << 3) | (frag[7] & 0x07));
		memcpy(frag + hlen, pkt + hlen + off, n);
		cb(frag, hlen + n, arg);
	}
	explicit_bzero(frag, hlen + chunk);
	free(frag);
	return CAPWAP_OK;
}

/* ------------------------------------------------------------------------
 * Reassembly
 * ------------------------------------------------------------------------ */

void capwap_reasm_init(struct capwap_reasm *r, const struct capwap_reasm_limits *limits)
{
	memset(r, 0, sizeof(*r));
	if (limits != NULL)
		r->limits = *limits;
	if (r->limits.max_size < CAPWAP_MIN_REASSEMBLY)
		r->limits.max_size = CAPWAP_MIN_REASSEMBLY;
	if (r->limits.max_size > MAX_REASM_SIZE)
		r->limits.max_size = MAX_REASM_SIZE;
	if (r->limits.max_fragments == 0 || r->limits.max_fragments > MAX_RANGES)
		r->limits.max_fragments = DEFAULT_MAX_FRAGMENTS;
	if (r->limits.timeout_ms == 0)
		r->limits.timeout_ms = DEFAULT_TIMEOUT_MS;
}

/* Forget the partial (or just delivered) message and give its memory back,
 * wiped first: it may have held a CSR (HACKING.md). */
static void reasm_reset(struct capwap_reasm *r)
{
	if (r->buf != NULL)
		explicit_bzero(r->buf, r->buf_cap);
	free(r->buf);
	r->buf = NULL;
	r->buf_cap = 0;
	r->active = false;
	r->frag_id = 0;
	r->started_ms = 0;
	r->hlen = 0;
	r->total = 0;
	r->n_frags = 0;
}

void capwap_reasm_free(struct capwap_reasm *r)
{
	reasm_reset(r);
}

bool capwap_reasm_expire(struct capwap_reasm *r, uint64_t now_ms)
{
	if (!r->active) {
		/* A delivered message's buffer outlives it by one call only. */
		if (r->buf != NULL)
			reasm_reset(r);
		return false;
	}
	if (now_ms - r->started_ms < r->limits.timeout_ms)
		return false;
	reasm_reset(r);
	return true;
}

/* Drop the partial message and report why. */
static enum capwap_status reasm_drop(struct capwap_reasm *r,
				     struct capwap_error *err,
				     enum capwap_status status,
				     const char *what, uint16_t frag_id,
				     size_t start, size_t end)
{
	reasm_reset(r);
	return capwap_fail(err, status,
			   "fragment id %u bytes %zu..%zu: %s; partial message dropped",
			   frag_id, start, end, what);
}

/* Room for the payload up to end (plus the header area in front). */
static bool reasm_reserve(struct capwap_reasm *r, size_t end)
{
	size_t need = CAPWAP_HEADER_MAX + end, cap;
	uint8_t *nbuf;

	if (need <= r->buf_cap)
		return true;
	/* Grow in 1 KiB steps: a peer cannot make us hold more than it sent
	 * (rounded), and certificates arrive in a handful of steps. */
	cap = (need + 1023) & ~(size_t)1023;
	if (cap > CAPWAP_HEADER_MAX + r->limits.max_size)
		cap = CAPWAP_HEADER_MAX + r->limits.max_size;
	/* Not realloc(): the old block is wiped before it is given back. */
	nbuf = malloc(cap);
	if (nbuf == NULL)
		return false;
	if (r->buf != NULL) {
		memcpy(nbuf, r->buf, r->buf_cap);
		explicit_bzero(r->buf, r->buf_cap);
		free(r->buf);
	}
	r->buf = nbuf;
	r->buf_cap = cap;
	return true;
}

enum capwap_status capwap_reasm_add(struct capwap_reasm *r,
				    const uint8_t *pkt, size_t len,
				    uint64_t now_ms,
				    const uint8_t **out, size_t *out_len,
				    struct capwap_error *err)
{
	struct capwap_header hdr;
	enum capwap_status st;
	size_t hlen, plen, start, end, covered, i;
	bool last;

	*out = NULL;
	*out_len = 0;
	capwap_error_clear(err);

	/* The message delivered by the previous call is no longer needed. */
	if (!r->active && r->buf != NULL)
		reasm_reset(r);
	if (r->active && now_ms - r->started_ms >= r->limits.timeout_ms)
		reasm_reset(r);

	st = capwap_header_decode(pkt, len, &hdr, &hlen, err);
	if (st != CAPWAP_OK)
		return st;
	if (!hdr.fragment) {
		*out = pkt;
		*out_len = len;
		return CAPWAP_OK;
	}
	if (hdr.keepalive)
		return capwap_fail(err, CAPWAP_ERR_FRAGMENT,
				   "fragment id %u has K set: keep-alives are never fragmented",
				   hdr.frag_id);

	plen = len - hlen;
	start = (size_t)hdr.frag_offset * 8;
	end = start + plen;
	last = hdr.last_fragment;

	/* A new fragment id means the old message will never complete. */
	if (r->active && hdr.frag_id != r->frag_id)
		reasm_reset(r);
	if (!r->active) {
		r->active = true;
		r->frag_id = hdr.frag_id;
		r->started_ms = now_ms;
	}

	if (plen == 0)
		return reasm_drop(r, err, CAPWAP_ERR_FRAGMENT, "empty fragment",
				  hdr.frag_id, start, end);
	if (end > r->limits.max_size)
		return reasm_drop(r, err, CAPWAP_ERR_LIMIT,
				  "message would exceed the reassembly limit",
				  hdr.frag_id, start, end);
	if (r->n_frags >= r->limits.max_fragments)
		return reasm_drop(r, err, CAPWAP_ERR_LIMIT, "too many fragments",
				  hdr.frag_id, start, end);
	if (!last && plen % 8 != 0)
		return reasm_drop(r, err, CAPWAP_ERR_FRAGMENT,
				  "non-final fragment is not a multiple of 8 bytes",
				  hdr.frag_id, start, end);
	if (last && r->total != 0)
		return reasm_drop(r, err, CAPWAP_ERR_FRAGMENT,
				  "second last fragment", hdr.frag_id, start, end);
	if (!last && r->total != 0 && end > r->total)
		return reasm_drop(r, err, CAPWAP_ERR_FRAGMENT,
				  "fragment past the last fragment's end",
				  hdr.frag_id, start, end);
	for (i = 0; i < r->n_frags; i++) {
		if (r->ranges[i].start == start && r->ranges[i].end == end)
			return reasm_drop(r, err, CAPWAP_ERR_FRAGMENT,
					  "duplicate fragment", hdr.frag_id,
					  start, end);
		if (start < r->ranges[i].end && r->ranges[i].start < end)
			return reasm_drop(r, err, CAPWAP_ERR_FRAGMENT,
					  "overlaps an earlier fragment",
					  hdr.frag_id, start, end);
		if (last && r->ranges[i].end > end)
			return reasm_drop(r, err, CAPWAP_ERR_FRAGMENT,
					  "last fragment ends before an earlier one",
					  hdr.frag_id, start, end);
	}
	if (!reasm_reserve(r, end))
		return reasm_drop(r, err, CAPWAP_ERR_LIMIT, "out of memory",
				  hdr.frag_id, start, end);

	memcpy(r->buf + CAPWAP_HEADER_MAX + start, pkt + hlen, plen);
	if (start == 0) {
		/* The first fragment's header becomes the message's, minus
		 * the fragment fields, just in front of the payload. */
		uint8_t *h = r->buf + CAPWAP_HEADER_MAX - hlen;

		memcpy(h, pkt, hlen);
		h[3] &= (uint8_t)~(CAPWAP_FLAG_F | CAPWAP_FLAG_L);
		memset(h + 4, 0, 4);
		r->hlen = hlen;
	}
	r->ranges[r->n_frags].start = (uint16_t)start;
	r->ranges[r->n_frags].end = (uint16_t)end;
	r->n_frags++;
	if (last)
		r->total = end;

	if (r->total == 0 || r->hlen == 0)
		return CAPWAP_INCOMPLETE;
	/* No overlaps are ever stored, so full coverage is a byte count. */
	for (covered = 0, i = 0; i < r->n_frags; i++)
		covered += (size_t)(r->ranges[i].end - r->ranges[i].start);
	if (covered != r->total)
		return CAPWAP_INCOMPLETE;

	*out = r->buf + CAPWAP_HEADER_MAX - r->hlen;
	*out_len = r->hlen + r->total;
	/* Delivered: the buffer is freed on the next call. */
	r->active = false;
	return CAPWAP_OK;
}
