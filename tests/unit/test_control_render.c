/*
 * lscctl's side of the protocol (tools/lscctl.c, included here so that its
 * static renderers and grammar can be tested without a socket): the tables
 * against the layouts of ../shared/spec/show-output.md, the time and
 * fingerprint forms, the token-table grammar, and that every command
 * lscctl sends is one the daemon's table (ctrl/control.c) knows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ctrl/control.h"

#define main lscctl_main
#include "tools/lscctl.c"
#undef main

/* Render data (JSON text) with fn; returns the output (caller frees). */
static char *render(void (*fn)(FILE *, const json_t *), const char *json)
{
	json_error_t je;
	json_t *data = json_loads(json, 0, &je);
	char *buf = NULL;
	size_t len = 0;

	if (data == NULL)
		fail_msg("bad test JSON: %s", je.text);
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	fn(f, data);
	fclose(f);
	json_decref(data);
	return buf;
}

static void test_lsc_summary_is_the_9800_layout(void **state)
{
	(void)state;
	char *out = render(render_lsc_summary,
		"{\"mode\":\"all\",\"trustpoint\":\"AP-LSC\",\"join_attempts\":10,"
		"\"subject\":{\"country\":\"MX\",\"state\":\"CDMX\",\"city\":\"Juarez\",\"organization\":\"Example Org\","
		"\"department\":\"Wireless\",\"email\":\"wifi-admin@example.org\"},\"key_type\":\"rsa\",\"key_size\":2048,"
		"\"provision_list_count\":2,\"provision_list\":[\"28:6f:7f:cf:53:ac\",\"00:a2:89:1c:0f:10\"]}");
	assert_string_equal(out,
		"AP LSC-provisioning : Enabled for all APs\n"
		"Trustpoint used for LSC-provisioning : AP-LSC\n"
		"LSC Revert Count in AP reboots : 10\n"
		"AP LSC Parameters :\n"
		"Country : MX\n"
		"State : CDMX\n"
		"City : Juarez\n"
		"Orgn : Example Org\n"
		"Dept : Wireless\n"
		"Email : wifi-admin@example.org\n"
		"Key Size : 2048\n"
		"AP LSC-provision List :\n"
		"Total number of APs in provision list: 2\n"
		"Mac Addresses :\n"
		"--------------\n"
		"286f.7fcf.53ac\n"
		"00a2.891c.0f10\n");
	free(out);
	out = render(render_lsc_summary,
		"{\"mode\":\"provision-list\",\"trustpoint\":\"AP-LSC\",\"join_attempts\":3,"
		"\"subject\":{\"country\":\"US\",\"state\":\"\"},\"key_type\":\"ec\",\"key_size\":384,"
		"\"provision_list_count\":0,\"provision_list\":[]}");
	assert_string_equal(out,
		"AP LSC-provisioning : Enabled for APs in provision list\n"
		"Trustpoint used for LSC-provisioning : AP-LSC\n"
		"LSC Revert Count in AP reboots : 3\n"
		"AP LSC Parameters :\n"
		"Country : US\n"
		"EC Key Size : 384 bit\n"
		"AP LSC-provision List :\n"
		"Total number of APs in provision list: 0\n"
		"Mac Addresses :\n"
		"--------------\n");
	free(out);
	out = render(render_lsc_summary, "{\"mode\":\"disabled\",\"trustpoint\":\"\"}");
	assert_non_null(strstr(out, "AP LSC-provisioning : Disabled\n"
				    "Trustpoint used for LSC-provisioning : Not Configured\n"));
	free(out);
}

