/*
 * pki/cert.c - X.509 inspection, fingerprints, PEM/DER, issuer checks and
 * the minimal certificate maker (SSCs, temporary signer certs, test PKIs).
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "pki/pki_int.h"

X509 *pki_x509_d2i(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (!der || !len || len > LONG_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x && p != der + len) {
		/* Trailing bytes: two parsers could disagree on what was signed. */
		X509_free(x);
		x = NULL;
	}
	return x;
}

int pki_x509_i2d(X509 *x, struct pki_buf *out)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	int rc;

	out->data = NULL;
	out->len = 0;
	if (n <= 0)
		return -1;
	rc = pki_buf_set(out, der, (size_t)n);
	OPENSSL_free(der);
	return rc;
}

static void attr_short_name(const ASN1_OBJECT *obj, char *out, size_t outsz)
{
	int nid = OBJ_obj2nid(obj);
	const char *sn;
	size_t i;

	switch (nid) {
	case NID_pkcs9_emailAddress:
		snprintf(out, outsz, "ea");	/* as IOS prints it */
		return;
	case NID_pkcs9_unstructuredName:
		snprintf(out, outsz, "hostname");
		return;
	case NID_serialNumber:
		snprintf(out, outsz, "serialnumber");
		return;
	case NID_undef:
		OBJ_obj2txt(out, (int)outsz, obj, 1);
		return;
	}
	sn = OBJ_nid2sn(nid);
	snprintf(out, outsz, "%s", sn ? sn : "?");
	for (i = 0; out[i]; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
}

/* Values from the network end up in show output and logs: no controls. */
static void sanitise(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

void pki_name_fill(const X509_NAME *nm, struct pki_name *out)
{
	int i, n = X509_NAME_entry_count(nm);
	BIO *bio;

	memset(out, 0, sizeof(*out));
	/* DER order is most general first; show output wants cn first. */
	for (i = n - 1; i >= 0 && out->n_attrs < PKI_NAME_MAX_ATTRS; i--) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(nm, i);
		struct pki_name_attr *a = &out->attrs[out->n_attrs];
		unsigned char *utf8 = NULL;
		int len;

		attr_short_name(X509_NAME_ENTRY_get_object(e), a->name,
				sizeof(a->name));
		len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
		if (len < 0) {
			snprintf(a->value, sizeof(a->value), "?");
			ERR_clear_error();
		} else {
			snprintf(a->value, sizeof(a->value), "%.*s", len,
				 (const char *)utf8);
			OPENSSL_free(utf8);
		}
		sanitise(a->value);
		out->n_attrs++;
	}
	bio = BIO_new(BIO_s_mem());
	if (bio) {
		int w = X509_NAME_print_ex(bio, nm, 0,
					   XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
		if (w > 0) {
			int r = BIO_read(bio, out->line, (int)sizeof(out->line) - 1);

			out->line[r > 0 ? r : 0] = '\0';
		}
		BIO_free(bio);
	}
	sanitise(out->line);
}

static time_t asn1_time_to_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return (time_t)-1;
	return timegm(&tm);
}

void pki_x509_fingerprints(X509 *x, uint8_t md5[16], uint8_t sha1[20],
			   uint8_t sha256[32])
{
	unsigned int n;

	if (md5 && !X509_digest(x, EVP_md5(), md5, &n))
		memset(md5, 0, 16);
	if (sha1 && !X509_digest(x, EVP_sha1(), sha1, &n))
		memset(sha1, 0, 20);
	if (sha256 && !X509_digest(x, EVP_sha256(), sha256, &n))
		memset(sha256, 0, 32);
}

static unsigned map_ku(uint32_t ku)
{
	unsigned r = 0;

	if (ku & KU_DIGITAL_SIGNATURE) r |= PKI_KU_DIGITAL_SIGNATURE;
	if (ku & KU_NON_REPUDIATION) r |= PKI_KU_NON_REPUDIATION;
	if (ku & KU_KEY_ENCIPHERMENT) r |= PKI_KU_KEY_ENCIPHERMENT;
	if (ku & KU_DATA_ENCIPHERMENT) r |= PKI_KU_DATA_ENCIPHERMENT;
	if (ku & KU_KEY_AGREEMENT) r |= PKI_KU_KEY_AGREEMENT;
	if (ku & KU_KEY_CERT_SIGN) r |= PKI_KU_KEY_CERT_SIGN;
	if (ku & KU_CRL_SIGN) r |= PKI_KU_CRL_SIGN;
	return r;
}

static unsigned map_eku(uint32_t xku)
{
	unsigned r = 0;

	if (xku & XKU_SSL_SERVER) r |= PKI_EKU_SERVER_AUTH;
	if (xku & XKU_SSL_CLIENT) r |= PKI_EKU_CLIENT_AUTH;
	if (xku & XKU_CODE_SIGN) r |= PKI_EKU_CODE_SIGNING;
	if (xku & XKU_SMIME) r |= PKI_EKU_EMAIL;
	if (xku & XKU_TIMESTAMP) r |= PKI_EKU_TIME_STAMPING;
	if (xku & XKU_OCSP_SIGN) r |= PKI_EKU_OCSP_SIGNING;
	if (xku & XKU_ANYEKU) r |= PKI_EKU_ANY;
	if (xku & ~(uint32_t)(XKU_SSL_SERVER | XKU_SSL_CLIENT | XKU_CODE_SIGN |
			      XKU_SMIME | XKU_TIMESTAMP | XKU_OCSP_SIGN | XKU_ANYEKU))
		r |= PKI_EKU_OTHER;
	return r;
}

int pki_cert_inspect(const uint8_t *der, size_t len, struct pki_cert_info *info,
		     struct pki_error *err)
{
	X509 *x = pki_x509_d2i(der, len);
	int rc;

	if (!x) {
		memset(info, 0, sizeof(*info));
		info->path_len = -1;
		pki_err_ossl(err, PKI_ERR_PARSE, "not a DER X.509 certificate");
		return -1;
	}
	rc = pki_x509_inspect(x, info, err);
	X509_free(x);
	return rc;
}

int pki_x509_inspect(X509 *x, struct pki_cert_info *info, struct pki_error *err)
{
	const ASN1_INTEGER *serial;
	const X509_ALGOR *alg;
	const EVP_PKEY *pk;
	BIGNUM *bn;
	uint32_t flags;
	int nid;

	memset(info, 0, sizeof(*info));
	info->path_len = -1;
	flags = X509_get_extension_flags(x);
	if (flags & EXFLAG_INVALID) {
		pki_err_set(err, PKI_ERR_PARSE, "certificate has malformed extensions");
		ERR_clear_error();
		return -1;
	}
	info->version = (int)X509_get_version(x) + 1;
	serial = X509_get0_serialNumber(x);
	bn = ASN1_INTEGER_to_BN(serial, NULL);
	if (bn) {
		char *hex = BN_bn2hex(bn);

		if (hex) {
			snprintf(info->serial_hex, sizeof(info->serial_hex), "%s", hex);
			OPENSSL_free(hex);
		}
		BN_free(bn);
	}
	pki_name_fill(X509_get_issuer_name(x), &info->issuer);
	pki_name_fill(X509_get_subject_name(x), &info->subject);
	info->not_before = asn1_time_to_time(X509_get0_notBefore(x));
	info->not_after = asn1_time_to_time(X509_get0_notAfter(x));
	pk = X509_get0_pubkey(x);
	if (pk)
		pki_key_describe(pk, &info->key, info->key_alg,
				 sizeof(info->key_alg), info->key_curve,
				 sizeof(info->key_curve));
	X509_get0_signature(NULL, &alg, x);
	nid = OBJ_obj2nid(alg->algorithm);
	if (nid != NID_undef)
		snprintf(info->sig_alg, sizeof(info->sig_alg), "%s", OBJ_nid2ln(nid));
	else
		OBJ_obj2txt(info->sig_alg, sizeof(info->sig_alg), alg->algorithm, 1);
	info->has_basic_constraints = (flags & EXFLAG_BCONS) != 0;
	info->is_ca = (flags & EXFLAG_CA) != 0 && info->has_basic_constraints;
	info->path_len = (int)X509_get_pathlen(x);
	info->has_key_usage = (flags & EXFLAG_KUSAGE) != 0;
	if (info->has_key_usage)
		info->key_usage = map_ku(X509_get_key_usage(x));
	info->has_eku = (flags & EXFLAG_XKUSAGE) != 0;
	if (info->has_eku)
		info->eku = map_eku(X509_get_extended_key_usage(x));
	info->self_issued = X509_NAME_cmp(X509_get_issuer_name(x),
					  X509_get_subject_name(x)) == 0;
	pki_x509_fingerprints(x, info->md5, info->sha1, info->sha256);
	ERR_clear_error();
	return 0;
}

const char *pki_cert_usage_name(const struct pki_cert_info *info)
{
	unsigned sign = PKI_KU_DIGITAL_SIGNATURE | PKI_KU_NON_REPUDIATION;
	unsigned enc = PKI_KU_KEY_ENCIPHERMENT | PKI_KU_DATA_ENCIPHERMENT;

	if (!info->has_key_usage)
		return "General Purpose";
	if ((info->key_usage & sign) && !(info->key_usage & enc))
		return "Signature";
	if ((info->key_usage & enc) && !(info->key_usage & sign))
		return "Encryption";
	return "General Purpose";
}

const char *pki_fp_format(const uint8_t *md, size_t len, enum pki_fp_style style,
			  char *out, size_t outsz)
{
	const char *digits = style == PKI_FP_HEX ? "0123456789abcdef"
						 : "0123456789ABCDEF";
	size_t need, n = 0, i;

	switch (style) {
	case PKI_FP_IOS:
		need = len * 2 + (len ? (len - 1) / 4 : 0) + 1;
		break;
	case PKI_FP_COLON:
		need = len * 3 + 1;
		break;
	default:
		need = len * 2 + 1;
		break;
	}
	if (!outsz)
		return out;
	if (need > outsz) {
		out[0] = '\0';
		return out;
	}
	for (i = 0; i < len; i++) {
		if (i && style == PKI_FP_IOS && i % 4 == 0)
			out[n++] = ' ';
		if (i && style == PKI_FP_COLON)
			out[n++] = ':';
		out[n++] = digits[md[i] >> 4];
		out[n++] = digits[md[i] & 15];
	}
	out[n] = '\0';
	return out;
}

int pki_fp_parse_sha256(const char *text, uint8_t md[32], struct pki_error *err)
{
	size_t n = 0;
	const char *p;

	for (p = text ? text : ""; *p; p++) {
		int v;

		if (*p == ':' || *p == ' ' || *p == '-')
			continue;
		if (!isxdigit((unsigned char)*p) || n >= 64) {
			pki_err_set(err, PKI_ERR_CONFIG,
				    "fingerprint '%.100s': expected 64 hex digits (SHA-256)",
				    text ? text : "");
			return -1;
		}
		v = isdigit((unsigned char)*p) ? *p - '0'
					       : tolower((unsigned char)*p) - 'a' + 10;
		if (n % 2 == 0)
			md[n / 2] = (uint8_t)(v << 4);
		else
			md[n / 2] |= (uint8_t)v;
		n++;
	}
	if (n != 64) {
		pki_err_set(err, PKI_ERR_CONFIG,
			    "fingerprint '%.100s': expected 64 hex digits (SHA-256), got %zu",
			    text ? text : "", n);
		return -1;
	}
	return 0;
}

static bool label_matches(const char *name, const char *label)
{
	if (label)
		return !strcmp(name, label);
	return !strcmp(name, "CERTIFICATE") || !strcmp(name, "X509 CERTIFICATE") ||
	       !strcmp(name, "CERTIFICATE REQUEST") ||
	       !strcmp(name, "NEW CERTIFICATE REQUEST");
}

int pki_pem_to_der(const char *pem, size_t len, const char *label,
		   struct pki_buf *der, struct pki_error *err)
{
	BIO *bio;
	int rc = -1;

	der->data = NULL;
	der->len = 0;
	if (len > INT_MAX) {
		pki_err_set(err, PKI_ERR_PARSE, "PEM too large");
		return -1;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return -1;
	}
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;
		bool match;

		if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
			pki_err_set(err, PKI_ERR_PARSE, "no PEM block labelled %s",
				    label ? label : "CERTIFICATE or CERTIFICATE REQUEST");
			ERR_clear_error();
			break;
		}
		match = label_matches(name, label) && header[0] == '\0';
		if (match && pki_buf_set(der, data, (size_t)dlen) < 0)
			pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		else if (match)
			rc = 0;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		if (match)
			break;
	}
	BIO_free(bio);
	return rc;
}

