/*
 * dtls.c — DTLS 1.2 for CAPWAP (RFC 5415 §2.3, §2.4.4), without I/O.
 *
 * OpenSSL talks to a small BIO of our own that carries exactly one datagram
 * per read and turns every write into one datagram handed to the caller, with
 * the CAPWAP DTLS header in front. Memory BIOs would merge datagrams and lose
 * the record boundaries DTLS depends on; a socket BIO would put I/O here.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "capwap/capwap.h"

#define DTLS_DEFAULT_MTU     1400
/* IPv6 (40) + UDP (8) + CAPWAP DTLS header (4): the worst case below DTLS. */
#define DTLS_LINK_OVERHEAD   52
#define DTLS_RX_SCRATCH      16384
#define DTLS_COOKIE_LEN      16

/* Cisco 17.5+ defaults first, then the RFC 5415 mandatory suite. */
#define DTLS_DEFAULT_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"DHE-RSA-AES128-SHA:AES128-SHA"

#define OID_KP_CAPWAP_AC  "1.3.6.1.5.5.7.3.18"
#define OID_KP_CAPWAP_WTP "1.3.6.1.5.5.7.3.19"

/* The state behind our BIO: the one datagram waiting to be read, and where
 * written datagrams go. */
struct dgram_io {
	const uint8_t *in;
	size_t in_len;
	bool in_ready;
	bool wrote;
	struct sockaddr_storage peer;
	size_t peer_len;
	capwap_dtls_send_fn send;
	void *arg;
	size_t mtu;
};

struct capwap_dtls_ctx {
	enum capwap_dtls_role role;
	unsigned refs;                  /* the owner plus every connection */
	SSL_CTX *ssl_ctx;
	BIO_METHOD *bio_method;
	X509_STORE *mic_store;
	X509_STORE *lsc_store;
	size_t mtu;
	unsigned retransmit_us;
	uint8_t cookie_secret[32];
	/* HMAC-SHA256 keyed with cookie_secret, duplicated for each cookie:
	 * EVP_Q_mac() would fetch HMAC and SHA-256 for every ClientHello. */
	EVP_MAC_CTX *cookie_mac;
	SSL *listener;                  /* reused for every DTLSv1_listen */
	BIO *listener_bio;
	struct dgram_io listener_io;
	BIO_ADDR *listener_addr;
	uint8_t *rx_scratch;
	void (*keylog)(const char *line, void *arg);
	void *keylog_arg;
	int64_t time_offset_s;          /* tests: the daemon's shifted clock */
};

struct capwap_dtls_identity {
	X509 *cert;
	STACK_OF(X509) *chain;
	EVP_PKEY *key;
};

struct capwap_dtls_trust {
	X509_STORE *store;
};

struct capwap_dtls_conn {
	struct capwap_dtls_ctx *ctx;
	SSL *ssl;
	struct dgram_io io;
	const struct capwap_dtls_ops *ops;
	void *arg;
	const struct capwap_dtls_trust *trust;  /* client only */
	bool established;
	bool finished;
	struct capwap_dtls_peer peer;
	char error[320];
};

static void ctx_unref(struct capwap_dtls_ctx *ctx);

static void set_err(struct capwap_error *err, enum capwap_status st, const char *what)
{
	if (err == NULL)
		return;
	err->status = st;
	unsigned long e = ERR_peek_last_error();
	if (e != 0) {
		char ossl[120];
		ERR_error_string_n(e, ossl, sizeof(ossl));
		snprintf(err->reason, sizeof(err->reason), "%s: %s", what, ossl);
	} else {
		snprintf(err->reason, sizeof(err->reason), "%s", what);
	}
	ERR_clear_error();
}

static void conn_fail(struct capwap_dtls_conn *conn, const char *what)
{
	conn->finished = true;
	if (conn->error[0] != '\0')
		return;         /* the first reason (usually the verifier's) is the useful one */
	unsigned long e = ERR_peek_last_error();
	if (e != 0) {
		char ossl[120];
		ERR_error_string_n(e, ossl, sizeof(ossl));
		snprintf(conn->error, sizeof(conn->error), "%s: %s", what, ossl);
	} else {
		snprintf(conn->error, sizeof(conn->error), "%s", what);
	}
}

/* ---- the datagram BIO ---------------------------------------------------- */

static int dgram_write(BIO *bio, const char *data, int len)
{
	struct dgram_io *io = BIO_get_data(bio);
	uint8_t frame[CAPWAP_DTLS_HEADER_LEN + DTLS_RX_SCRATCH + 512];

	if (len < 0 || (size_t)len > sizeof(frame) - CAPWAP_DTLS_HEADER_LEN)
		return -1;
	frame[0] = CAPWAP_PREAMBLE_DTLS;
	frame[1] = frame[2] = frame[3] = 0;
	memcpy(frame + CAPWAP_DTLS_HEADER_LEN, data, (size_t)len);
	io->wrote = true;
	if (io->send != NULL)
		io->send(io->arg, frame, (size_t)len + CAPWAP_DTLS_HEADER_LEN);
	return len;
}

