/*
 * identity.c — the simulated APs' keys and certificates: a pool of RSA keys
 * generated once and cached on disk (a 2048-bit key costs tens of
 * milliseconds; a thousand APs would otherwise wait a minute), MICs minted
 * at start from a test manufacturing CA, and keys for LSC requests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tools/apsim/apsim.h"

/* Keys [0, MIC_KEYS) sign MICs (shared round robin: a MIC key is only ever
 * used in DTLS); the rest go one per LSC request. */
#define MIC_KEYS 64
#define GENERATORS 2

static const char PEM_END[] = "-----END PRIVATE KEY-----";

/* Parse keys from the pool file, at most `limit`: a large pool (cached for
 * the largest benchmark) costs a small fleet no start-up time. */
static bool parse_pool(struct fleet *f, const char *text, size_t len, size_t limit,
		       char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	struct pki_error perr;

	while (p < end && f->pool_len < limit) {
		const char *stop = memmem(p, (size_t)(end - p), PEM_END, sizeof(PEM_END) - 1);
		if (stop == NULL)
			break;
		stop += sizeof(PEM_END) - 1;
		struct pki_key *key;
		if (pki_key_from_pem(p, (size_t)(stop - p), &key, &perr) != 0) {
			snprintf(err, errlen, "key pool %s: key %zu: %s", f->o.keypool, f->pool_len, perr.reason);
			return false;
		}
		struct pki_key **grown = realloc(f->pool, (f->pool_len + 1) * sizeof(*grown));
		if (grown == NULL) {
			pki_key_free(key);
			snprintf(err, errlen, "out of memory");
			return false;
		}
		f->pool = grown;
		f->pool[f->pool_len++] = key;
		p = stop;
		while (p < end && (*p == '\n' || *p == '\r'))
			p++;
	}
	return true;
}

