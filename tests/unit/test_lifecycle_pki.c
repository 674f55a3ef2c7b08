/*
 * A trustpoint's files across renewal and CA rollover (issue 9), at the
 * pki/ level: a key/cert swap or a rollover activation that a crash cut
 * short is finished at the next open; the pin lineage lets a rolled-over
 * CA stay trusted under the operator's original pin, and only under it;
 * activation swaps CA, identity and key together.
 *
 * Certificates are made with pki/'s own local CA helpers on EC keys
 * (fast); no SCEP exchange is involved.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <event2/event.h>

#include "pki/pki.h"

static char root[] = "/tmp/test_lifecycle_pki.XXXXXX";
static int test_no;

struct ca {
	struct pki_key *key;
	struct pki_buf der;
	char sha256[PKI_FP_MAX];
};

struct world {
	char dir[300];
	struct event_base *base;
	struct pki_ctx *ctx;
	struct ca ca1, ca2, ca3;
	struct pki_key *k1, *k2;
	struct pki_buf c1, c2;        /* identity by ca1 with k1, k2 */
	struct pki_buf c3;            /* identity by ca2 with k2 (a shadow identity) */
};

static struct pki_key *ec_key(void)
{
	struct pki_key_spec spec = { PKI_KEY_EC, 256 };
	struct pki_key *k;

	assert_int_equal(pki_key_generate(&spec, &k, NULL), 0);
	return k;
}

static void make_ca(struct ca *ca, const char *cn)
{
	struct pki_subject s = { .c = "US", .o = "lscd tests" };
	struct pki_issue_params p = { .days = 30, .ca = true,
				      .key_usage = PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN };
	struct pki_cert_info info;

	snprintf(s.cn, sizeof(s.cn), "%s", cn);
	ca->key = ec_key();
	assert_int_equal(pki_cert_self_signed(ca->key, &s, &p, &ca->der, NULL), 0);
	assert_int_equal(pki_cert_inspect(ca->der.data, ca->der.len, &info, NULL), 0);
	pki_fp_format(info.sha256, 32, PKI_FP_HEX, ca->sha256, sizeof(ca->sha256));
}

static void issue(const struct ca *ca, const struct pki_key *k, struct pki_buf *out)
{
	struct pki_subject s = { .c = "US", .o = "lscd tests", .cn = "lscd-wlc" };
	struct pki_issue_params p = { .days = 10 };
	struct pki_buf csr;

	assert_int_equal(pki_csr_build(k, &s, NULL, &csr, NULL), 0);
	assert_int_equal(pki_cert_issue(ca->key, ca->der.data, ca->der.len, csr.data, csr.len, &p,
					out, NULL), 0);
	pki_buf_free(&csr);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	snprintf(w->dir, sizeof(w->dir), "%s/t%d", root, ++test_no);
	assert_int_equal(mkdir(w->dir, 0700), 0);
	w->base = event_base_new();
	w->ctx = pki_ctx_new(w->base, NULL);
	make_ca(&w->ca1, "CA one");
	make_ca(&w->ca2, "CA two");
	make_ca(&w->ca3, "CA three");
	w->k1 = ec_key();
	w->k2 = ec_key();
	issue(&w->ca1, w->k1, &w->c1);
	issue(&w->ca1, w->k2, &w->c2);
	issue(&w->ca2, w->k2, &w->c3);
	*state = w;
	return 0;
}

static void free_ca(struct ca *ca)
{
	pki_key_free(ca->key);
	pki_buf_free(&ca->der);
}

static int teardown(void **state)
{
	struct world *w = *state;

	free_ca(&w->ca1);
	free_ca(&w->ca2);
	free_ca(&w->ca3);
	pki_key_free(w->k1);
	pki_key_free(w->k2);
	pki_buf_free(&w->c1);
	pki_buf_free(&w->c2);
	pki_buf_free(&w->c3);
	pki_ctx_free(w->ctx);
	event_base_free(w->base);
	free(w);
	return 0;
}

static void path(const struct world *w, const char *file, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/TP/%s", w->dir, file);
}

static void put_cert(const struct world *w, const char *file, const struct pki_buf *der)
{
	struct pki_buf pem;
	char p[512];

	snprintf(p, sizeof(p), "%s/TP", w->dir);
	mkdir(p, 0700);
	path(w, file, p, sizeof(p));
	assert_int_equal(pki_der_to_pem(der->data, der->len, "CERTIFICATE", &pem, NULL), 0);
	assert_int_equal(pki_file_write(p, pem.data, pem.len, 0644, NULL), 0);
	pki_buf_free(&pem);
}

