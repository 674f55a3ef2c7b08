/*
 * pki/scep_msg.c - SCEP pkiMessages (RFC 8894 section 3): pure build and
 * parse, no I/O, so that every function here can be unit-tested and fuzzed.
 *
 * CMS is used rather than the PKCS7 API because it takes attribute OIDs as
 * objects: the SCEP OIDs never need registering in OpenSSL's global table.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "pki/pki_int.h"

static const char *const oid_text[PKI_OID_COUNT] = {
	[PKI_OID_MESSAGE_TYPE] = "2.16.840.1.113733.1.9.2",
	[PKI_OID_PKI_STATUS] = "2.16.840.1.113733.1.9.3",
	[PKI_OID_FAIL_INFO] = "2.16.840.1.113733.1.9.4",
	[PKI_OID_SENDER_NONCE] = "2.16.840.1.113733.1.9.5",
	[PKI_OID_RECIPIENT_NONCE] = "2.16.840.1.113733.1.9.6",
	[PKI_OID_TRANSACTION_ID] = "2.16.840.1.113733.1.9.7",
	[PKI_OID_FAIL_INFO_TEXT] = "1.3.6.1.5.5.7.24.1",
};

const char *pki_msg_type_name(int type)
{
	switch (type) {
	case PKI_MSG_CERTREP: return "CertRep";
	case PKI_MSG_RENEWALREQ: return "RenewalReq";
	case PKI_MSG_PKCSREQ: return "PKCSReq";
	case PKI_MSG_CERTPOLL: return "CertPoll";
	case PKI_MSG_GETCERT: return "GetCert";
	case PKI_MSG_GETCRL: return "GetCRL";
	}
	return "unknown";
}

ASN1_OBJECT *pki_scep_oid(enum pki_scep_oid which)
{
	return OBJ_txt2obj(oid_text[which], 1);
}

int pki_signed_attr_add(CMS_SignerInfo *si, enum pki_scep_oid which, int type,
			const void *data, int len)
{
	ASN1_OBJECT *obj = pki_scep_oid(which);
	int ok;

	if (!obj)
		return 0;
	ok = CMS_signed_add1_attr_by_OBJ(si, obj, type, data, len);
	ASN1_OBJECT_free(obj);
	return ok;
}

const ASN1_TYPE *pki_signed_attr_get(CMS_SignerInfo *si, enum pki_scep_oid which,
				     bool *duplicate)
{
	ASN1_OBJECT *obj = pki_scep_oid(which);
	X509_ATTRIBUTE *attr;
	int idx;

	*duplicate = false;
	if (!obj)
		return NULL;
	idx = CMS_signed_get_attr_by_OBJ(si, obj, -1);
	if (idx >= 0 && CMS_signed_get_attr_by_OBJ(si, obj, idx) >= 0) {
		/* Two instances: which one would the CA have meant? Refuse. */
		*duplicate = true;
		idx = -1;
	}
	ASN1_OBJECT_free(obj);
	if (idx < 0)
		return NULL;
	attr = CMS_signed_get_attr(si, idx);
	if (!attr || X509_ATTRIBUTE_count(attr) != 1) {
		*duplicate = true;
		return NULL;
	}
	return X509_ATTRIBUTE_get0_type(attr, 0);
}

/*
 * A string attribute into buf. 0 ok, -1 absent or malformed. PrintableString
 * is what RFC 8894 specifies; UTF8String and IA5String are tolerated because
 * some CAs emit them.
 */
static int attr_string(CMS_SignerInfo *si, enum pki_scep_oid which, char *buf,
		       size_t bufsz, bool *dup)
{
	const ASN1_TYPE *t = pki_signed_attr_get(si, which, dup);
	const ASN1_STRING *s;
	int len;

	buf[0] = '\0';
	if (!t || (t->type != V_ASN1_PRINTABLESTRING && t->type != V_ASN1_UTF8STRING &&
		   t->type != V_ASN1_IA5STRING))
		return -1;
	s = t->value.asn1_string;
	len = ASN1_STRING_length(s);
	if (len < 0 || (size_t)len >= bufsz ||
	    memchr(ASN1_STRING_get0_data(s), '\0', (size_t)len))
		return -1;
	memcpy(buf, ASN1_STRING_get0_data(s), (size_t)len);
	buf[len] = '\0';
	return 0;
}

