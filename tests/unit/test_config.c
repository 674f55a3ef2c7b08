/*
 * lscd.json loading: the shipped example, defaults, every class of error
 * (with the file and JSON path it must name), provision-list files, and
 * the operator edits that rewrite the file.
 *
 * Each test gets its own directory holding the files a config points at.
 * Set LSCD_SRCDIR when running from outside the source tree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ctrl/config.h"

struct fx {
	char dir[64];
	char cfg[128];             /* <dir>/lscd.json */
	struct cfg_errors errs;
};

/* A small valid configuration the tests bend one key at a time. */
static const char base_json[] =
	"{\"wireless_management_trustpoint\": \"WLC-TP\","
	" \"mic_ca_bundle\": \"mic-ca.pem\","
	" \"trustpoints\": {"
	"  \"WLC-TP\": {\"certificate\": \"wlc.pem\", \"private_key\": \"wlc.key\"},"
	"  \"AP-LSC\": {\"enrollment_url\": \"http://127.0.0.1:8080/scep\","
	"              \"subject\": \"C=US,O=Example,CN=lscd\"}},"
	" \"lsc_provision\": {\"trustpoint\": \"AP-LSC\", \"subject\": {\"country\": \"US\"}}}";

static void write_file(const struct fx *f, const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static char *read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/lscd-test-config-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->cfg, sizeof(f->cfg), "%s/lscd.json", f->dir);
	write_file(f, "mic-ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
	write_file(f, "wlc.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
	write_file(f, "wlc.key", "-----BEGIN PRIVATE KEY-----\n", 0600);
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

/* Set root.a.b.c = v (creating objects on the way); v NULL deletes. */
static void jset(json_t *root, const char *dotted, json_t *v)
{
	char path[256], *key, *dot;
	json_t *obj = root;

	snprintf(path, sizeof(path), "%s", dotted);
	key = path;
	while ((dot = strchr(key, '.'))) {
		json_t *next;

		*dot = '\0';
		next = json_object_get(obj, key);
		if (!next) {
			next = json_object();
			json_object_set_new(obj, key, next);
		}
		obj = next;
		key = dot + 1;
	}
	if (v)
		json_object_set_new(obj, key, v);
	else
		json_object_del(obj, key);
}

static json_t *base(void)
{
	json_t *root = json_loads(base_json, 0, NULL);

	assert_non_null(root);
	return root;
}

static void save(struct fx *f, json_t *root)
{
	char *text = json_dumps(root, JSON_INDENT(2));

	assert_non_null(text);
	write_file(f, "lscd.json", text, 0600);
	free(text);
}

/* Write root as the fixture's lscd.json, load it, drop root. */
static struct lscd_config *load(struct fx *f, json_t *root)
{
	save(f, root);
	json_decref(root);
	return cfg_load(f->cfg, &f->errs);
}

static void dump(const struct cfg_errors *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		print_message("    %s\n", e->msg[i]);
}

/* Some message equals "<lscd.json>: " + rest (rest may be a prefix with *). */
static bool has_msg(const struct fx *f, const char *rest)
{
	char want[512];
	size_t i, n;
	bool prefix;

	snprintf(want, sizeof(want), "%s: %s", f->cfg, rest);
	n = strlen(want);
	prefix = n && want[n - 1] == '*';
	if (prefix)
		want[--n] = '\0';
	for (i = 0; i < f->errs.n; i++)
		if (prefix ? !strncmp(f->errs.msg[i], want, n) : !strcmp(f->errs.msg[i], want))
			return true;
	return false;
}

#define expect_msg(f, rest) do {						\
	if (!has_msg((f), (rest))) {						\
		dump(&(f)->errs);						\
		fail_msg("no error \"%s: %s\"", (f)->cfg, (rest));		\
	}									\
} while (0)

static void expect_fail(struct fx *f, json_t *root, const char *rest)
{
	struct lscd_config *cfg = load(f, root);

	if (cfg)
		cfg_free(cfg);
	assert_null(cfg);
	expect_msg(f, rest);
}

static const uint8_t *mac_of(const char *s)
{
	static uint8_t m[6];
	unsigned v[6];

	assert_int_equal(sscanf(s, "%2x%2x%2x%2x%2x%2x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]), 6);
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)v[i];
	return m;
}

/* ------------------------------------------------------------------------ */

static void copy_example(struct fx *f, const char *name)
{
	const char *src = getenv("LSCD_SRCDIR");
	char path[PATH_MAX], *text;

	snprintf(path, sizeof(path), "%s/examples/%s", src ? src : ".", name);
	text = read_file(path);
	write_file(f, name, text, 0600);
	free(text);
}

static void test_example_loads(void **state)
{
	struct fx *f = *state;
	struct lscd_config *cfg;
	const struct cfg_trustpoint *tp;
	const struct sockaddr_in6 *s6;
	char want[256];

	copy_example(f, "lscd.json");
	copy_example(f, "provision-list.csv");
	cfg = cfg_load(f->cfg, &f->errs);
	if (!cfg)
		dump(&f->errs);
	assert_non_null(cfg);

	assert_int_equal(cfg->n_listen, 2);
	assert_string_equal(cfg->listen[0].text, "0.0.0.0:5246");
	s6 = (const struct sockaddr_in6 *)&cfg->listen[1].addr;
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(s6->sin6_port), 5246);
	assert_string_equal(cfg->database, "/var/lib/lscd/lscd.db");
	assert_int_equal(cfg->log_level, CFG_LOG_INFO);
	assert_string_equal(cfg->management_trustpoint, "WLC-TP");
	/* Relative paths are the config directory's. */
	snprintf(want, sizeof(want), "%s/mic-ca.pem", f->dir);
	assert_string_equal(cfg->mic_ca_bundle, want);

	tp = cfg_trustpoint(cfg, "WLC-TP");
	assert_non_null(tp);
	snprintf(want, sizeof(want), "%s/wlc.key", f->dir);
	assert_string_equal(tp->private_key_file, want);
	assert_null(tp->enrollment_url);

	tp = cfg_trustpoint(cfg, "AP-LSC");
	assert_non_null(tp);
	assert_string_equal(tp->enrollment_url, "http://127.0.0.1:8080/scep");
	assert_string_equal(tp->ca_fingerprint,
			    "3f1a9c227b0de458a16c930fb247de815ac036e9721d4bf80ca5693ed7128bf4");
	assert_int_equal(tp->auto_enroll_percent, 80);
	assert_int_equal(tp->max_concurrent, 4);
	assert_null(cfg_trustpoint(cfg, "ap-lsc"));

	assert_int_equal(cfg->lsc.mode, CFG_LSC_PROVISION_LIST);
	assert_string_equal(cfg->lsc.subject.country, "US");
	assert_string_equal(cfg->lsc.subject.email, "wifi-admin@example.org");
	/* Two inline, four in the file, one of them in both. */
	assert_int_equal(cfg->lsc.n_macs, 5);
	assert_memory_equal(cfg->lsc.macs[0], mac_of("00a2891c0f10"), 6);
	assert_memory_equal(cfg->lsc.macs[3], mac_of("00a2891c0f13"), 6);
	assert_memory_equal(cfg->lsc.macs[4], mac_of("286f7fcf53ac"), 6);
	assert_true(cfg_lsc_applies(cfg, mac_of("00a2891c0f11")));
	assert_false(cfg_lsc_applies(cfg, mac_of("00a2891c0f14")));

	assert_string_equal(cfg->capwap.ac_name, "lscd");
	assert_int_equal(cfg->capwap.max_message_size, 16384);
	assert_int_equal(cfg->limits.handshakes_per_source, 20);
	assert_true(cfg->metrics_enabled);
	assert_string_equal(cfg->metrics_listen.text, "127.0.0.1:9246");
	assert_string_equal(cfg->capture_pcap, "/tmp/lscd-capture.pcap");
	assert_string_equal(cfg->dtls_keylog, "/tmp/lscd-keys.log");
	assert_string_equal(cfg->path, f->cfg);
	cfg_free(cfg);
}

/* The example must use every key the loader knows: a key missing there is
 * a key missing from the operator's reference. */
static void test_example_uses_every_key(void **state)
{
	static const char *const keys[] = {
		"listen", "state_dir", "database", "control_socket", "log_level",
		"clock_valid", "wireless_management_trustpoint", "mic_ca_bundle", "trustpoints",
		"lsc_provision", "capwap", "limits", "metrics", "debug",
		"certificate", "private_key", "enrollment_url", "ca_fingerprint_sha256",
		"revocation_check", "auto_enroll", "regenerate", "http_timeout_ms",
		"poll_interval_s", "poll_retries", "max_concurrent", "mode", "trustpoint",
		"join_attempts", "key_type", "key_size", "subject", "country", "state",
		"city", "organization", "department", "email", "provision_list",
		"provision_list_file", "max_reprovision", "reprovision_window_s",
		"renew_percent", "renew_spread_s", "ac_name", "discovery_interval_s",
		"echo_interval_s", "retransmit_interval_s", "max_retransmit", "wait_dtls_s",
		"wait_join_s", "change_state_pending_s", "data_check_s", "mtu",
		"max_message_size", "max_sessions", "max_handshakes",
		"handshakes_per_source", "capture_pcap", "dtls_keylog", NULL,
	};
	struct fx *f = *state;
	char needle[64], *text;
	size_t i;

	(void)f;
	copy_example(f, "lscd.json");
	text = read_file(f->cfg);
	for (i = 0; keys[i]; i++) {
		snprintf(needle, sizeof(needle), "\"%s\":", keys[i]);
		if (!strstr(text, needle))
			fail_msg("examples/lscd.json lacks %s", keys[i]);
	}
	free(text);
}

static void test_defaults(void **state)
{
	struct fx *f = *state;
	json_t *root = base();
	struct lscd_config *cfg;

	jset(root, "lsc_provision", NULL);
	cfg = load(f, root);
	if (!cfg)
		dump(&f->errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->n_listen, 1);
	assert_string_equal(cfg->listen[0].text, "0.0.0.0:5246");
	assert_int_equal(((struct sockaddr_in *)&cfg->listen[0].addr)->sin_port, htons(5246));
	assert_string_equal(cfg->state_dir, "/var/lib/lscd");
	assert_string_equal(cfg->database, "/var/lib/lscd/lscd.db");
	assert_string_equal(cfg->control_socket, "/run/lscd/lscd.sock");
	assert_int_equal(cfg->log_level, CFG_LOG_INFO);
	assert_int_equal(cfg->clock_valid, CFG_CLOCK_NTP);
	assert_int_equal(cfg->lsc.mode, CFG_LSC_DISABLED);
	assert_int_equal(cfg->lsc.join_attempts, 3);
	assert_int_equal(cfg->lsc.key_type, CFG_KEY_RSA);
	assert_int_equal(cfg->lsc.key_size, 2048);
	assert_int_equal(cfg->lsc.max_reprovision, 2);
	assert_int_equal(cfg->lsc.reprovision_window_s, 86400);
	assert_int_equal(cfg->lsc.renew_percent, 80);
	assert_int_equal(cfg->lsc.n_macs, 0);
	assert_int_equal(cfg->capwap.discovery_interval_s, 20);
	assert_int_equal(cfg->capwap.echo_interval_s, 30);
	assert_int_equal(cfg->capwap.wait_join_s, 60);
	assert_int_equal(cfg->capwap.mtu, 1400);
	assert_int_equal(cfg->limits.max_sessions, 10000);
	assert_int_equal(cfg->limits.max_handshakes, 256);
	assert_false(cfg->metrics_enabled);
	assert_null(cfg->capture_pcap);
	assert_null(cfg->dtls_keylog);
	assert_int_equal(cfg_trustpoint(cfg, "AP-LSC")->key_size, 2048);
	assert_int_equal(cfg_trustpoint(cfg, "AP-LSC")->poll_retries, 10);
	assert_false(cfg_lsc_applies(cfg, mac_of("286f7fcf53ac")));
	cfg_free(cfg);

	/* The database follows state_dir unless it is named. */
	root = base();
	jset(root, "state_dir", json_string("state"));
	cfg = load(f, root);
	assert_non_null(cfg);
	assert_string_equal(cfg->database + strlen(f->dir), "/state/lscd.db");
	cfg_free(cfg);

	/* EC keys default to P-256. */
	root = base();
	jset(root, "lsc_provision.key_type", json_string("ec"));
	cfg = load(f, root);
	assert_non_null(cfg);
	assert_int_equal(cfg->lsc.key_size, 256);
	cfg_free(cfg);
}

static void test_unknown_keys(void **state)
{
	struct fx *f = *state;
	json_t *root = base();

	jset(root, "lsc_provision.subject.contry", json_string("US"));
	jset(root, "listne", json_array());
	jset(root, "frobnicate", json_true());
	jset(root, "trustpoints.AP-LSC.poll_intervals", json_integer(5));
	expect_fail(f, root, "lsc_provision.subject.contry: unknown key (did you mean \"country\"?)");
	expect_msg(f, "listne: unknown key (did you mean \"listen\"?)");
	expect_msg(f, "frobnicate: unknown key");
	expect_msg(f, "trustpoints.AP-LSC.poll_intervals: unknown key (did you mean \"poll_interval_s\"?)");
	assert_int_equal(f->errs.n, 4);
}

static void test_wrong_types(void **state)
{
	struct fx *f = *state;
	json_t *root = base();

	jset(root, "capwap.mtu", json_string("1400"));
	jset(root, "listen", json_string("0.0.0.0:5246"));
	jset(root, "trustpoints.AP-LSC.regenerate", json_integer(1));
	jset(root, "limits", json_array());
	jset(root, "lsc_provision.join_attempts", json_real(2.5));
	expect_fail(f, root, "capwap.mtu: expected an integer, got \"1400\"");
	expect_msg(f, "listen: expected an array of addresses, got \"0.0.0.0:5246\"");
	expect_msg(f, "trustpoints.AP-LSC.regenerate: expected true or false, got 1");
	expect_msg(f, "limits: expected an object, got an array");
	expect_msg(f, "lsc_provision.join_attempts: expected an integer, got 2.5");

	root = json_array();
	expect_fail(f, root, "top level: expected an object, got an array");
}

static void test_subject(void **state)
{
	struct fx *f = *state;
	struct lscd_config *cfg;
	json_t *root = base();
	char longorg[80];

	jset(root, "lsc_provision.subject.country", json_string("USA"));
	expect_fail(f, root, "lsc_provision.subject.country: must be two letters (ISO 3166 code such as \"US\"), got \"USA\"");

	root = base();
	jset(root, "lsc_provision.subject.country", json_string("U1"));
	expect_fail(f, root, "lsc_provision.subject.country: must be two letters*");

	/* Lower case is fine, and stored upper-cased as the payload wants. */
	root = base();
	jset(root, "lsc_provision.subject.country", json_string("mx"));
	cfg = load(f, root);
	assert_non_null(cfg);
	assert_string_equal(cfg->lsc.subject.country, "MX");
	cfg_free(cfg);

	memset(longorg, 'x', 65);
	longorg[65] = '\0';
	root = base();
	jset(root, "lsc_provision.subject.organization", json_string(longorg));
	jset(root, "lsc_provision.subject.city", json_string("Paris, TX"));
	jset(root, "lsc_provision.subject.state", json_string("CN=evil"));
	jset(root, "lsc_provision.subject.department", json_string("Wire\tless"));
	jset(root, "lsc_provision.subject.email", json_string("admin at example.org"));
	expect_fail(f, root, "lsc_provision.subject.organization: at most 64 bytes, got 65 in*");
	expect_msg(f, "lsc_provision.subject.city: ',' would break the certificate subject, in \"Paris, TX\"");
	expect_msg(f, "lsc_provision.subject.state: '=' would break the certificate subject, in \"CN=evil\"");
	expect_msg(f, "lsc_provision.subject.department: control character in \"Wire\\x09less\"");
	expect_msg(f, "lsc_provision.subject.email: not an e-mail address*");
	assert_int_equal(f->errs.n, 5);

	/* 64 bytes is the limit, not past it. */
	longorg[64] = '\0';
	root = base();
	jset(root, "lsc_provision.subject.organization", json_string(longorg));
	jset(root, "lsc_provision.subject.email", json_string("wifi.admin@it.example.org"));
	cfg = load(f, root);
	assert_non_null(cfg);
	assert_int_equal(strlen(cfg->lsc.subject.organization), 64);
	cfg_free(cfg);

	/* Provisioning needs a country for the parameter payload. */
	root = base();
	jset(root, "lsc_provision.subject", NULL);
	jset(root, "lsc_provision.mode", json_string("all"));
	expect_fail(f, root, "lsc_provision.subject.country: required when mode is \"all\"");
}

static void test_key_sizes(void **state)
{
	struct fx *f = *state;
	struct lscd_config *cfg;
	json_t *root = base();

	jset(root, "lsc_provision.key_size", json_integer(1024));
	jset(root, "trustpoints.AP-LSC.key_type", json_string("ec"));
	jset(root, "trustpoints.AP-LSC.key_size", json_integer(2048));
	expect_fail(f, root, "lsc_provision.key_size: 1024 is not an RSA key size lscd provisions (2048, 3072 or 4096)");
	expect_msg(f, "trustpoints.AP-LSC.key_size: 2048 is not an EC key size (256 for P-256, 384 for P-384)");

	root = base();
	jset(root, "lsc_provision.key_type", json_string("ecdsa"));
	expect_fail(f, root, "lsc_provision.key_type: must be \"rsa\" or \"ec\", got \"ecdsa\"");

	root = base();
	jset(root, "lsc_provision.key_type", json_string("ec"));
	jset(root, "lsc_provision.key_size", json_integer(384));
	jset(root, "trustpoints.AP-LSC.key_size", json_integer(4096));
	cfg = load(f, root);
	assert_non_null(cfg);
	assert_int_equal(cfg->lsc.key_type, CFG_KEY_EC);
	assert_int_equal(cfg->lsc.key_size, 384);
	assert_int_equal(cfg_trustpoint(cfg, "AP-LSC")->key_size, 4096);
	cfg_free(cfg);
}

static void test_trustpoint_refs(void **state)
{
	struct fx *f = *state;
	json_t *root = base();

	jset(root, "lsc_provision.trustpoint", json_string("AP-LCS"));
	jset(root, "wireless_management_trustpoint", json_string("NOPE"));
	expect_fail(f, root, "lsc_provision.trustpoint: no trustpoint named \"AP-LCS\" (did you mean \"AP-LSC\"?)");
	expect_msg(f, "wireless_management_trustpoint: no trustpoint named \"NOPE\" in \"trustpoints\"");

	/* LSCs come from a CA: a trustpoint of files cannot issue them. */
	root = base();
	jset(root, "lsc_provision.trustpoint", json_string("WLC-TP"));
	expect_fail(f, root, "lsc_provision.trustpoint: trustpoint \"WLC-TP\" has no \"enrollment_url\"*");

	root = base();
	jset(root, "lsc_provision.trustpoint", NULL);
	jset(root, "lsc_provision.mode", json_string("provision-list"));
	jset(root, "wireless_management_trustpoint", NULL);
	expect_fail(f, root, "lsc_provision.trustpoint: required when mode is \"provision-list\"");
	expect_msg(f, "wireless_management_trustpoint: required*");
}

static void test_trustpoint_sources(void **state)
{
	struct fx *f = *state;
	json_t *root = base();

	jset(root, "trustpoints.EMPTY", json_object());
	jset(root, "trustpoints.BOTH.certificate", json_string("wlc.pem"));
	jset(root, "trustpoints.BOTH.private_key", json_string("wlc.key"));
	jset(root, "trustpoints.BOTH.enrollment_url", json_string("http://ca/scep"));
	jset(root, "trustpoints.HALF.certificate", json_string("wlc.pem"));
	jset(root, "trustpoints.HALF.auto_enroll", json_integer(80));
	jset(root, "trustpoints.NOSUBJ.enrollment_url", json_string("http://ca.example:8080/scep"));
	jset(root, "trustpoints.TLS.enrollment_url", json_string("https://ca/scep"));
	jset(root, "trustpoints.TLS.subject", json_string("CN=x"));
	jset(root, "trustpoints.FP.enrollment_url", json_string("http://[::1]:8080/scep"));
	jset(root, "trustpoints.FP.subject", json_string("C=USA,CN=x"));
	jset(root, "trustpoints.FP.ca_fingerprint_sha256", json_string("AB:CD:EF"));
	jset(root, "trustpoints.NOFILE.certificate", json_string("missing.pem"));
	jset(root, "trustpoints.NOFILE.private_key", json_string("wlc.key"));
	jset(root, "trustpoints.bad name", json_object());
	expect_fail(f, root, "trustpoints.EMPTY: needs \"certificate\" and \"private_key\", or \"enrollment_url\"");
	expect_msg(f, "trustpoints.BOTH: has both files and \"enrollment_url\"*");
	expect_msg(f, "trustpoints.HALF.private_key: required with \"certificate\"");
	expect_msg(f, "trustpoints.HALF.auto_enroll: applies only to a trustpoint with \"enrollment_url\"");
	/* NOSUBJ only proxies APs' CSRs: no subject needed, no error. */
	for (size_t i = 0; i < f->errs.n; i++)
		assert_null(strstr(f->errs.msg[i], "NOSUBJ"));
	expect_msg(f, "trustpoints.TLS.enrollment_url: \"https://ca/scep\": only http:// is supported*");
	expect_msg(f, "trustpoints.FP.subject: \"C=USA,CN=x\": *");
	expect_msg(f, "trustpoints.FP.ca_fingerprint_sha256: a SHA-256 fingerprint is 64 hex digits, got 6 in \"AB:CD:EF\"");
	char want[400];
	snprintf(want, sizeof(want), "trustpoints.NOFILE.certificate: \"%s/missing.pem\": No such file or directory", f->dir);
	expect_msg(f, want);
	expect_msg(f, "trustpoints.bad name: trustpoint name \"bad name\"*");
}

static void test_management_trustpoint_needs_subject(void **state)
{
	struct fx *f = *state;
	json_t *root = base();

	/* The management trustpoint enrolls the controller's own identity. */
	jset(root, "wireless_management_trustpoint", json_string("SCEP-WLC"));
	jset(root, "trustpoints.SCEP-WLC.enrollment_url", json_string("http://127.0.0.1:8080/scep"));
	expect_fail(f, root, "trustpoints.SCEP-WLC.subject: required for the wireless management trustpoint*");
}

static void test_provision_list_inline(void **state)
{
	struct fx *f = *state;
	struct lscd_config *cfg;
	json_t *root = base(), *list = json_array();

	json_array_append_new(list, json_string("286f.7fcf.53ac"));
	json_array_append_new(list, json_string("zz:00:11:22:33:44"));
	json_array_append_new(list, json_string("01:00:5e:00:00:01"));
	json_array_append_new(list, json_integer(5));
	json_array_append_new(list, json_string("ffff.ffff.ffff"));
	json_array_append_new(list, json_string("000000000000"));
	json_array_append_new(list, json_string("286f.7fcf.53a"));
	jset(root, "lsc_provision.provision_list", list);
	expect_fail(f, root, "lsc_provision.provision_list[1]: not a MAC address: \"zz:00:11:22:33:44\"");
	expect_msg(f, "lsc_provision.provision_list[2]: \"01:00:5e:00:00:01\" is a multicast address, not an AP's");
	expect_msg(f, "lsc_provision.provision_list[3]: expected a string, got 5");
	expect_msg(f, "lsc_provision.provision_list[4]: \"ffff.ffff.ffff\" is the broadcast address, not an AP's");
	expect_msg(f, "lsc_provision.provision_list[5]: \"000000000000\" is the all-zero address, not an AP's");
	expect_msg(f, "lsc_provision.provision_list[6]: not a MAC address: \"286f.7fcf.53a\"");
	assert_int_equal(f->errs.n, 6);

	/* Every notation, either case; duplicates collapse; sorted. */
	root = base();
	list = json_array();
	json_array_append_new(list, json_string("286F.7FCF.53AC"));
	json_array_append_new(list, json_string("00:a2:89:1c:0f:10"));
	json_array_append_new(list, json_string("28-6f-7f-cf-53-ac"));
	json_array_append_new(list, json_string("00A2891C0F0F"));
	jset(root, "lsc_provision.provision_list", list);
	jset(root, "lsc_provision.mode", json_string("provision-list"));
	cfg = load(f, root);
	assert_non_null(cfg);
	assert_int_equal(cfg->lsc.n_macs, 3);
	assert_memory_equal(cfg->lsc.macs[0], mac_of("00a2891c0f0f"), 6);
	assert_memory_equal(cfg->lsc.macs[1], mac_of("00a2891c0f10"), 6);
	assert_memory_equal(cfg->lsc.macs[2], mac_of("286f7fcf53ac"), 6);
	cfg_free(cfg);
}

static void test_syntax_errors(void **state)
{
	struct fx *f = *state;
	char want[256];

	write_file(f, "lscd.json", "{\n  \"listen\": [\"0.0.0.0:5246\",]\n}\n", 0600);
	assert_null(cfg_load(f->cfg, &f->errs));
	assert_int_equal(f->errs.n, 1);
	/* file:line:column: the parser's text, pointing at the stray ']'. */
	snprintf(want, sizeof(want), "%s:2:29: unexpected token near ']'", f->cfg);
	assert_string_equal(f->errs.msg[0], want);

	write_file(f, "lscd.json", "{\"log_level\": \"info\",\n\"log_level\": \"debug\"}", 0600);
	assert_null(cfg_load(f->cfg, &f->errs));
	assert_int_equal(f->errs.n, 1);
	snprintf(want, sizeof(want), "%s:2:", f->cfg);
	assert_int_equal(strncmp(f->errs.msg[0], want, strlen(want)), 0);
	assert_non_null(strstr(f->errs.msg[0], "duplicate"));

	assert_null(cfg_load("/nonexistent/lscd.json", &f->errs));
	assert_string_equal(f->errs.msg[0], "/nonexistent/lscd.json: No such file or directory");
}

static void test_permissions(void **state)
{
	struct fx *f = *state;
	json_t *root = base();
	char want[400];

	save(f, root);
	assert_int_equal(chmod(f->cfg, 0666), 0);
	assert_null(cfg_load(f->cfg, &f->errs));
	assert_int_equal(f->errs.n, 1);
	snprintf(want, sizeof(want), "%s: world-writable (mode 0666): refusing to use it (chmod o-w)", f->cfg);
	assert_string_equal(f->errs.msg[0], want);

	/* Group-writable is the operator's choice; world-writable is not. */
	assert_int_equal(chmod(f->cfg, 0664), 0);
	struct lscd_config *cfg = cfg_load(f->cfg, &f->errs);
	assert_non_null(cfg);
	cfg_free(cfg);

	write_file(f, "wlc.key", "key", 0646);
	snprintf(want, sizeof(want), "trustpoints.WLC-TP.private_key: \"%s/wlc.key\" is world-writable (mode 0646)*", f->dir);
	expect_fail(f, root, want);
}

static void test_addresses_and_timers(void **state)
{
	struct fx *f = *state;
	json_t *root = base(), *l = json_array();
	struct lscd_config *cfg;

	json_array_append_new(l, json_string("1.2.3.4"));
	json_array_append_new(l, json_string("::1:5246"));
	json_array_append_new(l, json_string("[::1]:0"));
	json_array_append_new(l, json_string("wlc.example:5246"));
	json_array_append_new(l, json_string("1.2.3.4:65536"));
	json_array_append_new(l, json_string("10.0.0.1:5246"));
	json_array_append_new(l, json_string("10.0.0.1:5246"));
	jset(root, "listen", l);
	jset(root, "capwap.echo_interval_s", json_integer(256));
	jset(root, "capwap.discovery_interval_s", json_integer(1));
	jset(root, "capwap.mtu", json_integer(500));
	jset(root, "capwap.max_message_size", json_integer(70000));
	jset(root, "capwap.wait_join_s", json_integer(20));
	jset(root, "limits.max_sessions", json_integer(0));
	jset(root, "lsc_provision.join_attempts", json_integer(256));
	jset(root, "log_level", json_string("verbose"));
	jset(root, "metrics", json_object());
	expect_fail(f, root, "listen[0]: \"1.2.3.4\": missing \":port\"");
	expect_msg(f, "listen[1]: \"::1:5246\": an IPv6 address needs brackets: \"[address]:port\"");
	expect_msg(f, "listen[2]: \"[::1]:0\": the port must be 1..65535");
	expect_msg(f, "listen[3]: \"wlc.example:5246\": not an IPv4 address*");
	expect_msg(f, "listen[4]: \"1.2.3.4:65536\": the port must be 1..65535");
	expect_msg(f, "listen[6]: \"10.0.0.1:5246\" is listed twice");
	expect_msg(f, "capwap.echo_interval_s: must be 1..255, got 256");
	expect_msg(f, "capwap.discovery_interval_s: must be 2..180, got 1");
	expect_msg(f, "capwap.mtu: must be 576..9000, got 500");
	expect_msg(f, "capwap.max_message_size: must be 4096..65535, got 70000");
	expect_msg(f, "capwap.wait_join_s: must be 21..3600, got 20");
	expect_msg(f, "limits.max_sessions: must be 1..1000000, got 0");
	expect_msg(f, "lsc_provision.join_attempts: must be 0..255, got 256");
	expect_msg(f, "log_level: must be \"error\", \"warning\", \"info\" or \"debug\", got \"verbose\"");
	expect_msg(f, "metrics.listen: required*");
	assert_int_equal(f->errs.n, 15);

	root = base();
	l = json_array();
	json_array_append_new(l, json_string("[fe80::1]:5246"));
	json_array_append_new(l, json_string("127.0.0.1:15246"));
	jset(root, "listen", l);
	jset(root, "lsc_provision.join_attempts", json_integer(0));
	jset(root, "metrics.listen", json_string("[::1]:9246"));
	cfg = load(f, root);
	assert_non_null(cfg);
	assert_int_equal(cfg->n_listen, 2);
	assert_int_equal(cfg->listen[0].len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(((struct sockaddr_in *)&cfg->listen[1].addr)->sin_port), 15246);
	assert_int_equal(cfg->lsc.join_attempts, 0);
	assert_true(cfg->metrics_enabled);
	cfg_free(cfg);
}

static void test_error_cap(void **state)
{
	struct fx *f = *state;
	json_t *root = base();
	char key[32];

	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "junk%03d", i);
		jset(root, key, json_true());
	}
	assert_null(load(f, root));
	assert_int_equal(f->errs.n, CFG_MAX_ERRORS);
	expect_msg(f, "junk000: unknown key");
	assert_string_equal(f->errs.msg[CFG_MAX_ERRORS - 1],
			    "too many errors: only the first 63 are shown");
}

