/*
 * tpm.c — trustpoint management in the daemon. pki/ does the SCEP work;
 * this decides when: authenticate at start (and after a failure, with
 * back-off, so a CA that is down at start is picked up when it returns),
 * enroll the controller's own identity where one is missing, and tell the
 * rest of the daemon when a CA or identity becomes available.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "ctrl/daemon.h"
#include "ctrl/tpm.h"

#define RETRY_FIRST_S 5
#define RETRY_MAX_S   300

struct tpm_entry *tpm_find(struct lscd *d, const char *name)
{
	if (d->tpm == NULL)
		return NULL;
	for (size_t i = 0; i < d->tpm->n; i++)
		if (strcmp(d->tpm->entries[i].name, name) == 0)
			return &d->tpm->entries[i];
	return NULL;
}

void tpm_identity_files(const struct lscd_config *cfg, const char *name,
			char *cert, size_t certlen, char *key, size_t keylen)
{
	const struct cfg_trustpoint *tp = cfg_trustpoint(cfg, name);
	if (tp != NULL && tp->certificate_file != NULL) {
		snprintf(cert, certlen, "%s", tp->certificate_file);
		snprintf(key, keylen, "%s", tp->private_key_file);
	} else {
		snprintf(cert, certlen, "%s/trustpoints/%s/cert.pem", cfg->state_dir, name);
		snprintf(key, keylen, "%s/trustpoints/%s/key.pem", cfg->state_dir, name);
	}
}

bool tpm_cert(struct lscd *d, const char *name, enum pki_tp_cert which, struct pki_buf *der)
{
	struct tpm_entry *e = tpm_find(d, name);
	struct pki_error err;

	memset(der, 0, sizeof(*der));
	if (e == NULL)
		return false;
	if (e->tp != NULL)
		return pki_tp_get_cert(e->tp, which, der, &err) == 0;
	if (which != PKI_TP_CERT_IDENTITY)
		return false;
	const struct cfg_trustpoint *tp = cfg_trustpoint(d->cfg, name);
	struct pki_buf pem = { 0 };
	bool ok = tp != NULL && tp->certificate_file != NULL &&
		  pki_file_read(tp->certificate_file, 1 << 20, &pem, &err) == 0 &&
		  pki_pem_to_der((const char *)pem.data, pem.len, "CERTIFICATE", der, &err) == 0;
	pki_buf_free(&pem);
	return ok;
}

bool tpm_mgmt_signed_by_lsc_ca(struct lscd *d, bool *known)
{
	struct pki_buf mgmt = { 0 }, ca = { 0 };
	struct pki_error err;
	bool signed_by = false;

	*known = tpm_cert(d, d->cfg->management_trustpoint, PKI_TP_CERT_IDENTITY, &mgmt) &&
		 d->cfg->lsc.trustpoint[0] != '\0' &&
		 tpm_cert(d, d->cfg->lsc.trustpoint, PKI_TP_CERT_CA, &ca);
	if (*known)
		signed_by = pki_cert_verify_issued_by(mgmt.data, mgmt.len, ca.data, ca.len, &err) == 0;
	pki_buf_free(&mgmt);
	pki_buf_free(&ca);
	return signed_by;
}

/* ---- retries ------------------------------------------------------------- */

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tpm_kick(arg);
}

static void fail(struct tpm_entry *e, const char *what, const struct pki_error *err)
{
	snprintf(e->last_error, sizeof(e->last_error), "%s: %s", what, err->reason);
	e->last_error_at = lscd_wall_time(e->d);
	e->retry_s = e->retry_s == 0 ? RETRY_FIRST_S : e->retry_s * 2;
	if (e->retry_s > RETRY_MAX_S)
		e->retry_s = RETRY_MAX_S;
	log_warn("trustpoint %s: %s failed (%s); retrying in %u s", e->name, what,
		 err->reason, e->retry_s);
	struct timeval tv = { .tv_sec = e->retry_s };
	evtimer_add(e->retry, &tv);
}

void tpm_enroll_pending(struct pki_op *op, unsigned polls, unsigned next_ms, void *arg)
{
	lifecycle_pending(arg, op, LC_OP_ENROLL, polls, next_ms);
}

void tpm_enrolled(const struct pki_enroll_result *res, void *arg)
{
	struct tpm_entry *e = arg;
	struct pki_cert_info info;
	struct pki_error err;
	char until[24];

	e->op = NULL;
	lifecycle_op_done(e);
	if (res->err.status != PKI_OK) {
		fail(e, "enrollment", &res->err);
		return;
	}
	e->retry_s = 0;
	e->last_error[0] = '\0';
	if (pki_cert_inspect(res->cert, res->cert_len, &info, &err) == 0)
		log_info("trustpoint %s: enrolled, certificate serial %s, subject %s, valid until %s",
			 e->name, info.serial_hex, info.subject.line, lc_time_text(info.not_after, until));
	lscd_trustpoint_changed(e->d, e->name);
	lifecycle_plan(e);
}

