/*
 * provision.c — LSC provisioning (DESIGN.md, "the per-AP story", steps 4–7).
 *
 * Per AP session: certificate parameters → the AP's CSR (checked: proof of
 * possession, bound to the DTLS identity, key as configured, subject as
 * configured) → "enroll pending" → proxy enrolment at the CA through a
 * clone of the provisioning trustpoint → CA root, then device certificate,
 * in two Configuration Update Requests, one outstanding at a time.
 *
 * Per AP record (SQLite): join counters by certificate class, LSC join
 * failures, MIC fallbacks after an LSC was delivered, and the loop guard:
 * an AP that keeps coming back on its MIC is re-provisioned at most
 * max_reprovision times per window, then left alone and marked.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <openssl/rand.h>

#include "ctrl/lifecycle.h"
#include "ctrl/provision.h"
#include "ctrl/store.h"
#include "ctrl/tpm.h"

#define PROV_QUEUE   4
#define IPMAP_SIZE   16384
/* A failed enrolment (the CA down, slow, or refusing) is tried again while
 * the AP stays connected: 5 s, doubling, for the first RETRY_ATTEMPTS; then
 * every 5 minutes. */
#define RETRY_FIRST_S  5
#define RETRY_MAX_S    300
#define RETRY_ATTEMPTS 6

const double prov_latency_bounds[8] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

/* What provisioning asks of the AP, in order; built into a Configuration
 * Update Request when its turn comes, so it never points into a config that
 * a reload may have freed. */
enum prov_kind {
	PROV_PARAMS = 0,
	/* otherwise an LSC certificate payload operation (enum capwap_lsc_op) */
};

struct prov_msg {
	uint8_t kind;
	uint32_t txid;
	uint32_t fail_reason;
	size_t len;
	uint8_t object[];
};

struct prov_session {
	struct wtp *w;
	uint32_t txid;
	unsigned enroll_failures;
	struct event *retry;
	bool params_sent;
	bool csr_accepted;
	bool outstanding;
	uint8_t outstanding_kind;
	bool waiting_logged;
	unsigned csrs_refused;         /* in this session; only the first is logged */
	size_t n_queue;
	struct prov_msg *queue[PROV_QUEUE];
};

struct enrollment {
	LIST_ENTRY(enrollment) link;
	struct lscd *d;
	uint8_t mac[6];
	uint32_t txid;
	struct pki_op *op;
	int64_t started_ms;
};

struct ip_mac {
	uint8_t ip[16];
	uint8_t mac[6];
	bool used;
};

struct prov {
	unsigned tx_depth;             /* nesting of tx_begin() */
	LIST_HEAD(, enrollment) enrollments;
	unsigned in_flight;
	struct prov_stats stats;
	struct ip_mac *ipmap;
};

static struct prov *P(const struct lscd *d)
{
	return d->prov;
}

/*
 * Each provisioning step is one SQLite transaction: the AP record, its
 * certificate and the audit line that explains the change are committed
 * together, so kill -9 at any point leaves either all of them or none.
 * Steps may call one another; only the outermost commits.
 */
static void tx_begin(struct lscd *d)
{
	if (P(d)->tx_depth++ == 0 && !store_begin(d->store))
		log_error("state database: cannot begin a transaction: %s", store_errmsg(d->store));
}

static void tx_end(struct lscd *d)
{
	if (--P(d)->tx_depth == 0 && !store_commit(d->store)) {
		log_error("state database: cannot commit: %s", store_errmsg(d->store));
		store_rollback(d->store);
	}
}

/* ---- records ------------------------------------------------------------- */

static void load(struct lscd *d, const uint8_t mac[6], struct store_ap *rec)
{
	if (!store_ap_get(d->store, mac, rec))
		memcpy(rec->mac, mac, 6);
}

static void save(struct lscd *d, const struct store_ap *rec)
{
	if (!store_ap_put(d->store, rec))
		log_ap(CFG_LOG_ERROR, rec->mac, "cannot save the AP record");
}

static void fail_record(struct lscd *d, struct store_ap *rec, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Record a failure on the AP: the reason, the audit line and the log. */
static void fail_record(struct lscd *d, struct store_ap *rec, const char *event, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rec->last_failure, sizeof(rec->last_failure), fmt, ap);
	va_end(ap);
	rec->last_failure_at = lscd_wall_time(d);
	store_audit(d->store, rec->mac, event, "%s", rec->last_failure);
	log_ap(CFG_LOG_WARNING, rec->mac, "%s", rec->last_failure);
}

static bool has_delivered_lsc(const struct store_ap *rec)
{
	return rec->prov_state == STORE_PROV_CERT_SENT || rec->prov_state == STORE_PROV_PROVISIONED;
}

static void ipmap_key(const struct sockaddr *sa, uint8_t ip[16])
{
	memset(ip, 0, 16);
	if (sa->sa_family == AF_INET)
		memcpy(ip, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

static struct ip_mac *ipmap_slot(struct prov *p, const uint8_t ip[16])
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ ip[i]) * 16777619u;
	return &p->ipmap[h % IPMAP_SIZE];
}

/* ---- the session's request queue ---------------------------------------- */

static void maybe_provision(struct wtp *w);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct prov_session *ps = arg;
	(void)fd;
	(void)what;
	ps->params_sent = ps->csr_accepted = false;
	maybe_provision(ps->w);
}

