/*
 * show.c — the data behind every show command, from daemon state.
 *
 * Values are raw (seconds since the epoch, counts, lower-case hex, colon
 * MACs); lscctl decides how a table shows them. Strings that came from
 * an AP or a certificate go through show_text(): a name that is not UTF-8 must
 * not make a whole show fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "ctrl/lifecycle.h"
#include "ctrl/provision.h"
#include "ctrl/show.h"
#include "ctrl/store.h"
#include "ctrl/tpm.h"

/* ---- helpers ------------------------------------------------------------- */

json_t *show_text(const char *s)
{
	json_t *j;

	if (s == NULL)
		return json_string("");
	if ((j = json_string(s)) != NULL)
		return j;
	/* Not UTF-8: keep the ASCII, mark the rest. */
	size_t n = strlen(s);
	char *copy = malloc(n + 1);
	if (copy == NULL)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		copy[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *jmac(const uint8_t mac[6])
{
	char text[18];
	capwap_mac_format(mac, CAPWAP_MAC_COLON, text);
	return json_string(text);
}

static json_t *jhex(const uint8_t *md, size_t len)
{
	char text[PKI_FP_MAX];
	return json_string(pki_fp_format(md, len, PKI_FP_HEX, text, sizeof(text)));
}

static void set(json_t *o, const char *key, json_t *v)
{
	json_object_set_new(o, key, v);
}

static json_t *fail(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	return NULL;
}

static const char *cert_class_name(enum capwap_cert_class c)
{
	return c == CAPWAP_CERT_LSC ? "LSC" : c == CAPWAP_CERT_MIC ? "MIC" : "";
}

/* ---- show ap summary ------------------------------------------------------ */

static int cmp_wtp_mac(const void *a, const void *b)
{
	const struct wtp *x = *(const struct wtp *const *)a, *y = *(const struct wtp *const *)b;
	return memcmp(x->mac, y->mac, 6);
}

/* The APs that have named themselves (DTLS up), sorted by MAC; caller frees. */
static struct wtp **identified_wtps(struct lscd *d, size_t *n)
{
	struct wtp **v = calloc(d->n_wtps + 1, sizeof(*v));
	struct wtp *w;

	*n = 0;
	if (v == NULL)
		return NULL;
	TAILQ_FOREACH(w, &d->wtps, link) {
		if (*n == d->n_wtps)
			break;
		if (w->identified && w->state != WTP_DEAD)
			v[(*n)++] = w;
	}
	qsort(v, *n, sizeof(*v), cmp_wtp_mac);
	return v;
}

static const char *oper_status(enum wtp_state s)
{
	switch (s) {
	case WTP_RUN:
		return "REG";
	case WTP_RESET:
		return "RESET";
	default:
		return "JOINING";
	}
}

json_t *show_ap_summary(struct lscd *d, char *err, size_t errlen)
{
	json_t *o = json_object(), *aps = json_array();
	size_t n, n_run = 0, n_lsc = 0, n_mic = 0;
	struct wtp **v = identified_wtps(d, &n);
	int64_t now = lscd_wall_time(d);

	if (o == NULL || aps == NULL || v == NULL) {
		json_decref(o);
		json_decref(aps);
		free(v);
		return fail(err, errlen, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		const struct wtp *w = v[i];
		struct store_ap rec;
		json_t *ap = json_object();

		if (!store_ap_get(d->store, w->mac, &rec))
			rec.prov_state = STORE_PROV_NONE;
		n_run += w->state == WTP_RUN;
		n_lsc += w->cert.cert_class == CAPWAP_CERT_LSC;
		n_mic += w->cert.cert_class == CAPWAP_CERT_MIC;
		set(ap, "name", show_text(w->name));
		set(ap, "mac", jmac(w->mac));
		set(ap, "model", show_text(w->model));
		set(ap, "serial", show_text(w->serial));
		set(ap, "address", show_text(w->peer_text));
		set(ap, "state", json_string(wtp_state_name(w->state)));
		set(ap, "admin_status", json_string("Enabled"));
		set(ap, "oper_status", json_string(oper_status(w->state)));
		set(ap, "ap_mode", json_string("Local"));
		set(ap, "cert_type", json_string(cert_class_name(w->cert.cert_class)));
		set(ap, "cert_serial", show_text(w->cert.serial_hex));
		set(ap, "cert_not_after", json_integer(w->cert.not_after));
		set(ap, "run_since", json_integer(w->run_since));
		set(ap, "uptime_s", json_integer(w->run_since > 0 && now > w->run_since ? now - w->run_since : 0));
		set(ap, "prov_state", json_string(store_prov_state_name(rec.prov_state)));
		set(ap, "loop_suspected", json_boolean(rec.loop_suspected));
		json_array_append_new(aps, ap);
	}
	free(v);
	set(o, "total", json_integer((json_int_t)n));
	set(o, "run", json_integer((json_int_t)n_run));
	set(o, "lsc", json_integer((json_int_t)n_lsc));
	set(o, "mic", json_integer((json_int_t)n_mic));
	set(o, "handshakes", json_integer((json_int_t)d->n_handshakes));
	set(o, "aps", aps);
	return o;
}

/* ---- show ap lsc-provision summary ---------------------------------------- */

json_t *show_lsc_summary(struct lscd *d, char *err, size_t errlen)
{
	const struct cfg_lsc_provision *lsc = &d->cfg->lsc;
	json_t *o = json_object(), *subj = json_object(), *list = json_array();
	struct tpm_entry *tp = lsc->trustpoint[0] ? tpm_find(d, lsc->trustpoint) : NULL;

	if (o == NULL || subj == NULL || list == NULL) {
		json_decref(o);
		json_decref(subj);
		json_decref(list);
		return fail(err, errlen, "out of memory");
	}
	set(o, "mode", json_string(cfg_lsc_mode_name(lsc->mode)));
	set(o, "trustpoint", show_text(lsc->trustpoint));
	set(o, "trustpoint_authenticated", json_boolean(tp != NULL && tp->authenticated));
	set(o, "join_attempts", json_integer(lsc->join_attempts));
	set(subj, "country", show_text(lsc->subject.country));
	set(subj, "state", show_text(lsc->subject.state));
	set(subj, "city", show_text(lsc->subject.city));
	set(subj, "organization", show_text(lsc->subject.organization));
	set(subj, "department", show_text(lsc->subject.department));
	set(subj, "email", show_text(lsc->subject.email));
	set(o, "subject", subj);
	set(o, "key_type", json_string(lsc->key_type == CFG_KEY_EC ? "ec" : "rsa"));
	set(o, "key_size", json_integer(lsc->key_size));
	set(o, "max_reprovision", json_integer(lsc->max_reprovision));
	set(o, "reprovision_window_s", json_integer(lsc->reprovision_window_s));
	set(o, "renew_percent", json_integer(lsc->renew_percent));
	set(o, "provision_list_file", lsc->provision_list_file ? show_text(lsc->provision_list_file) : json_null());
	for (size_t i = 0; i < lsc->n_macs; i++)
		json_array_append_new(list, jmac(lsc->macs[i]));
	set(o, "provision_list_count", json_integer((json_int_t)lsc->n_macs));
	set(o, "provision_list", list);
	return o;
}

/* ---- show ap lsc-provision status ----------------------------------------- */

static json_t *ap_record(struct lscd *d, const struct store_ap *rec)
{
	json_t *ap = json_object();
	struct store_cert cert;
	struct wtp *w = ac_find_by_mac(d, rec->mac);

	set(ap, "mac", jmac(rec->mac));
	set(ap, "name", show_text(rec->name));
	set(ap, "model", show_text(rec->model));
	set(ap, "serial", show_text(rec->serial));
	set(ap, "last_address", show_text(rec->last_address));
	set(ap, "connected", json_boolean(w != NULL));
	set(ap, "state", w != NULL ? json_string(wtp_state_name(w->state)) : json_null());
	set(ap, "cert_type", w != NULL ? json_string(cert_class_name(w->cert.cert_class)) : json_null());
	set(ap, "first_seen", json_integer(rec->first_seen));
	set(ap, "last_seen", json_integer(rec->last_seen));
	set(ap, "last_join", json_integer(rec->last_join));
	set(ap, "last_cert_type", show_text(rec->last_cert_type));
	set(ap, "prov_state", json_string(store_prov_state_name(rec->prov_state)));
	set(ap, "mic_joins", json_integer(rec->mic_joins));
	set(ap, "lsc_joins", json_integer(rec->lsc_joins));
	set(ap, "lsc_join_failures", json_integer(rec->lsc_join_failures));
	set(ap, "mic_fallbacks", json_integer(rec->mic_fallbacks));
	set(ap, "provisions", json_integer(rec->provisions));
	set(ap, "reprovisions_in_window", json_integer(rec->reprovisions_in_window));
	set(ap, "loop_suspected", json_boolean(rec->loop_suspected));
	set(ap, "reprovision_requested", json_boolean(rec->reprovision_requested));
	set(ap, "last_failure", show_text(rec->last_failure));
	set(ap, "last_failure_at", json_integer(rec->last_failure_at));
	if (store_cert_current(d->store, rec->mac, &cert)) {
		json_t *c = json_object();
		set(c, "serial", show_text(cert.serial_hex));
		set(c, "subject", show_text(cert.subject));
		set(c, "issuer", show_text(cert.issuer));
		set(c, "not_before", json_integer(cert.not_before));
		set(c, "not_after", json_integer(cert.not_after));
		set(c, "issued_at", json_integer(cert.issued_at));
		set(c, "sha1", show_text(cert.sha1_hex));
		set(c, "sha256", show_text(cert.sha256_hex));
		set(ap, "lsc", c);
	} else {
		set(ap, "lsc", json_null());
	}
	return ap;
}

struct status_walk {
	struct lscd *d;
	json_t *aps;
	size_t loop, provisioned;
};

static bool status_one(const struct store_ap *rec, void *arg)
{
	struct status_walk *sw = arg;
	sw->loop += rec->loop_suspected;
	sw->provisioned += rec->prov_state == STORE_PROV_PROVISIONED;
	return json_array_append_new(sw->aps, ap_record(sw->d, rec)) == 0;
}

static bool audit_one(const struct store_audit *a, void *arg)
{
	json_t *line = json_object();
	set(line, "at", json_integer(a->at));
	set(line, "event", show_text(a->event));
	set(line, "detail", show_text(a->detail));
	return json_array_append_new(arg, line) == 0;
}

json_t *show_lsc_status(struct lscd *d, const uint8_t *mac, size_t audit_lines, char *err,
			size_t errlen)
{
	json_t *o = json_object();

	if (o == NULL)
		return fail(err, errlen, "out of memory");
	if (mac != NULL) {
		struct store_ap rec;
		char text[18];
		json_t *audit = json_array();

		if (!store_ap_get(d->store, mac, &rec)) {
			json_decref(o);
			json_decref(audit);
			capwap_mac_format(mac, CAPWAP_MAC_COLON, text);
			snprintf(err, errlen, "no record of AP %s: it never joined this controller", text);
			return NULL;
		}
		json_t *ap = ap_record(d, &rec);
		if (!store_audit_foreach(d->store, mac, audit_lines, audit_one, audit)) {
			json_decref(o);
			json_decref(ap);
			json_decref(audit);
			snprintf(err, errlen, "audit trail: %.200s", store_errmsg(d->store));
			return NULL;
		}
		set(ap, "audit", audit);
		set(o, "ap", ap);
		return o;
	}
	struct status_walk sw = { d, json_array(), 0, 0 };
	if (sw.aps == NULL || !store_ap_foreach(d->store, status_one, &sw)) {
		json_decref(o);
		json_decref(sw.aps);
		snprintf(err, errlen, "AP records: %.200s", store_errmsg(d->store));
		return NULL;
	}
	set(o, "total", json_integer((json_int_t)json_array_size(sw.aps)));
	set(o, "provisioned", json_integer((json_int_t)sw.provisioned));
	set(o, "loop_suspected", json_integer((json_int_t)sw.loop));
	set(o, "aps", sw.aps);
	return o;
}

/* ---- certificates --------------------------------------------------------- */

const char *show_cert_type(struct lscd *d, const uint8_t *der, size_t len)
{
	struct pki_error perr;
	struct pki_buf ca = { 0 };
	bool lsc = false;

	if (pki_cert_verify_issued_by(der, len, der, len, &perr) == 0)
		return "SSC";
	if (d->cfg->lsc.trustpoint[0] != '\0' && tpm_cert(d, d->cfg->lsc.trustpoint, PKI_TP_CERT_CA, &ca))
		lsc = pki_cert_verify_issued_by(der, len, ca.data, ca.len, &perr) == 0;
	pki_buf_free(&ca);
	return lsc ? "LSC" : "MIC";
}

json_t *show_mgmt_trustpoint(struct lscd *d, char *err, size_t errlen)
{
	const char *name = d->cfg->management_trustpoint;
	json_t *o = json_object();
	struct pki_buf der = { 0 };
	struct pki_cert_info info;
	struct pki_error perr;
	char cert[512], key[512];

	if (o == NULL)
		return fail(err, errlen, "out of memory");
	tpm_identity_files(d->cfg, name, cert, sizeof(cert), key, sizeof(key));
	set(o, "trustpoint", show_text(name));
	bool have = tpm_cert(d, name, PKI_TP_CERT_IDENTITY, &der) &&
		    pki_cert_inspect(der.data, der.len, &info, &perr) == 0;
	set(o, "certificate_available", json_boolean(have));
	if (have) {
		set(o, "certificate_type", json_string(show_cert_type(d, der.data, der.len)));
		set(o, "sha1", jhex(info.sha1, sizeof(info.sha1)));
		set(o, "sha256", jhex(info.sha256, sizeof(info.sha256)));
		set(o, "serial", show_text(info.serial_hex));
		set(o, "subject", show_text(info.subject.line));
		set(o, "issuer", show_text(info.issuer.line));
		set(o, "not_before", json_integer(info.not_before));
		set(o, "not_after", json_integer(info.not_after));
	} else {
		set(o, "certificate_type", json_null());
		set(o, "sha1", json_null());
	}
	/* Whether it is there, never what it is. */
	set(o, "private_key_available", json_boolean(access(key, R_OK) == 0));
	pki_buf_free(&der);
	return o;
}

static json_t *name_attrs(const struct pki_name *n)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < n->n_attrs && i < PKI_NAME_MAX_ATTRS; i++) {
		json_t *e = json_object();
		set(e, "attr", show_text(n->attrs[i].name));
		set(e, "value", show_text(n->attrs[i].value));
		json_array_append_new(a, e);
	}
	return a;
}

/* The certificates one trustpoint holds, in the order IOS prints them. */
struct tp_cert {
	const char *role;
	struct pki_buf der;
	struct pki_cert_info info;
};

#define TP_CERTS 5

struct tp_certs {
	char name[CFG_NAME_MAX];
	size_t n;
	struct tp_cert c[TP_CERTS];
};

static bool same_der(const struct pki_buf *a, const struct pki_buf *b)
{
	return a->len == b->len && a->len > 0 && memcmp(a->data, b->data, a->len) == 0;
}

static void tp_certs_load(struct lscd *d, const char *name, struct tp_certs *tc)
{
	struct pki_buf b[TP_CERTS] = { { 0 } };
	static const enum pki_tp_cert which[TP_CERTS] = {
		PKI_TP_CERT_IDENTITY, PKI_TP_CERT_RA_SIG, PKI_TP_CERT_RA_ENC, PKI_TP_CERT_CA,
		PKI_TP_CERT_NEXT_CA,
	};
	static const char *const role[TP_CERTS] = {
		"identity", "ra-signature", "ra-encryption", "ca", "next-ca",
	};
	struct pki_error perr;

	memset(tc, 0, sizeof(*tc));
	lscd_copy(tc->name, sizeof(tc->name), name);
	for (size_t i = 0; i < TP_CERTS; i++)
		tpm_cert(d, name, which[i], &b[i]);
	/* pki gives the CA for an RA that is not separate: show it once. */
	if (same_der(&b[1], &b[3]))
		pki_buf_free(&b[1]);
	if (same_der(&b[2], &b[3]) || same_der(&b[2], &b[1]))
		pki_buf_free(&b[2]);
	for (size_t i = 0; i < TP_CERTS; i++) {
		if (b[i].len == 0)
			continue;
		struct tp_cert *c = &tc->c[tc->n];
		if (pki_cert_inspect(b[i].data, b[i].len, &c->info, &perr) != 0) {
			pki_buf_free(&b[i]);
			continue;
		}
		c->role = role[i];
		c->der = b[i];
		tc->n++;
	}
}

static void tp_certs_free(struct tp_certs *tc)
{
	for (size_t i = 0; i < tc->n; i++)
		pki_buf_free(&tc->c[i].der);
}

static json_t *cert_json(const struct tp_cert *c, const struct tp_certs *all, size_t n_all)
{
	const struct pki_cert_info *i = &c->info;
	json_t *o = json_object(), *assoc = json_array();

	set(o, "role", json_string(c->role));
	set(o, "status", json_string("Available"));
	set(o, "version", json_integer(i->version));
	set(o, "serial", show_text(i->serial_hex));
	set(o, "usage", json_string(pki_cert_usage_name(i)));
	set(o, "issuer", name_attrs(&i->issuer));
	set(o, "issuer_line", show_text(i->issuer.line));
	set(o, "subject", name_attrs(&i->subject));
	set(o, "subject_line", show_text(i->subject.line));
	set(o, "not_before", json_integer(i->not_before));
	set(o, "not_after", json_integer(i->not_after));
	set(o, "key_alg", show_text(i->key_alg));
	set(o, "key_bits", json_integer(i->key.bits));
	set(o, "key_curve", show_text(i->key_curve));
	set(o, "sig_alg", show_text(i->sig_alg));
	set(o, "is_ca", json_boolean(i->is_ca));
	set(o, "self_issued", json_boolean(i->self_issued));
	set(o, "md5", jhex(i->md5, sizeof(i->md5)));
	set(o, "sha1", jhex(i->sha1, sizeof(i->sha1)));
	set(o, "sha256", jhex(i->sha256, sizeof(i->sha256)));
	/* Every trustpoint that holds this very certificate, as IOS lists them. */
	for (size_t t = 0; t < n_all; t++) {
		for (size_t k = 0; k < all[t].n; k++) {
			if (memcmp(all[t].c[k].info.sha256, i->sha256, 32) == 0) {
				json_array_append_new(assoc, show_text(all[t].name));
				break;
			}
		}
	}
	set(o, "associated_trustpoints", assoc);
	return o;
}

json_t *show_pki_certificates(struct lscd *d, const char *tp, char *err, size_t errlen)
{
	const struct lscd_config *cfg = d->cfg;
	size_t n = cfg->n_trustpoints;

	if (tp != NULL && tp[0] != '\0' && cfg_trustpoint(cfg, tp) == NULL) {
		char names[256] = "";
		size_t used = 0;
		for (size_t i = 0; i < n && used < sizeof(names); i++) {
			int k = snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
					 cfg->trustpoints[i].name);
			if (k < 0)
				break;
			used += (size_t)k;
		}
		snprintf(err, errlen, "no trustpoint named \"%.64s\" (configured: %.180s)", tp, names);
		return NULL;
	}
	struct tp_certs *all = calloc(n ? n : 1, sizeof(*all));
	json_t *o = json_object(), *list = json_array();
	if (all == NULL || o == NULL || list == NULL) {
		free(all);
		json_decref(o);
		json_decref(list);
		return fail(err, errlen, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		tp_certs_load(d, cfg->trustpoints[i].name, &all[i]);
	for (size_t i = 0; i < n; i++) {
		if (tp != NULL && tp[0] != '\0' && strcmp(tp, all[i].name) != 0)
			continue;
		json_t *t = json_object(), *certs = json_array();
		set(t, "name", show_text(all[i].name));
		for (size_t k = 0; k < all[i].n; k++)
			json_array_append_new(certs, cert_json(&all[i].c[k], all, n));
		set(t, "certificates", certs);
		json_array_append_new(list, t);
	}
	for (size_t i = 0; i < n; i++)
		tp_certs_free(&all[i]);
	free(all);
	set(o, "trustpoints", list);
	return o;
}

/* ---- show crypto pki trustpoints ----------------------------------------- */

json_t *show_pki_trustpoints(struct lscd *d, char *err, size_t errlen)
{
	const struct lscd_config *cfg = d->cfg;
	json_t *o = json_object(), *list = json_array();

	if (o == NULL || list == NULL) {
		json_decref(o);
		json_decref(list);
		return fail(err, errlen, "out of memory");
	}
	for (size_t i = 0; i < cfg->n_trustpoints; i++) {
		const struct cfg_trustpoint *c = &cfg->trustpoints[i];
		struct tpm_entry *e = tpm_find(d, c->name);
		json_t *t = json_object(), *roles = json_array();
		struct pki_buf der = { 0 };
		char cert[512], key[512];

		set(t, "name", show_text(c->name));
		if (strcmp(c->name, cfg->management_trustpoint) == 0)
			json_array_append_new(roles, json_string("wireless-management"));
		if (strcmp(c->name, cfg->lsc.trustpoint) == 0)
			json_array_append_new(roles, json_string("lsc-provisioning"));
		set(t, "roles", roles);
		set(t, "type", json_string(c->enrollment_url ? "enrollment" : "files"));
		set(t, "enrollment_url", c->enrollment_url ? show_text(c->enrollment_url) : json_null());
		set(t, "subject", c->subject ? show_text(c->subject) : json_null());
		set(t, "ca_fingerprint", c->ca_fingerprint[0] ? show_text(c->ca_fingerprint) : json_null());
		set(t, "certificate_file", c->certificate_file ? show_text(c->certificate_file) : json_null());
		set(t, "private_key_file", c->private_key_file ? show_text(c->private_key_file) : json_null());
		if (e != NULL && e->tp != NULL) {
			struct pki_key_spec ks;
			struct pki_tp_stats st;
			char spec[32];
			json_t *s = json_object();

			pki_tp_get_key_spec(e->tp, &ks);
			set(t, "key", json_string(pki_key_spec_format(&ks, spec, sizeof(spec))));
			set(t, "authenticated", json_boolean(e->authenticated));
			pki_tp_get_stats(e->tp, &st);
			set(s, "in_flight", json_integer(st.in_flight));
			set(s, "queued", json_integer(st.queued));
			set(s, "clones", json_integer(st.clones));
			set(s, "enrolled", json_integer((json_int_t)st.enrolled));
			set(s, "failed", json_integer((json_int_t)st.failed));
			set(t, "stats", s);
		} else {
			/* Static material: nothing to authenticate against. */
			set(t, "key", json_null());
			set(t, "authenticated", json_null());
			set(t, "stats", json_null());
		}
		set(t, "identity", json_boolean(tpm_cert(d, c->name, PKI_TP_CERT_IDENTITY, &der)));
		pki_buf_free(&der);
		tpm_identity_files(cfg, c->name, cert, sizeof(cert), key, sizeof(key));
		set(t, "private_key_available", json_boolean(access(key, R_OK) == 0));
		set(t, "last_error", show_text(e != NULL ? e->last_error : ""));
		set(t, "last_error_at", json_integer(e != NULL ? e->last_error_at : 0));
		json_array_append_new(list, t);
	}
	set(o, "trustpoints", list);
	return o;
}

/* ---- timers --------------------------------------------------------------- */

bool show_timers_add(struct show_timers *t, const char *name, const char *subject, int64_t due,
		     int64_t remaining_ms)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct show_timer *v = realloc(t->t, cap * sizeof(*v));
		if (v == NULL)
			return false;
		t->t = v;
		t->cap = cap;
	}
	struct show_timer *e = &t->t[t->n++];
	lscd_copy(e->name, sizeof(e->name), name);
	lscd_copy(e->subject, sizeof(e->subject), subject);
	e->due = due;
	e->remaining_ms = remaining_ms;
	return true;
}

