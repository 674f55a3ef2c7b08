/*
 * The SQLite state store: file modes, AP records, certificates (one
 * current per AP, history, duplicate serials), audit order and filters,
 * key/value, transactions, reopen, a writer killed with SIGKILL, and the
 * checkpointer thread.
 *
 * `test_store --bench [n]` instead times store_ap_put + store_audit (the
 * pair the daemon runs per provisioning step) and prints the figures.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ctrl/store.h"

struct fx {
	char dir[64];
	char db[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/lscd-test-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/lscd.db", f->dir);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct store *open_ok(const struct fx *f)
{
	char err[256] = "";
	struct store *st = store_open(f->db, err, sizeof(err));

	if (!st)
		fail_msg("store_open: %s", err);
	return st;
}

static void mac_n(uint8_t mac[6], unsigned n)
{
	mac[0] = 0x28;
	mac[1] = 0x6f;
	mac[2] = 0x7f;
	mac[3] = (uint8_t)(n >> 16);
	mac[4] = (uint8_t)(n >> 8);
	mac[5] = (uint8_t)n;
}

/* One integer from SQL run on a separate connection, as an operator would. */
static long long sql_int(const struct fx *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	long long v = -1;

	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* The result of stepping one statement, extended codes on. */
static int sql_rc(const struct fx *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int rc;

	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_extended_result_codes(db, 1);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

static void sql_text(const struct fx *f, const char *sql, char *out, size_t size)
{
	sqlite3 *db;
	sqlite3_stmt *s;

	out[0] = '\0';
	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	return st.st_mode & 07777;
}

static void fill_ap(struct store_ap *r, unsigned n)
{
	memset(r, 0, sizeof(*r));
	mac_n(r->mac, n);
	snprintf(r->name, sizeof(r->name), "AP-%u", n);
	snprintf(r->model, sizeof(r->model), "C9120AXI-B");
	snprintf(r->serial, sizeof(r->serial), "FGL%08u", n);
	snprintf(r->last_address, sizeof(r->last_address), "[2001:db8::%x]:5246", n);
	r->first_seen = 1700000000 + n;
	r->last_seen = 1700000100 + n;
	r->last_join = 1700000050 + n;
	snprintf(r->last_cert_type, sizeof(r->last_cert_type), "MIC");
	r->prov_state = STORE_PROV_ENROLLING;
	r->txid = 0xdeadbeef;
	r->mic_joins = 1 + n;
	r->lsc_joins = 2 + n;
	r->lsc_join_failures = 3;
	r->mic_fallbacks = 4;
	r->provisions = 5;
	r->reprovisions_in_window = 6;
	r->reprovision_window_start = 1700000200;
	r->loop_suspected = true;
	snprintf(r->last_failure, sizeof(r->last_failure), "DTLS: certificate unknown — \"%u\"", n);
	r->last_failure_at = 1700000300;
	r->reprovision_requested = true;
}

static void assert_ap_equal(const struct store_ap *a, const struct store_ap *b)
{
	assert_memory_equal(a->mac, b->mac, 6);
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->model, b->model);
	assert_string_equal(a->serial, b->serial);
	assert_string_equal(a->last_address, b->last_address);
	assert_int_equal(a->first_seen, b->first_seen);
	assert_int_equal(a->last_seen, b->last_seen);
	assert_int_equal(a->last_join, b->last_join);
	assert_string_equal(a->last_cert_type, b->last_cert_type);
	assert_int_equal(a->prov_state, b->prov_state);
	assert_int_equal(a->txid, b->txid);
	assert_int_equal(a->mic_joins, b->mic_joins);
	assert_int_equal(a->lsc_joins, b->lsc_joins);
	assert_int_equal(a->lsc_join_failures, b->lsc_join_failures);
	assert_int_equal(a->mic_fallbacks, b->mic_fallbacks);
	assert_int_equal(a->provisions, b->provisions);
	assert_int_equal(a->reprovisions_in_window, b->reprovisions_in_window);
	assert_int_equal(a->reprovision_window_start, b->reprovision_window_start);
	assert_int_equal(a->loop_suspected, b->loop_suspected);
	assert_string_equal(a->last_failure, b->last_failure);
	assert_int_equal(a->last_failure_at, b->last_failure_at);
	assert_int_equal(a->reprovision_requested, b->reprovision_requested);
}

static void fill_cert(struct store_cert *c, unsigned mac, const char *serial, unsigned fp,
		      const char *issuer)
{
	memset(c, 0, sizeof(*c));
	mac_n(c->mac, mac);
	snprintf(c->serial_hex, sizeof(c->serial_hex), "%s", serial);
	snprintf(c->sha256_hex, sizeof(c->sha256_hex), "%064x", fp);
	snprintf(c->sha1_hex, sizeof(c->sha1_hex), "%040x", fp);
	snprintf(c->subject, sizeof(c->subject), "C=US,O=Example,CN=ap3g3-286F7F%06X", mac);
	snprintf(c->issuer, sizeof(c->issuer), "%s", issuer);
	c->not_before = 1700000000;
	c->not_after = 1731536000;
	c->issued_at = 1700000000 + fp;
}

/* ------------------------------------------------------------------------ */

static void test_open_private(void **state)
{
	struct fx *f = *state;
	struct store_ap r;
	struct store *st;
	char path[160], text[32];
	mode_t old = umask(0);

	/* Even a process with umask 0 gets owner-only files. */
	st = open_ok(f);
	umask(old);
	fill_ap(&r, 1);
	assert_true(store_ap_put(st, &r));
	assert_int_equal(mode_of(f->db), 0600);
	snprintf(path, sizeof(path), "%s-wal", f->db);
	assert_int_equal(mode_of(path), 0600);
	snprintf(path, sizeof(path), "%s-shm", f->db);
	assert_int_equal(mode_of(path), 0600);
	sql_text(f, "PRAGMA journal_mode", text, sizeof(text));
	assert_string_equal(text, "wal");
	assert_int_equal(sql_int(f, "PRAGMA user_version"), 1);
	store_close(st);

	/* A database left readable by others is tightened on open. */
	assert_int_equal(chmod(f->db, 0644), 0);
	st = open_ok(f);
	assert_int_equal(mode_of(f->db), 0600);
	store_close(st);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	char err[256] = "", path[160];
	struct store *st;

	snprintf(path, sizeof(path), "%s/missing/lscd.db", f->dir);
	assert_null(store_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file or directory"));

	/* A database from a newer lscd is refused, not downgraded. */
	st = open_ok(f);
	store_close(st);
	sql_int(f, "PRAGMA user_version = 99");
	assert_null(store_open(f->db, err, sizeof(err)));
	assert_string_equal(err, "schema version 99 is newer than this lscd's (1)");
}

struct visit {
	unsigned n;
	unsigned stop_after;
	uint8_t last[6];
	bool ordered;
};

static bool visit_ap(const struct store_ap *rec, void *arg)
{
	struct visit *v = arg;

	if (v->n && memcmp(v->last, rec->mac, 6) >= 0)
		v->ordered = false;
	memcpy(v->last, rec->mac, 6);
	v->n++;
	return v->n != v->stop_after;
}

static void test_aps(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f);
	struct store_ap a, b;
	struct visit v = { .ordered = true };
	enum store_prov_state ps;
	unsigned i;

	assert_int_equal(store_ap_count(st), 0);
	mac_n(a.mac, 7);
	memset(&b, 0x55, sizeof(b));
	assert_false(store_ap_get(st, a.mac, &b));
	assert_memory_equal(b.mac, a.mac, 6);
	assert_int_equal(b.mic_joins, 0);
	assert_string_equal(b.name, "");

	fill_ap(&a, 7);
	assert_true(store_ap_put(st, &a));
	assert_true(store_ap_get(st, a.mac, &b));
	assert_ap_equal(&a, &b);

	/* Put replaces the whole record. */
	a.mic_joins = 99;
	a.loop_suspected = false;
	a.prov_state = STORE_PROV_LOOP_SUSPECTED;
	a.last_failure[0] = '\0';
	a.txid = UINT32_MAX;
	assert_true(store_ap_put(st, &a));
	assert_true(store_ap_get(st, a.mac, &b));
	assert_ap_equal(&a, &b);
	assert_int_equal(store_ap_count(st), 1);

	/* Inserted out of order, visited in MAC order. */
	for (i = 0; i < 20; i++) {
		fill_ap(&a, (i * 7919) % 1000);
		assert_true(store_ap_put(st, &a));
	}
	assert_int_equal(store_ap_count(st), 21);
	assert_true(store_ap_foreach(st, visit_ap, &v));
	assert_int_equal(v.n, 21);
	assert_true(v.ordered);
	v = (struct visit){ .ordered = true, .stop_after = 5 };
	assert_true(store_ap_foreach(st, visit_ap, &v));
	assert_int_equal(v.n, 5);

	for (i = 0; i <= STORE_PROV_LOOP_SUSPECTED; i++) {
		assert_true(store_prov_state_parse(store_prov_state_name(i), &ps));
		assert_int_equal(ps, i);
	}
	assert_string_equal(store_prov_state_name(STORE_PROV_PARAMS_SENT), "params-sent");
	assert_false(store_prov_state_parse("bogus", &ps));
	store_close(st);
}

static void test_certs(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f);
	struct store_cert c, cur;
	struct store_ap ap;
	bool dup = true;
	const char *ca = "CN=Example Issuing CA,O=Example";

	/* No AP record yet: the certificate creates the bare one. */
	fill_cert(&c, 1, "0A1B", 1, ca);
	assert_true(store_cert_add(st, &c, &dup));
	assert_false(dup);
	assert_int_equal(store_ap_count(st), 1);
	assert_true(store_ap_get(st, c.mac, &ap));
	assert_true(store_cert_current(st, c.mac, &cur));
	assert_string_equal(cur.serial_hex, "0A1B");
	assert_string_equal(cur.sha256_hex, c.sha256_hex);
	assert_string_equal(cur.subject, c.subject);
	assert_string_equal(cur.issuer, ca);
	assert_int_equal(cur.not_after, c.not_after);
	assert_true(cur.current);

	/* A renewal: new current, the old one kept as history. */
	fill_cert(&c, 1, "0C", 2, ca);
	assert_true(store_cert_add(st, &c, &dup));
	assert_false(dup);
	assert_int_equal(store_cert_count_current(st, c.mac), 1);
	assert_true(store_cert_current(st, c.mac, &cur));
	assert_string_equal(cur.serial_hex, "0C");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM certificates"), 2);

	/* Another AP, the same serial from the same CA written differently:
	 * a CA that issued a serial twice. Stored, and said. */
	fill_cert(&c, 2, "0a:1b", 3, ca);
	assert_false(store_cert_add(st, &c, &dup));
	assert_true(dup);
	assert_true(store_cert_current(st, c.mac, &cur));
	assert_string_equal(cur.serial_hex, "0a:1b");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM certificates WHERE duplicate_serial = 1"), 1);

	/* The same serial from another CA is no duplicate. */
	fill_cert(&c, 3, "0A1B", 4, "CN=Other CA");
	assert_true(store_cert_add(st, &c, NULL));
	assert_int_equal(store_cert_count_current(st, c.mac), 1);

	/* Recording the same certificate again (a retry after a restart)
	 * adds no row and is no duplicate; an old one becomes current again. */
	fill_cert(&c, 1, "0C", 2, ca);
	assert_true(store_cert_add(st, &c, &dup));
	assert_false(dup);
	/* (Its serial is still the one the CA also gave AP 2.) */
	fill_cert(&c, 1, "0A1B", 1, ca);
	assert_false(store_cert_add(st, &c, &dup));
	assert_true(dup);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM certificates"), 4);
	assert_true(store_cert_current(st, c.mac, &cur));
	assert_string_equal(cur.sha256_hex, c.sha256_hex);
	assert_int_equal(store_cert_count_current(st, c.mac), 1);

	mac_n(c.mac, 9);
	assert_false(store_cert_current(st, c.mac, &cur));
	assert_int_equal(store_cert_count_current(st, c.mac), 0);
	store_close(st);

	/* The schema itself refuses a second current certificate. */
	assert_int_equal(sql_rc(f, "UPDATE certificates SET current = 1 WHERE mac = '286f7f000001'"),
			 SQLITE_CONSTRAINT_UNIQUE);
	assert_int_equal(sql_rc(f, "UPDATE certificates SET current = 0 WHERE mac = '286f7f000001'"),
			 SQLITE_DONE);
	assert_int_equal(sql_rc(f, "UPDATE certificates SET current = 1 WHERE mac = '286f7f000001'"
				" AND serial_hex = '0C'"), SQLITE_DONE);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM certificates WHERE mac = '286f7f000001' AND current = 1"), 1);
}

