/*
 * elements.c — the table of message elements (§1.8, RFC 5416) and the typed
 * decoder and encoder of each element lscd understands.
 *
 * Every element the RFCs define is in the table, with its length rule, so a
 * message from a real WTP carrying (say) IEEE 802.11 binding elements in a
 * Configuration Status Request is accepted; elements without a typed field
 * are kept raw in m->raw only. Types outside the table are unknown.
 */
#include <stdio.h>
#include <string.h>

#include "capwap/capwap_int.h"

#define REP  CAPWAP_ELEM_F_REPEATABLE
#define BIND (CAPWAP_ELEM_F_REPEATABLE | CAPWAP_ELEM_F_BINDING)
#define ANY  0xffff

#define MAX_NAME     512   /* AC Name, WTP Name (§1.8) */
#define MAX_SUBVALUE 1024  /* Board Data, descriptor sub-elements (§5.2 row 10) */

/* ------------------------------------------------------------------------
 * Encoding helpers
 * ------------------------------------------------------------------------ */

/* Start a TLV; returns where its header begins, for elem_end(). */
static size_t elem_begin(struct capwap_writer *w, uint16_t type)
{
	size_t start = w->len;

	capwap_put_be16(w, type);
	capwap_put_be16(w, 0);
	return start;
}

/* Close a TLV: fix up its length and hold the encoder to the same rule the
 * decoder enforces, so nothing is sent that lscd itself would reject. */
static enum capwap_status elem_end(struct capwap_writer *w, size_t start,
				   const struct capwap_elem_desc *d,
				   struct capwap_error *err)
{
	size_t len;
	enum capwap_status st;

	if (w->overflow)
		return CAPWAP_OK;	/* capwap_encode reports NOSPACE once */
	len = w->len - start - 4;
	st = capwap_elem_check_len(d, len, err);
	if (st != CAPWAP_OK)
		return st;
	capwap_patch_be16(w, start + 2, (uint16_t)len);
	return CAPWAP_OK;
}

enum capwap_status capwap_elem_check_len(const struct capwap_elem_desc *d,
					 size_t len, struct capwap_error *err)
{
	if (len > 0xffff)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): length %zu does not fit 16 bits",
				   d->name, d->type, len);
	if (d->min_len == d->max_len && len != d->min_len)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): length %zu, must be %u",
				   d->name, d->type, len, d->min_len);
	if (len < d->min_len || len > d->max_len)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): length %zu, must be %u..%u",
				   d->name, d->type, len, d->min_len, d->max_len);
	return CAPWAP_OK;
}

static bool bytes_ok(const struct capwap_bytes *b)
{
	return b->len == 0 || b->ptr != NULL;
}

/* ------------------------------------------------------------------------
 * Sub-element lists of the AC and WTP descriptors: {vendor 32, type 16,
 * length 16, value}, each bounded by the parent element.
 * ------------------------------------------------------------------------ */

struct info_slot {
	uint16_t type;
	const char *label;
	bool mandatory;
	struct capwap_descriptor_info *dst;
};

static enum capwap_status decode_info_list(struct capwap_reader *r,
					   const struct capwap_elem_desc *d,
					   struct info_slot *slots, size_t n_slots,
					   struct capwap_error *err)
{
	bool seen[8] = { false };
	size_t i;

	while (capwap_reader_left(r) > 0) {
		size_t at = r->off;
		uint32_t vendor;
		uint16_t type, len;
		struct capwap_bytes value;

		if (capwap_reader_left(r) < 8)
			return capwap_fail(err, CAPWAP_ERR_TRUNCATED,
					   "%s (%u): sub-element at offset %zu needs 8 bytes, %zu left",
					   d->name, d->type, at, capwap_reader_left(r));
		vendor = capwap_load_be32(r->buf + at);
		type = capwap_load_be16(r->buf + at + 4);
		len = capwap_load_be16(r->buf + at + 6);
		r->off += 8;
		if (len > MAX_SUBVALUE)
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s (%u): sub-element %u length %u over %u",
					   d->name, d->type, type, len, MAX_SUBVALUE);
		if (!capwap_get_bytes(r, len, &value))
			return capwap_fail(err, CAPWAP_ERR_TRUNCATED,
					   "%s (%u): sub-element %u length %u past end (%zu left)",
					   d->name, d->type, type, len, capwap_reader_left(r));
		for (i = 0; i < n_slots; i++) {
			if (slots[i].type != type)
				continue;
			if (seen[i])
				return capwap_fail(err, CAPWAP_ERR_MALFORMED,
						   "%s (%u): sub-element %u (%s) appears twice",
						   d->name, d->type, type, slots[i].label);
			seen[i] = true;
			slots[i].dst->vendor = vendor;
			slots[i].dst->value = value;
		}
	}
	for (i = 0; i < n_slots; i++)
		if (slots[i].mandatory && !seen[i])
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s (%u): mandatory sub-element %u (%s) missing",
					   d->name, d->type, slots[i].type, slots[i].label);
	return CAPWAP_OK;
}

static enum capwap_status encode_info(struct capwap_writer *w,
				      const struct capwap_elem_desc *d,
				      uint16_t type,
				      const struct capwap_descriptor_info *info,
				      struct capwap_error *err)
{
	if (info->value.len > MAX_SUBVALUE || !bytes_ok(&info->value))
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): sub-element %u length %zu over %u",
				   d->name, d->type, type, info->value.len, MAX_SUBVALUE);
	capwap_put_be32(w, info->vendor);
	capwap_put_be16(w, type);
	capwap_put_be16(w, (uint16_t)info->value.len);
	capwap_put_data(w, info->value.ptr, info->value.len);
	return CAPWAP_OK;
}

/* ------------------------------------------------------------------------
 * 1 AC Descriptor
 * ------------------------------------------------------------------------ */

static enum capwap_status dec_ac_descriptor(struct capwap_message *m,
					    const struct capwap_elem_desc *d,
					    const uint8_t *v, size_t len,
					    struct capwap_error *err)
{
	struct capwap_ac_descriptor *ac = &m->ac_descriptor;
	struct capwap_reader r;
	uint8_t reserved;
	/* Types 4 and 5 are MUST with vendor 0; other vendors (Cisco's
	 * 0x409600) are accepted too since the type alone says what it is. */
	struct info_slot slots[] = {
		{ 4, "hardware version", true, &ac->hardware_version },
		{ 5, "software version", true, &ac->software_version },
	};

	capwap_reader_init(&r, v, len);
	capwap_get_be16(&r, &ac->stations);
	capwap_get_be16(&r, &ac->station_limit);
	capwap_get_be16(&r, &ac->active_wtps);
	capwap_get_be16(&r, &ac->max_wtps);
	capwap_get_u8(&r, &ac->security);
	capwap_get_u8(&r, &ac->rmac);
	capwap_get_u8(&r, &reserved);
	capwap_get_u8(&r, &ac->dtls_policy);
	m->has_ac_descriptor = true;
	return decode_info_list(&r, d, slots, 2, err);
}

static enum capwap_status enc_ac_descriptor(struct capwap_writer *w,
					    const struct capwap_message *m,
					    const struct capwap_elem_desc *d,
					    struct capwap_error *err)
{
	const struct capwap_ac_descriptor *ac = &m->ac_descriptor;
	enum capwap_status st;
	size_t start;

