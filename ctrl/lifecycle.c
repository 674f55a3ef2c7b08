/*
 * lifecycle.c — the certificate lifecycle: when a trustpoint's identity is
 * renewed, when the rollover CA is fetched and activated, when a connected
 * AP's LSC is re-provisioned. pki/ does the SCEP work and keeps the files;
 * this decides when, says what happened, and keeps PENDING transactions
 * across restarts. See lifecycle.h for the timers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "ctrl/lifecycle.h"
#include "ctrl/provision.h"
#include "ctrl/store.h"
#include "ctrl/tpm.h"

#define CA_SHADOW_PERCENT  90       /* IOS: the SHADOW timer at 90 % of the CA's life */
#define REPLAN_MAX_S       3600     /* a timer never sleeps longer than this on the monotonic clock */
#define RETRY_FIRST_S      60       /* after a renewal that failed in a way that may pass */
#define RETRY_MAX_S        3600
#define CLOCK_CHECK_S      60       /* clock_valid "ntp": ask the kernel again */
#define AP_SWEEP_MAX_S     3600

/* ---- arithmetic ------------------------------------------------------------ */

int64_t lc_share_point(const struct lc_validity *v, unsigned percent)
{
	int64_t life = v->not_after - v->not_before;

	if (life <= 0)
		return v->not_before;
	return v->not_before + life * (int64_t)percent / 100;
}

bool lc_ends_with_ca(const struct lc_validity *id, const struct lc_validity *ca)
{
	int64_t slack = (id->not_after - id->not_before) / 100;

	if (slack < 60)
		slack = 60;
	return id->not_after >= ca->not_after - slack;
}

enum lc_kind lc_identity_timer(const struct lc_validity *id, const struct lc_validity *ca,
			       unsigned percent, bool ca_rollover, int64_t *due)
{
	if (percent == 0 || id->not_after <= id->not_before)
		return LC_NONE;
	*due = lc_share_point(id, percent);
	return ca_rollover && lc_ends_with_ca(id, ca) ? LC_SHADOW : LC_RENEW;
}

bool lc_ca_shadow_due(const struct lc_validity *ca, int64_t *due)
{
	if (ca->not_after <= ca->not_before)
		return false;
	*due = lc_share_point(ca, CA_SHADOW_PERCENT);
	return true;
}

uint32_t lc_ap_spread(const uint8_t mac[6], unsigned spread_s)
{
	uint32_t h = 2166136261u;

	if (spread_s == 0)
		return 0;
	for (int i = 0; i < 6; i++)
		h = (h ^ mac[i]) * 16777619u;
	return h % spread_s;
}

bool lc_ap_renew_due(const struct lc_validity *lsc, unsigned percent, unsigned spread_s,
		     const uint8_t mac[6], int64_t *due)
{
	if (percent == 0 || lsc->not_after <= lsc->not_before)
		return false;
	int64_t t = lc_share_point(lsc, percent);
	int64_t spread = lc_ap_spread(mac, spread_s);
	/* Never past the expiry itself. */
	if (t + spread >= lsc->not_after)
		spread = 0;
	*due = t + spread;
	return true;
}

const char *lc_time_text(int64_t t, char out[24])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, 24, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		snprintf(out, 24, "%lld", (long long)t);
	return out;
}

/* ---- helpers ---------------------------------------------------------------- */

static struct lc_global *G(const struct lscd *d)
{
	return &d->tpm->lc;
}

/* The daemon's wall clock in milliseconds (with --time-offset). */
static int64_t wall_ms(const struct lscd *d)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return ((int64_t)tv.tv_sec + d->time_offset_s) * 1000 + tv.tv_usec / 1000;
}

static bool validity(struct tpm_entry *e, enum pki_tp_cert which, struct lc_validity *v,
		     struct pki_cert_info *info)
{
	struct pki_buf der = { 0 };
	struct pki_cert_info tmp;
	struct pki_error err;
	bool ok;

	if (info == NULL)
		info = &tmp;
	ok = tpm_cert(e->d, e->name, which, &der) &&
	     pki_cert_inspect(der.data, der.len, info, &err) == 0;
	pki_buf_free(&der);
	if (ok) {
		v->not_before = info->not_before;
		v->not_after = info->not_after;
	}
	return ok;
}

/* Arm ev for due (wall clock); past dues fire at once, far ones are
 * re-planned after REPLAN_MAX_S. */
static void arm_at(struct lscd *d, struct event *ev, int64_t due)
{
	int64_t delay = due - lscd_wall_time(d);
	struct timeval tv = { 0, 0 };

	if (delay > REPLAN_MAX_S)
		delay = REPLAN_MAX_S;
	if (delay > 0)
		tv.tv_sec = (time_t)delay;
	evtimer_add(ev, &tv);
}

