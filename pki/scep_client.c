/*
 * pki/scep_client.c - asynchronous SCEP operations on a trustpoint:
 * GetCACaps, GetCACert + pin, PKCSReq / RenewalReq / proxy PKCSReq with
 * CertPoll while PENDING, GetNextCACert; transaction export and resume.
 *
 * Every operation is a struct pki_op on its root trustpoint's list, so that
 * pki_tp_free() can cancel them all. Before a completion callback runs, the
 * op is detached from its trustpoint (and a proxy clone is freed), so the
 * callback may start, cancel or free anything; the result it sees lives in
 * the op until the callback returns.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "pki/pki_int.h"

#define CAPS_MAX_BODY	16384
#define CACERT_MAX_BODY	(256 * 1024)
#define TEMP_CERT_DAYS	30

/* --- op lifetime --- */

struct pki_op *pki_op_new(struct pki_trustpoint *root, enum op_kind kind,
			     void *arg, struct pki_error *err)
{
	struct pki_op *op = calloc(1, sizeof(*op));

	if (!op) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	op->root = root;
	op->tp = root;
	op->kind = kind;
	op->arg = arg;
	op->started_ms = pki_now_ms();
	TAILQ_INSERT_TAIL(&root->ops, op, link);
	root->n_ops++;
	return op;
}

/* Cut every tie to the trustpoint; frees a proxy clone. */
static void op_detach(struct pki_op *op)
{
	if (!op->root)
		return;
	if (op->req) {
		pki_http_cancel(op->req);
		op->req = NULL;
	}
	if (op->poll_ev) {
		event_free(op->poll_ev);
		op->poll_ev = NULL;
	}
	TAILQ_REMOVE(&op->root->ops, op, link);
	op->root->n_ops--;
	if (op->tp != op->root)
		pki_tp_clone_free(op->tp);
	op->tp = NULL;
	op->root = NULL;
}

void pki_op_destroy(struct pki_op *op)
{
	op_detach(op);
	pki_buf_free(&op->csr);
	pki_buf_free(&op->res_cert);
	pki_buf_free(&op->res_ca);
	EVP_PKEY_free(op->csr_pub);
	X509_REQ_free(op->csr_req);
	X509_free(op->signer);
	pki_key_free(op->sign_key);
	pki_key_free(op->req_key);
	free(op);
}

void pki_op_cancel(struct pki_op *op)
{
	if (!op)
		return;
	if (op->in_callback) {
		/* Only the pending callback returns to us with the op alive. */
		op->cancel_requested = true;
		return;
	}
	pki_op_destroy(op);
}

void pki_op_cancel_all(struct pki_trustpoint *root)
{
	struct pki_op *op;

	while ((op = TAILQ_FIRST(&root->ops))) {
		if (op->in_callback) {
			/* Its pending callback freed the trustpoint: free it on return. */
			op->cancel_requested = true;
			op_detach(op);
		} else {
			pki_op_destroy(op);
		}
	}
}

void pki_op_set_pending_cb(struct pki_op *op, pki_pending_cb *cb)
{
	if (op)
		op->pending_cb = cb;
}

/* --- URLs and HTTP --- */

static char *op_url(const struct pki_trustpoint *tp, const char *operation,
		    const char *message)
{
	size_t n = strlen(tp->url) + strlen(operation) + 32 +
		   (message ? strlen(message) : 0);
	char *u = malloc(n);

	if (!u)
		return NULL;
	snprintf(u, n, "%s%soperation=%s%s%s", tp->url,
		 strchr(tp->url, '?') ? "&" : "?", operation,
		 message ? "&message=" : "", message ? message : "");
	return u;
}

static void on_http(struct pki_http_result *res, void *arg);

static int op_submit(struct pki_op *op, const char *operation, const char *message,
		     const struct pki_buf *post, size_t max_body, struct pki_error *err)
{
	struct pki_trustpoint *tp = op->tp;
	struct pki_http_opts o = {
		.timeout_ms = tp->http_timeout_ms,
		.connect_timeout_ms = tp->connect_timeout_ms,
		.max_body = max_body,
		.what = operation,
	};
	char *url = op_url(tp, operation, message);

	if (!url) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return -1;
	}
	op->req = pki_http_request(tp->ctx->http, &op->root->limit, url, post, &o,
				   on_http, op, err);
	free(url);
	return op->req ? 0 : -1;
}

static bool media_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	while (*ct == ' ')
		ct++;
	return !strncasecmp(ct, want, n) &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void err_from_http(struct pki_error *err, const struct pki_http_result *res)
{
	pki_err_set(err, res->status, "%s", res->reason);
	err->http_code = res->status == PKI_ERR_CA_HTTP ? (int)res->code : 0;
}

/* --- completions --- */

static void finish_caps(struct pki_op *op, const struct pki_error *err)
{
	struct pki_caps caps = op->auth_caps;

	op_detach(op);
	op->in_callback = true;
	op->caps_cb(err, &caps, op->arg);
	pki_op_destroy(op);
}