/* ------------------------------------------------------------------------ */

static void test_mac_file(void **state)
{
	struct fx *f = *state;
	uint8_t (*macs)[6] = NULL;
	size_t n = 0;
	char path[128], want[400];

	write_file(f, "aps.csv",
		   "\xef\xbb\xbf# inventory export\r\n"
		   "\r\n"
		   "Name,AP MAC Address,Site\r\n"
		   "lobby,286f.7fcf.53ac,HQ\r\n"
		   "\"lab, 2nd floor\",\"00:A2:89:1C:0F:11\",HQ\r\n"
		   "dock,00-a2-89-1c-0f-12,Depot   # hyphens\r\n"
		   "bad,00a2.891c.0fzz,Depot\r\n"
		   "   # indented comment\r\n"
		   "group,0100.5e00.00fb,HQ\r\n"
		   "hole,,HQ\r\n"
		   "quote,\"00a2891c0f13,HQ\r\n"
		   "last,00A2891C0F13,HQ\r\n", 0644);
	snprintf(path, sizeof(path), "%s/aps.csv", f->dir);
	f->errs.n = 0;
	assert_false(cfg_parse_mac_file(path, &macs, &n, &f->errs));
	assert_int_equal(n, 4);
	assert_memory_equal(macs[0], mac_of("286f7fcf53ac"), 6);
	assert_memory_equal(macs[1], mac_of("00a2891c0f11"), 6);
	assert_memory_equal(macs[2], mac_of("00a2891c0f12"), 6);
	assert_memory_equal(macs[3], mac_of("00a2891c0f13"), 6);
	assert_int_equal(f->errs.n, 4);
	snprintf(want, sizeof(want), "%s:7:2: not a MAC address: \"00a2.891c.0fzz\"", path);
	assert_string_equal(f->errs.msg[0], want);
	snprintf(want, sizeof(want), "%s:9:2: \"0100.5e00.00fb\" is a multicast address, not an AP's", path);
	assert_string_equal(f->errs.msg[1], want);
	snprintf(want, sizeof(want), "%s:10:2: not a MAC address: \"\"", path);
	assert_string_equal(f->errs.msg[2], want);
	snprintf(want, sizeof(want), "%s:11: unterminated quoted field", path);
	assert_string_equal(f->errs.msg[3], want);
	free(macs);

	/* Plain text: one per line, no header; appends to what is there. */
	write_file(f, "aps.txt", "286f7fcf53ac\n  00:a2:89:1c:0f:10  \nnot-a-mac\n\n", 0644);
	snprintf(path, sizeof(path), "%s/aps.txt", f->dir);
	macs = malloc(6);
	memcpy(macs[0], mac_of("aabbccddeeff"), 6);
	n = 1;
	f->errs.n = 0;
	assert_false(cfg_parse_mac_file(path, &macs, &n, &f->errs));
	assert_int_equal(n, 3);
	assert_memory_equal(macs[0], mac_of("aabbccddeeff"), 6);
	assert_memory_equal(macs[2], mac_of("00a2891c0f10"), 6);
	assert_int_equal(f->errs.n, 1);
	snprintf(want, sizeof(want), "%s:3:1: not a MAC address: \"not-a-mac\"", path);
	assert_string_equal(f->errs.msg[0], want);
	free(macs);

	/* Without a header every field is a MAC; trailing separators are fine. */
	write_file(f, "aps2.csv", "286f7fcf53ac;00a2.891c.0f10,\n", 0644);
	snprintf(path, sizeof(path), "%s/aps2.csv", f->dir);
	macs = NULL;
	n = 0;
	f->errs.n = 0;
	assert_true(cfg_parse_mac_file(path, &macs, &n, &f->errs));
	assert_int_equal(n, 2);
	assert_int_equal(f->errs.n, 0);
	free(macs);

	f->errs.n = 0;
	snprintf(path, sizeof(path), "%s/none.csv", f->dir);
	assert_false(cfg_parse_mac_file(path, &macs, &n, &f->errs));
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(f->errs.msg[0], want);
}