static int dgram_read(BIO *bio, char *out, int outl)
{
	struct dgram_io *io = BIO_get_data(bio);

	BIO_clear_retry_flags(bio);
	if (!io->in_ready) {
		BIO_set_retry_read(bio);
		return -1;
	}
	io->in_ready = false;
	/* A datagram larger than the reader's buffer is truncated, as recvfrom
	 * would; DTLS then discards the damaged record. */
	size_t n = io->in_len < (size_t)outl ? io->in_len : (size_t)outl;
	memcpy(out, io->in, n);
	return (int)n;
}

static bool peer_to_bio_addr(const struct dgram_io *io, BIO_ADDR *out)
{
	if (io->peer.ss_family == AF_INET && io->peer_len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&io->peer;
		return BIO_ADDR_rawmake(out, AF_INET, &sin->sin_addr, sizeof(sin->sin_addr),
					sin->sin_port) == 1;
	}
	if (io->peer.ss_family == AF_INET6 && io->peer_len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&io->peer;
		return BIO_ADDR_rawmake(out, AF_INET6, &sin6->sin6_addr, sizeof(sin6->sin6_addr),
					sin6->sin6_port) == 1;
	}
	return false;
}

static long dgram_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	struct dgram_io *io = BIO_get_data(bio);

	(void)num;
	switch (cmd) {
	case BIO_CTRL_DGRAM_QUERY_MTU:
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return (long)io->mtu;
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
		return DTLS_LINK_OVERHEAD;
	case BIO_CTRL_DGRAM_GET_PEER:
		return ptr != NULL && peer_to_bio_addr(io, ptr) ? (long)io->peer_len : 0;
	case BIO_CTRL_DGRAM_SET_PEER:
	case BIO_CTRL_DGRAM_SET_CONNECTED:
	case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_PENDING:
		return io->in_ready ? (long)io->in_len : 0;
	default:
		return 0;
	}
}

static int dgram_create(BIO *bio)
{
	BIO_set_init(bio, 1);
	return 1;
}

static BIO_METHOD *dgram_method_new(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				     "capwap-dtls-datagram");
	if (m == NULL)
		return NULL;
	BIO_meth_set_write(m, dgram_write);
	BIO_meth_set_read(m, dgram_read);
	BIO_meth_set_ctrl(m, dgram_ctrl);
	BIO_meth_set_create(m, dgram_create);
	return m;
}

static BIO *dgram_bio_new(struct capwap_dtls_ctx *ctx, struct dgram_io *io)
{
	BIO *bio = BIO_new(ctx->bio_method);
	if (bio != NULL)
		BIO_set_data(bio, io);
	return bio;
}

/* ---- certificate checks -------------------------------------------------- */

static void name_oneline(const X509_NAME *name, char *out, size_t outlen)
{
	BIO *mem = BIO_new(BIO_s_mem());
	out[0] = '\0';
	if (mem == NULL)
		return;
	if (X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		int n = BIO_read(mem, out, (int)outlen - 1);
		out[n > 0 ? n : 0] = '\0';
	}
	BIO_free(mem);
}

static void subject_cn(const X509 *cert, char *out, size_t outlen)
{
	const X509_NAME *subj = X509_get_subject_name(cert);
	int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	unsigned char *utf8 = NULL;

	out[0] = '\0';
	if (idx < 0)
		return;
	const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
	int n = ASN1_STRING_to_UTF8(&utf8, s);
	if (n < 0)
		return;
	size_t len = (size_t)n < outlen - 1 ? (size_t)n : outlen - 1;
	memcpy(out, utf8, len);
	out[len] = '\0';
	OPENSSL_free(utf8);
}

static int64_t asn1_time_to_epoch(const ASN1_TIME *t)
{
	struct tm tm;
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static void describe_peer(X509 *cert, struct capwap_dtls_peer *peer)
{
	unsigned int mdlen = sizeof(peer->sha1);

	subject_cn(cert, peer->subject_cn, sizeof(peer->subject_cn));
	peer->has_mac = capwap_mac_from_cn(peer->subject_cn, strlen(peer->subject_cn), peer->mac);
	name_oneline(X509_get_issuer_name(cert), peer->issuer, sizeof(peer->issuer));
	peer->serial_hex[0] = '\0';
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	if (bn != NULL) {
		char *hex = BN_bn2hex(bn);
		if (hex != NULL) {
			snprintf(peer->serial_hex, sizeof(peer->serial_hex), "%s", hex);
			OPENSSL_free(hex);
		}
		BN_free(bn);
	}
	peer->not_before = asn1_time_to_epoch(X509_get0_notBefore(cert));
	peer->not_after = asn1_time_to_epoch(X509_get0_notAfter(cert));
	X509_digest(cert, EVP_sha1(), peer->sha1, &mdlen);
}

/*
 * RFC 5415 §2.4.4.3: when a certificate carries an EKU, it must name the
 * holder's CAPWAP role or anyExtendedKeyUsage. Real CA profiles for AP
 * certificates (micromdm's among them) issue only id-kp-clientAuth, so the
 * generic TLS purposes are accepted too; what is refused is a certificate
 * that names only the other CAPWAP role (an AC certificate posing as a WTP).
 */
static const char *eku_refusal(X509 *cert, bool peer_is_wtp)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
	const char *own = peer_is_wtp ? OID_KP_CAPWAP_WTP : OID_KP_CAPWAP_AC;
	const char *other = peer_is_wtp ? OID_KP_CAPWAP_AC : OID_KP_CAPWAP_WTP;
	bool acceptable = false, names_other = false;

	if (eku == NULL)
		return NULL;
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		char oid[64];
		const ASN1_OBJECT *obj = sk_ASN1_OBJECT_value(eku, i);
		int nid = OBJ_obj2nid(obj);
		OBJ_obj2txt(oid, sizeof(oid), obj, 1);
		if (strcmp(oid, own) == 0 || nid == NID_anyExtendedKeyUsage ||
		    nid == NID_client_auth || nid == NID_server_auth)
			acceptable = true;
		else if (strcmp(oid, other) == 0)
			names_other = true;
	}
	EXTENDED_KEY_USAGE_free(eku);
	if (acceptable)
		return NULL;
	if (names_other)
		return peer_is_wtp ? "certificate is for an AC (id-kp-capwapAC), not a WTP"
				   : "certificate is for a WTP (id-kp-capwapWTP), not an AC";
	return peer_is_wtp ? "extended key usage allows neither id-kp-capwapWTP nor client authentication"
			   : "extended key usage allows neither id-kp-capwapAC nor server authentication";
}