static int attr_octets(CMS_SignerInfo *si, enum pki_scep_oid which, uint8_t *out,
		       size_t want, bool *dup)
{
	const ASN1_TYPE *t = pki_signed_attr_get(si, which, dup);
	const ASN1_STRING *s;

	if (!t || t->type != V_ASN1_OCTET_STRING)
		return -1;
	s = t->value.octet_string;
	if ((size_t)ASN1_STRING_length(s) != want)
		return -1;
	memcpy(out, ASN1_STRING_get0_data(s), want);
	return 0;
}

int pki_cms_to_buf(CMS_ContentInfo *cms, struct pki_buf *out)
{
	unsigned char *der = NULL;
	int n = i2d_CMS_ContentInfo(cms, &der);
	int rc;

	out->data = NULL;
	out->len = 0;
	if (n <= 0)
		return -1;
	rc = pki_buf_set(out, der, (size_t)n);
	OPENSSL_free(der);
	return rc;
}

CMS_ContentInfo *pki_cms_d2i(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms;

	if (!der || !len || len > PKI_SCEP_MSG_MAX)
		return NULL;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (cms && p != der + len) {
		CMS_ContentInfo_free(cms);
		cms = NULL;
	}
	return cms;
}

static int bio_to_buf(BIO *bio, struct pki_buf *out)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);

	if (n < 0)
		return -1;
	return pki_buf_set(out, data, (size_t)n);
}

/*
 * SignedData over data (eContentType id-data) by pk/signer, with the SCEP
 * attributes added by add_attrs. data NULL: eContent absent (FAILURE and
 * PENDING CertReps carry no payload), the digest covers zero bytes.
 */
int pki_cms_sign_data(EVP_PKEY *pk, X509 *signer, const EVP_MD *md,
		      const uint8_t *data, size_t len,
		      int (*add_attrs)(CMS_SignerInfo *si, void *arg), void *arg,
		      struct pki_buf *out, struct pki_error *err)
{
	unsigned flags = CMS_PARTIAL | CMS_BINARY | (data ? 0 : CMS_DETACHED);
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	BIO *in = NULL;
	int rc = -1;

	out->data = NULL;
	out->len = 0;
	if (len > INT_MAX) {
		pki_err_set(err, PKI_ERR_INVALID, "content too large to sign");
		return -1;
	}
	cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
	if (!cms) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "CMS_sign failed");
		return -1;
	}
	si = CMS_add1_signer(cms, signer, pk, md, CMS_BINARY | CMS_NOSMIMECAP);
	if (!si) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "cannot add CMS signer");
		goto out;
	}
	if (add_attrs && !add_attrs(si, arg)) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "cannot add SCEP attributes");
		goto out;
	}
	in = data ? BIO_new_mem_buf(data, (int)len) : BIO_new_mem_buf("", 0);
	if (!in || !CMS_final(cms, in, NULL, CMS_BINARY)) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "cannot sign pkiMessage");
		goto out;
	}
	if (pki_cms_to_buf(cms, out) < 0) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	return rc;
}

int pki_cms_verify(CMS_ContentInfo *cms, X509 *signer, CMS_SignerInfo **si_out,
		   struct pki_buf *content, bool *has_content,
		   struct pki_error *err)
{
	STACK_OF(CMS_SignerInfo) *sis;
	STACK_OF(X509) *certs = NULL;
	ASN1_OCTET_STRING **pos;
	BIO *dcont = NULL, *out = NULL;
	int rc = -1;

