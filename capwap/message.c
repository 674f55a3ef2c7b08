/*
 * message.c — whole control messages: the table of message types with their
 * mandatory elements (§1.9), and capwap_decode / capwap_encode.
 */
#include <string.h>

#include "capwap/capwap_int.h"

/* ------------------------------------------------------------------------
 * Mandatory elements per message (§1.9)
 * ------------------------------------------------------------------------ */

#define REQ(name, ...) { name, { __VA_ARGS__ }, false }

static const struct capwap_requirement discovery_req[] = {
	REQ("Discovery Type (20)", CAPWAP_ELEM_DISCOVERY_TYPE),
	REQ("WTP Board Data (38)", CAPWAP_ELEM_WTP_BOARD_DATA),
	REQ("WTP Descriptor (39)", CAPWAP_ELEM_WTP_DESCRIPTOR),
	REQ("WTP Frame Tunnel Mode (41)", CAPWAP_ELEM_WTP_FRAME_TUNNEL_MODE),
	REQ("WTP MAC Type (44)", CAPWAP_ELEM_WTP_MAC_TYPE),
	REQ("IEEE 802.11 WTP Radio Information (1048)", CAPWAP_ELEM_IEEE80211_RADIO_INFO),
};

static const struct capwap_requirement discovery_resp[] = {
	REQ("AC Descriptor (1)", CAPWAP_ELEM_AC_DESCRIPTOR),
	REQ("AC Name (4)", CAPWAP_ELEM_AC_NAME),
	REQ("IEEE 802.11 WTP Radio Information (1048)", CAPWAP_ELEM_IEEE80211_RADIO_INFO),
	REQ("CAPWAP Control IPv4 (10) or IPv6 (11) Address",
	    CAPWAP_ELEM_CONTROL_IPV4, CAPWAP_ELEM_CONTROL_IPV6),
};

static const struct capwap_requirement join_req[] = {
	REQ("Location Data (28)", CAPWAP_ELEM_LOCATION_DATA),
	REQ("WTP Board Data (38)", CAPWAP_ELEM_WTP_BOARD_DATA),
	REQ("WTP Descriptor (39)", CAPWAP_ELEM_WTP_DESCRIPTOR),
	REQ("WTP Name (45)", CAPWAP_ELEM_WTP_NAME),
	REQ("Session ID (35)", CAPWAP_ELEM_SESSION_ID),
	REQ("WTP Frame Tunnel Mode (41)", CAPWAP_ELEM_WTP_FRAME_TUNNEL_MODE),
	REQ("WTP MAC Type (44)", CAPWAP_ELEM_WTP_MAC_TYPE),
	REQ("IEEE 802.11 WTP Radio Information (1048)", CAPWAP_ELEM_IEEE80211_RADIO_INFO),
	REQ("ECN Support (53)", CAPWAP_ELEM_ECN_SUPPORT),
	REQ("CAPWAP Local IPv4 (30) or IPv6 (50) Address",
	    CAPWAP_ELEM_LOCAL_IPV4, CAPWAP_ELEM_LOCAL_IPV6),
};

static const struct capwap_requirement join_resp[] = {
	REQ("Result Code (33)", CAPWAP_ELEM_RESULT_CODE),
	REQ("AC Descriptor (1)", CAPWAP_ELEM_AC_DESCRIPTOR),
	REQ("AC Name (4)", CAPWAP_ELEM_AC_NAME),
	REQ("IEEE 802.11 WTP Radio Information (1048)", CAPWAP_ELEM_IEEE80211_RADIO_INFO),
	REQ("ECN Support (53)", CAPWAP_ELEM_ECN_SUPPORT),
	REQ("CAPWAP Control IPv4 (10) or IPv6 (11) Address",
	    CAPWAP_ELEM_CONTROL_IPV4, CAPWAP_ELEM_CONTROL_IPV6),
	REQ("CAPWAP Local IPv4 (30) or IPv6 (50) Address",
	    CAPWAP_ELEM_LOCAL_IPV4, CAPWAP_ELEM_LOCAL_IPV6),
};