static struct prov_session *session(struct wtp *w)
{
	if (w->prov == NULL) {
		struct prov_session *ps = calloc(1, sizeof(*ps));
		if (ps == NULL)
			return NULL;
		ps->w = w;
		ps->retry = evtimer_new(w->d->base, on_retry, ps);
		if (ps->retry == NULL) {
			free(ps);
			return NULL;
		}
		w->prov = ps;
	}
	return w->prov;
}

static void build_message(struct lscd *d, const struct prov_msg *pm, struct capwap_message *m)
{
	const struct cfg_lsc_provision *lsc = &d->cfg->lsc;

	capwap_message_init(m, CAPWAP_CONFIG_UPDATE_REQUEST, 0);
	if (pm->kind == PROV_PARAMS) {
#define VIEW(s) (struct capwap_bytes){ (const uint8_t *)(s), strlen(s) }
		m->has_lsc_params = true;
		m->lsc_params.version = 1;
		m->lsc_params.country = VIEW(lsc->subject.country);
		m->lsc_params.state = VIEW(lsc->subject.state);
		m->lsc_params.city = VIEW(lsc->subject.city);
		m->lsc_params.organization = VIEW(lsc->subject.organization);
		m->lsc_params.department = VIEW(lsc->subject.department);
		m->lsc_params.email = VIEW(lsc->subject.email);
#undef VIEW
		m->lsc_params.key_size = (uint16_t)lsc->key_size;
		m->lsc_params.join_attempts = (uint8_t)lsc->join_attempts;
		m->lsc_params.key_algo = lsc->key_type == CFG_KEY_RSA ? CAPWAP_LSC_KEY_RSA
				       : lsc->key_size == 384 ? CAPWAP_LSC_KEY_EC_P384
							      : CAPWAP_LSC_KEY_EC_P256;
		m->lsc_params.txid = pm->txid;
		return;
	}
	m->has_lsc_cert = true;
	m->lsc_cert.version = 1;
	m->lsc_cert.op = pm->kind;
	m->lsc_cert.txid = pm->txid;
	m->lsc_cert.object = (struct capwap_bytes){ pm->object, pm->len };
	m->lsc_cert.fail_reason = pm->fail_reason;
	m->lsc_cert.chain_index = 0;
}

static void send_next(struct wtp *w)
{
	static struct capwap_message m;
	struct prov_session *ps = w->prov;

	if (ps == NULL || ps->outstanding || ps->n_queue == 0 || wtp_busy(w) || w->state != WTP_RUN)
		return;
	struct prov_msg *pm = ps->queue[0];
	memmove(ps->queue, ps->queue + 1, --ps->n_queue * sizeof(ps->queue[0]));
	build_message(w->d, pm, &m);
	if (wtp_send_request(w, &m)) {
		ps->outstanding = true;
		ps->outstanding_kind = pm->kind;
	}
	free(pm);
}

static void enqueue(struct wtp *w, uint8_t kind, uint32_t txid, uint32_t fail_reason,
		    const uint8_t *object, size_t len)
{
	struct prov_session *ps = session(w);
	struct prov_msg *pm;

	if (ps == NULL || ps->n_queue == PROV_QUEUE || (pm = malloc(sizeof(*pm) + len)) == NULL) {
		log_ap(CFG_LOG_ERROR, w->mac, "provisioning queue full: message dropped");
		return;
	}
	pm->kind = kind;
	pm->txid = txid;
	pm->fail_reason = fail_reason;
	pm->len = len;
	if (len > 0)
		memcpy(pm->object, object, len);
	ps->queue[ps->n_queue++] = pm;
	send_next(w);
}

static void session_free(struct wtp *w)
{
	struct prov_session *ps = w->prov;
	if (ps == NULL)
		return;
	for (size_t i = 0; i < ps->n_queue; i++)
		free(ps->queue[i]);
	event_free(ps->retry);
	free(ps);
	w->prov = NULL;
}

/* ---- deciding to provision ----------------------------------------------- */

static struct enrollment *enrollment_for(struct lscd *d, const uint8_t mac[6])
{
	struct enrollment *e;
	LIST_FOREACH(e, &P(d)->enrollments, link)
		if (memcmp(e->mac, mac, 6) == 0)
			return e;
	return NULL;
}

/* An AP on its LSC is re-provisioned when its certificate has used
 * renew_percent of its lifetime, at a point spread per AP over
 * renew_spread_s so that a fleet provisioned in one day does not renew in
 * one storm. */
static bool lsc_renewal_due(struct lscd *d, const struct wtp *w)
{
	/* The arithmetic and the clock guard are ctrl/lifecycle.c's. */
	int64_t due;
	return lifecycle_ap_renew_due(d, w, &due) && lscd_wall_time(d) >= due;
}

static void schedule_retry(struct wtp *w, const char *why)
{
	struct prov_session *ps = w->prov;
	if (ps == NULL)
		return;
	unsigned n = ++ps->enroll_failures;
	unsigned delay = RETRY_MAX_S;
	if (n < RETRY_ATTEMPTS) {
		delay = RETRY_FIRST_S << (n - 1);
		if (delay > RETRY_MAX_S)
			delay = RETRY_MAX_S;
		store_audit(w->d->store, w->mac, "enroll-retry", "trying again in %u s (attempt %u of %u): %s",
			    delay, n + 1, RETRY_ATTEMPTS, why);
	} else {
		/* A CA that stays down must not leave connected APs on their MICs
		 * until they happen to rejoin: keep trying, slowly. */
		if (n == RETRY_ATTEMPTS)
			log_ap(CFG_LOG_WARNING, w->mac, "enrolment failed %u times (%s); trying again every %u s "
			       "while the AP stays connected", n, why, RETRY_MAX_S);
		store_audit(w->d->store, w->mac, "enroll-retry", "trying again in %u s (attempt %u, the CA keeps "
			    "failing): %s", delay, n + 1, why);
	}
	struct timeval tv = { .tv_sec = delay };
	evtimer_add(ps->retry, &tv);
}