struct audit_log {
	unsigned n;
	unsigned stop_after;
	int64_t ids[16];
	char events[16][32];
	char details[16][256];
	uint8_t macs[16][6];
};

static bool collect(const struct store_audit *a, void *arg)
{
	struct audit_log *l = arg;

	if (l->n < 16) {
		l->ids[l->n] = a->id;
		memcpy(l->macs[l->n], a->mac, 6);
		snprintf(l->events[l->n], sizeof(l->events[0]), "%s", a->event);
		snprintf(l->details[l->n], sizeof(l->details[0]), "%s", a->detail);
	}
	l->n++;
	return l->n != l->stop_after;
}

static void test_audit(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f);
	struct audit_log l = { 0 };
	uint8_t m1[6], m2[6], zero[6] = { 0 };
	char big[400];
	time_t now = time(NULL);

	mac_n(m1, 1);
	mac_n(m2, 2);
	assert_true(store_audit(st, m1, "params-sent", "key %s %u", "rsa", 2048));
	assert_true(store_audit(st, m2, "params-sent", "key rsa 3072"));
	assert_true(store_audit(st, NULL, "reload", "config %s", "ok"));
	assert_true(store_audit(st, m1, "csr-accepted", "txid %08x", 0x1234u));
	assert_true(store_audit(st, m1, "enroll-start", "ca %s", "AP-LSC"));

	assert_true(store_audit_foreach(st, NULL, 0, collect, &l));
	assert_int_equal(l.n, 5);
	assert_string_equal(l.events[0], "params-sent");
	assert_string_equal(l.details[0], "key rsa 2048");
	assert_memory_equal(l.macs[2], zero, 6);
	assert_string_equal(l.events[4], "enroll-start");
	for (unsigned i = 1; i < 5; i++)
		assert_true(l.ids[i] > l.ids[i - 1]);

	memset(&l, 0, sizeof(l));
	assert_true(store_audit_foreach(st, m1, 0, collect, &l));
	assert_int_equal(l.n, 3);
	assert_string_equal(l.events[0], "params-sent");
	assert_string_equal(l.events[1], "csr-accepted");
	assert_string_equal(l.details[1], "txid 00001234");
	assert_string_equal(l.events[2], "enroll-start");

	/* A limit keeps the newest lines, still oldest first. */
	memset(&l, 0, sizeof(l));
	assert_true(store_audit_foreach(st, m1, 2, collect, &l));
	assert_int_equal(l.n, 2);
	assert_string_equal(l.events[0], "csr-accepted");
	assert_string_equal(l.events[1], "enroll-start");

	memset(&l, 0, sizeof(l));
	assert_true(store_audit_foreach(st, zero, 0, collect, &l));
	assert_int_equal(l.n, 1);
	assert_string_equal(l.events[0], "reload");

	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	assert_true(store_audit_foreach(st, NULL, 0, collect, &l));
	assert_int_equal(l.n, 2);

	/* Long details are cut, never overflow, never split a UTF-8 sequence. */
	memset(big, 'x', sizeof(big));
	memcpy(big + 253, "\xc3\xa9\xc3\xa9", 4);
	big[sizeof(big) - 1] = '\0';
	assert_true(store_audit(st, m2, "cert-sent", "%s", big));
	memset(&l, 0, sizeof(l));
	assert_true(store_audit_foreach(st, m2, 1, collect, &l));
	assert_int_equal(strlen(l.details[0]), 253);
	assert_true(llabs((long long)now - sql_int(f, "SELECT max(at) FROM audit")) <= 5);
	store_close(st);
}

