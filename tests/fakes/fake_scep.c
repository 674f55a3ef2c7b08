/*
 * tests/fakes/fake_scep.c - a FAKE SCEP CA, for tests only.
 *
 * This is not a CA. It exists because the real CA the end-to-end tests use,
 * micromdm's scepserver 2.1.0, cannot do what part of pki/ must be proven
 * against (see ../../shared/spec/scep-notes.md, section 2.3):
 *   - it never answers PENDING (no code path) and answers CertPoll with
 *     HTTP 500, so polling cannot be exercised against it;
 *   - it cannot serve GetNextCACert (HTTP 500) or front itself with RA
 *     certificates (separate encryption and signature RAs, as NDES does);
 *   - it cannot be told to send a corrupt CertRep (bad signature, wrong
 *     recipientNonce, wrong transactionID), garbage, HTTP 500 or nothing.
 * Everything a real CA can do is tested against micromdm instead.
 *
 * An evhttp responder on 127.0.0.1 with its own generated CA. What it does
 * with a PKCSReq depends on the prefix of the CSR's CN (case-insensitive):
 *   pend<N>-        PENDING N times (PKCSReq, then CertPolls), then SUCCESS
 *   pendforever-    PENDING for ever
 *   fail-<info>-    FAILURE with failInfo <info> (badalg, badmessagecheck,
 *                   badrequest, badtime, badcertid) and a failInfoText
 *   badsig-         SUCCESS CertRep whose signature is corrupted
 *   badnonce-       SUCCESS CertRep with a wrong recipientNonce
 *   badtxid-        SUCCESS CertRep with a wrong transactionID
 *   garbage-        600 random bytes as application/x-pki-message
 *   http500-        HTTP 500
 *   hang-           accept and never answer
 *   wrongtype-      a good CertRep sent as text/html
 *   wrongkey-       SUCCESS with a certificate for another key
 *   wrongissuer-    SUCCESS with a certificate from another CA
 *   anything else   SUCCESS
 *
 * Usage: fake_scep --dir DIR [--port N] [--ra] [--next-ca] [--caps LIST]
 *                  [--certrep-cipher des|des3|aes128] [--mode MODE]
 *                  [--ca-days N] [--cert-days N] [--renew-days N]
 *   --port 0 (default) binds an ephemeral port. When ready it writes the CA
 *   (and RA, next CA) certificates to DIR and prints one JSON line on stdout:
 *   {"port":N,"ca_sha256":"hex","next_ca_sha256":"hex"}. Each request is
 *   logged as one JSON line in DIR/requests.log.
 *   --ra        GetCACert answers CA + encryption RA + signature RA
 *   --next-ca   GetNextCACert answers a rollover CA signed by the current one;
 *               its validity starts when the current CA's ends (as an IOS
 *               CA's auto-rollover certificate does). A request enveloped
 *               to the rollover CA's key (a client's shadow renewal) is
 *               answered by the rollover CA: it signs the CertRep and issues
 *               a certificate valid from its own start. micromdm 2.1.0 has
 *               no rollover at all.
 *   --ca-days   validity of the CA (and rollover CA) certificates (3650)
 *   --cert-days validity of issued certificates (365), never beyond the
 *               issuing CA's own end, as a real CA caps them
 *   --renew-days validity of certificates issued to a RenewalReq, or to a
 *               PKCSReq for a CN this fake issued to before (as
 *               --cert-days): a test can enroll a short-lived identity and
 *               get a long-lived one back
 *   --caps      comma-separated GetCACaps keywords ("" for an empty body)
 *   --mode      hang | http500 (every request), garbage-cacert,
 *               wrongtype-cacert (GetCACert only)
 */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pki/pki.h"

struct ident {
	struct pki_key *key;
	struct pki_buf cert;
};

struct txn {
	struct txn *next;
	char txid[129];
	unsigned answers;
	struct pki_buf csr;
	bool renewal;		/* the transaction began with a RenewalReq */
};

struct fake {
	const char *dir;
	struct ident ca, ra_enc, ra_sig, next_ca, rogue;
	bool ra, next;
	char caps[512];
	enum pki_cipher certrep_cipher;
	const char *mode;
	unsigned ca_days, cert_days, renew_days;
	uint64_t serial;
	struct txn *txns;
	char issued_cn[64][65];	/* CNs issued to, for --renew-days */
	unsigned n_issued;
	FILE *log;
};