	content->data = NULL;
	content->len = 0;
	*has_content = false;
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		pki_err_set(err, PKI_ERR_CA_GARBAGE, "not a SignedData");
		return -1;
	}
	sis = CMS_get0_SignerInfos(cms);
	if (sk_CMS_SignerInfo_num(sis) != 1) {
		pki_err_set(err, PKI_ERR_CA_GARBAGE, "%d SignerInfos, expected one",
			    sk_CMS_SignerInfo_num(sis));
		return -1;
	}
	*si_out = sk_CMS_SignerInfo_value(sis, 0);
	if (CMS_SignerInfo_cert_cmp(*si_out, signer) != 0) {
		struct pki_name nm;

		pki_name_fill(X509_get_subject_name(signer), &nm);
		pki_err_set(err, PKI_ERR_BAD_SIGNATURE,
			    "signed by another certificate than '%.120s'", nm.line);
		ERR_clear_error();
		return -1;
	}
	pos = CMS_get0_content(cms);
	*has_content = pos && *pos;
	if (!*has_content)
		dcont = BIO_new_mem_buf("", 0);
	certs = sk_X509_new_null();
	out = BIO_new(BIO_s_mem());
	if (!certs || !out || (!*has_content && !dcont) || !sk_X509_push(certs, signer)) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		goto done;
	}
	/*
	 * NOINTERN: only the expected CA/RA cert may be the signer, whatever
	 * certificates the message carries. No chain check: the cert itself
	 * was accepted by fingerprint.
	 */
	if (CMS_verify(cms, certs, NULL, dcont, out,
		       CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN | CMS_BINARY) != 1) {
		pki_err_ossl(err, PKI_ERR_BAD_SIGNATURE, "signature does not verify");
		goto done;
	}
	if (bio_to_buf(out, content) < 0) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		goto done;
	}
	rc = 0;
done:
	sk_X509_free(certs);	/* signer is the caller's */
	BIO_free(out);
	BIO_free(dcont);
	return rc;
}

int pki_certs_from_certs_only(const uint8_t *der, size_t len,
			      STACK_OF(X509) **out)
{
	CMS_ContentInfo *cms = pki_cms_d2i(der, len);

	*out = NULL;
	if (!cms)
		return -1;
	if (OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed)
		*out = CMS_get1_certs(cms);
	CMS_ContentInfo_free(cms);
	if (*out && sk_X509_num(*out) > 0)
		return 0;
	sk_X509_pop_free(*out, X509_free);
	*out = NULL;
	return -1;
}

/* --- requests --- */

static int add_request_attrs(CMS_SignerInfo *si, void *arg)
{
	const struct pki_scep_request *req = arg;
	char type[8];

	snprintf(type, sizeof(type), "%d", (int)req->type);
	return pki_signed_attr_add(si, PKI_OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING,
				   type, (int)strlen(type)) &&
	       pki_signed_attr_add(si, PKI_OID_TRANSACTION_ID,
				   V_ASN1_PRINTABLESTRING, req->txid,
				   (int)strlen(req->txid)) &&
	       pki_signed_attr_add(si, PKI_OID_SENDER_NONCE, V_ASN1_OCTET_STRING,
				   req->nonce, PKI_NONCE_LEN);
}

/* EnvelopedData of data to one recipient cert, DER. */
static int envelope(X509 *to, const uint8_t *data, size_t len,
		    enum pki_cipher cipher, struct pki_buf *out,
		    struct pki_error *err)
{
	STACK_OF(X509) *recips = sk_X509_new_null();
	CMS_ContentInfo *env = NULL;
	BIO *in = NULL;
	int rc = -1;

	out->data = NULL;
	out->len = 0;
	if (len > INT_MAX)
		goto nomem;
	in = BIO_new_mem_buf(data, (int)len);
	if (!recips || !in || !sk_X509_push(recips, to))
		goto nomem;
	/* Default recipient identifier is issuerAndSerialNumber, as SCEP wants. */
	env = CMS_encrypt(recips, in, pki_cipher_evp(cipher), CMS_BINARY);
	if (!env) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "cannot envelope to the %s recipient",
			     pki_cipher_name(cipher));
		goto out;
	}
	if (pki_cms_to_buf(env, out) < 0)
		goto nomem;
	rc = 0;
	goto out;
