/*
 * pki/caps.c - GetCACaps keywords and the algorithm choice they imply.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pki/pki_int.h"

static const struct {
	const char *word;
	unsigned flag;
} cap_words[] = {
	{ "AES", PKI_CAP_AES },
	{ "DES3", PKI_CAP_DES3 },
	{ "GetNextCACert", PKI_CAP_GETNEXTCACERT },
	{ "POSTPKIOperation", PKI_CAP_POST },
	{ "Renewal", PKI_CAP_RENEWAL },
	{ "SHA-1", PKI_CAP_SHA1 },
	{ "SHA-256", PKI_CAP_SHA256 },
	{ "SHA-512", PKI_CAP_SHA512 },
	{ "SCEPStandard", PKI_CAP_SCEP_STANDARD },
	{ "Update", PKI_CAP_UPDATE },
};

#define NWORDS (sizeof(cap_words) / sizeof(cap_words[0]))

void pki_caps_parse(const char *body, size_t len, struct pki_caps *caps)
{
	size_t i = 0;

	caps->flags = 0;
	caps->known = false;
	while (i < len) {
		char word[64];
		size_t n = 0, k;

		/* One keyword per line; tolerate CR, blanks and tabs around it. */
		while (i < len && (body[i] == '\n' || body[i] == '\r' ||
				   body[i] == ' ' || body[i] == '\t'))
			i++;
		while (i < len && body[i] != '\n' && body[i] != '\r' &&
		       body[i] != ' ' && body[i] != '\t') {
			if (n + 1 < sizeof(word))
				word[n++] = body[i];
			i++;
		}
		word[n] = '\0';
		if (!n)
			continue;
		for (k = 0; k < NWORDS; k++) {
			if (!strcasecmp(word, cap_words[k].word)) {
				caps->flags |= cap_words[k].flag;
				caps->known = true;
			}
		}
	}
	/* RFC 8894 section 3.5.2: SCEPStandard implies AES, POST and SHA-256. */
	if (caps->flags & PKI_CAP_SCEP_STANDARD)
		caps->flags |= PKI_CAP_AES | PKI_CAP_POST | PKI_CAP_SHA256;
}

void pki_caps_select(const struct pki_caps *caps, struct pki_scep_algs *algs)
{
	unsigned f = caps->known ? caps->flags : 0;

	algs->post = (f & (PKI_CAP_POST | PKI_CAP_SCEP_STANDARD)) != 0;
	if (f & PKI_CAP_SHA512)
		algs->digest = PKI_DIGEST_SHA512;
	else if (f & (PKI_CAP_SHA256 | PKI_CAP_SCEP_STANDARD))
		algs->digest = PKI_DIGEST_SHA256;
	else if (f & PKI_CAP_SHA1)
		algs->digest = PKI_DIGEST_SHA1;
	else
		algs->digest = PKI_DIGEST_MD5;
	if (f & (PKI_CAP_AES | PKI_CAP_SCEP_STANDARD))
		algs->cipher = PKI_CIPHER_AES128;
	else if (f & PKI_CAP_DES3)
		algs->cipher = PKI_CIPHER_DES3;
	else
		algs->cipher = PKI_CIPHER_DES;
}

const char *pki_caps_format(const struct pki_caps *caps, char *out, size_t outsz)
{
	size_t n = 0, k;

	if (!outsz)
		return out;
	out[0] = '\0';
	for (k = 0; k < NWORDS; k++) {
		int w;

		if (!(caps->flags & cap_words[k].flag))
			continue;
		w = snprintf(out + n, outsz - n, "%s%s", n ? " " : "", cap_words[k].word);
		if (w < 0 || (size_t)w >= outsz - n)
			break;
		n += (size_t)w;
	}
	return out;
}

const char *pki_digest_name(enum pki_digest d)
{
	switch (d) {
	case PKI_DIGEST_MD5: return "MD5";
	case PKI_DIGEST_SHA1: return "SHA-1";
	case PKI_DIGEST_SHA256: return "SHA-256";
	case PKI_DIGEST_SHA512: return "SHA-512";
	}
	return "unknown";
}

const char *pki_cipher_name(enum pki_cipher c)
{
	switch (c) {
	case PKI_CIPHER_DES: return "DES-CBC";
	case PKI_CIPHER_DES3: return "DES-EDE3-CBC";
	case PKI_CIPHER_AES128: return "AES-128-CBC";
	case PKI_CIPHER_AES256: return "AES-256-CBC";
	}
	return "unknown";
}

const EVP_MD *pki_digest_md(enum pki_digest d)
{
	switch (d) {
	case PKI_DIGEST_MD5: return EVP_md5();
	case PKI_DIGEST_SHA1: return EVP_sha1();
	case PKI_DIGEST_SHA256: return EVP_sha256();
	case PKI_DIGEST_SHA512: return EVP_sha512();
	}
	return EVP_sha256();
}

const EVP_CIPHER *pki_cipher_evp(enum pki_cipher c)
{
	switch (c) {
	case PKI_CIPHER_DES: return EVP_des_cbc();
	case PKI_CIPHER_DES3: return EVP_des_ede3_cbc();
	case PKI_CIPHER_AES128: return EVP_aes_128_cbc();
	case PKI_CIPHER_AES256: return EVP_aes_256_cbc();
	}
	return EVP_aes_128_cbc();
}