/* A certificate refused for its dates: which one, and its validity. */
struct time_refusal {
	char cn[65];
	int64_t not_before;
	int64_t not_after;
};

static bool is_time_error(int rc)
{
	return rc == X509_V_ERR_CERT_NOT_YET_VALID || rc == X509_V_ERR_CERT_HAS_EXPIRED;
}

static void utc_text(int64_t t, char out[24])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, 24, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		snprintf(out, 24, "%lld", (long long)t);
}

/* Verify leaf + untrusted chain against one store at time now; 0 on
 * success, else the X509_V_ERR code, with the failing depth in *depth and,
 * for a date error, the certificate at fault in *tr. */
static int verify_against(X509_STORE *store, X509 *leaf, STACK_OF(X509) *untrusted, time_t now,
			  int *depth, struct time_refusal *tr)
{
	X509_STORE_CTX *v = X509_STORE_CTX_new();
	int rc = X509_V_ERR_UNSPECIFIED;

	*depth = 0;
	if (v == NULL)
		return rc;
	if (X509_STORE_CTX_init(v, store, leaf, untrusted) == 1) {
		X509_STORE_CTX_set_time(v, 0, now);
		if (X509_verify_cert(v) == 1) {
			rc = 0;
		} else {
			rc = X509_STORE_CTX_get_error(v);
			*depth = X509_STORE_CTX_get_error_depth(v);
			X509 *bad = X509_STORE_CTX_get_current_cert(v);
			if (is_time_error(rc) && bad != NULL) {
				subject_cn(bad, tr->cn, sizeof(tr->cn));
				tr->not_before = asn1_time_to_epoch(X509_get0_notBefore(bad));
				tr->not_after = asn1_time_to_epoch(X509_get0_notAfter(bad));
			}
		}
	}
	X509_STORE_CTX_free(v);
	return rc;
}

