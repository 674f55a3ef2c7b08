/*
 * tests/unit/test_pki_tp.c - trustpoint state on disk, configuration
 * errors, and the asynchronous client against loopback sockets that refuse
 * or never answer (no CA needed): errors arrive through the callback, the
 * loop keeps running, cancelled operations stay silent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>
#include <cmocka.h>
#include <event2/event.h>

#include "pki/pki.h"
#include "test_pki_vectors.h"

static char root[] = "/tmp/test_pki_tp.XXXXXX";
static int test_no;

struct cb_state {
	int calls;
	struct pki_error err;
	char clone[64];
	char txid[PKI_TXID_LEN + 1];
	struct event_base *base;
};

static void cfg_init(struct pki_tp_config *c, const char *url)
{
	pki_tp_config_defaults(c);
	c->name = "TP";
	c->url = url;
	c->key.type = PKI_KEY_RSA;
	c->key.bits = 2048;
	c->ca_fingerprint = VEC_CA_SHA256;
	c->subject = "C=US,O=lscd,CN=wlc";
}

/* A fresh parent directory per test. */
static const char *fresh_dir(void)
{
	static char d[300];

	snprintf(d, sizeof(d), "%s/t%d", root, ++test_no);
	return d;
}

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/TP", dir);
	mkdir(dir, 0700);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/TP/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A port nothing listens on, and one that accepts connections but never reads. */
static int closed_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t l = sizeof(sin);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(s, (struct sockaddr *)&sin, &l);
	close(s);
	return ntohs(sin.sin_port);
}

static int silent_listener(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t l = sizeof(sin);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s, 64), 0);
	getsockname(s, (struct sockaddr *)&sin, &l);
	*port = ntohs(sin.sin_port);
	return s;
}

