/*
 * pki/csr.c - PKCS#10: inspect hostile requests, build our own.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "pki/pki_int.h"

/* Largest RSA modulus we spend a signature verification on. */
#define CSR_MAX_RSA_BITS 8192

X509_REQ *pki_req_d2i(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509_REQ *r;

	if (!der || !len || len > PKI_CSR_MAX_LEN)
		return NULL;
	r = d2i_X509_REQ(NULL, &p, (long)len);
	if (r && p != der + len) {
		X509_REQ_free(r);
		r = NULL;
	}
	return r;
}

/* SHA-256 of DER that i2d allocated (n <= 0: encoding failed); frees it. */
static int sha256_of_der(unsigned char *der, int n, uint8_t md[32])
{
	unsigned int mdlen = 0;
	int ok;

	if (n <= 0)
		return -1;
	ok = EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	return ok && mdlen == 32 ? 0 : -1;
}

/* The SubjectPublicKeyInfo as the request carries it: plain DER, without
 * the key encoder i2d_PUBKEY() would go through. */
static int req_spki_sha256(X509_REQ *req, uint8_t md[32])
{
	unsigned char *der = NULL;
	X509_PUBKEY *spki = X509_REQ_get_X509_PUBKEY(req);
	int n = spki ? i2d_X509_PUBKEY(spki, &der) : -1;

	return sha256_of_der(der, n, md);
}

int pki_spki_sha256(EVP_PKEY *pk, uint8_t md[32])
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pk, &der);

	return sha256_of_der(der, n, md);
}

/* First value of a field, as UTF-8, bounded by the struct field's size. */
static int take_field(const X509_NAME *nm, int nid, char *out, size_t outsz,
		      const char *label, struct pki_error *err)
{
	int idx = X509_NAME_get_index_by_NID(nm, nid, -1);
	unsigned char *utf8 = NULL;
	int len, i;

	out[0] = '\0';
	if (idx < 0)
		return 0;
	len = ASN1_STRING_to_UTF8(&utf8,
				  X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx)));
	if (len < 0) {
		pki_err_ossl(err, PKI_ERR_PARSE, "CSR subject %s: bad string", label);
		return -1;
	}
	if ((size_t)len >= outsz) {
		pki_err_set(err, PKI_ERR_PARSE,
			    "CSR subject %s longer than %zu bytes", label, outsz - 1);
		OPENSSL_free(utf8);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (utf8[i] < 0x20 || utf8[i] == 0x7f) {
			pki_err_set(err, PKI_ERR_PARSE,
				    "CSR subject %s contains a control character", label);
			OPENSSL_free(utf8);
			return -1;
		}
	}
	memcpy(out, utf8, (size_t)len);
	out[len] = '\0';
	OPENSSL_free(utf8);
	return 0;
}

/* Everything pki_csr_inspect() checks, on a parsed request. */
static int req_inspect(X509_REQ *req, struct pki_csr_info *info, struct pki_error *err)
{
	EVP_PKEY *pk;
	const X509_NAME *nm;
	const X509_ALGOR *alg = NULL;
	int rc = -1, nid;

	pk = X509_REQ_get0_pubkey(req);
	if (!pk) {
		pki_err_ossl(err, PKI_ERR_UNSUPPORTED,
			     "CSR public key unreadable or of an unknown algorithm");
		goto out;
	}
	pki_key_describe(pk, &info->key, info->key_alg, sizeof(info->key_alg),
			 info->key_curve, sizeof(info->key_curve));
	if (info->key.type == PKI_KEY_NONE) {
		pki_err_set(err, PKI_ERR_UNSUPPORTED, "CSR key algorithm %s not supported",
			    info->key_alg);
		goto out;
	}
	if (info->key.type == PKI_KEY_RSA && info->key.bits > CSR_MAX_RSA_BITS) {
		pki_err_set(err, PKI_ERR_UNSUPPORTED, "CSR RSA key of %u bits is too large",
			    info->key.bits);
		goto out;
	}
	X509_REQ_get0_signature(req, NULL, &alg);
	nid = alg ? OBJ_obj2nid(alg->algorithm) : NID_undef;
	if (nid != NID_undef)
		snprintf(info->sig_alg, sizeof(info->sig_alg), "%s", OBJ_nid2ln(nid));
	else if (alg)
		OBJ_obj2txt(info->sig_alg, sizeof(info->sig_alg), alg->algorithm, 1);
	/* Proof of possession: the requester holds the private key. */
	if (X509_REQ_verify(req, pk) != 1) {
		pki_err_ossl(err, PKI_ERR_BAD_SIGNATURE,
			     "CSR self-signature does not verify (%s)", info->sig_alg);
		goto out;
	}
	nm = X509_REQ_get_subject_name(req);
	if (take_field(nm, NID_countryName, info->subject.c, sizeof(info->subject.c), "C", err) ||
	    take_field(nm, NID_stateOrProvinceName, info->subject.st, sizeof(info->subject.st), "ST", err) ||
	    take_field(nm, NID_localityName, info->subject.l, sizeof(info->subject.l), "L", err) ||
	    take_field(nm, NID_organizationName, info->subject.o, sizeof(info->subject.o), "O", err) ||
	    take_field(nm, NID_organizationalUnitName, info->subject.ou, sizeof(info->subject.ou), "OU", err) ||
	    take_field(nm, NID_commonName, info->subject.cn, sizeof(info->subject.cn), "CN", err) ||
	    take_field(nm, NID_pkcs9_emailAddress, info->subject.email, sizeof(info->subject.email), "emailAddress", err))
		goto out;
	pki_name_fill(nm, &info->name);
	info->has_challenge =
		X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1) >= 0;
	if (req_spki_sha256(req, info->spki_sha256) < 0) {
		pki_err_ossl(err, PKI_ERR_PARSE, "CSR public key cannot be encoded");
		goto out;
	}
	pki_hex(info->spki_sha256, 32, true, info->txid);
	rc = 0;