static void finish_auth(struct pki_op *op, struct pki_auth_result *res)
{
	res->caps = op->auth_caps;
	op_detach(op);
	op->in_callback = true;
	op->auth_cb(res, op->arg);
	pki_op_destroy(op);
}

static void finish_enroll(struct pki_op *op, const struct pki_error *err)
{
	struct pki_enroll_result res;

	memset(&res, 0, sizeof(res));
	res.err = *err;
	res.type = op->msg_type;
	if (err->status == PKI_OK) {
		res.cert = op->res_cert.data;
		res.cert_len = op->res_cert.len;
		res.cert_info = op->has_res_info ? &op->res_info : NULL;
		op->root->enrolled++;
	} else {
		op->root->failed++;
		/* The shadow key of a renewal the CA will never answer. */
		if (op->req_key && !op->proxy)
			pki_tp_drop_shadow_key(op->root);
	}
	if (op->tp->ca && pki_x509_i2d(op->rollover && op->tp->next_ca ? op->tp->next_ca
								       : op->tp->ca,
					  &op->res_ca) == 0) {
		res.ca = op->res_ca.data;
		res.ca_len = op->res_ca.len;
	}
	res.txid = op->txid;
	res.clone = op->proxy ? op->clone_name : NULL;
	res.polls = op->polls;
	res.elapsed_ms = pki_now_ms() - op->started_ms;
	/* The clone goes before the callback: "removing trustpoint clone". */
	op_detach(op);
	op->in_callback = true;
	op->enroll_cb(&res, op->arg);
	pki_op_destroy(op);
}

static void finish_enroll_status(struct pki_op *op, enum pki_status st,
				 const char *fmt, ...) PKI_ATTR_PRINTF(3, 4);

static void finish_enroll_status(struct pki_op *op, enum pki_status st,
				 const char *fmt, ...)
{
	struct pki_error err;
	va_list ap;

	pki_err_clear(&err);
	err.status = st;
	va_start(ap, fmt);
	vsnprintf(err.reason, sizeof(err.reason), fmt, ap);
	va_end(ap);
	finish_enroll(op, &err);
}

static void finish_nextca(struct pki_op *op, const struct pki_error *err,
			  X509 *next)
{
	struct pki_nextca_result res;

	memset(&res, 0, sizeof(res));
	res.err = *err;
	if (next && pki_x509_i2d(next, &op->res_ca) == 0) {
		res.ca = op->res_ca.data;
		res.ca_len = op->res_ca.len;
		pki_x509_fingerprints(next, NULL, NULL, res.sha256);
	}
	op_detach(op);
	op->in_callback = true;
	op->nextca_cb(&res, op->arg);
	pki_op_destroy(op);
}

/* --- caps --- */

static void caps_store(struct pki_op *op, const struct pki_buf *body)
{
	char text[256];
	size_t i;

	pki_caps_parse((const char *)body->data, body->len, &op->auth_caps);
	op->tp->caps = op->auth_caps;
	if (op->tp == op->root) {
		pki_caps_format(&op->auth_caps, text, sizeof(text));
		for (i = 0; text[i]; i++)
			if (text[i] == ' ')
				text[i] = '\n';
		/* Best effort: the caps are fetched again when missing. */
		pki_tp_store_caps(op->root, text, strlen(text), NULL);
	}
}

/* Transport failures end the operation; HTTP errors mean "no caps" (RFC 8894). */
static bool caps_fatal(const struct pki_http_result *res)
{
	return res->status == PKI_ERR_CA_UNREACHABLE ||
	       res->status == PKI_ERR_CA_TIMEOUT || res->status == PKI_ERR_CONFIG ||
	       res->status == PKI_ERR_NOMEM;
}

static void caps_done(struct pki_op *op, struct pki_http_result *res)
{
	struct pki_error err;

	pki_err_clear(&err);
	if (res->status == PKI_OK)
		caps_store(op, &res->body);
	else if (caps_fatal(res))
		err_from_http(&err, res);
	else
		op->auth_caps.known = false;
	finish_caps(op, &err);
}

/* --- authenticate --- */

static void auth_caps_done(struct pki_op *op, struct pki_http_result *res)
{
	struct pki_auth_result ar;
	struct pki_error err;

	if (res->status == PKI_OK) {
		pki_caps_parse((const char *)res->body.data, res->body.len, &op->auth_caps);
	} else if (caps_fatal(res)) {
		memset(&ar, 0, sizeof(ar));
		err_from_http(&ar.err, res);
		finish_auth(op, &ar);
		return;
	}
	op->state = ST_CACERT;
	if (op_submit(op, "GetCACert", NULL, NULL, CACERT_MAX_BODY, &err) < 0) {
		memset(&ar, 0, sizeof(ar));
		ar.err = err;
		finish_auth(op, &ar);
	}
}

static X509 *buf_x509(const struct pki_buf *b)
{
	return b->len ? pki_x509_d2i(b->data, b->len) : NULL;
}