	if (!m->has_ac_descriptor)
		return CAPWAP_OK;
	start = elem_begin(w, d->type);
	capwap_put_be16(w, ac->stations);
	capwap_put_be16(w, ac->station_limit);
	capwap_put_be16(w, ac->active_wtps);
	capwap_put_be16(w, ac->max_wtps);
	capwap_put_u8(w, ac->security);
	capwap_put_u8(w, ac->rmac);
	capwap_put_u8(w, 0);
	capwap_put_u8(w, ac->dtls_policy);
	st = encode_info(w, d, 4, &ac->hardware_version, err);
	if (st == CAPWAP_OK)
		st = encode_info(w, d, 5, &ac->software_version, err);
	if (st != CAPWAP_OK)
		return st;
	return elem_end(w, start, d, err);
}

/* ------------------------------------------------------------------------
 * 2 AC IPv4 List
 * ------------------------------------------------------------------------ */

#define MAX_AC_IPV4 (sizeof(((struct capwap_message *)0)->ac_ipv4) / 4)

static enum capwap_status dec_ac_ipv4_list(struct capwap_message *m,
					   const struct capwap_elem_desc *d,
					   const uint8_t *v, size_t len,
					   struct capwap_error *err)
{
	size_t i;

	if (len % 4 != 0)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): length %zu is not a multiple of 4",
				   d->name, d->type, len);
	if (len / 4 > MAX_AC_IPV4)
		return capwap_fail(err, CAPWAP_ERR_LIMIT,
				   "%s (%u): %zu addresses, at most %zu kept",
				   d->name, d->type, len / 4, MAX_AC_IPV4);
	for (i = 0; i < len / 4; i++)
		memcpy(m->ac_ipv4[i], v + 4 * i, 4);
	m->n_ac_ipv4 = (uint8_t)(len / 4);
	return CAPWAP_OK;
}

static enum capwap_status enc_ac_ipv4_list(struct capwap_writer *w,
					   const struct capwap_message *m,
					   const struct capwap_elem_desc *d,
					   struct capwap_error *err)
{
	size_t start, i;

	if (m->n_ac_ipv4 == 0)
		return CAPWAP_OK;
	if (m->n_ac_ipv4 > MAX_AC_IPV4)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): %u addresses, at most %zu",
				   d->name, d->type, m->n_ac_ipv4, MAX_AC_IPV4);
	start = elem_begin(w, d->type);
	for (i = 0; i < m->n_ac_ipv4; i++)
		capwap_put_data(w, m->ac_ipv4[i], 4);
	return elem_end(w, start, d, err);
}

static enum capwap_status dec_ac_ipv6_list(struct capwap_message *m,
					   const struct capwap_elem_desc *d,
					   const uint8_t *v, size_t len,
					   struct capwap_error *err)
{
	(void)m;
	(void)v;
	if (len % 16 != 0)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): length %zu is not a multiple of 16",
				   d->name, d->type, len);
	return CAPWAP_OK;	/* no typed field: kept raw */
}

/* ------------------------------------------------------------------------
 * Byte-string elements: AC Name (4), Location Data (28), WTP Name (45)
 * ------------------------------------------------------------------------ */

static struct capwap_bytes *string_field(struct capwap_message *m, uint16_t type,
					 bool **has)
{
	*has = NULL;
	switch (type) {
	case CAPWAP_ELEM_AC_NAME:
		*has = &m->has_ac_name;
		return &m->ac_name;
	case CAPWAP_ELEM_LOCATION_DATA:
		*has = &m->has_location;
		return &m->location;
	case CAPWAP_ELEM_WTP_NAME:
		*has = &m->has_wtp_name;
		return &m->wtp_name;
	}
	return NULL;
}

static enum capwap_status dec_string(struct capwap_message *m,
				     const struct capwap_elem_desc *d,
				     const uint8_t *v, size_t len,
				     struct capwap_error *err)
{
	bool *has;
	struct capwap_bytes *b = string_field(m, d->type, &has);

	(void)err;
	/* Kept as a counted view: never assumed to be NUL-terminated. */
	b->ptr = v;
	b->len = len;
	*has = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_string(struct capwap_writer *w,
				     const struct capwap_message *m,
				     const struct capwap_elem_desc *d,
				     struct capwap_error *err)
{
	bool *has;
	const struct capwap_bytes *b =
		string_field((struct capwap_message *)m, d->type, &has);
	size_t start;

	if (b == NULL || !*has)
		return CAPWAP_OK;
	if (!bytes_ok(b))
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): NULL value", d->name, d->type);
	start = elem_begin(w, d->type);
	capwap_put_data(w, b->ptr, b->len);
	return elem_end(w, start, d, err);
}

/* ------------------------------------------------------------------------
 * Small fixed elements
 * ------------------------------------------------------------------------ */

static enum capwap_status dec_control_ipv4(struct capwap_message *m,
					   const struct capwap_elem_desc *d,
					   const uint8_t *v, size_t len,
					   struct capwap_error *err)
{
	(void)d;
	(void)len;
	(void)err;
	/* One per AC interface may follow; the first is the typed one. */
	if (m->has_control_ipv4)
		return CAPWAP_OK;
	memcpy(m->control_ipv4.addr, v, 4);
	m->control_ipv4.wtp_count = capwap_load_be16(v + 4);
	m->has_control_ipv4 = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_control_ipv4(struct capwap_writer *w,
					   const struct capwap_message *m,
					   const struct capwap_elem_desc *d,
					   struct capwap_error *err)
{
	size_t start;

	if (!m->has_control_ipv4)
		return CAPWAP_OK;
	start = elem_begin(w, d->type);
	capwap_put_data(w, m->control_ipv4.addr, 4);
	capwap_put_be16(w, m->control_ipv4.wtp_count);
	return elem_end(w, start, d, err);
}

static enum capwap_status dec_control_ipv6(struct capwap_message *m,
					   const struct capwap_elem_desc *d,
					   const uint8_t *v, size_t len,
					   struct capwap_error *err)
{
	(void)d;
	(void)len;
	(void)err;
	if (m->has_control_ipv6)
		return CAPWAP_OK;
	memcpy(m->control_ipv6.addr, v, 16);
	m->control_ipv6.wtp_count = capwap_load_be16(v + 16);
	m->has_control_ipv6 = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_control_ipv6(struct capwap_writer *w,
					   const struct capwap_message *m,
					   const struct capwap_elem_desc *d,
					   struct capwap_error *err)
{
	size_t start;

	if (!m->has_control_ipv6)
		return CAPWAP_OK;
	start = elem_begin(w, d->type);
	capwap_put_data(w, m->control_ipv6.addr, 16);
	capwap_put_be16(w, m->control_ipv6.wtp_count);
	return elem_end(w, start, d, err);
}

static enum capwap_status dec_timers(struct capwap_message *m,
				     const struct capwap_elem_desc *d,
				     const uint8_t *v, size_t len,
				     struct capwap_error *err)
{
	(void)d;
	(void)len;
	(void)err;
	m->timers.discovery = v[0];
	m->timers.echo_request = v[1];
	m->has_timers = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_timers(struct capwap_writer *w,
				     const struct capwap_message *m,
				     const struct capwap_elem_desc *d,
				     struct capwap_error *err)
{
	size_t start;