static int64_t remaining_ms(const struct lscd *d, int64_t due)
{
	return due * 1000 - wall_ms(d);
}

static void kv_key(const struct tpm_entry *e, const char *what, char *out, size_t outlen)
{
	snprintf(out, outlen, "lifecycle.%.63s.%s", e->name, what);
}

static const char *op_kind_name(enum lc_op_kind k)
{
	switch (k) {
	case LC_OP_ENROLL: return "enroll";
	case LC_OP_RENEW: return "renew";
	case LC_OP_SHADOW: return "shadow";
	case LC_OP_NEXTCA: return "nextca";
	case LC_OP_NONE: break;
	}
	return "none";
}

static enum lc_op_kind op_kind_parse(const char *s)
{
	if (strcmp(s, "enroll") == 0)
		return LC_OP_ENROLL;
	if (strcmp(s, "renew") == 0)
		return LC_OP_RENEW;
	if (strcmp(s, "shadow") == 0)
		return LC_OP_SHADOW;
	return LC_OP_NONE;
}

/* ---- the clock guard ---------------------------------------------------------- */

static bool kernel_synchronised(void)
{
	struct timex tx;

	memset(&tx, 0, sizeof(tx));
	/* modes 0: read only. TIME_ERROR and STA_UNSYNC: no NTP discipline. */
	int state = adjtimex(&tx);
	return state >= 0 && state != TIME_ERROR && !(tx.status & STA_UNSYNC);
}

static bool clock_trusted_now(const struct lscd *d)
{
	switch (d->cfg->clock_valid) {
	case CFG_CLOCK_TRUE:
		return true;
	case CFG_CLOCK_FALSE:
		return false;
	case CFG_CLOCK_NTP:
		break;
	}
	return kernel_synchronised();
}

bool lifecycle_clock_trusted(const struct lscd *d)
{
	if (d->tpm == NULL)
		return false;
	return G(d)->clock_trusted;
}

static void ap_sweep_arm(struct lscd *d, int64_t due);

static void plan_everything(struct lscd *d)
{
	for (size_t i = 0; i < d->tpm->n; i++)
		lifecycle_plan(&d->tpm->entries[i]);
	ap_sweep_arm(d, lscd_wall_time(d));
}

static void clock_update(struct lscd *d)
{
	struct lc_global *g = G(d);
	bool was = g->clock_trusted;

	/* Once trusted, a clock that loses its NTP peers is still about right:
	 * the timers keep running rather than stop at a bad moment. */
	if (!(was && d->cfg->clock_valid == CFG_CLOCK_NTP))
		g->clock_trusted = clock_trusted_now(d);
	if (g->clock_trusted) {
		evtimer_del(g->clock_check);
		if (!was && g->clock_warned)
			log_info("clock trusted now (clock_valid %s): starting the certificate lifecycle timers",
				 d->cfg->clock_valid == CFG_CLOCK_NTP ? "\"ntp\"" : "true");
		g->clock_warned = false;
		return;
	}
	if (!g->clock_warned) {
		if (d->cfg->clock_valid == CFG_CLOCK_FALSE)
			log_warn("clock_valid is false: no certificate lifecycle timer runs (no identity renewal, no "
				 "CA rollover, no AP LSC renewal)");
		else
			log_warn("the kernel reports the clock as not synchronised (clock_valid \"ntp\"): certificate "
				 "lifecycle timers wait until it is; set clock_valid true if this clock is right");
		g->clock_warned = true;
	}
	if (d->cfg->clock_valid == CFG_CLOCK_NTP) {
		struct timeval tv = { CLOCK_CHECK_S, 0 };
		evtimer_add(g->clock_check, &tv);
	}
}

static void on_clock_check(evutil_socket_t fd, short what, void *arg)
{
	struct lscd *d = arg;
	(void)fd;
	(void)what;
	clock_update(d);
	if (G(d)->clock_trusted)
		plan_everything(d);
}

/* ---- AP renewals -------------------------------------------------------------- */

bool lifecycle_ap_renew_due(const struct lscd *d, const struct wtp *w, int64_t *due)
{
	const struct cfg_lsc_provision *lsc = &d->cfg->lsc;
	struct lc_validity v = { w->cert.not_before, w->cert.not_after };

	if (!lifecycle_clock_trusted(d) || w->cert.cert_class != CAPWAP_CERT_LSC)
		return false;
	return lc_ap_renew_due(&v, lsc->renew_percent, lsc->renew_spread_s, w->mac, due);
}

