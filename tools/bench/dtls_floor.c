/*
 * dtls_floor.c — the CPU cost of one server-side DTLS handshake as lscd
 * makes it (capwap/dtls.c: cookie exchange, mutual RSA-2048, lscd's
 * verification callback), without lscd around it: no sockets, no event
 * loop, no CAPWAP Join, no SQLite, no log. A client of the same library
 * runs in the same thread; only the time spent in server calls is counted
 * (CLOCK_THREAD_CPUTIME_ID around each of them).
 *
 * Figure 2 of make bench compares lscd's CPU per join with this floor and
 * with one RSA-2048 signature: the floor says how much of a join the
 * DTLS stack itself costs, the rest is lscd's.
 *
 *   dtls_floor --cert F --key F --mic-ca F --client-cert F --client-key F
 *              --ac-trust F [-n N]
 * prints one JSON object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "capwap/capwap.h"
#include "pki/pki.h"

#define QUEUE_MAX 64
#define DGRAM_MAX 2048

struct queue {
	size_t n;
	size_t len[QUEUE_MAX];
	uint8_t data[QUEUE_MAX][DGRAM_MAX];
};

struct side {
	struct queue out;          /* datagrams this side sent */
	bool established;
};

static struct side server_side, client_side;
static double server_cpu_s;

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void push(struct queue *q, const uint8_t *d, size_t len)
{
	if (q->n == QUEUE_MAX || len > DGRAM_MAX) {
		fprintf(stderr, "dtls_floor: datagram queue overflow\n");
		exit(1);
	}
	memcpy(q->data[q->n], d, len);
	q->len[q->n++] = len;
}

static void on_send(void *arg, const uint8_t *d, size_t len)
{
	push(&((struct side *)arg)->out, d, len);
}

static void on_recv(void *arg, const uint8_t *pkt, size_t len)
{
	(void)arg;
	(void)pkt;
	(void)len;
}

static void on_established(void *arg, const struct capwap_dtls_peer *peer)
{
	(void)peer;
	((struct side *)arg)->established = true;
}

static const struct capwap_dtls_ops server_ops = { on_send, on_recv, on_established };
static const struct capwap_dtls_ops client_ops = { on_send, on_recv, on_established };

static char *slurp(const char *path, size_t *len)
{
	struct pki_buf b = { 0 };
	struct pki_error err;
	if (pki_file_read(path, 1 << 20, &b, &err) != 0) {
		fprintf(stderr, "dtls_floor: %s: %s\n", path, err.reason);
		exit(1);
	}
	*len = b.len;
	return (char *)b.data;
}

static void die(const char *what, const struct capwap_error *err)
{
	fprintf(stderr, "dtls_floor: %s: %s\n", what, err != NULL ? err->reason : "failed");
	exit(1);
}

/* One handshake; false if it did not complete. */
static bool handshake(struct capwap_dtls_ctx *sctx, struct capwap_dtls_ctx *cctx,
		      const struct capwap_dtls_identity *id, const struct capwap_dtls_trust *trust,
		      const struct sockaddr_in *peer)
{
	struct capwap_error err;
	struct capwap_dtls_conn *server = NULL;
	struct capwap_dtls_conn *client = capwap_dtls_connect(cctx, id, trust, &client_ops, &client_side, &err);
	if (client == NULL)
		die("connect", &err);
	memset(&server_side, 0, sizeof(server_side));
	memset(&client_side, 0, sizeof(client_side));
	capwap_dtls_start(client);
	for (int round = 0; round < 32 && !(server_side.established && client_side.established); round++) {
		struct queue q = client_side.out;
		client_side.out.n = 0;
		for (size_t i = 0; i < q.n; i++) {
			double t = thread_cpu();
			if (server == NULL) {
				if (capwap_dtls_accept(sctx, (const struct sockaddr *)peer, sizeof(*peer), q.data[i],
						       q.len[i], on_send, &server_side, &server_ops, &server) ==
				    CAPWAP_DTLS_ACCEPT_NEW) {
					capwap_dtls_set_arg(server, &server_side);
					capwap_dtls_start(server);
				}
			} else {
				capwap_dtls_input(server, q.data[i], q.len[i]);
			}
			server_cpu_s += thread_cpu() - t;
		}
		q = server_side.out;
		server_side.out.n = 0;
		for (size_t i = 0; i < q.n; i++)
			capwap_dtls_input(client, q.data[i], q.len[i]);
	}
	bool ok = server_side.established && client_side.established;
	double t = thread_cpu();
	capwap_dtls_free(server);
	server_cpu_s += thread_cpu() - t;
	capwap_dtls_free(client);
	return ok;
}