	if (!m->has_timers)
		return CAPWAP_OK;
	start = elem_begin(w, d->type);
	capwap_put_u8(w, m->timers.discovery);
	capwap_put_u8(w, m->timers.echo_request);
	return elem_end(w, start, d, err);
}

static enum capwap_status dec_decrypt_period(struct capwap_message *m,
					     const struct capwap_elem_desc *d,
					     const uint8_t *v, size_t len,
					     struct capwap_error *err)
{
	(void)d;
	(void)len;
	(void)err;
	/* One per radio may follow; the first is the typed one. */
	if (m->has_decrypt_error_period)
		return CAPWAP_OK;
	m->decrypt_error_period.radio_id = v[0];
	m->decrypt_error_period.interval = capwap_load_be16(v + 1);
	m->has_decrypt_error_period = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_decrypt_period(struct capwap_writer *w,
					     const struct capwap_message *m,
					     const struct capwap_elem_desc *d,
					     struct capwap_error *err)
{
	size_t start;

	if (!m->has_decrypt_error_period)
		return CAPWAP_OK;
	start = elem_begin(w, d->type);
	capwap_put_u8(w, m->decrypt_error_period.radio_id);
	capwap_put_be16(w, m->decrypt_error_period.interval);
	return elem_end(w, start, d, err);
}

/* One-byte elements share a decoder and an encoder. */
static uint8_t *u8_field(struct capwap_message *m, uint16_t type, bool **has)
{
	*has = NULL;
	switch (type) {
	case CAPWAP_ELEM_DISCOVERY_TYPE:
		*has = &m->has_discovery_type;
		return &m->discovery_type;
	case CAPWAP_ELEM_WTP_FALLBACK:
		*has = &m->has_wtp_fallback;
		return &m->wtp_fallback;
	case CAPWAP_ELEM_WTP_FRAME_TUNNEL_MODE:
		*has = &m->has_frame_tunnel_mode;
		return &m->frame_tunnel_mode;
	case CAPWAP_ELEM_WTP_MAC_TYPE:
		*has = &m->has_mac_type;
		return &m->mac_type;
	case CAPWAP_ELEM_TRANSPORT_PROTOCOL:
		*has = &m->has_transport_protocol;
		return &m->transport_protocol;
	case CAPWAP_ELEM_ECN_SUPPORT:
		*has = &m->has_ecn_support;
		return &m->ecn_support;
	}
	return NULL;
}

static enum capwap_status dec_u8(struct capwap_message *m,
				 const struct capwap_elem_desc *d,
				 const uint8_t *v, size_t len,
				 struct capwap_error *err)
{
	bool *has;
	uint8_t *field = u8_field(m, d->type, &has);

	(void)len;
	(void)err;
	*field = v[0];
	*has = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_u8(struct capwap_writer *w,
				 const struct capwap_message *m,
				 const struct capwap_elem_desc *d,
				 struct capwap_error *err)
{
	bool *has;
	const uint8_t *field = u8_field((struct capwap_message *)m, d->type, &has);
	size_t start;

	if (field == NULL || !*has)
		return CAPWAP_OK;
	start = elem_begin(w, d->type);
	capwap_put_u8(w, *field);
	return elem_end(w, start, d, err);
}

static enum capwap_status dec_idle_timeout(struct capwap_message *m,
					   const struct capwap_elem_desc *d,
					   const uint8_t *v, size_t len,
					   struct capwap_error *err)
{
	(void)d;
	(void)len;
	(void)err;
	m->idle_timeout = capwap_load_be32(v);
	m->has_idle_timeout = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_idle_timeout(struct capwap_writer *w,
					   const struct capwap_message *m,
					   const struct capwap_elem_desc *d,
					   struct capwap_error *err)
{
	size_t start;

	if (!m->has_idle_timeout)
		return CAPWAP_OK;
	start = elem_begin(w, d->type);
	capwap_put_be32(w, m->idle_timeout);
	return elem_end(w, start, d, err);
}

static enum capwap_status dec_image_identifier(struct capwap_message *m,
					       const struct capwap_elem_desc *d,
					       const uint8_t *v, size_t len,
					       struct capwap_error *err)
{
	(void)d;
	(void)err;
	m->image_identifier.vendor = capwap_load_be32(v);
	m->image_identifier.data.ptr = v + 4;
	m->image_identifier.data.len = len - 4;
	m->has_image_identifier = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_image_identifier(struct capwap_writer *w,
					       const struct capwap_message *m,
					       const struct capwap_elem_desc *d,
					       struct capwap_error *err)
{
	size_t start;

	if (!m->has_image_identifier)
		return CAPWAP_OK;
	if (!bytes_ok(&m->image_identifier.data))
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): NULL data", d->name, d->type);
	start = elem_begin(w, d->type);
	capwap_put_be32(w, m->image_identifier.vendor);
	capwap_put_data(w, m->image_identifier.data.ptr,
			m->image_identifier.data.len);
	return elem_end(w, start, d, err);
}

static enum capwap_status dec_max_message_length(struct capwap_message *m,
						 const struct capwap_elem_desc *d,
						 const uint8_t *v, size_t len,
						 struct capwap_error *err)
{
	(void)d;
	(void)len;
	(void)err;
	m->max_message_length = capwap_load_be16(v);
	m->has_max_message_length = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_max_message_length(struct capwap_writer *w,
						 const struct capwap_message *m,
						 const struct capwap_elem_desc *d,
						 struct capwap_error *err)
{
	size_t start;

	if (!m->has_max_message_length)
		return CAPWAP_OK;
	start = elem_begin(w, d->type);
	capwap_put_be16(w, m->max_message_length);
	return elem_end(w, start, d, err);
}

static enum capwap_status dec_local_ipv4(struct capwap_message *m,
					 const struct capwap_elem_desc *d,
					 const uint8_t *v, size_t len,
					 struct capwap_error *err)
{
	(void)d;
	(void)len;
	(void)err;
	memcpy(m->local_ipv4, v, 4);
	m->has_local_ipv4 = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_local_ipv4(struct capwap_writer *w,
					 const struct capwap_message *m,
					 const struct capwap_elem_desc *d,
					 struct capwap_error *err)
{
	size_t start;

	if (!m->has_local_ipv4)
		return CAPWAP_OK;
	start = elem_begin(w, d->type);
	capwap_put_data(w, m->local_ipv4, 4);
	return elem_end(w, start, d, err);
}

static enum capwap_status dec_local_ipv6(struct capwap_message *m,
					 const struct capwap_elem_desc *d,
					 const uint8_t *v, size_t len,
					 struct capwap_error *err)
{
	(void)d;
	(void)len;
	(void)err;
	memcpy(m->local_ipv6, v, 16);
	m->has_local_ipv6 = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_local_ipv6(struct capwap_writer *w,
					 const struct capwap_message *m,
					 const struct capwap_elem_desc *d,
					 struct capwap_error *err)
{
	size_t start;

	if (!m->has_local_ipv6)
		return CAPWAP_OK;
	start = elem_begin(w, d->type);
	capwap_put_data(w, m->local_ipv6, 16);
	return elem_end(w, start, d, err);
}

/* ------------------------------------------------------------------------
 * 31 / 32 Radio Administrative / Operational State (one per radio)
 * ------------------------------------------------------------------------ */

#define MAX_RADIO_ADMIN (CAPWAP_MAX_RADIOS + 1)	/* the WTP itself + radios */

static enum capwap_status dec_radio_admin(struct capwap_message *m,
					  const struct capwap_elem_desc *d,
					  const uint8_t *v, size_t len,
					  struct capwap_error *err)
{
	struct capwap_radio_state *s;

