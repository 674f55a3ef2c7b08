/*
 * wire.c — the bounded writer, error reporting, and the CAPWAP transport
 * header (§1.3, §1.4). No I/O, no allocation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "capwap/capwap_int.h"

const char *capwap_status_name(enum capwap_status status)
{
	switch (status) {
	case CAPWAP_OK:                  return "ok";
	case CAPWAP_INCOMPLETE:          return "incomplete";
	case CAPWAP_ERR_TRUNCATED:       return "truncated";
	case CAPWAP_ERR_MALFORMED:       return "malformed";
	case CAPWAP_ERR_UNSUPPORTED:     return "unsupported";
	case CAPWAP_ERR_MISSING:         return "missing element";
	case CAPWAP_ERR_DUPLICATE:       return "duplicate element";
	case CAPWAP_ERR_UNKNOWN_ELEMENT: return "unknown element";
	case CAPWAP_ERR_LIMIT:           return "limit exceeded";
	case CAPWAP_ERR_FRAGMENT:        return "bad fragment";
	case CAPWAP_ERR_NOSPACE:         return "no space";
	}
	return "unknown status";
}

enum capwap_status capwap_fail(struct capwap_error *err,
			       enum capwap_status status, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return status;
	err->status = status;
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
	va_end(ap);
	return status;
}

void capwap_error_clear(struct capwap_error *err)
{
	if (err == NULL)
		return;
	err->status = CAPWAP_OK;
	err->reason[0] = '\0';
}

/* ------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------ */

void capwap_writer_init(struct capwap_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf != NULL ? cap : 0;
	w->len = 0;
	w->overflow = false;
}

/* Reserve n bytes; NULL (and the sticky flag) when they do not fit, so a
 * short buffer never sees a partial value. */
static uint8_t *writer_reserve(struct capwap_writer *w, size_t n)
{
	uint8_t *p;

	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return NULL;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

void capwap_put_u8(struct capwap_writer *w, uint8_t v)
{
	uint8_t *p = writer_reserve(w, 1);

	if (p != NULL)
		p[0] = v;
}

void capwap_put_be16(struct capwap_writer *w, uint16_t v)
{
	uint8_t *p = writer_reserve(w, 2);

	if (p != NULL) {
		p[0] = (uint8_t)(v >> 8);
		p[1] = (uint8_t)v;
	}
}

void capwap_put_be32(struct capwap_writer *w, uint32_t v)
{
	uint8_t *p = writer_reserve(w, 4);

	if (p != NULL) {
		p[0] = (uint8_t)(v >> 24);
		p[1] = (uint8_t)(v >> 16);
		p[2] = (uint8_t)(v >> 8);
		p[3] = (uint8_t)v;
	}
}

void capwap_put_data(struct capwap_writer *w, const void *data, size_t len)
{
	uint8_t *p;

	if (len == 0)
		return;
	p = writer_reserve(w, len);
	if (p != NULL)
		memcpy(p, data, len);
}

void capwap_patch_be16(struct capwap_writer *w, size_t off, uint16_t v)
{
	if (off > w->len || w->len - off < 2)
		return;
	w->buf[off] = (uint8_t)(v >> 8);
	w->buf[off + 1] = (uint8_t)v;
}

/* ------------------------------------------------------------------------
 * TLV reading
 * ------------------------------------------------------------------------ */

enum capwap_status capwap_read_tlv16(struct capwap_reader *r, const char *what,
				     uint16_t *type, struct capwap_bytes *value,
				     struct capwap_error *err)
{
	size_t at = r->off;
	uint16_t len;

	if (capwap_reader_left(r) < 4)
		return capwap_fail(err, CAPWAP_ERR_TRUNCATED,
				   "%s: TLV header at offset %zu needs 4 bytes, %zu left",
				   what, at, capwap_reader_left(r));
	*type = capwap_load_be16(r->buf + at);
	len = capwap_load_be16(r->buf + at + 2);
	r->off += 4;
	if (!capwap_get_bytes(r, len, value)) {
		r->off = at;
		return capwap_fail(err, CAPWAP_ERR_TRUNCATED,
				   "%s: type %u at offset %zu length %u past end (%zu left)",
				   what, *type, at, len, capwap_reader_left(r) - 4);
	}
	return CAPWAP_OK;
}

/* ------------------------------------------------------------------------
 * Message type names (§1.7)
 * ------------------------------------------------------------------------ */

const char *capwap_msg_type_name(uint32_t type)
{
	static const char *const names[] = {
		[1] = "Discovery Request",
		[2] = "Discovery Response",
		[3] = "Join Request",
		[4] = "Join Response",
		[5] = "Configuration Status Request",
		[6] = "Configuration Status Response",
		[7] = "Configuration Update Request",
		[8] = "Configuration Update Response",
		[9] = "WTP Event Request",
		[10] = "WTP Event Response",
		[11] = "Change State Event Request",
		[12] = "Change State Event Response",
		[13] = "Echo Request",
		[14] = "Echo Response",
		[15] = "Image Data Request",
		[16] = "Image Data Response",
		[17] = "Reset Request",
		[18] = "Reset Response",
		[19] = "Primary Discovery Request",
		[20] = "Primary Discovery Response",
		[21] = "Data Transfer Request",
		[22] = "Data Transfer Response",
		[23] = "Clear Configuration Request",
		[24] = "Clear Configuration Response",
		[25] = "Station Configuration Request",
		[26] = "Station Configuration Response",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type] != NULL)
		return names[type];
	if (type == 3398913)
		return "IEEE 802.11 WLAN Configuration Request";
	if (type == 3398914)
		return "IEEE 802.11 WLAN Configuration Response";
	return "Unknown";
}