static int verify_peer_chain(X509_STORE_CTX *x509ctx, void *arg)
{
	struct capwap_dtls_ctx *ctx = arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(x509ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct capwap_dtls_conn *conn = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(x509ctx);
	STACK_OF(X509) *untrusted = X509_STORE_CTX_get0_untrusted(x509ctx);
	bool peer_is_wtp = ctx->role == CAPWAP_DTLS_SERVER;
	int lsc_rc = -1, mic_rc = -1, depth = 0;
	time_t now = time(NULL) + (time_t)ctx->time_offset_s;
	struct time_refusal lsc_tr = { "", 0, 0 }, mic_tr = { "", 0, 0 };

	if (conn == NULL || leaf == NULL)
		return 0;
	memset(&conn->peer, 0, sizeof(conn->peer));
	describe_peer(leaf, &conn->peer);

	if (peer_is_wtp) {
		if (ctx->lsc_store != NULL &&
		    (lsc_rc = verify_against(ctx->lsc_store, leaf, untrusted, now, &depth, &lsc_tr)) == 0)
			conn->peer.cert_class = CAPWAP_CERT_LSC;
		else if (ctx->mic_store != NULL &&
			 (mic_rc = verify_against(ctx->mic_store, leaf, untrusted, now, &depth, &mic_tr)) == 0)
			conn->peer.cert_class = CAPWAP_CERT_MIC;
	} else if (conn->trust != NULL) {
		if ((mic_rc = verify_against(conn->trust->store, leaf, untrusted, now, &depth, &mic_tr)) == 0)
			conn->peer.cert_class = CAPWAP_CERT_MIC;
	}

	/*
	 * A chain refused only for its dates is a clock problem on one side
	 * or the other (an AP certificate from the future, an expired LSC):
	 * say which certificate and both times, not a bare "not yet valid".
	 */
	if (conn->peer.cert_class == CAPWAP_CERT_NONE && (is_time_error(lsc_rc) || is_time_error(mic_rc))) {
		int rc = is_time_error(lsc_rc) ? lsc_rc : mic_rc;
		const struct time_refusal *tr = is_time_error(lsc_rc) ? &lsc_tr : &mic_tr;
		char when[24], clock[24];
		utc_text(now, clock);
		if (rc == X509_V_ERR_CERT_NOT_YET_VALID) {
			utc_text(tr->not_before, when);
			snprintf(conn->error, sizeof(conn->error),
				 "certificate CN=%.64s issued by %.64s refused: clock skew: CN=%.48s is valid "
				 "from %.20s, the controller's clock reads %.20s",
				 conn->peer.subject_cn, conn->peer.issuer, tr->cn, when, clock);
		} else {
			utc_text(tr->not_after, when);
			snprintf(conn->error, sizeof(conn->error),
				 "certificate CN=%.64s issued by %.48s refused: certificate has expired: CN=%.48s "
				 "was valid until %.20s, the controller's clock reads %.20s",
				 conn->peer.subject_cn, conn->peer.issuer, tr->cn, when, clock);
		}
		X509_STORE_CTX_set_error(x509ctx, rc);
		return 0;
	}
	if (conn->peer.cert_class == CAPWAP_CERT_NONE) {
		int rc = mic_rc > 0 ? mic_rc : lsc_rc > 0 ? lsc_rc : X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
		bool both = peer_is_wtp && lsc_rc > 0 && mic_rc > 0;
		snprintf(conn->error, sizeof(conn->error),
			 "certificate CN=%.64s issued by %.96s refused: %.48s%s%.48s%s",
			 conn->peer.subject_cn, conn->peer.issuer,
			 X509_verify_cert_error_string(rc),
			 both ? " (as an LSC: " : "",
			 both ? X509_verify_cert_error_string(lsc_rc) : "", both ? ")" : "");
		X509_STORE_CTX_set_error(x509ctx, rc);
		return 0;
	}
	const char *eku = eku_refusal(leaf, peer_is_wtp);
	if (eku != NULL) {
		snprintf(conn->error, sizeof(conn->error), "certificate CN=%.64s refused: %s",
			 conn->peer.subject_cn, eku);
		X509_STORE_CTX_set_error(x509ctx, X509_V_ERR_INVALID_PURPOSE);
		return 0;
	}
	if (peer_is_wtp && !conn->peer.has_mac) {
		snprintf(conn->error, sizeof(conn->error),
			 "certificate CN=%.64s refused: no MAC address in the subject CN",
			 conn->peer.subject_cn);
		X509_STORE_CTX_set_error(x509ctx, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return 1;
}

/* ---- cookies ------------------------------------------------------------- */

/* HMAC over the peer's address: the cookie proves the ClientHello's source
 * address can receive, without keeping any state for it. */
static int cookie_compute(SSL *ssl, unsigned char *out, size_t *outlen)
{
	struct capwap_dtls_ctx *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct dgram_io *io = BIO_get_data(SSL_get_rbio(ssl));
	unsigned char mac[EVP_MAX_MD_SIZE], who[2 + 16];
	size_t maclen = 0, wholen;

	if (ctx == NULL || io == NULL)
		return 0;
	/* Address and port only: padding inside a sockaddr is not the peer's. */
	if (io->peer.ss_family == AF_INET && io->peer_len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&io->peer;
		memcpy(who, &sin->sin_port, 2);
		memcpy(who + 2, &sin->sin_addr, 4);
		wholen = 6;
	} else if (io->peer.ss_family == AF_INET6 && io->peer_len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&io->peer;
		memcpy(who, &sin6->sin6_port, 2);
		memcpy(who + 2, &sin6->sin6_addr, 16);
		wholen = 18;
	} else {
		return 0;
	}
	/* The keyed template stays as it is: each cookie works on a copy. */
	EVP_MAC_CTX *hmac = EVP_MAC_CTX_dup(ctx->cookie_mac);
	int ok = hmac != NULL && EVP_MAC_update(hmac, who, wholen) == 1 &&
		 EVP_MAC_final(hmac, mac, &maclen, sizeof(mac)) == 1 && maclen >= DTLS_COOKIE_LEN;
	EVP_MAC_CTX_free(hmac);
	if (!ok)
		return 0;
	memcpy(out, mac, DTLS_COOKIE_LEN);
	*outlen = DTLS_COOKIE_LEN;
	return 1;
}

static EVP_MAC_CTX *cookie_mac_new(const uint8_t *key, size_t keylen)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;

	EVP_MAC_free(mac);              /* the context holds its own reference */
	if (ctx != NULL && EVP_MAC_init(ctx, key, keylen, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

static int cookie_generate(SSL *ssl, unsigned char *cookie, unsigned int *cookie_len)
{
	size_t len = 0;
	if (!cookie_compute(ssl, cookie, &len))
		return 0;
	*cookie_len = (unsigned int)len;
	return 1;
}

static int cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned int cookie_len)
{
	unsigned char expect[DTLS_COOKIE_LEN];
	size_t len = 0;

	if (cookie_len != DTLS_COOKIE_LEN || !cookie_compute(ssl, expect, &len))
		return 0;
	return CRYPTO_memcmp(expect, cookie, DTLS_COOKIE_LEN) == 0;
}

/* OpenSSL's schedule (1 s, doubling to 60 s) with a configurable start. */
static unsigned int retransmit_schedule(SSL *ssl, unsigned int timer_us)
{
	struct capwap_dtls_ctx *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	if (timer_us == 0)
		return ctx->retransmit_us;
	return timer_us >= 30000000u ? 60000000u : timer_us * 2;
}

static void keylog_line(const SSL *ssl, const char *line)
{
	struct capwap_dtls_ctx *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	if (ctx != NULL && ctx->keylog != NULL)
		ctx->keylog(line, ctx->keylog_arg);
}

/* ---- context ------------------------------------------------------------- */

static X509_STORE *store_from_file(const char *path, const char *what, struct capwap_error *err)
{
	X509_STORE *store = X509_STORE_new();
	char msg[160];

	if (store == NULL || X509_STORE_load_file(store, path) != 1) {
		snprintf(msg, sizeof(msg), "%s %s: cannot load", what, path);
		set_err(err, CAPWAP_ERR_MALFORMED, msg);
		X509_STORE_free(store);
		return NULL;
	}
	return store;
}

static bool listener_reset(struct capwap_dtls_ctx *ctx)
{
	if (ctx->listener != NULL)
		SSL_free(ctx->listener);        /* frees listener_bio too */
	ctx->listener = SSL_new(ctx->ssl_ctx);
	ctx->listener_bio = ctx->listener != NULL ? dgram_bio_new(ctx, &ctx->listener_io) : NULL;
	if (ctx->listener_bio == NULL)
		return false;
	SSL_set_bio(ctx->listener, ctx->listener_bio, ctx->listener_bio);
	SSL_set_options(ctx->listener, SSL_OP_COOKIE_EXCHANGE);
	SSL_set_mtu(ctx->listener, (long)(ctx->mtu - DTLS_LINK_OVERHEAD));
	DTLS_set_timer_cb(ctx->listener, retransmit_schedule);
	return true;
}

struct capwap_dtls_ctx *capwap_dtls_ctx_new(const struct capwap_dtls_config *cfg,
					    struct capwap_error *err)
{
	struct capwap_dtls_ctx *ctx = calloc(1, sizeof(*ctx));
	char msg[160];

	if (ctx == NULL) {
		set_err(err, CAPWAP_ERR_LIMIT, "out of memory");
		return NULL;
	}
	ctx->refs = 1;
	ctx->role = cfg->role;
	ctx->mtu = cfg->mtu != 0 ? cfg->mtu : DTLS_DEFAULT_MTU;
	ctx->retransmit_us = (cfg->retransmit_ms != 0 ? cfg->retransmit_ms : 1000) * 1000u;
	ctx->keylog = cfg->keylog;
	ctx->keylog_arg = cfg->keylog_arg;
	ctx->time_offset_s = cfg->time_offset_s;
	if (ctx->mtu < 576 || ctx->mtu > 9000) {
		set_err(err, CAPWAP_ERR_MALFORMED, "DTLS MTU must be between 576 and 9000");
		goto fail;
	}
	ctx->rx_scratch = malloc(DTLS_RX_SCRATCH);
	ctx->bio_method = dgram_method_new();
	ctx->ssl_ctx = SSL_CTX_new(DTLS_method());
	if (ctx->rx_scratch == NULL || ctx->bio_method == NULL || ctx->ssl_ctx == NULL ||
	    RAND_bytes(ctx->cookie_secret, sizeof(ctx->cookie_secret)) != 1) {
		set_err(err, CAPWAP_ERR_LIMIT, "cannot create the DTLS context");
		goto fail;
	}
	SSL_CTX_set_app_data(ctx->ssl_ctx, ctx);
	SSL_CTX_set_min_proto_version(ctx->ssl_ctx, DTLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx->ssl_ctx, DTLS1_2_VERSION);
	/* Each join authenticates afresh (the AP may come back with a different
	 * certificate class), so no session resumption on the control channel;
	 * no renegotiation either (§5.2 row 18). */
	SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
			    SSL_OP_NO_QUERY_MTU);
	SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_OFF);
	/* Idle sessions give their record buffers back: thousands of APs. */
	SSL_CTX_set_mode(ctx->ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx->ssl_ctx, cfg->ciphers != NULL ? cfg->ciphers : DTLS_DEFAULT_CIPHERS) != 1) {
		snprintf(msg, sizeof(msg), "cipher list \"%.100s\" selects nothing",
			 cfg->ciphers != NULL ? cfg->ciphers : DTLS_DEFAULT_CIPHERS);
		set_err(err, CAPWAP_ERR_MALFORMED, msg);
		goto fail;
	}
	SSL_CTX_set_cert_verify_callback(ctx->ssl_ctx, verify_peer_chain, ctx);
	if (ctx->keylog != NULL)
		SSL_CTX_set_keylog_callback(ctx->ssl_ctx, keylog_line);

	if (cfg->role == CAPWAP_DTLS_SERVER) {
		if (cfg->cert_file == NULL || cfg->key_file == NULL) {
			set_err(err, CAPWAP_ERR_MISSING, "DTLS server needs a certificate and a key");
			goto fail;
		}
		if (SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, cfg->cert_file) != 1) {
			snprintf(msg, sizeof(msg), "certificate %s: cannot load", cfg->cert_file);
			set_err(err, CAPWAP_ERR_MALFORMED, msg);
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx->ssl_ctx) != 1) {
			snprintf(msg, sizeof(msg), "key %s: cannot load or does not match %s",
				 cfg->key_file, cfg->cert_file);
			set_err(err, CAPWAP_ERR_MALFORMED, msg);
			goto fail;
		}
		if (cfg->mic_ca_file == NULL && cfg->lsc_ca_file == NULL) {
			set_err(err, CAPWAP_ERR_MISSING, "DTLS server needs a MIC CA bundle or an LSC CA");
			goto fail;
		}
		if (cfg->mic_ca_file != NULL &&
		    (ctx->mic_store = store_from_file(cfg->mic_ca_file, "MIC CA bundle", err)) == NULL)
			goto fail;
		if (cfg->lsc_ca_file != NULL &&
		    (ctx->lsc_store = store_from_file(cfg->lsc_ca_file, "LSC CA", err)) == NULL)
			goto fail;
		SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		SSL_CTX_set_cookie_generate_cb(ctx->ssl_ctx, cookie_generate);
		SSL_CTX_set_cookie_verify_cb(ctx->ssl_ctx, cookie_verify);
		ctx->cookie_mac = cookie_mac_new(ctx->cookie_secret, sizeof(ctx->cookie_secret));
		ctx->listener_addr = BIO_ADDR_new();
		if (ctx->cookie_mac == NULL || ctx->listener_addr == NULL || !listener_reset(ctx)) {
			set_err(err, CAPWAP_ERR_LIMIT, "cannot create the DTLS listener");
			goto fail;
		}
	} else {
		SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER, NULL);
	}
	ERR_clear_error();
	return ctx;