	(void)len;
	if (m->n_radio_admin >= MAX_RADIO_ADMIN)
		return capwap_fail(err, CAPWAP_ERR_LIMIT,
				   "%s (%u): more than %d instances",
				   d->name, d->type, MAX_RADIO_ADMIN);
	s = &m->radio_admin[m->n_radio_admin++];
	s->radio_id = v[0];
	s->state = v[1];
	s->cause = 0;
	return CAPWAP_OK;
}

static enum capwap_status enc_radio_admin(struct capwap_writer *w,
					  const struct capwap_message *m,
					  const struct capwap_elem_desc *d,
					  struct capwap_error *err)
{
	enum capwap_status st;
	size_t i, start;

	if (m->n_radio_admin > MAX_RADIO_ADMIN)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): %u instances, at most %d",
				   d->name, d->type, m->n_radio_admin, MAX_RADIO_ADMIN);
	for (i = 0; i < m->n_radio_admin; i++) {
		start = elem_begin(w, d->type);
		capwap_put_u8(w, m->radio_admin[i].radio_id);
		capwap_put_u8(w, m->radio_admin[i].state);
		st = elem_end(w, start, d, err);
		if (st != CAPWAP_OK)
			return st;
	}
	return CAPWAP_OK;
}

static enum capwap_status dec_radio_oper(struct capwap_message *m,
					 const struct capwap_elem_desc *d,
					 const uint8_t *v, size_t len,
					 struct capwap_error *err)
{
	struct capwap_radio_state *s;

	(void)len;
	if (m->n_radio_oper >= CAPWAP_MAX_RADIOS)
		return capwap_fail(err, CAPWAP_ERR_LIMIT,
				   "%s (%u): more than %d instances",
				   d->name, d->type, CAPWAP_MAX_RADIOS);
	s = &m->radio_oper[m->n_radio_oper++];
	s->radio_id = v[0];
	s->state = v[1];
	s->cause = v[2];
	return CAPWAP_OK;
}

static enum capwap_status enc_radio_oper(struct capwap_writer *w,
					 const struct capwap_message *m,
					 const struct capwap_elem_desc *d,
					 struct capwap_error *err)
{
	enum capwap_status st;
	size_t i, start;

	if (m->n_radio_oper > CAPWAP_MAX_RADIOS)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): %u instances, at most %d",
				   d->name, d->type, m->n_radio_oper, CAPWAP_MAX_RADIOS);
	for (i = 0; i < m->n_radio_oper; i++) {
		start = elem_begin(w, d->type);
		capwap_put_u8(w, m->radio_oper[i].radio_id);
		capwap_put_u8(w, m->radio_oper[i].state);
		capwap_put_u8(w, m->radio_oper[i].cause);
		st = elem_end(w, start, d, err);
		if (st != CAPWAP_OK)
			return st;
	}
	return CAPWAP_OK;
}

/* ------------------------------------------------------------------------
 * 33 Result Code, 34 Returned Message Element, 35 Session ID, 36 Stats Timer
 * ------------------------------------------------------------------------ */

static enum capwap_status dec_result_code(struct capwap_message *m,
					  const struct capwap_elem_desc *d,
					  const uint8_t *v, size_t len,
					  struct capwap_error *err)
{
	(void)d;
	(void)len;
	(void)err;
	m->result_code = capwap_load_be32(v);
	m->has_result_code = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_result_code(struct capwap_writer *w,
					  const struct capwap_message *m,
					  const struct capwap_elem_desc *d,
					  struct capwap_error *err)
{
	size_t start;

	if (!m->has_result_code)
		return CAPWAP_OK;
	start = elem_begin(w, d->type);
	capwap_put_be32(w, m->result_code);
	return elem_end(w, start, d, err);
}

#define MAX_RETURNED (sizeof(((struct capwap_message *)0)->returned) / \
		      sizeof(((struct capwap_message *)0)->returned[0]))

static enum capwap_status dec_returned(struct capwap_message *m,
				       const struct capwap_elem_desc *d,
				       const uint8_t *v, size_t len,
				       struct capwap_error *err)
{
	struct capwap_returned_element *re;

	if (v[1] != len - 2)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): inner length %u but %zu bytes follow",
				   d->name, d->type, v[1], len - 2);
	if (m->n_returned >= MAX_RETURNED)
		return capwap_fail(err, CAPWAP_ERR_LIMIT,
				   "%s (%u): more than %zu instances",
				   d->name, d->type, MAX_RETURNED);
	re = &m->returned[m->n_returned++];
	re->reason = v[0];
	re->element.ptr = v + 2;
	re->element.len = len - 2;
	return CAPWAP_OK;
}

static enum capwap_status enc_returned(struct capwap_writer *w,
				       const struct capwap_message *m,
				       const struct capwap_elem_desc *d,
				       struct capwap_error *err)
{
	enum capwap_status st;
	size_t i, start;

	if (m->n_returned > MAX_RETURNED)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): %u instances, at most %zu",
				   d->name, d->type, m->n_returned, MAX_RETURNED);
	for (i = 0; i < m->n_returned; i++) {
		const struct capwap_returned_element *re = &m->returned[i];

		if (re->element.len > 255 || !bytes_ok(&re->element))
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s (%u): returned element of %zu bytes, at most 255",
					   d->name, d->type, re->element.len);
		start = elem_begin(w, d->type);
		capwap_put_u8(w, re->reason);
		capwap_put_u8(w, (uint8_t)re->element.len);
		capwap_put_data(w, re->element.ptr, re->element.len);
		st = elem_end(w, start, d, err);
		if (st != CAPWAP_OK)
			return st;
	}
	return CAPWAP_OK;
}

static enum capwap_status dec_session_id(struct capwap_message *m,
					 const struct capwap_elem_desc *d,
					 const uint8_t *v, size_t len,
					 struct capwap_error *err)
{
	(void)d;
	(void)len;
	(void)err;
	memcpy(m->session_id, v, 16);
	m->has_session_id = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_session_id(struct capwap_writer *w,
					 const struct capwap_message *m,
					 const struct capwap_elem_desc *d,
					 struct capwap_error *err)
{
	size_t start;

	if (!m->has_session_id)
		return CAPWAP_OK;
	start = elem_begin(w, d->type);
	capwap_put_data(w, m->session_id, 16);
	return elem_end(w, start, d, err);
}

static enum capwap_status dec_statistics_timer(struct capwap_message *m,
					       const struct capwap_elem_desc *d,
					       const uint8_t *v, size_t len,
					       struct capwap_error *err)
{
	(void)d;
	(void)len;
	(void)err;
	m->statistics_timer = capwap_load_be16(v);
	m->has_statistics_timer = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_statistics_timer(struct capwap_writer *w,
					       const struct capwap_message *m,
					       const struct capwap_elem_desc *d,
					       struct capwap_error *err)
{
	size_t start;

	if (!m->has_statistics_timer)
		return CAPWAP_OK;
	start = elem_begin(w, d->type);
	capwap_put_be16(w, m->statistics_timer);
	return elem_end(w, start, d, err);
}

/* ------------------------------------------------------------------------
 * 37 Vendor Specific Payload, with Cisco's 104 → 63/64 LSC envelope (§2.4)
 * ------------------------------------------------------------------------ */

static enum capwap_status dec_vsp(struct capwap_message *m,
				  const struct capwap_elem_desc *d,
				  const uint8_t *v, size_t len,
				  struct capwap_error *err)
{
	struct capwap_vsp vsp;
	enum capwap_status st;