nomem:
	pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
out:
	CMS_ContentInfo_free(env);
	BIO_free(in);
	sk_X509_free(recips);
	return rc;
}

static bool printable(const char *s)
{
	/* PrintableString alphabet (X.680): letters, digits, space, '()+,-./:=? */
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(" '()+,-./:=?", *s))
			return false;
	return true;
}

int pki_scep_request_build(const struct pki_scep_request *req,
			   struct pki_buf *out, struct pki_error *err)
{
	X509 *recip = pki_x509_d2i(req->recipient, req->recipient_len);
	X509 *signer = pki_x509_d2i(req->signer, req->signer_len);
	int rc = pki_scep_request_build_x(req, recip, signer, out, err);

	X509_free(recip);
	X509_free(signer);
	return rc;
}

int pki_scep_request_build_x(const struct pki_scep_request *req, X509 *recip,
			     X509 *signer, struct pki_buf *out, struct pki_error *err)
{
	struct pki_buf env = { NULL, 0 };
	int rc = -1;

	out->data = NULL;
	out->len = 0;
	if (!recip || !signer || !req->signer_key || !req->payload ||
	    !req->txid || !*req->txid || strlen(req->txid) > 128 ||
	    !printable(req->txid)) {
		pki_err_set(err, PKI_ERR_INVALID, "incomplete SCEP request (%s)",
			    !recip ? "recipient cert" : !signer ? "signer cert"
			    : !req->signer_key ? "signer key"
			    : !req->payload ? "payload" : "transactionID");
		goto out;
	}
	if (envelope(recip, req->payload, req->payload_len, req->cipher, &env,
		     err) < 0)
		goto out;
	rc = pki_cms_sign_data(req->signer_key->pk, signer,
			       pki_digest_md(req->digest), env.data, env.len,
			       add_request_attrs, (void *)req, out, err);
out:
	/* The envelope is ciphertext, but the CSR inside may carry a challenge. */
	pki_buf_free(&env);
	return rc;
}

static size_t der_len_put(size_t n, uint8_t *out)
{
	size_t bytes = 0, i, t;

	if (n < 0x80) {
		out[0] = (uint8_t)n;
		return 1;
	}
	for (t = n; t; t >>= 8)
		bytes++;
	out[0] = (uint8_t)(0x80 | bytes);
	for (i = 0; i < bytes; i++)
		out[1 + i] = (uint8_t)(n >> (8 * (bytes - 1 - i)));
	return 1 + bytes;
}

int pki_scep_issuer_and_subject(const uint8_t *ca, size_t ca_len,
				const uint8_t *csr, size_t csr_len,
				struct pki_buf *out, struct pki_error *err)
{
	X509 *x = pki_x509_d2i(ca, ca_len);
	X509_REQ *r = pki_req_d2i(csr, csr_len);
	int rc;

	if (!x || !r) {
		out->data = NULL;
		out->len = 0;
		pki_err_set(err, PKI_ERR_PARSE, "%s does not parse", x ? "CSR" : "CA cert");
		rc = -1;
	} else {
		rc = pki_issuer_and_subject_x(x, r, out, err);
	}
	X509_free(x);
	X509_REQ_free(r);
	return rc;
}

int pki_issuer_and_subject_x(X509 *x, X509_REQ *r, struct pki_buf *out,
			     struct pki_error *err)
{
	unsigned char *a = NULL, *b = NULL;
	int na = 0, nb = 0, rc = -1;
	uint8_t hdr[16];
	size_t nh;