static void fatal(const char *what, const struct pki_error *err)
{
	fprintf(stderr, "fake_scep: %s: %s\n", what, err ? err->reason : "");
	exit(1);
}

static void make_ident(struct ident *id, const struct ident *issuer, const char *cn,
		       bool ca, unsigned ku, unsigned days, long not_before_offset_s)
{
	struct pki_key_spec spec = { PKI_KEY_RSA, 2048 };
	struct pki_subject subj;
	struct pki_issue_params p = { .days = days, .ca = ca, .key_usage = ku,
				      .not_before_offset_s = not_before_offset_s };
	struct pki_buf csr;
	struct pki_error err;

	memset(&subj, 0, sizeof(subj));
	snprintf(subj.c, sizeof(subj.c), "US");
	snprintf(subj.o, sizeof(subj.o), "fake-scep");
	snprintf(subj.cn, sizeof(subj.cn), "%s", cn);
	if (pki_key_generate(&spec, &id->key, &err) < 0)
		fatal("keygen", &err);
	if (!issuer) {
		if (pki_cert_self_signed(id->key, &subj, &p, &id->cert, &err) < 0)
			fatal("self-signed", &err);
		return;
	}
	if (pki_csr_build(id->key, &subj, NULL, &csr, &err) < 0 ||
	    pki_cert_issue(issuer->key, issuer->cert.data, issuer->cert.len, csr.data,
			   csr.len, &p, &id->cert, &err) < 0)
		fatal("issue", &err);
	pki_buf_free(&csr);
}

static void save_cert(const struct fake *f, const char *name, const struct pki_buf *der)
{
	char path[4096];
	struct pki_buf pem;
	struct pki_error err;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	if (pki_der_to_pem(der->data, der->len, "CERTIFICATE", &pem, &err) < 0 ||
	    pki_file_write(path, pem.data, pem.len, 0644, &err) < 0)
		fatal("write", &err);
	pki_buf_free(&pem);
}

static const struct ident *sig_ident(const struct fake *f)
{
	return f->ra ? &f->ra_sig : &f->ca;
}

static const struct ident *enc_ident(const struct fake *f)
{
	return f->ra ? &f->ra_enc : &f->ca;
}

static void reply(struct evhttp_request *req, int code, const char *ctype,
		  const void *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	if (ctype)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
	evbuffer_free(b);
}

static void log_line(struct fake *f, json_t *o)
{
	json_dumpf(o, f->log, JSON_COMPACT | JSON_SORT_KEYS);
	fputc('\n', f->log);
	fflush(f->log);
	json_decref(o);
}

static struct txn *txn_find(struct fake *f, const char *txid)
{
	struct txn *t;

	for (t = f->txns; t; t = t->next)
		if (!strcmp(t->txid, txid))
			return t;
	return NULL;
}

static int fail_info_by_name(const char *s)
{
	static const char *const names[] = { "badalg", "badmessagecheck", "badrequest",
					     "badtime", "badcertid" };
	size_t i;

	for (i = 0; i < 5; i++)
		if (!strncasecmp(s, names[i], strlen(names[i])) && s[strlen(names[i])] == '-')
			return (int)i;
	return PKI_FAIL_BAD_REQUEST;
}

/* Issue a cert for csr (by the CA or the rollover CA, or by a rogue CA /
 * for a rogue key), never valid beyond the issuer's own end. */
