/*
 * metrics.c — what a monitoring system scrapes: Prometheus text format on
 * GET /metrics, and the show.c status summary as JSON on GET /status.
 *
 * Every series that can exist is always written (zero until it happens),
 * so that rate() and absent() alerts work from the first scrape. The
 * listener is loopback unless the operator says otherwise, and requests
 * are small and bounded: no body, short headers, a short timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "ctrl/metrics.h"
#include "ctrl/provision.h"
#include "ctrl/show.h"
#include "ctrl/store.h"
#include "ctrl/tpm.h"

#define METRICS_TIMEOUT_S     10
#define METRICS_MAX_HEADERS   8192

struct metrics {
	struct lscd *d;
	struct evhttp *http;
	int64_t started;           /* wall clock, seconds */
};

bool metrics_escape_label(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return false;
	for (; *in != '\0'; in++) {
		const char *rep = *in == '\\' ? "\\\\" : *in == '"' ? "\\\"" : *in == '\n' ? "\\n" : NULL;
		size_t k = rep ? 2 : 1;
		if (o + k >= outlen) {
			out[o] = '\0';
			return false;
		}
		if (rep)
			memcpy(out + o, rep, 2);
		else
			out[o] = *in;
		o += k;
	}
	out[o] = '\0';
	return true;
}