	vsp.vendor = capwap_load_be32(v);
	vsp.elem_id = capwap_load_be16(v + 4);
	vsp.data.ptr = v + 6;
	vsp.data.len = len - 6;

	/* The LSC bodies sit behind a second vendor id and an inner id with
	 * no length of their own: the body is the rest of this element. A
	 * 104 too short for the inner header, or with another inner vendor
	 * or id, is not ours and is kept raw like any other VSP (§5.2 row 11). */
	if (vsp.vendor == CAPWAP_VENDOR_CISCO &&
	    vsp.elem_id == CAPWAP_CISCO_SPAM_VENDOR && vsp.data.len >= 6 &&
	    capwap_load_be32(vsp.data.ptr) == CAPWAP_VENDOR_CISCO) {
		uint16_t inner_id = capwap_load_be16(vsp.data.ptr + 4);
		const uint8_t *body = vsp.data.ptr + 6;
		size_t body_len = vsp.data.len - 6;

		if (inner_id == CAPWAP_CISCO_LSC_PARAMS) {
			if (m->has_lsc_params)
				return capwap_fail(err, CAPWAP_ERR_DUPLICATE,
						   "Cisco LSC parameters (VSP 104/63) appear twice");
			st = capwap_lsc_params_decode(body, body_len,
						      &m->lsc_params, err);
			if (st != CAPWAP_OK)
				return st;
			m->has_lsc_params = true;
			return CAPWAP_OK;
		}
		if (inner_id == CAPWAP_CISCO_LSC_CERT) {
			if (m->has_lsc_cert)
				return capwap_fail(err, CAPWAP_ERR_DUPLICATE,
						   "Cisco LSC certificate payload (VSP 104/64) appears twice");
			st = capwap_lsc_cert_decode(body, body_len,
						    &m->lsc_cert, err);
			if (st != CAPWAP_OK)
				return st;
			m->has_lsc_cert = true;
			return CAPWAP_OK;
		}
	}
	if (m->n_vsp >= CAPWAP_MAX_VSP)
		return capwap_fail(err, CAPWAP_ERR_LIMIT,
				   "%s (%u): more than %d in one message",
				   d->name, d->type, CAPWAP_MAX_VSP);
	m->vsp[m->n_vsp++] = vsp;
	return CAPWAP_OK;
}

static void put_cisco_envelope(struct capwap_writer *w, uint16_t inner_id)
{
	capwap_put_be32(w, CAPWAP_VENDOR_CISCO);
	capwap_put_be16(w, CAPWAP_CISCO_SPAM_VENDOR);
	capwap_put_be32(w, CAPWAP_VENDOR_CISCO);
	capwap_put_be16(w, inner_id);
}

static enum capwap_status enc_vsp(struct capwap_writer *w,
				  const struct capwap_message *m,
				  const struct capwap_elem_desc *d,
				  struct capwap_error *err)
{
	enum capwap_status st;
	size_t i, start;

	if (m->has_lsc_params) {
		st = capwap_lsc_params_validate(&m->lsc_params, err);
		if (st != CAPWAP_OK)
			return st;
		start = elem_begin(w, d->type);
		put_cisco_envelope(w, CAPWAP_CISCO_LSC_PARAMS);
		capwap_lsc_params_encode(w, &m->lsc_params);
		st = elem_end(w, start, d, err);
		if (st != CAPWAP_OK)
			return st;
	}
	if (m->has_lsc_cert) {
		st = capwap_lsc_cert_validate(&m->lsc_cert, err);
		if (st != CAPWAP_OK)
			return st;
		start = elem_begin(w, d->type);
		put_cisco_envelope(w, CAPWAP_CISCO_LSC_CERT);
		capwap_lsc_cert_encode(w, &m->lsc_cert);
		st = elem_end(w, start, d, err);
		if (st != CAPWAP_OK)
			return st;
	}
	if (m->n_vsp > CAPWAP_MAX_VSP)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): %u payloads, at most %d",
				   d->name, d->type, m->n_vsp, CAPWAP_MAX_VSP);
	for (i = 0; i < m->n_vsp; i++) {
		if (!bytes_ok(&m->vsp[i].data))
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s (%u): NULL data", d->name, d->type);
		start = elem_begin(w, d->type);
		capwap_put_be32(w, m->vsp[i].vendor);
		capwap_put_be16(w, m->vsp[i].elem_id);
		capwap_put_data(w, m->vsp[i].data.ptr, m->vsp[i].data.len);
		st = elem_end(w, start, d, err);
		if (st != CAPWAP_OK)
			return st;
	}
	return CAPWAP_OK;
}

/* ------------------------------------------------------------------------
 * 38 WTP Board Data
 * ------------------------------------------------------------------------ */

static enum capwap_status dec_board_data(struct capwap_message *m,
					 const struct capwap_elem_desc *d,
					 const uint8_t *v, size_t len,
					 struct capwap_error *err)
{
	struct capwap_board_data *bd = &m->board_data;
	struct capwap_bytes *strings[4] = {
		&bd->model, &bd->serial, &bd->board_id, &bd->board_revision,
	};
	static const char *const labels[5] = {
		"model", "serial number", "board id", "board revision", "base MAC",
	};
	bool seen[5] = { false };
	struct capwap_reader r;
	enum capwap_status st;

	capwap_reader_init(&r, v, len);
	capwap_get_be32(&r, &bd->vendor);
	if (bd->vendor == 0)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): vendor identifier 0", d->name, d->type);
	while (capwap_reader_left(&r) > 0) {
		uint16_t type;
		struct capwap_bytes value;

		st = capwap_read_tlv16(&r, "WTP Board Data (38) sub-element",
				       &type, &value, err);
		if (st != CAPWAP_OK)
			return st;
		if (value.len > MAX_SUBVALUE)
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s (%u): sub-element %u length %zu over %u",
					   d->name, d->type, type, value.len, MAX_SUBVALUE);
		if (type > 4)
			continue;	/* sub-types added later are skipped */
		if (seen[type])
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s (%u): sub-element %u (%s) appears twice",
					   d->name, d->type, type, labels[type]);
		seen[type] = true;
		if (type == 4) {
			if (value.len != 6)
				return capwap_fail(err, CAPWAP_ERR_MALFORMED,
						   "%s (%u): base MAC length %zu, must be 6",
						   d->name, d->type, value.len);
			memcpy(bd->base_mac, value.ptr, 6);
			bd->has_base_mac = true;
		} else {
			*strings[type] = value;
		}
	}
	if (!seen[0] || !seen[1])
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): mandatory sub-element %d (%s) missing",
				   d->name, d->type, seen[0] ? 1 : 0,
				   labels[seen[0] ? 1 : 0]);
	m->has_board_data = true;
	return CAPWAP_OK;
}

static void put_sub16(struct capwap_writer *w, uint16_t type,
		      const struct capwap_bytes *b)
{
	capwap_put_be16(w, type);
	capwap_put_be16(w, (uint16_t)b->len);
	capwap_put_data(w, b->ptr, b->len);
}