static void auth_cacert_done(struct pki_op *op, struct pki_http_result *res)
{
	struct pki_trustpoint *tp = op->tp;
	struct pki_auth_result ar;
	struct pki_cacerts cc;
	struct pki_error e2;
	char want[PKI_FP_MAX], have[PKI_FP_MAX];
	X509 *ca = NULL, *enc = NULL, *sig = NULL;

	memset(&ar, 0, sizeof(ar));
	if (res->status != PKI_OK) {
		err_from_http(&ar.err, res);
		finish_auth(op, &ar);
		return;
	}
	if (pki_scep_cacert_parse(res->content_type, res->body.data, res->body.len,
				  &cc, &e2) < 0) {
		pki_err_set(&ar.err, e2.status, "GetCACert %s: %s", tp->url, e2.reason);
		finish_auth(op, &ar);
		return;
	}
	ca = buf_x509(&cc.ca);
	enc = buf_x509(&cc.ra_enc);
	sig = buf_x509(&cc.ra_sig);
	if (!ca || pki_buf_set(&op->res_ca, cc.ca.data, cc.ca.len) < 0) {
		pki_err_set(&ar.err, PKI_ERR_NOMEM, "out of memory");
		goto out;
	}
	ar.ca = op->res_ca.data;
	ar.ca_len = op->res_ca.len;
	pki_x509_fingerprints(ca, ar.md5, ar.sha1, ar.sha256);
	ar.ra_enc = enc != NULL;
	ar.ra_sig = sig != NULL;
	pki_fp_format(ar.sha256, 32, PKI_FP_HEX, have, sizeof(have));
	if (!tp->has_pin) {
		pki_err_set(&ar.err, PKI_ERR_PIN_MISMATCH,
			    "trustpoint %s has no CA fingerprint pin; CA from %s has SHA-256 %s",
			    tp->name, tp->url, have);
		goto out;
	}
	if (!pki_tp_pin_accepts(tp, ar.sha256)) {
		pki_fp_format(tp->pin, 32, PKI_FP_HEX, want, sizeof(want));
		pki_err_set(&ar.err, PKI_ERR_PIN_MISMATCH,
			    "CA from %s has SHA-256 %s, trustpoint %s expects %s",
			    tp->url, have, tp->name, want);
		goto out;
	}
	if (pki_tp_store_cert(tp, "ca.pem", ca, &ar.err) < 0 ||
	    pki_tp_store_cert(tp, "ra-enc.pem", enc, &ar.err) < 0 ||
	    pki_tp_store_cert(tp, "ra-sig.pem", sig, &ar.err) < 0)
		goto out;
	X509_free(tp->ca);
	X509_free(tp->ra_enc);
	X509_free(tp->ra_sig);
	tp->ca = ca;
	tp->ra_enc = enc;
	tp->ra_sig = sig;
	ca = enc = sig = NULL;
	tp->caps = op->auth_caps;
	{
		char text[256];
		size_t i;

		pki_caps_format(&op->auth_caps, text, sizeof(text));
		for (i = 0; text[i]; i++)
			if (text[i] == ' ')
				text[i] = '\n';
		pki_tp_store_caps(tp, text, strlen(text), NULL);
	}
	pki_err_clear(&ar.err);
out:
	X509_free(ca);
	X509_free(enc);
	X509_free(sig);
	pki_cacerts_free(&cc);
	finish_auth(op, &ar);
}

/* --- enrollment --- */

static X509 *sig_cert(const struct pki_trustpoint *tp)
{
	return tp->ra_sig ? tp->ra_sig : tp->ca;
}

static X509 *enc_cert(const struct pki_trustpoint *tp)
{
	return tp->ra_enc ? tp->ra_enc : tp->ca;
}

static char *b64_pct(const struct pki_buf *msg)
{
	size_t blen = 4 * ((msg->len + 2) / 3) + 1, i, n = 0;
	unsigned char *b64 = malloc(blen);
	char *out;

	if (!b64)
		return NULL;
	EVP_EncodeBlock(b64, msg->data, (int)msg->len);
	/* Standard base64, percent-encoded: micromdm refuses raw '+' and URL-safe. */
	out = malloc(3 * blen + 1);
	if (out) {
		for (i = 0; b64[i]; i++) {
			if (b64[i] == '+' || b64[i] == '/' || b64[i] == '=')
				n += (size_t)sprintf(out + n, "%%%02X", b64[i]);
			else
				out[n++] = (char)b64[i];
		}
		out[n] = '\0';
	}
	free(b64);
	return out;
}

static void send_pkiop(struct pki_op *op);

static void poll_fire(evutil_socket_t fd, short what, void *arg)
{
	struct pki_op *op = arg;

	(void)fd;
	(void)what;
	send_pkiop(op);
}

int pki_op_arm(struct pki_op *op, unsigned delay_ms)
{
	struct timeval tv = { (time_t)(delay_ms / 1000),
			      (suseconds_t)((delay_ms % 1000) * 1000) };

	if (!op->poll_ev)
		op->poll_ev = evtimer_new(op->tp->ctx->base, poll_fire, op);
	if (!op->poll_ev || evtimer_add(op->poll_ev, &tv) < 0)
		return -1;
	op->state = ST_POLL_WAIT;
	op->next_poll_wall = time(NULL) + (time_t)((delay_ms + 999) / 1000);
	return 0;
}