static void ap_sweep_arm(struct lscd *d, int64_t due)
{
	struct lc_global *g = G(d);

	if (!g->clock_trusted || due == INT64_MAX)
		return;
	if (evtimer_pending(g->ap_sweep, NULL) && g->ap_sweep_due <= due)
		return;
	int64_t now = lscd_wall_time(d);
	if (due > now + AP_SWEEP_MAX_S)
		due = now + AP_SWEEP_MAX_S;
	g->ap_sweep_due = due;
	arm_at(d, g->ap_sweep, due);
}

static void on_ap_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct lscd *d = arg;
	(void)fd;
	(void)what;
	if (!G(d)->clock_trusted)
		return;
	/* provision.c re-provisions the APs that are due and says when the
	 * next one will be. */
	int64_t next = prov_renewal_sweep(d);
	ap_sweep_arm(d, next == INT64_MAX ? lscd_wall_time(d) + AP_SWEEP_MAX_S : next);
}

void lifecycle_ap_watch(struct lscd *d, int64_t due)
{
	if (d->tpm != NULL)
		ap_sweep_arm(d, due);
}

/* ---- PENDING transactions across restarts ------------------------------------- */

void lifecycle_pending(struct tpm_entry *e, struct pki_op *op, enum lc_op_kind kind,
		       unsigned polls, unsigned next_ms)
{
	struct pki_error err;
	char key[96], *state = NULL, *text = NULL;
	json_t *o = NULL, *inner = NULL;

	e->lc.polling = true;
	e->lc.poll_due_ms = lscd_now_ms() + next_ms;
	log_info("trustpoint %s: the CA answered PENDING to the %s (poll %u); next poll in %u s", e->name,
		 kind == LC_OP_ENROLL ? "enrollment" : kind == LC_OP_SHADOW ? "shadow renewal" : "renewal",
		 polls, (next_ms + 999) / 1000);
	/* What a restart needs to keep polling for the same certificate. */
	if (pki_op_export(op, &state, &err) != 0) {
		log_warn("trustpoint %s: cannot save the PENDING transaction (%s): a restart would start over",
			 e->name, err.reason);
		return;
	}
	inner = json_loads(state, 0, NULL);
	o = inner != NULL ? json_pack("{s:s, s:o}", "kind", op_kind_name(kind), "op", inner) : NULL;
	text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	kv_key(e, "pending", key, sizeof(key));
	if (text == NULL || !store_kv_set(e->d->store, key, text))
		log_warn("trustpoint %s: cannot save the PENDING transaction: a restart would start over", e->name);
	free(text);
	json_decref(o);
	free(state);
}

void lifecycle_op_done(struct tpm_entry *e)
{
	char key[96];

	e->lc.polling = false;
	kv_key(e, "pending", key, sizeof(key));
	store_kv_delete(e->d->store, key);
}

static void on_renewed(const struct pki_enroll_result *res, void *arg);
static void on_lc_pending(struct pki_op *op, unsigned polls, unsigned next_ms, void *arg);

bool lifecycle_resume(struct tpm_entry *e)
{
	struct lscd *d = e->d;
	struct pki_error err;
	char key[96], *text = NULL, *state = NULL;
	json_t *o = NULL, *inner;
	const char *kind_text;
	json_int_t next_poll = 0;
	bool resumed = false;

	if (e->tp == NULL || e->op != NULL || e->lc.op != NULL)
		return false;
	kv_key(e, "pending", key, sizeof(key));
	if (!store_kv_get(d->store, key, &text) || text == NULL)
		return false;
	o = json_loads(text, 0, NULL);
	enum lc_op_kind kind = LC_OP_NONE;
	if (o != NULL && json_unpack(o, "{s:s, s:o}", "kind", &kind_text, "op", &inner) == 0)
		kind = op_kind_parse(kind_text);
	if (kind != LC_OP_NONE)
		state = json_dumps(inner, JSON_COMPACT);
	if (state != NULL) {
		json_unpack(inner, "{s?I}", "next_poll", &next_poll);
		struct pki_op *op = kind == LC_OP_ENROLL
					    ? pki_enroll_resume(e->tp, state, tpm_enrolled, e, &err)
					    : pki_enroll_resume(e->tp, state, on_renewed, e, &err);
		if (op != NULL) {
			char txid[20];
			json_t *t = json_object_get(inner, "txid");
			lscd_copy(txid, sizeof(txid), json_is_string(t) ? json_string_value(t) : "?");
			if (kind == LC_OP_ENROLL) {
				e->op = op;
				pki_op_set_pending_cb(op, tpm_enroll_pending);
			} else {
				e->lc.op = op;
				e->lc.op_kind = kind;
				pki_op_set_pending_cb(op, on_lc_pending);
			}
			/* The exported next poll is on the real clock, as pki/ keeps it. */
			int64_t wait = next_poll > 0 ? (int64_t)next_poll - (int64_t)time(NULL) : 0;
			e->lc.polling = true;
			e->lc.poll_due_ms = lscd_now_ms() + (wait > 0 ? wait * 1000 : 0);
			log_info("trustpoint %s: resuming the %s the CA left PENDING before the restart (txid %s...)",
				 e->name, kind == LC_OP_ENROLL ? "enrollment" : kind == LC_OP_SHADOW ? "shadow renewal"
													: "renewal",
				 txid);
			resumed = true;
		} else {
			log_warn("trustpoint %s: cannot resume the PENDING %s of the last run: %s", e->name,
				 kind_text, err.reason);
		}
	}
	if (!resumed)
		store_kv_delete(d->store, key);
	free(state);
	free(text);
	json_decref(o);
	return resumed;
}

