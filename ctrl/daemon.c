/*
 * daemon.c — lscd's lifecycle: configuration, state, listeners, signals.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "ctrl/control.h"
#include "ctrl/daemon.h"
#include "ctrl/lifecycle.h"
#include "ctrl/metrics.h"
#include "ctrl/provision.h"
#include "ctrl/store.h"
#include "ctrl/tpm.h"

static void print_errors(const struct cfg_errors *errs, bool to_log)
{
	for (size_t i = 0; i < errs->n; i++) {
		if (to_log)
			log_error("%s", errs->msg[i]);
		else
			fprintf(stderr, "%s\n", errs->msg[i]);
	}
}

static bool str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Trustpoints hold keys and SCEP state: they change with a restart only. */
static bool same_trustpoints(const struct lscd_config *a, const struct lscd_config *b)
{
	if (a->n_trustpoints != b->n_trustpoints ||
	    strcmp(a->management_trustpoint, b->management_trustpoint) != 0 ||
	    strcmp(a->lsc.trustpoint, b->lsc.trustpoint) != 0 || !str_eq(a->state_dir, b->state_dir))
		return false;
	for (size_t i = 0; i < a->n_trustpoints; i++) {
		const struct cfg_trustpoint *x = &a->trustpoints[i], *y = &b->trustpoints[i];
		if (strcmp(x->name, y->name) != 0 || !str_eq(x->enrollment_url, y->enrollment_url) ||
		    !str_eq(x->certificate_file, y->certificate_file) ||
		    !str_eq(x->private_key_file, y->private_key_file) || !str_eq(x->subject, y->subject) ||
		    strcmp(x->ca_fingerprint, y->ca_fingerprint) != 0 || x->key_type != y->key_type ||
		    x->key_size != y->key_size)
			return false;
	}
	return true;
}

bool lscd_reload(struct lscd *d, struct cfg_errors *errs)
{
	char err[512];
	struct lscd_config *cfg = cfg_load(d->config_path, errs);

	if (cfg == NULL) {
		log_error("reload of %s failed, keeping the running configuration:", d->config_path);
		print_errors(errs, true);
		return false;
	}
	/* What cannot change under running sessions needs a restart. */
	bool same_listen = cfg->n_listen == d->cfg->n_listen;
	for (size_t i = 0; same_listen && i < cfg->n_listen; i++)
		same_listen = strcmp(cfg->listen[i].text, d->cfg->listen[i].text) == 0;
	if (!same_listen || cfg->capwap.max_message_size != d->cfg->capwap.max_message_size) {
		snprintf(errs->msg[0], sizeof(errs->msg[0]),
			 "%s: listen or capwap.max_message_size changed: restart lscd to apply",
			 d->config_path);
		errs->n = 1;
		log_error("reload refused, keeping the running configuration: %s", errs->msg[0]);
		cfg_free(cfg);
		return false;
	}
	if (!same_trustpoints(cfg, d->cfg)) {
		snprintf(errs->msg[0], sizeof(errs->msg[0]),
			 "%s: trustpoints changed: restart lscd to apply", d->config_path);
		errs->n = 1;
		log_error("reload refused, keeping the running configuration: %s", errs->msg[0]);
		cfg_free(cfg);
		return false;
	}
	if (d->ac_running && !ac_reload_dtls(d, cfg, err, sizeof(err))) {
		snprintf(errs->msg[0], sizeof(errs->msg[0]), "%.80s: %.170s", d->config_path, err);
		errs->n = 1;
		log_error("reload refused, keeping the running configuration: %s", err);
		cfg_free(cfg);
		return false;
	}
	cfg_free(d->cfg);
	d->cfg = cfg;
	log_set_level(cfg->log_level);
	log_info("configuration reloaded from %s: LSC provisioning %s, %zu MACs on the provision list",
		 d->config_path, cfg_lsc_mode_name(cfg->lsc.mode), cfg->lsc.n_macs);
	/* clock_valid, auto_enroll, regenerate may have changed; a reload also
	 * re-arms a renewal the CA rejected (the operator's action). */
	lifecycle_reload(d);
	prov_trustpoint_ready(d);
	return true;
}