static unsigned poll_interval(const struct pki_trustpoint *tp, unsigned polls)
{
	uint64_t iv = tp->poll_first_ms;

	while (polls-- > 0 && iv < tp->poll_cap_ms)
		iv *= 2;
	return (unsigned)(iv < tp->poll_cap_ms ? iv : tp->poll_cap_ms);
}

static void schedule_poll(struct pki_op *op, unsigned delay_ms)
{
	if (pki_op_arm(op, delay_ms) < 0) {
		finish_enroll_status(op, PKI_ERR_NOMEM, "cannot arm poll timer");
		return;
	}
	if (op->pending_cb) {
		op->in_callback = true;
		op->pending_cb(op, op->polls, delay_ms, op->arg);
		op->in_callback = false;
		if (op->cancel_requested)
			pki_op_destroy(op);
	}
}

/* After PENDING, or after a poll that failed in transit: poll again or give up. */
static void next_poll(struct pki_op *op)
{
	struct pki_trustpoint *tp = op->tp;

	if (tp->poll_retries && op->polls >= tp->poll_retries) {
		finish_enroll_status(op, PKI_ERR_PENDING_EXHAUSTED,
				     "CA %s still PENDING after %u polls (txid %.16s...)%s%s",
				     tp->url, op->polls, op->txid,
				     op->last_poll_error[0] ? "; last poll: " : "",
				     op->last_poll_error);
		return;
	}
	schedule_poll(op, poll_interval(tp, op->polls));
}

/*
 * Builds the next PKIOperation (PKCSReq/RenewalReq, or CertPoll once the CA
 * said PENDING) when the HTTP layer grants it a slot: the RSA work of a
 * burst of enrollments is spread over time, at most max_concurrent at once.
 */
static int build_pkiop(void *arg, char **url, struct pki_buf *post,
		       struct pki_error *err)
{
	struct pki_op *op = arg;
	struct pki_trustpoint *tp = op->tp;
	struct pki_scep_request rq;
	struct pki_scep_algs algs;
	struct pki_buf ias = { NULL, 0 };
	struct pki_buf msg = { NULL, 0 };
	/* A shadow renewal is addressed to the rollover CA's key. */
	X509 *recipient = op->rollover ? tp->next_ca : enc_cert(tp);
	char *message = NULL;
	int rc = -1;

	memset(&rq, 0, sizeof(rq));
	pki_caps_select(&tp->caps, &algs);
	rq.type = op->pending ? PKI_MSG_CERTPOLL : op->msg_type;
	rq.txid = op->txid;
	if (RAND_bytes(op->nonce, PKI_NONCE_LEN) != 1) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "no random bytes for the nonce");
		goto out;
	}
	memcpy(rq.nonce, op->nonce, PKI_NONCE_LEN);
	if (rq.type == PKI_MSG_CERTPOLL) {
		X509 *ca = op->rollover ? tp->next_ca : tp->ca;

		if (!ca || !op->csr_req) {
			pki_err_set(err, PKI_ERR_INVALID, "no CA certificate or CSR for the CertPoll");
			goto out;
		}
		if (pki_issuer_and_subject_x(ca, op->csr_req, &ias, err) < 0)
			goto out;
		rq.payload = ias.data;
		rq.payload_len = ias.len;
	} else {
		rq.payload = op->csr.data;
		rq.payload_len = op->csr.len;
	}
	rq.signer_key = op->sign_key ? op->sign_key : tp->key;
	rq.digest = algs.digest;
	rq.cipher = algs.cipher;
	/* The certificates as the trustpoint holds them, parsed once. */
	if (pki_scep_request_build_x(&rq, recipient, op->signer, &msg, err) < 0)
		goto out;
	if (!algs.post && !(message = b64_pct(&msg))) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		goto out;
	}
	*url = op_url(tp, "PKIOperation", message);
	if (!*url) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (algs.post) {
		*post = msg;
		msg.data = NULL;
		msg.len = 0;
	}
	if (rq.type == PKI_MSG_CERTPOLL)
		op->polls++;
	rc = 0;
out:
	free(message);
	pki_buf_free(&ias);
	pki_buf_free(&msg);
	return rc;
}

static void send_pkiop(struct pki_op *op)
{
	struct pki_trustpoint *tp = op->tp;
	struct pki_http_opts o = {
		.timeout_ms = tp->http_timeout_ms,
		.connect_timeout_ms = tp->connect_timeout_ms,
		.max_body = PKI_SCEP_MSG_MAX,
		.what = "PKIOperation",
	};
	struct pki_error err;

	op->state = ST_PKIOP;
	op->req = pki_http_request_lazy(tp->ctx->http, &op->root->limit, build_pkiop, &o,
					on_http, op, &err);
	if (!op->req)
		finish_enroll(op, &err);
}