/* ---- renewal ------------------------------------------------------------------ */

static void retry_later(struct tpm_entry *e, const char *what, const char *why)
{
	struct lc_tp *lc = &e->lc;

	lc->retry_s = lc->retry_s == 0 ? RETRY_FIRST_S : lc->retry_s * 2;
	if (lc->retry_s > RETRY_MAX_S)
		lc->retry_s = RETRY_MAX_S;
	lc->retry_at = lscd_wall_time(e->d) + lc->retry_s;
	snprintf(e->last_error, sizeof(e->last_error), "%s: %.250s", what, why);
	e->last_error_at = lscd_wall_time(e->d);
	log_warn("trustpoint %s: %s failed (%s); trying again in %u s", e->name, what, why, lc->retry_s);
}

static void stop_renewal(struct tpm_entry *e, const char *what, const char *why)
{
	struct pki_buf der = { 0 };
	struct pki_cert_info info;
	struct pki_error err;
	char key[96], value[400];

	e->lc.stopped = true;
	snprintf(e->last_error, sizeof(e->last_error),
		 "%s REJECTED: %.200s; renewal stopped until an operator reloads the configuration", what, why);
	e->last_error_at = lscd_wall_time(e->d);
	log_error("trustpoint %s: %s REJECTED by the CA: %s. The timer is stopped: renewal needs an "
		  "operator (fix the cause, then reload: SIGHUP or lscctl)", e->name, what, why);
	/* Survives a restart for this very certificate, as IOS's stopped timer
	 * does: a restart alone does not send the CA the same request again. */
	if (tpm_cert(e->d, e->name, PKI_TP_CERT_IDENTITY, &der) &&
	    pki_cert_inspect(der.data, der.len, &info, &err) == 0) {
		char fp[PKI_FP_MAX];
		snprintf(value, sizeof(value), "%s %.300s",
			 pki_fp_format(info.sha256, 32, PKI_FP_HEX, fp, sizeof(fp)), e->last_error);
		kv_key(e, "stopped", key, sizeof(key));
		store_kv_set(e->d->store, key, value);
	}
	pki_buf_free(&der);
}

static void on_lc_pending(struct pki_op *op, unsigned polls, unsigned next_ms, void *arg)
{
	struct tpm_entry *e = arg;
	lifecycle_pending(e, op, e->lc.op_kind, polls, next_ms);
}