void show_timers_free(struct show_timers *t)
{
	free(t->t);
	memset(t, 0, sizeof(*t));
}

bool show_ap_renew_due(const struct lscd *d, const struct wtp *w, int64_t *due)
{
	/* The one computation provision.c acts on, clock guard included. */
	return lifecycle_ap_renew_due(d, w, due);
}

typedef bool show_timer_source(struct lscd *d, struct show_timers *out);

/* A trustpoint waiting to retry its CA after a failure. */
static bool timers_tp_retry(struct lscd *d, struct show_timers *out)
{
	struct timeval due, now;

	if (d->tpm == NULL)
		return true;
	gettimeofday(&now, NULL);
	for (size_t i = 0; i < d->tpm->n; i++) {
		struct tpm_entry *e = &d->tpm->entries[i];
		/* libevent gives a pending timer's expiry on the real-time clock. */
		if (e->retry == NULL || !event_pending(e->retry, EV_TIMEOUT, &due))
			continue;
		int64_t ms = ((int64_t)due.tv_sec - now.tv_sec) * 1000 + ((int64_t)due.tv_usec - now.tv_usec) / 1000;
		if (!show_timers_add(out, "RETRY", e->name, lscd_wall_time(d) + ms / 1000, ms))
			return false;
	}
	return true;
}