static void test_management_trustpoint_layout(void **state)
{
	(void)state;
	char *out = render(render_mgmt_tp,
		"{\"trustpoint\":\"AP-LSC\",\"certificate_available\":true,\"certificate_type\":\"LSC\","
		"\"sha1\":\"9e5623adba5307facf778e6ea2f5082877ea4beb\",\"private_key_available\":true}");
	assert_string_equal(out,
		"Trustpoint  Name : AP-LSC\n"
		"Certificate Info : Available\n"
		"Certificate Type : LSC\n"
		"Certificate Hash : 9e5623adba5307facf778e6ea2f5082877ea4beb\n"
		"Private key Info : Available\n");
	free(out);
	out = render(render_mgmt_tp,
		"{\"trustpoint\":\"WLC\",\"certificate_available\":false,\"private_key_available\":false}");
	assert_string_equal(out,
		"Trustpoint  Name : WLC\n"
		"Certificate Info : Not Available\n"
		"Private key Info : Not Available\n");
	free(out);
}

static void test_timers_are_the_ios_layout(void **state)
{
	(void)state;
	char *out = render(render_pki_timers,
		"{\"timers\":[{\"name\":\"SESSION CLEANUP\",\"subject\":\"\",\"remaining_ms\":469003},"
		"{\"name\":\"RENEW\",\"subject\":\"AP-LSC\",\"remaining_ms\":284724003},"
		"{\"name\":\"SHADOW\",\"subject\":\"AP-LSC\",\"remaining_ms\":55295657977}]}");
	assert_string_equal(out,
		"PKI Timers\n"
		"|        7:49.003\n"
		"|        7:49.003  SESSION CLEANUP\n"
		"|  3d 7:05:24.003  RENEW AP-LSC\n"
		"|639d23:54:17.977  SHADOW AP-LSC\n");
	free(out);
	out = render(render_pki_timers, "{\"timers\":[]}");
	assert_string_equal(out, "PKI Timers\n");
	free(out);
}

static void test_time_and_fingerprint_forms(void **state)
{
	char s[64];
	(void)state;

	fmt_remaining(469003, s, sizeof(s));
	assert_string_equal(s, "7:49.003");
	fmt_remaining(3600000 + 60000 * 7 + 49003, s, sizeof(s));
	assert_string_equal(s, "1:07:49.003");
	fmt_remaining(-5000, s, sizeof(s));
	assert_string_equal(s, "0:00.000");
	fmt_uptime(80, s, sizeof(s));
	assert_string_equal(s, "0 d, 00 h 01 m 20 s");
	fmt_uptime(2 * 86400 + 3 * 3600 + 4 * 60 + 5, s, sizeof(s));
	assert_string_equal(s, "2 d, 03 h 04 m 05 s");
	fmt_fingerprint("e630eae6fb824658690eb0f5638d7224", s, sizeof(s));
	assert_string_equal(s, "E630EAE6 FB824658 690EB0F5 638D7224");
	fmt_ios_date(1544014968, s, sizeof(s));       /* 2018-12-05 13:02:48 UTC */
	assert_string_equal(s, "13:02:48 UTC Dec 5 2018");
	fmt_time(0, s, sizeof(s));
	assert_string_equal(s, "-");
	fmt_time(1544014968, s, sizeof(s));
	assert_string_equal(s, "2018-12-05 13:02:48 UTC");
	fmt_sig_alg("sha256WithRSAEncryption", s, sizeof(s));
	assert_string_equal(s, "SHA256 with RSA Encryption");
	fmt_sig_alg("ecdsa-with-SHA384", s, sizeof(s));
	assert_string_equal(s, "SHA384 with ECDSA");
	fmt_sig_alg("ED25519", s, sizeof(s));
	assert_string_equal(s, "ED25519");
	fmt_dotted("28:6f:7f:cf:53:ac", s, sizeof(s));
	assert_string_equal(s, "286f.7fcf.53ac");
}