int pki_der_to_pem(const uint8_t *der, size_t len, const char *label,
		   struct pki_buf *pem, struct pki_error *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int rc = -1;

	pem->data = NULL;
	pem->len = 0;
	if (!bio || len > LONG_MAX) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		BIO_free(bio);
		return -1;
	}
	if (PEM_write_bio(bio, label, "", der, (long)len) <= 0) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "PEM encoding failed");
		goto out;
	}
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || pki_buf_set(pem, data, (size_t)n) < 0) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	BIO_free(bio);
	return rc;
}

int pki_load_der(const char *path, struct pki_buf *der, struct pki_error *err)
{
	struct pki_buf raw;
	int rc;

	der->data = NULL;
	der->len = 0;
	if (pki_file_read(path, 1 << 20, &raw, err) < 0)
		return -1;
	if (memmem(raw.data, raw.len, "-----BEGIN ", 11)) {
		rc = pki_pem_to_der((const char *)raw.data, raw.len, NULL, der, err);
		if (rc < 0 && err) {
			char why[sizeof(err->reason)];

			snprintf(why, sizeof(why), "%s", err->reason);
			pki_err_set(err, PKI_ERR_PARSE, "%s: %s", path, why);
		}
		pki_buf_free(&raw);
		return rc;
	}
	*der = raw;
	return 0;
}

