/*
 * pki/renew.c - what a trustpoint keeps on disk across its identity's
 * renewals and its CA's rollover:
 *
 *  - a shadow key (key-new.pem), generated for a renewal with
 *    "regenerate", that replaces key.pem only once the CA has issued its
 *    certificate; the swap goes through cert-new.pem so that a crash at any
 *    point leaves either the old pair or the new pair usable (finished by
 *    pki_tp_recover() at the next open);
 *  - a shadow identity (cert-next.pem, and key-next.pem when regenerated)
 *    issued by the rollover CA, activated together with ca-next.pem when the
 *    current CA certificate expires;
 *  - the pin lineage (ca-lineage.txt): the configured pin names the first
 *    CA; each rollover CA is trusted because the CA before it signed the
 *    GetNextCACert answer, and the lineage records that, so a restart after
 *    a rollover still accepts the new ca.pem without the operator's pin
 *    having changed, while a changed pin still invalidates everything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "pki/pki_int.h"

#define LINEAGE_MAX	64	/* rollovers followed from the pin */

static int file_rename(struct pki_trustpoint *tp, const char *from, const char *to,
		       struct pki_error *err)
{
	char a[4096], b[4096];

	if (pki_tp_path_or_err(tp, from, a, sizeof(a), err) < 0 ||
	    pki_tp_path_or_err(tp, to, b, sizeof(b), err) < 0)
		return -1;
	if (rename(a, b) < 0) {
		pki_err_set(err, PKI_ERR_IO, "rename %s to %s: %s", a, b, strerror(errno));
		return -1;
	}
	return 0;
}

static bool file_exists(const struct pki_trustpoint *tp, const char *file)
{
	char p[4096];

	return pki_tp_path(tp, file, p, sizeof(p)) == 0 && access(p, F_OK) == 0;
}

static void file_remove(const struct pki_trustpoint *tp, const char *file)
{
	char p[4096];

	if (pki_tp_path(tp, file, p, sizeof(p)) == 0)
		unlink(p);
}

/* --- pin lineage --- */

/* One 64-digit hex field of a lineage line. */
static bool hex32(const char *s, uint8_t out[32])
{
	char field[65];

	memcpy(field, s, 64);
	field[64] = '\0';
	return pki_fp_parse_sha256(field, out, NULL) == 0;
}

bool pki_tp_pin_accepts(const struct pki_trustpoint *tp, const uint8_t sha256[32])
{
	uint8_t cur[32], a[32], b[32];
	struct pki_buf text = { NULL, 0 };
	char path[4096];
	bool found = false;

	if (!tp->has_pin)
		return false;
	if (memcmp(sha256, tp->pin, 32) == 0)
		return true;
	if (pki_tp_path(tp, PKI_FILE_LINEAGE, path, sizeof(path)) < 0 ||
	    pki_file_read(path, 64 * 1024, &text, NULL) < 0)
		return false;
	/* Follow pin -> next -> next ...; each step was vouched for by the
	 * CA before it, so the chain starts at what the operator pinned. */
	memcpy(cur, tp->pin, 32);
	for (int step = 0; step < LINEAGE_MAX && !found; step++) {
		const char *line = (const char *)text.data;
		bool moved = false;

		while (line && *line) {
			if (strlen(line) >= 129 && hex32(line, a) && line[64] == ' ' &&
			    hex32(line + 65, b) && memcmp(a, cur, 32) == 0) {
				memcpy(cur, b, 32);
				moved = true;
				break;
			}
			line = strchr(line, '\n');
			if (line)
				line++;
		}
		if (!moved)
			break;
		found = memcmp(cur, sha256, 32) == 0;
	}
	pki_buf_free(&text);
	return found;
}

int pki_tp_lineage_add(struct pki_trustpoint *tp, X509 *old_ca, X509 *new_ca,
		       struct pki_error *err)
{
	uint8_t a[32], b[32];
	char line[160], path[4096];
	struct pki_buf text = { NULL, 0 };
	char *all;
	int rc;

