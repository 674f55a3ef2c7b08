/*
 * DTLS transport: handshakes between a server (AC) and clients (WTPs) over
 * an in-memory "network" of datagram queues, so every datagram can be
 * inspected, dropped or corrupted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "capwap/capwap.h"
#include "tests/unit/testcerts.h"

#define QUEUE_MAX 64
#define DAY 86400L

struct datagram {
	uint8_t data[4096];
	size_t len;
};

struct queue {
	struct datagram d[QUEUE_MAX];
	size_t n;
};

struct endpoint {
	struct queue *out;
	struct capwap_dtls_conn *conn;
	bool established;
	struct capwap_dtls_peer peer;
	uint8_t rx[4096];
	size_t rx_len;
	unsigned rx_count;
};

struct world {
	char dir[64];
	struct test_cert mfg, lsc, rogue, ac;
	char *cert_file, *key_file, *mic_file, *lsc_file;
	struct capwap_dtls_ctx *server;
	struct capwap_dtls_ctx *client;
	struct capwap_dtls_trust *ac_trust;
	struct queue to_server, to_client;
	struct endpoint srv, cli;
	struct sockaddr_in cli_addr;
};

static void q_push(struct queue *q, const uint8_t *data, size_t len)
{
	assert_true(q->n < QUEUE_MAX);
	assert_true(len <= sizeof(q->d[0].data));
	memcpy(q->d[q->n].data, data, len);
	q->d[q->n].len = len;
	q->n++;
}

static void ep_send(void *arg, const uint8_t *dgram, size_t len)
{
	struct endpoint *ep = arg;
	assert_int_equal(dgram[0], CAPWAP_PREAMBLE_DTLS);
	q_push(ep->out, dgram, len);
}

static void ep_recv(void *arg, const uint8_t *pkt, size_t len)
{
	struct endpoint *ep = arg;
	memcpy(ep->rx, pkt, len);
	ep->rx_len = len;
	ep->rx_count++;
}

static void ep_established(void *arg, const struct capwap_dtls_peer *peer)
{
	struct endpoint *ep = arg;
	ep->established = true;
	ep->peer = *peer;
}

static const struct capwap_dtls_ops ops = {
	.send = ep_send,
	.recv = ep_recv,
	.established = ep_established,
};

/* (Re)create the AC with its clock offset_s ahead of (or behind) this
 * process's, as lscd's --time-offset does. */
static void server_with_clock(struct world *w, int64_t offset_s)
{
	struct capwap_error err;
	struct capwap_dtls_config scfg = {
		.role = CAPWAP_DTLS_SERVER, .cert_file = w->cert_file, .key_file = w->key_file,
		.mic_ca_file = w->mic_file, .lsc_ca_file = w->lsc_file, .time_offset_s = offset_s,
	};
	capwap_dtls_ctx_free(w->server);
	w->server = capwap_dtls_ctx_new(&scfg, &err);
	if (w->server == NULL)
		fail_msg("server ctx: %s", err.reason);
}

static int world_setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	size_t len;
	char *pem;
	struct capwap_error err;

	snprintf(w->dir, sizeof(w->dir), "/tmp/lscd-dtls-XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	/* CAs valid from ten days ago for a year: tests that move the
	 * controller's clock find only the AP's certificate at fault. */
	w->mfg = test_cert_make("Test Manufacturing CA", NULL, true, -10 * DAY, 365 * DAY, NULL);
	w->lsc = test_cert_make("Test LSC CA", NULL, true, -10 * DAY, 365 * DAY, NULL);
	w->rogue = test_cert_make("Rogue CA", NULL, true, -10 * DAY, 365 * DAY, NULL);
	w->ac = test_cert_make("lscd-controller", &w->mfg, false, -10 * DAY, 365 * DAY,
			       "serverAuth,1.3.6.1.5.5.7.3.18");

	pem = test_cert_pem(&w->ac, NULL, &len);
	w->cert_file = test_write_file(w->dir, "ac.pem", pem, len);
	free(pem);
	pem = test_key_pem(&w->ac, &len);
	w->key_file = test_write_file(w->dir, "ac.key", pem, len);
	free(pem);
	pem = test_cert_pem(&w->mfg, NULL, &len);
	w->mic_file = test_write_file(w->dir, "mic.pem", pem, len);
	w->ac_trust = capwap_dtls_trust_new(pem, len, &err);
	assert_non_null(w->ac_trust);
	free(pem);
	pem = test_cert_pem(&w->lsc, NULL, &len);
	w->lsc_file = test_write_file(w->dir, "lsc.pem", pem, len);
	free(pem);

	server_with_clock(w, 0);
	struct capwap_dtls_config ccfg = { .role = CAPWAP_DTLS_CLIENT, .retransmit_ms = 20 };
	w->client = capwap_dtls_ctx_new(&ccfg, &err);
	assert_non_null(w->client);

	w->srv.out = &w->to_client;
	w->cli.out = &w->to_server;
	w->cli_addr.sin_family = AF_INET;
	w->cli_addr.sin_port = htons(40000);
	w->cli_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;
	char cmd[128];

	capwap_dtls_free(w->srv.conn);
	capwap_dtls_free(w->cli.conn);
	capwap_dtls_ctx_free(w->server);
	capwap_dtls_ctx_free(w->client);
	capwap_dtls_trust_free(w->ac_trust);
	test_cert_free(&w->mfg);
	test_cert_free(&w->lsc);
	test_cert_free(&w->rogue);
	test_cert_free(&w->ac);
	free(w->cert_file);
	free(w->key_file);
	free(w->mic_file);
	free(w->lsc_file);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", w->dir);
	assert_int_equal(system(cmd), 0);
	free(w);
	return 0;
}