static enum capwap_status enc_board_data(struct capwap_writer *w,
					 const struct capwap_message *m,
					 const struct capwap_elem_desc *d,
					 struct capwap_error *err)
{
	const struct capwap_board_data *bd = &m->board_data;
	const struct capwap_bytes *strings[4] = {
		&bd->model, &bd->serial, &bd->board_id, &bd->board_revision,
	};
	struct capwap_bytes mac = { bd->base_mac, 6 };
	size_t start;
	uint16_t i;

	if (!m->has_board_data)
		return CAPWAP_OK;
	if (bd->vendor == 0)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): vendor identifier 0", d->name, d->type);
	for (i = 0; i < 4; i++)
		if (strings[i]->len > MAX_SUBVALUE || !bytes_ok(strings[i]))
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s (%u): sub-element %u length %zu over %u",
					   d->name, d->type, i, strings[i]->len,
					   MAX_SUBVALUE);
	start = elem_begin(w, d->type);
	capwap_put_be32(w, bd->vendor);
	for (i = 0; i < 4; i++)
		if (i < 2 || strings[i]->len > 0)
			put_sub16(w, i, strings[i]);
	if (bd->has_base_mac)
		put_sub16(w, 4, &mac);
	return elem_end(w, start, d, err);
}

/* ------------------------------------------------------------------------
 * 39 WTP Descriptor (RFC layout; Cisco's draft-7 form is not decoded)
 * ------------------------------------------------------------------------ */

static enum capwap_status dec_wtp_descriptor(struct capwap_message *m,
					     const struct capwap_elem_desc *d,
					     const uint8_t *v, size_t len,
					     struct capwap_error *err)
{
	struct capwap_wtp_descriptor *wd = &m->wtp_descriptor;
	struct capwap_reader r;
	uint8_t n_encrypt;
	size_t i;
	struct info_slot slots[] = {
		{ 0, "hardware version", true, &wd->hardware_version },
		{ 1, "active software version", true, &wd->software_version },
		{ 2, "boot version", true, &wd->boot_version },
		{ 3, "other software version", false, &wd->other_version },
	};

	/* The table guarantees the fixed part (length >= 33). */
	wd->max_radios = v[0];
	wd->radios_in_use = v[1];
	n_encrypt = v[2];
	capwap_reader_init(&r, v + 3, len - 3);
	if (n_encrypt == 0)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): Num Encrypt 0, must be 1..255",
				   d->name, d->type);
	if ((size_t)n_encrypt * 3 > capwap_reader_left(&r))
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): Num Encrypt %u needs %u bytes, %zu left",
				   d->name, d->type, n_encrypt, n_encrypt * 3,
				   capwap_reader_left(&r));
	for (i = 0; i < n_encrypt && i < CAPWAP_MAX_ENCRYPT; i++) {
		const uint8_t *e = r.buf + r.off + 3 * i;

		wd->encrypt[i].wbid = e[0] & 0x1f;
		wd->encrypt[i].capabilities = capwap_load_be16(e + 1);
	}
	r.off += (size_t)n_encrypt * 3;	/* entries past the kept ones: skipped */
	wd->n_encrypt = n_encrypt < CAPWAP_MAX_ENCRYPT ? n_encrypt
						       : CAPWAP_MAX_ENCRYPT;
	m->has_wtp_descriptor = true;
	return decode_info_list(&r, d, slots, 4, err);
}

static enum capwap_status enc_wtp_descriptor(struct capwap_writer *w,
					     const struct capwap_message *m,
					     const struct capwap_elem_desc *d,
					     struct capwap_error *err)
{
	const struct capwap_wtp_descriptor *wd = &m->wtp_descriptor;
	enum capwap_status st;
	size_t start, i;

	if (!m->has_wtp_descriptor)
		return CAPWAP_OK;
	if (wd->n_encrypt == 0 || wd->n_encrypt > CAPWAP_MAX_ENCRYPT)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): %u encryption entries, must be 1..%d",
				   d->name, d->type, wd->n_encrypt,
				   CAPWAP_MAX_ENCRYPT);
	start = elem_begin(w, d->type);
	capwap_put_u8(w, wd->max_radios);
	capwap_put_u8(w, wd->radios_in_use);
	capwap_put_u8(w, wd->n_encrypt);
	for (i = 0; i < wd->n_encrypt; i++) {
		capwap_put_u8(w, wd->encrypt[i].wbid & 0x1f);
		capwap_put_be16(w, wd->encrypt[i].capabilities);
	}
	st = encode_info(w, d, 0, &wd->hardware_version, err);
	if (st == CAPWAP_OK)
		st = encode_info(w, d, 1, &wd->software_version, err);
	if (st == CAPWAP_OK)
		st = encode_info(w, d, 2, &wd->boot_version, err);
	if (st == CAPWAP_OK && wd->other_version.value.len > 0)
		st = encode_info(w, d, 3, &wd->other_version, err);
	if (st != CAPWAP_OK)
		return st;
	return elem_end(w, start, d, err);
}

/* ------------------------------------------------------------------------
 * 48 WTP Reboot Statistics
 * ------------------------------------------------------------------------ */

static enum capwap_status dec_reboot_stats(struct capwap_message *m,
					   const struct capwap_elem_desc *d,
					   const uint8_t *v, size_t len,
					   struct capwap_error *err)
{
	struct capwap_reboot_stats *rs = &m->reboot_stats;

	(void)d;
	(void)len;
	(void)err;
	rs->reboot_count = capwap_load_be16(v);
	rs->ac_initiated = capwap_load_be16(v + 2);
	rs->link_failure = capwap_load_be16(v + 4);
	rs->sw_failure = capwap_load_be16(v + 6);
	rs->hw_failure = capwap_load_be16(v + 8);
	rs->other_failure = capwap_load_be16(v + 10);
	rs->unknown_failure = capwap_load_be16(v + 12);
	rs->last_failure_type = v[14];
	m->has_reboot_stats = true;
	return CAPWAP_OK;
}

static enum capwap_status enc_reboot_stats(struct capwap_writer *w,
					   const struct capwap_message *m,
					   const struct capwap_elem_desc *d,
					   struct capwap_error *err)
{
	const struct capwap_reboot_stats *rs = &m->reboot_stats;
	size_t start;

	if (!m->has_reboot_stats)
		return CAPWAP_OK;
	start = elem_begin(w, d->type);
	capwap_put_be16(w, rs->reboot_count);
	capwap_put_be16(w, rs->ac_initiated);
	capwap_put_be16(w, rs->link_failure);
	capwap_put_be16(w, rs->sw_failure);
	capwap_put_be16(w, rs->hw_failure);
	capwap_put_be16(w, rs->other_failure);
	capwap_put_be16(w, rs->unknown_failure);
	capwap_put_u8(w, rs->last_failure_type);
	return elem_end(w, start, d, err);
}

/* ------------------------------------------------------------------------
 * 1048 IEEE 802.11 WTP Radio Information (one per radio)
 * ------------------------------------------------------------------------ */

static enum capwap_status dec_radio_info(struct capwap_message *m,
					 const struct capwap_elem_desc *d,
					 const uint8_t *v, size_t len,
					 struct capwap_error *err)
{
	(void)len;
	if (m->n_radio_info >= CAPWAP_MAX_RADIOS)
		return capwap_fail(err, CAPWAP_ERR_LIMIT,
				   "%s (%u): more than %d instances",
				   d->name, d->type, CAPWAP_MAX_RADIOS);
	m->radio_info[m->n_radio_info].radio_id = v[0];
	m->radio_info[m->n_radio_info].radio_type = capwap_load_be32(v + 1);
	m->n_radio_info++;
	return CAPWAP_OK;
}