/* Generate n RSA-2048 keys as PEM into path, in GENERATORS processes. */
static bool generate_keys(const char *path, size_t n, char *err, size_t errlen)
{
	pid_t pids[GENERATORS];
	char part[GENERATORS][512];

	/* Say why up front rather than after minutes of key generation. */
	FILE *probe = fopen(path, "a");
	if (probe == NULL) {
		snprintf(err, errlen, "key pool %s: %s", path, strerror(errno));
		return false;
	}
	fclose(probe);

	for (int g = 0; g < GENERATORS; g++) {
		size_t share = n / GENERATORS + ((size_t)g < n % GENERATORS ? 1 : 0);
		snprintf(part[g], sizeof(part[g]), "%s.part%d", path, g);
		pids[g] = fork();
		if (pids[g] < 0) {
			snprintf(err, errlen, "fork: %s", strerror(errno));
			return false;
		}
		if (pids[g] == 0) {
			FILE *out = fopen(part[g], "w");
			struct pki_key_spec spec = { PKI_KEY_RSA, 2048 };
			int rc = out == NULL;
			for (size_t i = 0; i < share && rc == 0; i++) {
				struct pki_key *key;
				struct pki_buf pem = { 0 };
				struct pki_error perr;
				if (pki_key_generate(&spec, &key, &perr) != 0 ||
				    pki_key_to_pem(key, &pem, &perr) != 0 ||
				    fwrite(pem.data, 1, pem.len, out) != pem.len)
					rc = 1;
				pki_buf_free(&pem);
				pki_key_free(key);
			}
			if (out != NULL && fclose(out) != 0)
				rc = 1;
			_exit(rc);
		}
	}
	bool ok = true;
	for (int g = 0; g < GENERATORS; g++) {
		int status;
		if (waitpid(pids[g], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			ok = false;
	}
	FILE *out = ok ? fopen(path, "a") : NULL;
	for (int g = 0; g < GENERATORS; g++) {
		struct pki_buf data = { 0 };
		struct pki_error perr;
		if (out != NULL && pki_file_read(part[g], 1u << 30, &data, &perr) == 0) {
			if (fwrite(data.data, 1, data.len, out) != data.len)
				ok = false;
		} else {
			ok = false;
		}
		pki_buf_free(&data);
		unlink(part[g]);
	}
	if (out == NULL || fclose(out) != 0)
		ok = false;
	if (!ok)
		snprintf(err, errlen, "cannot generate %zu keys into %s", n, path);
	return ok;
}

bool identity_load_pool(struct fleet *f, size_t want, char *err, size_t errlen)
{
	struct pki_buf text = { 0 };
	struct pki_error perr;

	want += MIC_KEYS;
	if (access(f->o.keypool, R_OK) == 0) {
		if (pki_file_read(f->o.keypool, 1u << 30, &text, &perr) != 0) {
			snprintf(err, errlen, "key pool: %s", perr.reason);
			return false;
		}
		bool ok = parse_pool(f, (const char *)text.data, text.len, want, err, errlen);
		pki_buf_free(&text);
		if (!ok)
			return false;
	}
	if (f->pool_len >= want)
		return true;
	size_t missing = want - f->pool_len;
	if (!f->o.quiet)
		fprintf(stderr, "apsim: generating %zu RSA-2048 keys into %s (once; cached)\n",
			missing, f->o.keypool);
	if (!generate_keys(f->o.keypool, missing, err, errlen))
		return false;
	/* Read the whole file again: simpler than merging, and it checks it. */
	for (size_t i = 0; i < f->pool_len; i++)
		pki_key_free(f->pool[i]);
	f->pool_len = 0;
	if (pki_file_read(f->o.keypool, 1u << 30, &text, &perr) != 0) {
		snprintf(err, errlen, "key pool: %s", perr.reason);
		return false;
	}
	bool ok = parse_pool(f, (const char *)text.data, text.len, want, err, errlen);
	pki_buf_free(&text);
	if (ok && f->pool_len < want) {
		snprintf(err, errlen, "key pool %s: %zu keys, need %zu", f->o.keypool, f->pool_len, want);
		return false;
	}
	return ok;
}

static bool pem_identity(struct ap *ap, const struct pki_buf *cert_der, const struct pki_key *key,
			 struct capwap_dtls_identity **out, char *err, size_t errlen)
{
	struct pki_buf cert_pem = { 0 }, key_pem = { 0 };
	struct pki_error perr;
	struct capwap_error cerr;
	bool ok = false;

	if (pki_der_to_pem(cert_der->data, cert_der->len, "CERTIFICATE", &cert_pem, &perr) != 0 ||
	    pki_key_to_pem(key, &key_pem, &perr) != 0) {
		snprintf(err, errlen, "AP %u: %s", ap->index, perr.reason);
		goto out;
	}
	*out = capwap_dtls_identity_new((const char *)cert_pem.data, cert_pem.len,
					(const char *)key_pem.data, key_pem.len, &cerr);
	if (*out == NULL) {
		snprintf(err, errlen, "AP %u: %s", ap->index, cerr.reason);
		goto out;
	}
	ok = true;
out:
	pki_buf_free(&cert_pem);
	pki_buf_free(&key_pem);
	return ok;
}

bool identity_make_mic(struct fleet *f, struct ap *ap, char *err, size_t errlen)
{
	struct pki_subject subj = { 0 };
	struct pki_buf csr = { 0 }, cert = { 0 };
	struct pki_error perr;
	char mac[18];
	bool ok = false;

	capwap_mac_format(ap->mac, CAPWAP_MAC_BARE_UPPER, mac);
	snprintf(subj.o, sizeof(subj.o), "apsim manufacturing");
	snprintf(subj.cn, sizeof(subj.cn), "%.40s-%s", f->o.model, mac);
	ap->mic_key = pki_key_ref(f->pool[ap->index % MIC_KEYS]);

	struct pki_issue_params p = {
		.days = 3650,
		.key_usage = PKI_KU_DIGITAL_SIGNATURE | PKI_KU_KEY_ENCIPHERMENT,
		.eku = PKI_EKU_CLIENT_AUTH,
	};
	if (f->o.mic_kind != NULL && strcmp(f->o.mic_kind, "expired") == 0) {
		/* valid a year ago for a day */
		p.not_before_offset_s = -366 * 86400;
		p.days = 1;
	}
	if (pki_csr_build(ap->mic_key, &subj, NULL, &csr, &perr) != 0 ||
	    pki_cert_issue(f->mfg_key, f->mfg_cert.data, f->mfg_cert.len, csr.data, csr.len,
			   &p, &cert, &perr) != 0) {
		snprintf(err, errlen, "AP %u MIC: %s", ap->index, perr.reason);
		goto out;
	}
	ok = pem_identity(ap, &cert, ap->mic_key, &ap->mic_id, err, errlen);
out:
	pki_buf_free(&csr);
	pki_buf_free(&cert);
	return ok;
}

struct pki_key *identity_lsc_key(struct fleet *f, const struct pki_key_spec *spec,
				 char *err, size_t errlen)
{
	struct pki_key *key;
	struct pki_error perr;

	if (spec->type == PKI_KEY_RSA && spec->bits == 2048 && f->pool_len > MIC_KEYS) {
		size_t i = MIC_KEYS + f->next_lsc_key++ % (f->pool_len - MIC_KEYS);
		return pki_key_ref(f->pool[i]);
	}
	/* Other sizes and EC are made fresh: EC is quick, big RSA is rare. */
	if (pki_key_generate(spec, &key, &perr) != 0) {
		snprintf(err, errlen, "%s", perr.reason);
		return NULL;
	}
	return key;
}

struct pki_key *identity_weak_key(char *err, size_t errlen)
{
	/* pki/ will not make a key this weak; a hostile AP brings its own. */
	EVP_PKEY *rsa = EVP_RSA_gen(1024);
	BIO *mem = BIO_new(BIO_s_mem());
	struct pki_key *key = NULL;
	struct pki_error perr;
	char *pem;

	if (rsa != NULL && mem != NULL && PEM_write_bio_PrivateKey(mem, rsa, NULL, NULL, 0, NULL, NULL) == 1) {
		long n = BIO_get_mem_data(mem, &pem);
		if (pki_key_from_pem(pem, (size_t)n, &key, &perr) != 0)
			snprintf(err, errlen, "%s", perr.reason);
	} else {
		snprintf(err, errlen, "cannot generate an RSA-1024 key");
	}
	BIO_free(mem);
	EVP_PKEY_free(rsa);
	return key;
}