fail:
	ctx_unref(ctx);
	return NULL;
}

static void ctx_unref(struct capwap_dtls_ctx *ctx)
{
	if (ctx == NULL || --ctx->refs > 0)
		return;
	SSL_free(ctx->listener);
	BIO_ADDR_free(ctx->listener_addr);
	SSL_CTX_free(ctx->ssl_ctx);
	BIO_meth_free(ctx->bio_method);
	X509_STORE_free(ctx->mic_store);
	X509_STORE_free(ctx->lsc_store);
	free(ctx->rx_scratch);
	EVP_MAC_CTX_free(ctx->cookie_mac);
	OPENSSL_cleanse(ctx->cookie_secret, sizeof(ctx->cookie_secret));
	free(ctx);
}

/* Connections keep the context alive: a reload may replace it while
 * established sessions carry on with the old one. */
void capwap_dtls_ctx_free(struct capwap_dtls_ctx *ctx)
{
	ctx_unref(ctx);
}

/* ---- identities and trust (client side) --------------------------------- */

struct capwap_dtls_identity *capwap_dtls_identity_new(const char *cert_pem, size_t cert_len,
						      const char *key_pem, size_t key_len,
						      struct capwap_error *err)
{
	struct capwap_dtls_identity *id = calloc(1, sizeof(*id));
	BIO *cb = BIO_new_mem_buf(cert_pem, (int)cert_len);
	BIO *kb = BIO_new_mem_buf(key_pem, (int)key_len);
	X509 *extra;