static void put_key(const struct world *w, const char *file, const struct pki_key *k)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/TP", w->dir);
	mkdir(p, 0700);
	path(w, file, p, sizeof(p));
	assert_int_equal(pki_key_save(k, p, NULL), 0);
}

static void put_text(const struct world *w, const char *file, const char *text)
{
	char p[512];

	path(w, file, p, sizeof(p));
	assert_int_equal(pki_file_write(p, text, strlen(text), 0644, NULL), 0);
}

static bool exists(const struct world *w, const char *file)
{
	char p[512];

	path(w, file, p, sizeof(p));
	return access(p, F_OK) == 0;
}

static struct pki_trustpoint *open_tp(struct world *w, const char *pin)
{
	struct pki_tp_config c;
	struct pki_trustpoint *tp;
	struct pki_error err;

	pki_tp_config_defaults(&c);
	c.name = "TP";
	c.url = "http://127.0.0.1:1/scep";
	c.subject = "C=US,O=lscd tests,CN=lscd-wlc";
	c.key.type = PKI_KEY_EC;
	c.key.bits = 256;
	c.ca_fingerprint = pin;
	if (pki_tp_open(w->ctx, &c, w->dir, &tp, &err) != 0)
		fail_msg("open: %s", err.reason);
	return tp;
}

static bool cert_is(const struct pki_trustpoint *tp, enum pki_tp_cert which, const struct pki_buf *want)
{
	struct pki_buf der;
	bool same;

	if (pki_tp_get_cert(tp, which, &der, NULL) != 0)
		return false;
	same = der.len == want->len && memcmp(der.data, want->data, der.len) == 0;
	pki_buf_free(&der);
	return same;
}

/* key.pem (on disk) holds the public half of cert? */
static bool key_file_matches(const struct world *w, const struct pki_buf *cert)
{
	struct pki_key *k;
	char p[512];
	int eq;

	path(w, "key.pem", p, sizeof(p));
	assert_int_equal(pki_key_load(p, &k, NULL), 0);
	eq = pki_cert_key_equals(cert->data, cert->len, k, NULL);
	pki_key_free(k);
	return eq == 1;
}

/* A renewal with regenerate crashed after key.pem was replaced but before
 * cert.pem: the old pair is broken, cert-new.pem completes the new one. */
static void test_swap_finished_after_key_rename(void **state)
{
	struct world *w = *state;

	put_cert(w, "ca.pem", &w->ca1.der);
	put_key(w, "key.pem", w->k2);
	put_cert(w, "cert.pem", &w->c1);
	put_cert(w, "cert-new.pem", &w->c2);
	struct pki_trustpoint *tp = open_tp(w, w->ca1.sha256);
	assert_true(pki_tp_is_authenticated(tp));
	assert_true(pki_tp_has_identity(tp));
	assert_true(cert_is(tp, PKI_TP_CERT_IDENTITY, &w->c2));
	assert_false(exists(w, "cert-new.pem"));
	assert_true(key_file_matches(w, &w->c2));
	pki_tp_free(tp);
}

/* ...crashed after cert-new.pem was written, before anything was renamed:
 * the issued certificate is not lost, the new pair is installed. */
static void test_swap_finished_before_key_rename(void **state)
{
	struct world *w = *state;

	put_cert(w, "ca.pem", &w->ca1.der);
	put_key(w, "key.pem", w->k1);
	put_key(w, "key-new.pem", w->k2);
	put_cert(w, "cert.pem", &w->c1);
	put_cert(w, "cert-new.pem", &w->c2);
	struct pki_trustpoint *tp = open_tp(w, w->ca1.sha256);
	assert_true(cert_is(tp, PKI_TP_CERT_IDENTITY, &w->c2));
	assert_false(exists(w, "cert-new.pem"));
	assert_false(exists(w, "key-new.pem"));
	assert_true(key_file_matches(w, &w->c2));
	pki_tp_free(tp);
}

/* A shadow key without a certificate (a PENDING renewal) leaves the
 * current pair alone and stays for the resumed transaction. */
static void test_shadow_key_alone_is_kept(void **state)
{
	struct world *w = *state;

	put_cert(w, "ca.pem", &w->ca1.der);
	put_key(w, "key.pem", w->k1);
	put_key(w, "key-new.pem", w->k2);
	put_cert(w, "cert.pem", &w->c1);
	struct pki_trustpoint *tp = open_tp(w, w->ca1.sha256);
	assert_true(cert_is(tp, PKI_TP_CERT_IDENTITY, &w->c1));
	assert_true(exists(w, "key-new.pem"));
	assert_true(key_file_matches(w, &w->c1));
	pki_tp_free(tp);
}