static void test_certificate_block(void **state)
{
	(void)state;
	char *out = render(render_cert,
		"{\"role\":\"ca\",\"status\":\"Available\",\"version\":3,\"serial\":\"01\",\"usage\":\"Signature\","
		"\"issuer\":[{\"attr\":\"cn\",\"value\":\"CA\"},{\"attr\":\"o\",\"value\":\"Example\"}],"
		"\"subject\":[{\"attr\":\"cn\",\"value\":\"CA\"},{\"attr\":\"o\",\"value\":\"Example\"}],"
		"\"not_before\":1543928568,\"not_after\":1638536568,\"key_alg\":\"RSA\",\"key_bits\":2048,"
		"\"sig_alg\":\"sha256WithRSAEncryption\",\"md5\":\"5be7f0f700112233445566778899aabb\","
		"\"sha1\":\"00112233445566778899aabbccddeeff00112233\","
		"\"sha256\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
		"\"associated_trustpoints\":[\"WLC\",\"AP-LSC\"]}");
	assert_string_equal(out,
		"CA Certificate\n"
		"  Status: Available\n"
		"  Version: 3\n"
		"  Certificate Serial Number (hex): 01\n"
		"  Certificate Usage: Signature\n"
		"  Issuer:\n"
		"    cn=CA\n"
		"    o=Example\n"
		"  Subject:\n"
		"    cn=CA\n"
		"    o=Example\n"
		"  Validity Date:\n"
		"    start date: 13:02:48 UTC Dec 4 2018\n"
		"    end date: 13:02:48 UTC Dec 3 2021\n"
		"  Subject Key Info:\n"
		"    Public Key Algorithm: rsaEncryption\n"
		"    RSA Public Key: (2048 bit)\n"
		"  Signature Algorithm: SHA256 with RSA Encryption\n"
		"  Fingerprint MD5: 5BE7F0F7 00112233 44556677 8899AABB\n"
		"  Fingerprint SHA1: 00112233 44556677 8899AABB CCDDEEFF 00112233\n"
		"  Associated Trustpoints: WLC AP-LSC\n"
		"  Fingerprint SHA256: 00112233 44556677 8899AABB CCDDEEFF 00112233 44556677 8899AABB CCDDEEFF\n");
	free(out);
}

static void test_tables_align(void **state)
{
	(void)state;
	char *out = render(render_ap_summary,
		"{\"total\":2,\"lsc\":1,\"mic\":1,\"run\":2,\"handshakes\":0,\"aps\":["
		"{\"name\":\"AP-long-name\",\"mac\":\"02:00:00:00:00:01\",\"uptime_s\":80,\"admin_status\":\"Enabled\","
		"\"oper_status\":\"REG\",\"ap_mode\":\"Local\",\"cert_type\":\"LSC\",\"model\":\"M\",\"address\":\"127.0.0.1:1\","
		"\"prov_state\":\"provisioned\",\"loop_suspected\":false},"
		"{\"name\":\"AP2\",\"mac\":\"02:00:00:00:00:02\",\"uptime_s\":90061,\"admin_status\":\"Enabled\","
		"\"oper_status\":\"REG\",\"ap_mode\":\"Local\",\"cert_type\":\"MIC\",\"model\":\"M\",\"address\":\"127.0.0.2:1\","
		"\"prov_state\":\"loop-suspected\",\"loop_suspected\":true}]}");
	const char *rows = strstr(out, "\n\n");
	assert_non_null(rows);
	assert_true(strncmp(out, "Number of APs: 2\nAPs on LSC: 1, on MIC: 1, in Run: 2", 51) == 0);
	assert_non_null(strstr(rows, "\nAP Name       AP MAC             Up Time              Admin Status"));
	assert_non_null(strstr(rows, "\nAP-long-name  02:00:00:00:00:01  0 d, 00 h 01 m 20 s  Enabled       REG"));
	assert_non_null(strstr(rows, "\nAP2           02:00:00:00:00:02  1 d, 01 h 01 m 01 s  Enabled       REG"));
	assert_non_null(strstr(rows, "loop-suspected (loop suspected)\n"));
	assert_non_null(strstr(rows, "\n------------  -----------------  -------------------  ------------  "));
	free(out);
}

