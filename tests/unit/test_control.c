/*
 * The control protocol's request parser (ctrl/control.c): every command
 * with its arguments converted, every class of refusal with the reason it
 * must give, buffers that are not NUL-terminated, and deterministic
 * mutation (every truncation, every bit flip) of valid requests. Also the
 * error response and metrics label escaping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctrl/control.h"
#include "ctrl/metrics.h"

static bool parse(const char *text, struct ctl_request *req, char *err, size_t errlen)
{
	return ctl_request_parse((const uint8_t *)text, strlen(text), req, err, errlen);
}

/* The request is refused and the reason contains want. */
static void refused(const char *text, const char *want)
{
	struct ctl_request req;
	char err[320];

	if (parse(text, &req, err, sizeof(err))) {
		ctl_request_free(&req);
		fail_msg("accepted: %s", text);
	}
	if (strstr(err, want) == NULL)
		fail_msg("%s: reason \"%s\" lacks \"%s\"", text, err, want);
	assert_null(req.content);
	ctl_request_free(&req);
}

static void test_every_command_is_accepted(void **state)
{
	static const char *const sample_arg[] = {
		[CTL_ARG_MAC] = "02:00:00:00:00:01",
		[CTL_ARG_TRUSTPOINT] = "AP-LSC",
		[CTL_ARG_MODE] = "provision-list",
		[CTL_ARG_FILE_NAME] = "aps.csv",
		[CTL_ARG_CONTENT] = "mac\n0200.0000.0001\n",
	};
	(void)state;
	unsigned n = 0;
	for (const struct ctl_command *c = ctl_commands; c->name != NULL; c++, n++) {
		for (unsigned k = c->min_args; k <= c->max_args; k++) {
			json_t *args = json_array(), *r;
			for (unsigned i = 0; i < k; i++)
				json_array_append_new(args, json_string(sample_arg[c->arg[i]]));
			r = json_pack("{s:s, s:o}", "cmd", c->name, "args", args);
			char *line = json_dumps(r, JSON_COMPACT);
			struct ctl_request req;
			char err[320];
			assert_true(parse(line, &req, err, sizeof(err)));
			assert_ptr_equal(req.def, c);
			assert_int_equal(req.n_args, k);
			assert_ptr_equal(ctl_command_find(c->name), c);
			ctl_request_free(&req);
			free(line);
			json_decref(r);
		}
	}
	assert_int_equal(n, 14);
	assert_null(ctl_command_find("show ap"));
	assert_null(ctl_command_find("SHOW AP SUMMARY"));
}

