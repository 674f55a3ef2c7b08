/*
 * hostile_wtp — a WTP that misbehaves on purpose, for the hostile-peer tests
 * (issue 8). It joins the controller the way an AP does (DTLS with a MIC,
 * Join, Configuration Status, Change State) and then does one bad thing,
 * reporting what it saw as one JSON object on stdout.
 *
 *   hostile_wtp --ac 127.0.0.1:5246 --mfg-ca-cert F --mfg-ca-key F
 *               --ac-trust F --mac MAC --src ADDR --mode MODE [--count N]
 *
 * Modes before DTLS:
 *   hello-flood     N ClientHellos from N source ports; never answers a cookie
 *   handshake-flood N handshakes from N ports of one address: answers the
 *                   cookie (so lscd admits it), then goes silent
 * Modes after reaching Run:
 *   stall           stop talking altogether (lscd must tear it down)
 *   frag-overlap    N fragment pairs that overlap
 *   frag-endless    N first fragments with fresh IDs, never completed
 *   frag-oversized  fragments adding up to more than lscd accepts
 *   replay          the same Echo Request (same sequence number) N times
 *   stale           an Echo Request with an older sequence number
 *   garbage         N DTLS records of random bytes
 *   unknown-request a request of an unknown message type
 *   join-twice      a second Join Request in Run
 *   csr-flood       N unsolicited CSRs (WTP Event Requests)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capwap/capwap.h"
#include "pki/pki.h"
#include "tests/unit/test_capwap_samples.h"

#define MAX_PKT 16384

struct wtp {
	int fd;
	struct sockaddr_in ac;
	struct sockaddr_in src;
	uint8_t mac[6];
	struct capwap_dtls_ctx *ctx;
	struct capwap_dtls_identity *id;
	struct capwap_dtls_trust *trust;
	struct capwap_dtls_conn *conn;
	bool established;
	uint8_t seq;
	uint16_t frag_id;
	/* the last decrypted packet */
	uint8_t rx[MAX_PKT];
	size_t rx_len;
	unsigned rx_count;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what, const char *why)
{
	printf("{\"error\": \"%s: %s\"}\n", what, why);
	exit(1);
}

static int open_socket(const struct sockaddr_in *src)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = *src;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind", strerror(errno));
	return fd;
}

static void on_send(void *arg, const uint8_t *dgram, size_t len)
{
	struct wtp *w = arg;
	sendto(w->fd, dgram, len, 0, (struct sockaddr *)&w->ac, sizeof(w->ac));
}

static void on_recv(void *arg, const uint8_t *pkt, size_t len)
{
	struct wtp *w = arg;
	if (len > sizeof(w->rx))
		len = sizeof(w->rx);
	memcpy(w->rx, pkt, len);
	w->rx_len = len;
	w->rx_count++;
}

static void on_established(void *arg, const struct capwap_dtls_peer *peer)
{
	struct wtp *w = arg;
	(void)peer;
	w->established = true;
}

static const struct capwap_dtls_ops ops = { on_send, on_recv, on_established };

/* Feed datagrams to DTLS for up to ms milliseconds, or until a new
 * decrypted packet arrived (when want_packet). */
static void pump(struct wtp *w, int ms, bool want_packet)
{
	int64_t end = now_ms() + ms;
	unsigned seen = w->rx_count;
	uint8_t buf[65536];

	while (now_ms() < end && w->conn != NULL) {
		struct pollfd p = { w->fd, POLLIN, 0 };
		int64_t wait = capwap_dtls_timeout_ms(w->conn);
		int left = (int)(end - now_ms());
		if (wait < 0 || wait > left)
			wait = left;
		if (poll(&p, 1, (int)(wait > 0 ? wait : 0)) > 0) {
			ssize_t n = recv(w->fd, buf, sizeof(buf), 0);
			if (n > 0 && buf[0] == CAPWAP_PREAMBLE_DTLS &&
			    capwap_dtls_input(w->conn, buf, (size_t)n) == CAPWAP_DTLS_CLOSED)
				return;
		} else if (capwap_dtls_handle_timeout(w->conn) == CAPWAP_DTLS_CLOSED) {
			return;
		}
		if (want_packet && w->rx_count != seen)
			return;
	}
}