/* A connected AP whose LSC will be renewed by re-provisioning (only where
 * provisioning applies: otherwise nothing happens when it is due). */
static bool timers_ap_renew(struct lscd *d, struct show_timers *out)
{
	int64_t now = lscd_wall_time(d), due;
	struct wtp *w;
	char mac[18];

	TAILQ_FOREACH(w, &d->wtps, link) {
		if (!w->identified || w->state == WTP_DEAD || !cfg_lsc_applies(d->cfg, w->mac) ||
		    !show_ap_renew_due(d, w, &due))
			continue;
		capwap_mac_format(w->mac, CAPWAP_MAC_COLON, mac);
		if (!show_timers_add(out, "AP-RENEW", mac, due, (due - now) * 1000))
			return false;
	}
	return true;
}

/* Trustpoint RENEW, SHADOW, ROLLOVER and POLL (ctrl/lifecycle.c). */
static bool timers_lifecycle(struct lscd *d, struct show_timers *out)
{
	struct lc_timer t[4 * CFG_MAX_TRUSTPOINTS];
	size_t n = lifecycle_timers(d, t, sizeof(t) / sizeof(t[0]));

	for (size_t i = 0; i < n && i < sizeof(t) / sizeof(t[0]); i++)
		if (!show_timers_add(out, t[i].name, t[i].subject, t[i].due, t[i].remaining_ms))
			return false;
	return true;
}

