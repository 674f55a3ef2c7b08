/*
 * tests/drivers/pki_driver.c - exercises pki/ for the end-to-end tests.
 *
 * One subcommand per run; the result is one JSON object on stdout. Uses
 * only pki/pki.h, libevent and jansson, exactly as lscd will.
 *
 *   pki_driver COMMAND [options]
 *
 * Commands:
 *   authenticate            GetCACaps + GetCACert + pin check
 *   caps                    GetCACaps and the algorithms it implies
 *   enroll                  own-key PKCSReq (authenticates first if needed)
 *   renew                   RenewalReq signed with the identity cert
 *   proxy-enroll --csr F    enroll someone else's CSR through a clone
 *   resume --state F        continue an exported proxy enrollment
 *   concurrent --csr-dir D  every *.csr in D at once (or --sequential)
 *   get-next-ca             GetNextCACert
 *   make-csr                generate a key and a CSR, as an AP does
 *   inspect-csr F / inspect-cert F
 *
 * Options: --dir D --name N --url U --pin HEX --subject S --key SPEC
 *   --key-file F --challenge PW --timeout-ms N --connect-timeout-ms N
 *   --poll-first-ms N --poll-retries N --poll-cap-ms N --max-concurrent N
 *   --out F --out-dir D --export-on-pending F --tick-ms N --sequential
 *   --key-out F --csr-out F --free-on-pending
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "pki/pki.h"

struct opts {
	const char *cmd;
	const char *dir, *name, *url, *pin, *subject, *key, *key_file, *challenge;
	unsigned timeout_ms, connect_timeout_ms, poll_first_ms, poll_retries;
	unsigned poll_cap_ms, max_concurrent, tick_ms;
	bool have_retries, sequential, free_on_pending;
	const char *csr, *state, *csr_dir, *out, *out_dir, *export_on_pending;
	const char *key_out, *csr_out, *file;
};

struct run {
	struct opts *o;
	struct event_base *base;
	struct pki_ctx *ctx;
	struct pki_trustpoint *tp;
	json_t *out;
	int outstanding;
	bool failed;
	/* concurrent */
	struct event *tick;
	unsigned long ticks, ticks_busy;
	uint64_t last_tick_ms, max_gap_ms, first_done_ms, last_done_ms, start_ms;
	unsigned long ticks_at_first_done;
	json_t *results;
	char **csr_files;
	struct pki_buf *csrs;
	size_t n_csrs, next_csr;
	unsigned done_ok;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void die(const char *what, const struct pki_error *err)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "status", pki_status_name(err->status),
			      "reason", err->reason, "stage", what);

	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
	exit(1);
}

static json_t *fps(const uint8_t md5[16], const uint8_t sha1[20], const uint8_t sha256[32])
{
	char a[PKI_FP_MAX], b[PKI_FP_MAX], c[PKI_FP_MAX], d[PKI_FP_MAX];

	return json_pack("{s:s, s:s, s:s, s:s}",
			 "md5", pki_fp_format(md5, 16, PKI_FP_IOS, a, sizeof(a)),
			 "sha1", pki_fp_format(sha1, 20, PKI_FP_IOS, b, sizeof(b)),
			 "sha256", pki_fp_format(sha256, 32, PKI_FP_IOS, c, sizeof(c)),
			 "sha256_hex", pki_fp_format(sha256, 32, PKI_FP_HEX, d, sizeof(d)));
}

static void set_err(json_t *o, const struct pki_error *err)
{
	json_object_set_new(o, "status", json_string(pki_status_name(err->status)));
	json_object_set_new(o, "reason", json_string(err->reason));
	if (err->http_code)
		json_object_set_new(o, "http_code", json_integer(err->http_code));
	if (err->status == PKI_ERR_CA_REJECTED)
		json_object_set_new(o, "fail_info",
				    json_string(pki_fail_info_name(err->fail_info)));
}

static json_t *pem_of(const uint8_t *der, size_t len)
{
	struct pki_buf pem;
	json_t *s;

	if (!der || pki_der_to_pem(der, len, "CERTIFICATE", &pem, NULL) < 0)
		return json_null();
	s = json_string((const char *)pem.data);
	pki_buf_free(&pem);
	return s;
}