/* Connect a client presenting leaf (issued by issuer) and trusting trust. */
static void client_start(struct world *w, const struct test_cert *leaf,
			 const struct test_cert *issuer, const struct capwap_dtls_trust *trust)
{
	size_t clen, klen;
	char *cpem = test_cert_pem(leaf, issuer, &clen);
	char *kpem = test_key_pem(leaf, &klen);
	struct capwap_error err;
	struct capwap_dtls_identity *id = capwap_dtls_identity_new(cpem, clen, kpem, klen, &err);

	assert_non_null(id);
	w->cli.conn = capwap_dtls_connect(w->client, id, trust, &ops, &w->cli, &err);
	assert_non_null(w->cli.conn);
	/* The SSL object holds its own references: the identity may go. */
	capwap_dtls_identity_free(id);
	free(cpem);
	free(kpem);
	assert_int_equal(capwap_dtls_start(w->cli.conn), CAPWAP_DTLS_OK);
}

/* Deliver queued datagrams both ways until nothing moves. Returns false if
 * either side closed. */
static bool pump(struct world *w)
{
	bool open = true;
	for (int round = 0; round < 50 && (w->to_server.n || w->to_client.n); round++) {
		struct queue in = w->to_server;
		w->to_server.n = 0;
		for (size_t i = 0; i < in.n; i++) {
			if (w->srv.conn == NULL) {
				struct capwap_dtls_conn *conn = NULL;
				enum capwap_dtls_accept_result ar = capwap_dtls_accept(
					w->server, (struct sockaddr *)&w->cli_addr, sizeof(w->cli_addr),
					in.d[i].data, in.d[i].len, ep_send, &w->srv, &ops, &conn);
				if (ar == CAPWAP_DTLS_ACCEPT_NEW) {
					w->srv.conn = conn;
					capwap_dtls_set_arg(conn, &w->srv);
					if (capwap_dtls_start(conn) == CAPWAP_DTLS_CLOSED)
						open = false;
				}
			} else if (capwap_dtls_input(w->srv.conn, in.d[i].data, in.d[i].len) == CAPWAP_DTLS_CLOSED) {
				open = false;
			}
		}
		in = w->to_client;
		w->to_client.n = 0;
		for (size_t i = 0; i < in.n; i++)
			if (capwap_dtls_input(w->cli.conn, in.d[i].data, in.d[i].len) == CAPWAP_DTLS_CLOSED)
				open = false;
	}
	return open;
}

static void test_mic_handshake_identifies_ap(void **state)
{
	struct world *w = *state;
	struct test_cert ap = test_cert_make("ap3g3-286F7FCF53AC", &w->mfg, false, -60, 86400, "clientAuth");

	client_start(w, &ap, NULL, w->ac_trust);
	assert_true(pump(w));
	assert_true(w->srv.established);
	assert_true(w->cli.established);
	assert_int_equal(w->srv.peer.cert_class, CAPWAP_CERT_MIC);
	assert_true(w->srv.peer.has_mac);
	const uint8_t mac[6] = { 0x28, 0x6f, 0x7f, 0xcf, 0x53, 0xac };
	assert_memory_equal(w->srv.peer.mac, mac, 6);
	assert_string_equal(w->srv.peer.subject_cn, "ap3g3-286F7FCF53AC");
	assert_non_null(strstr(w->srv.peer.issuer, "Test Manufacturing CA"));
	assert_string_equal(w->cli.peer.subject_cn, "lscd-controller");
	assert_true(capwap_dtls_max_payload(w->srv.conn) > 1000);
	test_cert_free(&ap);
}

