/*
 * reliable.c — request/response bookkeeping (§1.13). The caller owns the
 * timers; this keeps the sequence state, the outstanding request's bytes
 * for retransmission and the cached response for duplicates.
 */
#include <stdlib.h>
#include <string.h>

#include "capwap/capwap_int.h"

void capwap_reliable_init(struct capwap_reliable *r, uint8_t first_seq)
{
	memset(r, 0, sizeof(*r));
	r->next_seq = first_seq;
}

/* Requests and responses may carry a CSR or a certificate request's
 * parameters: wiped before they are freed (HACKING.md). */
static void wipe_free(uint8_t *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

void capwap_reliable_free(struct capwap_reliable *r)
{
	wipe_free(r->pending_buf, r->pending_len);
	wipe_free(r->last_response, r->last_response_len);
	memset(r, 0, sizeof(*r));
}

bool capwap_seq_older(uint8_t s1, uint8_t s2)
{
	return (s1 < s2 && s2 - s1 < 128) || (s1 > s2 && s1 - s2 > 128);
}

enum capwap_rx_class capwap_reliable_classify(const struct capwap_reliable *r, uint8_t seq)
{
	if (!r->have_last_rx)
		return CAPWAP_RX_NEW;
	if (seq == r->last_rx_seq)
		return CAPWAP_RX_DUPLICATE;
	if (capwap_seq_older(seq, r->last_rx_seq))
		return CAPWAP_RX_STALE;
	return CAPWAP_RX_NEW;
}

/* Copy len bytes into fresh memory; NULL only when allocation fails. A
 * zero-length copy is a valid one-byte allocation so callers need not
 * special-case empty messages. */
static uint8_t *dup_bytes(const uint8_t *p, size_t len)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);

	if (copy != NULL && len > 0)
		memcpy(copy, p, len);
	return copy;
}

enum capwap_status capwap_reliable_store_response(struct capwap_reliable *r, uint8_t seq,
						  const uint8_t *resp, size_t len)
{
	uint8_t *copy = dup_bytes(resp, len);

	if (copy == NULL)
		return CAPWAP_ERR_LIMIT;
	wipe_free(r->last_response, r->last_response_len);
	r->last_response = copy;
	r->last_response_len = len;
	r->have_last_rx = true;
	r->last_rx_seq = seq;
	return CAPWAP_OK;
}

uint8_t capwap_reliable_next_seq(struct capwap_reliable *r)
{
	return r->next_seq++;
}

enum capwap_status capwap_reliable_start_request(struct capwap_reliable *r, uint32_t type,
						 uint8_t seq, const uint8_t *req, size_t len)
{
	uint8_t *copy;

	if (r->pending)
		return CAPWAP_ERR_LIMIT;	/* one request outstanding at a time */
	copy = dup_bytes(req, len);
	if (copy == NULL)
		return CAPWAP_ERR_LIMIT;
	r->pending = true;
	r->pending_seq = seq;
	r->pending_type = type;
	r->pending_buf = copy;
	r->pending_len = len;
	r->retransmits = 0;
	/* Callers may take the number from capwap_reliable_next_seq() or pass
	 * next_seq directly; either way the next request gets a fresh one. */
	if (seq == r->next_seq)
		r->next_seq++;
	return CAPWAP_OK;
}

bool capwap_reliable_match_response(struct capwap_reliable *r, uint32_t type, uint8_t seq)
{
	if (!r->pending || seq != r->pending_seq ||
	    type != capwap_response_type(r->pending_type))
		return false;
	capwap_reliable_cancel(r);
	return true;
}

void capwap_reliable_cancel(struct capwap_reliable *r)
{
	wipe_free(r->pending_buf, r->pending_len);
	r->pending_buf = NULL;
	r->pending_len = 0;
	r->pending = false;
	r->retransmits = 0;
}