	out->data = NULL;
	out->len = 0;
	na = i2d_X509_NAME(X509_get_subject_name(x), &a);
	nb = i2d_X509_NAME(X509_REQ_get_subject_name(r), &b);
	if (na <= 0 || nb <= 0)
		goto nomem;
	/* IssuerAndSubject ::= SEQUENCE { issuer Name, subject Name } */
	hdr[0] = 0x30;
	nh = 1 + der_len_put((size_t)na + (size_t)nb, hdr + 1);
	out->data = malloc(nh + (size_t)na + (size_t)nb + 1);
	if (!out->data)
		goto nomem;
	memcpy(out->data, hdr, nh);
	memcpy(out->data + nh, a, (size_t)na);
	memcpy(out->data + nh + na, b, (size_t)nb);
	out->len = nh + (size_t)na + (size_t)nb;
	out->data[out->len] = 0;
	rc = 0;
	goto out;
nomem:
	pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
out:
	OPENSSL_free(a);
	OPENSSL_free(b);
	return rc;
}

/* --- CertRep --- */

void pki_certrep_free(struct pki_certrep *rep)
{
	size_t i;

	if (!rep)
		return;
	for (i = 0; i < rep->n_certs; i++)
		pki_buf_free(&rep->certs[i]);
	free(rep->certs);
	rep->certs = NULL;
	rep->n_certs = 0;
}

static int stack_to_bufs(STACK_OF(X509) *sk, struct pki_buf **out, size_t *n)
{
	int i, num = sk_X509_num(sk);

	*n = 0;
	*out = calloc((size_t)(num > 0 ? num : 1), sizeof(**out));
	if (!*out)
		return -1;
	for (i = 0; i < num; i++) {
		if (pki_x509_i2d(sk_X509_value(sk, i), &(*out)[i]) < 0)
			return -1;
		(*n)++;
	}
	return 0;
}

static int open_success(const struct pki_buf *content,
			const struct pki_certrep_expect *exp, X509 *me,
			struct pki_certrep *rep, STACK_OF(X509) **certs_out,
			struct pki_error *err)
{
	CMS_ContentInfo *env = pki_cms_d2i(content->data, content->len);
	STACK_OF(X509) *certs = NULL;
	BIO *out = BIO_new(BIO_s_mem());
	struct pki_buf inner = { NULL, 0 };
	int rc = -1;

	if (!out || !me || !exp->key) {
		pki_err_set(err, PKI_ERR_INVALID, "no key or cert to open the CertRep");
		goto done;
	}
	if (!env || OBJ_obj2nid(CMS_get0_type(env)) != NID_pkcs7_enveloped) {
		pki_err_set(err, PKI_ERR_CA_GARBAGE,
			    "SUCCESS CertRep payload is not an EnvelopedData");
		goto done;
	}
	if (!CMS_decrypt(env, exp->key->pk, me, NULL, out, CMS_BINARY)) {
		pki_err_ossl(err, PKI_ERR_CA_GARBAGE, "cannot decrypt CertRep payload");
		goto done;
	}
	if (bio_to_buf(out, &inner) < 0) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		goto done;
	}
	if (pki_certs_from_certs_only(inner.data, inner.len, &certs) < 0) {
		pki_err_set(err, PKI_ERR_CA_GARBAGE,
			    "CertRep payload is not a certs-only SignedData with certificates");
		goto done;
	}
	if (certs_out) {
		*certs_out = certs;
		certs = NULL;
	} else if (stack_to_bufs(certs, &rep->certs, &rep->n_certs) < 0) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		goto done;
	}
	rc = 0;
done:
	pki_buf_free(&inner);
	sk_X509_pop_free(certs, X509_free);
	BIO_free(out);
	CMS_ContentInfo_free(env);
	ERR_clear_error();
	return rc;
}

int pki_scep_certrep_parse(const uint8_t *der, size_t len,
			   const struct pki_certrep_expect *exp,
			   struct pki_certrep *rep, struct pki_error *err)
{
	/* pki_scep_certrep_parse_x() checks the length and everything else. */
	X509 *signer = pki_x509_d2i(exp->signer, exp->signer_len);
	X509 *me = exp->cert ? pki_x509_d2i(exp->cert, exp->cert_len) : NULL;
	int rc = pki_scep_certrep_parse_x(der, len, exp, signer, me, rep, NULL, err);