int pki_x509_issued_by(X509 *cert, X509 *ca)
{
	EVP_PKEY *pk = X509_get0_pubkey(ca);
	int ok;

	if (!pk || X509_NAME_cmp(X509_get_issuer_name(cert),
				 X509_get_subject_name(ca)) != 0)
		return 0;
	ok = X509_verify(cert, pk) == 1;
	ERR_clear_error();
	return ok;
}

int pki_cert_verify_issued_by(const uint8_t *cert, size_t cert_len,
			      const uint8_t *ca, size_t ca_len,
			      struct pki_error *err)
{
	X509 *x = pki_x509_d2i(cert, cert_len);
	X509 *c = pki_x509_d2i(ca, ca_len);
	int rc = -1;

	if (!x || !c) {
		pki_err_set(err, PKI_ERR_PARSE, "%s certificate does not parse",
			    x ? "issuer" : "subject");
	} else if (!pki_x509_issued_by(x, c)) {
		struct pki_name a, b;

		pki_name_fill(X509_get_subject_name(x), &a);
		pki_name_fill(X509_get_subject_name(c), &b);
		pki_err_set(err, PKI_ERR_WRONG_ISSUER, "'%.100s' is not issued by '%.100s'",
			    a.line, b.line);
	} else {
		rc = 0;
	}
	X509_free(x);
	X509_free(c);
	ERR_clear_error();
	return rc;
}