static void provision_now(struct wtp *w);

/* Every way in (Run, a retry, a sweep, an operator, a trustpoint that
 * became ready) is one transaction. */
static void maybe_provision(struct wtp *w)
{
	struct lscd *d = w->d;
	tx_begin(d);
	provision_now(w);
	tx_end(d);
}

static void provision_now(struct wtp *w)
{
	struct lscd *d = w->d;
	struct prov_session *ps = session(w);
	struct store_ap rec;

	if (ps == NULL || !w->identified || w->state != WTP_RUN || ps->params_sent)
		return;
	if (!cfg_lsc_applies(d->cfg, w->mac))
		return;
	load(d, w->mac, &rec);
	bool renewal = false;
	if (w->cert.cert_class == CAPWAP_CERT_LSC && !rec.reprovision_requested) {
		if (!lsc_renewal_due(d, w))
			return;
		renewal = true;
	}
	if (rec.loop_suspected && !rec.reprovision_requested)
		return;
	if (enrollment_for(d, w->mac) != NULL)
		return;     /* its certificate is on the way */
	struct tpm_entry *tp = tpm_find(d, d->cfg->lsc.trustpoint);
	if (tp == NULL || !tp->authenticated) {
		if (!ps->waiting_logged)
			log_ap(CFG_LOG_INFO, w->mac, "LSC provisioning waits: trustpoint %s has no authenticated CA yet%s%.200s%s",
			       d->cfg->lsc.trustpoint, tp && tp->last_error[0] ? " (" : "",
			       tp ? tp->last_error : "", tp && tp->last_error[0] ? ")" : "");
		ps->waiting_logged = true;
		return;
	}
	uint32_t txid = 0;
	while (txid == 0)
		RAND_bytes((uint8_t *)&txid, sizeof(txid));
	ps->params_sent = true;
	ps->txid = txid;
	rec.prov_state = STORE_PROV_PARAMS_SENT;
	rec.txid = txid;
	rec.reprovision_requested = false;
	save(d, &rec);
	const struct cfg_lsc_provision *lsc = &d->cfg->lsc;
	store_audit(d->store, w->mac, "params-sent", "txid %08x, %s-%u key, join attempts %u%s", txid,
		    lsc->key_type == CFG_KEY_RSA ? "RSA" : "EC", lsc->key_size, lsc->join_attempts,
		    renewal ? ", renewal of an ageing LSC" : "");
	P(d)->stats.params_sent++;
	log_ap(CFG_LOG_INFO, w->mac, "sending LSC certificate parameters (txid %08x)%s", txid,
	       renewal ? ": its LSC is due for renewal" : "");
	enqueue(w, PROV_PARAMS, txid, 0, NULL, 0);
}

/* ---- hooks --------------------------------------------------------------- */

static void on_joined(struct wtp *w)
{
	struct lscd *d = w->d;
	struct store_ap rec;
	int64_t now = lscd_wall_time(d);

	load(d, w->mac, &rec);
	snprintf(rec.name, sizeof(rec.name), "%s", w->name);
	snprintf(rec.model, sizeof(rec.model), "%s", w->model);
	snprintf(rec.serial, sizeof(rec.serial), "%s", w->serial);
	snprintf(rec.last_address, sizeof(rec.last_address), "%s", w->peer_text);
	if (rec.first_seen == 0)
		rec.first_seen = now;
	rec.last_seen = rec.last_join = now;

	struct ip_mac *slot;
	uint8_t ip[16];
	ipmap_key((const struct sockaddr *)&w->peer, ip);
	slot = ipmap_slot(P(d), ip);
	memcpy(slot->ip, ip, 16);
	memcpy(slot->mac, w->mac, 6);
	slot->used = true;

	if (w->cert.cert_class == CAPWAP_CERT_LSC) {
		struct store_cert cur;
		snprintf(rec.last_cert_type, sizeof(rec.last_cert_type), "LSC");
		rec.lsc_joins++;
		if (store_cert_current(d->store, w->mac, &cur) &&
		    strcasecmp(cur.serial_hex, w->cert.serial_hex) == 0) {
			if (rec.prov_state != STORE_PROV_PROVISIONED && rec.prov_state != STORE_PROV_CERT_SENT) {
				/* lscd stopped before the AP's acknowledgement was
				 * recorded: this join is the proof of delivery. */
				rec.provisions++;
				store_audit(d->store, w->mac, "lsc-join", "joined with its LSC, serial %s (its "
					    "delivery was not recorded before lscd restarted: confirmed by this join)",
					    w->cert.serial_hex);
			} else if (rec.prov_state != STORE_PROV_PROVISIONED) {
				store_audit(d->store, w->mac, "lsc-join", "joined with its LSC, serial %s",
					    w->cert.serial_hex);
			}
			rec.prov_state = STORE_PROV_PROVISIONED;
		} else {
			store_audit(d->store, w->mac, "lsc-join", "joined with an LSC (serial %s) lscd did not issue",
				    w->cert.serial_hex);
		}
		save(d, &rec);
		return;
	}
	snprintf(rec.last_cert_type, sizeof(rec.last_cert_type), "MIC");
	rec.mic_joins++;
	if (has_delivered_lsc(&rec)) {
		const struct cfg_lsc_provision *lsc = &d->cfg->lsc;
		rec.mic_fallbacks++;
		P(d)->stats.mic_fallbacks++;
		if (now - rec.reprovision_window_start >= (int64_t)lsc->reprovision_window_s) {
			rec.reprovision_window_start = now;
			rec.reprovisions_in_window = 0;
		}
		if (rec.reprovisions_in_window >= lsc->max_reprovision) {
			char last[sizeof(rec.last_failure)];
			lscd_copy(last, sizeof(last), rec.last_failure[0] ? rec.last_failure : "none recorded");
			rec.loop_suspected = true;
			rec.prov_state = STORE_PROV_LOOP_SUSPECTED;
			P(d)->stats.loops_suspected++;
			fail_record(d, &rec, "loop-suspected",
				    "LOOP SUSPECTED: back on its MIC after an LSC was delivered, %u re-provisions "
				    "within %u s already; not provisioning it again (%u LSC join failures, last: %s). "
				    "Check that the wireless management trustpoint is signed by the LSC CA; "
				    "'lscctl ap reprovision' clears this",
				    rec.reprovisions_in_window, lsc->reprovision_window_s, rec.lsc_join_failures, last);
		} else {
			rec.reprovisions_in_window++;
			rec.prov_state = STORE_PROV_NONE;
			store_audit(d->store, w->mac, "mic-fallback",
				    "back on its MIC after an LSC was delivered (fallback %u); re-provision %u of %u "
				    "allowed in this window", rec.mic_fallbacks, rec.reprovisions_in_window,
				    lsc->max_reprovision);
			log_ap(CFG_LOG_WARNING, w->mac, "fell back to its MIC after an LSC was delivered "
			       "(fallback %u, %u LSC join failures); re-provision %u of %u",
			       rec.mic_fallbacks, rec.lsc_join_failures, rec.reprovisions_in_window,
			       lsc->max_reprovision);
		}
	}
	save(d, &rec);
}

