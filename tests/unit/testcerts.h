/*
 * testcerts.h — throwaway certificates for unit tests, made in memory with
 * OpenSSL (EC P-256 keys: fast to generate). Header-only because every
 * tests/unit/test_*.c is its own program.
 */
#ifndef LSCD_TESTCERTS_H
#define LSCD_TESTCERTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

struct test_cert {
	EVP_PKEY *key;
	X509 *cert;
};

static inline EVP_PKEY *test_key_new(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	if (key == NULL)
		abort();
	return key;
}

static inline void test_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL || !X509_add_ext(cert, ext, -1))
		abort();
	X509_EXTENSION_free(ext);
}

/*
 * A certificate for cn, signed by issuer (NULL: self-signed CA). Validity
 * runs from now + from_s to now + to_s seconds. eku is an extendedKeyUsage
 * value string or NULL.
 */
static inline struct test_cert test_cert_make(const char *cn, const struct test_cert *issuer,
					      bool is_ca, long from_s, long to_s, const char *eku)
{
	static long serial = 1;
	struct test_cert tc = { test_key_new(), X509_new() };
	X509_NAME *name = X509_NAME_new();

	X509_set_version(tc.cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(tc.cert), serial++);
	X509_gmtime_adj(X509_getm_notBefore(tc.cert), from_s);
	X509_gmtime_adj(X509_getm_notAfter(tc.cert), to_s);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"lscd tests", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(tc.cert, name);
	X509_set_issuer_name(tc.cert, issuer != NULL ? X509_get_subject_name(issuer->cert) : name);
	X509_set_pubkey(tc.cert, tc.key);
	X509 *issuer_cert = issuer != NULL ? issuer->cert : tc.cert;
	if (is_ca) {
		test_add_ext(tc.cert, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
		test_add_ext(tc.cert, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		test_add_ext(tc.cert, issuer_cert, NID_key_usage, "critical,digitalSignature,keyEncipherment");
	}
	if (eku != NULL)
		test_add_ext(tc.cert, issuer_cert, NID_ext_key_usage, eku);
	if (!X509_sign(tc.cert, issuer != NULL ? issuer->key : tc.key, EVP_sha256()))
		abort();
	X509_NAME_free(name);
	return tc;
}

static inline void test_cert_free(struct test_cert *tc)
{
	X509_free(tc->cert);
	EVP_PKEY_free(tc->key);
	tc->cert = NULL;
	tc->key = NULL;
}

/* PEM of the certificate (and, if chain != NULL, chain after it); caller frees. */
static inline char *test_cert_pem(const struct test_cert *tc, const struct test_cert *chain, size_t *len)
{
	BIO *mem = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(mem, tc->cert);
	if (chain != NULL)
		PEM_write_bio_X509(mem, chain->cert);
	char *data;
	long n = BIO_get_mem_data(mem, &data);
	char *out = malloc((size_t)n + 1);
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	BIO_free(mem);
	return out;
}

static inline char *test_key_pem(const struct test_cert *tc, size_t *len)
{
	BIO *mem = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(mem, tc->key, NULL, NULL, 0, NULL, NULL);
	char *data;
	long n = BIO_get_mem_data(mem, &data);
	char *out = malloc((size_t)n + 1);
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	BIO_free(mem);
	return out;
}

/* Write a PEM string to a new file in dir; returns the path (caller frees). */
static inline char *test_write_file(const char *dir, const char *name, const char *data, size_t len)
{
	char *path;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	FILE *f = fopen(path, "w");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		abort();
	return path;
}

#endif /* LSCD_TESTCERTS_H */