/* Add a source here for each new kind of timer. */
static show_timer_source *const timer_sources[] = {
	timers_tp_retry,
	timers_ap_renew,
	timers_lifecycle,
};

static int cmp_timer(const void *a, const void *b)
{
	const struct show_timer *x = a, *y = b;
	if (x->remaining_ms != y->remaining_ms)
		return x->remaining_ms < y->remaining_ms ? -1 : 1;
	int c = strcmp(x->name, y->name);
	return c != 0 ? c : strcmp(x->subject, y->subject);
}

bool show_timers_collect(struct lscd *d, struct show_timers *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(timer_sources) / sizeof(timer_sources[0]); i++) {
		if (!timer_sources[i](d, out)) {
			show_timers_free(out);
			return false;
		}
	}
	if (out->n > 1)
		qsort(out->t, out->n, sizeof(out->t[0]), cmp_timer);
	return true;
}

json_t *show_pki_timers(struct lscd *d, char *err, size_t errlen)
{
	struct show_timers t;
	json_t *o = json_object(), *list = json_array();

	if (o == NULL || list == NULL || !show_timers_collect(d, &t)) {
		json_decref(o);
		json_decref(list);
		return fail(err, errlen, "out of memory");
	}
	for (size_t i = 0; i < t.n; i++) {
		json_t *e = json_object();
		set(e, "name", show_text(t.t[i].name));
		set(e, "subject", show_text(t.t[i].subject));
		set(e, "remaining_ms", json_integer(t.t[i].remaining_ms));
		set(e, "due", json_integer(t.t[i].due));
		json_array_append_new(list, e);
	}
	show_timers_free(&t);
	set(o, "timers", list);
	return o;
}