static void on_run(struct wtp *w)
{
	int64_t due;

	maybe_provision(w);
	/* An LSC not due yet is renewed while the AP stays up (issue 9). */
	if (lifecycle_ap_renew_due(w->d, w, &due))
		lifecycle_ap_watch(w->d, due);
}

static void on_request_done(struct wtp *w, const struct capwap_message *resp)
{
	struct lscd *d = w->d;
	struct prov_session *ps = w->prov;
	struct store_ap rec;

	if (ps == NULL || !ps->outstanding)
		return;
	ps->outstanding = false;
	uint32_t result = resp->has_result_code ? resp->result_code : CAPWAP_RESULT_SUCCESS;
	static const char *const what[] = {
		[PROV_PARAMS] = "the certificate parameters",
		[CAPWAP_LSC_OP_ENROLL_PENDING] = "enroll-pending",
		[CAPWAP_LSC_OP_ROOT_CERT] = "the CA root certificate",
		[CAPWAP_LSC_OP_DEVICE_CERT] = "the device certificate",
		[CAPWAP_LSC_OP_ENROLL_FAILED] = "enroll-failed",
	};
	const char *name = ps->outstanding_kind < sizeof(what) / sizeof(what[0]) ? what[ps->outstanding_kind] : "?";
	if (result != CAPWAP_RESULT_SUCCESS) {
		load(d, w->mac, &rec);
		rec.prov_state = STORE_PROV_FAILED;
		fail_record(d, &rec, "ap-refused", "the AP refused %s (Result Code %u)", name, result);
		save(d, &rec);
		/* nothing after a refused root makes sense */
		for (size_t i = 0; i < ps->n_queue; i++)
			free(ps->queue[i]);
		ps->n_queue = 0;
		return;
	}
	if (ps->outstanding_kind == CAPWAP_LSC_OP_DEVICE_CERT) {
		load(d, w->mac, &rec);
		rec.prov_state = STORE_PROV_CERT_SENT;
		rec.provisions++;
		rec.last_failure[0] = '\0';
		save(d, &rec);
		P(d)->stats.certs_delivered++;
		store_audit(d->store, w->mac, "cert-delivered", "the AP accepted its LSC; it reboots and joins with it");
		log_ap(CFG_LOG_INFO, w->mac, "LSC delivered; the AP will reboot and join with it");
	}
	send_next(w);
}

static void on_request_failed(struct wtp *w)
{
	struct prov_session *ps = w->prov;
	if (ps != NULL && ps->outstanding)
		log_ap(CFG_LOG_WARNING, w->mac, "provisioning message never answered");
}

