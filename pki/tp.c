/*
 * pki/tp.c - trustpoints: configuration, on-disk state, proxy clones.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>

#include "pki/pki_int.h"

#define FILE_KEY	PKI_FILE_KEY
#define FILE_CA		PKI_FILE_CA
#define FILE_RA_ENC	PKI_FILE_RA_ENC
#define FILE_RA_SIG	PKI_FILE_RA_SIG
#define FILE_IDENTITY	PKI_FILE_IDENTITY
#define FILE_NEXT_CA	PKI_FILE_NEXT_CA
#define FILE_CAPS	PKI_FILE_CAPS

void pki_tp_config_defaults(struct pki_tp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->key.type = PKI_KEY_RSA;
	cfg->key.bits = 2048;
	cfg->revocation = PKI_REVOCATION_NONE;
	cfg->http_timeout_ms = 15000;
	cfg->connect_timeout_ms = 5000;
	/* IOS: enrollment retry period 1 min, count 10; doubling up to an hour. */
	cfg->poll_first_ms = 60000;
	cfg->poll_retries = 10;
	cfg->poll_cap_ms = 3600000;
	cfg->max_concurrent = 8;
}

struct pki_ctx *pki_ctx_new(struct event_base *base, struct pki_error *err)
{
	struct pki_ctx *ctx;

	if (!base) {
		pki_err_set(err, PKI_ERR_INVALID, "no event base");
		return NULL;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx || !(ctx->http = pki_http_new(base))) {
		free(ctx);
		pki_err_set(err, PKI_ERR_NOMEM, "cannot set up libcurl multi handle");
		return NULL;
	}
	ctx->base = base;
	return ctx;
}

void pki_ctx_free(struct pki_ctx *ctx)
{
	if (!ctx)
		return;
	pki_http_free(ctx->http);
	free(ctx);
}

static bool name_valid(const char *n)
{
	size_t i, len = n ? strlen(n) : 0;

	if (len < 1 || len > 32 || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && !strchr("._-", n[i]))
			return false;
	return true;
}

static bool url_valid(const char *u)
{
	const char *p;

	if (!u || strlen(u) > 1024 ||
	    (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)))
		return false;
	for (p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	return strlen(strchr(u, ':') + 3) > 0;
}

int pki_tp_path(const struct pki_trustpoint *tp, const char *file, char *out,
		size_t outsz)
{
	if (!tp->dir)
		return -1;
	return (size_t)snprintf(out, outsz, "%s/%s", tp->dir, file) < outsz ? 0 : -1;
}

int pki_tp_path_or_err(const struct pki_trustpoint *tp, const char *file, char *out,
		       size_t outsz, struct pki_error *err)
{
	if (pki_tp_path(tp, file, out, outsz) == 0)
		return 0;
	pki_err_set(err, PKI_ERR_IO, "trustpoint %s: path too long", tp->name);
	return -1;
}

#define path_of pki_tp_path
#define load_cert_file pki_tp_load_cert

X509 *pki_tp_load_cert(const struct pki_trustpoint *tp, const char *file)
{
	char path[4096];
	struct pki_buf der;
	X509 *x;

	if (path_of(tp, file, path, sizeof(path)) < 0 ||
	    pki_load_der(path, &der, NULL) < 0)
		return NULL;
	x = pki_x509_d2i(der.data, der.len);
	pki_buf_free(&der);
	return x;
}

int pki_tp_store_cert(struct pki_trustpoint *tp, const char *file, X509 *x,
		      struct pki_error *err)
{
	char path[4096];
	struct pki_buf der, pem;
	int rc;