	if (id == NULL || cb == NULL || kb == NULL)
		goto fail;
	id->cert = PEM_read_bio_X509(cb, NULL, NULL, NULL);
	id->key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	id->chain = sk_X509_new_null();
	if (id->cert == NULL || id->key == NULL || id->chain == NULL)
		goto fail;
	while ((extra = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(id->chain, extra)) {
			X509_free(extra);
			goto fail;
		}
	if (X509_check_private_key(id->cert, id->key) != 1)
		goto fail;
	BIO_free(cb);
	BIO_free(kb);
	ERR_clear_error();
	return id;
fail:
	set_err(err, CAPWAP_ERR_MALFORMED, "DTLS identity: bad certificate or key PEM, or they do not match");
	BIO_free(cb);
	BIO_free(kb);
	capwap_dtls_identity_free(id);
	return NULL;
}

void capwap_dtls_identity_free(struct capwap_dtls_identity *id)
{
	if (id == NULL)
		return;
	X509_free(id->cert);
	sk_X509_pop_free(id->chain, X509_free);
	EVP_PKEY_free(id->key);
	free(id);
}

struct capwap_dtls_trust *capwap_dtls_trust_new(const char *ca_pem, size_t len,
						struct capwap_error *err)
{
	struct capwap_dtls_trust *trust = calloc(1, sizeof(*trust));
	BIO *bio = BIO_new_mem_buf(ca_pem, (int)len);
	X509 *cert;
	int n = 0;

	if (trust == NULL || bio == NULL || (trust->store = X509_STORE_new()) == NULL)
		goto fail;
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		int ok = X509_STORE_add_cert(trust->store, cert);
		X509_free(cert);
		if (ok != 1)
			goto fail;
		n++;
	}
	if (n == 0)
		goto fail;
	BIO_free(bio);
	ERR_clear_error();
	return trust;
fail:
	set_err(err, CAPWAP_ERR_MALFORMED, "DTLS trust anchors: no certificate in the PEM");
	BIO_free(bio);
	capwap_dtls_trust_free(trust);
	return NULL;
}

void capwap_dtls_trust_free(struct capwap_dtls_trust *trust)
{
	if (trust == NULL)
		return;
	X509_STORE_free(trust->store);
	free(trust);
}

/* ---- connections --------------------------------------------------------- */