static void on_renewed(const struct pki_enroll_result *res, void *arg)
{
	struct tpm_entry *e = arg;
	struct lscd *d = e->d;
	enum lc_op_kind kind = e->lc.op_kind;
	const char *what = kind == LC_OP_SHADOW ? "shadow renewal" : "renewal";
	struct pki_cert_info info;
	struct pki_error err;
	char from[24], until[24];

	e->lc.op = NULL;
	e->lc.op_kind = LC_OP_NONE;
	lifecycle_op_done(e);
	if (res->err.status != PKI_OK) {
		if (res->err.status == PKI_ERR_CA_REJECTED || res->err.status == PKI_ERR_PENDING_EXHAUSTED)
			stop_renewal(e, what, res->err.reason);
		else
			retry_later(e, what, res->err.reason);
		lifecycle_plan(e);
		return;
	}
	e->lc.retry_s = 0;
	e->lc.retry_at = 0;
	e->last_error[0] = '\0';
	if (pki_cert_inspect(res->cert, res->cert_len, &info, &err) != 0)
		memset(&info, 0, sizeof(info));
	if (kind == LC_OP_SHADOW) {
		struct lc_validity ca;
		char at[24] = "?";
		if (validity(e, PKI_TP_CERT_CA, &ca, NULL))
			lc_time_text(ca.not_after, at);
		log_info("trustpoint %s: shadow identity from the rollover CA: serial %s, issuer %s, valid %s to %s "
			 "(%s, after %u polls); it becomes active with the rollover CA at %s", e->name,
			 info.serial_hex, info.issuer.line, lc_time_text(info.not_before, from),
			 lc_time_text(info.not_after, until), pki_msg_type_name(res->type), res->polls, at);
	} else {
		log_info("trustpoint %s: identity renewed (%s, after %u polls): serial %s, valid %s to %s",
			 e->name, pki_msg_type_name(res->type), res->polls, info.serial_hex,
			 lc_time_text(info.not_before, from), lc_time_text(info.not_after, until));
		/* DTLS presents the new identity from the next handshake on. */
		lscd_trustpoint_changed(d, e->name);
		/*
		 * A certificate that is past its own renewal point the moment it
		 * arrives means our clock and the CA's disagree (or the CA issues
		 * very short lifetimes): renewing again at once would ask the CA
		 * for certificates in a loop. Once an hour is enough to notice a
		 * corrected clock.
		 */
		const struct cfg_trustpoint *c = cfg_trustpoint(d->cfg, e->name);
		struct lc_validity nv = { info.not_before, info.not_after };
		int64_t now = lscd_wall_time(d);
		if (c != NULL && c->auto_enroll_percent > 0 && nv.not_after > nv.not_before &&
		    lc_share_point(&nv, c->auto_enroll_percent) <= now) {
			char clock[24];
			e->lc.retry_at = now + RETRY_MAX_S;
			log_warn("trustpoint %s: CLOCK SKEW? the renewed certificate (valid %s to %s) is already "
				 "past %u%% of its lifetime by lscd's clock (%s): the next renewal waits an hour "
				 "rather than ask the CA again at once", e->name, from, until,
				 c->auto_enroll_percent, lc_time_text(now, clock));
		}
	}
	lifecycle_plan(e);
}

static void start_renewal(struct tpm_entry *e, bool rollover)
{
	struct lscd *d = e->d;
	const struct cfg_trustpoint *c = cfg_trustpoint(d->cfg, e->name);
	struct pki_renew_opts o = { 0 };
	struct pki_cert_info info;
	struct lc_validity id;
	struct pki_caps caps;
	struct pki_error err;
	char until[24];

	if (c == NULL || !validity(e, PKI_TP_CERT_IDENTITY, &id, &info))
		return;
	pki_tp_get_caps(e->tp, &caps);
	o.regenerate = c->regenerate;
	o.rollover = rollover;
	/* RenewalReq needs the CA's word, and a certificate still valid to sign with. */
	o.pkcsreq = !(caps.flags & PKI_CAP_RENEWAL) || id.not_after <= lscd_wall_time(d);
	log_info("trustpoint %s: %s timer expired: renewing the identity (serial %s, valid until %s) %swith a %s "
		 "signed by %s, %s", e->name, rollover ? "SHADOW" : "RENEW", info.serial_hex,
		 lc_time_text(id.not_after, until), rollover ? "at the rollover CA " : "",
		 o.pkcsreq ? "PKCSReq" : "RenewalReq",
		 o.pkcsreq ? "a temporary self-signed certificate" : "the current certificate",
		 o.regenerate ? "new key pair (kept as a shadow until the certificate is installed)"
			      : "same key pair");
	e->lc.op = pki_tp_renew_ex(e->tp, &o, on_renewed, e, &err);
	if (e->lc.op == NULL) {
		retry_later(e, rollover ? "shadow renewal" : "renewal", err.reason);
		lifecycle_plan(e);
		return;
	}
	e->lc.op_kind = rollover ? LC_OP_SHADOW : LC_OP_RENEW;
	pki_op_set_pending_cb(e->lc.op, on_lc_pending);
}

/* ---- rollover ------------------------------------------------------------------- */

static void on_next_ca(const struct pki_nextca_result *res, void *arg)
{
	struct tpm_entry *e = arg;
	struct pki_cert_info info;
	struct pki_error err;
	char from[24], until[24], fp[PKI_FP_MAX];
	bool renew = e->lc.shadow_renews;

	e->lc.op = NULL;
	e->lc.op_kind = LC_OP_NONE;
	if (res->err.status != PKI_OK) {
		retry_later(e, "GetNextCACert", res->err.reason);
		lifecycle_plan(e);
		return;
	}
	e->lc.retry_s = 0;
	e->lc.retry_at = 0;
	if (pki_cert_inspect(res->ca, res->ca_len, &info, &err) == 0)
		log_info("trustpoint %s: rollover CA certificate fetched (GetNextCACert, signed by the current CA): "
			 "%s, valid %s to %s, SHA256 %s", e->name, info.subject.line,
			 lc_time_text(info.not_before, from), lc_time_text(info.not_after, until),
			 pki_fp_format(res->sha256, 32, PKI_FP_HEX, fp, sizeof(fp)));
	if (renew)
		start_renewal(e, true);
	else
		lifecycle_plan(e);
}