static bool transient(const struct pki_http_result *res)
{
	return res->status == PKI_ERR_CA_UNREACHABLE || res->status == PKI_ERR_CA_TIMEOUT ||
	       (res->status == PKI_ERR_CA_HTTP && res->code >= 500);
}

static void enroll_success(struct pki_op *op, STACK_OF(X509) *certs)
{
	struct pki_trustpoint *tp = op->tp;
	struct pki_error err;
	X509 *mine = NULL;
	int i, n = sk_X509_num(certs);

	pki_err_clear(&err);
	for (i = 0; i < n && !mine; i++) {
		X509 *x = sk_X509_value(certs, i);

		/* Match by key, not by position: micromdm also sends the CA. */
		if (EVP_PKEY_eq(X509_get0_pubkey(x), op->csr_pub) == 1 && X509_up_ref(x))
			mine = x;
	}
	ERR_clear_error();
	if (!mine) {
		finish_enroll_status(op, PKI_ERR_NO_MATCHING_CERT,
				     "none of the %d certificates from CA %s carries the CSR's public key",
				     n, tp->url);
		return;
	}
	if (!pki_x509_issued_by(mine, op->rollover ? tp->next_ca : tp->ca)) {
		struct pki_name nm;

		pki_name_fill(X509_get_issuer_name(mine), &nm);
		X509_free(mine);
		finish_enroll_status(op, PKI_ERR_WRONG_ISSUER,
				     "certificate from CA %s is issued by '%.100s', not by the trustpoint's %sCA",
				     tp->url, nm.line, op->rollover ? "rollover " : "");
		return;
	}
	if (pki_x509_i2d(mine, &op->res_cert) < 0) {
		X509_free(mine);
		finish_enroll_status(op, PKI_ERR_NOMEM, "out of memory");
		return;
	}
	/* The caller wants its serial, names and fingerprints: from here,
	 * rather than parsing the DER again. */
	op->has_res_info = pki_x509_inspect(mine, &op->res_info, NULL) == 0;
	if (!op->proxy) {
		int rc = op->rollover
			 ? pki_tp_install_next_identity(op->root, mine, op->req_key, &err)
			 : pki_tp_install_identity(op->root, mine, op->req_key, &err);

		X509_free(mine);
		if (rc < 0) {
			finish_enroll(op, &err);
			return;
		}
		/* Installed: the shadow key is the trustpoint's now, not ours to drop. */
		pki_key_free(op->req_key);
		op->req_key = NULL;
	} else {
		X509_free(mine);
	}
	finish_enroll(op, &err);
}

static void pkiop_done(struct pki_op *op, struct pki_http_result *res)
{
	struct pki_trustpoint *tp = op->tp;
	struct pki_certrep_expect exp;
	struct pki_certrep rep;
	STACK_OF(X509) *certs = NULL;
	struct pki_error err;

	if (res->status != PKI_OK) {
		if (op->pending && transient(res)) {
			/* A CA briefly down while we poll costs a poll, not the cert. */
			snprintf(op->last_poll_error, sizeof(op->last_poll_error), "%.150s",
				 res->reason);
			next_poll(op);
			return;
		}
		err_from_http(&err, res);
		finish_enroll(op, &err);
		return;
	}
	if (!media_is(res->content_type, "application/x-pki-message")) {
		finish_enroll_status(op, PKI_ERR_CA_GARBAGE,
				     "PKIOperation %s answered with content type '%.60s'",
				     tp->url, res->content_type[0] ? res->content_type : "(none)");
		return;
	}
	/* The trustpoint's certificates and our signer, as parsed already. */
	memset(&exp, 0, sizeof(exp));
	exp.txid = op->txid;
	exp.nonce = op->nonce;
	exp.key = op->sign_key ? op->sign_key : tp->key;
	int prc = pki_scep_certrep_parse_x(res->body.data, res->body.len, &exp,
					   op->rollover ? tp->next_ca : sig_cert(tp), op->signer,
					   &rep, &certs, &err);
	if (prc < 0 && op->rollover && err.status == PKI_ERR_BAD_SIGNATURE)
		/* Until the rollover, a CA may still sign its answers with the
		 * current key even for the rollover CA's certificates. */
		prc = pki_scep_certrep_parse_x(res->body.data, res->body.len, &exp, sig_cert(tp),
					       op->signer, &rep, &certs, &err);
	if (prc < 0) {
		char why[sizeof(err.reason)];

		snprintf(why, sizeof(why), "%s", err.reason);
		finish_enroll_status(op, err.status, "CA %s: %.200s", tp->url, why);
		return;
	}
	op->last_poll_error[0] = '\0';
	switch (rep.status) {
	case PKI_PKISTATUS_FAILURE:
		pki_err_set(&err, PKI_ERR_CA_REJECTED, "CA %s rejected the %s: failInfo %s%s%s",
			    tp->url, pki_msg_type_name(op->pending ? PKI_MSG_CERTPOLL
								   : op->msg_type),
			    pki_fail_info_name(rep.fail_info),
			    rep.fail_text[0] ? ": " : "", rep.fail_text);
		err.fail_info = rep.fail_info;
		pki_certrep_free(&rep);
		finish_enroll(op, &err);
		return;
	case PKI_PKISTATUS_PENDING:
		pki_certrep_free(&rep);
		op->pending = true;
		next_poll(op);
		return;
	case PKI_PKISTATUS_SUCCESS:
		pki_certrep_free(&rep);
		enroll_success(op, certs);
		sk_X509_pop_free(certs, X509_free);
		return;
	}
	sk_X509_pop_free(certs, X509_free);
	pki_certrep_free(&rep);
	finish_enroll_status(op, PKI_ERR_CA_GARBAGE, "CA %s: unknown pkiStatus", tp->url);
}