	if (!tp->dir)
		return 0;
	pki_x509_fingerprints(old_ca, NULL, NULL, a);
	pki_x509_fingerprints(new_ca, NULL, NULL, b);
	pki_hex(a, 32, false, line);
	line[64] = ' ';
	pki_hex(b, 32, false, line + 65);
	line[129] = '\n';
	line[130] = '\0';
	if (pki_tp_path_or_err(tp, PKI_FILE_LINEAGE, path, sizeof(path), err) < 0)
		return -1;
	if (pki_file_read(path, 64 * 1024, &text, NULL) == 0 && text.data &&
	    strstr((const char *)text.data, line)) {
		pki_buf_free(&text);
		return 0;
	}
	all = malloc(text.len + sizeof(line));
	if (!all) {
		pki_buf_free(&text);
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (text.len)
		memcpy(all, text.data, text.len);
	memcpy(all + text.len, line, 131);
	rc = pki_file_write(path, all, text.len + 130, 0644, err);
	free(all);
	pki_buf_free(&text);
	return rc;
}

/* --- shadow keys --- */

int pki_tp_save_shadow_key(struct pki_trustpoint *tp, const struct pki_key *key,
			   struct pki_error *err)
{
	char path[4096];

	if (!tp->dir)
		return 0;
	if (pki_tp_path_or_err(tp, PKI_FILE_KEY_NEW, path, sizeof(path), err) < 0)
		return -1;
	return pki_key_save(key, path, err);
}

void pki_tp_drop_shadow_key(struct pki_trustpoint *tp)
{
	file_remove(tp, PKI_FILE_KEY_NEW);
}

struct pki_key *pki_tp_load_shadow_key(struct pki_trustpoint *tp, struct pki_error *err)
{
	char path[4096];
	struct pki_key *k = NULL;