/* Send one packet inside DTLS (no fragmentation here: callers build what
 * they mean to send). */
static void send_raw(struct wtp *w, const uint8_t *pkt, size_t len)
{
	capwap_dtls_write(w->conn, pkt, len);
}

static size_t encode(const struct capwap_message *m, uint8_t *buf, size_t cap)
{
	struct capwap_writer wr;
	struct capwap_error err;
	capwap_writer_init(&wr, buf, cap);
	if (capwap_encode(&wr, m, &err) != CAPWAP_OK)
		die("encode", err.reason);
	return wr.len;
}

/* Send a request and wait for the answer; the decoded response type and
 * result code (-1 if none came). */
static int request(struct wtp *w, struct capwap_message *m, uint32_t *resp_type)
{
	static uint8_t buf[MAX_PKT];
	static struct capwap_message r;
	struct capwap_error err;

	m->seq = w->seq++;
	send_raw(w, buf, encode(m, buf, sizeof(buf)));
	for (int tries = 0; tries < 20; tries++) {
		pump(w, 250, true);
		if (w->rx_len > 0 && capwap_decode(w->rx, w->rx_len, &r, &err) == CAPWAP_OK &&
		    r.seq == m->seq && !capwap_is_request(r.type)) {
			w->rx_len = 0;
			*resp_type = r.type;
			return r.has_result_code ? (int)r.result_code : 0;
		}
		w->rx_len = 0;
	}
	*resp_type = 0;
	return -1;
}

static void make_identity(struct wtp *w, const char *ca_cert, const char *ca_key, const char *trust)
{
	struct pki_error perr;
	struct capwap_error cerr;
	struct pki_key *ca, *key;
	struct pki_buf pem = { 0 }, ca_der = { 0 }, csr = { 0 }, cert = { 0 }, cert_pem = { 0 }, key_pem = { 0 };
	struct pki_key_spec spec = { PKI_KEY_EC, 256 };
	struct pki_subject subj = { 0 };
	struct pki_issue_params p = { .days = 30, .key_usage = PKI_KU_DIGITAL_SIGNATURE, .eku = PKI_EKU_CLIENT_AUTH };
	char mac[18];

	if (pki_key_load(ca_key, &ca, &perr) != 0 || pki_file_read(ca_cert, 1 << 20, &pem, &perr) != 0 ||
	    pki_pem_to_der((const char *)pem.data, pem.len, "CERTIFICATE", &ca_der, &perr) != 0 ||
	    pki_key_generate(&spec, &key, &perr) != 0)
		die("identity", perr.reason);
	capwap_mac_format(w->mac, CAPWAP_MAC_BARE_UPPER, mac);
	snprintf(subj.cn, sizeof(subj.cn), "HOSTILE-%s", mac);
	if (pki_csr_build(key, &subj, NULL, &csr, &perr) != 0 ||
	    pki_cert_issue(ca, ca_der.data, ca_der.len, csr.data, csr.len, &p, &cert, &perr) != 0 ||
	    pki_der_to_pem(cert.data, cert.len, "CERTIFICATE", &cert_pem, &perr) != 0 ||
	    pki_key_to_pem(key, &key_pem, &perr) != 0)
		die("identity", perr.reason);
	w->id = capwap_dtls_identity_new((const char *)cert_pem.data, cert_pem.len,
					 (const char *)key_pem.data, key_pem.len, &cerr);
	pki_buf_free(&pem);
	if (w->id == NULL || pki_file_read(trust, 1 << 20, &pem, &perr) != 0)
		die("identity", "cannot build");
	w->trust = capwap_dtls_trust_new((const char *)pem.data, pem.len, &cerr);
	if (w->trust == NULL)
		die("trust", cerr.reason);
	pki_buf_free(&pem);
	pki_buf_free(&ca_der);
	pki_buf_free(&csr);
	pki_buf_free(&cert);
	pki_buf_free(&cert_pem);
	pki_buf_free(&key_pem);
	pki_key_free(ca);
	pki_key_free(key);
}