static void enroll_caps_done(struct pki_op *op, struct pki_http_result *res)
{
	struct pki_error err;

	if (res->status == PKI_OK) {
		caps_store(op, &res->body);
	} else if (caps_fatal(res)) {
		err_from_http(&err, res);
		finish_enroll(op, &err);
		return;
	}
	send_pkiop(op);
}

/* --- next CA --- */

static void nextca_done(struct pki_op *op, struct pki_http_result *res)
{
	struct pki_trustpoint *tp = op->tp;
	struct pki_cacerts cc;
	struct pki_buf sgn = { NULL, 0 };
	struct pki_error err;
	X509 *next;

	if (res->status != PKI_OK) {
		err_from_http(&err, res);
		finish_nextca(op, &err, NULL);
		return;
	}
	if (!media_is(res->content_type, "application/x-x509-next-ca-cert")) {
		pki_err_set(&err, PKI_ERR_CA_GARBAGE,
			    "GetNextCACert %s answered with content type '%.60s'", tp->url,
			    res->content_type[0] ? res->content_type : "(none)");
		finish_nextca(op, &err, NULL);
		return;
	}
	if (pki_x509_i2d(sig_cert(tp), &sgn) < 0) {
		pki_err_set(&err, PKI_ERR_NOMEM, "out of memory");
		finish_nextca(op, &err, NULL);
		return;
	}
	if (pki_scep_nextca_parse(res->body.data, res->body.len, sgn.data, sgn.len, &cc,
				  &err) < 0) {
		char why[sizeof(err.reason)];

		snprintf(why, sizeof(why), "%s", err.reason);
		pki_err_set(&err, err.status, "GetNextCACert %s: %.200s", tp->url, why);
		pki_buf_free(&sgn);
		finish_nextca(op, &err, NULL);
		return;
	}
	pki_buf_free(&sgn);
	next = buf_x509(&cc.ca);
	pki_cacerts_free(&cc);
	pki_err_clear(&err);
	if (!next) {
		pki_err_set(&err, PKI_ERR_NOMEM, "out of memory");
	} else if (X509_cmp(next, tp->ca) == 0) {
		pki_err_set(&err, PKI_ERR_NOT_FOUND,
			    "GetNextCACert %s: the CA answered with its current certificate (no rollover CA yet)",
			    tp->url);
		X509_free(next);
		next = NULL;
	} else if (pki_tp_lineage_add(tp, tp->ca, next, &err) == 0 &&
		   pki_tp_store_cert(tp, "ca-next.pem", next, &err) == 0) {
		X509_free(tp->next_ca);
		tp->next_ca = next;
		X509_up_ref(next);
	}
	finish_nextca(op, &err, next);
	X509_free(next);
}

/* --- dispatch --- */

static void on_http(struct pki_http_result *res, void *arg)
{
	struct pki_op *op = arg;

	op->req = NULL;		/* freed by http.c after we return */
	switch (op->kind) {
	case OP_CAPS:
		caps_done(op, res);
		break;
	case OP_AUTH:
		if (op->state == ST_CAPS)
			auth_caps_done(op, res);
		else
			auth_cacert_done(op, res);
		break;
	case OP_ENROLL:
		if (op->state == ST_CAPS)
			enroll_caps_done(op, res);
		else
			pkiop_done(op, res);
		break;
	case OP_NEXTCA:
		nextca_done(op, res);
		break;
	}
}

/* --- public entry points --- */

struct pki_op *pki_tp_fetch_caps(struct pki_trustpoint *tp, pki_caps_cb *cb,
				 void *arg, struct pki_error *err)
{
	struct pki_op *op = pki_op_new(tp, OP_CAPS, arg, err);

	if (!op)
		return NULL;
	op->caps_cb = cb;
	op->state = ST_CAPS;
	if (op_submit(op, "GetCACaps", NULL, NULL, CAPS_MAX_BODY, err) < 0) {
		pki_op_destroy(op);
		return NULL;
	}
	return op;
}

struct pki_op *pki_tp_authenticate(struct pki_trustpoint *tp, pki_auth_cb *cb,
				   void *arg, struct pki_error *err)
{
	struct pki_op *op = pki_op_new(tp, OP_AUTH, arg, err);

	if (!op)
		return NULL;
	op->auth_cb = cb;
	op->state = ST_CAPS;
	if (op_submit(op, "GetCACaps", NULL, NULL, CAPS_MAX_BODY, err) < 0) {
		pki_op_destroy(op);
		return NULL;
	}
	return op;
}