static void test_arguments_are_converted(void **state)
{
	struct ctl_request req;
	char err[320];
	static const uint8_t want[6] = { 0x28, 0x6f, 0x7f, 0xcf, 0x53, 0xac };
	static const char *const notations[] = {
		"286f.7fcf.53ac", "28:6f:7f:cf:53:ac", "28-6F-7F-CF-53-AC", "286F7FCF53AC",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(notations) / sizeof(notations[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "{\"cmd\":\"ap reset\",\"args\":[\"%s\"]}", notations[i]);
		assert_true(parse(line, &req, err, sizeof(err)));
		assert_true(req.has_mac);
		assert_memory_equal(req.mac, want, 6);
		ctl_request_free(&req);
	}
	assert_true(parse("{\"args\":[\"all\"],\"cmd\":\"ap lsc-provision mode\"}", &req, err, sizeof(err)));
	assert_int_equal(req.mode, CFG_LSC_ALL);
	ctl_request_free(&req);
	assert_true(parse("{\"cmd\":\"ap lsc-provision mode\",\"args\":[\"disabled\"]}", &req, err, sizeof(err)));
	assert_int_equal(req.mode, CFG_LSC_DISABLED);
	ctl_request_free(&req);
	assert_true(parse("{\"cmd\":\"show crypto pki certificates verbose\",\"args\":[\"WLC_tp-1.x\"]}", &req,
			  err, sizeof(err)));
	assert_string_equal(req.trustpoint, "WLC_tp-1.x");
	ctl_request_free(&req);
	assert_true(parse("{\"cmd\":\"show crypto pki certificates verbose\"}", &req, err, sizeof(err)));
	assert_string_equal(req.trustpoint, "");
	ctl_request_free(&req);
	assert_true(parse("{\"cmd\":\"ap provision-list import\",\"args\":[\"my aps.csv\",\"a,b\\r\\n\\u00e9\"]}",
			  &req, err, sizeof(err)));
	assert_string_equal(req.file_name, "my aps.csv");
	assert_int_equal(req.content_len, 7);
	assert_memory_equal(req.content, "a,b\r\n\xc3\xa9", 7);
	ctl_request_free(&req);
	assert_null(req.content);
	/* whitespace around is JSON's business */
	assert_true(parse(" { \"cmd\" : \"reload\" , \"args\" : [ ] } ", &req, err, sizeof(err)));
	assert_int_equal(req.def->cmd, CTL_RELOAD);
	ctl_request_free(&req);
}

static void test_refusals_say_why(void **state)
{
	struct ctl_request req;
	char err[320];
	(void)state;

	assert_false(ctl_request_parse((const uint8_t *)"", 0, &req, err, sizeof(err)));
	assert_string_equal(err, "empty request");
	refused("{", "not JSON");
	refused("{\"cmd\":\"reload\"} x", "not JSON");
	refused("[\"reload\"]", "a request is a JSON object");
	refused("\"reload\"", "not JSON");
	refused("{}", "\"cmd\" is required and is a string");
	refused("{\"cmd\":7}", "\"cmd\" is required and is a string");
	refused("{\"cmd\":\"reboot now\"}", "unknown command \"reboot now\"");
	refused("{\"cmd\":\"reload\",\"x\":1}", "unknown key \"x\"");
	refused("{\"cmd\":\"reload\",\"cmd\":\"reload\"}", "duplicate");
	refused("{\"cmd\":\"reload\",\"args\":\"now\"}", "\"args\" is an array of strings");
	refused("{\"cmd\":\"reload\",\"args\":[\"x\"]}", "reload: takes 0 arguments, got 1");
	refused("{\"cmd\":\"ap reset\"}", "ap reset: takes 1 argument, got 0");
	refused("{\"cmd\":\"show ap lsc-provision status\",\"args\":[\"a\",\"b\"]}", "takes 0 to 1 arguments, got 2");
	refused("{\"cmd\":\"ap reset\",\"args\":[7]}", "argument 1: not a string");
	refused("{\"cmd\":\"ap reset\",\"args\":[\"02:00:00:00:00\"]}", "argument 1: not a MAC address: \"02:00:00:00:00\"");
	refused("{\"cmd\":\"ap reset\",\"args\":[\"\\u0000\"]}", "not JSON");
	refused("{\"cmd\":\"ap lsc-provision mode\",\"args\":[\"All\"]}", "no such mode \"All\"");
	refused("{\"cmd\":\"show crypto pki certificates verbose\",\"args\":[\"a/b\"]}", "not a trustpoint name");
	refused("{\"cmd\":\"show crypto pki certificates verbose\",\"args\":[\"\"]}", "not a trustpoint name");
	refused("{\"cmd\":\"ap provision-list import\",\"args\":[\"a\\nb\",\"x\"]}", "control character in the file name");
	refused("{\"cmd\":\"ap provision-list import\",\"args\":[\"\",\"x\"]}", "a file name of 1 to 255 bytes");
	/* peer text in a reason is printable and short */
	refused("{\"cmd\":\"\\u001b[2Jxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
		"unknown command \"?[2Jxxx");
	assert_false(parse("{\"cmd\":\"\\u001bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
			   &req, err, sizeof(err)));
	assert_null(strchr(err, '\x1b'));
	assert_non_null(strstr(err, "...\""));
}

static void test_length_is_the_only_bound(void **state)
{
	struct ctl_request req;
	char err[320];
	(void)state;

	/* A valid request followed by bytes the caller did not pass. */
	static const char buf[] = "{\"cmd\":\"reload\"}{\"cmd\":\"ap reset\"}";
	assert_true(ctl_request_parse((const uint8_t *)buf, 16, &req, err, sizeof(err)));
	assert_int_equal(req.def->cmd, CTL_RELOAD);
	ctl_request_free(&req);
	/* A buffer with no NUL at all, on the heap so ASan sees any overread. */
	static const char text[] = "{\"cmd\":\"show ap summary\"}";
	uint8_t *exact = malloc(sizeof(text) - 1);
	assert_non_null(exact);
	memcpy(exact, text, sizeof(text) - 1);
	assert_true(ctl_request_parse(exact, sizeof(text) - 1, &req, err, sizeof(err)));
	assert_int_equal(req.def->cmd, CTL_SHOW_AP_SUMMARY);
	ctl_request_free(&req);
	free(exact);
	/* Over the limit: refused before parsing. */
	size_t big = CTL_MAX_REQUEST + 1;
	uint8_t *huge = malloc(big);
	assert_non_null(huge);
	memset(huge, ' ', big);
	assert_false(ctl_request_parse(huge, big, &req, err, sizeof(err)));
	assert_non_null(strstr(err, "request longer than"));
	free(huge);
	/* A tiny error buffer is still terminated. */
	char tiny[8];
	assert_false(parse("{\"cmd\":\"no such command at all\"}", &req, tiny, sizeof(tiny)));
	assert_int_equal(strlen(tiny), 7);
}

static const char *const valid[] = {
	"{\"cmd\":\"show ap lsc-provision status\",\"args\":[\"286f.7fcf.53ac\"]}",
	"{\"cmd\":\"ap provision-list import\",\"args\":[\"aps.csv\",\"mac\\n02:00:00:00:00:01\\n\"]}",
	"{\"cmd\":\"ap lsc-provision mode\",\"args\":[\"provision-list\"]}",
	"{\"cmd\":\"show crypto pki certificates verbose\",\"args\":[\"AP-LSC\"]}",
};

static void check_result(bool ok, const struct ctl_request *req)
{
	if (!ok)
		return;
	assert_non_null(req->def);
	assert_true(req->n_args >= req->def->min_args && req->n_args <= req->def->max_args);
	if (req->content != NULL)
		assert_int_equal(req->content[req->content_len], '\0');
}

static void test_mutations(void **state)
{
	unsigned long runs = 0, accepted = 0;
	(void)state;

	for (size_t v = 0; v < sizeof(valid) / sizeof(valid[0]); v++) {
		size_t len = strlen(valid[v]);
		uint8_t *b = malloc(len);
		assert_non_null(b);
		/* every truncation */
		for (size_t cut = 0; cut <= len; cut++) {
			struct ctl_request req;
			char err[320];
			memcpy(b, valid[v], len);
			bool ok = ctl_request_parse(b, cut, &req, err, sizeof(err));
			check_result(ok, &req);
			accepted += ok;
			runs++;
			ctl_request_free(&req);
		}
		/* every bit flip */
		for (size_t i = 0; i < len * 8; i++) {
			struct ctl_request req;
			char err[320];
			memcpy(b, valid[v], len);
			b[i / 8] ^= (uint8_t)(1u << (i % 8));
			bool ok = ctl_request_parse(b, len, &req, err, sizeof(err));
			check_result(ok, &req);
			accepted += ok;
			runs++;
			ctl_request_free(&req);
		}
		free(b);
	}
	/* Only the untouched originals and harmless flips (inside a MAC's
	 * letters, the CSV's text) may pass; most mutants must not. */
	assert_true(accepted < runs / 4);
	print_message("mutation: %lu parses, %lu accepted\n", runs, accepted);
}

static void test_error_response_is_one_json_line(void **state)
{
	const char *details[] = { "lscd.json:3:7: expected ','", "second\nline", "\xff\xfe not UTF-8" };
	(void)state;

	char *line = ctl_error_response("reload failed", details, 3);
	assert_non_null(line);
	assert_null(strchr(line, '\n'));
	json_error_t je;
	json_t *r = json_loads(line, 0, &je);
	assert_non_null(r);
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_string_equal(json_string_value(json_object_get(r, "error")), "reload failed");
	json_t *d = json_object_get(r, "details");
	assert_int_equal(json_array_size(d), 3);
	assert_string_equal(json_string_value(json_array_get(d, 1)), "second\nline");
	assert_string_equal(json_string_value(json_array_get(d, 2)), "?? not UTF-8");
	json_decref(r);
	free(line);
	line = ctl_error_response("plain", NULL, 0);
	assert_string_equal(line, "{\"ok\":false,\"error\":\"plain\"}");
	free(line);
}

static void test_metrics_label_escaping(void **state)
{
	char out[64];
	(void)state;

	assert_true(metrics_escape_label("AP-LSC", out, sizeof(out)));
	assert_string_equal(out, "AP-LSC");
	assert_true(metrics_escape_label("a\"b\\c\nd", out, sizeof(out)));
	assert_string_equal(out, "a\\\"b\\\\c\\nd");
	/* never half an escape */
	assert_false(metrics_escape_label("ab\"", out, 4));
	assert_string_equal(out, "ab");
	assert_false(metrics_escape_label("abcd", out, 4));
	assert_string_equal(out, "abc");
	assert_false(metrics_escape_label("x", out, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_command_is_accepted),
		cmocka_unit_test(test_arguments_are_converted),
		cmocka_unit_test(test_refusals_say_why),
		cmocka_unit_test(test_length_is_the_only_bound),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_error_response_is_one_json_line),
		cmocka_unit_test(test_metrics_label_escaping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