/* A cert-new.pem from another CA (or for another key) is not installed. */
static void test_foreign_cert_new_is_ignored(void **state)
{
	struct world *w = *state;

	put_cert(w, "ca.pem", &w->ca1.der);
	put_key(w, "key.pem", w->k1);
	put_key(w, "key-new.pem", w->k2);
	put_cert(w, "cert.pem", &w->c1);
	put_cert(w, "cert-new.pem", &w->c3);      /* issued by CA two */
	struct pki_trustpoint *tp = open_tp(w, w->ca1.sha256);
	assert_true(cert_is(tp, PKI_TP_CERT_IDENTITY, &w->c1));
	assert_true(key_file_matches(w, &w->c1));
	pki_tp_free(tp);
}

/* The pin names CA one; CA two is trusted only through a lineage entry,
 * and a chain of them is followed from the pin, never from elsewhere. */
static void test_pin_lineage(void **state)
{
	struct world *w = *state;
	char line[512];

	put_key(w, "key.pem", w->k1);
	put_cert(w, "ca.pem", &w->ca2.der);
	struct pki_trustpoint *tp = open_tp(w, w->ca1.sha256);
	assert_false(pki_tp_is_authenticated(tp));
	pki_tp_free(tp);

	snprintf(line, sizeof(line), "%s %s\n", w->ca1.sha256, w->ca2.sha256);
	put_text(w, "ca-lineage.txt", line);
	tp = open_tp(w, w->ca1.sha256);
	assert_true(pki_tp_is_authenticated(tp));
	pki_tp_free(tp);

	/* Two rollovers: one -> two -> three. */
	put_cert(w, "ca.pem", &w->ca3.der);
	snprintf(line, sizeof(line), "%s %s\n%s %s\n", w->ca2.sha256, w->ca3.sha256, w->ca1.sha256,
		 w->ca2.sha256);
	put_text(w, "ca-lineage.txt", line);
	tp = open_tp(w, w->ca1.sha256);
	assert_true(pki_tp_is_authenticated(tp));
	pki_tp_free(tp);

	/* Pinned to CA two: three is reachable; pinned to three itself: yes;
	 * a lineage that does not start at the pin is worthless. */
	tp = open_tp(w, w->ca2.sha256);
	assert_true(pki_tp_is_authenticated(tp));
	pki_tp_free(tp);
	snprintf(line, sizeof(line), "%s %s\n", w->ca2.sha256, w->ca3.sha256);
	put_text(w, "ca-lineage.txt", line);
	tp = open_tp(w, w->ca1.sha256);
	assert_false(pki_tp_is_authenticated(tp));
	pki_tp_free(tp);
	/* A changed pin still invalidates the stored CA. */
	tp = open_tp(w, "0000000000000000000000000000000000000000000000000000000000000000");
	assert_false(pki_tp_is_authenticated(tp));
	pki_tp_free(tp);
}

/* Activation: ca-next -> ca, cert-next -> cert, key-next -> key, at once,
 * and the trustpoint opens the same way afterwards. */