static const struct capwap_requirement config_status_req[] = {
	REQ("AC Name (4)", CAPWAP_ELEM_AC_NAME),
	REQ("Radio Administrative State (31)", CAPWAP_ELEM_RADIO_ADMIN_STATE),
	REQ("Statistics Timer (36)", CAPWAP_ELEM_STATISTICS_TIMER),
	REQ("WTP Reboot Statistics (48)", CAPWAP_ELEM_WTP_REBOOT_STATS),
};

static const struct capwap_requirement config_status_resp[] = {
	REQ("CAPWAP Timers (12)", CAPWAP_ELEM_TIMERS),
	REQ("Decryption Error Report Period (16)", CAPWAP_ELEM_DECRYPT_ERROR_PERIOD),
	REQ("Idle Timeout (23)", CAPWAP_ELEM_IDLE_TIMEOUT),
	REQ("WTP Fallback (40)", CAPWAP_ELEM_WTP_FALLBACK),
	REQ("AC IPv4 List (2) or AC IPv6 List (3)",
	    CAPWAP_ELEM_AC_IPV4_LIST, CAPWAP_ELEM_AC_IPV6_LIST),
};

/* "At least one of" lists; 802.11 binding elements also count. */
static const struct capwap_requirement config_update_req[] = {
	{ "one configuration element (5, 6, 7, 12, 16, 17, 23, 25, 28, 31, 36, "
	  "37, 40, 45, 49 or 802.11 binding)",
	  { 5, 6, 7, 12, 16, 17, 23, 25, 28, 31, 36, 37, 40, 45, 49 }, true },
};

static const struct capwap_requirement config_update_resp[] = {
	REQ("Result Code (33)", CAPWAP_ELEM_RESULT_CODE),
};

static const struct capwap_requirement wtp_event_req[] = {
	{ "one event element (15, 18, 21, 22, 37, 47, 48 or 802.11 binding)",
	  { 15, 18, 21, 22, 37, 47, 48 }, true },
};

static const struct capwap_requirement change_state_req[] = {
	REQ("Radio Operational State (32)", CAPWAP_ELEM_RADIO_OPER_STATE),
	REQ("Result Code (33)", CAPWAP_ELEM_RESULT_CODE),
};

static const struct capwap_requirement reset_req[] = {
	REQ("Image Identifier (25)", CAPWAP_ELEM_IMAGE_IDENTIFIER),
};

#define REQS(a) a, sizeof(a) / sizeof(a[0])

static const struct capwap_msg_desc msg_table[] = {
	{ CAPWAP_DISCOVERY_REQUEST, "Discovery Request", REQS(discovery_req) },
	{ CAPWAP_DISCOVERY_RESPONSE, "Discovery Response", REQS(discovery_resp) },
	{ CAPWAP_JOIN_REQUEST, "Join Request", REQS(join_req) },
	{ CAPWAP_JOIN_RESPONSE, "Join Response", REQS(join_resp) },
	{ CAPWAP_CONFIG_STATUS_REQUEST, "Configuration Status Request", REQS(config_status_req) },
	{ CAPWAP_CONFIG_STATUS_RESPONSE, "Configuration Status Response", REQS(config_status_resp) },
	{ CAPWAP_CONFIG_UPDATE_REQUEST, "Configuration Update Request", REQS(config_update_req) },
	{ CAPWAP_CONFIG_UPDATE_RESPONSE, "Configuration Update Response", REQS(config_update_resp) },
	{ CAPWAP_WTP_EVENT_REQUEST, "WTP Event Request", REQS(wtp_event_req) },
	{ CAPWAP_WTP_EVENT_RESPONSE, "WTP Event Response", NULL, 0 },
	{ CAPWAP_CHANGE_STATE_REQUEST, "Change State Event Request", REQS(change_state_req) },
	{ CAPWAP_CHANGE_STATE_RESPONSE, "Change State Event Response", NULL, 0 },
	{ CAPWAP_ECHO_REQUEST, "Echo Request", NULL, 0 },
	{ CAPWAP_ECHO_RESPONSE, "Echo Response", NULL, 0 },
	{ CAPWAP_RESET_REQUEST, "Reset Request", REQS(reset_req) },
	{ CAPWAP_RESET_RESPONSE, "Reset Response", NULL, 0 },
};