static int issue(struct fake *f, const struct pki_buf *csr, const char *cn,
		 bool rollover, bool renewal, struct pki_buf *out)
{
	unsigned days = renewal && f->renew_days ? f->renew_days : f->cert_days;
	struct pki_issue_params p = {
		.days = days,
		.key_usage = PKI_KU_DIGITAL_SIGNATURE | PKI_KU_KEY_ENCIPHERMENT,
		.eku = PKI_EKU_CLIENT_AUTH,
		.serial = ++f->serial,
	};
	const struct ident *by = rollover ? &f->next_ca : &f->ca;
	struct pki_buf other = { NULL, 0 };
	struct pki_cert_info ci;
	struct pki_error err;
	time_t now = time(NULL), nb = now - 300;
	int rc;

	if (pki_cert_inspect(by->cert.data, by->cert.len, &ci, NULL) == 0) {
		/* A rollover CA's certificates start with it, not before. */
		if (rollover && ci.not_before > nb)
			nb = ci.not_before;
		p.not_before_offset_s = (long)(nb - now);
		p.validity_s = (long)days * 86400L;
		if (nb + p.validity_s > ci.not_after)
			p.validity_s = (long)(ci.not_after - nb);
	}

	if (!strncasecmp(cn, "wrongissuer-", 12)) {
		if (!f->rogue.key)
			make_ident(&f->rogue, NULL, "fake-scep rogue CA", true,
				   PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN, 3650, 0);
		by = &f->rogue;
	}
	if (!strncasecmp(cn, "wrongkey-", 9)) {
		/* Same subject, another key: the client must refuse it. */
		struct pki_key_spec spec = { PKI_KEY_RSA, 2048 };
		struct pki_subject subj;
		struct pki_key *k;

		memset(&subj, 0, sizeof(subj));
		snprintf(subj.cn, sizeof(subj.cn), "%.64s", cn);
		if (pki_key_generate(&spec, &k, &err) < 0 ||
		    pki_csr_build(k, &subj, NULL, &other, &err) < 0)
			fatal("wrongkey", &err);
		pki_key_free(k);
		csr = &other;
	}
	rc = pki_cert_issue(by->key, by->cert.data, by->cert.len, csr->data, csr->len,
			    &p, out, &err);
	pki_buf_free(&other);
	return rc;
}

/* pki_buf_free() expects malloc(len + 1). */
static int buf_copy(struct pki_buf *dst, const struct pki_buf *src)
{
	dst->data = malloc(src->len + 1);
	if (!dst->data)
		return -1;
	memcpy(dst->data, src->data, src->len);
	dst->len = src->len;
	return 0;
}