static void test_mac_file_in_config(void **state)
{
	struct fx *f = *state;
	json_t *root = base(), *list = json_array();
	struct lscd_config *cfg;
	char want[400];

	write_file(f, "aps.csv", "mac\n00a2.891c.0f12\n286f.7fcf.53ac\n00a2.891c.0f11\n", 0640);
	json_array_append_new(list, json_string("286f7fcf53ac"));
	json_array_append_new(list, json_string("00:a2:89:1c:0f:10"));
	jset(root, "lsc_provision.provision_list", list);
	jset(root, "lsc_provision.provision_list_file", json_string("aps.csv"));
	jset(root, "lsc_provision.mode", json_string("provision-list"));
	cfg = load(f, root);
	if (!cfg)
		dump(&f->errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->lsc.n_macs, 4);
	for (size_t i = 1; i < cfg->lsc.n_macs; i++)
		assert_true(memcmp(cfg->lsc.macs[i - 1], cfg->lsc.macs[i], 6) < 0);
	assert_true(cfg_mac_listed(cfg, mac_of("00a2891c0f12")));
	assert_true(cfg_mac_listed(cfg, mac_of("00a2891c0f10")));
	assert_false(cfg_mac_listed(cfg, mac_of("00a2891c0f13")));
	cfg_free(cfg);

	/* A bad line in the file fails the load and names file, line, field. */
	write_file(f, "aps.csv", "mac\n00a2.891c.0f12\nbogus\n", 0640);
	root = base();
	jset(root, "lsc_provision.provision_list_file", json_string("aps.csv"));
	snprintf(want, sizeof(want), "%s/aps.csv:3:1: not a MAC address: \"bogus\"", f->dir);
	assert_null(load(f, root));
	assert_int_equal(f->errs.n, 1);
	assert_string_equal(f->errs.msg[0], want);

	/* The list decides who gets certificates: not from a file anyone can write. */
	write_file(f, "aps.csv", "00a2.891c.0f12\n", 0666);
	root = base();
	jset(root, "lsc_provision.provision_list_file", json_string("aps.csv"));
	snprintf(want, sizeof(want), "lsc_provision.provision_list_file: \"%s/aps.csv\" is world-writable (mode 0666)*", f->dir);
	expect_fail(f, root, want);
}