/* ---- /status --------------------------------------------------------------- */

json_t *show_status(struct lscd *d, char *err, size_t errlen)
{
	json_t *o = json_object(), *aps = json_object(), *prov = json_object(), *tps = json_array();
	size_t n_run = 0, n_lsc = 0, n_mic = 0, n_ident = 0;
	struct wtp *w;

	if (o == NULL || aps == NULL || prov == NULL || tps == NULL) {
		json_decref(o);
		json_decref(aps);
		json_decref(prov);
		json_decref(tps);
		return fail(err, errlen, "out of memory");
	}
	TAILQ_FOREACH(w, &d->wtps, link) {
		if (!w->identified || w->state == WTP_DEAD)
			continue;
		n_ident++;
		n_run += w->state == WTP_RUN;
		n_lsc += w->cert.cert_class == CAPWAP_CERT_LSC;
		n_mic += w->cert.cert_class == CAPWAP_CERT_MIC;
	}
	set(o, "version", json_string(LSCD_VERSION));
	set(o, "config", show_text(d->config_path));
	set(o, "capwap_listening", json_boolean(d->ac_running));
	set(aps, "sessions", json_integer((json_int_t)d->n_wtps));
	set(aps, "connected", json_integer((json_int_t)n_ident));
	set(aps, "run", json_integer((json_int_t)n_run));
	set(aps, "lsc", json_integer((json_int_t)n_lsc));
	set(aps, "mic", json_integer((json_int_t)n_mic));
	set(aps, "handshakes", json_integer((json_int_t)d->n_handshakes));
	set(aps, "known", json_integer((json_int_t)store_ap_count(d->store)));
	set(o, "aps", aps);
	set(prov, "mode", json_string(cfg_lsc_mode_name(d->cfg->lsc.mode)));
	set(prov, "provision_list_count", json_integer((json_int_t)d->cfg->lsc.n_macs));
	set(prov, "in_flight", json_integer(prov_in_flight(d)));
	if (d->prov != NULL) {
		const struct prov_stats *s = prov_get_stats(d);
		set(prov, "params_sent", json_integer((json_int_t)s->params_sent));
		set(prov, "csrs_accepted", json_integer((json_int_t)s->csrs_accepted));
		set(prov, "csrs_refused", json_integer((json_int_t)s->csrs_refused));
		set(prov, "enrollments_succeeded", json_integer((json_int_t)s->enrollments_succeeded));
		set(prov, "enrollments_failed", json_integer((json_int_t)s->enrollments_failed));
		set(prov, "certs_delivered", json_integer((json_int_t)s->certs_delivered));
		set(prov, "mic_fallbacks", json_integer((json_int_t)s->mic_fallbacks));
		set(prov, "loops_suspected", json_integer((json_int_t)s->loops_suspected));
	}
	set(o, "provisioning", prov);
	for (size_t i = 0; i < d->cfg->n_trustpoints; i++) {
		const char *name = d->cfg->trustpoints[i].name;
		struct tpm_entry *e = tpm_find(d, name);
		struct pki_buf der = { 0 };
		json_t *t = json_object();
		set(t, "name", show_text(name));
		set(t, "authenticated", e != NULL && e->tp != NULL ? json_boolean(e->authenticated) : json_null());
		set(t, "identity", json_boolean(tpm_cert(d, name, PKI_TP_CERT_IDENTITY, &der)));
		pki_buf_free(&der);
		json_array_append_new(tps, t);
	}
	set(o, "trustpoints", tps);
	return o;
}