	X509_free(signer);
	X509_free(me);
	return rc;
}

int pki_scep_certrep_parse_x(const uint8_t *der, size_t len,
			     const struct pki_certrep_expect *exp, X509 *signer, X509 *me,
			     struct pki_certrep *rep, STACK_OF(X509) **certs,
			     struct pki_error *err)
{
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si = NULL;
	struct pki_buf content = { NULL, 0 };
	uint8_t nonce[PKI_NONCE_LEN];
	char buf[160];
	bool has_content = false, dup = false;
	int rc = -1;
	long v;
	char *end;

	memset(rep, 0, sizeof(*rep));
	rep->fail_info = PKI_FAIL_NONE;
	if (certs)
		*certs = NULL;
	if (!der || !len || len > PKI_SCEP_MSG_MAX) {
		pki_err_set(err, PKI_ERR_CA_GARBAGE, "CertRep of %zu bytes", len);
		return -1;
	}
	if (!signer || !exp->txid || !exp->nonce) {
		pki_err_set(err, PKI_ERR_INVALID, "CertRep expectations incomplete");
		goto out;
	}
	cms = pki_cms_d2i(der, len);
	if (!cms) {
		pki_err_set(err, PKI_ERR_CA_GARBAGE, "CertRep is not a DER CMS message");
		goto out;
	}
	if (pki_cms_verify(cms, signer, &si, &content, &has_content, err) < 0) {
		if (err && err->status == PKI_ERR_CA_GARBAGE) {
			snprintf(buf, sizeof(buf), "%.150s", err->reason);
			pki_err_set(err, PKI_ERR_CA_GARBAGE, "CertRep: %s", buf);
		} else if (err) {
			snprintf(buf, sizeof(buf), "%.150s", err->reason);
			pki_err_set(err, PKI_ERR_BAD_SIGNATURE, "CertRep %s", buf);
		}
		goto out;
	}
	/* Everything below is covered by the verified signature. */
	if (attr_string(si, PKI_OID_MESSAGE_TYPE, buf, sizeof(buf), &dup) < 0 ||
	    strcmp(buf, "3") != 0) {
		pki_err_set(err, PKI_ERR_CA_GARBAGE,
			    "messageType '%.16s'%s, expected CertRep (3)", buf,
			    dup ? " (repeated)" : "");
		goto out;
	}
	if (attr_string(si, PKI_OID_TRANSACTION_ID, buf, sizeof(buf), &dup) < 0) {
		pki_err_set(err, PKI_ERR_TXID_MISMATCH,
			    "CertRep transactionID missing or malformed");
		goto out;
	}
	if (strcmp(buf, exp->txid) != 0) {
		pki_err_set(err, PKI_ERR_TXID_MISMATCH,
			    "CertRep transactionID '%.70s' is not ours", buf);
		goto out;
	}
	if (attr_octets(si, PKI_OID_RECIPIENT_NONCE, nonce, sizeof(nonce), &dup) < 0) {
		pki_err_set(err, PKI_ERR_NONCE_MISMATCH,
			    "CertRep recipientNonce missing or not %d bytes", PKI_NONCE_LEN);
		goto out;
	}
	if (CRYPTO_memcmp(nonce, exp->nonce, PKI_NONCE_LEN) != 0) {
		pki_err_set(err, PKI_ERR_NONCE_MISMATCH,
			    "CertRep recipientNonce differs from our senderNonce (replay?)");
		goto out;
	}
	if (attr_string(si, PKI_OID_PKI_STATUS, buf, sizeof(buf), &dup) < 0) {
		pki_err_set(err, PKI_ERR_CA_GARBAGE, "CertRep pkiStatus missing");
		goto out;
	}
	v = strtol(buf, &end, 10);
	if (*end || end == buf || (v != 0 && v != 2 && v != 3)) {
		pki_err_set(err, PKI_ERR_CA_GARBAGE, "CertRep pkiStatus '%.16s'", buf);
		goto out;
	}
	rep->status = (enum pki_pkistatus)v;
	if (rep->status == PKI_PKISTATUS_FAILURE) {
		if (attr_string(si, PKI_OID_FAIL_INFO, buf, sizeof(buf), &dup) == 0) {
			v = strtol(buf, &end, 10);
			rep->fail_info = (!*end && end != buf && v >= 0 && v <= 4)
						 ? (int)v : PKI_FAIL_NONE;
		}
		if (attr_string(si, PKI_OID_FAIL_INFO_TEXT, rep->fail_text,
				sizeof(rep->fail_text), &dup) == 0) {
			char *p;

			for (p = rep->fail_text; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					*p = '?';
		}
		rc = 0;
		goto out;
	}
	if (rep->status == PKI_PKISTATUS_PENDING) {
		rc = 0;
		goto out;
	}
	if (!has_content || !content.len) {
		pki_err_set(err, PKI_ERR_CA_GARBAGE, "SUCCESS CertRep without payload");
		goto out;
	}
	rc = open_success(&content, exp, me, rep, certs, err);
out:
	if (rc < 0)
		pki_certrep_free(rep);
	pki_buf_free(&content);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return rc;
}

/* --- GetCACert / GetNextCACert --- */

void pki_cacerts_free(struct pki_cacerts *c)
{
	size_t i;

	if (!c)
		return;
	pki_buf_free(&c->ca);
	pki_buf_free(&c->ra_enc);
	pki_buf_free(&c->ra_sig);
	for (i = 0; i < c->n_all; i++)
		pki_buf_free(&c->all[i]);
	free(c->all);
	memset(c, 0, sizeof(*c));
}

static bool is_ca_cert(X509 *x)
{
	return X509_check_ca(x) >= 1 &&
	       (X509_get_extension_flags(x) & EXFLAG_BCONS);
}

static bool has_ku(X509 *x, uint32_t bits)
{
	/* No keyUsage extension means every usage is allowed. */
	return (X509_get_key_usage(x) & bits) != 0;
}

/* Pick the issuing CA and the RAs out of a set of certs (see pki.h). */
static int classify(STACK_OF(X509) *sk, struct pki_cacerts *out,
		    struct pki_error *err)
{
	int i, j, n = sk_X509_num(sk);
	X509 *ca = NULL, *enc = NULL, *sig = NULL;
	bool any_ra = false;