static void refuse_csr(struct wtp *w, uint32_t txid, uint32_t reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void refuse_csr(struct wtp *w, uint32_t txid, uint32_t reason, const char *fmt, ...)
{
	struct lscd *d = w->d;
	struct store_ap rec;
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	P(d)->stats.csrs_refused++;
	/* A hostile AP may send CSR after CSR: the first refusal is recorded,
	 * the rest are counted and summed up when the session ends. */
	struct prov_session *ps = session(w);
	if (ps != NULL && ps->csrs_refused++ > 0) {
		log_ap(CFG_LOG_DEBUG, w->mac, "CSR refused again (the AP was told once): %s", why);
		return;
	}
	load(d, w->mac, &rec);
	if (rec.prov_state == STORE_PROV_PARAMS_SENT)
		rec.prov_state = STORE_PROV_FAILED;
	fail_record(d, &rec, "csr-refused", "CSR refused: %s", why);
	save(d, &rec);
	enqueue(w, CAPWAP_LSC_OP_ENROLL_FAILED, txid, reason, NULL, 0);
}

static bool field_matches(const char *csr, const char *want)
{
	return strcmp(csr, want) == 0;
}

static void enrolled(const struct pki_enroll_result *res, void *arg);

static void on_event(struct wtp *w, const struct capwap_message *m)
{
	struct lscd *d = w->d;
	struct prov_session *ps = session(w);
	const struct capwap_lsc_cert *c = &m->lsc_cert;
	const struct cfg_lsc_provision *lsc = &d->cfg->lsc;
	struct pki_csr_info info;
	struct pki_csr *csr;
	struct pki_error perr;
	uint8_t cn_mac[6];

	if (ps == NULL)
		return;
	if (c->op != CAPWAP_LSC_OP_CSR) {
		log_ap(CFG_LOG_INFO, w->mac, "LSC payload with operation %u from the AP ignored", c->op);
		return;
	}
	if (!cfg_lsc_applies(d->cfg, w->mac)) {
		refuse_csr(w, c->txid, CAPWAP_LSC_FAIL_POLICY, "the AP is not eligible for LSC provisioning (mode %s%s)",
			   cfg_lsc_mode_name(lsc->mode),
			   lsc->mode == CFG_LSC_PROVISION_LIST ? ", not on the provision list" : "");
		return;
	}
	if (!ps->params_sent || c->txid != ps->txid) {
		refuse_csr(w, c->txid, CAPWAP_LSC_FAIL_POLICY,
			   "unexpected CSR (txid %08x; %s)", c->txid,
			   ps->params_sent ? "does not match the parameters sent" : "no parameters were sent in this session");
		return;
	}
	if (ps->csr_accepted) {
		log_ap(CFG_LOG_DEBUG, w->mac, "duplicate CSR for txid %08x ignored", c->txid);
		return;
	}
	/* Parsed once, for the checks below and for the enrolment. */
	csr = pki_csr_parse(c->object.ptr, c->object.len, &info, &perr);
	if (csr == NULL) {
		refuse_csr(w, c->txid, CAPWAP_LSC_FAIL_CSR_INVALID, "%s (%s)", perr.reason, pki_status_name(perr.status));
		return;
	}
	/* No AP obtains a certificate that names another AP. */
	if (!capwap_mac_from_cn(info.subject.cn, strlen(info.subject.cn), cn_mac)) {
		refuse_csr(w, c->txid, CAPWAP_LSC_FAIL_CSR_INVALID, "subject CN \"%s\" names no MAC address",
			   info.subject.cn);
		goto out;
	}
	if (memcmp(cn_mac, w->mac, 6) != 0) {
		char claimed[18], actual[18];
		capwap_mac_format(cn_mac, CAPWAP_MAC_COLON, claimed);
		capwap_mac_format(w->mac, CAPWAP_MAC_COLON, actual);
		refuse_csr(w, c->txid, CAPWAP_LSC_FAIL_CSR_INVALID,
			   "subject CN \"%s\" names %s but the DTLS session authenticated %s",
			   info.subject.cn, claimed, actual);
		goto out;
	}
	enum pki_key_type want_type = lsc->key_type == CFG_KEY_RSA ? PKI_KEY_RSA : PKI_KEY_EC;
	if (info.key.type != want_type || info.key.bits != lsc->key_size) {
		char got[32];
		refuse_csr(w, c->txid, CAPWAP_LSC_FAIL_CSR_INVALID, "key %s, but %s-%u was asked for",
			   pki_key_spec_format(&info.key, got, sizeof(got)),
			   lsc->key_type == CFG_KEY_RSA ? "RSA" : "EC", lsc->key_size);
		goto out;
	}
	const struct { const char *name, *csr, *want; } fields[] = {
		{ "country", info.subject.c, lsc->subject.country },
		{ "state", info.subject.st, lsc->subject.state },
		{ "city", info.subject.l, lsc->subject.city },
		{ "organization", info.subject.o, lsc->subject.organization },
		{ "department", info.subject.ou, lsc->subject.department },
		{ "email", info.subject.email, lsc->subject.email },
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!field_matches(fields[i].csr, fields[i].want)) {
			refuse_csr(w, c->txid, CAPWAP_LSC_FAIL_CSR_INVALID,
				   "subject %s is \"%s\", the parameters said \"%s\"", fields[i].name,
				   fields[i].csr, fields[i].want);
			goto out;
		}
	}

	struct tpm_entry *tp = tpm_find(d, lsc->trustpoint);
	struct enrollment *e = calloc(1, sizeof(*e));
	if (tp == NULL || tp->tp == NULL || e == NULL) {
		free(e);
		refuse_csr(w, c->txid, CAPWAP_LSC_FAIL_POLICY, "trustpoint %s is not available", lsc->trustpoint);
		goto out;
	}
	e->d = d;
	memcpy(e->mac, w->mac, 6);
	e->txid = c->txid;
	e->started_ms = lscd_now_ms();
	e->op = pki_proxy_enroll_csr(tp->tp, csr, enrolled, e, &perr);
	if (e->op == NULL) {
		free(e);
		refuse_csr(w, c->txid, CAPWAP_LSC_FAIL_POLICY, "cannot start enrolment: %s", perr.reason);
		goto out;
	}
	LIST_INSERT_HEAD(&P(d)->enrollments, e, link);
	P(d)->in_flight++;
	ps->csr_accepted = true;

	struct store_ap rec;
	load(d, w->mac, &rec);
	rec.prov_state = STORE_PROV_ENROLLING;
	save(d, &rec);
	char key[32];
	store_audit(d->store, w->mac, "csr-accepted", "CN=%s, key %s, SCEP txid %s", info.subject.cn,
		    pki_key_spec_format(&info.key, key, sizeof(key)), info.txid);
	P(d)->stats.csrs_accepted++;
	P(d)->stats.enrollments_started++;
	log_ap(CFG_LOG_INFO, w->mac, "CSR accepted (CN=%s, %s); enrolling at trustpoint %s",
	       info.subject.cn, key, lsc->trustpoint);
	enqueue(w, CAPWAP_LSC_OP_ENROLL_PENDING, c->txid, 0, NULL, 0);
out:
	pki_csr_free(csr);
}

