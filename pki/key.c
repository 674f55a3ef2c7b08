/*
 * pki/key.c - key pairs: generation, PEM files (0600), description.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "pki/pki_int.h"

struct pki_key *pki_key_wrap(EVP_PKEY *pk)
{
	struct pki_key *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->pk = pk;
	k->refs = 1;
	return k;
}

struct pki_key *pki_key_ref(struct pki_key *key)
{
	if (key)
		key->refs++;
	return key;
}

void pki_key_free(struct pki_key *key)
{
	if (!key || --key->refs > 0)
		return;
	EVP_PKEY_free(key->pk);
	free(key);
}

static bool spec_valid(const struct pki_key_spec *s)
{
	if (s->type == PKI_KEY_RSA)
		return s->bits == 2048 || s->bits == 3072 || s->bits == 4096;
	if (s->type == PKI_KEY_EC)
		return s->bits == 256 || s->bits == 384;
	return false;
}

int pki_key_spec_parse(const char *text, struct pki_key_spec *spec,
		       struct pki_error *err)
{
	char buf[32];
	const char *num;
	size_t i, n = 0;
	char *end;
	unsigned long bits;

	/* Fold case and drop separators: "RSA-2048" == "rsa 2048" == "rsa2048". */
	for (i = 0; text && text[i] && n + 1 < sizeof(buf); i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '-' || c == ' ' || c == ':' || c == '_')
			continue;
		buf[n++] = (char)tolower(c);
	}
	buf[n] = '\0';
	spec->type = PKI_KEY_NONE;
	spec->bits = 0;
	if (!strncmp(buf, "rsa", 3)) {
		spec->type = PKI_KEY_RSA;
		num = buf + 3;
	} else if (!strncmp(buf, "ecdsap", 6)) {
		spec->type = PKI_KEY_EC;
		num = buf + 6;
	} else if (!strncmp(buf, "ecp", 3)) {
		spec->type = PKI_KEY_EC;
		num = buf + 3;
	} else if (!strncmp(buf, "ec", 2) || !strncmp(buf, "p", 1)) {
		spec->type = PKI_KEY_EC;
		num = buf + (buf[0] == 'e' ? 2 : 1);
	} else {
		num = NULL;
	}
	if (num && isdigit((unsigned char)*num)) {
		bits = strtoul(num, &end, 10);
		if (*end == '\0' && bits <= 65536)
			spec->bits = (unsigned)bits;
	}
	if (!spec_valid(spec)) {
		pki_err_set(err, PKI_ERR_UNSUPPORTED,
			    "key '%s': use rsa2048, rsa3072, rsa4096, ec256 or ec384",
			    text ? text : "");
		spec->type = PKI_KEY_NONE;
		spec->bits = 0;
		return -1;
	}
	return 0;
}

const char *pki_key_spec_format(const struct pki_key_spec *spec, char *out,
				size_t outsz)
{
	switch (spec->type) {
	case PKI_KEY_RSA:
		snprintf(out, outsz, "RSA-%u", spec->bits);
		break;
	case PKI_KEY_EC:
		snprintf(out, outsz, "EC-P%u", spec->bits);
		break;
	case PKI_KEY_ED25519:
		snprintf(out, outsz, "ED25519");
		break;
	case PKI_KEY_ED448:
		snprintf(out, outsz, "ED448");
		break;
	default:
		snprintf(out, outsz, "none");
		break;
	}
	return out;
}

int pki_key_generate(const struct pki_key_spec *spec, struct pki_key **out,
		     struct pki_error *err)
{
	EVP_PKEY *pk;