static void test_modes(void **state)
{
	struct fx *f = *state;
	static const char *const modes[] = { "disabled", "all", "provision-list" };
	const uint8_t listed[6] = { 0x28, 0x6f, 0x7f, 0xcf, 0x53, 0xac };
	const uint8_t other[6] = { 0x28, 0x6f, 0x7f, 0xcf, 0x53, 0xad };

	for (int m = 0; m < 3; m++) {
		json_t *root = base(), *list = json_array();
		struct lscd_config *cfg;

		json_array_append_new(list, json_string("286f.7fcf.53ac"));
		jset(root, "lsc_provision.provision_list", list);
		jset(root, "lsc_provision.mode", json_string(modes[m]));
		cfg = load(f, root);
		assert_non_null(cfg);
		assert_int_equal(cfg->lsc.mode, m);
		assert_string_equal(cfg_lsc_mode_name(cfg->lsc.mode), modes[m]);
		/* Listed is listed whatever the mode; applies depends on it. */
		assert_true(cfg_mac_listed(cfg, listed));
		assert_false(cfg_mac_listed(cfg, other));
		assert_int_equal(cfg_lsc_applies(cfg, listed), m != CFG_LSC_DISABLED);
		assert_int_equal(cfg_lsc_applies(cfg, other), m == CFG_LSC_ALL);
		cfg_free(cfg);
	}
	json_t *root = base();
	jset(root, "lsc_provision.mode", json_string("al"));
	expect_fail(f, root, "lsc_provision.mode: must be \"disabled\", \"all\" or \"provision-list\", got \"al\"");
}