out:
	ERR_clear_error();
	return rc;
}

struct pki_csr *pki_csr_parse(const uint8_t *der, size_t len, struct pki_csr_info *info,
			      struct pki_error *err)
{
	struct pki_csr *csr;

	memset(info, 0, sizeof(*info));
	if (!der || len == 0) {
		pki_err_set(err, PKI_ERR_PARSE, "CSR is empty");
		return NULL;
	}
	if (len > PKI_CSR_MAX_LEN) {
		pki_err_set(err, PKI_ERR_PARSE, "CSR larger than %d bytes (%zu)",
			    PKI_CSR_MAX_LEN, len);
		return NULL;
	}
	csr = calloc(1, sizeof(*csr));
	if (!csr) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	csr->req = pki_req_d2i(der, len);
	if (!csr->req) {
		pki_err_ossl(err, PKI_ERR_PARSE, "not a DER PKCS#10 request");
		pki_csr_free(csr);
		return NULL;
	}
	if (req_inspect(csr->req, info, err) < 0) {
		pki_csr_free(csr);
		return NULL;
	}
	if (pki_buf_set(&csr->der, der, len) < 0) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		pki_csr_free(csr);
		return NULL;
	}
	memcpy(csr->txid, info->txid, sizeof(csr->txid));
	return csr;
}

void pki_csr_free(struct pki_csr *csr)
{
	if (!csr)
		return;
	X509_REQ_free(csr->req);
	pki_buf_free(&csr->der);	/* clears: it may hold a challenge */
	free(csr);
}

int pki_csr_inspect(const uint8_t *der, size_t len, struct pki_csr_info *info,
		    struct pki_error *err)
{
	struct pki_csr *csr = pki_csr_parse(der, len, info, err);

	if (!csr)
		return -1;
	pki_csr_free(csr);
	return 0;
}

int pki_csr_build(const struct pki_key *key, const struct pki_subject *subj,
		  const char *challenge, struct pki_buf *der,
		  struct pki_error *err)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *nm = NULL;
	unsigned char *out = NULL;
	int n = 0, rc = -1;

	der->data = NULL;
	der->len = 0;
	if (!req) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return -1;
	}
	nm = pki_subject_to_name(subj, err);
	if (!nm)
		goto out;
	if (!X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, nm) ||
	    !X509_REQ_set_pubkey(req, key->pk)) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "cannot fill CSR");
		goto out;
	}
	if (challenge && *challenge &&
	    !X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword,
				       MBSTRING_UTF8, (const unsigned char *)challenge,
				       -1)) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "cannot add challengePassword");
		goto out;
	}
	if (X509_REQ_sign(req, key->pk, pki_sign_md(key->pk)) <= 0) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "cannot sign CSR");
		goto out;
	}
	n = i2d_X509_REQ(req, &out);
	if (n <= 0 || pki_buf_set(der, out, (size_t)n) < 0) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	/* The encoding holds the challenge password. */
	if (out)
		OPENSSL_clear_free(out, (size_t)n);
	X509_NAME_free(nm);
	X509_REQ_free(req);
	return rc;
}