	*out = NULL;
	if (!spec_valid(spec)) {
		pki_err_set(err, PKI_ERR_UNSUPPORTED, "cannot generate key type %d/%u",
			    (int)spec->type, spec->bits);
		return -1;
	}
	if (spec->type == PKI_KEY_RSA)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)spec->bits);
	else
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
				       spec->bits == 256 ? "P-256" : "P-384");
	if (!pk) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "key generation failed");
		return -1;
	}
	*out = pki_key_wrap(pk);
	if (!*out) {
		EVP_PKEY_free(pk);
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

/* Refuse to prompt on a terminal for an encrypted key: a daemon has none. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int pki_key_from_pem(const char *pem, size_t len, struct pki_key **out,
		     struct pki_error *err)
{
	BIO *bio;
	EVP_PKEY *pk;

	*out = NULL;
	if (len > INT32_MAX) {
		pki_err_set(err, PKI_ERR_PARSE, "key PEM too large");
		return -1;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return -1;
	}
	pk = PEM_read_bio_PrivateKey_ex(bio, NULL, no_passphrase, NULL, NULL, NULL);
	BIO_free(bio);
	if (!pk) {
		pki_err_ossl(err, PKI_ERR_PARSE,
			     "not an unencrypted PEM private key");
		return -1;
	}
	*out = pki_key_wrap(pk);
	if (!*out) {
		EVP_PKEY_free(pk);
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

int pki_key_load(const char *path, struct pki_key **out, struct pki_error *err)
{
	struct pki_buf b;
	int rc;

	*out = NULL;
	if (pki_file_read(path, 1 << 20, &b, err) < 0)
		return -1;
	rc = pki_key_from_pem((const char *)b.data, b.len, out, err);
	pki_buf_free(&b);
	if (rc < 0 && err) {
		char why[sizeof(err->reason)];

		snprintf(why, sizeof(why), "%s", err->reason);
		pki_err_set(err, PKI_ERR_PARSE, "%s: %s", path, why);
	}
	return rc;
}

int pki_key_to_pem(const struct pki_key *key, struct pki_buf *pem,
		   struct pki_error *err)
{
	/* secmem BIO: the PEM text is cleansed when the BIO is freed. */
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data;
	long n;
	int rc = -1;

	pem->data = NULL;
	pem->len = 0;
	if (!bio) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (!PEM_write_bio_PrivateKey(bio, key->pk, NULL, NULL, 0, NULL, NULL)) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "cannot encode private key");
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

int pki_key_save(const struct pki_key *key, const char *path,
		 struct pki_error *err)
{
	struct pki_buf pem;
	int rc;

	if (pki_key_to_pem(key, &pem, err) < 0)
		return -1;
	rc = pki_file_write(path, pem.data, pem.len, 0600, err);
	pki_buf_free(&pem);
	return rc;
}

int pki_key_public_der(const struct pki_key *key, struct pki_buf *spki,
		       struct pki_error *err)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key->pk, &der);

	spki->data = NULL;
	spki->len = 0;
	if (n <= 0) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "cannot encode public key");
		return -1;
	}
	if (pki_buf_set(spki, der, (size_t)n) < 0) {
		OPENSSL_free(der);
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return -1;
	}
	OPENSSL_free(der);
	return 0;
}

static const char *curve_nist_name(const char *group)
{
	static const struct {
		const char *ossl, *nist;
	} map[] = {
		{ "prime256v1", "P-256" }, { "secp384r1", "P-384" },
		{ "secp521r1", "P-521" }, { "secp224r1", "P-224" },
		{ "P-256", "P-256" }, { "P-384", "P-384" }, { "P-521", "P-521" },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(group, map[i].ossl))
			return map[i].nist;
	return group;
}

void pki_key_describe(const EVP_PKEY *pk, struct pki_key_spec *spec,
		      char *alg, size_t algsz, char *curve, size_t curvesz)
{
	char group[64] = "";

	spec->type = PKI_KEY_NONE;
	spec->bits = (unsigned)EVP_PKEY_get_bits(pk);
	if (curve && curvesz)
		curve[0] = '\0';
	if (EVP_PKEY_is_a(pk, "RSA")) {
		spec->type = PKI_KEY_RSA;
		snprintf(alg, algsz, "RSA");
	} else if (EVP_PKEY_is_a(pk, "EC")) {
		spec->type = PKI_KEY_EC;
		snprintf(alg, algsz, "EC");
		if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
						   group, sizeof(group), NULL) &&
		    curve)
			snprintf(curve, curvesz, "%s", curve_nist_name(group));
	} else if (EVP_PKEY_is_a(pk, "ED25519")) {
		spec->type = PKI_KEY_ED25519;
		snprintf(alg, algsz, "ED25519");
	} else if (EVP_PKEY_is_a(pk, "ED448")) {
		spec->type = PKI_KEY_ED448;
		snprintf(alg, algsz, "ED448");
	} else {
		const char *n = EVP_PKEY_get0_type_name(pk);

		snprintf(alg, algsz, "%s", n ? n : "unknown");
	}
}

void pki_key_get_spec(const struct pki_key *key, struct pki_key_spec *spec)
{
	char alg[24];

	pki_key_describe(key->pk, spec, alg, sizeof(alg), NULL, 0);
}