static void record_latency(struct prov *p, int64_t ms)
{
	double s = (double)ms / 1000.0;
	p->stats.ca_latency_count++;
	p->stats.ca_latency_sum_s += s;
	for (int i = 0; i < 8; i++)
		if (s <= prov_latency_bounds[i])
			p->stats.ca_latency_le[i]++;
}

/* The AP came back in a new session while the old session's enrolment
 * was at the CA; maybe_provision() held back then ("its certificate is on
 * the way"). That certificate went nowhere: start afresh in this session. */
static void provision_rejoined(struct wtp *w)
{
	if (w->state != WTP_RUN)
		return;
	store_audit(w->d->store, w->mac, "reprovision", "back in a new session while the previous one's "
		    "enrolment was at the CA: provisioning in this session");
	maybe_provision(w);
}

static void on_enrolled(const struct pki_enroll_result *res, void *arg)
{
	struct enrollment *e = arg;
	struct lscd *d = e->d;
	struct prov *p = P(d);
	struct store_ap rec;

	LIST_REMOVE(e, link);
	p->in_flight--;
	record_latency(p, lscd_now_ms() - e->started_ms);
	load(d, e->mac, &rec);

	struct wtp *w = ac_find_by_mac(d, e->mac);
	bool reachable = w != NULL && w->state == WTP_RUN && w->prov != NULL &&
			 ((struct prov_session *)w->prov)->txid == e->txid;

	if (res->err.status != PKI_OK) {
		p->stats.enrollments_failed++;
		rec.prov_state = STORE_PROV_FAILED;
		fail_record(d, &rec, "enroll-failed", "enrolment at the CA failed after %u polls: %s (%s)",
			    res->polls, res->err.reason, pki_status_name(res->err.status));
		save(d, &rec);
		if (reachable) {
			uint32_t reason = res->err.status == PKI_ERR_CA_TIMEOUT ||
						  res->err.status == PKI_ERR_CA_UNREACHABLE ||
						  res->err.status == PKI_ERR_PENDING_EXHAUSTED
					  ? CAPWAP_LSC_FAIL_CA_TIMEOUT : CAPWAP_LSC_FAIL_CA_REJECTED;
			enqueue(w, CAPWAP_LSC_OP_ENROLL_FAILED, e->txid, reason, NULL, 0);
			schedule_retry(w, res->err.reason);
		} else if (w != NULL) {
			provision_rejoined(w);
		}
		free(e);
		return;
	}
	p->stats.enrollments_succeeded++;

	struct pki_cert_info info = { 0 };
	struct store_cert cert = { 0 };
	bool duplicate = false;
	/* pki/ inspected the certificate as it took it from the CertRep; NULL
	 * only when that failed, and parsing its DER again would fail too. */
	if (res->cert_info != NULL) {
		info = *res->cert_info;
		memcpy(cert.mac, e->mac, 6);
		lscd_copy(cert.serial_hex, sizeof(cert.serial_hex), info.serial_hex);
		pki_fp_format(info.sha256, 32, PKI_FP_HEX, cert.sha256_hex, sizeof(cert.sha256_hex));
		pki_fp_format(info.sha1, 20, PKI_FP_HEX, cert.sha1_hex, sizeof(cert.sha1_hex));
		lscd_copy(cert.subject, sizeof(cert.subject), info.subject.line);
		lscd_copy(cert.issuer, sizeof(cert.issuer), info.issuer.line);
		cert.not_before = info.not_before;
		cert.not_after = info.not_after;
		cert.issued_at = lscd_wall_time(d);
		cert.current = true;
		store_cert_add(d->store, &cert, &duplicate);
		if (duplicate) {
			p->stats.duplicate_serials++;
			log_ap(CFG_LOG_WARNING, e->mac, "the CA (%s) issued serial %s a second time: its serial numbers "
			       "are not unique", info.issuer.line, info.serial_hex);
			store_audit(d->store, e->mac, "duplicate-serial", "issuer %s reused serial %s",
				    info.issuer.line, info.serial_hex);
		}
		store_audit(d->store, e->mac, "cert-issued", "serial %s via %s after %llu ms, %u polls, valid until %lld",
			    info.serial_hex, res->clone ? res->clone : "?", (unsigned long long)res->elapsed_ms,
			    res->polls, (long long)info.not_after);
	}
	if (!reachable) {
		p->stats.certs_undelivered++;
		rec.prov_state = STORE_PROV_NONE;
		save(d, &rec);
		store_audit(d->store, e->mac, "cert-undelivered",
			    "the AP left before its certificate arrived; it is provisioned again on its next join");
		log_ap(CFG_LOG_WARNING, e->mac, "certificate issued but the AP is gone: it will be provisioned "
		       "again on its next join");
		if (w != NULL)
			provision_rejoined(w);
		free(e);
		return;
	}
	log_ap(CFG_LOG_INFO, e->mac, "certificate serial %s issued in %llu ms; delivering the CA root and the "
	       "device certificate", info.serial_hex, (unsigned long long)res->elapsed_ms);
	enqueue(w, CAPWAP_LSC_OP_ROOT_CERT, e->txid, 0, res->ca, res->ca_len);
	enqueue(w, CAPWAP_LSC_OP_DEVICE_CERT, e->txid, 0, res->cert, res->cert_len);
	free(e);
}