static void head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u(struct evbuffer *b, const char *name, uint64_t v)
{
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* One labelled sample; the values are escaped here. */
static void sample_l(struct evbuffer *b, const char *name, const char *l1, const char *v1,
		     const char *l2, const char *v2, uint64_t v)
{
	char e1[160], e2[160];

	metrics_escape_label(v1, e1, sizeof(e1));
	if (l2 != NULL) {
		metrics_escape_label(v2, e2, sizeof(e2));
		evbuffer_add_printf(b, "%s{%s=\"%s\",%s=\"%s\"} %llu\n", name, l1, e1, l2, e2,
				    (unsigned long long)v);
	} else {
		evbuffer_add_printf(b, "%s{%s=\"%s\"} %llu\n", name, l1, e1, (unsigned long long)v);
	}
}

static void counter(struct evbuffer *b, const char *name, const char *help, uint64_t v)
{
	head(b, name, "counter", help);
	sample_u(b, name, v);
}

static void gauge(struct evbuffer *b, const char *name, const char *help, uint64_t v)
{
	head(b, name, "gauge", help);
	sample_u(b, name, v);
}

/* ---- sessions ---------------------------------------------------------------- */

static const enum wtp_state shown_states[] = {
	WTP_JOIN, WTP_CONFIGURE, WTP_DATA_CHECK, WTP_RUN, WTP_RESET,
};
#define N_SHOWN_STATES (sizeof(shown_states) / sizeof(shown_states[0]))

static void render_sessions(struct lscd *d, struct evbuffer *b)
{
	uint64_t n[N_SHOWN_STATES][2] = { { 0 } };
	struct wtp *w;

	TAILQ_FOREACH(w, &d->wtps, link) {
		if (!w->identified)
			continue;
		for (size_t i = 0; i < N_SHOWN_STATES; i++)
			if (w->state == shown_states[i])
				n[i][w->cert.cert_class == CAPWAP_CERT_LSC]++;
	}
	head(b, "lscd_aps", "gauge", "Connected APs by CAPWAP state and the certificate they joined with.");
	for (size_t i = 0; i < N_SHOWN_STATES; i++) {
		sample_l(b, "lscd_aps", "state", wtp_state_name(shown_states[i]), "cert", "MIC", n[i][0]);
		sample_l(b, "lscd_aps", "state", wtp_state_name(shown_states[i]), "cert", "LSC", n[i][1]);
	}
	gauge(b, "lscd_sessions", "CAPWAP sessions, DTLS handshakes in progress included.", d->n_wtps);
	gauge(b, "lscd_dtls_handshakes_in_progress", "DTLS handshakes not yet complete.", d->n_handshakes);
	gauge(b, "lscd_dtls_backlog_datagrams", "Handshake datagrams waiting for their turn.", d->backlog.n);

	const struct lscd_stats *s = &d->stats;
	counter(b, "lscd_discovery_requests_total", "Discovery Requests answered.", s->discovery_requests);
	counter(b, "lscd_dtls_cookies_sent_total", "DTLS HelloVerifyRequests (cookies) sent.", s->dtls_cookies_sent);
	counter(b, "lscd_dtls_handshakes_started_total", "DTLS handshakes started.", s->dtls_handshakes_started);
	counter(b, "lscd_dtls_backlog_dropped_total", "Handshake datagrams dropped, the backlog full.",
		s->dtls_backlog_dropped);
	counter(b, "lscd_joins_total", "Join Requests accepted.", s->joins);
	counter(b, "lscd_messages_malformed_total", "CAPWAP messages refused as malformed.", s->messages_malformed);
	counter(b, "lscd_echo_timeouts_total", "Sessions in Run torn down because Echo Requests stopped.",
		s->echo_timeouts);
	counter(b, "lscd_sessions_torn_down_total", "CAPWAP sessions ended, for any reason.", s->sessions_torn_down);

	head(b, "lscd_join_failures_total", "counter", "APs that did not get to Run, by reason.");
	sample_l(b, "lscd_join_failures_total", "reason", "dtls_handshake", NULL, NULL, s->dtls_handshakes_failed);
	sample_l(b, "lscd_join_failures_total", "reason", "handshake_limit", NULL, NULL, s->dtls_refused_limit);
	sample_l(b, "lscd_join_failures_total", "reason", "join_refused", NULL, NULL, s->joins_refused);
	sample_l(b, "lscd_join_failures_total", "reason", "lsc_join", NULL, NULL,
		 d->prov != NULL ? prov_get_stats(d)->lsc_join_failures : 0);
}

/* ---- provisioning ------------------------------------------------------------- */

struct records {
	uint64_t by_state[STORE_PROV_LOOP_SUSPECTED + 1];
	uint64_t loop;
};

static bool count_record(const struct store_ap *rec, void *arg)
{
	struct records *r = arg;
	if ((unsigned)rec->prov_state <= STORE_PROV_LOOP_SUSPECTED)
		r->by_state[rec->prov_state]++;
	r->loop += rec->loop_suspected;
	return true;
}

static void render_provisioning(struct lscd *d, struct evbuffer *b)
{
	const struct cfg_lsc_provision *lsc = &d->cfg->lsc;
	struct records r = { { 0 }, 0 };
	static const struct prov_stats zero;
	const struct prov_stats *s = d->prov != NULL ? prov_get_stats(d) : &zero;

	head(b, "lscd_lsc_provision_mode", "gauge", "The LSC provisioning mode in force (1 for the current one).");
	for (int m = CFG_LSC_DISABLED; m <= CFG_LSC_PROVISION_LIST; m++)
		sample_l(b, "lscd_lsc_provision_mode", "mode", cfg_lsc_mode_name((enum cfg_lsc_mode)m), NULL,
			 NULL, lsc->mode == (enum cfg_lsc_mode)m);
	gauge(b, "lscd_provision_list_size", "MAC addresses on the provision list.", lsc->n_macs);

	store_ap_foreach(d->store, count_record, &r);
	head(b, "lscd_ap_records", "gauge", "APs in the state database by LSC provisioning state.");
	for (int st = STORE_PROV_NONE; st <= STORE_PROV_LOOP_SUSPECTED; st++)
		sample_l(b, "lscd_ap_records", "prov_state", store_prov_state_name((enum store_prov_state)st),
			 NULL, NULL, r.by_state[st]);
	gauge(b, "lscd_aps_loop_suspected", "APs whose provisioning stopped on a suspected loop.", r.loop);

	counter(b, "lscd_lsc_params_sent_total", "Certificate-parameter payloads sent to APs.", s->params_sent);
	head(b, "lscd_csrs_total", "counter", "CSRs received from APs, by outcome of lscd's checks.");
	sample_l(b, "lscd_csrs_total", "outcome", "accepted", NULL, NULL, s->csrs_accepted);
	sample_l(b, "lscd_csrs_total", "outcome", "refused", NULL, NULL, s->csrs_refused);
	counter(b, "lscd_enrollments_started_total", "Proxy enrolments started at the CA.", s->enrollments_started);
	head(b, "lscd_enrollments_total", "counter", "Proxy enrolments finished, by outcome.");
	sample_l(b, "lscd_enrollments_total", "outcome", "succeeded", NULL, NULL, s->enrollments_succeeded);
	sample_l(b, "lscd_enrollments_total", "outcome", "failed", NULL, NULL, s->enrollments_failed);
	gauge(b, "lscd_enrollments_in_flight", "Proxy enrolments waiting for the CA.", prov_in_flight(d));
	head(b, "lscd_certs_total", "counter", "Issued LSCs, by whether the AP received them.");
	sample_l(b, "lscd_certs_total", "outcome", "delivered", NULL, NULL, s->certs_delivered);
	sample_l(b, "lscd_certs_total", "outcome", "undelivered", NULL, NULL, s->certs_undelivered);
	counter(b, "lscd_mic_fallbacks_total", "APs back on their MIC after an LSC was delivered.", s->mic_fallbacks);
	counter(b, "lscd_loops_suspected_total", "APs marked as stuck in a provision-fallback loop.",
		s->loops_suspected);
	counter(b, "lscd_duplicate_serials_total", "Certificates whose serial the CA had issued before.",
		s->duplicate_serials);

	/* prov counts each bucket cumulatively already (s <= bound). */
	head(b, "lscd_ca_latency_seconds", "histogram", "Time from CSR to issued certificate at the CA.");
	for (int i = 0; i < 8; i++)
		evbuffer_add_printf(b, "lscd_ca_latency_seconds_bucket{le=\"%g\"} %llu\n", prov_latency_bounds[i],
				    (unsigned long long)s->ca_latency_le[i]);
	evbuffer_add_printf(b, "lscd_ca_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)s->ca_latency_count);
	evbuffer_add_printf(b, "lscd_ca_latency_seconds_sum %.6f\n", s->ca_latency_sum_s);
	evbuffer_add_printf(b, "lscd_ca_latency_seconds_count %llu\n", (unsigned long long)s->ca_latency_count);
}

/* ---- trustpoints --------------------------------------------------------------- */

static void render_trustpoints(struct lscd *d, struct evbuffer *b)
{
	const struct lscd_config *cfg = d->cfg;

	head(b, "lscd_trustpoint_authenticated", "gauge",
	     "1 when the trustpoint's CA certificate is authenticated (SCEP trustpoints).");
	for (size_t i = 0; i < cfg->n_trustpoints; i++) {
		struct tpm_entry *e = tpm_find(d, cfg->trustpoints[i].name);
		if (e != NULL && e->tp != NULL)
			sample_l(b, "lscd_trustpoint_authenticated", "trustpoint", e->name, NULL, NULL, e->authenticated);
	}
	head(b, "lscd_trustpoint_cert_not_after_seconds", "gauge",
	     "Expiry of the trustpoint's certificates, seconds since the epoch.");
	for (size_t i = 0; i < cfg->n_trustpoints; i++) {
		static const struct { enum pki_tp_cert which; const char *name; } certs[] = {
			{ PKI_TP_CERT_IDENTITY, "identity" }, { PKI_TP_CERT_CA, "ca" },
		};
		for (size_t k = 0; k < sizeof(certs) / sizeof(certs[0]); k++) {
			struct pki_buf der = { 0 };
			struct pki_cert_info info;
			struct pki_error perr;
			if (tpm_cert(d, cfg->trustpoints[i].name, certs[k].which, &der) &&
			    pki_cert_inspect(der.data, der.len, &info, &perr) == 0 && info.not_after > 0)
				sample_l(b, "lscd_trustpoint_cert_not_after_seconds", "trustpoint",
					 cfg->trustpoints[i].name, "cert", certs[k].name, (uint64_t)info.not_after);
			pki_buf_free(&der);
		}
	}
}

bool metrics_render(struct lscd *d, struct evbuffer *b)
{
	head(b, "lscd_build_info", "gauge", "lscd's version.");
	sample_l(b, "lscd_build_info", "version", LSCD_VERSION, NULL, NULL, 1);
	if (d->metrics != NULL)
		gauge(b, "lscd_start_time_seconds", "When lscd started, seconds since the epoch.",
		      (uint64_t)d->metrics->started);
	render_sessions(d, b);
	render_provisioning(d, b);
	render_trustpoints(d, b);
	return true;
}

/* ---- HTTP ------------------------------------------------------------------------ */

static void reply(struct evhttp_request *req, int code, const char *reason, const char *type,
		  struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, reason, body);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	metrics_render(m->d, b);
	reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b);
	evbuffer_free(b);
}