static enum capwap_status enc_radio_info(struct capwap_writer *w,
					 const struct capwap_message *m,
					 const struct capwap_elem_desc *d,
					 struct capwap_error *err)
{
	enum capwap_status st;
	size_t i, start;

	if (m->n_radio_info > CAPWAP_MAX_RADIOS)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s (%u): %u instances, at most %d",
				   d->name, d->type, m->n_radio_info, CAPWAP_MAX_RADIOS);
	for (i = 0; i < m->n_radio_info; i++) {
		start = elem_begin(w, d->type);
		capwap_put_u8(w, m->radio_info[i].radio_id);
		capwap_put_be32(w, m->radio_info[i].radio_type);
		st = elem_end(w, start, d, err);
		if (st != CAPWAP_OK)
			return st;
	}
	return CAPWAP_OK;
}

/* ------------------------------------------------------------------------
 * The table. Order is the canonical encoding order. Length rules are the
 * RFC's (§1.8, RFC 5416 §6); elements without a decoder are kept raw.
 * ------------------------------------------------------------------------ */

static const struct capwap_elem_desc elem_table[] = {
	{ 1, "AC Descriptor", 12, ANY, 0, dec_ac_descriptor, enc_ac_descriptor },
	{ 2, "AC IPv4 List", 4, ANY, 0, dec_ac_ipv4_list, enc_ac_ipv4_list },
	{ 3, "AC IPv6 List", 16, ANY, 0, dec_ac_ipv6_list, NULL },
	{ 4, "AC Name", 1, MAX_NAME, 0, dec_string, enc_string },
	{ 5, "AC Name with Priority", 2, MAX_NAME + 1, REP, NULL, NULL },
	{ 6, "AC Timestamp", 4, 4, 0, NULL, NULL },
	{ 7, "Add MAC ACL Entry", 8, ANY, REP, NULL, NULL },
	{ 8, "Add Station", 8, ANY, REP, NULL, NULL },
	{ 10, "CAPWAP Control IPv4 Address", 6, 6, REP, dec_control_ipv4, enc_control_ipv4 },
	{ 11, "CAPWAP Control IPv6 Address", 18, 18, REP, dec_control_ipv6, enc_control_ipv6 },
	{ 12, "CAPWAP Timers", 2, 2, 0, dec_timers, enc_timers },
	{ 13, "Data Transfer Data", 5, ANY, 0, NULL, NULL },
	{ 14, "Data Transfer Mode", 1, 1, 0, NULL, NULL },
	{ 15, "Decryption Error Report", 9, ANY, REP, NULL, NULL },
	{ 16, "Decryption Error Report Period", 3, 3, REP, dec_decrypt_period, enc_decrypt_period },
	{ 17, "Delete MAC ACL Entry", 8, ANY, REP, NULL, NULL },
	{ 18, "Delete Station", 8, ANY, REP, NULL, NULL },
	{ 20, "Discovery Type", 1, 1, 0, dec_u8, enc_u8 },
	{ 21, "Duplicate IPv4 Address", 12, ANY, REP, NULL, NULL },
	{ 22, "Duplicate IPv6 Address", 24, ANY, REP, NULL, NULL },
	{ 23, "Idle Timeout", 4, 4, 0, dec_idle_timeout, enc_idle_timeout },
	{ 24, "Image Data", 1, ANY, 0, NULL, NULL },
	{ 25, "Image Identifier", 5, 4 + CAPWAP_MAX_STRING, 0, dec_image_identifier, enc_image_identifier },
	{ 26, "Image Information", 20, 20, 0, NULL, NULL },
	{ 27, "Initiate Download", 0, 0, 0, NULL, NULL },
	{ 28, "Location Data", 1, CAPWAP_MAX_STRING, 0, dec_string, enc_string },
	{ 29, "Maximum Message Length", 2, 2, 0, dec_max_message_length, enc_max_message_length },
	{ 30, "CAPWAP Local IPv4 Address", 4, 4, 0, dec_local_ipv4, enc_local_ipv4 },
	{ 31, "Radio Administrative State", 2, 2, REP, dec_radio_admin, enc_radio_admin },
	{ 32, "Radio Operational State", 3, 3, REP, dec_radio_oper, enc_radio_oper },
	{ 33, "Result Code", 4, 4, 0, dec_result_code, enc_result_code },
	{ 34, "Returned Message Element", 6, 2 + 255, REP, dec_returned, enc_returned },
	{ 35, "Session ID", 16, 16, 0, dec_session_id, enc_session_id },
	{ 36, "Statistics Timer", 2, 2, 0, dec_statistics_timer, enc_statistics_timer },
	/* The RFC asks for at least one data byte; Cisco sends empty vendor
	 * elements, and the 2048-byte data cap is not enforced (§2.5). */
	{ 37, "Vendor Specific Payload", 6, ANY, REP, dec_vsp, enc_vsp },
	{ 38, "WTP Board Data", 14, ANY, 0, dec_board_data, enc_board_data },
	{ 39, "WTP Descriptor", 33, ANY, 0, dec_wtp_descriptor, enc_wtp_descriptor },
	{ 40, "WTP Fallback", 1, 1, 0, dec_u8, enc_u8 },
	{ 41, "WTP Frame Tunnel Mode", 1, 1, 0, dec_u8, enc_u8 },
	/* Cisco's draft-7 "WTP IPv4/IPv6 IP Address": accepted, ignored. */
	{ 42, "Cisco WTP IPv4 Address", 4, 4, REP, NULL, NULL },
	{ 43, "Cisco WTP IPv6 Address", 16, 16, REP, NULL, NULL },
	{ 44, "WTP MAC Type", 1, 1, 0, dec_u8, enc_u8 },
	{ 45, "WTP Name", 1, MAX_NAME, 0, dec_string, enc_string },
	{ 47, "WTP Radio Statistics", 20, 20, REP, NULL, NULL },
	{ 48, "WTP Reboot Statistics", 15, 15, 0, dec_reboot_stats, enc_reboot_stats },
	{ 49, "WTP Static IP Address Information", 13, 13, 0, NULL, NULL },
	{ 50, "CAPWAP Local IPv6 Address", 16, 16, 0, dec_local_ipv6, enc_local_ipv6 },
	{ 51, "CAPWAP Transport Protocol", 1, 1, 0, dec_u8, enc_u8 },
	{ 52, "MTU Discovery Padding", 0, ANY, 0, NULL, NULL },
	{ 53, "ECN Support", 1, 1, 0, dec_u8, enc_u8 },
	/* IEEE 802.11 binding (RFC 5416 §6): every one starts with a radio id
	 * or a MAC, so at least one byte. */
	{ 1024, "IEEE 802.11 Add WLAN", 1, ANY, BIND, NULL, NULL },
	{ 1025, "IEEE 802.11 Antenna", 1, ANY, BIND, NULL, NULL },
	{ 1026, "IEEE 802.11 Assigned WTP BSSID", 1, ANY, BIND, NULL, NULL },
	{ 1027, "IEEE 802.11 Delete WLAN", 1, ANY, BIND, NULL, NULL },
	{ 1028, "IEEE 802.11 Direct Sequence Control", 1, ANY, BIND, NULL, NULL },
	{ 1029, "IEEE 802.11 Information Element", 1, ANY, BIND, NULL, NULL },
	{ 1030, "IEEE 802.11 MAC Operation", 1, ANY, BIND, NULL, NULL },
	{ 1031, "IEEE 802.11 MIC Countermeasures", 1, ANY, BIND, NULL, NULL },
	{ 1032, "IEEE 802.11 Multi-Domain Capability", 1, ANY, BIND, NULL, NULL },
	{ 1033, "IEEE 802.11 OFDM Control", 1, ANY, BIND, NULL, NULL },
	{ 1034, "IEEE 802.11 Rate Set", 1, ANY, BIND, NULL, NULL },
	{ 1035, "IEEE 802.11 RSNA Error Report From Station", 1, ANY, BIND, NULL, NULL },
	{ 1036, "IEEE 802.11 Station", 1, ANY, BIND, NULL, NULL },
	{ 1037, "IEEE 802.11 Station QoS Profile", 1, ANY, BIND, NULL, NULL },
	{ 1038, "IEEE 802.11 Station Session Key", 1, ANY, BIND, NULL, NULL },
	{ 1039, "IEEE 802.11 Statistics", 1, ANY, BIND, NULL, NULL },
	{ 1040, "IEEE 802.11 Supported Rates", 1, ANY, BIND, NULL, NULL },
	{ 1041, "IEEE 802.11 Tx Power", 1, ANY, BIND, NULL, NULL },
	{ 1042, "IEEE 802.11 Tx Power Level", 1, ANY, BIND, NULL, NULL },
	{ 1043, "IEEE 802.11 Update Station QoS", 1, ANY, BIND, NULL, NULL },
	{ 1044, "IEEE 802.11 Update WLAN", 1, ANY, BIND, NULL, NULL },
	{ 1045, "IEEE 802.11 WTP Quality of Service", 1, ANY, BIND, NULL, NULL },
	{ 1046, "IEEE 802.11 WTP Radio Configuration", 1, ANY, BIND, NULL, NULL },
	{ 1047, "IEEE 802.11 WTP Radio Fail Alarm Indication", 1, ANY, BIND, NULL, NULL },
	{ 1048, "IEEE 802.11 WTP Radio Information", 5, 5, BIND, dec_radio_info, enc_radio_info },
	{ 1049, "IEEE 802.11 Supported MAC Profiles", 1, ANY, BIND, NULL, NULL },
	{ 1050, "IEEE 802.11 MAC Profile", 1, ANY, BIND, NULL, NULL },
};

