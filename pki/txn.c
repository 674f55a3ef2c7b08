/*
 * pki/txn.c - an enrollment's transaction state as JSON, so that a pending
 * enrollment can outlive the process (restart survival): what is needed to
 * poll on is the txid, the CSR and the signer cert; the signer's key is the
 * trustpoint's, so no private key is ever written here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/err.h>

#include "pki/pki_int.h"

#define EXPORT_VERSION 1

static char *b64(const struct pki_buf *b)
{
	char *out = malloc(4 * ((b->len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, b->data, (int)b->len);
	return out;
}

static int unb64(const char *in, struct pki_buf *out)
{
	size_t len = strlen(in), pad = 0;
	uint8_t *p;
	int n;

	out->data = NULL;
	out->len = 0;
	if (!len || len % 4 || len > 4 * PKI_CSR_MAX_LEN)
		return -1;
	p = malloc(len / 4 * 3 + 1);
	if (!p)
		return -1;
	n = EVP_DecodeBlock(p, (const unsigned char *)in, (int)len);
	if (n < 0) {
		free(p);
		return -1;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	out->data = p;
	out->len = (size_t)n - pad;
	p[out->len] = 0;
	return 0;
}

int pki_op_export(const struct pki_op *op, char **json, struct pki_error *err)
{
	struct pki_buf sgn = { NULL, 0 };
	char nonce[2 * PKI_NONCE_LEN + 1];
	char *csr64 = NULL, *sgn64 = NULL;
	json_t *o = NULL;

	*json = NULL;
	if (!op || op->kind != OP_ENROLL || !op->root) {
		pki_err_set(err, PKI_ERR_INVALID, "only a running enrollment can be exported");
		return -1;
	}
	if (pki_x509_i2d(op->signer, &sgn) < 0 || !(csr64 = b64(&op->csr)) ||
	    !(sgn64 = b64(&sgn)))
		goto nomem;
	pki_hex(op->nonce, PKI_NONCE_LEN, false, nonce);
	o = json_pack("{s:i, s:s, s:s, s:b, s:i, s:s, s:s, s:s, s:s, s:b, s:i, s:I, s:I}",
		      "version", EXPORT_VERSION,
		      "trustpoint", op->root->name,
		      "clone", op->proxy ? op->clone_name : "",
		      "proxy", op->proxy,
		      "msg_type", (int)op->msg_type,
		      "txid", op->txid,
		      "csr", csr64,
		      "signer", sgn64,
		      "nonce", nonce,
		      "pending", op->pending,
		      "polls", (int)op->polls,
		      "next_poll", (json_int_t)(op->pending ? op->next_poll_wall : 0),
		      "started", (json_int_t)time(NULL) -
				 (json_int_t)((pki_now_ms() - op->started_ms) / 1000));
	/* A renewal with a shadow key, or against the rollover CA. */
	if (o && !op->proxy &&
	    (json_object_set_new(o, "shadow_key", json_boolean(op->req_key != NULL)) < 0 ||
	     json_object_set_new(o, "rollover", json_boolean(op->rollover)) < 0))
		goto nomem;
	if (!o || !(*json = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)))
		goto nomem;
	json_decref(o);
	free(csr64);
	free(sgn64);
	pki_buf_free(&sgn);
	return 0;
nomem:
	json_decref(o);
	free(csr64);
	free(sgn64);
	pki_buf_free(&sgn);
	pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
	return -1;
}

struct pki_op *pki_enroll_resume(struct pki_trustpoint *tp, const char *json,
				 pki_enroll_cb *cb, void *arg,
				 struct pki_error *err)
{
	const char *tpname, *clone, *txid, *csr64, *sgn64, *nonce;
	int version, msg_type, proxy, pending, polls, shadow_key = 0, rollover = 0;
	json_int_t next_poll, started;
	struct pki_buf sgn = { NULL, 0 };
	json_error_t je;
	struct pki_op *op = NULL;
	json_t *o;
	time_t now = time(NULL);