const struct capwap_msg_desc *capwap_msg_desc_find(uint32_t type)
{
	size_t i;

	for (i = 0; i < sizeof(msg_table) / sizeof(msg_table[0]); i++)
		if (msg_table[i].type == type)
			return &msg_table[i];
	return NULL;
}

static bool has_binding_elem(const struct capwap_message *m)
{
	size_t i, n = m->n_raw < CAPWAP_MAX_ELEMENTS ? m->n_raw
						     : CAPWAP_MAX_ELEMENTS;

	if (m->n_radio_info > 0)
		return true;
	for (i = 0; i < n; i++) {
		const struct capwap_elem_desc *d = capwap_elem_desc_find(m->raw[i].type);

		if (d != NULL && (d->flags & CAPWAP_ELEM_F_BINDING))
			return true;
	}
	return false;
}

static bool requirement_met(const struct capwap_message *m,
			    const struct capwap_requirement *rq)
{
	size_t i;

	if (rq->binding && has_binding_elem(m))
		return true;
	for (i = 0; i < sizeof(rq->any_of) / sizeof(rq->any_of[0]); i++) {
		/* Type 0 is reserved, so it ends the list. */
		if (rq->any_of[i] == 0)
			break;
		if (capwap_message_has_elem(m, rq->any_of[i]))
			return true;
	}
	return false;
}

enum capwap_status capwap_check_mandatory(const struct capwap_message *m,
					  struct capwap_error *err)
{
	const struct capwap_msg_desc *md = capwap_msg_desc_find(m->type);
	size_t i;

	if (md == NULL)
		return capwap_fail(err, CAPWAP_ERR_UNSUPPORTED,
				   "message type %u (%s) not supported",
				   m->type, capwap_msg_type_name(m->type));
	for (i = 0; i < md->n_required; i++)
		if (!requirement_met(m, &md->required[i]))
			return capwap_fail(err, CAPWAP_ERR_MISSING,
					   "%s: missing mandatory element %s",
					   md->name, md->required[i].what);
	return CAPWAP_OK;
}

/* ------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------ */

void capwap_message_init(struct capwap_message *m, uint32_t type, uint8_t seq)
{
	memset(m, 0, sizeof(*m));
	m->hdr.wbid = CAPWAP_WBID_IEEE80211;
	m->type = type;
	m->seq = seq;
}

/* Walk the elements of one message. The walk is bounded by the message;
 * every element is recorded raw before it is interpreted, so on failure
 * the offending element is the last one in m->raw. */
static enum capwap_status decode_elements(const uint8_t *buf, size_t len,
					  const struct capwap_msg_desc *md,
					  struct capwap_message *m,
					  struct capwap_error *err)
{
	uint8_t seen[CAPWAP_ELEM_TABLE_MAX / 8];
	struct capwap_reader r;
	enum capwap_status st;