int pki_enroll_preflight(struct pki_trustpoint *tp, struct pki_error *err)
{
	if (!tp->ca) {
		pki_err_set(err, PKI_ERR_NOT_AUTHENTICATED,
			    "trustpoint %s is not authenticated (no accepted CA certificate)",
			    tp->name);
		return -1;
	}
	if (!EVP_PKEY_is_a(tp->key->pk, "RSA")) {
		/* The CertRep is key-transported to our signer cert: RSA only. */
		pki_err_set(err, PKI_ERR_UNSUPPORTED,
			    "trustpoint %s: SCEP needs an RSA key to receive the CertRep",
			    tp->name);
		return -1;
	}
	return 0;
}

/* Common start of PKCSReq / RenewalReq / proxy: op holds csr and signer. */
static struct pki_op *enroll_start(struct pki_op *op, struct pki_error *err)
{
	/* A proxy enrolment brings the request parsed already. */
	if (!op->csr_req)
		op->csr_req = pki_req_d2i(op->csr.data, op->csr.len);
	if (!op->csr_req || !(op->csr_pub = X509_REQ_get_pubkey(op->csr_req))) {
		pki_err_set(err, PKI_ERR_PARSE, "CSR does not parse");
		pki_op_destroy(op);
		return NULL;
	}
	if (!op->tp->caps.known) {
		op->caps_tried = true;
		op->state = ST_CAPS;
		if (op_submit(op, "GetCACaps", NULL, NULL, CAPS_MAX_BODY, err) < 0) {
			pki_op_destroy(op);
			return NULL;
		}
		return op;
	}
	/*
	 * Building the first message may fail (e.g. no randomness); send it
	 * from the loop so such failures reach the callback like all others.
	 */
	if (pki_op_arm(op, 0) < 0) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		pki_op_destroy(op);
		return NULL;
	}
	return op;
}

static struct pki_op *own_enroll(struct pki_trustpoint *tp, bool renew,
				 const struct pki_renew_opts *o, pki_enroll_cb *cb,
				 void *arg, struct pki_error *err)
{
	struct pki_op *op;
	struct pki_key *req;
	X509_NAME *nm;
	uint8_t md[32];
	bool renewalreq = renew && !o->pkcsreq;

	if (tp->parent) {
		pki_err_set(err, PKI_ERR_INVALID, "%s is a proxy clone", tp->name);
		return NULL;
	}
	if (pki_enroll_preflight(tp, err) < 0)
		return NULL;
	if (!tp->has_subject) {
		pki_err_set(err, PKI_ERR_CONFIG, "trustpoint %s has no subject name", tp->name);
		return NULL;
	}
	if (renewalreq && !tp->identity) {
		pki_err_set(err, PKI_ERR_NOT_FOUND,
			    "trustpoint %s has no identity certificate to renew", tp->name);
		return NULL;
	}
	if (renewalreq && tp->caps.known && !(tp->caps.flags & PKI_CAP_RENEWAL)) {
		pki_err_set(err, PKI_ERR_UNSUPPORTED, "CA %s does not advertise Renewal",
			    tp->url);
		return NULL;
	}
	if (o->rollover && !tp->next_ca) {
		pki_err_set(err, PKI_ERR_NOT_FOUND,
			    "trustpoint %s has no rollover CA certificate (GetNextCACert first)",
			    tp->name);
		return NULL;
	}
	op = pki_op_new(tp, OP_ENROLL, arg, err);
	if (!op)
		return NULL;
	op->enroll_cb = cb;
	op->msg_type = renewalreq ? PKI_MSG_RENEWALREQ : PKI_MSG_PKCSREQ;
	op->rollover = o->rollover;
	if (o->regenerate) {
		/* The shadow key pair: on disk before the CA sees its CSR, so a
		 * restart while PENDING can still receive the certificate. */
		if (pki_key_generate(&tp->key_spec, &op->req_key, err) < 0 ||
		    pki_tp_save_shadow_key(tp, op->req_key, err) < 0)
			goto fail;
	}
	req = op->req_key ? op->req_key : tp->key;
	if (pki_csr_build(req, &tp->subject, tp->challenge, &op->csr, err) < 0 ||
	    pki_spki_sha256(req->pk, md) < 0)
		goto fail;
	pki_hex(md, 32, true, op->txid);
	if (renewalreq) {
		/* Re-enrollment: the CA knows us by the certificate it issued. */
		X509_up_ref(tp->identity);
		op->signer = tp->identity;
	} else {
		nm = pki_subject_to_name(&tp->subject, err);
		op->signer = nm ? pki_temp_cert(req->pk, nm, TEMP_CERT_DAYS, err) : NULL;
		X509_NAME_free(nm);
		if (!op->signer)
			goto fail;
		if (op->req_key)
			op->sign_key = pki_key_ref(op->req_key);
	}
	op = enroll_start(op, err);
	if (!op && o->regenerate)
		pki_tp_drop_shadow_key(tp);
	return op;
fail:
	pki_op_destroy(op);
	if (o->regenerate)
		pki_tp_drop_shadow_key(tp);
	return NULL;
}