	o = json_loads(json, 0, &je);
	if (!o || json_unpack(o, "{s:i, s:s, s:s, s:b, s:i, s:s, s:s, s:s, s:s, s:b, s:i, s:I, s:I}",
			      "version", &version, "trustpoint", &tpname,
			      "clone", &clone, "proxy", &proxy, "msg_type", &msg_type,
			      "txid", &txid, "csr", &csr64, "signer", &sgn64,
			      "nonce", &nonce, "pending", &pending, "polls", &polls,
			      "next_poll", &next_poll, "started", &started) < 0 ||
	    json_unpack(o, "{s?b, s?b}", "shadow_key", &shadow_key, "rollover", &rollover) < 0 ||
	    version != EXPORT_VERSION || strlen(txid) > PKI_TXID_LEN || polls < 0 ||
	    (msg_type != PKI_MSG_PKCSREQ && msg_type != PKI_MSG_RENEWALREQ)) {
		pki_err_set(err, PKI_ERR_PARSE, "enrollment state does not parse");
		goto fail;
	}
	if (strcmp(tpname, tp->name) != 0) {
		pki_err_set(err, PKI_ERR_INVALID,
			    "enrollment state belongs to trustpoint %.40s, not %s", tpname,
			    tp->name);
		goto fail;
	}
	if (pki_enroll_preflight(tp, err) < 0)
		goto fail;
	op = pki_op_new(tp, OP_ENROLL, arg, err);
	if (!op)
		goto fail;
	op->enroll_cb = cb;
	op->msg_type = (enum pki_msg_type)msg_type;
	op->pending = pending;
	op->rollover = rollover;
	if (rollover && !tp->next_ca) {
		pki_err_set(err, PKI_ERR_NOT_FOUND,
			    "enrollment state is a shadow renewal but trustpoint %s has no rollover CA",
			    tp->name);
		goto fail;
	}
	/* The CSR's key is the shadow key the renewal generated. */
	if (shadow_key && !proxy && !(op->req_key = pki_tp_load_shadow_key(tp, err)))
		goto fail;
	op->polls = (unsigned)polls;
	snprintf(op->txid, sizeof(op->txid), "%s", txid);
	if (unb64(csr64, &op->csr) < 0 || unb64(sgn64, &sgn) < 0 ||
	    !(op->signer = pki_x509_d2i(sgn.data, sgn.len))) {
		pki_err_set(err, PKI_ERR_PARSE, "enrollment state: bad CSR or signer");
		goto fail;
	}
	/* The CertRep will be encrypted to the signer: we must hold its key
	 * (the trustpoint's, or the shadow key behind a temporary cert). */
	if (op->req_key && EVP_PKEY_eq(X509_get0_pubkey(op->signer), op->req_key->pk) == 1)
		op->sign_key = pki_key_ref(op->req_key);
	else if (EVP_PKEY_eq(X509_get0_pubkey(op->signer), tp->key->pk) != 1) {
		pki_err_set(err, PKI_ERR_INVALID,
			    "enrollment state was signed with another key than trustpoint %s's",
			    tp->name);
		goto fail;
	}
	if (proxy && pki_op_proxy_clone(op, clone, err) < 0)
		goto fail;
	if (started > 0 && started <= now)
		op->started_ms -= (uint64_t)(now - started) * 1000u;
	pki_buf_free(&sgn);
	json_decref(o);
	op->csr_req = pki_req_d2i(op->csr.data, op->csr.len);
	if (!op->csr_req || !(op->csr_pub = X509_REQ_get_pubkey(op->csr_req))) {
		pki_err_set(err, PKI_ERR_PARSE, "enrollment state: CSR does not parse");
		pki_op_destroy(op);
		return NULL;
	}
	{
		uint64_t delay = 0;

		if (pending && next_poll > (json_int_t)now)
			delay = (uint64_t)(next_poll - (json_int_t)now) * 1000u;
		if (pki_op_arm(op, (unsigned)(delay < 86400000u ? delay : 86400000u)) < 0) {
			pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
			pki_op_destroy(op);
			return NULL;
		}
	}
	return op;
fail:
	pki_buf_free(&sgn);
	if (op)
		pki_op_destroy(op);
	json_decref(o);
	return NULL;
}