static void test_lsc_is_recognised_as_lsc(void **state)
{
	struct world *w = *state;
	struct test_cert ap = test_cert_make("ap3g3-00A2891C0F10", &w->lsc, false, -60, 86400, NULL);

	client_start(w, &ap, NULL, w->ac_trust);
	assert_true(pump(w));
	assert_true(w->srv.established);
	assert_int_equal(w->srv.peer.cert_class, CAPWAP_CERT_LSC);
	test_cert_free(&ap);
}

static void test_first_client_hello_gets_only_a_cookie(void **state)
{
	struct world *w = *state;
	struct test_cert ap = test_cert_make("ap-001122334455", &w->mfg, false, -60, 86400, NULL);
	struct capwap_dtls_conn *conn = NULL;

	client_start(w, &ap, NULL, w->ac_trust);
	assert_int_equal(w->to_server.n, 1);
	assert_int_equal(capwap_dtls_accept(w->server, (struct sockaddr *)&w->cli_addr,
					    sizeof(w->cli_addr), w->to_server.d[0].data,
					    w->to_server.d[0].len, ep_send, &w->srv, &ops, &conn),
			 CAPWAP_DTLS_ACCEPT_COOKIE);
	assert_null(conn);
	assert_int_equal(w->to_client.n, 1);    /* the HelloVerifyRequest */

	/* The same ClientHello from another port has no valid cookie either;
	 * a cookie made for one address does not open a session for another. */
	w->to_server.n = 0;
	assert_int_equal(capwap_dtls_input(w->cli.conn, w->to_client.d[0].data, w->to_client.d[0].len),
			 CAPWAP_DTLS_OK);
	w->to_client.n = 0;
	assert_int_equal(w->to_server.n, 1);    /* ClientHello with cookie */
	struct sockaddr_in other = w->cli_addr;
	other.sin_port = htons(40001);
	assert_int_not_equal(capwap_dtls_accept(w->server, (struct sockaddr *)&other, sizeof(other),
						w->to_server.d[0].data, w->to_server.d[0].len,
						ep_send, &w->srv, &ops, &conn),
			     CAPWAP_DTLS_ACCEPT_NEW);
	assert_null(conn);
	w->to_client.n = 0;
	/* From the right address it opens the session. */
	assert_int_equal(capwap_dtls_accept(w->server, (struct sockaddr *)&w->cli_addr,
					    sizeof(w->cli_addr), w->to_server.d[0].data,
					    w->to_server.d[0].len, ep_send, &w->srv, &ops, &conn),
			 CAPWAP_DTLS_ACCEPT_NEW);
	assert_non_null(conn);
	w->srv.conn = conn;
	capwap_dtls_set_arg(conn, &w->srv);
	w->to_server.n = 0;
	assert_int_equal(capwap_dtls_start(conn), CAPWAP_DTLS_OK);
	assert_true(pump(w));
	assert_true(w->srv.established);
	test_cert_free(&ap);
}

/* The cookie is a function of the address and port alone: the same
 * ClientHello gets the very same HelloVerifyRequest however often it comes
 * (the keyed HMAC is reused, never used up), another port another one. */