static void handle_pkiop(struct fake *f, struct evhttp_request *req,
			 const uint8_t *msg, size_t len, const char *method)
{
	struct pki_scep_srv_request rq;
	struct pki_scep_srv_reply rp;
	struct pki_error err;
	struct pki_buf certs[2] = { { NULL, 0 }, { NULL, 0 } }, out = { NULL, 0 };
	uint8_t sender[PKI_NONCE_LEN], wrong[PKI_NONCE_LEN];
	const struct ident *sig = sig_ident(f), *enc = enc_ident(f);
	const char *answer = "SUCCESS", *ctype = "application/x-pki-message";
	struct txn *t;
	char cn[128] = "";
	json_t *lg;
	unsigned pend = 0;
	bool forever = false, rollover = false;

	/* Enveloped to the rollover CA's key: a shadow renewal, which the
	 * rollover CA answers. */
	if (f->next && pki_scep_srv_parse_request(msg, len, f->next_ca.key, f->next_ca.cert.data,
						  f->next_ca.cert.len, &rq, &err) == 0) {
		rollover = true;
		sig = &f->next_ca;
	} else if (pki_scep_srv_parse_request(msg, len, enc->key, enc->cert.data, enc->cert.len,
				       &rq, &err) < 0) {
		log_line(f, json_pack("{s:s, s:s, s:s}", "op", "PKIOperation", "method",
				      method, "error", err.reason));
		reply(req, 500, "text/plain", err.reason, strlen(err.reason));
		return;
	}
	pki_scep_srv_subject_cn(&rq, cn, sizeof(cn), NULL);
	lg = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "op", "PKIOperation",
		       "method", method, "msg_type", (int)rq.type, "txid", rq.txid,
		       "cn", cn, "digest", rq.digest, "cipher", rq.cipher,
		       "ca", rollover ? "next" : "current");
	{
		struct pki_cert_info ci;

		if (pki_cert_inspect(rq.signer.data, rq.signer.len, &ci, NULL) == 0)
			json_object_set_new(lg, "signer_subject", json_string(ci.subject.line));
	}
	RAND_bytes(sender, sizeof(sender));
	memset(&rp, 0, sizeof(rp));
	rp.txid = rq.txid;
	rp.sender_nonce = sender;
	rp.recipient_nonce = rq.nonce;
	rp.requester = rq.signer.data;
	rp.requester_len = rq.signer.len;
	rp.signer_key = sig->key;
	rp.signer = sig->cert.data;
	rp.signer_len = sig->cert.len;
	rp.digest = PKI_DIGEST_SHA1;	/* as micromdm does, whatever we were sent */
	rp.cipher = f->certrep_cipher;
	rp.status = PKI_PKISTATUS_SUCCESS;

	t = txn_find(f, rq.txid);
	if (rq.type == PKI_MSG_PKCSREQ || rq.type == PKI_MSG_RENEWALREQ) {
		if (!t) {
			t = calloc(1, sizeof(*t));
			snprintf(t->txid, sizeof(t->txid), "%s", rq.txid);
			t->next = f->txns;
			f->txns = t;
		}
		pki_buf_free(&t->csr);
		t->renewal = rq.type == PKI_MSG_RENEWALREQ;
		for (unsigned k = 0; k < f->n_issued && !t->renewal; k++)
			t->renewal = !strcmp(f->issued_cn[k], cn);
		if (f->n_issued < 64)
			snprintf(f->issued_cn[f->n_issued++], sizeof(f->issued_cn[0]), "%.64s", cn);
		t->csr = rq.payload;	/* keep the CSR for a later CertPoll */
		rq.payload.data = NULL;
		rq.payload.len = 0;
	} else if (rq.type != PKI_MSG_CERTPOLL || !t) {
		rp.status = PKI_PKISTATUS_FAILURE;
		rp.fail_info = PKI_FAIL_BAD_CERT_ID;
		rp.fail_text = "fake CA: no such transaction";
		answer = "FAILURE";
		goto send;
	}
	if (!strncasecmp(cn, "pendforever-", 12)) {
		forever = true;
	} else if (!strncasecmp(cn, "pend", 4) && isdigit((unsigned char)cn[4])) {
		pend = (unsigned)strtoul(cn + 4, NULL, 10);
	}
	if (forever || t->answers < pend) {
		t->answers++;
		rp.status = PKI_PKISTATUS_PENDING;
		answer = "PENDING";
		goto send;
	}
	if (!strncasecmp(cn, "fail-", 5)) {
		rp.status = PKI_PKISTATUS_FAILURE;
		rp.fail_info = fail_info_by_name(cn + 5);
		rp.fail_text = "fake CA refused the request";
		answer = "FAILURE";
		goto send;
	}
	if (!strncasecmp(cn, "http500-", 8)) {
		log_line(f, lg);
		reply(req, 500, "text/plain", "fake CA: internal error", 23);
		goto done;
	}
	if (!strncasecmp(cn, "hang-", 5)) {
		json_object_set_new(lg, "answer", json_string("HANG"));
		log_line(f, lg);
		goto done;	/* evhttp frees the request when the client gives up */
	}
	if (!strncasecmp(cn, "garbage-", 8)) {
		uint8_t junk[600];

		RAND_bytes(junk, sizeof(junk));
		json_object_set_new(lg, "answer", json_string("GARBAGE"));
		log_line(f, lg);
		reply(req, 200, ctype, junk, sizeof(junk));
		goto done;
	}
	if (issue(f, &t->csr, cn, rollover, t->renewal, &certs[0]) < 0 ||
	    buf_copy(&certs[1], rollover ? &f->next_ca.cert : &f->ca.cert) < 0) {
		rp.status = PKI_PKISTATUS_FAILURE;
		rp.fail_info = PKI_FAIL_BAD_REQUEST;
		rp.fail_text = "fake CA: cannot issue";
		answer = "FAILURE";
		goto send;
	}
	rp.certs = certs;
	rp.n_certs = 2;
	if (!strncasecmp(cn, "badnonce-", 9)) {
		RAND_bytes(wrong, sizeof(wrong));
		rp.recipient_nonce = wrong;
	}
	if (!strncasecmp(cn, "badtxid-", 8))
		rp.txid = "0000000000000000000000000000000000000000000000000000000000000000";
	if (!strncasecmp(cn, "wrongtype-", 10))
		ctype = "text/html";
send:
	if (pki_scep_srv_build_certrep(&rp, &out, &err) < 0) {
		reply(req, 500, "text/plain", err.reason, strlen(err.reason));
		json_object_set_new(lg, "error", json_string(err.reason));
		log_line(f, lg);
		goto done;
	}
	if (!strncasecmp(cn, "badsig-", 7))
		out.data[out.len - 1] ^= 0x01;	/* last byte: inside the signature */
	json_object_set_new(lg, "answer", json_string(answer));
	log_line(f, lg);
	reply(req, 200, ctype, out.data, out.len);