static void test_activate_rollover(void **state)
{
	struct world *w = *state;
	struct pki_error err;
	char line[512];

	put_cert(w, "ca.pem", &w->ca1.der);
	put_cert(w, "ca-next.pem", &w->ca2.der);
	put_key(w, "key.pem", w->k1);
	put_cert(w, "cert.pem", &w->c1);
	put_cert(w, "cert-next.pem", &w->c3);
	put_key(w, "key-next.pem", w->k2);
	snprintf(line, sizeof(line), "%s %s\n", w->ca1.sha256, w->ca2.sha256);
	put_text(w, "ca-lineage.txt", line);
	struct pki_trustpoint *tp = open_tp(w, w->ca1.sha256);
	assert_true(cert_is(tp, PKI_TP_CERT_CA, &w->ca1.der));
	assert_true(cert_is(tp, PKI_TP_CERT_NEXT_CA, &w->ca2.der));
	assert_true(cert_is(tp, PKI_TP_CERT_IDENTITY, &w->c1));
	assert_true(cert_is(tp, PKI_TP_CERT_NEXT_IDENTITY, &w->c3));

	assert_int_equal(pki_tp_activate_rollover(tp, &err), 0);
	assert_true(cert_is(tp, PKI_TP_CERT_CA, &w->ca2.der));
	assert_true(cert_is(tp, PKI_TP_CERT_IDENTITY, &w->c3));
	assert_int_equal(pki_tp_get_cert(tp, PKI_TP_CERT_NEXT_CA, &(struct pki_buf){ 0 }, &err), -1);
	assert_int_equal(pki_tp_get_cert(tp, PKI_TP_CERT_NEXT_IDENTITY, &(struct pki_buf){ 0 }, &err), -1);
	assert_false(exists(w, "ca-next.pem") || exists(w, "cert-next.pem") || exists(w, "key-next.pem"));
	assert_true(key_file_matches(w, &w->c3));
	/* Nothing left to activate. */
	assert_int_equal(pki_tp_activate_rollover(tp, &err), -1);
	assert_int_equal(err.status, PKI_ERR_NOT_FOUND);
	pki_tp_free(tp);

	/* A restart: same pin, same state. */
	tp = open_tp(w, w->ca1.sha256);
	assert_true(pki_tp_is_authenticated(tp));
	assert_true(cert_is(tp, PKI_TP_CERT_CA, &w->ca2.der));
	assert_true(cert_is(tp, PKI_TP_CERT_IDENTITY, &w->c3));
	pki_tp_free(tp);
}

/* Activation without a shadow identity: the old CA's identity is dropped. */
static void test_activate_without_shadow_identity(void **state)
{
	struct world *w = *state;
	struct pki_error err;

	put_cert(w, "ca.pem", &w->ca1.der);
	put_cert(w, "ca-next.pem", &w->ca2.der);
	put_key(w, "key.pem", w->k1);
	put_cert(w, "cert.pem", &w->c1);
	struct pki_trustpoint *tp = open_tp(w, w->ca1.sha256);
	assert_true(pki_tp_has_identity(tp));
	assert_int_equal(pki_tp_activate_rollover(tp, &err), 0);
	assert_true(cert_is(tp, PKI_TP_CERT_CA, &w->ca2.der));
	assert_false(pki_tp_has_identity(tp));
	pki_tp_free(tp);
}

/* A crash between the CA and the identity of an activation: the next open
 * installs the shadow identity that the new CA issued. */
static void test_activation_finished_after_crash(void **state)
{
	struct world *w = *state;
	char line[512];

	put_cert(w, "ca.pem", &w->ca2.der);
	put_key(w, "key.pem", w->k1);
	put_cert(w, "cert.pem", &w->c1);
	put_cert(w, "cert-next.pem", &w->c3);
	put_key(w, "key-next.pem", w->k2);
	snprintf(line, sizeof(line), "%s %s\n", w->ca1.sha256, w->ca2.sha256);
	put_text(w, "ca-lineage.txt", line);
	struct pki_trustpoint *tp = open_tp(w, w->ca1.sha256);
	assert_true(pki_tp_is_authenticated(tp));
	assert_true(cert_is(tp, PKI_TP_CERT_IDENTITY, &w->c3));
	assert_true(key_file_matches(w, &w->c3));
	assert_false(exists(w, "cert-next.pem") || exists(w, "key-next.pem"));
	pki_tp_free(tp);
}

/* A shadow identity not from the rollover CA is not kept as one. */
static void test_shadow_identity_must_chain_to_rollover_ca(void **state)
{
	struct world *w = *state;

	put_cert(w, "ca.pem", &w->ca1.der);
	put_cert(w, "ca-next.pem", &w->ca3.der);
	put_key(w, "key.pem", w->k1);
	put_cert(w, "cert.pem", &w->c1);
	put_cert(w, "cert-next.pem", &w->c3);     /* by CA two, not three */
	put_key(w, "key-next.pem", w->k2);
	struct pki_trustpoint *tp = open_tp(w, w->ca1.sha256);
	assert_int_equal(pki_tp_get_cert(tp, PKI_TP_CERT_NEXT_IDENTITY, &(struct pki_buf){ 0 }, NULL), -1);
	assert_true(cert_is(tp, PKI_TP_CERT_IDENTITY, &w->c1));
	pki_tp_free(tp);
}

static int group_setup(void **state)
{
	struct pki_error err;

	(void)state;
	assert_non_null(mkdtemp(root));
	return pki_init(&err);
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_swap_finished_after_key_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swap_finished_before_key_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shadow_key_alone_is_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_cert_new_is_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin_lineage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate_rollover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate_without_shadow_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activation_finished_after_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shadow_identity_must_chain_to_rollover_ca, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