/* ------------------------------------------------------------------------
 * CAPWAP header (§1.4)
 * ------------------------------------------------------------------------ */

/* Bytes an optional header field {length byte, data} takes once padded to
 * the 4-byte alignment the RFC requires (the header itself is aligned). */
static size_t padded_field_len(size_t data_len)
{
	return (1 + data_len + 3) & ~(size_t)3;
}

enum capwap_status capwap_header_decode(const uint8_t *buf, size_t len,
					struct capwap_header *hdr, size_t *hlen,
					struct capwap_error *err)
{
	struct capwap_reader r;
	uint32_t w0, w1;
	size_t header_bytes, need;
	uint8_t preamble;

	memset(hdr, 0, sizeof(*hdr));
	*hlen = 0;
	if (len < 1)
		return capwap_fail(err, CAPWAP_ERR_TRUNCATED, "empty packet");
	preamble = buf[0];
	if ((preamble >> 4) != 0)
		return capwap_fail(err, CAPWAP_ERR_UNSUPPORTED,
				   "preamble version %u, only 0 is spoken", preamble >> 4);
	if ((preamble & 0x0f) != CAPWAP_PREAMBLE_HEADER)
		return capwap_fail(err, CAPWAP_ERR_UNSUPPORTED,
				   "preamble type %u, expected 0 (CAPWAP header)%s",
				   preamble & 0x0f,
				   (preamble & 0x0f) == CAPWAP_PREAMBLE_DTLS ?
				   "; decrypt the DTLS record first" : "");
	if (len < 8)
		return capwap_fail(err, CAPWAP_ERR_TRUNCATED,
				   "CAPWAP header needs 8 bytes, packet has %zu", len);

	capwap_reader_init(&r, buf, len);
	capwap_get_be32(&r, &w0);
	capwap_get_be32(&r, &w1);

	header_bytes = ((w0 >> 19) & 0x1f) * 4;
	hdr->radio_id = (w0 >> 14) & 0x1f;
	hdr->wbid = (w0 >> 9) & 0x1f;
	hdr->native_frame = (w0 >> 8) & 1;
	hdr->fragment = (w0 & CAPWAP_FLAG_F) != 0;
	/* L means something only on a fragment (§1.4). */
	hdr->last_fragment = hdr->fragment && (w0 & CAPWAP_FLAG_L) != 0;
	hdr->keepalive = (w0 & CAPWAP_FLAG_K) != 0;
	/* The three reserved flag bits are ignored, as the RFC asks. */
	hdr->frag_id = (uint16_t)(w1 >> 16);
	hdr->frag_offset = (uint16_t)((w1 >> 3) & 0x1fff);

