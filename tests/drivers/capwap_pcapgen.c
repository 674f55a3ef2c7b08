/*
 * capwap_pcapgen — writes one of every control message lscd exchanges
 * (plus one fragmented message) as clear-text CAPWAP over UDP into a pcap
 * file, using only capwap/capwap.h, and a JSON manifest of what it meant to
 * write. tests/e2e/test_codec_tshark.py decodes the pcap with tshark and
 * compares. With --seeds it instead writes the same messages (and LSC
 * bodies, a fragment stream and a certificate CN) as raw files for the
 * fuzz corpus.
 *
 *   capwap_pcapgen -o out.pcap -m manifest.json
 *   capwap_pcapgen --seeds DIR
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "capwap/capwap.h"
#include "tests/unit/test_capwap_samples.h"

#define PKT_MAX  16384
#define WTP_PORT 40000
#define FRAG_MTU 1000    /* the device certificate goes out in 3 pieces */

/* The order of a provisioning run (§3.3), with who sends what. */
static const struct {
	enum sample_kind kind;
	uint8_t seq;
	bool from_ac;
	bool fragment;
} run[] = {
	{ SAMPLE_DISCOVERY_REQ, 0, false, false },
	{ SAMPLE_DISCOVERY_RESP, 0, true, false },
	{ SAMPLE_JOIN_REQ, 1, false, false },
	{ SAMPLE_JOIN_RESP, 1, true, false },
	{ SAMPLE_CONFIG_STATUS_REQ, 2, false, false },
	{ SAMPLE_CONFIG_STATUS_RESP, 2, true, false },
	{ SAMPLE_CHANGE_STATE_REQ, 3, false, false },
	{ SAMPLE_CHANGE_STATE_RESP, 3, true, false },
	{ SAMPLE_ECHO_REQ, 4, false, false },
	{ SAMPLE_ECHO_RESP, 4, true, false },
	{ SAMPLE_UPDATE_PARAMS, 40, true, false },
	{ SAMPLE_WTP_EVENT_CSR, 5, false, false },
	{ SAMPLE_UPDATE_RESP, 40, false, false },
	{ SAMPLE_WTP_EVENT_RESP, 5, true, false },
	{ SAMPLE_UPDATE_PENDING, 41, true, false },
	{ SAMPLE_UPDATE_RESP, 41, false, false },
	{ SAMPLE_UPDATE_ROOT, 42, true, false },
	{ SAMPLE_UPDATE_RESP, 42, false, false },
	{ SAMPLE_UPDATE_DEVICE, 43, true, true },
	{ SAMPLE_UPDATE_RESP, 43, false, false },
	{ SAMPLE_UPDATE_FAILED, 44, true, false },
	{ SAMPLE_UPDATE_RESP, 44, false, false },
	{ SAMPLE_RESET_REQ, 45, true, false },
	{ SAMPLE_RESET_RESP, 45, false, false },
};

#define N_RUN (sizeof(run) / sizeof(run[0]))

struct pcap_out {
	FILE *f;
	struct sockaddr_in ac, wtp;
	uint32_t frame;
	uint32_t usec;
	bool failed;
};

static void write_record(struct pcap_out *o, bool from_ac, const uint8_t *pkt, size_t len)
{
	static uint8_t rec[PKT_MAX + 128];
	struct capwap_writer w;
	const struct sockaddr *src = (const struct sockaddr *)(from_ac ? &o->ac : &o->wtp);
	const struct sockaddr *dst = (const struct sockaddr *)(from_ac ? &o->wtp : &o->ac);

	capwap_writer_init(&w, rec, sizeof(rec));
	o->usec += 10000;
	if (capwap_pcap_record(&w, 1700000000u + o->usec / 1000000, o->usec % 1000000,
			       src, dst, pkt, len) != CAPWAP_OK ||
	    fwrite(rec, 1, w.len, o->f) != w.len)
		o->failed = true;
	o->frame++;
}

struct frag_ctx {
	struct pcap_out *o;
	bool from_ac;
	uint32_t first, last;
};

static void on_fragment(const uint8_t *frag, size_t len, void *arg)
{
	struct frag_ctx *c = arg;

	write_record(c->o, c->from_ac, frag, len);
	if (c->first == 0)
		c->first = c->o->frame;
	c->last = c->o->frame;
}