int main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL, *mic_ca = NULL, *ccert = NULL, *ckey = NULL, *trust_file = NULL;
	unsigned n = 500;
	struct capwap_error err;
	struct pki_error perr;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--cert")) cert = argv[i + 1];
		else if (!strcmp(argv[i], "--key")) key = argv[i + 1];
		else if (!strcmp(argv[i], "--mic-ca")) mic_ca = argv[i + 1];
		else if (!strcmp(argv[i], "--client-cert")) ccert = argv[i + 1];
		else if (!strcmp(argv[i], "--client-key")) ckey = argv[i + 1];
		else if (!strcmp(argv[i], "--ac-trust")) trust_file = argv[i + 1];
		else if (!strcmp(argv[i], "-n")) n = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else {
			fprintf(stderr, "dtls_floor: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!cert || !key || !mic_ca || !ccert || !ckey || !trust_file || n == 0) {
		fprintf(stderr, "usage: dtls_floor --cert F --key F --mic-ca F --client-cert F "
				"--client-key F --ac-trust F [-n N]\n");
		return 2;
	}
	if (pki_init(&perr) != 0) {
		fprintf(stderr, "dtls_floor: %s\n", perr.reason);
		return 1;
	}
	struct capwap_dtls_config sc = { .role = CAPWAP_DTLS_SERVER, .cert_file = cert, .key_file = key,
					 .mic_ca_file = mic_ca };
	struct capwap_dtls_config cc = { .role = CAPWAP_DTLS_CLIENT };
	struct capwap_dtls_ctx *sctx = capwap_dtls_ctx_new(&sc, &err);
	if (sctx == NULL)
		die("server context", &err);
	struct capwap_dtls_ctx *cctx = capwap_dtls_ctx_new(&cc, &err);
	if (cctx == NULL)
		die("client context", &err);
	size_t cl, kl, tl;
	char *cpem = slurp(ccert, &cl), *kpem = slurp(ckey, &kl), *tpem = slurp(trust_file, &tl);
	struct capwap_dtls_identity *id = capwap_dtls_identity_new(cpem, cl, kpem, kl, &err);
	if (id == NULL)
		die("client identity", &err);
	struct capwap_dtls_trust *trust = capwap_dtls_trust_new(tpem, tl, &err);
	if (trust == NULL)
		die("client trust", &err);

	/* warm up: first-use costs (provider loading, method fetches) */
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(40000) };
	peer.sin_addr.s_addr = htonl(0x7f010001);
	for (int i = 0; i < 5; i++)
		if (!handshake(sctx, cctx, id, trust, &peer))
			die("warm-up handshake", NULL);
	server_cpu_s = 0;
	double t0 = thread_cpu();
	unsigned ok = 0;
	for (unsigned i = 0; i < n; i++) {
		peer.sin_addr.s_addr = htonl(0x7f010001 + i);
		peer.sin_port = htons((uint16_t)(40000 + i % 20000));
		ok += handshake(sctx, cctx, id, trust, &peer);
	}
	double total = thread_cpu() - t0;
	printf("{\"handshakes\": %u, \"completed\": %u, \"server_cpu_ms_per_handshake\": %.4f, "
	       "\"client_cpu_ms_per_handshake\": %.4f}\n",
	       n, ok, 1000 * server_cpu_s / n, 1000 * (total - server_cpu_s) / n);
	capwap_dtls_identity_free(id);
	capwap_dtls_trust_free(trust);
	capwap_dtls_ctx_free(cctx);
	capwap_dtls_ctx_free(sctx);
	free(cpem);
	free(kpem);
	free(tpem);
	return ok == n ? 0 : 1;
}