static struct capwap_dtls_conn *conn_alloc(struct capwap_dtls_ctx *ctx,
					   const struct capwap_dtls_ops *ops, void *arg)
{
	struct capwap_dtls_conn *conn = calloc(1, sizeof(*conn));
	if (conn == NULL)
		return NULL;
	conn->ctx = ctx;
	ctx->refs++;
	conn->ops = ops;
	conn->arg = arg;
	conn->io.send = ops->send;
	conn->io.arg = arg;
	conn->io.mtu = ctx->mtu;
	return conn;
}

static bool looks_like_client_hello(const uint8_t *dgram, size_t len)
{
	/* CAPWAP DTLS header, then a DTLS record: type 22 (handshake), version
	 * 0xfeXX, 13-byte record header; handshake type 1 (ClientHello). */
	const uint8_t *rec = dgram + CAPWAP_DTLS_HEADER_LEN;
	return len >= CAPWAP_DTLS_HEADER_LEN + 13 + 12 && dgram[0] == CAPWAP_PREAMBLE_DTLS &&
	       rec[0] == 22 && rec[1] == 0xfe && rec[13] == 1;
}

enum capwap_dtls_accept_result capwap_dtls_accept(struct capwap_dtls_ctx *ctx,
						  const struct sockaddr *peer, size_t peer_len,
						  const uint8_t *dgram, size_t len,
						  capwap_dtls_send_fn reply, void *reply_arg,
						  const struct capwap_dtls_ops *ops,
						  struct capwap_dtls_conn **connp)
{
	struct dgram_io *io = &ctx->listener_io;
	struct capwap_dtls_conn *conn;

	*connp = NULL;
	if (ctx->role != CAPWAP_DTLS_SERVER || peer_len > sizeof(io->peer) ||
	    !looks_like_client_hello(dgram, len))
		return CAPWAP_DTLS_ACCEPT_DROP;

	io->in = dgram + CAPWAP_DTLS_HEADER_LEN;
	io->in_len = len - CAPWAP_DTLS_HEADER_LEN;
	io->in_ready = true;
	io->wrote = false;
	memcpy(&io->peer, peer, peer_len);
	io->peer_len = peer_len;
	io->send = reply;
	io->arg = reply_arg;
	io->mtu = ctx->mtu;

	ERR_clear_error();
	int rc = DTLSv1_listen(ctx->listener, ctx->listener_addr);
	io->in_ready = false;
	if (rc <= 0) {
		if (rc < 0)
			listener_reset(ctx);    /* fatal for that SSL: start clean */
		ERR_clear_error();
		return io->wrote ? CAPWAP_DTLS_ACCEPT_COOKIE : CAPWAP_DTLS_ACCEPT_DROP;
	}

	/* The cookie checked out: the listener becomes this peer's connection
	 * (it holds the ClientHello) and a fresh listener takes its place. */
	conn = conn_alloc(ctx, ops, NULL);
	if (conn == NULL)
		return CAPWAP_DTLS_ACCEPT_DROP;
	conn->io = *io;
	conn->io.send = ops->send;
	conn->io.arg = NULL;
	conn->ssl = ctx->listener;
	BIO_set_data(ctx->listener_bio, &conn->io);
	SSL_set_app_data(conn->ssl, conn);
	ctx->listener = NULL;
	if (!listener_reset(ctx)) {
		capwap_dtls_free(conn);
		return CAPWAP_DTLS_ACCEPT_DROP;
	}
	*connp = conn;
	return CAPWAP_DTLS_ACCEPT_NEW;
}

struct capwap_dtls_conn *capwap_dtls_connect(struct capwap_dtls_ctx *ctx,
					     const struct capwap_dtls_identity *id,
					     const struct capwap_dtls_trust *trust,
					     const struct capwap_dtls_ops *ops, void *arg,
					     struct capwap_error *err)
{
	struct capwap_dtls_conn *conn;
	BIO *bio;

	if (ctx->role != CAPWAP_DTLS_CLIENT) {
		set_err(err, CAPWAP_ERR_UNSUPPORTED, "capwap_dtls_connect needs a client context");
		return NULL;
	}
	conn = conn_alloc(ctx, ops, arg);
	if (conn == NULL) {
		set_err(err, CAPWAP_ERR_LIMIT, "out of memory");
		return NULL;
	}
	conn->trust = trust;
	conn->ssl = SSL_new(ctx->ssl_ctx);
	bio = conn->ssl != NULL ? dgram_bio_new(ctx, &conn->io) : NULL;
	if (bio == NULL)
		goto fail;
	SSL_set_bio(conn->ssl, bio, bio);
	SSL_set_app_data(conn->ssl, conn);
	SSL_set_mtu(conn->ssl, (long)(ctx->mtu - DTLS_LINK_OVERHEAD));
	DTLS_set_timer_cb(conn->ssl, retransmit_schedule);
	if (SSL_use_certificate(conn->ssl, id->cert) != 1 ||
	    SSL_use_PrivateKey(conn->ssl, id->key) != 1 ||
	    SSL_set1_chain(conn->ssl, id->chain) != 1)
		goto fail;
	SSL_set_connect_state(conn->ssl);
	return conn;
fail:
	set_err(err, CAPWAP_ERR_LIMIT, "cannot create the DTLS client connection");
	capwap_dtls_free(conn);
	return NULL;
}

void capwap_dtls_set_arg(struct capwap_dtls_conn *conn, void *arg)
{
	conn->arg = arg;
	conn->io.arg = arg;
}