static void test_cookie_is_stable_per_address(void **state)
{
	struct world *w = *state;
	struct test_cert ap = test_cert_make("ap-001122334455", &w->mfg, false, -60, 86400, NULL);
	struct capwap_dtls_conn *conn = NULL;
	struct sockaddr_in other = w->cli_addr;
	uint8_t first[2048];
	size_t first_len;

	client_start(w, &ap, NULL, w->ac_trust);
	assert_int_equal(w->to_server.n, 1);
	for (int i = 0; i < 3; i++) {
		w->to_client.n = 0;
		assert_int_equal(capwap_dtls_accept(w->server, (struct sockaddr *)&w->cli_addr,
						    sizeof(w->cli_addr), w->to_server.d[0].data,
						    w->to_server.d[0].len, ep_send, &w->srv, &ops, &conn),
				 CAPWAP_DTLS_ACCEPT_COOKIE);
		assert_int_equal(w->to_client.n, 1);
		if (i == 0) {
			assert_true(w->to_client.d[0].len <= sizeof(first));
			first_len = w->to_client.d[0].len;
			memcpy(first, w->to_client.d[0].data, first_len);
		} else {
			assert_int_equal(w->to_client.d[0].len, first_len);
			assert_memory_equal(w->to_client.d[0].data, first, first_len);
		}
	}
	w->to_client.n = 0;
	other.sin_port = htons(40001);
	assert_int_equal(capwap_dtls_accept(w->server, (struct sockaddr *)&other, sizeof(other),
					    w->to_server.d[0].data, w->to_server.d[0].len, ep_send,
					    &w->srv, &ops, &conn),
			 CAPWAP_DTLS_ACCEPT_COOKIE);
	assert_int_equal(w->to_client.n, 1);
	assert_int_equal(w->to_client.d[0].len, first_len);
	assert_memory_not_equal(w->to_client.d[0].data, first, first_len);
	assert_null(conn);
	test_cert_free(&ap);
}

static void test_garbage_is_dropped_without_answer(void **state)
{
	struct world *w = *state;
	struct capwap_dtls_conn *conn = NULL;
	uint8_t junk[64];

	for (size_t len = 0; len <= sizeof(junk); len++) {
		memset(junk, 0xa5, sizeof(junk));
		if (len > 0)
			junk[0] = CAPWAP_PREAMBLE_DTLS;
		assert_int_equal(capwap_dtls_accept(w->server, (struct sockaddr *)&w->cli_addr,
						    sizeof(w->cli_addr), junk, len, ep_send, &w->srv, &ops, &conn),
				 CAPWAP_DTLS_ACCEPT_DROP);
		assert_null(conn);
	}
	/* A record header that claims a ClientHello but is cut short. */
	uint8_t fake[4 + 13 + 12] = { 1, 0, 0, 0, 22, 0xfe, 0xfd };
	fake[4 + 13] = 1;
	assert_int_not_equal(capwap_dtls_accept(w->server, (struct sockaddr *)&w->cli_addr,
						sizeof(w->cli_addr), fake, sizeof(fake), ep_send, &w->srv, &ops, &conn),
			     CAPWAP_DTLS_ACCEPT_NEW);
	assert_int_equal(w->to_client.n, 0);
}

static void expect_refused(struct world *w, const char *needle)
{
	assert_false(pump(w));
	assert_false(w->srv.established);
	assert_non_null(w->srv.conn);
	const char *why = capwap_dtls_error(w->srv.conn);
	if (strstr(why, needle) == NULL)
		fail_msg("refusal reason \"%s\" lacks \"%s\"", why, needle);
}

static void test_untrusted_mic_is_refused(void **state)
{
	struct world *w = *state;
	struct test_cert ap = test_cert_make("ap3g3-0000000000AA", &w->rogue, false, -60, 86400, NULL);
	client_start(w, &ap, NULL, w->ac_trust);
	expect_refused(w, "refused");
	assert_non_null(strstr(capwap_dtls_error(w->srv.conn), "Rogue CA"));
	test_cert_free(&ap);
}

static void test_expired_mic_is_refused(void **state)
{
	struct world *w = *state;
	struct test_cert ap = test_cert_make("ap3g3-0000000000BB", &w->mfg, false, -7200, -3600, NULL);
	client_start(w, &ap, NULL, w->ac_trust);
	expect_refused(w, "expired");
	test_cert_free(&ap);
}

static void test_ac_certificate_posing_as_wtp_is_refused(void **state)
{
	struct world *w = *state;
	struct test_cert ap = test_cert_make("ap3g3-0000000000CC", &w->mfg, false, -60, 86400,
					     "1.3.6.1.5.5.7.3.18");
	client_start(w, &ap, NULL, w->ac_trust);
	expect_refused(w, "capwapAC");
	test_cert_free(&ap);
}

static void test_cn_without_mac_is_refused(void **state)
{
	struct world *w = *state;
	struct test_cert ap = test_cert_make("just-a-name", &w->mfg, false, -60, 86400, NULL);
	client_start(w, &ap, NULL, w->ac_trust);
	expect_refused(w, "no MAC address");
	test_cert_free(&ap);
}