/* pki/ calls this when an enrolment ends: one transaction, like the hooks. */
static void enrolled(const struct pki_enroll_result *res, void *arg)
{
	struct lscd *d = ((struct enrollment *)arg)->d;
	tx_begin(d);
	on_enrolled(res, arg);
	tx_end(d);
}

static void on_gone(struct wtp *w, const char *reason)
{
	struct lscd *d = w->d;
	struct prov_session *ps = w->prov;
	struct store_ap rec;
	bool changed = false;

	load(d, w->mac, &rec);
	if (w->cert.cert_class == CAPWAP_CERT_LSC && w->run_since == 0) {
		rec.lsc_join_failures++;
		P(d)->stats.lsc_join_failures++;
		fail_record(d, &rec, "lsc-join-failed", "LSC join did not complete: %s", reason);
		changed = true;
	}
	if (ps != NULL && ps->params_sent && !ps->csr_accepted && rec.prov_state == STORE_PROV_PARAMS_SENT) {
		rec.prov_state = STORE_PROV_NONE;
		store_audit(d->store, w->mac, "params-abandoned", "session ended before the CSR came: %s", reason);
		changed = true;
	}
	/* The certificate was issued and on its way, but the AP never said it
	 * had it. (While the enrolment is still at the CA, on_enrolled says
	 * what became of it.) */
	if (ps != NULL && ps->csr_accepted && rec.prov_state == STORE_PROV_ENROLLING &&
	    enrollment_for(d, w->mac) == NULL) {
		rec.prov_state = STORE_PROV_NONE;
		P(d)->stats.certs_undelivered++;
		store_audit(d->store, w->mac, "cert-undelivered", "session ended before the AP acknowledged its "
			    "certificate (%s); it is provisioned again on its next join", reason);
		changed = true;
	}
	if (ps != NULL && ps->csrs_refused > 1) {
		store_audit(d->store, w->mac, "csr-refused", "%u more CSRs refused in this session",
			    ps->csrs_refused - 1);
		log_ap(CFG_LOG_WARNING, w->mac, "%u more CSRs refused in this session", ps->csrs_refused - 1);
	}
	if (rec.last_seen != lscd_wall_time(d)) {
		rec.last_seen = lscd_wall_time(d);
		changed = true;
	}
	if (changed)
		save(d, &rec);
	session_free(w);
}

static void on_handshake_failed(struct lscd *d, const struct sockaddr *peer,
				const struct capwap_dtls_peer *cert, const char *reason)
{
	uint8_t mac[6];
	struct store_ap rec;

	/* Our side refused its certificate: it named itself. The AP refused
	 * ours: only its address says who it was. */
	if (cert->has_mac) {
		memcpy(mac, cert->mac, 6);
	} else {
		uint8_t ip[16];
		ipmap_key(peer, ip);
		struct ip_mac *slot = ipmap_slot(P(d), ip);
		if (!slot->used || memcmp(slot->ip, ip, 16) != 0)
			return;
		memcpy(mac, slot->mac, 6);
	}
	if (!store_ap_get(d->store, mac, &rec) || !has_delivered_lsc(&rec))
		return;
	rec.lsc_join_failures++;
	P(d)->stats.lsc_join_failures++;
	fail_record(d, &rec, "lsc-join-failed", "LSC join failed in DTLS: %s", reason);
	save(d, &rec);
}

/* ---- operator, warnings, lifecycle --------------------------------------- */

bool prov_request(struct lscd *d, const uint8_t mac[6], char *why, size_t whylen)
{
	struct store_ap rec;

	if (!cfg_lsc_applies(d->cfg, mac)) {
		snprintf(why, whylen, "not eligible: provisioning mode is %s%s", cfg_lsc_mode_name(d->cfg->lsc.mode),
			 d->cfg->lsc.mode == CFG_LSC_PROVISION_LIST ? " and the AP is not on the list" : "");
		return false;
	}
	tx_begin(d);
	load(d, mac, &rec);
	rec.loop_suspected = false;
	rec.reprovisions_in_window = 0;
	rec.reprovision_window_start = lscd_wall_time(d);
	rec.reprovision_requested = true;
	rec.prov_state = STORE_PROV_NONE;
	save(d, &rec);
	store_audit(d->store, mac, "operator-reprovision", "re-provisioning requested by the operator");
	struct wtp *w = ac_find_by_mac(d, mac);
	if (w != NULL && w->state == WTP_RUN) {
		struct prov_session *ps = session(w);
		if (ps != NULL)
			ps->params_sent = ps->csr_accepted = false;
		maybe_provision(w);
		snprintf(why, whylen, "loop guard cleared; certificate parameters sent now");
	} else {
		snprintf(why, whylen, "loop guard cleared; the AP is provisioned on its next join");
	}
	tx_end(d);
	return true;
}

struct delivered_count {
	unsigned n;
};

static bool count_delivered(const struct store_ap *rec, void *arg)
{
	struct delivered_count *c = arg;
	c->n += has_delivered_lsc(rec);
	return true;
}