static void test_kv(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f);
	char *v = (char *)1;

	assert_false(store_kv_get(st, "scep.tx.286f7fcf53ac", &v));
	assert_null(v);
	assert_true(store_kv_set(st, "scep.tx.286f7fcf53ac", "{\"txid\":\"abc\"}"));
	assert_true(store_kv_get(st, "scep.tx.286f7fcf53ac", &v));
	assert_string_equal(v, "{\"txid\":\"abc\"}");
	free(v);
	assert_true(store_kv_set(st, "scep.tx.286f7fcf53ac", ""));
	assert_true(store_kv_get(st, "scep.tx.286f7fcf53ac", &v));
	assert_string_equal(v, "");
	free(v);
	assert_true(store_kv_delete(st, "scep.tx.286f7fcf53ac"));
	assert_false(store_kv_get(st, "scep.tx.286f7fcf53ac", &v));
	assert_true(store_kv_delete(st, "never-set"));
	store_close(st);
}

static void test_transactions(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f);
	struct store_ap a, b;
	struct store_cert c;

	fill_ap(&a, 1);
	assert_true(store_begin(st));
	assert_true(store_ap_put(st, &a));
	assert_true(store_audit(st, a.mac, "params-sent", "x"));
	assert_true(store_rollback(st));
	assert_false(store_ap_get(st, a.mac, &b));
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 0);

	/* Calls that use their own savepoint nest inside a transaction. */
	assert_true(store_begin(st));
	assert_true(store_ap_put(st, &a));
	fill_cert(&c, 1, "01", 1, "CN=CA");
	assert_true(store_cert_add(st, &c, NULL));
	assert_true(store_audit(st, a.mac, "cert-sent", "serial 01"));
	/* Another connection sees nothing before the commit. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM certificates"), 0);
	assert_true(store_commit(st));
	assert_int_equal(sql_int(f, "SELECT count(*) FROM certificates"), 1);
	assert_true(store_ap_get(st, a.mac, &b));
	assert_ap_equal(&a, &b);
	assert_false(store_commit(st));
	store_close(st);
}

static void test_reopen(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f);
	struct store_ap a, b;
	struct store_cert c, cur;
	struct audit_log l = { 0 };
	char *v;

	fill_ap(&a, 42);
	assert_true(store_ap_put(st, &a));
	fill_cert(&c, 42, "2A", 42, "CN=CA");
	assert_true(store_cert_add(st, &c, NULL));
	assert_true(store_audit(st, a.mac, "provisioned", "joined with LSC"));
	assert_true(store_kv_set(st, "k", "v"));
	store_close(st);

	st = open_ok(f);
	assert_true(store_ap_get(st, a.mac, &b));
	assert_ap_equal(&a, &b);
	assert_true(store_cert_current(st, a.mac, &cur));
	assert_string_equal(cur.serial_hex, "2A");
	assert_true(store_audit_foreach(st, a.mac, 0, collect, &l));
	assert_int_equal(l.n, 1);
	assert_string_equal(l.details[0], "joined with LSC");
	assert_true(store_kv_get(st, "k", &v));
	assert_string_equal(v, "v");
	free(v);
	store_close(st);
	assert_int_equal(sql_int(f, "PRAGMA user_version"), 1);
}

/*
 * The child provisions APs in a loop, each step one transaction that bumps
 * the AP's provision counter, records a new certificate and an audit line.
 * Killed at random points, the database must be intact and every AP's
 * three records must agree.
 */
