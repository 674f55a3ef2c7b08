/*
 * fuzz_capwap_decode — libFuzzer target for everything in capwap/ that
 * reads peer bytes: the transport header, whole control messages, the LSC
 * bodies, reassembly (both of the input cut into fragments by
 * capwap_fragment and of the input read as a stream of packets), and the
 * MAC address in a certificate CN.
 *
 * Beyond "no crash", it checks properties that must hold for any input:
 * what decodes re-encodes into something that decodes, LSC bodies round
 * trip, and fragmenting then reassembling gives the packet back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capwap/capwap.h"

#define OUT_MAX (65536 + 256)

static uint8_t out[OUT_MAX];

static void check_message(const uint8_t *data, size_t size)
{
	struct capwap_message m, again;
	struct capwap_writer w;
	struct capwap_error err;
	enum capwap_status st;

	st = capwap_decode(data, size, &m, &err);
	if (st != CAPWAP_OK) {
		if (err.status != st || err.reason[0] == '\0')
			abort();
		return;
	}
	if (!m.ctrl_valid || m.n_raw > CAPWAP_MAX_ELEMENTS)
		abort();
	/* Re-encode the typed view. MISSING is allowed: a mandatory element
	 * may have been one the codec keeps raw only. */
	m.n_raw = 0;
	capwap_writer_init(&w, out, sizeof(out));
	st = capwap_encode(&w, &m, &err);
	if (st == CAPWAP_ERR_MISSING)
		return;
	if (st != CAPWAP_OK)
		abort();
	if (capwap_decode(out, w.len, &again, &err) != CAPWAP_OK)
		abort();
}

static void check_lsc(const uint8_t *data, size_t size)
{
	struct capwap_lsc_params p, p2;
	struct capwap_lsc_cert c, c2;
	struct capwap_writer w;
	struct capwap_error err;

	if (capwap_lsc_params_decode(data, size, &p, &err) == CAPWAP_OK) {
		capwap_writer_init(&w, out, sizeof(out));
		if (capwap_lsc_params_encode(&w, &p) != CAPWAP_OK ||
		    capwap_lsc_params_decode(out, w.len, &p2, &err) != CAPWAP_OK ||
		    p2.key_size != p.key_size || p2.txid != p.txid ||
		    p2.country.len != p.country.len)
			abort();
	}
	if (capwap_lsc_cert_decode(data, size, &c, &err) == CAPWAP_OK) {
		capwap_writer_init(&w, out, sizeof(out));
		if (capwap_lsc_cert_encode(&w, &c) != CAPWAP_OK ||
		    capwap_lsc_cert_decode(out, w.len, &c2, &err) != CAPWAP_OK ||
		    c2.op != c.op || c2.object.len != c.object.len ||
		    (c.object.len > 0 && memcmp(c2.object.ptr, c.object.ptr, c.object.len) != 0))
			abort();
	}
}

struct split {
	struct capwap_reasm r;
	uint64_t now;
	const uint8_t *whole;
	size_t whole_len;
	bool done;
};

static void on_fragment(const uint8_t *frag, size_t len, void *arg)
{
	struct split *s = arg;
	struct capwap_error err;
	const uint8_t *res;
	size_t res_len;
	enum capwap_status st;

	st = capwap_reasm_add(&s->r, frag, len, s->now++, &res, &res_len, &err);
	if (st == CAPWAP_OK) {
		if (s->done || res_len != s->whole_len)
			abort();
		/* Same bytes, except the fragment fields of the header (the
		 * second word, F and L), which the reassembled packet clears. */
		if (memcmp(res, s->whole, 3) != 0 ||
		    (res[3] & 0x3f) != (s->whole[3] & 0x3f) ||
		    memcmp(res + 8, s->whole + 8, res_len - 8) != 0)
			abort();
		s->done = true;
	} else if (st != CAPWAP_INCOMPLETE) {
		abort();
	}
}

/* Fragment the input as a packet at an MTU it chooses, reassemble in order:
 * it must come back whole. */
static void check_split(const uint8_t *data, size_t size)
{
	struct capwap_reasm_limits lim = { 65535, 64, 5000 };
	struct capwap_header hdr;
	struct capwap_error err;
	struct split s;
	size_t hlen, mtu, chunk, min_chunk;

	if (size < 2 || capwap_header_decode(data, size, &hdr, &hlen, &err) != CAPWAP_OK)
		return;
	/* A slice size the input picks, large enough for the 64-fragment
	 * reassembly limit. */
	chunk = 8 * (1 + (size_t)(data[size - 1] % 64));
	min_chunk = ((size - hlen + 63) / 64 + 7) & ~(size_t)7;
	if (chunk < min_chunk)
		chunk = min_chunk;
	mtu = hlen + chunk;
	memset(&s, 0, sizeof(s));
	capwap_reasm_init(&s.r, &lim);
	s.whole = data;
	s.whole_len = size;
	if (capwap_fragment(data, size, mtu, 0x1234, on_fragment, &s, &err) == CAPWAP_OK &&
	    size > mtu && !s.done && !hdr.fragment && !hdr.keepalive)
		abort();
	capwap_reasm_free(&s.r);
}

/* The input as a stream of {length 16, packet} records, fed to one
 * reassembly context: arbitrary fragment headers, orders and overlaps. */
static void check_stream(const uint8_t *data, size_t size)
{
	struct capwap_reasm_limits lim = { 4096, 16, 50 };
	struct capwap_reasm r;
	struct capwap_error err;
	size_t off = 0;
	uint64_t now = 0;

	capwap_reasm_init(&r, &lim);
	while (size - off >= 2) {
		size_t len = (size_t)(data[off] << 8 | data[off + 1]);
		const uint8_t *res;
		size_t res_len;
		uint8_t *pkt;

		off += 2;
		if (len > size - off)
			len = size - off;
		/* An exact-size copy, so a read past the packet is caught. */
		pkt = malloc(len > 0 ? len : 1);
		if (pkt == NULL)
			break;
		memcpy(pkt, data + off, len);
		off += len;
		now += len & 0x1f;
		if (capwap_reasm_add(&r, pkt, len, now, &res, &res_len, &err) == CAPWAP_OK &&
		    res != pkt)
			check_message(res, res_len);
		if (r.buf != NULL && r.buf_cap > 124 + lim.max_size)
			abort();
		free(pkt);
		(void)capwap_reasm_expire(&r, now);
	}
	capwap_reasm_free(&r);
}

/* A certificate CN is peer data too (the AP's MIC subject). */
static void check_mac(const uint8_t *data, size_t size)
{
	uint8_t mac[6], again[6];
	char text[18];

	if (capwap_mac_from_cn((const char *)data, size, mac)) {
		capwap_mac_format(mac, (enum capwap_mac_style)(size % 4), text);
		if (!capwap_mac_parse(text, strlen(text), again) || memcmp(mac, again, 6) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct capwap_header hdr;
	struct capwap_error err;
	size_t hlen;

	(void)capwap_header_decode(data, size, &hdr, &hlen, &err);
	check_message(data, size);
	check_lsc(data, size);
	check_split(data, size);
	check_stream(data, size);
	check_mac(data, size);
	return 0;
}