	for (i = 0; i < n && !ca; i++) {
		X509 *ra = sk_X509_value(sk, i);

		if (is_ca_cert(ra))
			continue;
		any_ra = true;
		for (j = 0; j < n; j++) {
			X509 *c = sk_X509_value(sk, j);

			if (is_ca_cert(c) && pki_x509_issued_by(ra, c)) {
				ca = c;
				break;
			}
		}
	}
	if (any_ra && !ca) {
		pki_err_set(err, PKI_ERR_WRONG_ISSUER,
			    "RA certificate not issued by any CA certificate of the response");
		return -1;
	}
	if (!ca) {
		/* No RA: the CA cert that issued no other CA cert of the set. */
		for (i = 0; i < n && !ca; i++) {
			X509 *c = sk_X509_value(sk, i);
			bool issues = false;

			if (!is_ca_cert(c))
				continue;
			for (j = 0; j < n; j++) {
				X509 *o = sk_X509_value(sk, j);

				if (o != c && X509_cmp(o, c) != 0 &&
				    pki_x509_issued_by(o, c))
					issues = true;
			}
			if (!issues)
				ca = c;
		}
	}
	if (!ca && n == 1)
		ca = sk_X509_value(sk, 0);
	if (!ca) {
		pki_err_set(err, PKI_ERR_CA_GARBAGE, "no CA certificate in the response");
		return -1;
	}
	for (i = 0; i < n; i++) {
		X509 *ra = sk_X509_value(sk, i);

		if (is_ca_cert(ra))
			continue;
		if (!pki_x509_issued_by(ra, ca)) {
			struct pki_name nm;

			pki_name_fill(X509_get_subject_name(ra), &nm);
			pki_err_set(err, PKI_ERR_WRONG_ISSUER,
				    "RA certificate '%.100s' not issued by the CA", nm.line);
			return -1;
		}
		if (!enc && has_ku(ra, KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT))
			enc = ra;
		if (!sig && has_ku(ra, KU_DIGITAL_SIGNATURE))
			sig = ra;
	}
	if (pki_x509_i2d(ca, &out->ca) < 0 ||
	    (enc && pki_x509_i2d(enc, &out->ra_enc) < 0) ||
	    (sig && pki_x509_i2d(sig, &out->ra_sig) < 0) ||
	    stack_to_bufs(sk, &out->all, &out->n_all) < 0) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static void media_type(const char *ct, char *out, size_t outsz)
{
	size_t n = 0;

	while (ct && (*ct == ' ' || *ct == '\t'))
		ct++;
	for (; ct && *ct && *ct != ';' && *ct != ' ' && n + 1 < outsz; ct++)
		out[n++] = (char)tolower((unsigned char)*ct);
	out[n] = '\0';
}

int pki_scep_cacert_parse(const char *content_type, const uint8_t *body,
			  size_t len, struct pki_cacerts *out,
			  struct pki_error *err)
{
	STACK_OF(X509) *sk = NULL;
	char mt[64];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	media_type(content_type, mt, sizeof(mt));
	if (!strcmp(mt, "application/x-x509-ca-cert")) {
		X509 *x = pki_x509_d2i(body, len);

		sk = sk_X509_new_null();
		if (!x || !sk || !sk_X509_push(sk, x)) {
			X509_free(x);
			pki_err_set(err, PKI_ERR_CA_GARBAGE,
				    "GetCACert body is not one DER certificate (%zu bytes)", len);
			goto out;
		}
	} else if (!strcmp(mt, "application/x-x509-ca-ra-cert")) {
		if (pki_certs_from_certs_only(body, len, &sk) < 0) {
			pki_err_set(err, PKI_ERR_CA_GARBAGE,
				    "GetCACert body is not a certs-only PKCS#7 (%zu bytes)", len);
			goto out;
		}
	} else {
		pki_err_set(err, PKI_ERR_CA_GARBAGE,
			    "GetCACert answered with content type '%.60s'",
			    content_type ? content_type : "(none)");
		goto out;
	}
	rc = classify(sk, out, err);
out:
	if (rc < 0)
		pki_cacerts_free(out);
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return rc;
}

int pki_scep_nextca_parse(const uint8_t *body, size_t len,
			  const uint8_t *signer, size_t signer_len,
			  struct pki_cacerts *out, struct pki_error *err)
{
	CMS_ContentInfo *cms = pki_cms_d2i(body, len);
	X509 *sx = pki_x509_d2i(signer, signer_len);
	STACK_OF(X509) *sk = NULL;
	CMS_SignerInfo *si;
	struct pki_buf content = { NULL, 0 };
	bool has_content;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!sx) {
		pki_err_set(err, PKI_ERR_INVALID, "no current CA certificate");
		goto out;
	}
	if (!cms) {
		pki_err_set(err, PKI_ERR_CA_GARBAGE,
			    "GetNextCACert body is not a DER CMS message (%zu bytes)", len);
		goto out;
	}
	if (pki_cms_verify(cms, sx, &si, &content, &has_content, err) < 0)
		goto out;
	if (!has_content ||
	    pki_certs_from_certs_only(content.data, content.len, &sk) < 0) {
		pki_err_set(err, PKI_ERR_CA_GARBAGE,
			    "GetNextCACert content is not a certs-only SignedData");
		goto out;
	}
	rc = classify(sk, out, err);
out:
	if (rc < 0)
		pki_cacerts_free(out);
	pki_buf_free(&content);
	sk_X509_pop_free(sk, X509_free);
	CMS_ContentInfo_free(cms);
	X509_free(sx);
	ERR_clear_error();
	return rc;
}