static bool words(const char *line, struct parsed *p, char *errbuf, size_t errlen)
{
	char copy[256], *argv[16];
	int argc = 0;
	FILE *err = fmemopen(errbuf, errlen, "w");

	snprintf(copy, sizeof(copy), "%s", line);
	for (char *t = strtok(copy, " "); t != NULL && argc < 16; t = strtok(NULL, " "))
		argv[argc++] = t;
	bool ok = parse_words(argc, argv, p, err);
	fclose(err);
	return ok;
}

static void test_grammar(void **state)
{
	struct parsed p;
	char err[4096];
	(void)state;

	assert_true(words("show ap summary", &p, err, sizeof(err)));
	assert_int_equal(p.action, A_SHOW_AP_SUMMARY);
	assert_true(words("sh ap lsc sum", &p, err, sizeof(err)));
	assert_int_equal(p.action, A_SHOW_LSC_SUMMARY);
	assert_true(words("show ap lsc-provision status", &p, err, sizeof(err)));
	assert_int_equal(p.action, A_SHOW_LSC_STATUS);
	assert_int_equal(p.n_args, 0);
	assert_true(words("show ap lsc-provision status 286f.7fcf.53ac", &p, err, sizeof(err)));
	assert_int_equal(p.n_args, 1);
	assert_string_equal(p.args[0], "286f.7fcf.53ac");
	assert_true(words("show crypto pki certificates verbose AP-LSC", &p, err, sizeof(err)));
	assert_int_equal(p.action, A_SHOW_PKI_CERTS);
	assert_string_equal(p.args[0], "AP-LSC");
	assert_true(words("ap lsc-provision mode provision-list", &p, err, sizeof(err)));
	assert_int_equal(p.action, A_LSC_MODE);
	assert_true(words("ap provision-list import /tmp/x.csv", &p, err, sizeof(err)));
	assert_int_equal(p.action, A_PLIST_IMPORT);
	assert_true(words("reload", &p, err, sizeof(err)));
	assert_int_equal(p.action, A_RELOAD);

	assert_false(words("ap re 02:00:00:00:00:01", &p, err, sizeof(err)));
	assert_non_null(strstr(err, "ambiguous command \"ap re\"; it could be:\n  reprovision\n  reset\n"));
	assert_false(words("show ap", &p, err, sizeof(err)));
	assert_non_null(strstr(err, "incomplete command \"show ap\"; it continues with:\n  show ap summary\n"));
	assert_false(words("sh foo", &p, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown command \"sh foo\"; valid commands:\n  show ap summary\n"));
	assert_false(words("ap reset 02:00", &p, err, sizeof(err)));
	assert_non_null(strstr(err, "\"02:00\" is not valid here"));
	assert_false(words("ap lsc-provision mode sometimes", &p, err, sizeof(err)));
	assert_false(words("reload now", &p, err, sizeof(err)));
	assert_non_null(strstr(err, "unexpected \"now\" after \"reload\""));
	assert_false(words("", &p, err, sizeof(err)));
	assert_non_null(strstr(err, "no command given"));
}

/* lscctl and lscd agree on every command name. */
static void test_every_action_is_a_daemon_command(void **state)
{
	(void)state;
	size_t n_daemon = 0;
	for (const struct ctl_command *c = ctl_commands; c->name != NULL; c++)
		n_daemon++;
	assert_int_equal(sizeof(actions) / sizeof(actions[0]), n_daemon);
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		const struct ctl_command *c = ctl_command_find(actions[i].cmd);
		if (c == NULL)
			fail_msg("lscctl sends \"%s\", which lscd does not know", actions[i].cmd);
		/* show commands are rendered; the others are not */
		assert_int_equal(strncmp(c->name, "show ", 5) == 0, actions[i].render != NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lsc_summary_is_the_9800_layout),
		cmocka_unit_test(test_management_trustpoint_layout),
		cmocka_unit_test(test_timers_are_the_ios_layout),
		cmocka_unit_test(test_time_and_fingerprint_forms),
		cmocka_unit_test(test_certificate_block),
		cmocka_unit_test(test_tables_align),
		cmocka_unit_test(test_grammar),
		cmocka_unit_test(test_every_action_is_a_daemon_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