	if (pki_tp_path(tp, PKI_FILE_KEY_NEW, path, sizeof(path)) < 0 ||
	    pki_key_load(path, &k, err) < 0) {
		if (err && err->status == PKI_OK)
			pki_err_set(err, PKI_ERR_NOT_FOUND, "trustpoint %s has no shadow key", tp->name);
		return NULL;
	}
	return k;
}

/* --- installing what the CA issued --- */

int pki_tp_install_identity(struct pki_trustpoint *tp, X509 *cert,
			    struct pki_key *new_key, struct pki_error *err)
{
	if (!new_key) {
		if (pki_tp_store_cert(tp, PKI_FILE_IDENTITY, cert, err) < 0)
			return -1;
	} else if (tp->dir) {
		/*
		 * cert-new.pem first: from here on a crash leaves a pair that
		 * pki_tp_recover() can complete (cert-new.pem matching either
		 * key-new.pem or the renamed key.pem); the old pair stays
		 * usable until key.pem is replaced.
		 */
		if (pki_tp_store_cert(tp, PKI_FILE_CERT_NEW, cert, err) < 0 ||
		    file_rename(tp, PKI_FILE_KEY_NEW, PKI_FILE_KEY, err) < 0 ||
		    file_rename(tp, PKI_FILE_CERT_NEW, PKI_FILE_IDENTITY, err) < 0)
			return -1;
	}
	X509_up_ref(cert);
	X509_free(tp->identity);
	tp->identity = cert;
	if (new_key) {
		pki_key_free(tp->key);
		tp->key = pki_key_ref(new_key);
	}
	return 0;
}

int pki_tp_install_next_identity(struct pki_trustpoint *tp, X509 *cert,
				 struct pki_key *new_key, struct pki_error *err)
{
	if (pki_tp_store_cert(tp, PKI_FILE_CERT_NEXT, cert, err) < 0)
		return -1;
	if (new_key && tp->dir && file_rename(tp, PKI_FILE_KEY_NEW, PKI_FILE_KEY_NEXT, err) < 0)
		return -1;
	if (!new_key)
		file_remove(tp, PKI_FILE_KEY_NEXT);
	X509_up_ref(cert);
	X509_free(tp->next_identity);
	tp->next_identity = cert;
	pki_key_free(tp->next_key);
	tp->next_key = new_key ? pki_key_ref(new_key) : NULL;
	return 0;
}

int pki_tp_activate_rollover(struct pki_trustpoint *tp, struct pki_error *err)
{
	if (tp->parent) {
		pki_err_set(err, PKI_ERR_INVALID, "%s is a proxy clone", tp->name);
		return -1;
	}
	if (!tp->next_ca) {
		pki_err_set(err, PKI_ERR_NOT_FOUND, "trustpoint %s has no rollover CA certificate",
			    tp->name);
		return -1;
	}
	/*
	 * The CA first, then the identity: if a crash comes between the two,
	 * cert-next.pem is issued by the (new) ca.pem and pki_tp_recover()
	 * installs it. RA certificates belonged to the old CA: after the
	 * rollover requests go to the CA certificate itself.
	 */
	if (tp->dir && file_rename(tp, PKI_FILE_NEXT_CA, PKI_FILE_CA, err) < 0)
		return -1;
	file_remove(tp, PKI_FILE_RA_ENC);
	file_remove(tp, PKI_FILE_RA_SIG);
	X509_free(tp->ca);
	X509_free(tp->ra_enc);
	X509_free(tp->ra_sig);
	tp->ca = tp->next_ca;
	tp->next_ca = NULL;
	tp->ra_enc = tp->ra_sig = NULL;
	if (tp->next_identity) {
		if (tp->dir && tp->next_key &&
		    file_rename(tp, PKI_FILE_KEY_NEXT, PKI_FILE_KEY, err) < 0)
			return -1;
		if (tp->dir && file_rename(tp, PKI_FILE_CERT_NEXT, PKI_FILE_IDENTITY, err) < 0)
			return -1;
		X509_free(tp->identity);
		tp->identity = tp->next_identity;
		tp->next_identity = NULL;
		if (tp->next_key) {
			pki_key_free(tp->key);
			tp->key = tp->next_key;
			tp->next_key = NULL;
		}
	} else if (tp->identity && !pki_x509_issued_by(tp->identity, tp->ca)) {
		/* Issued by the CA that just ended: it is no identity any more. */
		X509_free(tp->identity);
		tp->identity = NULL;
	}
	ERR_clear_error();
	return 0;
}

/* --- crash recovery at open --- */

/* cert matches the key in file (or, file NULL, the trustpoint key)? */
static bool cert_matches(struct pki_trustpoint *tp, X509 *cert, const char *file)
{
	struct pki_key *k = NULL;
	char path[4096];
	bool yes;

	if (!file)
		return EVP_PKEY_eq(X509_get0_pubkey(cert), tp->key->pk) == 1;
	if (pki_tp_path(tp, file, path, sizeof(path)) < 0 || access(path, F_OK) != 0 ||
	    pki_key_load(path, &k, NULL) < 0)
		return false;
	yes = EVP_PKEY_eq(X509_get0_pubkey(cert), k->pk) == 1;
	pki_key_free(k);
	return yes;
}

static void reload_key(struct pki_trustpoint *tp)
{
	char path[4096];
	struct pki_key *k = NULL;

	if (pki_tp_path(tp, PKI_FILE_KEY, path, sizeof(path)) == 0 &&
	    pki_key_load(path, &k, NULL) == 0) {
		pki_key_free(tp->key);
		tp->key = k;
	}
}

/* Finish installing cert (in file) with the key in key_file, or alone. */
static void finish_swap(struct pki_trustpoint *tp, X509 *cert, const char *file,
			const char *key_file)
{
	if (!tp->ca || !pki_x509_issued_by(cert, tp->ca))
		return;
	if (key_file && cert_matches(tp, cert, key_file)) {
		if (file_rename(tp, key_file, PKI_FILE_KEY, NULL) == 0 &&
		    file_rename(tp, file, PKI_FILE_IDENTITY, NULL) == 0)
			reload_key(tp);
	} else if (cert_matches(tp, cert, NULL)) {
		file_rename(tp, file, PKI_FILE_IDENTITY, NULL);
	}
}

void pki_tp_recover(struct pki_trustpoint *tp)
{
	X509 *x;

	if (!tp->dir)
		return;
	/* A renewal that was issued but not completely installed. */
	if (file_exists(tp, PKI_FILE_CERT_NEW) && (x = pki_tp_load_cert(tp, PKI_FILE_CERT_NEW))) {
		finish_swap(tp, x, PKI_FILE_CERT_NEW, PKI_FILE_KEY_NEW);
		X509_free(x);
	}
	/* A rollover whose CA was activated but not yet its identity. */
	if (file_exists(tp, PKI_FILE_CERT_NEXT) && (x = pki_tp_load_cert(tp, PKI_FILE_CERT_NEXT))) {
		finish_swap(tp, x, PKI_FILE_CERT_NEXT, PKI_FILE_KEY_NEXT);
		X509_free(x);
	}
	ERR_clear_error();
}