static bool dtls_connect(struct wtp *w)
{
	struct capwap_error err;
	w->conn = capwap_dtls_connect(w->ctx, w->id, w->trust, &ops, w, &err);
	if (w->conn == NULL)
		die("connect", err.reason);
	capwap_dtls_start(w->conn);
	int64_t end = now_ms() + 5000;
	while (!w->established && now_ms() < end && w->conn != NULL)
		pump(w, 100, false);
	return w->established;
}

/* Join, Configuration Status, Change State: into Run. */
static bool reach_run(struct wtp *w)
{
	static struct capwap_message m;
	static struct sample_blobs blobs;
	uint32_t type;

	sample_blobs_init(&blobs);
	sample_message(&m, SAMPLE_JOIN_REQ, 0, &blobs);
	memcpy(m.board_data.base_mac, w->mac, 6);
	if (request(w, &m, &type) != 0)
		return false;
	sample_message(&m, SAMPLE_CONFIG_STATUS_REQ, 0, &blobs);
	if (request(w, &m, &type) < 0)
		return false;
	sample_message(&m, SAMPLE_CHANGE_STATE_REQ, 0, &blobs);
	return request(w, &m, &type) >= 0;
}

/* A plain CAPWAP header with F set, then payload bytes (§1.14). */
static size_t fragment(uint8_t *buf, uint16_t id, uint16_t offset8, bool last, size_t payload,
		       uint8_t fill)
{
	struct capwap_header h = { .wbid = CAPWAP_WBID_IEEE80211, .fragment = true,
				   .last_fragment = last, .frag_id = id, .frag_offset = offset8 };
	struct capwap_writer wr;
	capwap_writer_init(&wr, buf, MAX_PKT);
	capwap_header_encode(&wr, &h);
	for (size_t i = 0; i < payload && wr.len < MAX_PKT; i++)
		capwap_put_u8(&wr, fill);
	return wr.len;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ac", required_argument, NULL, 'a' }, { "mfg-ca-cert", required_argument, NULL, 'c' },
		{ "mfg-ca-key", required_argument, NULL, 'k' }, { "ac-trust", required_argument, NULL, 't' },
		{ "mac", required_argument, NULL, 'm' }, { "src", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'o' }, { "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	static struct wtp w;
	const char *ac = "127.0.0.1:5246", *ca_cert = NULL, *ca_key = NULL, *trust = NULL;
	const char *mac = "02:00:00:00:ee:01", *src = "127.9.0.1", *mode = NULL;
	unsigned count = 1;
	int c;
	struct pki_error perr;
	struct capwap_error cerr;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': ac = optarg; break;
		case 'c': ca_cert = optarg; break;
		case 'k': ca_key = optarg; break;
		case 't': trust = optarg; break;
		case 'm': mac = optarg; break;
		case 's': src = optarg; break;
		case 'o': mode = optarg; break;
		case 'n': count = (unsigned)strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (mode == NULL || ca_cert == NULL || ca_key == NULL || trust == NULL || count == 0 || count > 100000) {
		fprintf(stderr, "usage: hostile_wtp --ac A --mfg-ca-cert F --mfg-ca-key F --ac-trust F "
				"--mode MODE [--mac M] [--src ADDR] [--count N]\n");
		return 2;
	}
	char host[64];
	const char *colon = strrchr(ac, ':');
	snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - ac) : (int)strlen(ac), ac);
	w.ac.sin_family = AF_INET;
	w.ac.sin_port = htons(colon ? (uint16_t)atoi(colon + 1) : CAPWAP_CONTROL_PORT);
	w.src.sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &w.ac.sin_addr) != 1 || inet_pton(AF_INET, src, &w.src.sin_addr) != 1 ||
	    !capwap_mac_parse(mac, strlen(mac), w.mac))
		die("arguments", "bad --ac, --src or --mac");
	if (pki_init(&perr) != 0)
		die("pki", perr.reason);
	struct capwap_dtls_config cfg = { .role = CAPWAP_DTLS_CLIENT, .retransmit_ms = 300 };
	w.ctx = capwap_dtls_ctx_new(&cfg, &cerr);
	if (w.ctx == NULL)
		die("dtls", cerr.reason);
	make_identity(&w, ca_cert, ca_key, trust);

	if (strcmp(mode, "hello-flood") == 0 || strcmp(mode, "handshake-flood") == 0) {
		bool answer = mode[0] == 'h' && mode[1] == 'a';
		unsigned cookies = 0, admitted_flights = 0;
		for (unsigned i = 0; i < count; i++) {
			w.fd = open_socket(&w.src);
			w.conn = capwap_dtls_connect(w.ctx, w.id, w.trust, &ops, &w, &cerr);
			capwap_dtls_start(w.conn);           /* ClientHello */
			struct pollfd p = { w.fd, POLLIN, 0 };
			if (poll(&p, 1, 500) > 0) {
				uint8_t buf[4096];
				ssize_t n = recv(w.fd, buf, sizeof(buf), 0);
				if (n > 0) {
					cookies++;
					if (answer) {
						/* ClientHello with the cookie: lscd admits or refuses */
						capwap_dtls_input(w.conn, buf, (size_t)n);
						if (poll(&p, 1, 100) > 0 && recv(w.fd, buf, sizeof(buf), 0) > 0)
							admitted_flights++;
					}
				}
			}
			capwap_dtls_free(w.conn);
			w.conn = NULL;
			close(w.fd);
		}
		printf("{\"mode\": \"%s\", \"sent\": %u, \"cookies\": %u, \"server_flights\": %u}\n",
		       mode, count, cookies, admitted_flights);
		return 0;
	}

	w.fd = open_socket(&w.src);
	if (!dtls_connect(&w))
		die("dtls", w.conn ? capwap_dtls_error(w.conn) : "no connection");
	if (!reach_run(&w))
		die("join", "did not reach Run");

	static uint8_t buf[MAX_PKT];
	static struct capwap_message m;
	static struct sample_blobs blobs;
	uint32_t type = 0;
	int result = -2;
	unsigned answers = 0;
	sample_blobs_init(&blobs);

	if (strcmp(mode, "stall") == 0) {
		/* keep the DTLS session but send nothing; lscd must give up */
		int64_t end = now_ms() + (int64_t)count * 1000;
		while (now_ms() < end && w.conn != NULL && capwap_dtls_established(w.conn))
			pump(&w, 200, false);
		printf("{\"mode\": \"stall\", \"closed_by_ac\": %s}\n",
		       capwap_dtls_established(w.conn) ? "false" : "true");
		return 0;
	}
	if (strcmp(mode, "frag-overlap") == 0 || strcmp(mode, "frag-endless") == 0 ||
	    strcmp(mode, "frag-oversized") == 0) {
		for (unsigned i = 0; i < count; i++) {
			uint16_t id = (uint16_t)(w.frag_id++);
			if (mode[5] == 'o' && mode[6] == 'v' && mode[7] == 'e') {      /* overlap */
				send_raw(&w, buf, fragment(buf, id, 0, false, 64, 0xaa));
				send_raw(&w, buf, fragment(buf, id, 4, true, 64, 0xbb));
			} else if (mode[5] == 'e') {                                    /* endless */
				send_raw(&w, buf, fragment(buf, id, 0, false, 512, 0xcc));
			} else {                                                        /* oversized */
				for (uint16_t off = 0; off < 70000 / 8; off += 1024 / 8)
					send_raw(&w, buf, fragment(buf, id, off, false, 1024, 0xdd));
			}
			pump(&w, 2, false);
		}
	} else if (strcmp(mode, "replay") == 0) {
		sample_message(&m, SAMPLE_ECHO_REQ, w.seq, &blobs);
		size_t len = encode(&m, buf, sizeof(buf));
		for (unsigned i = 0; i < count; i++) {
			unsigned before = w.rx_count;
			send_raw(&w, buf, len);
			pump(&w, 300, true);
			answers += w.rx_count != before;
		}
		w.seq++;
	} else if (strcmp(mode, "stale") == 0) {
		sample_message(&m, SAMPLE_ECHO_REQ, 0, &blobs);
		result = request(&w, &m, &type);               /* seq s: answered */
		sample_message(&m, SAMPLE_ECHO_REQ, (uint8_t)(w.seq - 10), &blobs);
		unsigned before = w.rx_count;
		send_raw(&w, buf, encode(&m, buf, sizeof(buf)));
		pump(&w, 1000, true);
		answers = w.rx_count != before;                /* an older one: ignored */
	} else if (strcmp(mode, "garbage") == 0) {
		srand(7);
		for (unsigned i = 0; i < count; i++) {
			size_t len = 1 + (size_t)rand() % 1200;
			for (size_t k = 0; k < len; k++)
				buf[k] = (uint8_t)rand();
			buf[0] = 0;                                  /* CAPWAP preamble */
			send_raw(&w, buf, len);
			pump(&w, 2, false);
		}
	} else if (strcmp(mode, "unknown-request") == 0) {
		uint8_t pkt[64];
		size_t len = sample_raw_packet(pkt, sizeof(pkt), 99, w.seq++, NULL, 0);
		unsigned before = w.rx_count;
		send_raw(&w, pkt, len);
		pump(&w, 2000, true);
		struct capwap_message r;
		struct capwap_error err;
		/* Type 100 is as unknown to the codec as 99: it reads the header and
		 * stops, so find the Result Code element (33) by hand. */
		if (w.rx_count != before && capwap_decode(w.rx, w.rx_len, &r, &err) != CAPWAP_OK && r.ctrl_valid) {
			size_t off = (size_t)(w.rx[1] >> 3) * 4 + 8;
			type = r.type;
			if (off + 8 <= w.rx_len && w.rx[off] == 0 && w.rx[off + 1] == 33 && w.rx[off + 3] == 4)
				result = (int)((uint32_t)w.rx[off + 4] << 24 | (uint32_t)w.rx[off + 5] << 16 |
					       (uint32_t)w.rx[off + 6] << 8 | w.rx[off + 7]);
		}
	} else if (strcmp(mode, "join-twice") == 0) {
		sample_message(&m, SAMPLE_JOIN_REQ, 0, &blobs);
		memcpy(m.board_data.base_mac, w.mac, 6);
		result = request(&w, &m, &type);
	} else if (strcmp(mode, "csr-flood") == 0) {
		for (unsigned i = 0; i < count; i++) {
			sample_message(&m, SAMPLE_WTP_EVENT_CSR, 0, &blobs);
			if (request(&w, &m, &type) >= 0)
				answers++;
		}
	} else {
		die("mode", mode);
	}
	/* Still served afterwards? An Echo must be answered. Random garbage may
	 * have decoded as a request with some sequence number, after which ours
	 * could count as older (RFC 5415 §4.5.1): one of four numbers a quarter
	 * of the space apart is newer than whatever the controller saw last. */
	uint32_t echo_type = 0;
	int echo = -1;
	for (int k = 0; k < 4 && echo < 0 && w.conn != NULL && capwap_dtls_established(w.conn); k++) {
		sample_message(&m, SAMPLE_ECHO_REQ, 0, &blobs);
		echo = request(&w, &m, &echo_type);
		w.seq = (uint8_t)(w.seq + 63);
	}
	printf("{\"mode\": \"%s\", \"count\": %u, \"answers\": %u, \"response_type\": %u, \"result\": %d, "
	       "\"echo_after\": %s}\n", mode, count, answers, type, result,
	       echo >= 0 && echo_type == CAPWAP_ECHO_RESPONSE ? "true" : "false");
	capwap_dtls_close(w.conn);
	capwap_dtls_free(w.conn);
	capwap_dtls_identity_free(w.id);
	capwap_dtls_trust_free(w.trust);
	capwap_dtls_ctx_free(w.ctx);
	return 0;
}