int pki_cert_key_equals_csr(const uint8_t *cert, size_t cert_len,
			    const uint8_t *csr, size_t csr_len,
			    struct pki_error *err)
{
	X509 *x = pki_x509_d2i(cert, cert_len);
	X509_REQ *r = pki_req_d2i(csr, csr_len);
	EVP_PKEY *rk = r ? X509_REQ_get0_pubkey(r) : NULL;
	int rc = -1;

	if (!x || !rk)
		pki_err_set(err, PKI_ERR_PARSE, "%s does not parse",
			    x ? "CSR" : "certificate");
	else
		rc = EVP_PKEY_eq(X509_get0_pubkey(x), rk) == 1;
	X509_free(x);
	X509_REQ_free(r);
	ERR_clear_error();
	return rc;
}

int pki_cert_key_equals(const uint8_t *cert, size_t cert_len,
			const struct pki_key *key, struct pki_error *err)
{
	X509 *x = pki_x509_d2i(cert, cert_len);
	int rc;

	if (!x) {
		pki_err_set(err, PKI_ERR_PARSE, "certificate does not parse");
		return -1;
	}
	rc = EVP_PKEY_eq(X509_get0_pubkey(x), key->pk) == 1;
	X509_free(x);
	ERR_clear_error();
	return rc;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

static void ku_string(unsigned ku, char *out, size_t outsz)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ PKI_KU_DIGITAL_SIGNATURE, "digitalSignature" },
		{ PKI_KU_NON_REPUDIATION, "nonRepudiation" },
		{ PKI_KU_KEY_ENCIPHERMENT, "keyEncipherment" },
		{ PKI_KU_DATA_ENCIPHERMENT, "dataEncipherment" },
		{ PKI_KU_KEY_AGREEMENT, "keyAgreement" },
		{ PKI_KU_KEY_CERT_SIGN, "keyCertSign" },
		{ PKI_KU_CRL_SIGN, "cRLSign" },
	};
	size_t i, n;

	n = (size_t)snprintf(out, outsz, "critical");
	for (i = 0; i < sizeof(names) / sizeof(names[0]) && n < outsz; i++)
		if (ku & names[i].bit)
			n += (size_t)snprintf(out + n, outsz - n, ",%s", names[i].name);
}