/* ------------------------------------------------------------------------ */

static void test_file_edits(void **state)
{
	struct fx *f = *state;
	json_t *root = base(), *doc, *list;
	struct lscd_config *cfg;
	struct stat st;
	bool changed;
	char *before, *after;
	const char *key;
	json_t *v;
	size_t i;
	static const char *const order[] = { "wireless_management_trustpoint",
		"mic_ca_bundle", "trustpoints", "lsc_provision", "capwap" };

	jset(root, "capwap.mtu", json_integer(1300));
	save(f, root);
	json_decref(root);
	assert_int_equal(chmod(f->cfg, 0640), 0);
	before = read_file(f->cfg);

	assert_true(cfg_file_add_mac(f->cfg, mac_of("286f7fcf53ac"), &changed, &f->errs));
	assert_true(changed);
	assert_int_equal(stat(f->cfg, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	doc = json_load_file(f->cfg, 0, NULL);
	assert_non_null(doc);
	/* Key order and the other keys survive the rewrite. */
	i = 0;
	json_object_foreach(doc, key, v)
		assert_string_equal(key, order[i++]);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "capwap"), "mtu")), 1300);
	list = json_object_get(json_object_get(doc, "lsc_provision"), "provision_list");
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_array_get(list, 0)), "286f.7fcf.53ac");
	json_decref(doc);

	/* Present already, in any notation: nothing to do, file untouched. */
	after = read_file(f->cfg);
	assert_true(cfg_file_add_mac(f->cfg, mac_of("286f7fcf53ac"), &changed, &f->errs));
	assert_false(changed);
	{
		char *again = read_file(f->cfg);

		assert_string_equal(again, after);
		free(again);
	}
	free(after);

	assert_true(cfg_file_add_mac(f->cfg, mac_of("00a2891c0f10"), &changed, &f->errs));
	assert_true(changed);
	assert_true(cfg_file_set_mode(f->cfg, CFG_LSC_PROVISION_LIST, &f->errs));
	cfg = cfg_load(f->cfg, &f->errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->lsc.mode, CFG_LSC_PROVISION_LIST);
	assert_int_equal(cfg->lsc.n_macs, 2);
	assert_true(cfg_lsc_applies(cfg, mac_of("00a2891c0f10")));
	assert_int_equal(cfg->capwap.mtu, 1300);
	cfg_free(cfg);

	assert_true(cfg_file_remove_mac(f->cfg, mac_of("286f7fcf53ac"), &changed, &f->errs));
	assert_true(changed);
	assert_true(cfg_file_remove_mac(f->cfg, mac_of("286f7fcf53ac"), &changed, &f->errs));
	assert_false(changed);
	assert_true(cfg_file_remove_mac(f->cfg, mac_of("00a2891c0f10"), &changed, &f->errs));
	assert_true(changed);
	assert_true(cfg_file_set_mode(f->cfg, CFG_LSC_DISABLED, &f->errs));
	cfg = cfg_load(f->cfg, &f->errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->lsc.mode, CFG_LSC_DISABLED);
	assert_int_equal(cfg->lsc.n_macs, 0);
	cfg_free(cfg);
	assert_int_equal(stat(f->cfg, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	{
		/* Back where we started, apart from the now-empty list. */
		json_t *b = json_loads(before, 0, NULL), *a = json_load_file(f->cfg, 0, NULL);

		jset(b, "lsc_provision.provision_list", json_array());
		jset(b, "lsc_provision.mode", json_string("disabled"));
		assert_true(json_equal(a, b));
		json_decref(a);
		json_decref(b);
	}
	free(before);
	char tmp[200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->cfg);
	assert_int_equal(access(tmp, F_OK), -1);

	assert_false(cfg_file_add_mac(f->cfg, mac_of("ffffffffffff"), &changed, &f->errs));
	assert_false(changed);
	expect_msg(f, "lsc_provision.provision_list: ffff.ffff.ffff is the broadcast address, not an AP's");
}

static void test_file_add_batch(void **state)
{
	struct fx *f = *state;
	json_t *root = base(), *doc, *list;
	uint8_t macs[4][6];
	bool added[4];
	char *before, *after;

	jset(root, "lsc_provision.provision_list", json_pack("[s]", "286f7fcf53ac"));
	save(f, root);
	json_decref(root);
	memcpy(macs[0], mac_of("286f7fcf53ac"), 6);   /* already listed */
	memcpy(macs[1], mac_of("00a2891c0f10"), 6);
	memcpy(macs[2], mac_of("00a2891c0f11"), 6);
	memcpy(macs[3], mac_of("00a2891c0f10"), 6);   /* twice in the batch */
	assert_true(cfg_file_add_macs(f->cfg, (const uint8_t (*)[6])macs, 4, added, &f->errs));
	assert_false(added[0]);
	assert_true(added[1] && added[2]);
	assert_false(added[3]);
	doc = json_load_file(f->cfg, 0, NULL);
	list = json_object_get(json_object_get(doc, "lsc_provision"), "provision_list");
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(json_string_value(json_array_get(list, 2)), "00a2.891c.0f11");
	json_decref(doc);

	/* One MAC that cannot be listed refuses the batch and leaves the file. */
	before = read_file(f->cfg);
	memcpy(macs[1], mac_of("00a2891c0f20"), 6);
	memcpy(macs[2], mac_of("ffffffffffff"), 6);
	assert_false(cfg_file_add_macs(f->cfg, (const uint8_t (*)[6])macs, 3, added, &f->errs));
	assert_false(added[1]);
	expect_msg(f, "lsc_provision.provision_list: ffff.ffff.ffff is the broadcast address, not an AP's");
	after = read_file(f->cfg);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void test_file_edit_guards(void **state)
{
	struct fx *f = *state;
	json_t *root = base();
	bool changed;
	char *before, *after, want[400];

	/* A MAC listed in the operator's file can only be removed there. */
	write_file(f, "aps.csv", "286f.7fcf.53ac\n", 0644);
	jset(root, "lsc_provision.provision_list_file", json_string("aps.csv"));
	jset(root, "lsc_provision.provision_list", json_pack("[s]", "286f7fcf53ac"));
	save(f, root);
	json_decref(root);
	before = read_file(f->cfg);
	assert_false(cfg_file_remove_mac(f->cfg, mac_of("286f7fcf53ac"), &changed, &f->errs));
	assert_false(changed);
	snprintf(want, sizeof(want), "lsc_provision.provision_list_file: 286f.7fcf.53ac is listed in %s/aps.csv, which lscd does not rewrite: remove it there", f->dir);
	expect_msg(f, want);
	after = read_file(f->cfg);
	assert_string_equal(before, after);
	free(after);

	/* An edit that would make the file invalid never reaches it. */
	root = base();
	jset(root, "lsc_provision.trustpoint", NULL);
	save(f, root);
	json_decref(root);
	free(before);
	before = read_file(f->cfg);
	assert_false(cfg_file_set_mode(f->cfg, CFG_LSC_ALL, &f->errs));
	expect_msg(f, "lsc_provision.trustpoint: required when mode is \"all\"");
	after = read_file(f->cfg);
	assert_string_equal(before, after);
	free(after);
	free(before);

	/* Same rule as loading: no edits to a world-writable file. */
	assert_int_equal(chmod(f->cfg, 0666), 0);
	assert_false(cfg_file_add_mac(f->cfg, mac_of("286f7fcf53ac"), &changed, &f->errs));
	snprintf(want, sizeof(want), "%s: world-writable (mode 0666)*", f->cfg);
	assert_int_equal(strncmp(f->errs.msg[0], want, strlen(want) - 1), 0);
}

static void test_load_buffer(void **state)
{
	struct fx *f = *state;
	struct cfg_errors e;
	struct lscd_config *cfg;

	cfg = cfg_load_buffer("mem.json", f->dir, base_json, strlen(base_json), &e);
	if (!cfg)
		dump(&e);
	assert_non_null(cfg);
	cfg_free(cfg);
	assert_null(cfg_load_buffer("mem.json", f->dir, "{\"mtu\": 1}", 10, &e));
	assert_string_equal(e.msg[0], "mem.json: mtu: unknown key");
	assert_null(cfg_load_buffer("mem.json", f->dir, "{", 1, &e));
	assert_int_equal(strncmp(e.msg[0], "mem.json:1:", 11), 0);
}

/* The lifecycle's clock guard: the operator's word or the kernel's. */
static void test_clock_valid(void **state)
{
	struct fx *f = *state;
	struct lscd_config *cfg;
	json_t *root;

	root = base();
	jset(root, "clock_valid", json_true());
	cfg = load(f, root);
	assert_non_null(cfg);
	assert_int_equal(cfg->clock_valid, CFG_CLOCK_TRUE);
	cfg_free(cfg);

	root = base();
	jset(root, "clock_valid", json_false());
	cfg = load(f, root);
	assert_non_null(cfg);
	assert_int_equal(cfg->clock_valid, CFG_CLOCK_FALSE);
	cfg_free(cfg);

	root = base();
	jset(root, "clock_valid", json_string("ntp"));
	cfg = load(f, root);
	assert_non_null(cfg);
	assert_int_equal(cfg->clock_valid, CFG_CLOCK_NTP);
	cfg_free(cfg);

	root = base();
	jset(root, "clock_valid", json_string("yes"));
	expect_fail(f, root, "clock_valid: must be true, false or \"ntp\", got \"yes\"");
	root = base();
	jset(root, "clock_valid", json_integer(1));
	expect_fail(f, root, "clock_valid: expected true, false or \"ntp\", got *");
	/* Where an operator might have put it instead. */
	root = base();
	jset(root, "trustpoints.AP-LSC.clock_valid", json_true());
	expect_fail(f, root, "trustpoints.AP-LSC.clock_valid: unknown key*");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_example_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_uses_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trustpoint_refs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trustpoint_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_management_trustpoint_needs_subject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_provision_list_inline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addresses_and_timers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mac_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mac_file_in_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_edits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_add_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_edit_guards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_valid, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