	memset(seen, 0, sizeof(seen));
	capwap_reader_init(&r, buf, len);
	while (capwap_reader_left(&r) > 0) {
		const struct capwap_elem_desc *d;
		size_t at = r.off, idx;
		uint16_t type, elen;
		struct capwap_bytes value;

		if (capwap_reader_left(&r) < 4)
			return capwap_fail(err, CAPWAP_ERR_TRUNCATED,
					   "%s: element header at offset %zu needs 4 bytes, %zu left",
					   md->name, at, capwap_reader_left(&r));
		type = capwap_load_be16(r.buf + at);
		elen = capwap_load_be16(r.buf + at + 2);
		r.off += 4;
		if (!capwap_get_bytes(&r, elen, &value))
			return capwap_fail(err, CAPWAP_ERR_TRUNCATED,
					   "%s: %s (%u) at offset %zu length %u past end (%zu left)",
					   md->name, capwap_elem_type_name(type), type,
					   at, elen, capwap_reader_left(&r));
		if (m->n_raw >= CAPWAP_MAX_ELEMENTS)
			return capwap_fail(err, CAPWAP_ERR_LIMIT,
					   "%s: more than %d elements",
					   md->name, CAPWAP_MAX_ELEMENTS);
		m->raw[m->n_raw].type = type;
		m->raw[m->n_raw].len = elen;
		m->raw[m->n_raw].value = value.ptr;
		m->n_raw++;

		if (type == 0)
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s: element type 0 (reserved) at offset %zu",
					   md->name, at);
		d = capwap_elem_desc_find(type);
		if (d == NULL)
			return capwap_fail(err, CAPWAP_ERR_UNKNOWN_ELEMENT,
					   "%s: unknown element type %u (length %u) at offset %zu",
					   md->name, type, elen, at);
		st = capwap_elem_check_len(d, elen, err);
		if (st != CAPWAP_OK)
			return st;
		idx = capwap_elem_desc_index(d);
		if (!(d->flags & CAPWAP_ELEM_F_REPEATABLE)) {
			if (seen[idx / 8] & (1u << (idx % 8)))
				return capwap_fail(err, CAPWAP_ERR_DUPLICATE,
						   "%s: %s (%u) appears twice",
						   md->name, d->name, d->type);
			seen[idx / 8] |= (uint8_t)(1u << (idx % 8));
		}
		if (d->decode != NULL) {
			st = d->decode(m, d, value.ptr, value.len, err);
			if (st != CAPWAP_OK)
				return st;
		}
	}
	return CAPWAP_OK;
}

enum capwap_status capwap_decode(const uint8_t *buf, size_t len,
				 struct capwap_message *m,
				 struct capwap_error *err)
{
	const struct capwap_msg_desc *md;
	struct capwap_reader r;
	enum capwap_status st;
	size_t hlen, elems_len;
	uint16_t mel;
	uint8_t flags;

	memset(m, 0, sizeof(*m));
	capwap_error_clear(err);
	st = capwap_header_decode(buf, len, &m->hdr, &hlen, err);
	if (st != CAPWAP_OK)
		return st;
	if (m->hdr.fragment)
		return capwap_fail(err, CAPWAP_ERR_FRAGMENT,
				   "fragment (id %u, offset %u): reassemble before decoding",
				   m->hdr.frag_id, m->hdr.frag_offset);

	capwap_reader_init(&r, buf + hlen, len - hlen);
	if (capwap_reader_left(&r) < CAPWAP_CTRL_HDR_LEN)
		return capwap_fail(err, CAPWAP_ERR_TRUNCATED,
				   "control header needs 8 bytes, %zu after the CAPWAP header",
				   capwap_reader_left(&r));
	capwap_get_be32(&r, &m->type);
	capwap_get_u8(&r, &m->seq);
	capwap_get_be16(&r, &mel);
	capwap_get_u8(&r, &flags);
	/* From here on a response with a Result Code can be built. The
	 * flags byte must be zero on send and is ignored on receipt. */
	m->ctrl_valid = true;

	md = capwap_msg_desc_find(m->type);
	if (md == NULL)
		return capwap_fail(err, CAPWAP_ERR_UNSUPPORTED,
				   "message type %u (%s) not supported",
				   m->type, capwap_msg_type_name(m->type));