static void write_file(const char *path, const uint8_t *der, size_t len)
{
	struct pki_buf pem;
	struct pki_error err;

	if (pki_der_to_pem(der, len, "CERTIFICATE", &pem, &err) < 0 ||
	    pki_file_write(path, pem.data, pem.len, 0644, &err) < 0)
		die("write", &err);
	pki_buf_free(&pem);
}

static json_t *caps_json(const struct pki_caps *caps)
{
	struct pki_scep_algs algs;
	char text[256];

	pki_caps_select(caps, &algs);
	return json_pack("{s:b, s:s, s:{s:b, s:s, s:s}}", "known", caps->known,
			 "caps", pki_caps_format(caps, text, sizeof(text)), "select",
			 "post", algs.post, "digest", pki_digest_name(algs.digest),
			 "cipher", pki_cipher_name(algs.cipher));
}

static void done_one(struct run *r)
{
	if (--r->outstanding <= 0)
		event_base_loopbreak(r->base);
}

/* --- authenticate / caps --- */

static void auth_cb(const struct pki_auth_result *res, void *arg)
{
	struct run *r = arg;
	json_t *a = json_object();

	set_err(a, &res->err);
	json_object_set_new(a, "authenticated", json_boolean(pki_tp_is_authenticated(r->tp)));
	if (res->ca) {
		struct pki_cert_info ci;

		json_object_set_new(a, "fingerprints", fps(res->md5, res->sha1, res->sha256));
		if (pki_cert_inspect(res->ca, res->ca_len, &ci, NULL) == 0)
			json_object_set_new(a, "ca_subject", json_string(ci.subject.line));
	}
	json_object_set_new(a, "ra_enc", json_boolean(res->ra_enc));
	json_object_set_new(a, "ra_sig", json_boolean(res->ra_sig));
	json_object_set_new(a, "caps", caps_json(&res->caps));
	json_object_set_new(r->out, "auth", a);
	if (res->err.status != PKI_OK)
		r->failed = true;
	done_one(r);
}

static void caps_cb(const struct pki_error *err, const struct pki_caps *caps, void *arg)
{
	struct run *r = arg;

	json_t *c = caps_json(caps);

	set_err(r->out, err);
	json_object_update(r->out, c);
	json_decref(c);
	done_one(r);
}

static void run_loop(struct run *r)
{
	event_base_dispatch(r->base);
}

static void ensure_auth(struct run *r)
{
	struct pki_error err;

	if (pki_tp_is_authenticated(r->tp))
		return;
	r->outstanding = 1;
	if (!pki_tp_authenticate(r->tp, auth_cb, r, &err))
		die("authenticate", &err);
	run_loop(r);
	if (r->failed) {
		json_t *a = json_object_get(r->out, "auth");

		json_object_set(r->out, "status", json_object_get(a, "status"));
		json_object_set(r->out, "reason", json_object_get(a, "reason"));
		json_dumpf(r->out, stdout, JSON_COMPACT);
		putchar('\n');
		exit(1);
	}
}

/* --- enrollments --- */

static void fill_enroll(json_t *o, const struct pki_enroll_result *res)
{
	set_err(o, &res->err);
	json_object_set_new(o, "type", json_integer(res->type));
	json_object_set_new(o, "txid", json_string(res->txid));
	json_object_set_new(o, "clone", res->clone ? json_string(res->clone) : json_null());
	json_object_set_new(o, "polls", json_integer(res->polls));
	json_object_set_new(o, "elapsed_ms", json_integer((json_int_t)res->elapsed_ms));
	json_object_set_new(o, "cert_pem", pem_of(res->cert, res->cert_len));
	json_object_set_new(o, "ca_pem", pem_of(res->ca, res->ca_len));
	if (res->cert) {
		struct pki_cert_info ci;

		if (pki_cert_inspect(res->cert, res->cert_len, &ci, NULL) == 0) {
			json_object_set_new(o, "serial", json_string(ci.serial_hex));
			json_object_set_new(o, "subject", json_string(ci.subject.line));
			json_object_set_new(o, "issuer", json_string(ci.issuer.line));
		}
	}
}