void prov_check_config(struct lscd *d)
{
	bool known;

	if (d->cfg->lsc.mode == CFG_LSC_DISABLED)
		return;
	bool signed_by = tpm_mgmt_signed_by_lsc_ca(d, &known);
	if (!known) {
		log_info("LSC provisioning: cannot yet check the management trustpoint %s against the CA of %s",
			 d->cfg->management_trustpoint, d->cfg->lsc.trustpoint);
		return;
	}
	if (signed_by)
		return;
	log_warn("LSC PROVISIONING LOOP RISK: provisioning is enabled (%s) but the wireless management "
		 "trustpoint %s is not signed by the CA of trustpoint %s. An AP that receives an LSC trusts only "
		 "that CA, cannot validate this controller, fails its LSC joins and falls back to its MIC after "
		 "%u attempts. Enroll the management trustpoint at the same CA.",
		 cfg_lsc_mode_name(d->cfg->lsc.mode), d->cfg->management_trustpoint, d->cfg->lsc.trustpoint,
		 d->cfg->lsc.join_attempts);
	struct delivered_count c = { 0 };
	store_ap_foreach(d->store, count_delivered, &c);
	if (c.n > 0)
		log_warn("LSC PROVISIONING LOOP RISK: %u APs already hold LSCs from that CA; with this management "
			 "trustpoint their LSC joins will fail", c.n);
}

int64_t prov_renewal_sweep(struct lscd *d)
{
	int64_t next = INT64_MAX, now = lscd_wall_time(d), due;
	struct wtp *w;

	TAILQ_FOREACH(w, &d->wtps, link) {
		struct prov_session *ps = w->prov;
		if (!w->identified || w->state != WTP_RUN || (ps != NULL && ps->params_sent) ||
		    !lifecycle_ap_renew_due(d, w, &due))
			continue;
		if (due > now) {
			if (due < next)
				next = due;
			continue;
		}
		maybe_provision(w);
		ps = w->prov;
		if (ps != NULL && ps->params_sent) {
			char at[24];
			log_ap(CFG_LOG_INFO, w->mac, "LSC serial %s came due for renewal while connected (%u%% of its "
			       "lifetime, valid until %s): re-provisioning it", w->cert.serial_hex,
			       d->cfg->lsc.renew_percent, lc_time_text(w->cert.not_after, at));
		}
	}
	return next;
}

void prov_trustpoint_ready(struct lscd *d)
{
	struct wtp *w;
	prov_check_config(d);
	TAILQ_FOREACH(w, &d->wtps, link)
		maybe_provision(w);
}

unsigned prov_in_flight(const struct lscd *d)
{
	return d->prov != NULL ? P(d)->in_flight : 0;
}

const struct prov_stats *prov_get_stats(const struct lscd *d)
{
	return &P(d)->stats;
}

static bool abandon_in_flight(const struct store_ap *rec, void *arg)
{
	struct lscd *d = arg;
	if (rec->prov_state != STORE_PROV_PARAMS_SENT && rec->prov_state != STORE_PROV_ENROLLING)
		return true;
	struct store_ap copy = *rec;
	store_audit(d->store, rec->mac, "restart",
		    "lscd restarted while the AP was in state %s: it is provisioned again on its next join",
		    store_prov_state_name(rec->prov_state));
	copy.prov_state = STORE_PROV_NONE;
	save(d, &copy);
	return true;
}

/* The hooks the state machine calls, each one transaction. */
static void hook_joined(struct wtp *w)
{
	tx_begin(w->d);
	on_joined(w);
	tx_end(w->d);
}

static void hook_run(struct wtp *w)
{
	tx_begin(w->d);
	on_run(w);
	tx_end(w->d);
}

static void hook_request_done(struct wtp *w, const struct capwap_message *resp)
{
	tx_begin(w->d);
	on_request_done(w, resp);
	tx_end(w->d);
}

static void hook_event(struct wtp *w, const struct capwap_message *m)
{
	tx_begin(w->d);
	on_event(w, m);
	tx_end(w->d);
}

static void hook_gone(struct wtp *w, const char *reason)
{
	struct lscd *d = w->d;
	tx_begin(d);
	on_gone(w, reason);
	tx_end(d);
}

static void hook_handshake_failed(struct lscd *d, const struct sockaddr *peer,
				  const struct capwap_dtls_peer *cert, const char *reason)
{
	tx_begin(d);
	on_handshake_failed(d, peer, cert, reason);
	tx_end(d);
}

bool prov_start(struct lscd *d, char *err, size_t errlen)
{
	struct prov *p = calloc(1, sizeof(*p));
	if (p == NULL || (p->ipmap = calloc(IPMAP_SIZE, sizeof(*p->ipmap))) == NULL) {
		free(p);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	LIST_INIT(&p->enrollments);
	d->prov = p;
	/* The SCEP transactions of a previous run died with it. */
	tx_begin(d);
	store_ap_foreach(d->store, abandon_in_flight, d);
	tx_end(d);
	d->hooks = (struct lscd_hooks){
		.joined = hook_joined,
		.run = hook_run,
		.request_done = hook_request_done,
		.request_failed = on_request_failed,
		.event = hook_event,
		.gone = hook_gone,
		.handshake_failed = hook_handshake_failed,
	};
	return true;
}

void prov_stop(struct lscd *d)
{
	struct prov *p = d->prov;
	struct enrollment *e;

	if (p == NULL)
		return;
	while ((e = LIST_FIRST(&p->enrollments)) != NULL) {
		LIST_REMOVE(e, link);
		pki_op_cancel(e->op);
		free(e);
	}
	free(p->ipmap);
	free(p);
	d->prov = NULL;
	memset(&d->hooks, 0, sizeof(d->hooks));
}