	/* The field counts itself and the flags byte (§1.5). Never trusted
	 * for sizing: it must agree with the bytes that are there. */
	elems_len = capwap_reader_left(&r);
	if (mel < 3)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s: Msg Element Length %u, minimum is 3",
				   md->name, mel);
	if ((size_t)mel - 3 > elems_len)
		return capwap_fail(err, CAPWAP_ERR_TRUNCATED,
				   "%s: Msg Element Length %u announces %u element bytes, %zu present",
				   md->name, mel, mel - 3, elems_len);
	if ((size_t)mel - 3 < elems_len)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s: Msg Element Length %u announces %u element bytes, %zu trailing bytes follow",
				   md->name, mel, mel - 3, elems_len - (mel - 3));

	st = decode_elements(buf + hlen + CAPWAP_CTRL_HDR_LEN, elems_len, md, m, err);
	if (st != CAPWAP_OK)
		return st;
	return capwap_check_mandatory(m, err);
}

static enum capwap_status encode_message(struct capwap_writer *w,
					 const struct capwap_message *m,
					 struct capwap_error *err)
{
	struct capwap_header hdr = m->hdr;
	enum capwap_status st;
	size_t start = w->len, mel_off, elems_start, i;

	/* An unknown request is answered with its type + 1 and Result Code 19
	 * (RFC 5415 §4.5): that response type is unknown too, so it has no
	 * mandatory elements beyond the Result Code. */
	bool answers_unknown = capwap_msg_desc_find(m->type) == NULL && !capwap_is_request(m->type) &&
			       capwap_msg_desc_find(m->type - 1) == NULL && m->has_result_code;
	if (!answers_unknown) {
		st = capwap_check_mandatory(m, err);
		if (st != CAPWAP_OK)
			return st;
	}
	if (m->n_raw > CAPWAP_MAX_ELEMENTS)
		return capwap_fail(err, CAPWAP_ERR_LIMIT,
				   "%u raw elements, at most %d",
				   m->n_raw, CAPWAP_MAX_ELEMENTS);

	/* A message is encoded whole; capwap_fragment() splits it later. */
	hdr.fragment = false;
	hdr.last_fragment = false;
	hdr.frag_id = 0;
	hdr.frag_offset = 0;
	st = capwap_header_encode(w, &hdr);
	if (st == CAPWAP_ERR_NOSPACE)
		return capwap_fail(err, st, "no room for the CAPWAP header");
	if (st != CAPWAP_OK)
		return capwap_fail(err, st,
				   "CAPWAP header: invalid field (radio id %u, WBID %u, MAC length %u, wireless info %zu bytes)",
				   hdr.radio_id, hdr.wbid, hdr.radio_mac_len,
				   hdr.wireless_info.len);

	capwap_put_be32(w, m->type);
	capwap_put_u8(w, m->seq);
	mel_off = w->len;
	capwap_put_be16(w, 0);
	capwap_put_u8(w, 0);
	elems_start = w->len;

	st = capwap_elems_encode(w, m, err);
	if (st != CAPWAP_OK)
		return st;
	for (i = 0; i < m->n_raw; i++) {
		const struct capwap_elem *e = &m->raw[i];

		if (e->len > 0 && e->value == NULL)
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "raw element %zu (type %u): NULL value",
					   i, e->type);
		capwap_put_be16(w, e->type);
		capwap_put_be16(w, e->len);
		capwap_put_data(w, e->value, e->len);
	}
	if (w->overflow)
		return capwap_fail(err, CAPWAP_ERR_NOSPACE,
				   "%s: output buffer of %zu bytes too small",
				   capwap_msg_type_name(m->type), w->cap - start);
	if (w->len - elems_start > 0xffff - 3)
		return capwap_fail(err, CAPWAP_ERR_LIMIT,
				   "%s: %zu element bytes do not fit Msg Element Length",
				   capwap_msg_type_name(m->type), w->len - elems_start);
	capwap_patch_be16(w, mel_off, (uint16_t)(w->len - elems_start + 3));
	return CAPWAP_OK;
}

enum capwap_status capwap_encode(struct capwap_writer *w,
				 const struct capwap_message *m,
				 struct capwap_error *err)
{
	size_t start = w->len;
	enum capwap_status st;

	capwap_error_clear(err);
	st = encode_message(w, m, err);
	/* Leave nothing half-written behind a failure. */
	if (st != CAPWAP_OK)
		w->len = start;
	return st;
}