static void enroll_cb(const struct pki_enroll_result *res, void *arg)
{
	struct run *r = arg;
	struct pki_tp_stats st;

	fill_enroll(r->out, res);
	pki_tp_get_stats(r->tp, &st);
	json_object_set_new(r->out, "clones_after", json_integer(st.clones));
	json_object_set_new(r->out, "has_identity", json_boolean(pki_tp_has_identity(r->tp)));
	if (res->cert && r->o->out)
		write_file(r->o->out, res->cert, res->cert_len);
	if (res->err.status != PKI_OK)
		r->failed = true;
	done_one(r);
}

static void pending_cb(struct pki_op *op, unsigned polls, unsigned next_ms, void *arg)
{
	struct run *r = arg;
	struct pki_error err;
	json_t *p = json_object_get(r->out, "pending");
	char *state;

	if (!p) {
		p = json_array();
		json_object_set_new(r->out, "pending", p);
	}
	json_array_append_new(p, json_pack("{s:i, s:i}", "polls", polls, "next_ms", next_ms));
	if (r->o->free_on_pending) {
		/* Lifetime check: the trustpoint may go from inside its callback. */
		pki_tp_free(r->tp);
		r->tp = NULL;
		json_object_set_new(r->out, "status", json_string("FREED"));
		done_one(r);
		return;
	}
	if (!r->o->export_on_pending)
		return;
	if (pki_op_export(op, &state, &err) < 0)
		die("export", &err);
	if (pki_file_write(r->o->export_on_pending, state, strlen(state), 0600, &err) < 0)
		die("export", &err);
	free(state);
	json_object_set_new(r->out, "status", json_string("EXPORTED"));
	pki_op_cancel(op);
	done_one(r);
}

static void cmd_enroll(struct run *r, bool renew)
{
	struct pki_error err;
	struct pki_op *op;

	ensure_auth(r);
	r->outstanding = 1;
	op = renew ? pki_tp_renew(r->tp, enroll_cb, r, &err)
		   : pki_tp_enroll(r->tp, enroll_cb, r, &err);
	if (!op)
		die("enroll", &err);
	run_loop(r);
}

static void cmd_proxy(struct run *r)
{
	struct pki_buf csr;
	struct pki_error err;
	struct pki_op *op;

	if (!r->o->csr) {
		err.status = PKI_ERR_INVALID;
		snprintf(err.reason, sizeof(err.reason), "--csr missing");
		die("csr", &err);
	}
	if (pki_load_der(r->o->csr, &csr, &err) < 0)
		die("csr", &err);
	ensure_auth(r);
	r->outstanding = 1;
	op = pki_proxy_enroll(r->tp, csr.data, csr.len, enroll_cb, r, &err);
	pki_buf_free(&csr);
	if (!op)
		die("proxy-enroll", &err);
	pki_op_set_pending_cb(op, pending_cb);
	run_loop(r);
}

static void cmd_resume(struct run *r)
{
	struct pki_buf st;
	struct pki_error err;
	struct pki_op *op;

	if (!r->o->state) {
		err.status = PKI_ERR_INVALID;
		snprintf(err.reason, sizeof(err.reason), "--state missing");
		die("resume", &err);
	}
	if (pki_file_read(r->o->state, 1 << 20, &st, &err) < 0)
		die("resume", &err);
	r->outstanding = 1;
	op = pki_enroll_resume(r->tp, (const char *)st.data, enroll_cb, r, &err);
	pki_buf_free(&st);
	if (!op)
		die("resume", &err);
	pki_op_set_pending_cb(op, pending_cb);
	run_loop(r);
}

/* --- concurrent --- */

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	uint64_t t = now_ms();

	(void)fd;
	(void)what;
	r->ticks++;
	if (r->outstanding > 0)
		r->ticks_busy++;
	if (r->last_tick_ms && t - r->last_tick_ms > r->max_gap_ms)
		r->max_gap_ms = t - r->last_tick_ms;
	r->last_tick_ms = t;
}

static void start_next(struct run *r);