static void crash_child(const struct fx *f, unsigned round)
{
	char err[256];
	struct store *st = store_open(f->db, err, sizeof(err));
	unsigned i;

	if (!st)
		_exit(2);
	for (i = 0;; i++) {
		struct store_ap a;
		struct store_cert c;
		char serial[16];
		unsigned n = i % 20;
		uint8_t mac[6];

		mac_n(mac, n);
		if (!store_begin(st))
			_exit(3);
		store_ap_get(st, mac, &a);
		a.provisions++;
		a.prov_state = STORE_PROV_CERT_SENT;
		snprintf(a.last_failure, sizeof(a.last_failure), "round %u step %u", round, i);
		snprintf(serial, sizeof(serial), "%x%06x", round, i);
		fill_cert(&c, n, serial, round << 24 | i, "CN=CA");
		if (!store_ap_put(st, &a) || !store_cert_add(st, &c, NULL) ||
		    !store_audit(st, mac, "cert-sent", "serial %s", serial) ||
		    !store_commit(st))
			_exit(4);
		/* Some writes outside any explicit transaction too. */
		store_audit(st, NULL, "tick", "%u", i);
	}
}

static void test_crash(void **state)
{
	struct fx *f = *state;
	struct store *st;
	char text[64];
	unsigned round;

	srand((unsigned)time(NULL));
	for (round = 1; round <= 6; round++) {
		pid_t pid = fork();
		int status;

		assert_true(pid >= 0);
		if (pid == 0)
			crash_child(f, round);
		usleep(50000 + (unsigned)(rand() % 200000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		/* Killed, not exited with a store error. */
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGKILL);
	}
	st = open_ok(f);
	sql_text(f, "PRAGMA integrity_check", text, sizeof(text));
	assert_string_equal(text, "ok");
	/* No rows: no certificate without its AP. */
	assert_int_equal(sql_rc(f, "PRAGMA foreign_key_check"), SQLITE_DONE);
	assert_true(sql_int(f, "SELECT count(*) FROM certificates") > 20);
	/* Exactly one current certificate for every AP that has any. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM (SELECT mac FROM certificates"
				 " GROUP BY mac HAVING sum(current) <> 1)"), 0);
	/* Counter, certificates and audit lines moved together. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM aps WHERE provisions <>"
				 " (SELECT count(*) FROM certificates c WHERE c.mac = aps.mac)"
				 " OR provisions <> (SELECT count(*) FROM audit a"
				 " WHERE a.mac = aps.mac AND a.event = 'cert-sent')"), 0);
	assert_int_equal(store_ap_count(st), 20);
	for (unsigned n = 0; n < 20; n++) {
		uint8_t mac[6];

		mac_n(mac, n);
		assert_int_equal(store_cert_count_current(st, mac), 1);
	}
	store_close(st);
}

/* ------------------------------------------------------------------------
 * The checkpointer thread: with SQLite's automatic checkpoint off, the WAL
 * still reaches the database file while the store is open, a large WAL
 * file is cut back, and the thread starts and stops with every store.
 * ------------------------------------------------------------------------ */

/* ctrl/store.c cuts a WAL file larger than 4 MiB back at a quiet moment. */
#define WAL_KEEP (4 * 1024 * 1024)

static long long size_of(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* Poll for a file size; generous deadlines: this is not a timing test. */
static bool size_reaches(const char *path, long long min, long long max, int seconds)
{
	for (int i = 0; i < seconds * 20; i++) {
		long long n = size_of(path);
		if (n >= min && n <= max)
			return true;
		usleep(50000);
	}
	return false;
}

static void audit_rows(struct store *st, unsigned from, unsigned n)
{
	uint8_t mac[6];
	char pad[201];

	mac_n(mac, 1);
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (unsigned i = from; i < from + n; i++)
		assert_true(store_audit(st, mac, "tick", "%u %s", i, pad));
}

static void test_checkpointer(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f);
	long long before = size_of(f->db);

	/* One small commit: the thread's timer takes it to the database. */
	audit_rows(st, 0, 1);
	assert_true(size_reaches(f->db, before + 4096, LLONG_MAX, 30));
	/* Over a thousand pages of commits: the page threshold wakes it. */
	audit_rows(st, 1, 1500);
	assert_true(size_reaches(f->db, 1500 * 200, LLONG_MAX, 30));
	store_close(st);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 1501);
}

static void test_checkpointer_cuts_wal_back(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f);
	char wal[160];

	snprintf(wal, sizeof(wal), "%s-wal", f->db);
	/* Tens of MiB through the WAL in bursts: after each, once nothing is
	 * written for a while, the WAL file is cut back, and commits go on. */
	for (unsigned burst = 0; burst < 3; burst++) {
		audit_rows(st, burst * 2000, 2000);
		assert_true(size_of(wal) > WAL_KEEP);
		assert_true(size_reaches(wal, 0, WAL_KEEP, 30));
	}
	store_close(st);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 3 * 2000);
}