static void test_client_refuses_untrusted_ac(void **state)
{
	struct world *w = *state;
	size_t len;
	char *pem = test_cert_pem(&w->lsc, NULL, &len);
	struct capwap_error err;
	struct capwap_dtls_trust *lsc_only = capwap_dtls_trust_new(pem, len, &err);
	struct test_cert ap = test_cert_make("ap3g3-0000000000DD", &w->lsc, false, -60, 86400, NULL);

	/* An AP on its LSC trusts only the LSC CA; this controller's
	 * certificate comes from the manufacturing CA (the loop scenario). */
	client_start(w, &ap, NULL, lsc_only);
	assert_false(pump(w));
	assert_false(w->cli.established);
	assert_non_null(strstr(capwap_dtls_error(w->cli.conn), "lscd-controller"));
	test_cert_free(&ap);
	capwap_dtls_trust_free(lsc_only);
	free(pem);
}

static void test_records_both_ways_and_close(void **state)
{
	struct world *w = *state;
	struct test_cert ap = test_cert_make("ap3g3-0000000000EE", &w->mfg, false, -60, 86400, NULL);
	uint8_t msg[1200];

	client_start(w, &ap, NULL, w->ac_trust);
	assert_true(pump(w));
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	assert_int_equal(capwap_dtls_write(w->cli.conn, msg, sizeof(msg)), CAPWAP_DTLS_OK);
	assert_true(pump(w));
	assert_int_equal(w->srv.rx_count, 1);
	assert_int_equal(w->srv.rx_len, sizeof(msg));
	assert_memory_equal(w->srv.rx, msg, sizeof(msg));
	assert_int_equal(capwap_dtls_write(w->srv.conn, msg, 100), CAPWAP_DTLS_OK);
	assert_true(pump(w));
	assert_int_equal(w->cli.rx_count, 1);
	assert_memory_equal(w->cli.rx, msg, 100);

	/* A record replayed verbatim is dropped by DTLS replay detection. */
	assert_int_equal(capwap_dtls_write(w->cli.conn, msg, 10), CAPWAP_DTLS_OK);
	struct datagram copy = w->to_server.d[0];
	assert_true(pump(w));
	assert_int_equal(w->srv.rx_count, 2);
	assert_int_equal(capwap_dtls_input(w->srv.conn, copy.data, copy.len), CAPWAP_DTLS_OK);
	assert_int_equal(w->srv.rx_count, 2);

	capwap_dtls_close(w->cli.conn);
	assert_false(pump(w));
	assert_non_null(strstr(capwap_dtls_error(w->srv.conn), "closed"));
	test_cert_free(&ap);
}

static void test_lost_flight_is_retransmitted(void **state)
{
	struct world *w = *state;
	struct test_cert ap = test_cert_make("ap3g3-0000000000FF", &w->mfg, false, -60, 86400, NULL);

	client_start(w, &ap, NULL, w->ac_trust);
	int64_t wait_ms = capwap_dtls_timeout_ms(w->cli.conn);
	assert_true(wait_ms >= 0 && wait_ms <= 20);
	w->to_server.n = 0;             /* the first ClientHello is lost */
	usleep((useconds_t)(wait_ms + 5) * 1000);
	assert_int_equal(capwap_dtls_handle_timeout(w->cli.conn), CAPWAP_DTLS_OK);
	assert_int_equal(w->to_server.n, 1);
	assert_true(pump(w));
	assert_true(w->srv.established);
	assert_true(w->cli.established);
	test_cert_free(&ap);
}

/* ---- clock skew (issue 9): verification on the controller's clock ---- */

/* An AP presenting leaf joins; true if the AC accepted it. */
static bool handshake(struct world *w, const struct test_cert *leaf)
{
	client_start(w, leaf, NULL, w->ac_trust);
	return pump(w) && w->srv.established;
}

/* The AP's time and the AC's differ by about this much (seconds pass). */
static bool near_time(const char *text, const char *prefix, time_t want)
{
	const char *p = strstr(text, prefix);
	struct tm tm;

	if (p == NULL)
		return false;
	memset(&tm, 0, sizeof(tm));
	if (strptime(p + strlen(prefix), "%Y-%m-%d %H:%M:%SZ", &tm) == NULL)
		return false;
	time_t got = timegm(&tm);
	return got >= want - 5 && got <= want + 5;
}

/* An AP certificate from the future: valid from an hour from now, and the
 * AC's clock is right. */