	if (header_bytes < 8)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "HLEN %zu words, minimum is 2", header_bytes / 4);
	if (header_bytes > len)
		return capwap_fail(err, CAPWAP_ERR_TRUNCATED,
				   "HLEN %zu words (%zu bytes) past packet end (%zu bytes)",
				   header_bytes / 4, header_bytes, len);
	/* Optional fields are bounded by HLEN, not by the datagram. */
	r.len = header_bytes;

	need = 8;
	if (w0 & CAPWAP_FLAG_M) {
		uint8_t mac_len;

		if (!capwap_get_u8(&r, &mac_len))
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "M flag set but HLEN %zu leaves no room for the Radio MAC length",
					   header_bytes / 4);
		if (mac_len != 6 && mac_len != 8)
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "Radio MAC length %u, must be 6 or 8", mac_len);
		need += padded_field_len(mac_len);
		if (need > header_bytes)
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "Radio MAC (%u bytes, padded %zu) runs past HLEN %zu bytes",
					   mac_len, padded_field_len(mac_len), header_bytes);
		capwap_get_copy(&r, hdr->radio_mac, mac_len);
		hdr->radio_mac_len = mac_len;
		r.off = need;
	}
	if (w0 & CAPWAP_FLAG_W) {
		uint8_t wlen;

		if (!capwap_get_u8(&r, &wlen))
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "W flag set but HLEN %zu leaves no room for the wireless info length",
					   header_bytes / 4);
		need += padded_field_len(wlen);
		if (need > header_bytes)
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "wireless info (%u bytes, padded %zu) runs past HLEN %zu bytes",
					   wlen, padded_field_len(wlen), header_bytes);
		capwap_get_bytes(&r, wlen, &hdr->wireless_info);
		r.off = need;
	}
	if (need != header_bytes)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "HLEN %zu bytes but the header fields take %zu",
				   header_bytes, need);
	*hlen = header_bytes;
	return CAPWAP_OK;
}

enum capwap_status capwap_header_encode(struct capwap_writer *w,
					const struct capwap_header *hdr)
{
	size_t header_bytes = 8;
	uint32_t w0;
	size_t pad;

	if (hdr->radio_id > 31 || hdr->wbid > 31 || hdr->frag_offset > 0x1fff)
		return CAPWAP_ERR_MALFORMED;
	if (hdr->radio_mac_len != 0 && hdr->radio_mac_len != 6 &&
	    hdr->radio_mac_len != 8)
		return CAPWAP_ERR_MALFORMED;
	if (hdr->wireless_info.len > 255 ||
	    (hdr->wireless_info.len > 0 && hdr->wireless_info.ptr == NULL))
		return CAPWAP_ERR_MALFORMED;
	/* A keep-alive is never fragmented (§5.2 row 13). */
	if (hdr->keepalive && hdr->fragment)
		return CAPWAP_ERR_MALFORMED;
	if (hdr->radio_mac_len != 0)
		header_bytes += padded_field_len(hdr->radio_mac_len);
	if (hdr->wireless_info.len != 0)
		header_bytes += padded_field_len(hdr->wireless_info.len);

	w0 = (uint32_t)CAPWAP_PREAMBLE_HEADER << 24;
	w0 |= (uint32_t)(header_bytes / 4) << 19;
	w0 |= (uint32_t)hdr->radio_id << 14;
	w0 |= (uint32_t)hdr->wbid << 9;
	if (hdr->native_frame)
		w0 |= 1u << 8;
	if (hdr->fragment)
		w0 |= CAPWAP_FLAG_F;
	if (hdr->fragment && hdr->last_fragment)
		w0 |= CAPWAP_FLAG_L;
	if (hdr->wireless_info.len != 0)
		w0 |= CAPWAP_FLAG_W;
	if (hdr->radio_mac_len != 0)
		w0 |= CAPWAP_FLAG_M;
	if (hdr->keepalive)
		w0 |= CAPWAP_FLAG_K;
	capwap_put_be32(w, w0);
	capwap_put_be16(w, hdr->frag_id);
	capwap_put_be16(w, (uint16_t)(hdr->frag_offset << 3));
	if (hdr->radio_mac_len != 0) {
		capwap_put_u8(w, hdr->radio_mac_len);
		capwap_put_data(w, hdr->radio_mac, hdr->radio_mac_len);
		for (pad = 1 + hdr->radio_mac_len; pad % 4 != 0; pad++)
			capwap_put_u8(w, 0);
	}
	if (hdr->wireless_info.len != 0) {
		capwap_put_u8(w, (uint8_t)hdr->wireless_info.len);
		capwap_put_data(w, hdr->wireless_info.ptr, hdr->wireless_info.len);
		for (pad = 1 + hdr->wireless_info.len; pad % 4 != 0; pad++)
			capwap_put_u8(w, 0);
	}
	if (w->overflow)
		return CAPWAP_ERR_NOSPACE;
	return CAPWAP_OK;
}