	if (!tp->dir)
		return 0;	/* clones live in memory only */
	if (pki_tp_path_or_err(tp, file, path, sizeof(path), err) < 0)
		return -1;
	if (!x) {
		if (unlink(path) < 0 && errno != ENOENT) {
			pki_err_set(err, PKI_ERR_IO, "%s: %s", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (pki_x509_i2d(x, &der) < 0) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return -1;
	}
	rc = pki_der_to_pem(der.data, der.len, "CERTIFICATE", &pem, err);
	pki_buf_free(&der);
	if (rc < 0)
		return -1;
	rc = pki_file_write(path, pem.data, pem.len, 0644, err);
	pki_buf_free(&pem);
	return rc;
}

int pki_tp_store_caps(struct pki_trustpoint *tp, const char *body, size_t len,
		      struct pki_error *err)
{
	char path[4096];

	if (!tp->dir)
		return 0;
	if (pki_tp_path_or_err(tp, FILE_CAPS, path, sizeof(path), err) < 0)
		return -1;
	return pki_file_write(path, body, len, 0644, err);
}

/* The pinned CA, or a rollover CA the pinned one vouched for. */
static bool pin_matches(const struct pki_trustpoint *tp, X509 *ca)
{
	uint8_t sha256[32];

	pki_x509_fingerprints(ca, NULL, NULL, sha256);
	return pki_tp_pin_accepts(tp, sha256);
}

static int setup_key(struct pki_trustpoint *tp, const struct pki_tp_config *cfg,
		     struct pki_error *err)
{
	char path[4096], want[16], have[16];
	struct pki_key_spec spec;

	if (pki_tp_path_or_err(tp, FILE_KEY, path, sizeof(path), err) < 0)
		return -1;
	if (cfg->key_file) {
		if (pki_key_load(cfg->key_file, &tp->key, err) < 0)
			return -1;
		return pki_key_save(tp->key, path, err);
	}
	if (access(path, F_OK) == 0) {
		if (pki_key_load(path, &tp->key, err) < 0)
			return -1;
		pki_key_get_spec(tp->key, &spec);
		if (spec.type != cfg->key.type || spec.bits != cfg->key.bits) {
			pki_err_set(err, PKI_ERR_CONFIG,
				    "trustpoint %s: %s holds an %s key but the configuration asks for %s; remove it to generate a new key",
				    tp->name, path, pki_key_spec_format(&spec, have, sizeof(have)),
				    pki_key_spec_format(&cfg->key, want, sizeof(want)));
			return -1;
		}
		return 0;
	}
	if (pki_key_generate(&cfg->key, &tp->key, err) < 0)
		return -1;
	return pki_key_save(tp->key, path, err);
}

static void load_state(struct pki_trustpoint *tp)
{
	char path[4096];
	struct pki_buf caps;
	X509 *ca = load_cert_file(tp, FILE_CA), *nx;

	/* A stored CA that no longer matches the pin is not trusted. */
	if (ca && pin_matches(tp, ca)) {
		tp->ca = ca;
		tp->ra_enc = load_cert_file(tp, FILE_RA_ENC);
		tp->ra_sig = load_cert_file(tp, FILE_RA_SIG);
		tp->next_ca = load_cert_file(tp, FILE_NEXT_CA);
	} else {
		X509_free(ca);
	}
	/* A renewal or rollover that a crash cut short is finished first. */
	pki_tp_recover(tp);
	tp->identity = load_cert_file(tp, FILE_IDENTITY);
	if (tp->identity && (!tp->ca || !pki_x509_issued_by(tp->identity, tp->ca) ||
			     EVP_PKEY_eq(X509_get0_pubkey(tp->identity), tp->key->pk) != 1)) {
		X509_free(tp->identity);
		tp->identity = NULL;
	}
	/* A shadow identity waits for the rollover CA it was issued by. */
	nx = tp->next_ca ? load_cert_file(tp, PKI_FILE_CERT_NEXT) : NULL;
	if (nx && pki_x509_issued_by(nx, tp->next_ca)) {
		struct pki_key *k = NULL;
		char kp[4096];

		if (path_of(tp, PKI_FILE_KEY_NEXT, kp, sizeof(kp)) == 0 && access(kp, F_OK) == 0 &&
		    pki_key_load(kp, &k, NULL) < 0)
			k = NULL;
		if (EVP_PKEY_eq(X509_get0_pubkey(nx), (k ? k : tp->key)->pk) == 1) {
			tp->next_identity = nx;
			tp->next_key = k;
			nx = NULL;
			k = NULL;
		}
		pki_key_free(k);
	}
	X509_free(nx);
	if (path_of(tp, FILE_CAPS, path, sizeof(path)) == 0 &&
	    pki_file_read(path, 4096, &caps, NULL) == 0) {
		pki_caps_parse((const char *)caps.data, caps.len, &tp->caps);
		pki_buf_free(&caps);
	}
	ERR_clear_error();
}

static void tp_free_fields(struct pki_trustpoint *tp)
{
	pki_http_limit_cleanup(&tp->limit);
	free(tp->url);
	free(tp->dir);
	if (tp->challenge)
		OPENSSL_clear_free(tp->challenge, strlen(tp->challenge));
	pki_key_free(tp->key);
	X509_free(tp->ca);
	X509_free(tp->ra_enc);
	X509_free(tp->ra_sig);
	X509_free(tp->identity);
	X509_free(tp->next_ca);
	X509_free(tp->next_identity);
	pki_key_free(tp->next_key);
}

int pki_tp_open(struct pki_ctx *ctx, const struct pki_tp_config *cfg,
		const char *dir, struct pki_trustpoint **out,
		struct pki_error *err)
{
	struct pki_trustpoint *tp;
	char path[4096];

	*out = NULL;
	if (!name_valid(cfg->name)) {
		pki_err_set(err, PKI_ERR_CONFIG,
			    "trustpoint name '%.40s': 1-32 of A-Z a-z 0-9 . _ -",
			    cfg->name ? cfg->name : "");
		return -1;
	}
	if (!url_valid(cfg->url)) {
		pki_err_set(err, PKI_ERR_CONFIG,
			    "trustpoint %s: enrollment URL '%.100s' is not http[s]://host[:port]/path",
			    cfg->name, cfg->url ? cfg->url : "");
		return -1;
	}
	if (!cfg->http_timeout_ms || !cfg->connect_timeout_ms || !cfg->poll_first_ms ||
	    cfg->poll_cap_ms < cfg->poll_first_ms || !cfg->max_concurrent ||
	    cfg->max_concurrent > 4096) {
		pki_err_set(err, PKI_ERR_CONFIG,
			    "trustpoint %s: timeouts and poll interval must be > 0, cap >= first interval, 1 <= max_concurrent <= 4096",
			    cfg->name);
		return -1;
	}
	if (cfg->revocation != PKI_REVOCATION_NONE && cfg->revocation != PKI_REVOCATION_CRL) {
		pki_err_set(err, PKI_ERR_CONFIG, "trustpoint %s: revocation-check must be none or crl",
			    cfg->name);
		return -1;
	}
	if (!dir || (size_t)snprintf(path, sizeof(path), "%s/%s", dir, cfg->name) >= 3000) {
		pki_err_set(err, PKI_ERR_CONFIG, "trustpoint %s: bad state directory", cfg->name);
		return -1;
	}
	tp = calloc(1, sizeof(*tp));
	if (!tp) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return -1;
	}
	tp->ctx = ctx;
	snprintf(tp->name, sizeof(tp->name), "%s", cfg->name);
	TAILQ_INIT(&tp->ops);
	tp->url = strdup(cfg->url);
	tp->dir = strdup(path);
	tp->challenge = cfg->challenge ? strdup(cfg->challenge) : NULL;
	if (!tp->url || !tp->dir || (cfg->challenge && !tp->challenge) ||
	    pki_http_limit_init(&tp->limit, ctx->http, cfg->max_concurrent) < 0) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (cfg->subject) {
		struct pki_error e2;

		if (pki_subject_parse(cfg->subject, &tp->subject, &e2) < 0) {
			pki_err_set(err, PKI_ERR_CONFIG, "trustpoint %s: %s", tp->name,
				    e2.reason);
			goto fail;
		}
		tp->has_subject = true;
	}
	if (cfg->ca_fingerprint) {
		struct pki_error e2;

		if (pki_fp_parse_sha256(cfg->ca_fingerprint, tp->pin, &e2) < 0) {
			pki_err_set(err, PKI_ERR_CONFIG, "trustpoint %s: %s", tp->name,
				    e2.reason);
			goto fail;
		}
		tp->has_pin = true;
	}
	tp->key_spec = cfg->key;
	tp->revocation = cfg->revocation;
	tp->http_timeout_ms = cfg->http_timeout_ms;
	tp->connect_timeout_ms = cfg->connect_timeout_ms < cfg->http_timeout_ms
					 ? cfg->connect_timeout_ms : cfg->http_timeout_ms;
	tp->poll_first_ms = cfg->poll_first_ms;
	tp->poll_retries = cfg->poll_retries;
	tp->poll_cap_ms = cfg->poll_cap_ms;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		pki_err_set(err, PKI_ERR_IO, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (mkdir(tp->dir, 0700) < 0 && errno != EEXIST) {
		pki_err_set(err, PKI_ERR_IO, "%s: %s", tp->dir, strerror(errno));
		goto fail;
	}
	if (setup_key(tp, cfg, err) < 0)
		goto fail;
	pki_key_get_spec(tp->key, &tp->key_spec);
	load_state(tp);
	ctx->n_tps++;
	*out = tp;
	return 0;
fail:
	tp_free_fields(tp);
	free(tp);
	return -1;
}

void pki_tp_free(struct pki_trustpoint *tp)
{
	if (!tp)
		return;
	pki_op_cancel_all(tp);
	tp->ctx->n_tps--;
	tp_free_fields(tp);
	free(tp);
}

static X509 *ref(X509 *x)
{
	if (x)
		X509_up_ref(x);
	return x;
}

struct pki_trustpoint *pki_tp_clone(struct pki_trustpoint *root,
				    struct pki_error *err)
{
	struct pki_trustpoint *c = calloc(1, sizeof(*c));

	if (!c || !(c->url = strdup(root->url))) {
		free(c);
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	c->ctx = root->ctx;
	c->parent = root;
	/* IOS names its per-AP clones the same way: Proxy-AP-LSC8. */
	snprintf(c->name, sizeof(c->name), "Proxy-%.32s%u", root->name, ++root->clone_seq);
	c->subject = root->subject;
	c->has_subject = root->has_subject;
	c->key_spec = root->key_spec;
	c->key = pki_key_ref(root->key);
	c->revocation = root->revocation;
	memcpy(c->pin, root->pin, sizeof(c->pin));
	c->has_pin = root->has_pin;
	c->http_timeout_ms = root->http_timeout_ms;
	c->connect_timeout_ms = root->connect_timeout_ms;
	c->poll_first_ms = root->poll_first_ms;
	c->poll_retries = root->poll_retries;
	c->poll_cap_ms = root->poll_cap_ms;
	/* "No need to re-auth as we have RA in place": share the parent's certs. */
	c->ca = ref(root->ca);
	c->ra_enc = ref(root->ra_enc);
	c->ra_sig = ref(root->ra_sig);
	c->caps = root->caps;
	TAILQ_INIT(&c->ops);
	root->n_clones++;
	return c;
}

void pki_tp_clone_free(struct pki_trustpoint *c)
{
	if (!c)
		return;
	c->parent->n_clones--;
	tp_free_fields(c);
	free(c);
}

const char *pki_tp_name(const struct pki_trustpoint *tp)
{
	return tp->name;
}

bool pki_tp_is_authenticated(const struct pki_trustpoint *tp)
{
	return tp->ca != NULL;
}

bool pki_tp_has_identity(const struct pki_trustpoint *tp)
{
	return tp->identity != NULL;
}

int pki_tp_get_cert(const struct pki_trustpoint *tp, enum pki_tp_cert which,
		    struct pki_buf *der, struct pki_error *err)
{
	X509 *x = NULL;
	const char *what = "certificate";

	der->data = NULL;
	der->len = 0;
	switch (which) {
	case PKI_TP_CERT_CA:
		x = tp->ca;
		what = "CA certificate";
		break;
	case PKI_TP_CERT_RA_ENC:
		x = tp->ra_enc ? tp->ra_enc : tp->ca;
		what = "CA/RA encryption certificate";
		break;
	case PKI_TP_CERT_RA_SIG:
		x = tp->ra_sig ? tp->ra_sig : tp->ca;
		what = "CA/RA signature certificate";
		break;
	case PKI_TP_CERT_IDENTITY:
		x = tp->identity;
		what = "identity certificate";
		break;
	case PKI_TP_CERT_NEXT_CA:
		x = tp->next_ca;
		what = "rollover CA certificate";
		break;
	case PKI_TP_CERT_NEXT_IDENTITY:
		x = tp->next_identity;
		what = "shadow identity certificate";
		break;
	}
	if (!x) {
		pki_err_set(err, PKI_ERR_NOT_FOUND, "trustpoint %s has no %s", tp->name,
			    what);
		return -1;
	}
	if (pki_x509_i2d(x, der) < 0) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

void pki_tp_get_caps(const struct pki_trustpoint *tp, struct pki_caps *caps)
{
	*caps = tp->caps;
}

void pki_tp_get_key_spec(const struct pki_trustpoint *tp, struct pki_key_spec *spec)
{
	*spec = tp->key_spec;
}

enum pki_revocation pki_tp_revocation(const struct pki_trustpoint *tp)
{
	return tp->revocation;
}

void pki_tp_get_stats(const struct pki_trustpoint *tp, struct pki_tp_stats *st)
{
	st->in_flight = tp->limit.active;
	st->queued = tp->limit.queued;
	st->clones = tp->n_clones;
	st->ops = tp->n_ops;
	st->enrolled = tp->enrolled;
	st->failed = tp->failed;
}