struct pki_op *pki_tp_enroll(struct pki_trustpoint *tp, pki_enroll_cb *cb,
			     void *arg, struct pki_error *err)
{
	static const struct pki_renew_opts none;

	return own_enroll(tp, false, &none, cb, arg, err);
}

struct pki_op *pki_tp_renew(struct pki_trustpoint *tp, pki_enroll_cb *cb,
			    void *arg, struct pki_error *err)
{
	static const struct pki_renew_opts none;

	return own_enroll(tp, true, &none, cb, arg, err);
}

struct pki_op *pki_tp_renew_ex(struct pki_trustpoint *tp, const struct pki_renew_opts *o,
			       pki_enroll_cb *cb, void *arg, struct pki_error *err)
{
	return own_enroll(tp, true, o, cb, arg, err);
}

int pki_op_proxy_clone(struct pki_op *op, const char *name, struct pki_error *err)
{
	X509_NAME *nm;

	op->tp = pki_tp_clone(op->root, err);
	if (!op->tp) {
		op->tp = op->root;
		return -1;
	}
	if (name)
		snprintf(op->tp->name, sizeof(op->tp->name), "%s", name);
	snprintf(op->clone_name, sizeof(op->clone_name), "%s", op->tp->name);
	op->proxy = true;
	if (op->signer)
		return 0;
	/* "Signing pkcs7 with Proxy-AP-LSC8 trustpoint temp self-signed cert" */
	nm = X509_NAME_new();
	if (!nm || !X509_NAME_add_entry_by_NID(nm, NID_commonName, MBSTRING_UTF8,
					       (const unsigned char *)op->tp->name, -1,
					       -1, 0)) {
		X509_NAME_free(nm);
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return -1;
	}
	op->signer = pki_temp_cert(op->tp->key->pk, nm, TEMP_CERT_DAYS, err);
	X509_NAME_free(nm);
	return op->signer ? 0 : -1;
}

struct pki_op *pki_proxy_enroll_csr(struct pki_trustpoint *tp, struct pki_csr *csr,
				    pki_enroll_cb *cb, void *arg, struct pki_error *err)
{
	struct pki_op *op;

	if (tp->parent) {
		pki_err_set(err, PKI_ERR_INVALID, "%s is a proxy clone", tp->name);
		return NULL;
	}
	if (!csr || !csr->req) {
		pki_err_set(err, PKI_ERR_INVALID, "no parsed CSR (enrolled already?)");
		return NULL;
	}
	if (pki_enroll_preflight(tp, err) < 0)
		return NULL;
	op = pki_op_new(tp, OP_ENROLL, arg, err);
	if (!op)
		return NULL;
	op->enroll_cb = cb;
	op->msg_type = PKI_MSG_PKCSREQ;
	/* The AP's key names the transaction, so its retries stay one. */
	memcpy(op->txid, csr->txid, sizeof(op->txid));
	/* The op takes the request as parsed and checked by pki_csr_parse(). */
	op->csr = csr->der;
	csr->der.data = NULL;
	csr->der.len = 0;
	op->csr_req = csr->req;
	csr->req = NULL;
	if (pki_op_proxy_clone(op, NULL, err) < 0) {
		pki_op_destroy(op);
		return NULL;
	}
	return enroll_start(op, err);
}

struct pki_op *pki_proxy_enroll(struct pki_trustpoint *tp, const uint8_t *csr,
				size_t csr_len, pki_enroll_cb *cb, void *arg,
				struct pki_error *err)
{
	struct pki_csr_info info;
	struct pki_csr *parsed;
	struct pki_op *op;

	if (tp->parent) {
		pki_err_set(err, PKI_ERR_INVALID, "%s is a proxy clone", tp->name);
		return NULL;
	}
	parsed = pki_csr_parse(csr, csr_len, &info, err);
	if (!parsed)
		return NULL;
	op = pki_proxy_enroll_csr(tp, parsed, cb, arg, err);
	pki_csr_free(parsed);
	return op;
}

struct pki_op *pki_tp_get_next_ca(struct pki_trustpoint *tp, pki_nextca_cb *cb,
				  void *arg, struct pki_error *err)
{
	struct pki_op *op;

	if (!tp->ca) {
		pki_err_set(err, PKI_ERR_NOT_AUTHENTICATED,
			    "trustpoint %s is not authenticated", tp->name);
		return NULL;
	}
	op = pki_op_new(tp, OP_NEXTCA, arg, err);
	if (!op)
		return NULL;
	op->nextca_cb = cb;
	op->state = ST_NEXTCA;
	if (op_submit(op, "GetNextCACert", NULL, NULL, CACERT_MAX_BODY, err) < 0) {
		pki_op_destroy(op);
		return NULL;
	}
	return op;
}