void lscd_trustpoint_changed(struct lscd *d, const char *name)
{
	char err[512];

	if (strcmp(name, d->cfg->management_trustpoint) == 0) {
		char cert[512], key[512];
		tpm_identity_files(d->cfg, name, cert, sizeof(cert), key, sizeof(key));
		if (access(cert, R_OK) != 0) {
			/* authenticated, not yet enrolled: nothing to serve with */
		} else if (!d->ac_running) {
			if (!ac_start(d, err, sizeof(err)))
				log_error("cannot start the CAPWAP listener: %s", err);
		} else if (!ac_reload_dtls(d, d->cfg, err, sizeof(err))) {
			log_error("management trustpoint %s changed but DTLS cannot use it: %s", name, err);
		}
	}
	if (strcmp(name, d->cfg->lsc.trustpoint) == 0) {
		if (d->ac_running && !ac_reload_dtls(d, d->cfg, err, sizeof(err)))
			log_error("LSC CA of trustpoint %s cannot be trusted for DTLS: %s", name, err);
		prov_trustpoint_ready(d);
	}
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct lscd *d = arg;
	(void)what;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(d->base);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct lscd *d = arg;
	struct cfg_errors errs = { 0 };
	(void)sig;
	(void)what;
	lscd_reload(d, &errs);
}

int lscd_run(const struct lscd_options *opts)
{
	struct cfg_errors errs = { 0 };
	struct lscd *d;
	struct event *sig_term = NULL, *sig_int = NULL, *sig_hup = NULL;
	char err[512];
	int status = 1;

	struct lscd_config *cfg = cfg_load(opts->config_path, &errs);
	if (cfg == NULL) {
		print_errors(&errs, false);
		return 1;
	}
	if (opts->check_only) {
		printf("configuration OK\n");
		cfg_free(cfg);
		return 0;
	}
	enum cfg_log_level level = opts->debug || opts->verbose ? CFG_LOG_DEBUG : cfg->log_level;
	log_init("lscd", level, true, !opts->debug);
	struct pki_error perr;
	if (pki_init(&perr) != 0) {
		log_error("OpenSSL: %s", perr.reason);
		cfg_free(cfg);
		return 1;
	}
	if (opts->time_offset_s != 0)
		log_warn("TEST MODE: wall clock shifted by %lld s (--time-offset)",
			 (long long)opts->time_offset_s);

	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		cfg_free(cfg);
		return 1;
	}
	TAILQ_INIT(&d->wtps);
	d->cfg = cfg;
	d->config_path = strdup(opts->config_path);
	d->time_offset_s = opts->time_offset_s;
	d->base = event_base_new();
	/* Before any event exists: they all take the middle priority, and the
	 * handshake backlog the lowest (ctrl/lscd.h). */
	if (d->base == NULL || d->config_path == NULL ||
	    event_base_priority_init(d->base, LSCD_PRIORITIES) != 0) {
		log_error("cannot create the event loop");
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	sig_term = evsignal_new(d->base, SIGTERM, on_stop_signal, d);
	sig_int = evsignal_new(d->base, SIGINT, on_stop_signal, d);
	sig_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
	if (sig_term == NULL || sig_int == NULL || sig_hup == NULL ||
	    evsignal_add(sig_term, NULL) || evsignal_add(sig_int, NULL) || evsignal_add(sig_hup, NULL)) {
		log_error("cannot install signal handlers");
		goto out;
	}
	d->store = store_open(cfg->database, err, sizeof(err));
	if (d->store == NULL) {
		log_error("state database %s: %s", cfg->database, err);
		goto out;
	}
	if (cfg->capture_pcap != NULL || cfg->dtls_keylog != NULL) {
		d->capture = capture_open(cfg->capture_pcap, cfg->dtls_keylog, err, sizeof(err));
		if (d->capture == NULL) {
			log_error("debug capture: %s", err);
			goto out;
		}
	}
	if (!prov_start(d, err, sizeof(err)) || !tpm_start(d, err, sizeof(err))) {
		log_error("%s", err);
		goto out;
	}
	/* Operators can look in as soon as there is state to show. */
	if (!ctl_start(d, err, sizeof(err)) || !metrics_start(d, err, sizeof(err))) {
		log_error("%s", err);
		goto out;
	}
	char cert[512], key[512];
	tpm_identity_files(cfg, cfg->management_trustpoint, cert, sizeof(cert), key, sizeof(key));
	if (access(cert, R_OK) == 0) {
		if (!ac_start(d, err, sizeof(err))) {
			log_error("%s", err);
			goto out;
		}
	} else {
		log_warn("no certificate for the wireless management trustpoint %s yet: APs are served once it "
			 "has enrolled", cfg->management_trustpoint);
	}
	prov_check_config(d);
	log_info("lscd %s started (config %s)", LSCD_VERSION, d->config_path);
	event_base_dispatch(d->base);
	status = 0;
out:
	metrics_stop(d);
	ctl_stop(d);
	ac_stop(d);
	prov_stop(d);
	tpm_stop(d);
	store_close(d->store);
	capture_close(d->capture);
	if (sig_term) event_free(sig_term);
	if (sig_int) event_free(sig_int);
	if (sig_hup) event_free(sig_hup);
	if (d->base != NULL)
		event_base_free(d->base);
	cfg_free(d->cfg);
	free(d->config_path);
	free(d);
	log_info("lscd stopped");
	return status;
}