#define N_ELEMS (sizeof(elem_table) / sizeof(elem_table[0]))
_Static_assert(N_ELEMS <= CAPWAP_ELEM_TABLE_MAX, "seen-bitmaps too small");

const struct capwap_elem_desc *capwap_elem_desc_find(uint16_t type)
{
	size_t lo = 0, hi = N_ELEMS;

	/* The table is sorted by type. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (elem_table[mid].type == type)
			return &elem_table[mid];
		if (elem_table[mid].type < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t capwap_elem_desc_index(const struct capwap_elem_desc *d)
{
	return (size_t)(d - elem_table);
}

const char *capwap_elem_type_name(uint16_t type)
{
	const struct capwap_elem_desc *d = capwap_elem_desc_find(type);

	return d != NULL ? d->name : "Unknown";
}

enum capwap_status capwap_elems_encode(struct capwap_writer *w,
				       const struct capwap_message *m,
				       struct capwap_error *err)
{
	enum capwap_status st;
	size_t i;

	for (i = 0; i < N_ELEMS; i++) {
		if (elem_table[i].encode == NULL)
			continue;
		st = elem_table[i].encode(w, m, &elem_table[i], err);
		if (st != CAPWAP_OK)
			return st;
	}
	return CAPWAP_OK;
}

/* Presence of a typed field; raw-only types answer false here. */
static bool typed_present(const struct capwap_message *m, uint16_t type)
{
	switch (type) {
	case CAPWAP_ELEM_AC_DESCRIPTOR:       return m->has_ac_descriptor;
	case CAPWAP_ELEM_AC_IPV4_LIST:        return m->n_ac_ipv4 > 0;
	case CAPWAP_ELEM_AC_NAME:             return m->has_ac_name;
	case CAPWAP_ELEM_CONTROL_IPV4:        return m->has_control_ipv4;
	case CAPWAP_ELEM_CONTROL_IPV6:        return m->has_control_ipv6;
	case CAPWAP_ELEM_TIMERS:              return m->has_timers;
	case CAPWAP_ELEM_DECRYPT_ERROR_PERIOD: return m->has_decrypt_error_period;
	case CAPWAP_ELEM_DISCOVERY_TYPE:      return m->has_discovery_type;
	case CAPWAP_ELEM_IDLE_TIMEOUT:        return m->has_idle_timeout;
	case CAPWAP_ELEM_IMAGE_IDENTIFIER:    return m->has_image_identifier;
	case CAPWAP_ELEM_LOCATION_DATA:       return m->has_location;
	case CAPWAP_ELEM_MAX_MESSAGE_LENGTH:  return m->has_max_message_length;
	case CAPWAP_ELEM_LOCAL_IPV4:          return m->has_local_ipv4;
	case CAPWAP_ELEM_LOCAL_IPV6:          return m->has_local_ipv6;
	case CAPWAP_ELEM_RADIO_ADMIN_STATE:   return m->n_radio_admin > 0;
	case CAPWAP_ELEM_RADIO_OPER_STATE:    return m->n_radio_oper > 0;
	case CAPWAP_ELEM_RESULT_CODE:         return m->has_result_code;
	case CAPWAP_ELEM_RETURNED_ELEMENT:    return m->n_returned > 0;
	case CAPWAP_ELEM_SESSION_ID:          return m->has_session_id;
	case CAPWAP_ELEM_STATISTICS_TIMER:    return m->has_statistics_timer;
	case CAPWAP_ELEM_VENDOR_SPECIFIC:
		return m->n_vsp > 0 || m->has_lsc_params || m->has_lsc_cert;
	case CAPWAP_ELEM_WTP_BOARD_DATA:      return m->has_board_data;
	case CAPWAP_ELEM_WTP_DESCRIPTOR:      return m->has_wtp_descriptor;
	case CAPWAP_ELEM_WTP_FALLBACK:        return m->has_wtp_fallback;
	case CAPWAP_ELEM_WTP_FRAME_TUNNEL_MODE: return m->has_frame_tunnel_mode;
	case CAPWAP_ELEM_WTP_MAC_TYPE:        return m->has_mac_type;
	case CAPWAP_ELEM_WTP_NAME:            return m->has_wtp_name;
	case CAPWAP_ELEM_WTP_REBOOT_STATS:    return m->has_reboot_stats;
	case CAPWAP_ELEM_TRANSPORT_PROTOCOL:  return m->has_transport_protocol;
	case CAPWAP_ELEM_ECN_SUPPORT:         return m->has_ecn_support;
	case CAPWAP_ELEM_IEEE80211_RADIO_INFO: return m->n_radio_info > 0;
	}
	return false;
}

bool capwap_message_has_elem(const struct capwap_message *m, uint16_t type)
{
	size_t i, n = m->n_raw < CAPWAP_MAX_ELEMENTS ? m->n_raw
						     : CAPWAP_MAX_ELEMENTS;

	if (typed_present(m, type))
		return true;
	for (i = 0; i < n; i++)
		if (m->raw[i].type == type)
			return true;
	return false;
}