static void test_checkpointer_start_stop(void **state)
{
	struct fx *f = *state;
	char wal[160];

	/* The thread starts with every open and is joined by every close,
	 * however short the store's life (ASan: nothing left behind). */
	for (unsigned i = 0; i < 25; i++) {
		struct store *st = open_ok(f);
		if (i % 2)
			audit_rows(st, i, 3);
		store_close(st);
	}
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 12 * 3);
	/* The last close checkpoints everything and removes the WAL. */
	snprintf(wal, sizeof(wal), "%s-wal", f->db);
	assert_int_equal(size_of(wal), -1);
}

/* ------------------------------------------------------------------------ */

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int bench(unsigned n)
{
	char dir[] = "/tmp/lscd-bench-store-XXXXXX", db[128], err[256];
	long long *t = calloc(n, sizeof(*t));
	struct store *st;
	unsigned i;

	if (!t || !mkdtemp(dir))
		return 1;
	snprintf(db, sizeof(db), "%s/lscd.db", dir);
	st = store_open(db, err, sizeof(err));
	if (!st) {
		fprintf(stderr, "store_open: %s\n", err);
		return 1;
	}
	for (i = 0; i < n; i++) {
		struct store_ap a;
		long long t0;

		fill_ap(&a, i % 500);
		a.mic_joins = i;
		t0 = now_ns();
		if (!store_ap_put(st, &a) ||
		    !store_audit(st, a.mac, "params-sent", "key rsa %u, attempt %u", 2048, i)) {
			fprintf(stderr, "store: %s\n", store_errmsg(st));
			return 1;
		}
		t[i] = now_ns() - t0;
	}
	store_close(st);
	qsort(t, n, sizeof(*t), cmp_ll);
	printf("store_ap_put + store_audit, %u runs, each its own commit (WAL, synchronous=NORMAL) on %s:\n"
	       "  median %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us\n",
	       n, dir, t[n / 2] / 1e3, t[n * 9 / 10] / 1e3, t[n * 99 / 100] / 1e3, t[n - 1] / 1e3);
	snprintf(db, sizeof(db), "rm -rf %s", dir);
	free(t);
	return system(db) != 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_certs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpointer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpointer_cuts_wal_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpointer_start_stop, setup, teardown),
	};

	if (argc >= 2 && !strcmp(argv[1], "--bench"))
		return bench(argc >= 3 ? (unsigned)atoi(argv[2]) : 1000);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