/* The manifest describes the message from its own bytes, in wire order. */
static int describe(FILE *mf, const char *name, const uint8_t *pkt, size_t len,
		    uint32_t first_frame, uint32_t last_frame, bool fragmented, bool comma)
{
	struct capwap_message m;
	struct capwap_error err;
	size_t i, nv = 0;
	uint32_t f;

	if (capwap_decode(pkt, len, &m, &err) != CAPWAP_OK) {
		fprintf(stderr, "capwap_pcapgen: %s does not decode: %s\n", name, err.reason);
		return -1;
	}
	fprintf(mf, "  {\"name\": \"%s\", \"type\": %u, \"seq\": %u, \"length\": %zu, "
		"\"hlen\": %u,\n", name, m.type, m.seq, len, (unsigned)(pkt[1] >> 3) * 4);
	fprintf(mf, "   \"fragmented\": %s, \"frames\": [", fragmented ? "true" : "false");
	for (f = first_frame; f <= last_frame; f++)
		fprintf(mf, "%s%u", f == first_frame ? "" : ", ", f);
	fprintf(mf, "],\n   \"elements\": [");
	for (i = 0; i < m.n_raw; i++)
		fprintf(mf, "%s%u", i ? ", " : "", m.raw[i].type);
	fprintf(mf, "],\n   \"vsps\": [");
	for (i = 0; i < m.n_raw; i++) {
		const uint8_t *v = m.raw[i].value;
		uint32_t vendor;
		uint16_t elem_id;

		if (m.raw[i].type != CAPWAP_ELEM_VENDOR_SPECIFIC)
			continue;
		vendor = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
		elem_id = (uint16_t)(v[4] << 8 | v[5]);
		fprintf(mf, "%s{\"vendor\": %u, \"elem_id\": %u", nv++ ? ", " : "", vendor, elem_id);
		if (elem_id == CAPWAP_CISCO_SPAM_VENDOR && m.raw[i].len >= 12)
			fprintf(mf, ", \"inner_vendor\": %u, \"inner_id\": %u",
				(uint32_t)v[6] << 24 | (uint32_t)v[7] << 16 |
				(uint32_t)v[8] << 8 | v[9],
				(unsigned)(v[10] << 8 | v[11]));
		fprintf(mf, "}");
	}
	fprintf(mf, "]}%s\n", comma ? "," : "");
	return 0;
}

static size_t encode_sample(size_t i, const struct sample_blobs *blobs, uint8_t *pkt)
{
	struct capwap_message m;
	struct capwap_writer w;
	struct capwap_error err;

	sample_message(&m, run[i].kind, run[i].seq, blobs);
	capwap_writer_init(&w, pkt, PKT_MAX);
	if (capwap_encode(&w, &m, &err) != CAPWAP_OK) {
		fprintf(stderr, "capwap_pcapgen: %s: %s\n", sample_names[run[i].kind], err.reason);
		return 0;
	}
	return w.len;
}

static int write_pcap(const char *pcap_path, const char *manifest_path)
{
	static struct sample_blobs blobs;
	static uint8_t pkt[PKT_MAX];
	uint8_t gh[24];
	struct capwap_writer w;
	struct pcap_out o;
	FILE *mf;
	size_t i;
	int rc = 0;

	sample_blobs_init(&blobs);
	memset(&o, 0, sizeof(o));
	o.ac.sin_family = AF_INET;
	o.ac.sin_port = htons(CAPWAP_CONTROL_PORT);
	o.ac.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	o.wtp = o.ac;
	o.wtp.sin_port = htons(WTP_PORT);

	o.f = fopen(pcap_path, "wb");
	mf = fopen(manifest_path, "w");
	if (o.f == NULL || mf == NULL) {
		fprintf(stderr, "capwap_pcapgen: %s\n", strerror(errno));
		return 1;
	}
	capwap_writer_init(&w, gh, sizeof(gh));
	if (capwap_pcap_global_header(&w) != CAPWAP_OK || fwrite(gh, 1, w.len, o.f) != w.len)
		o.failed = true;

	fprintf(mf, "{\"vendor_cisco\": %u, \"packets\": [\n", CAPWAP_VENDOR_CISCO);
	for (i = 0; i < N_RUN && rc == 0; i++) {
		size_t len = encode_sample(i, &blobs, pkt);
		struct frag_ctx fc = { &o, run[i].from_ac, 0, 0 };
		struct capwap_error err;

		if (len == 0) {
			rc = 1;
			break;
		}
		if (run[i].fragment) {
			if (capwap_fragment(pkt, len, FRAG_MTU, (uint16_t)(0x100 + i),
					    on_fragment, &fc, &err) != CAPWAP_OK || fc.first == fc.last) {
				fprintf(stderr, "capwap_pcapgen: fragment: %s\n", err.reason);
				rc = 1;
				break;
			}
		} else {
			write_record(&o, run[i].from_ac, pkt, len);
			fc.first = fc.last = o.frame;
		}
		if (describe(mf, sample_names[run[i].kind], pkt, len, fc.first, fc.last,
			     run[i].fragment, i + 1 < N_RUN) != 0)
			rc = 1;
	}
	fprintf(mf, "]}\n");
	if (fclose(mf) != 0 || fclose(o.f) != 0 || o.failed) {
		fprintf(stderr, "capwap_pcapgen: write failed\n");
		rc = 1;
	}
	return rc;
}