static void test_ap_certificate_from_the_future(void **state)
{
	struct world *w = *state;
	struct test_cert ap = test_cert_make("ap3g3-286F7FCF53AC", &w->mfg, false, 3600, 365 * DAY,
					     "clientAuth");
	time_t now = time(NULL);

	server_with_clock(w, 0);
	assert_false(handshake(w, &ap));
	const char *why = capwap_dtls_error(w->srv.conn);
	assert_non_null(strstr(why, "certificate CN=ap3g3-286F7FCF53AC issued by "));
	assert_non_null(strstr(why, "refused: clock skew: CN=ap3g3-286F7FCF53AC is valid from "));
	assert_true(near_time(why, "is valid from ", now + 3600));
	assert_true(near_time(why, "the controller's clock reads ", now));
	test_cert_free(&ap);
}

/* The same certificate is fine once the AC's clock is ahead of it: the
 * verification runs on the daemon's clock, not the process's. */
static void test_verification_follows_the_daemon_clock(void **state)
{
	struct world *w = *state;
	struct test_cert ap = test_cert_make("ap3g3-286F7FCF53AC", &w->mfg, false, 3600, 365 * DAY,
					     "clientAuth");

	server_with_clock(w, 2 * 3600);
	assert_true(handshake(w, &ap));
	test_cert_free(&ap);
}

/* An AC whose clock is two days behind sees a fresh MIC as from the future. */
static void test_ac_clock_behind(void **state)
{
	struct world *w = *state;
	struct test_cert ap = test_cert_make("ap3g3-00A2891C0F10", &w->mfg, false, -60, 365 * DAY,
					     "clientAuth");
	time_t now = time(NULL);

	server_with_clock(w, -2 * DAY);
	assert_false(handshake(w, &ap));
	const char *why = capwap_dtls_error(w->srv.conn);
	assert_non_null(strstr(why, "clock skew: CN=ap3g3-00A2891C0F10 is valid from "));
	assert_true(near_time(why, "is valid from ", now - 60));
	assert_true(near_time(why, "the controller's clock reads ", now - 2 * DAY));
	test_cert_free(&ap);
}

/* An LSC that expired (the AP kept it past its end) is refused as expired,
 * with its end and the AC's time, even though the MIC store also refuses
 * it (for its issuer): the date is what the operator needs to know. */
static void test_expired_lsc(void **state)
{
	struct world *w = *state;
	struct test_cert ap = test_cert_make("ap3g3-286F7FCF53AC", &w->lsc, false, -3 * DAY, 1 * DAY,
					     "clientAuth");
	time_t now = time(NULL);

	server_with_clock(w, 2 * DAY);
	assert_false(handshake(w, &ap));
	const char *why = capwap_dtls_error(w->srv.conn);
	assert_non_null(strstr(why, "refused: certificate has expired: CN=ap3g3-286F7FCF53AC was valid until "));
	assert_true(near_time(why, "was valid until ", now + DAY));
	assert_true(near_time(why, "the controller's clock reads ", now + 2 * DAY));
	test_cert_free(&ap);
}

/* Not a date problem: the message stays the generic one. */
static void test_other_refusals_unchanged(void **state)
{
	struct world *w = *state;
	struct test_cert rogue = test_cert_make("Rogue CA", NULL, true, -DAY, 365 * DAY, NULL);
	struct test_cert ap = test_cert_make("ap3g3-286F7FCF53AC", &rogue, false, -60, 365 * DAY,
					     "clientAuth");

	server_with_clock(w, 0);
	assert_false(handshake(w, &ap));
	const char *why = capwap_dtls_error(w->srv.conn);
	assert_null(strstr(why, "clock"));
	assert_non_null(strstr(why, "refused: unable to get local issuer certificate"));
	test_cert_free(&ap);
	test_cert_free(&rogue);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mic_handshake_identifies_ap, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_lsc_is_recognised_as_lsc, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_first_client_hello_gets_only_a_cookie, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_cookie_is_stable_per_address, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_garbage_is_dropped_without_answer, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_mic_is_refused, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_expired_mic_is_refused, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_ac_certificate_posing_as_wtp_is_refused, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_cn_without_mac_is_refused, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_client_refuses_untrusted_ac, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_records_both_ways_and_close, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_lost_flight_is_retransmitted, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_ap_certificate_from_the_future, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_verification_follows_the_daemon_clock, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_ac_clock_behind, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_expired_lsc, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_other_refusals_unchanged, world_setup, world_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