static void fetch_next_ca(struct tpm_entry *e)
{
	struct pki_error err;

	log_info("trustpoint %s: SHADOW timer expired: fetching the rollover CA certificate (GetNextCACert)%s",
		 e->name, e->lc.shadow_renews ? " for a shadow renewal" : "");
	e->lc.op = pki_tp_get_next_ca(e->tp, on_next_ca, e, &err);
	if (e->lc.op == NULL) {
		retry_later(e, "GetNextCACert", err.reason);
		lifecycle_plan(e);
		return;
	}
	e->lc.op_kind = LC_OP_NEXTCA;
}

static void activate_rollover(struct tpm_entry *e)
{
	struct lscd *d = e->d;
	struct pki_cert_info info;
	struct pki_error err;
	struct lc_validity v;
	char fp[PKI_FP_MAX], until[24];

	if (pki_tp_activate_rollover(e->tp, &err) != 0) {
		retry_later(e, "CA rollover", err.reason);
		lifecycle_plan(e);
		return;
	}
	if (validity(e, PKI_TP_CERT_CA, &v, &info))
		log_info("trustpoint %s: ROLLOVER: the rollover CA is now the CA: %s, valid until %s, SHA256 %s. "
			 "The configured ca_fingerprint_sha256 still accepts it (the old CA vouched for it); "
			 "update the pin to this one at a convenient time", e->name, info.subject.line,
			 lc_time_text(v.not_after, until),
			 pki_fp_format(info.sha256, 32, PKI_FP_HEX, fp, sizeof(fp)));
	if (validity(e, PKI_TP_CERT_IDENTITY, &v, &info))
		log_info("trustpoint %s: ROLLOVER: the shadow identity is now the identity: serial %s, valid until %s",
			 e->name, info.serial_hex, lc_time_text(v.not_after, until));
	else
		log_warn("trustpoint %s: ROLLOVER: no identity certificate from the new CA", e->name);
	lscd_trustpoint_changed(d, e->name);
	/* Without a shadow identity the management trustpoint enrolls anew. */
	tpm_kick(e);
}

/* ---- timers ---------------------------------------------------------------------- */

/* Whether a timer that fired may act. It wakes early for a far due date
 * (arm_at() caps the wait at REPLAN_MAX_S) or after a clock step, and may
 * find an operation still running: then the plan is made again instead. */
static bool timer_due(struct tpm_entry *e, int64_t due)
{
	if (e->lc.op == NULL && lscd_wall_time(e->d) >= due)
		return true;
	lifecycle_plan(e);
	return false;
}

static void on_renew(evutil_socket_t fd, short what, void *arg)
{
	struct tpm_entry *e = arg;
	(void)fd;
	(void)what;
	if (!timer_due(e, e->lc.renew_due))
		return;
	start_renewal(e, false);
}

static void on_shadow(evutil_socket_t fd, short what, void *arg)
{
	struct tpm_entry *e = arg;
	struct pki_buf next = { 0 };
	(void)fd;
	(void)what;
	if (!timer_due(e, e->lc.shadow_due))
		return;
	bool have_next = tpm_cert(e->d, e->name, PKI_TP_CERT_NEXT_CA, &next);
	pki_buf_free(&next);
	if (e->lc.shadow_renews && have_next) {
		log_info("trustpoint %s: SHADOW timer expired: the rollover CA is already known", e->name);
		start_renewal(e, true);
	} else {
		fetch_next_ca(e);
	}
}

static void on_rollover(evutil_socket_t fd, short what, void *arg)
{
	struct tpm_entry *e = arg;
	(void)fd;
	(void)what;
	if (!timer_due(e, e->lc.rollover_due))
		return;
	activate_rollover(e);
}