static void on_status(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	char err[256];
	json_t *st = show_status(m->d, err, sizeof(err));
	struct evbuffer *b = evbuffer_new();
	char *text = NULL;

	if (st != NULL) {
		int64_t now = lscd_wall_time(m->d);
		json_object_set_new(st, "uptime_s", json_integer(now > m->started ? now - m->started : 0));
		text = json_dumps(st, JSON_INDENT(2));
	}
	if (b == NULL || text == NULL) {
		evhttp_send_error(req, 500, "out of memory");
	} else {
		evbuffer_add(b, text, strlen(text));
		evbuffer_add(b, "\n", 1);
		reply(req, 200, "OK", "application/json", b);
	}
	free(text);
	json_decref(st);
	if (b != NULL)
		evbuffer_free(b);
}

static void on_other(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();
	(void)arg;
	if (b == NULL) {
		evhttp_send_error(req, 404, NULL);
		return;
	}
	evbuffer_add_printf(b, "not found: lscd serves /metrics and /status\n");
	reply(req, 404, "Not Found", "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

bool metrics_start(struct lscd *d, char *err, size_t errlen)
{
	const struct cfg_address *a = &d->cfg->metrics_listen;
	struct metrics *m;
	int fd, one = 1;

	if (!d->cfg->metrics_enabled)
		return true;
	fd = socket(a->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "metrics.listen %s: %s", a->text, strerror(errno));
		return false;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->addr, a->len) != 0 || listen(fd, 16) != 0) {
		snprintf(err, errlen, "metrics.listen %s: %s", a->text, strerror(errno));
		close(fd);
		return false;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->http = evhttp_new(d->base)) == NULL) {
		free(m);
		close(fd);
		snprintf(err, errlen, "metrics: out of memory");
		return false;
	}
	m->d = d;
	m->started = lscd_wall_time(d);
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(m->http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(m->http, 1024);
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
	evhttp_set_cb(m->http, "/metrics", on_metrics, m);
	evhttp_set_cb(m->http, "/status", on_status, m);
	evhttp_set_gencb(m->http, on_other, m);
	if (evhttp_accept_socket_with_handle(m->http, fd) == NULL) {
		evhttp_free(m->http);
		free(m);
		close(fd);
		snprintf(err, errlen, "metrics.listen %s: cannot accept", a->text);
		return false;
	}
	d->metrics = m;
	log_info("metrics on http://%s/metrics and /status", a->text);
	return true;
}

void metrics_stop(struct lscd *d)
{
	if (d->metrics == NULL)
		return;
	evhttp_free(d->metrics->http);
	free(d->metrics);
	d->metrics = NULL;
}