static void on_authenticated(const struct pki_auth_result *res, void *arg)
{
	struct tpm_entry *e = arg;
	char md5[64], sha1[64], sha256[96];

	e->op = NULL;
	if (res->ca != NULL) {
		/* Shown whether or not it matches, as IOS does before "accept?". */
		memcpy(e->offered_sha256, res->sha256, 32);
		e->have_offered = true;
		log_info("trustpoint %s: CA certificate fingerprints: MD5 %s, SHA1 %s, SHA256 %s", e->name,
			 pki_fp_format(res->md5, 16, PKI_FP_IOS, md5, sizeof(md5)),
			 pki_fp_format(res->sha1, 20, PKI_FP_IOS, sha1, sizeof(sha1)),
			 pki_fp_format(res->sha256, 32, PKI_FP_IOS, sha256, sizeof(sha256)));
	}
	if (res->err.status != PKI_OK) {
		if (res->err.status == PKI_ERR_PIN_MISMATCH)
			log_error("trustpoint %s: CA certificate REFUSED: %s", e->name, res->err.reason);
		fail(e, "authentication", &res->err);
		return;
	}
	e->authenticated = true;
	e->retry_s = 0;
	e->last_error[0] = '\0';
	log_info("trustpoint %s: CA authenticated", e->name);
	lscd_trustpoint_changed(e->d, e->name);
	tpm_kick(e);
}

void tpm_kick(struct tpm_entry *e)
{
	struct pki_error err;

	if (e->tp == NULL || e->op != NULL)
		return;
	if (!pki_tp_is_authenticated(e->tp)) {
		e->op = pki_tp_authenticate(e->tp, on_authenticated, e, &err);
		if (e->op == NULL)
			fail(e, "authentication", &err);
		return;
	}
	e->authenticated = true;
	/* A transaction the CA left PENDING when lscd last stopped. */
	if (e->lc.op != NULL || lifecycle_resume(e))
		return;
	/* The controller's own identity: only the management trustpoint needs
	 * one to serve DTLS; others enroll only if they say who they are. */
	const struct cfg_trustpoint *tp = cfg_trustpoint(e->d->cfg, e->name);
	bool wants_identity = strcmp(e->name, e->d->cfg->management_trustpoint) == 0;
	if (wants_identity && tp != NULL && tp->subject != NULL && !pki_tp_has_identity(e->tp)) {
		log_info("trustpoint %s: enrolling the controller's identity at %s", e->name,
			 tp->enrollment_url);
		e->op = pki_tp_enroll(e->tp, tpm_enrolled, e, &err);
		if (e->op == NULL)
			fail(e, "enrollment", &err);
		else
			pki_op_set_pending_cb(e->op, tpm_enroll_pending);
		return;
	}
	lifecycle_plan(e);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void to_pki_config(const struct cfg_trustpoint *c, struct pki_tp_config *p)
{
	pki_tp_config_defaults(p);
	p->name = c->name;
	p->url = c->enrollment_url;
	p->subject = c->subject;
	p->key.type = c->key_type == CFG_KEY_EC ? PKI_KEY_EC : PKI_KEY_RSA;
	p->key.bits = c->key_size;
	p->revocation = c->revocation_check == CFG_REVOCATION_CRL ? PKI_REVOCATION_CRL : PKI_REVOCATION_NONE;
	p->ca_fingerprint = c->ca_fingerprint[0] != '\0' ? c->ca_fingerprint : NULL;
	p->http_timeout_ms = c->http_timeout_ms;
	p->poll_first_ms = c->poll_interval_s * 1000;
	p->poll_retries = c->poll_retries;
	p->max_concurrent = c->max_concurrent;
}

bool tpm_start(struct lscd *d, char *err, size_t errlen)
{
	struct pki_error perr;
	char dir[512];

	d->tpm = calloc(1, sizeof(*d->tpm));
	if (d->tpm == NULL) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	d->tpm->pki = pki_ctx_new(d->base, &perr);
	if (d->tpm->pki == NULL) {
		snprintf(err, errlen, "SCEP client: %s", perr.reason);
		return false;
	}
	snprintf(dir, sizeof(dir), "%s/trustpoints", d->cfg->state_dir);
	if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0) {
		snprintf(err, errlen, "%s: cannot create", dir);
		return false;
	}
	for (size_t i = 0; i < d->cfg->n_trustpoints; i++) {
		const struct cfg_trustpoint *c = &d->cfg->trustpoints[i];
		struct tpm_entry *e = &d->tpm->entries[d->tpm->n++];
		e->d = d;
		snprintf(e->name, sizeof(e->name), "%s", c->name);
		e->retry = evtimer_new(d->base, on_retry, e);
		if (e->retry == NULL) {
			snprintf(err, errlen, "out of memory");
			return false;
		}
		if (c->enrollment_url == NULL)
			continue;
		e->enrollment = true;
		struct pki_tp_config pc;
		to_pki_config(c, &pc);
		if (pki_tp_open(d->tpm->pki, &pc, dir, &e->tp, &perr) != 0) {
			snprintf(err, errlen, "trustpoint %s: %s", c->name, perr.reason);
			return false;
		}
	}
	if (!lifecycle_start(d, err, errlen))
		return false;
	for (size_t i = 0; i < d->tpm->n; i++)
		tpm_kick(&d->tpm->entries[i]);
	return true;
}

void tpm_stop(struct lscd *d)
{
	if (d->tpm == NULL)
		return;
	lifecycle_stop(d);
	for (size_t i = 0; i < d->tpm->n; i++) {
		struct tpm_entry *e = &d->tpm->entries[i];
		pki_tp_free(e->tp);
		if (e->retry != NULL)
			event_free(e->retry);
	}
	pki_ctx_free(d->tpm->pki);
	free(d->tpm);
	d->tpm = NULL;
}