/* A rejection recorded by the last run for the identity we still hold. */
static void restore_stop(struct tpm_entry *e)
{
	struct pki_buf der = { 0 };
	struct pki_cert_info info;
	struct pki_error err;
	char key[96], *value = NULL, fp[PKI_FP_MAX];

	if (e->lc.stopped)
		return;
	kv_key(e, "stopped", key, sizeof(key));
	if (!store_kv_get(e->d->store, key, &value) || value == NULL)
		return;
	if (tpm_cert(e->d, e->name, PKI_TP_CERT_IDENTITY, &der) &&
	    pki_cert_inspect(der.data, der.len, &info, &err) == 0 &&
	    strncmp(value, pki_fp_format(info.sha256, 32, PKI_FP_HEX, fp, sizeof(fp)), 64) == 0 &&
	    value[64] == ' ') {
		e->lc.stopped = true;
		lscd_copy(e->last_error, sizeof(e->last_error), value + 65);
		log_warn("trustpoint %s: renewal stays stopped after the restart: %s", e->name, e->last_error);
	} else {
		store_kv_delete(e->d->store, key);     /* another identity since */
	}
	pki_buf_free(&der);
	free(value);
}

void lifecycle_plan(struct tpm_entry *e)
{
	struct lscd *d = e->d;
	struct lc_tp *lc = &e->lc;
	struct lc_validity ca, nca, id, nid;
	struct pki_cert_info ca_info;
	struct pki_caps caps;
	char a[24], b[24];
	int64_t due;

	if (lc->renew == NULL)
		return;
	evtimer_del(lc->renew);
	evtimer_del(lc->shadow);
	evtimer_del(lc->rollover);
	lc->shadow_renews = false;
	if (e->tp == NULL || !pki_tp_is_authenticated(e->tp) || lc->op != NULL || e->op != NULL)
		return;
	if (!G(d)->clock_trusted)
		return;
	const struct cfg_trustpoint *c = cfg_trustpoint(d->cfg, e->name);
	if (c == NULL || !validity(e, PKI_TP_CERT_CA, &ca, &ca_info))
		return;
	int64_t now = lscd_wall_time(d);
	if (ca.not_before > now) {
		/* Our clock, or the CA's, is wrong: any timer would be too. */
		if (!lc->skew)
			log_error("trustpoint %s: CLOCK SKEW: the CA certificate (%s) is valid from %s but lscd's "
				  "clock reads %s; no renewal or rollover timer runs for it until the clocks agree",
				  e->name, ca_info.subject.line, lc_time_text(ca.not_before, a), lc_time_text(now, b));
		snprintf(e->last_error, sizeof(e->last_error),
			 "clock skew: CA certificate valid from %s, lscd's clock reads %s", a, b);
		e->last_error_at = now;
		lc->skew = true;
		return;
	}
	if (lc->skew) {
		lc->skew = false;
		e->last_error[0] = '\0';
	}
	restore_stop(e);
	pki_tp_get_caps(e->tp, &caps);
	bool rolls = (caps.flags & PKI_CAP_GETNEXTCACERT) != 0;
	bool has_next = validity(e, PKI_TP_CERT_NEXT_CA, &nca, NULL);
	bool has_id = validity(e, PKI_TP_CERT_IDENTITY, &id, NULL);
	bool has_nid = validity(e, PKI_TP_CERT_NEXT_IDENTITY, &nid, NULL);

	/* The old CA (and identity) end: the rollover ones take over. */
	if (has_next) {
		lc->rollover_due = ca.not_after;
		arm_at(d, lc->rollover, lc->rollover_due);
	}
	enum lc_kind kind = LC_NONE;
	if (c->auto_enroll_percent > 0 && has_id && !has_nid && !lc->stopped)
		kind = lc_identity_timer(&id, &ca, c->auto_enroll_percent, rolls, &due);
	if (kind != LC_NONE && due < lc->retry_at)
		due = lc->retry_at;
	if (kind == LC_RENEW) {
		if (!rolls && lc_ends_with_ca(&id, &ca) && !lc->warned_capped) {
			log_warn("trustpoint %s: the identity ends with the CA certificate (%s) and the CA offers no "
				 "rollover (GetNextCACert): a renewal cannot outlive the CA", e->name,
				 lc_time_text(ca.not_after, a));
			lc->warned_capped = true;
		}
		lc->renew_due = due;
		arm_at(d, lc->renew, due);
	} else if (kind == LC_SHADOW) {
		lc->shadow_renews = true;
		lc->shadow_due = due;
		arm_at(d, lc->shadow, due);
	}
	/* IOS: with GetNextCACert, a SHADOW timer at 90 % of the CA's life
	 * fetches the rollover CA even when nothing is to be renewed. */
	if (!lc->shadow_renews && rolls && !has_next && lc_ca_shadow_due(&ca, &due)) {
		if (due < lc->retry_at)
			due = lc->retry_at;
		lc->shadow_due = due;
		arm_at(d, lc->shadow, due);
	}
}

/* ---- start, stop, reload --------------------------------------------------------- */