static int write_file(const char *dir, const char *name, const uint8_t *p, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "capwap_pcapgen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

struct stream {
	uint8_t buf[PKT_MAX];
	size_t len;
};

/* Fragment stream seed: each packet as {length 16, bytes}, the layout the
 * fuzz target feeds to reassembly. */
static void append_fragment(const uint8_t *frag, size_t len, void *arg)
{
	struct stream *s = arg;

	if (s->len + 2 + len > sizeof(s->buf))
		return;
	s->buf[s->len++] = (uint8_t)(len >> 8);
	s->buf[s->len++] = (uint8_t)len;
	memcpy(s->buf + s->len, frag, len);
	s->len += len;
}

static int write_seeds(const char *dir)
{
	static struct sample_blobs blobs;
	static uint8_t pkt[PKT_MAX];
	static struct stream st;
	uint8_t body[4096];
	struct capwap_writer w;
	struct capwap_lsc_params p;
	struct capwap_error err;
	char name[64];
	size_t i;
	int rc = 0;

	sample_blobs_init(&blobs);
	for (i = 0; i < N_RUN; i++) {
		size_t len;

		/* One file per message kind is enough. */
		if (i > 0 && run[i].kind == SAMPLE_UPDATE_RESP && run[i].seq != 40)
			continue;
		len = encode_sample(i, &blobs, pkt);
		if (len == 0)
			return 1;
		snprintf(name, sizeof(name), "msg-%s.bin", sample_names[run[i].kind]);
		rc |= write_file(dir, name, pkt, len);
		if (run[i].fragment) {
			st.len = 0;
			if (capwap_fragment(pkt, len, 600, 7, append_fragment, &st, &err) != CAPWAP_OK)
				return 1;
			rc |= write_file(dir, "frag-stream-device-cert.bin", st.buf, st.len);
		}
	}
	sample_lsc_params(&p);
	capwap_writer_init(&w, body, sizeof(body));
	if (capwap_lsc_params_encode(&w, &p) != CAPWAP_OK)
		return 1;
	rc |= write_file(dir, "lsc-params-body.bin", body, w.len);
	{
		struct capwap_lsc_cert c;

		memset(&c, 0, sizeof(c));
		c.op = CAPWAP_LSC_OP_CSR;
		c.txid = 1;
		c.object.ptr = blobs.csr;
		c.object.len = 64;
		capwap_writer_init(&w, body, sizeof(body));
		if (capwap_lsc_cert_encode(&w, &c) != CAPWAP_OK)
			return 1;
		rc |= write_file(dir, "lsc-cert-body.bin", body, w.len);
	}
	rc |= write_file(dir, "cn-cisco-ap.txt", (const uint8_t *)"ap3g3-286F7FCF53AC", 18);
	return rc != 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: capwap_pcapgen -o FILE.pcap -m MANIFEST.json\n"
			"       capwap_pcapgen --seeds DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *pcap_path = NULL, *manifest_path = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
			return write_seeds(argv[i + 1]);
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			pcap_path = argv[++i];
		else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
			manifest_path = argv[++i];
		else
			usage();
	}
	if (pcap_path == NULL || manifest_path == NULL)
		usage();
	return write_pcap(pcap_path, manifest_path);
}