static int set_serial(X509 *x, uint64_t serial)
{
	ASN1_INTEGER *ai;
	uint8_t rnd[8];
	BIGNUM *bn;
	int ok;

	if (serial)
		return ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return 0;
	rnd[0] &= 0x7f;		/* positive */
	rnd[0] |= 0x01;		/* and never zero */
	bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	if (!bn)
		return 0;
	ai = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	ok = ai != NULL;
	BN_free(bn);
	return ok;
}

const EVP_MD *pki_sign_md(EVP_PKEY *pk)
{
	/* EdDSA signs the message itself; every other key type uses SHA-256. */
	if (EVP_PKEY_is_a(pk, "ED25519") || EVP_PKEY_is_a(pk, "ED448"))
		return NULL;
	return EVP_sha256();
}

/* issuer NULL: self-signed. */
static X509 *make_cert(EVP_PKEY *pub, const X509_NAME *subject, X509 *issuer,
		       EVP_PKEY *signer, const struct pki_issue_params *p,
		       struct pki_error *err)
{
	X509 *x = X509_new();
	unsigned days = p->days ? p->days : 365;
	/* Five minutes back by default: peers with a slightly slow clock accept it. */
	long not_before = p->not_before_offset_s ? p->not_before_offset_s : -300;
	char ku[256];