static void conc_cb(const struct pki_enroll_result *res, void *arg)
{
	struct run *r = arg;
	json_t *o = json_object();
	uint64_t t = now_ms();

	fill_enroll(o, res);
	json_object_del(o, "ca_pem");
	if (!r->first_done_ms) {
		r->first_done_ms = t;
		r->ticks_at_first_done = r->ticks;
	}
	r->last_done_ms = t;
	if (res->err.status == PKI_OK)
		r->done_ok++;
	json_array_append_new(r->results, o);
	if (r->o->sequential)
		start_next(r);
	done_one(r);
}

static void start_one(struct run *r, size_t i)
{
	struct pki_error err;

	if (!pki_proxy_enroll(r->tp, r->csrs[i].data, r->csrs[i].len, conc_cb, r, &err)) {
		json_t *o = json_object();

		set_err(o, &err);
		json_array_append_new(r->results, o);
		done_one(r);
	}
}

static void start_next(struct run *r)
{
	if (r->next_csr < r->n_csrs)
		start_one(r, r->next_csr++);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void cmd_concurrent(struct run *r)
{
	struct timeval tv = { 0, (suseconds_t)(r->o->tick_ms ? r->o->tick_ms : 5) * 1000 };
	struct pki_error err;
	struct dirent *de;
	size_t cap = 0, i;
	DIR *d;

	if (!r->o->csr_dir || !(d = opendir(r->o->csr_dir))) {
		err.status = PKI_ERR_IO;
		snprintf(err.reason, sizeof(err.reason), "--csr-dir: %s", strerror(errno));
		die("concurrent", &err);
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n < 5 || strcmp(de->d_name + n - 4, ".csr"))
			continue;
		if (r->n_csrs == cap) {
			cap = cap ? 2 * cap : 64;
			r->csr_files = realloc(r->csr_files, cap * sizeof(char *));
		}
		r->csr_files[r->n_csrs++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(r->csr_files, r->n_csrs, sizeof(char *), cmp_str);
	r->csrs = calloc(r->n_csrs + 1, sizeof(*r->csrs));
	for (i = 0; i < r->n_csrs; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", r->o->csr_dir, r->csr_files[i]);
		if (pki_load_der(path, &r->csrs[i], &err) < 0)
			die("csr", &err);
	}
	ensure_auth(r);
	r->results = json_array();
	r->tick = event_new(r->base, -1, EV_PERSIST, tick_cb, r);
	event_add(r->tick, &tv);
	r->outstanding = (int)r->n_csrs;
	r->start_ms = now_ms();
	if (r->o->sequential)
		start_next(r);
	else
		while (r->next_csr < r->n_csrs)
			start_next(r);
	if (r->n_csrs)
		run_loop(r);
	event_free(r->tick);
	json_object_set_new(r->out, "status", json_string(r->done_ok == r->n_csrs ? "OK" : "SOME_FAILED"));
	json_object_set_new(r->out, "count", json_integer((json_int_t)r->n_csrs));
	json_object_set_new(r->out, "ok", json_integer(r->done_ok));
	json_object_set_new(r->out, "elapsed_ms", json_integer((json_int_t)(now_ms() - r->start_ms)));
	json_object_set_new(r->out, "ticks", json_integer((json_int_t)r->ticks));
	json_object_set_new(r->out, "ticks_busy", json_integer((json_int_t)r->ticks_busy));
	json_object_set_new(r->out, "ticks_between_first_and_last_completion",
			    json_integer((json_int_t)(r->ticks - r->ticks_at_first_done)));
	json_object_set_new(r->out, "max_tick_gap_ms", json_integer((json_int_t)r->max_gap_ms));
	if (r->o->out_dir) {
		size_t k;

		for (k = 0; k < json_array_size(r->results); k++) {
			json_t *o = json_array_get(r->results, k);
			const char *pem = json_string_value(json_object_get(o, "cert_pem"));
			const char *txid = json_string_value(json_object_get(o, "txid"));
			char path[4096];

			if (pem && txid) {
				snprintf(path, sizeof(path), "%s/%s.pem", r->o->out_dir, txid);
				if (pki_file_write(path, pem, strlen(pem), 0644, &err) < 0)
					die("write", &err);
			}
		}
	}
	for (i = 0; i < r->n_csrs; i++) {
		pki_buf_free(&r->csrs[i]);
		free(r->csr_files[i]);
	}
	free(r->csrs);
	free(r->csr_files);
	json_object_set_new(r->out, "results", r->results);
	if (r->done_ok != r->n_csrs)
		r->failed = true;
}

/* --- next CA --- */

static void nextca_cb(const struct pki_nextca_result *res, void *arg)
{
	struct run *r = arg;
	char hex[PKI_FP_MAX];

	set_err(r->out, &res->err);
	if (res->ca) {
		json_object_set_new(r->out, "sha256_hex",
				    json_string(pki_fp_format(res->sha256, 32, PKI_FP_HEX, hex,
							      sizeof(hex))));
		json_object_set_new(r->out, "ca_pem", pem_of(res->ca, res->ca_len));
		if (r->o->out)
			write_file(r->o->out, res->ca, res->ca_len);
	}
	if (res->err.status != PKI_OK)
		r->failed = true;
	done_one(r);
}

/* --- offline helpers --- */

static int cmd_make_csr(struct opts *o)
{
	struct pki_key_spec spec;
	struct pki_subject subj;
	struct pki_key *key;
	struct pki_buf csr, pem;
	struct pki_csr_info info;
	struct pki_error err;
	json_t *out;

	if (!o->key_out || !o->csr_out || !o->subject) {
		err.status = PKI_ERR_INVALID;
		snprintf(err.reason, sizeof(err.reason), "need --key-out --csr-out --subject");
		die("make-csr", &err);
	}
	if (pki_key_spec_parse(o->key ? o->key : "rsa2048", &spec, &err) < 0 ||
	    pki_subject_parse(o->subject, &subj, &err) < 0)
		die("make-csr", &err);
	if (o->key_file) {
		if (pki_key_load(o->key_file, &key, &err) < 0)
			die("make-csr", &err);
	} else if (pki_key_generate(&spec, &key, &err) < 0 ||
		   pki_key_save(key, o->key_out, &err) < 0) {
		die("make-csr", &err);
	}
	if (pki_csr_build(key, &subj, o->challenge, &csr, &err) < 0 ||
	    pki_der_to_pem(csr.data, csr.len, "CERTIFICATE REQUEST", &pem, &err) < 0 ||
	    pki_file_write(o->csr_out, pem.data, pem.len, 0644, &err) < 0 ||
	    pki_csr_inspect(csr.data, csr.len, &info, &err) < 0)
		die("make-csr", &err);
	out = json_pack("{s:s, s:s}", "status", "OK", "txid", info.txid);
	json_dumpf(out, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(out);
	pki_buf_free(&csr);
	pki_buf_free(&pem);
	pki_key_free(key);
	return 0;
}

static int cmd_inspect(struct opts *o, bool csr)
{
	struct pki_buf der;
	struct pki_error err;
	json_t *out, *attrs;
	unsigned i;

	if (!o->file || pki_load_der(o->file, &der, &err) < 0) {
		if (!o->file) {
			err.status = PKI_ERR_INVALID;
			snprintf(err.reason, sizeof(err.reason), "no file");
		}
		die("inspect", &err);
	}
	if (csr) {
		struct pki_csr_info ci;
		char ks[16];

		if (pki_csr_inspect(der.data, der.len, &ci, &err) < 0)
			die("inspect", &err);
		out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
				"status", "OK", "txid", ci.txid, "cn", ci.subject.cn,
				"o", ci.subject.o, "ou", ci.subject.ou, "c", ci.subject.c,
				"key", pki_key_spec_format(&ci.key, ks, sizeof(ks)),
				"key_curve", ci.key_curve, "sig_alg", ci.sig_alg,
				"subject", ci.name.line, "has_challenge", ci.has_challenge);
	} else {
		struct pki_cert_info ci;

		if (pki_cert_inspect(der.data, der.len, &ci, &err) < 0)
			die("inspect", &err);
		attrs = json_array();
		for (i = 0; i < ci.subject.n_attrs; i++)
			json_array_append_new(attrs, json_sprintf("%s=%s", ci.subject.attrs[i].name,
								  ci.subject.attrs[i].value));
		out = json_pack("{s:s, s:i, s:s, s:s, s:s, s:o, s:s, s:i, s:s, s:b, s:i, s:s, s:o}",
				"status", "OK", "version", ci.version, "serial", ci.serial_hex,
				"subject", ci.subject.line, "issuer", ci.issuer.line,
				"subject_attrs", attrs, "key_alg", ci.key_alg,
				"key_bits", (int)ci.key.bits, "sig_alg", ci.sig_alg,
				"is_ca", ci.is_ca, "key_usage", (int)ci.key_usage,
				"usage", pki_cert_usage_name(&ci),
				"fingerprints", fps(ci.md5, ci.sha1, ci.sha256));
	}
	json_dumpf(out, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(out);
	pki_buf_free(&der);
	return 0;
}

static unsigned num(const char *s, const char *opt)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*end || end == s || v > 0xffffffffUL) {
		fprintf(stderr, "pki_driver: %s: not a number\n", opt);
		exit(2);
	}
	return (unsigned)v;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "dir", 1, NULL, 'd' }, { "name", 1, NULL, 'n' }, { "url", 1, NULL, 'u' },
		{ "pin", 1, NULL, 'p' }, { "subject", 1, NULL, 's' }, { "key", 1, NULL, 'k' },
		{ "key-file", 1, NULL, 'K' }, { "challenge", 1, NULL, 'c' },
		{ "timeout-ms", 1, NULL, 't' }, { "connect-timeout-ms", 1, NULL, 'T' },
		{ "poll-first-ms", 1, NULL, 'f' }, { "poll-retries", 1, NULL, 'r' },
		{ "poll-cap-ms", 1, NULL, 'C' }, { "max-concurrent", 1, NULL, 'm' },
		{ "csr", 1, NULL, 'q' }, { "state", 1, NULL, 'S' }, { "csr-dir", 1, NULL, 'D' },
		{ "out", 1, NULL, 'o' }, { "out-dir", 1, NULL, 'O' },
		{ "export-on-pending", 1, NULL, 'e' }, { "tick-ms", 1, NULL, 'i' },
		{ "sequential", 0, NULL, 'Q' }, { "key-out", 1, NULL, 'x' },
		{ "csr-out", 1, NULL, 'y' }, { "free-on-pending", 0, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	if (argc < 2) {
		fprintf(stderr, "usage: pki_driver COMMAND [options] (see the source)\n");
		exit(2);
	}
	o->cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->dir = optarg; break;
		case 'n': o->name = optarg; break;
		case 'u': o->url = optarg; break;
		case 'p': o->pin = optarg; break;
		case 's': o->subject = optarg; break;
		case 'k': o->key = optarg; break;
		case 'K': o->key_file = optarg; break;
		case 'c': o->challenge = optarg; break;
		case 't': o->timeout_ms = num(optarg, "--timeout-ms"); break;
		case 'T': o->connect_timeout_ms = num(optarg, "--connect-timeout-ms"); break;
		case 'f': o->poll_first_ms = num(optarg, "--poll-first-ms"); break;
		case 'r': o->poll_retries = num(optarg, "--poll-retries"); o->have_retries = true; break;
		case 'C': o->poll_cap_ms = num(optarg, "--poll-cap-ms"); break;
		case 'm': o->max_concurrent = num(optarg, "--max-concurrent"); break;
		case 'q': o->csr = optarg; break;
		case 'S': o->state = optarg; break;
		case 'D': o->csr_dir = optarg; break;
		case 'o': o->out = optarg; break;
		case 'O': o->out_dir = optarg; break;
		case 'e': o->export_on_pending = optarg; break;
		case 'i': o->tick_ms = num(optarg, "--tick-ms"); break;
		case 'Q': o->sequential = true; break;
		case 'x': o->key_out = optarg; break;
		case 'y': o->csr_out = optarg; break;
		case 'F': o->free_on_pending = true; break;
		default: exit(2);
		}
	}
	if (optind < argc)
		o->file = argv[optind];
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct pki_tp_config cfg;
	struct pki_error err;
	struct run r = { 0 };
	int rc;

	/* Line-buffered: each JSON line is out even if a sanitizer _exit()s. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv, &o);
	if (pki_init(&err) < 0)
		die("init", &err);
	if (!strcmp(o.cmd, "make-csr"))
		return cmd_make_csr(&o);
	if (!strcmp(o.cmd, "inspect-csr"))
		return cmd_inspect(&o, true);
	if (!strcmp(o.cmd, "inspect-cert"))
		return cmd_inspect(&o, false);

	pki_tp_config_defaults(&cfg);
	cfg.name = o.name ? o.name : "TP";
	cfg.url = o.url;
	cfg.subject = o.subject;
	cfg.key_file = o.key_file;
	cfg.challenge = o.challenge;
	cfg.ca_fingerprint = o.pin;
	if (o.key && pki_key_spec_parse(o.key, &cfg.key, &err) < 0)
		die("config", &err);
	if (o.timeout_ms)
		cfg.http_timeout_ms = o.timeout_ms;
	if (o.connect_timeout_ms)
		cfg.connect_timeout_ms = o.connect_timeout_ms;
	if (o.poll_first_ms)
		cfg.poll_first_ms = o.poll_first_ms;
	if (o.have_retries)
		cfg.poll_retries = o.poll_retries;
	if (o.poll_cap_ms)
		cfg.poll_cap_ms = o.poll_cap_ms;
	else if (cfg.poll_first_ms > cfg.poll_cap_ms)
		cfg.poll_cap_ms = cfg.poll_first_ms;
	if (o.max_concurrent)
		cfg.max_concurrent = o.max_concurrent;

	r.o = &o;
	r.out = json_object();
	r.base = event_base_new();
	if (!r.base || !(r.ctx = pki_ctx_new(r.base, &err)))
		die("init", &err);
	if (pki_tp_open(r.ctx, &cfg, o.dir ? o.dir : "pki-state", &r.tp, &err) < 0)
		die("open", &err);

	if (!strcmp(o.cmd, "authenticate")) {
		r.outstanding = 1;
		if (!pki_tp_authenticate(r.tp, auth_cb, &r, &err))
			die("authenticate", &err);
		run_loop(&r);
		json_object_update(r.out, json_object_get(r.out, "auth"));
		json_object_del(r.out, "auth");
	} else if (!strcmp(o.cmd, "caps")) {
		r.outstanding = 1;
		if (!pki_tp_fetch_caps(r.tp, caps_cb, &r, &err))
			die("caps", &err);
		run_loop(&r);
	} else if (!strcmp(o.cmd, "enroll")) {
		cmd_enroll(&r, false);
	} else if (!strcmp(o.cmd, "renew")) {
		cmd_enroll(&r, true);
	} else if (!strcmp(o.cmd, "proxy-enroll")) {
		cmd_proxy(&r);
	} else if (!strcmp(o.cmd, "resume")) {
		cmd_resume(&r);
	} else if (!strcmp(o.cmd, "concurrent")) {
		cmd_concurrent(&r);
	} else if (!strcmp(o.cmd, "get-next-ca")) {
		ensure_auth(&r);
		r.outstanding = 1;
		if (!pki_tp_get_next_ca(r.tp, nextca_cb, &r, &err))
			die("get-next-ca", &err);
		run_loop(&r);
	} else {
		fprintf(stderr, "pki_driver: unknown command %s\n", o.cmd);
		return 2;
	}
	if (r.tp) {
		struct pki_tp_stats st;

		pki_tp_get_stats(r.tp, &st);
		json_object_set_new(r.out, "ops_left", json_integer(st.ops));
	}
	json_dumpf(r.out, stdout, JSON_COMPACT);
	putchar('\n');
	fflush(stdout);		/* LeakSanitizer exits without flushing stdio */
	rc = r.failed ? 1 : 0;
	json_decref(r.out);
	pki_tp_free(r.tp);
	pki_ctx_free(r.ctx);
	event_base_free(r.base);
	return rc;
}