static void test_open_creates_state(void **state)
{
	const char *dir = fresh_dir();
	struct event_base *base = event_base_new();
	struct pki_ctx *ctx = pki_ctx_new(base, NULL);
	struct pki_tp_config c;
	struct pki_trustpoint *tp;
	struct pki_error err;
	struct pki_key_spec ks;
	struct pki_buf k1, k2;
	char path[512];
	struct stat st;
	mode_t old;

	(void)state;
	cfg_init(&c, "http://127.0.0.1:1/scep");
	c.key.type = PKI_KEY_EC;
	c.key.bits = 256;
	old = umask(0);
	assert_int_equal(pki_tp_open(ctx, &c, dir, &tp, &err), 0);
	umask(old);
	snprintf(path, sizeof(path), "%s/TP", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/TP/key.pem", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_string_equal(pki_tp_name(tp), "TP");
	assert_false(pki_tp_is_authenticated(tp));
	assert_false(pki_tp_has_identity(tp));
	pki_tp_get_key_spec(tp, &ks);
	assert_int_equal(ks.type, PKI_KEY_EC);
	assert_int_equal(pki_tp_revocation(tp), PKI_REVOCATION_NONE);
	assert_int_equal(pki_file_read(path, 65536, &k1, NULL), 0);
	pki_tp_free(tp);
	/* Reopen: the same key, not a new one. */
	assert_int_equal(pki_tp_open(ctx, &c, dir, &tp, &err), 0);
	assert_int_equal(pki_file_read(path, 65536, &k2, NULL), 0);
	assert_int_equal(k1.len, k2.len);
	assert_memory_equal(k1.data, k2.data, k1.len);
	pki_tp_free(tp);
	/* The configuration now asks for another key type: refuse, say why. */
	c.key.type = PKI_KEY_RSA;
	c.key.bits = 3072;
	assert_int_equal(pki_tp_open(ctx, &c, dir, &tp, &err), -1);
	assert_int_equal(err.status, PKI_ERR_CONFIG);
	assert_non_null(strstr(err.reason, "EC-P256"));
	assert_non_null(strstr(err.reason, "RSA-3072"));
	pki_buf_free(&k1);
	pki_buf_free(&k2);
	pki_ctx_free(ctx);
	event_base_free(base);
}

static void expect_config_error(struct pki_ctx *ctx, const struct pki_tp_config *c,
				const char *needle)
{
	struct pki_trustpoint *tp;
	struct pki_error err;

	assert_int_equal(pki_tp_open(ctx, c, fresh_dir(), &tp, &err), -1);
	assert_int_equal(err.status, PKI_ERR_CONFIG);
	if (!strstr(err.reason, needle))
		fail_msg("reason '%s' lacks '%s'", err.reason, needle);
}

static void test_config_errors(void **state)
{
	struct event_base *base = event_base_new();
	struct pki_ctx *ctx = pki_ctx_new(base, NULL);
	struct pki_tp_config c;

	(void)state;
	cfg_init(&c, "http://127.0.0.1:1/scep");
	c.name = "../etc";
	expect_config_error(ctx, &c, "trustpoint name");
	cfg_init(&c, "ftp://ca.example/scep");
	expect_config_error(ctx, &c, "enrollment URL");
	cfg_init(&c, "http://ca example/scep");
	expect_config_error(ctx, &c, "enrollment URL");
	cfg_init(&c, "http://127.0.0.1:1/scep");
	c.subject = "C=US,OX=bad";
	expect_config_error(ctx, &c, "component 2");
	cfg_init(&c, "http://127.0.0.1:1/scep");
	c.ca_fingerprint = "12:34";
	expect_config_error(ctx, &c, "64 hex digits");
	cfg_init(&c, "http://127.0.0.1:1/scep");
	c.poll_cap_ms = c.poll_first_ms - 1;
	expect_config_error(ctx, &c, "cap");
	cfg_init(&c, "http://127.0.0.1:1/scep");
	c.max_concurrent = 0;
	expect_config_error(ctx, &c, "max_concurrent");
	pki_ctx_free(ctx);
	event_base_free(base);
}

static void test_restore_and_pin(void **state)
{
	const char *dir = fresh_dir();
	struct event_base *base = event_base_new();
	struct pki_ctx *ctx = pki_ctx_new(base, NULL);
	struct pki_tp_config c;
	struct pki_trustpoint *tp;
	struct pki_error err;
	struct pki_buf der, want;

	(void)state;
	put_file(dir, "ca.pem", vec_ca_pem);
	put_file(dir, "caps.txt", "POSTPKIOperation\nSHA-256\nAES\n");
	cfg_init(&c, "http://127.0.0.1:1/scep");
	assert_int_equal(pki_tp_open(ctx, &c, dir, &tp, &err), 0);
	assert_true(pki_tp_is_authenticated(tp));
	assert_int_equal(pki_tp_get_cert(tp, PKI_TP_CERT_CA, &der, &err), 0);
	assert_int_equal(pki_pem_to_der(vec_ca_pem, strlen(vec_ca_pem), NULL, &want, NULL), 0);
	assert_int_equal(der.len, want.len);
	assert_memory_equal(der.data, want.data, der.len);
	pki_buf_free(&der);
	/* No RA: both RA roles fall back to the CA. */
	assert_int_equal(pki_tp_get_cert(tp, PKI_TP_CERT_RA_ENC, &der, &err), 0);
	assert_memory_equal(der.data, want.data, want.len);
	pki_buf_free(&der);
	assert_int_equal(pki_tp_get_cert(tp, PKI_TP_CERT_IDENTITY, &der, &err), -1);
	assert_int_equal(err.status, PKI_ERR_NOT_FOUND);
	{
		struct pki_caps caps;

		pki_tp_get_caps(tp, &caps);
		assert_true(caps.known);
		assert_true(caps.flags & PKI_CAP_POST);
	}
	pki_tp_free(tp);
	/* The pin changed: the stored CA is no longer trusted. */
	c.ca_fingerprint = "0000000000000000000000000000000000000000000000000000000000000000";
	assert_int_equal(pki_tp_open(ctx, &c, dir, &tp, &err), 0);
	assert_false(pki_tp_is_authenticated(tp));
	pki_tp_free(tp);
	pki_buf_free(&want);
	pki_ctx_free(ctx);
	event_base_free(base);
}

static void enroll_cb(const struct pki_enroll_result *res, void *arg)
{
	struct cb_state *s = arg;

	s->calls++;
	s->err = res->err;
	snprintf(s->clone, sizeof(s->clone), "%s", res->clone ? res->clone : "");
	snprintf(s->txid, sizeof(s->txid), "%s", res->txid ? res->txid : "");
	if (s->base)
		event_base_loopbreak(s->base);
}

static int auth_total;

static void auth_cb(const struct pki_auth_result *res, void *arg)
{
	struct cb_state *s = arg;

	s->calls++;
	s->err = res->err;
	/* The loop ends when all three queued requests have answered. */
	if (++auth_total == 3 && s->base)
		event_base_loopbreak(s->base);
}

static void run_for(struct event_base *base, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void test_preconditions(void **state)
{
	const char *dir = fresh_dir();
	struct event_base *base = event_base_new();
	struct pki_ctx *ctx = pki_ctx_new(base, NULL);
	struct pki_tp_config c;
	struct pki_trustpoint *tp;
	struct pki_error err;
	struct cb_state s = { .base = base };
	struct pki_buf csr;

	(void)state;
	cfg_init(&c, "http://127.0.0.1:1/scep");
	assert_int_equal(pki_tp_open(ctx, &c, dir, &tp, &err), 0);
	assert_int_equal(pki_pem_to_der(vec_ap_csr_pem, strlen(vec_ap_csr_pem), NULL, &csr, NULL), 0);
	assert_null(pki_tp_enroll(tp, enroll_cb, &s, &err));
	assert_int_equal(err.status, PKI_ERR_NOT_AUTHENTICATED);
	assert_null(pki_proxy_enroll(tp, csr.data, csr.len, enroll_cb, &s, &err));
	assert_int_equal(err.status, PKI_ERR_NOT_AUTHENTICATED);
	assert_null(pki_proxy_enroll(tp, (const uint8_t *)"junk", 4, enroll_cb, &s, &err));
	assert_int_equal(err.status, PKI_ERR_PARSE);
	assert_null(pki_tp_renew(tp, enroll_cb, &s, &err));
	assert_null(pki_tp_get_next_ca(tp, NULL, NULL, &err));
	assert_int_equal(err.status, PKI_ERR_NOT_AUTHENTICATED);
	pki_tp_free(tp);
	/* An EC trustpoint key cannot receive a CertRep (RSA key transport). */
	dir = fresh_dir();
	put_file(dir, "ca.pem", vec_ca_pem);
	c.key.type = PKI_KEY_EC;
	c.key.bits = 256;
	assert_int_equal(pki_tp_open(ctx, &c, dir, &tp, &err), 0);
	assert_null(pki_proxy_enroll(tp, csr.data, csr.len, enroll_cb, &s, &err));
	assert_int_equal(err.status, PKI_ERR_UNSUPPORTED);
	pki_tp_free(tp);
	assert_int_equal(s.calls, 0);
	pki_buf_free(&csr);
	pki_ctx_free(ctx);
	event_base_free(base);
}

static struct pki_trustpoint *authed_tp(struct pki_ctx *ctx, const char *url, bool caps)
{
	const char *dir = fresh_dir();
	struct pki_tp_config c;
	struct pki_trustpoint *tp;
	struct pki_error err;

	put_file(dir, "ca.pem", vec_ca_pem);
	if (caps)
		put_file(dir, "caps.txt", "POSTPKIOperation\nSHA-256\nAES\n");
	cfg_init(&c, url);
	c.http_timeout_ms = 300;
	c.max_concurrent = 1;
	assert_int_equal(pki_tp_open(ctx, &c, dir, &tp, &err), 0);
	assert_true(pki_tp_is_authenticated(tp));
	return tp;
}

static void test_unreachable_through_callback(void **state)
{
	struct event_base *base = event_base_new();
	struct pki_ctx *ctx = pki_ctx_new(base, NULL);
	char url[64];
	struct pki_trustpoint *tp;
	struct pki_error err;
	struct cb_state s = { .base = base };
	struct pki_buf csr;
	struct pki_tp_stats st;

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/scep", closed_port());
	tp = authed_tp(ctx, url, false);
	assert_int_equal(pki_pem_to_der(vec_ap_csr_pem, strlen(vec_ap_csr_pem), NULL, &csr, NULL), 0);
	assert_non_null(pki_proxy_enroll(tp, csr.data, csr.len, enroll_cb, &s, &err));
	pki_tp_get_stats(tp, &st);
	assert_int_equal(st.clones, 1);
	assert_int_equal(s.calls, 0);	/* never called before returning */
	run_for(base, 60000);	/* a safety net only: the callback ends the loop */
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.err.status, PKI_ERR_CA_UNREACHABLE);
	assert_non_null(strstr(s.err.reason, url));
	assert_string_equal(s.clone, "Proxy-TP1");
	assert_string_equal(s.txid, VEC_AP_TXID);
	pki_tp_get_stats(tp, &st);
	assert_int_equal(st.clones, 0);	/* the clone is gone */
	assert_int_equal(st.ops, 0);
	assert_int_equal(st.failed, 1);
	pki_buf_free(&csr);
	pki_tp_free(tp);
	pki_ctx_free(ctx);
	event_base_free(base);
}

static void test_timeout_and_queue(void **state)
{
	struct event_base *base = event_base_new();
	struct pki_ctx *ctx = pki_ctx_new(base, NULL);
	struct cb_state s[3] = { { .base = base }, { .base = base }, { .base = base } };
	struct pki_trustpoint *tp;
	struct pki_tp_stats st;
	struct pki_error err;
	char url[64];
	int port, ls = silent_listener(&port), i;

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/scep", port);
	tp = authed_tp(ctx, url, false);
	for (i = 0; i < 3; i++)
		assert_non_null(pki_tp_authenticate(tp, auth_cb, &s[i], &err));
	/* max_concurrent = 1: one request runs, two wait. */
	pki_tp_get_stats(tp, &st);
	assert_int_equal(st.in_flight, 1);
	assert_int_equal(st.queued, 2);
	auth_total = 0;
	run_for(base, 60000);	/* a safety net only: the callbacks end the loop */
	for (i = 0; i < 3; i++) {
		assert_int_equal(s[i].calls, 1);
		assert_int_equal(s[i].err.status, PKI_ERR_CA_TIMEOUT);
		assert_non_null(strstr(s[i].err.reason, "300 ms"));
	}
	pki_tp_get_stats(tp, &st);
	assert_int_equal(st.in_flight + st.queued + st.ops, 0);
	close(ls);
	pki_tp_free(tp);
	pki_ctx_free(ctx);
	event_base_free(base);
}

static void test_cancel_is_silent(void **state)
{
	struct event_base *base = event_base_new();
	struct pki_ctx *ctx = pki_ctx_new(base, NULL);
	struct cb_state s = { .base = NULL };
	struct pki_trustpoint *tp;
	struct pki_tp_stats st;
	struct pki_error err;
	struct pki_buf csr;
	struct pki_op *op;
	char url[64];
	int port, ls = silent_listener(&port);

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/scep", port);
	tp = authed_tp(ctx, url, true);
	assert_int_equal(pki_pem_to_der(vec_ap_csr_pem, strlen(vec_ap_csr_pem), NULL, &csr, NULL), 0);
	op = pki_proxy_enroll(tp, csr.data, csr.len, enroll_cb, &s, &err);
	assert_non_null(op);
	run_for(base, 50);	/* the request is on the wire now */
	pki_op_cancel(op);
	pki_tp_get_stats(tp, &st);
	assert_int_equal(st.ops + st.clones + st.in_flight, 0);
	/* In flight when the trustpoint goes: no callback, nothing leaks. */
	assert_non_null(pki_proxy_enroll(tp, csr.data, csr.len, enroll_cb, &s, &err));
	assert_non_null(pki_tp_authenticate(tp, auth_cb, &s, &err));
	run_for(base, 50);
	pki_tp_free(tp);
	run_for(base, 500);
	assert_int_equal(s.calls, 0);
	close(ls);
	pki_buf_free(&csr);
	pki_ctx_free(ctx);
	event_base_free(base);
}

static void test_export_resume(void **state)
{
	struct event_base *base = event_base_new();
	struct pki_ctx *ctx = pki_ctx_new(base, NULL);
	struct cb_state s = { .base = NULL };
	struct pki_trustpoint *tp;
	struct pki_error err;
	struct pki_buf csr;
	struct pki_op *op, *op2;
	char *json, *json2;
	int port, ls = silent_listener(&port);
	char url[64];

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/scep", port);
	tp = authed_tp(ctx, url, true);
	assert_int_equal(pki_pem_to_der(vec_ap_csr_pem, strlen(vec_ap_csr_pem), NULL, &csr, NULL), 0);
	op = pki_proxy_enroll(tp, csr.data, csr.len, enroll_cb, &s, &err);
	assert_non_null(op);
	assert_int_equal(pki_op_export(op, &json, &err), 0);
	assert_non_null(strstr(json, "\"txid\":\"" VEC_AP_TXID "\""));
	assert_non_null(strstr(json, "\"clone\":\"Proxy-TP1\""));
	assert_non_null(strstr(json, "\"proxy\":true"));
	assert_null(strstr(json, "PRIVATE"));
	pki_op_cancel(op);
	op2 = pki_enroll_resume(tp, json, enroll_cb, &s, &err);
	assert_non_null(op2);
	assert_int_equal(pki_op_export(op2, &json2, &err), 0);
	assert_non_null(strstr(json2, "\"clone\":\"Proxy-TP1\""));
	assert_non_null(strstr(json2, "\"txid\":\"" VEC_AP_TXID "\""));
	pki_op_cancel(op2);
	assert_null(pki_enroll_resume(tp, "{\"version\":1}", enroll_cb, &s, &err));
	assert_int_equal(err.status, PKI_ERR_PARSE);
	assert_null(pki_enroll_resume(tp, "not json", enroll_cb, &s, &err));
	/* Another trustpoint name: refused. */
	{
		char *other = strdup(json);
		char *p = strstr(other, "\"trustpoint\":\"TP\"");

		assert_non_null(p);
		p[14] = 'X';
		assert_null(pki_enroll_resume(tp, other, enroll_cb, &s, &err));
		assert_int_equal(err.status, PKI_ERR_INVALID);
		free(other);
	}
	free(json);
	free(json2);
	assert_int_equal(s.calls, 0);
	close(ls);
	pki_buf_free(&csr);
	pki_tp_free(tp);
	pki_ctx_free(ctx);
	event_base_free(base);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(root) && pki_init(NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_creates_state),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_restore_and_pin),
		cmocka_unit_test(test_preconditions),
		cmocka_unit_test(test_unreachable_through_callback),
		cmocka_unit_test(test_timeout_and_queue),
		cmocka_unit_test(test_cancel_is_silent),
		cmocka_unit_test(test_export_resume),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