	if (!x) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (!X509_set_version(x, 2) || !set_serial(x, p->serial) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), not_before) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), not_before + (p->validity_s > 0 ? p->validity_s
									    : (long)days * 86400L)) ||
	    !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer)
					    : subject) ||
	    !X509_set_pubkey(x, pub))
		goto fail;
	if (!add_ext(x, issuer ? issuer : x, NID_basic_constraints,
		     p->ca ? "critical,CA:TRUE" : "critical,CA:FALSE"))
		goto fail;
	if (p->key_usage) {
		ku_string(p->key_usage, ku, sizeof(ku));
		if (!add_ext(x, issuer ? issuer : x, NID_key_usage, ku))
			goto fail;
	}
	if (p->eku) {
		snprintf(ku, sizeof(ku), "%s%s%s",
			 p->eku & PKI_EKU_SERVER_AUTH ? "serverAuth" : "",
			 (p->eku & PKI_EKU_SERVER_AUTH) && (p->eku & PKI_EKU_CLIENT_AUTH)
				 ? "," : "",
			 p->eku & PKI_EKU_CLIENT_AUTH ? "clientAuth" : "");
		if (ku[0] && !add_ext(x, issuer ? issuer : x, NID_ext_key_usage, ku))
			goto fail;
	}
	if (!add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash"))
		goto fail;
	if (issuer && !add_ext(x, issuer, NID_authority_key_identifier, "keyid:always"))
		goto fail;
	if (X509_sign(x, signer, pki_sign_md(signer)) <= 0)
		goto fail;
	return x;
fail:
	pki_err_ossl(err, PKI_ERR_CRYPTO, "cannot make certificate");
	X509_free(x);
	return NULL;
}

X509 *pki_temp_cert(EVP_PKEY *pk, const X509_NAME *subject, unsigned days,
		    struct pki_error *err)
{
	struct pki_issue_params p = {
		.days = days,
		.key_usage = PKI_KU_DIGITAL_SIGNATURE | PKI_KU_KEY_ENCIPHERMENT,
	};

	return make_cert(pk, subject, NULL, pk, &p, err);
}

int pki_cert_self_signed(const struct pki_key *key, const struct pki_subject *subj,
			 const struct pki_issue_params *p, struct pki_buf *der,
			 struct pki_error *err)
{
	X509_NAME *nm = pki_subject_to_name(subj, err);
	X509 *x;
	int rc = -1;

	der->data = NULL;
	der->len = 0;
	if (!nm)
		return -1;
	x = make_cert(key->pk, nm, NULL, key->pk, p, err);
	if (x && pki_x509_i2d(x, der) == 0)
		rc = 0;
	else if (x)
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
	X509_free(x);
	X509_NAME_free(nm);
	return rc;
}

int pki_cert_issue(const struct pki_key *ca_key, const uint8_t *ca_der,
		   size_t ca_len, const uint8_t *csr_der, size_t csr_len,
		   const struct pki_issue_params *p, struct pki_buf *der,
		   struct pki_error *err)
{
	X509 *ca = pki_x509_d2i(ca_der, ca_len);
	X509_REQ *req = pki_req_d2i(csr_der, csr_len);
	EVP_PKEY *pub = req ? X509_REQ_get0_pubkey(req) : NULL;
	X509 *x = NULL;
	int rc = -1;

	der->data = NULL;
	der->len = 0;
	if (!ca || !pub) {
		pki_err_set(err, PKI_ERR_PARSE, "%s does not parse",
			    ca ? "CSR" : "CA certificate");
		goto out;
	}
	if (X509_REQ_verify(req, pub) != 1) {
		pki_err_ossl(err, PKI_ERR_BAD_SIGNATURE, "CSR self-signature invalid");
		goto out;
	}
	x = make_cert(pub, X509_REQ_get_subject_name(req), ca, ca_key->pk, p, err);
	if (!x)
		goto out;
	if (pki_x509_i2d(x, der) < 0) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	X509_free(x);
	X509_free(ca);
	X509_REQ_free(req);
	ERR_clear_error();
	return rc;
}