done:
	pki_buf_free(&out);
	pki_buf_free(&certs[0]);
	pki_buf_free(&certs[1]);
	pki_scep_srv_request_free(&rq);
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct fake *f = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri), *q = evhttp_uri_get_query(uri);
	const char *op = NULL, *message = NULL;
	const char *method = evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "GET";
	struct evkeyvalq params;
	struct pki_error err;

	TAILQ_INIT(&params);
	if (q && evhttp_parse_query_str(q, &params) == 0) {
		op = evhttp_find_header(&params, "operation");
		message = evhttp_find_header(&params, "message");
	}
	if (!strcmp(f->mode, "hang")) {
		log_line(f, json_pack("{s:s?, s:s, s:s}", "op", op, "method", method,
				      "answer", "HANG"));
		goto out;
	}
	if (!path || strcmp(path, "/scep") != 0) {
		reply(req, 404, "text/plain", "not found", 9);
		goto out;
	}
	if (!strcmp(f->mode, "http500")) {
		log_line(f, json_pack("{s:s?, s:s, s:s}", "op", op, "method", method,
				      "answer", "HTTP500"));
		reply(req, 500, "text/plain", "fake CA: mode http500", 21);
		goto out;
	}
	if (op && !strcmp(op, "GetCACaps")) {
		log_line(f, json_pack("{s:s, s:s}", "op", op, "method", method));
		reply(req, 200, "text/plain", f->caps, strlen(f->caps));
	} else if (op && !strcmp(op, "GetCACert")) {
		log_line(f, json_pack("{s:s, s:s}", "op", op, "method", method));
		if (!strcmp(f->mode, "garbage-cacert")) {
			reply(req, 200, "application/x-x509-ca-cert", "\x30\x82\x01garbage", 10);
		} else if (!strcmp(f->mode, "wrongtype-cacert")) {
			reply(req, 200, "text/plain", f->ca.cert.data, f->ca.cert.len);
		} else if (f->ra) {
			struct pki_buf all[3] = { f->ca.cert, f->ra_enc.cert, f->ra_sig.cert };
			struct pki_buf p7;

			if (pki_certs_only_build(all, 3, &p7, &err) < 0)
				fatal("certs-only", &err);
			reply(req, 200, "application/x-x509-ca-ra-cert", p7.data, p7.len);
			pki_buf_free(&p7);
		} else {
			reply(req, 200, "application/x-x509-ca-cert", f->ca.cert.data,
			      f->ca.cert.len);
		}
	} else if (op && !strcmp(op, "GetNextCACert")) {
		struct pki_buf p7;

		log_line(f, json_pack("{s:s, s:s}", "op", op, "method", method));
		if (!f->next) {
			reply(req, 500, "text/plain", "operation not implemented", 25);
			goto out;
		}
		if (pki_scep_srv_build_nextca(sig_ident(f)->key, sig_ident(f)->cert.data,
					      sig_ident(f)->cert.len, &f->next_ca.cert, 1,
					      &p7, &err) < 0)
			fatal("nextca", &err);
		reply(req, 200, "application/x-x509-next-ca-cert", p7.data, p7.len);
		pki_buf_free(&p7);
	} else if (op && !strcmp(op, "PKIOperation")) {
		if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
			struct evbuffer *in = evhttp_request_get_input_buffer(req);
			size_t len = evbuffer_get_length(in);
			uint8_t *body = malloc(len + 1);

			evbuffer_copyout(in, body, len);
			handle_pkiop(f, req, body, len, method);
			free(body);
		} else if (message) {
			size_t ml = strlen(message);
			uint8_t *der = malloc(ml + 1);
			int n = EVP_DecodeBlock(der, (const unsigned char *)message, (int)ml);

			if (n < 0 || ml < 4) {
				reply(req, 500, "text/plain", "bad base64", 10);
			} else {
				n -= (message[ml - 1] == '=') + (message[ml - 2] == '=');
				handle_pkiop(f, req, der, (size_t)n, method);
			}
			free(der);
		} else {
			reply(req, 500, "text/plain", "missing message", 15);
		}
	} else {
		reply(req, 500, "text/plain", "operation not implemented", 25);
	}
out:
	evhttp_clear_headers(&params);
}