/* Run the handshake as far as the input allows, then hand over any records. */
static enum capwap_dtls_result conn_progress(struct capwap_dtls_conn *conn)
{
	uint8_t *buf = conn->ctx->rx_scratch;
	int n;

	if (conn->finished)
		return CAPWAP_DTLS_CLOSED;
	ERR_clear_error();
	if (!conn->established) {
		n = SSL_do_handshake(conn->ssl);
		if (n != 1) {
			int e = SSL_get_error(conn->ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return CAPWAP_DTLS_OK;
			conn_fail(conn, "DTLS handshake failed");
			return CAPWAP_DTLS_CLOSED;
		}
		conn->established = true;
		snprintf(conn->peer.cipher, sizeof(conn->peer.cipher), "%s",
			 SSL_get_cipher_name(conn->ssl));
		if (conn->ops->established != NULL)
			conn->ops->established(conn->arg, &conn->peer);
		if (conn->finished)
			return CAPWAP_DTLS_CLOSED;
	}
	while ((n = SSL_read(conn->ssl, buf, DTLS_RX_SCRATCH)) > 0) {
		if (conn->ops->recv != NULL)
			conn->ops->recv(conn->arg, buf, (size_t)n);
		if (conn->finished)
			return CAPWAP_DTLS_CLOSED;
	}
	switch (SSL_get_error(conn->ssl, n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return CAPWAP_DTLS_OK;
	case SSL_ERROR_ZERO_RETURN:
		conn_fail(conn, "peer closed the DTLS session");
		return CAPWAP_DTLS_CLOSED;
	default:
		conn_fail(conn, "DTLS session failed");
		return CAPWAP_DTLS_CLOSED;
	}
}

enum capwap_dtls_result capwap_dtls_start(struct capwap_dtls_conn *conn)
{
	return conn_progress(conn);
}

enum capwap_dtls_result capwap_dtls_input(struct capwap_dtls_conn *conn,
					  const uint8_t *dgram, size_t len)
{
	/* A malformed CAPWAP DTLS header is dropped silently (§1.15). */
	if (len <= CAPWAP_DTLS_HEADER_LEN || dgram[0] != CAPWAP_PREAMBLE_DTLS)
		return conn->finished ? CAPWAP_DTLS_CLOSED : CAPWAP_DTLS_OK;
	conn->io.in = dgram + CAPWAP_DTLS_HEADER_LEN;
	conn->io.in_len = len - CAPWAP_DTLS_HEADER_LEN;
	conn->io.in_ready = true;
	enum capwap_dtls_result r = conn_progress(conn);
	conn->io.in_ready = false;
	return r;
}

enum capwap_dtls_result capwap_dtls_write(struct capwap_dtls_conn *conn,
					  const uint8_t *pkt, size_t len)
{
	if (conn->finished || !conn->established || len == 0 || len > capwap_dtls_max_payload(conn))
		return conn->finished ? CAPWAP_DTLS_CLOSED : CAPWAP_DTLS_OK;
	ERR_clear_error();
	int n = SSL_write(conn->ssl, pkt, (int)len);
	if (n != (int)len) {
		conn_fail(conn, "DTLS write failed");
		return CAPWAP_DTLS_CLOSED;
	}
	return CAPWAP_DTLS_OK;
}

size_t capwap_dtls_max_payload(const struct capwap_dtls_conn *conn)
{
	size_t mtu = conn->established ? DTLS_get_data_mtu(conn->ssl) : 0;
	return mtu != 0 ? mtu : conn->ctx->mtu - DTLS_LINK_OVERHEAD - 64;
}

int64_t capwap_dtls_timeout_ms(struct capwap_dtls_conn *conn)
{
	struct timeval tv;
	if (conn->finished || DTLSv1_get_timeout(conn->ssl, &tv) != 1)
		return -1;
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

enum capwap_dtls_result capwap_dtls_handle_timeout(struct capwap_dtls_conn *conn)
{
	if (conn->finished)
		return CAPWAP_DTLS_CLOSED;
	ERR_clear_error();
	if (DTLSv1_handle_timeout(conn->ssl) < 0) {
		conn_fail(conn, "DTLS handshake timed out (peer stopped answering)");
		return CAPWAP_DTLS_CLOSED;
	}
	return CAPWAP_DTLS_OK;
}

void capwap_dtls_close(struct capwap_dtls_conn *conn)
{
	if (!conn->finished && conn->established) {
		ERR_clear_error();
		SSL_shutdown(conn->ssl);
		ERR_clear_error();
	}
	conn->finished = true;
	if (conn->error[0] == '\0')
		snprintf(conn->error, sizeof(conn->error), "closed locally");
}

bool capwap_dtls_established(const struct capwap_dtls_conn *conn)
{
	return conn->established && !conn->finished;
}

const struct capwap_dtls_peer *capwap_dtls_peer_info(const struct capwap_dtls_conn *conn)
{
	return &conn->peer;
}

const char *capwap_dtls_error(const struct capwap_dtls_conn *conn)
{
	return conn->error;
}

void capwap_dtls_free(struct capwap_dtls_conn *conn)
{
	if (conn == NULL)
		return;
	SSL_free(conn->ssl);
	ctx_unref(conn->ctx);
	free(conn);
}