bool lifecycle_start(struct lscd *d, char *err, size_t errlen)
{
	struct lc_global *g = G(d);

	g->clock_check = evtimer_new(d->base, on_clock_check, d);
	g->ap_sweep = evtimer_new(d->base, on_ap_sweep, d);
	if (g->clock_check == NULL || g->ap_sweep == NULL) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	for (size_t i = 0; i < d->tpm->n; i++) {
		struct tpm_entry *e = &d->tpm->entries[i];
		e->lc.renew = evtimer_new(d->base, on_renew, e);
		e->lc.shadow = evtimer_new(d->base, on_shadow, e);
		e->lc.rollover = evtimer_new(d->base, on_rollover, e);
		if (e->lc.renew == NULL || e->lc.shadow == NULL || e->lc.rollover == NULL) {
			snprintf(err, errlen, "out of memory");
			return false;
		}
	}
	clock_update(d);
	return true;
}

void lifecycle_stop(struct lscd *d)
{
	struct lc_global *g;

	if (d->tpm == NULL)
		return;
	g = G(d);
	for (size_t i = 0; i < d->tpm->n; i++) {
		struct lc_tp *lc = &d->tpm->entries[i].lc;
		/* An operation in flight is cancelled with its trustpoint; a
		 * PENDING one stays in the store for the next start. */
		if (lc->renew != NULL)
			event_free(lc->renew);
		if (lc->shadow != NULL)
			event_free(lc->shadow);
		if (lc->rollover != NULL)
			event_free(lc->rollover);
		lc->renew = lc->shadow = lc->rollover = NULL;
	}
	if (g->clock_check != NULL)
		event_free(g->clock_check);
	if (g->ap_sweep != NULL)
		event_free(g->ap_sweep);
	g->clock_check = g->ap_sweep = NULL;
}

void lifecycle_reload(struct lscd *d)
{
	struct lc_global *g;

	if (d->tpm == NULL)
		return;
	g = G(d);
	g->clock_warned = false;
	/* The operator may have changed clock_valid either way. */
	g->clock_trusted = false;
	evtimer_del(g->clock_check);
	clock_update(d);
	for (size_t i = 0; i < d->tpm->n; i++) {
		struct tpm_entry *e = &d->tpm->entries[i];
		char key[96];
		if (e->lc.stopped) {
			log_info("trustpoint %s: reload: renewal re-armed after its rejection", e->name);
			e->last_error[0] = '\0';
		}
		e->lc.stopped = false;
		e->lc.retry_s = 0;
		e->lc.retry_at = 0;
		e->lc.warned_capped = false;
		kv_key(e, "stopped", key, sizeof(key));
		store_kv_delete(d->store, key);
	}
	if (!g->clock_trusted) {
		evtimer_del(g->ap_sweep);
		for (size_t i = 0; i < d->tpm->n; i++)
			lifecycle_plan(&d->tpm->entries[i]);
		return;
	}
	plan_everything(d);
}

/* ---- show --------------------------------------------------------------------------- */

size_t lifecycle_timers(const struct lscd *d, struct lc_timer *out, size_t max)
{
	size_t n = 0;

	if (d->tpm == NULL)
		return 0;
	for (size_t i = 0; i < d->tpm->n; i++) {
		const struct tpm_entry *e = &d->tpm->entries[i];
		const struct lc_tp *lc = &e->lc;
		int64_t poll_ms = lc->poll_due_ms - lscd_now_ms();
		struct {
			const char *name;
			bool on;
			int64_t due;
			int64_t ms;
		} t[] = {
			{ "RENEW", lc->renew != NULL && evtimer_pending(lc->renew, NULL),
			  lc->renew_due, remaining_ms(d, lc->renew_due) },
			{ "SHADOW", lc->shadow != NULL && evtimer_pending(lc->shadow, NULL),
			  lc->shadow_due, remaining_ms(d, lc->shadow_due) },
			{ "ROLLOVER", lc->rollover != NULL && evtimer_pending(lc->rollover, NULL),
			  lc->rollover_due, remaining_ms(d, lc->rollover_due) },
			/* polls run on the monotonic clock: their due time is derived */
			{ "POLL", lc->polling, (wall_ms(d) + poll_ms) / 1000, poll_ms },
		};
		for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
			if (!t[k].on)
				continue;
			if (n < max) {
				lscd_copy(out[n].name, sizeof(out[n].name), t[k].name);
				lscd_copy(out[n].subject, sizeof(out[n].subject), e->name);
				out[n].due = t[k].due;
				out[n].remaining_ms = t[k].ms;
			}
			n++;
		}
	}
	return n;
}