static void usage(void)
{
	fprintf(stderr, "usage: fake_scep --dir DIR [--port N] [--ra] [--next-ca] "
			"[--caps LIST] [--certrep-cipher des|des3|aes128] [--mode MODE] "
			"[--ca-days N] [--cert-days N] [--renew-days N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct fake f = { .mode = "normal", .certrep_cipher = PKI_CIPHER_DES, .ca_days = 3650,
			  .cert_days = 365 };
	const char *caps = NULL;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct pki_error err;
	struct pki_cert_info ci, ni;
	char hex[PKI_FP_MAX], nhex[PKI_FP_MAX], path[4096];
	int port = 0, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			f.dir = argv[++i];
		else if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--ra"))
			f.ra = true;
		else if (!strcmp(argv[i], "--next-ca"))
			f.next = true;
		else if (!strcmp(argv[i], "--caps") && i + 1 < argc)
			caps = argv[++i];
		else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
			f.mode = argv[++i];
		else if (!strcmp(argv[i], "--ca-days") && i + 1 < argc)
			f.ca_days = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--cert-days") && i + 1 < argc)
			f.cert_days = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--renew-days") && i + 1 < argc)
			f.renew_days = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--certrep-cipher") && i + 1 < argc) {
			i++;
			f.certrep_cipher = !strcmp(argv[i], "aes128") ? PKI_CIPHER_AES128
					   : !strcmp(argv[i], "des3") ? PKI_CIPHER_DES3
					   : PKI_CIPHER_DES;
		} else
			usage();
	}
	if (!f.dir || f.ca_days == 0 || f.cert_days == 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (pki_init(&err) < 0)
		fatal("init", &err);
	if (caps) {
		size_t k;

		snprintf(f.caps, sizeof(f.caps), "%s", caps);
		for (k = 0; f.caps[k]; k++)
			if (f.caps[k] == ',')
				f.caps[k] = '\n';
	} else {
		snprintf(f.caps, sizeof(f.caps), "POSTPKIOperation\nSHA-256\nAES\nSCEPStandard\nRenewal%s",
			 f.next ? "\nGetNextCACert" : "");
	}
	/* Like micromdm's CA: keyCertSign and cRLSign only (no encipherment). */
	make_ident(&f.ca, NULL, "fake-scep CA", true, PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN,
		   f.ca_days, 0);
	save_cert(&f, "ca.pem", &f.ca.cert);
	if (f.ra) {
		make_ident(&f.ra_enc, &f.ca, "fake-scep RA encryption", false,
			   PKI_KU_KEY_ENCIPHERMENT, f.ca_days, 0);
		make_ident(&f.ra_sig, &f.ca, "fake-scep RA signature", false,
			   PKI_KU_DIGITAL_SIGNATURE, f.ca_days, 0);
		save_cert(&f, "ra-enc.pem", &f.ra_enc.cert);
		save_cert(&f, "ra-sig.pem", &f.ra_sig.cert);
	}
	nhex[0] = '\0';
	if (f.next) {
		/* notBefore of the CA is 300 s back (pki_issue_params): the
		 * rollover CA starts exactly where the current one ends. */
		make_ident(&f.next_ca, NULL, "fake-scep CA 2", true,
			   PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN, f.ca_days,
			   (long)f.ca_days * 86400L - 300);
		save_cert(&f, "next-ca.pem", &f.next_ca.cert);
		pki_cert_inspect(f.next_ca.cert.data, f.next_ca.cert.len, &ni, NULL);
		pki_fp_format(ni.sha256, 32, PKI_FP_HEX, nhex, sizeof(nhex));
	}
	snprintf(path, sizeof(path), "%s/requests.log", f.dir);
	f.log = fopen(path, "a");
	if (!f.log)
		fatal("requests.log", NULL);
	base = event_base_new();
	http = base ? evhttp_new(base) : NULL;
	if (!http)
		fatal("evhttp", NULL);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(http, handle, &f);
	bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port);
	if (!bound)
		fatal("bind", NULL);
	getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &slen);
	pki_cert_inspect(f.ca.cert.data, f.ca.cert.len, &ci, NULL);
	printf("{\"port\":%d,\"ca_sha256\":\"%s\",\"next_ca_sha256\":\"%s\"}\n",
	       ntohs(sin.sin_port), pki_fp_format(ci.sha256, 32, PKI_FP_HEX, hex, sizeof(hex)),
	       nhex);
	fflush(stdout);
	event_base_dispatch(base);
	return 0;
}
