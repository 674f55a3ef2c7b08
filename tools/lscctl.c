/*
 * lscctl.c — lscd's control tool: show-style status and operator commands
 * over the control socket (docs/control-protocol.md, docs/lscctl.8.md).
 *
 * The grammar is a static token table walked word by word, as OpenBSD's
 * ikectl does; any unambiguous prefix of a keyword is accepted, as on a
 * controller's CLI ("sh ap sum"). The daemon answers with JSON data; this
 * tool draws the tables WLC operators know from it, or prints the data
 * with --json. It knows nothing of the daemon's internals: the protocol is
 * its only interface.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "capwap/capwap.h"

#define LSCCTL_VERSION        "0.1.0"
#define LSCCTL_DEFAULT_SOCKET "/run/lscd/lscd.sock"
/* The daemon refuses longer request lines. */
#define LSCCTL_MAX_REQUEST    (1024 * 1024)
#define LSCCTL_MAX_RESPONSE   (256u * 1024 * 1024)
#define LSCCTL_TIMEOUT_MS     120000

enum exit_status {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,          /* the daemon answered with an error */
	EXIT_USAGE = 2,
	EXIT_NO_ANSWER = 3,        /* cannot connect, or no valid answer */
};

/* ---- the grammar ----------------------------------------------------------- */

enum tok_type { NOTOKEN, ENDTOKEN, KEYWORD, MACADDR, TPNAME, MODE, FILENAME };

enum action {
	A_NONE,
	A_SHOW_AP_SUMMARY,
	A_SHOW_LSC_SUMMARY,
	A_SHOW_LSC_STATUS,
	A_SHOW_MGMT_TP,
	A_SHOW_PKI_CERTS,
	A_SHOW_PKI_TPS,
	A_SHOW_PKI_TIMERS,
	A_PLIST_ADD,
	A_PLIST_REMOVE,
	A_PLIST_IMPORT,
	A_LSC_MODE,
	A_REPROVISION,
	A_RESET,
	A_RELOAD,
};

struct token {
	enum tok_type type;
	const char *keyword;
	enum action action;
	const struct token *next;
};

static const struct token t_main[];
static const struct token t_show[];
static const struct token t_show_ap[];
static const struct token t_show_ap_lsc[];
static const struct token t_show_lsc_status[];
static const struct token t_show_wireless[];
static const struct token t_show_wmgmt[];
static const struct token t_show_crypto[];
static const struct token t_show_pki[];
static const struct token t_show_pki_certs[];
static const struct token t_show_pki_verbose[];
static const struct token t_ap[];
static const struct token t_plist[];
static const struct token t_plist_add[];
static const struct token t_plist_remove[];
static const struct token t_plist_import[];
static const struct token t_ap_lsc[];
static const struct token t_mode[];
static const struct token t_reprovision[];
static const struct token t_reset[];

static const struct token t_main[] = {
	{ KEYWORD, "show", A_NONE, t_show },
	{ KEYWORD, "ap", A_NONE, t_ap },
	{ KEYWORD, "reload", A_RELOAD, NULL },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_show[] = {
	{ KEYWORD, "ap", A_NONE, t_show_ap },
	{ KEYWORD, "wireless", A_NONE, t_show_wireless },
	{ KEYWORD, "crypto", A_NONE, t_show_crypto },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_show_ap[] = {
	{ KEYWORD, "summary", A_SHOW_AP_SUMMARY, NULL },
	{ KEYWORD, "lsc-provision", A_NONE, t_show_ap_lsc },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_show_ap_lsc[] = {
	{ KEYWORD, "summary", A_SHOW_LSC_SUMMARY, NULL },
	{ KEYWORD, "status", A_NONE, t_show_lsc_status },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_show_lsc_status[] = {
	{ NOTOKEN, "", A_SHOW_LSC_STATUS, NULL },
	{ MACADDR, "", A_SHOW_LSC_STATUS, NULL },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_show_wireless[] = {
	{ KEYWORD, "management", A_NONE, t_show_wmgmt },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_show_wmgmt[] = {
	{ KEYWORD, "trustpoint", A_SHOW_MGMT_TP, NULL },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_show_crypto[] = {
	{ KEYWORD, "pki", A_NONE, t_show_pki },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_show_pki[] = {
	{ KEYWORD, "certificates", A_NONE, t_show_pki_certs },
	{ KEYWORD, "trustpoints", A_SHOW_PKI_TPS, NULL },
	{ KEYWORD, "timers", A_SHOW_PKI_TIMERS, NULL },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_show_pki_certs[] = {
	{ KEYWORD, "verbose", A_NONE, t_show_pki_verbose },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_show_pki_verbose[] = {
	{ NOTOKEN, "", A_SHOW_PKI_CERTS, NULL },
	{ TPNAME, "", A_SHOW_PKI_CERTS, NULL },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_ap[] = {
	{ KEYWORD, "provision-list", A_NONE, t_plist },
	{ KEYWORD, "lsc-provision", A_NONE, t_ap_lsc },
	{ KEYWORD, "reprovision", A_NONE, t_reprovision },
	{ KEYWORD, "reset", A_NONE, t_reset },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_plist[] = {
	{ KEYWORD, "add", A_NONE, t_plist_add },
	{ KEYWORD, "remove", A_NONE, t_plist_remove },
	{ KEYWORD, "import", A_NONE, t_plist_import },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_plist_add[] = {
	{ MACADDR, "", A_PLIST_ADD, NULL },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_plist_remove[] = {
	{ MACADDR, "", A_PLIST_REMOVE, NULL },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_plist_import[] = {
	{ FILENAME, "", A_PLIST_IMPORT, NULL },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_ap_lsc[] = {
	{ KEYWORD, "mode", A_NONE, t_mode },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_mode[] = {
	{ MODE, "", A_LSC_MODE, NULL },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_reprovision[] = {
	{ MACADDR, "", A_REPROVISION, NULL },
	{ ENDTOKEN, "", A_NONE, NULL },
};
static const struct token t_reset[] = {
	{ MACADDR, "", A_RESET, NULL },
	{ ENDTOKEN, "", A_NONE, NULL },
};

static const char *const modes[] = { "disabled", "all", "provision-list" };

struct parsed {
	enum action action;
	size_t n_args;
	const char *args[2];       /* MACs as typed: the daemon parses them again */
};

static const char *placeholder(enum tok_type t)
{
	switch (t) {
	case MACADDR:
		return "<mac>";
	case TPNAME:
		return "<trustpoint>";
	case MODE:
		return "disabled|all|provision-list";
	case FILENAME:
		return "<csv-file>";
	default:
		return "";
	}
}

/* Every complete command below table, one per line. */
static void list_commands(FILE *out, const struct token *table, const char *prefix)
{
	char next[256];

	for (const struct token *t = table; t->type != ENDTOKEN; t++) {
		const char *word = t->type == KEYWORD ? t->keyword : placeholder(t->type);
		if (t->type == NOTOKEN) {
			fprintf(out, "  %s\n", prefix);
			continue;
		}
		snprintf(next, sizeof(next), "%s%s%s", prefix, prefix[0] ? " " : "", word);
		if (t->next == NULL)
			fprintf(out, "  %s\n", next);
		else
			list_commands(out, t->next, next);
	}
}

static bool is_tpname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

static bool typed_match(enum tok_type t, const char *word)
{
	uint8_t mac[6];

	switch (t) {
	case MACADDR:
		return capwap_mac_parse(word, strlen(word), mac);
	case TPNAME:
		return is_tpname(word);
	case MODE:
		for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
			if (strcmp(word, modes[i]) == 0)
				return true;
		return false;
	case FILENAME:
		return word[0] != '\0';
	default:
		return false;
	}
}

/* Join words[0..n) for messages. */
static void join_words(char *out, size_t size, char *const *words, int n)
{
	size_t used = 0;
	out[0] = '\0';
	for (int i = 0; i < n && used < size; i++) {
		int k = snprintf(out + used, size - used, "%s%s", i ? " " : "", words[i]);
		if (k < 0)
			break;
		used += (size_t)k;
	}
}

/*
 * Walk the table with the words. Returns true with p filled, or false after
 * printing why (and what would have been valid) on err.
 */
static bool parse_words(int n, char **words, struct parsed *p, FILE *err)
{
	const struct token *table = t_main;
	char typed[512], so_far[512];
	char *canon[32];           /* the words matched so far, keywords spelt out */

	memset(p, 0, sizeof(*p));
	if (n > (int)(sizeof(canon) / sizeof(canon[0]))) {
		fprintf(err, "lscctl: too many words\n");
		return false;
	}
	for (int i = 0; i < n; i++) {
		const struct token *match = NULL;
		int n_match = 0;

		for (const struct token *t = table; t->type != ENDTOKEN; t++) {
			if (t->type != KEYWORD)
				continue;
			if (strcmp(words[i], t->keyword) == 0) {
				match = t;
				n_match = 1;
				break;
			}
			if (strncmp(words[i], t->keyword, strlen(words[i])) == 0) {
				match = t;
				n_match++;
			}
		}
		if (n_match == 0) {
			for (const struct token *t = table; t->type != ENDTOKEN; t++) {
				if (t->type != KEYWORD && t->type != NOTOKEN && typed_match(t->type, words[i])) {
					match = t;
					n_match = 1;
					break;
				}
			}
		}
		join_words(typed, sizeof(typed), words, i + 1);
		if (n_match > 1) {
			fprintf(err, "lscctl: ambiguous command \"%s\"; it could be:\n", typed);
			for (const struct token *t = table; t->type != ENDTOKEN; t++)
				if (t->type == KEYWORD && strncmp(words[i], t->keyword, strlen(words[i])) == 0)
					fprintf(err, "  %s\n", t->keyword);
			return false;
		}
		if (n_match == 0) {
			bool typed_arg = false;
			for (const struct token *t = table; t->type != ENDTOKEN; t++)
				typed_arg |= t->type == MACADDR || t->type == TPNAME || t->type == MODE;
			if (typed_arg)
				fprintf(err, "lscctl: \"%s\" is not valid here (\"%s\"); expected:\n", words[i], typed);
			else
				fprintf(err, "lscctl: unknown command \"%s\"; valid commands:\n", typed);
			join_words(so_far, sizeof(so_far), canon, i);
			list_commands(err, table, so_far);
			return false;
		}
		canon[i] = match->type == KEYWORD ? (char *)match->keyword : words[i];
		if (match->type != KEYWORD) {
			if (p->n_args == sizeof(p->args) / sizeof(p->args[0]))
				return false;
			p->args[p->n_args++] = words[i];
		}
		if (match->next == NULL) {
			if (i + 1 < n) {
				fprintf(err, "lscctl: unexpected \"%s\" after \"%s\"\n", words[i + 1], typed);
				return false;
			}
			p->action = match->action;
			return true;
		}
		table = match->next;
	}
	for (const struct token *t = table; t->type != ENDTOKEN; t++) {
		if (t->type == NOTOKEN) {
			p->action = t->action;
			return true;
		}
	}
	join_words(so_far, sizeof(so_far), canon, n);
	if (n == 0)
		fprintf(err, "lscctl: no command given; valid commands:\n");
	else
		fprintf(err, "lscctl: incomplete command \"%s\"; it continues with:\n", so_far);
	list_commands(err, table, so_far);
	return false;
}

/* ---- rendering helpers ------------------------------------------------------- */

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s != NULL ? s : "";
}

static long long jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static bool jbool(const json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

static const char *yes_no(bool b)
{
	return b ? "Yes" : "No";
}

/* "0 d, 00 h 01 m 20 s", as controllers show an AP's up time. */
static void fmt_uptime(long long s, char *out, size_t size)
{
	if (s < 0)
		s = 0;
	snprintf(out, size, "%lld d, %02lld h %02lld m %02lld s", s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
}

/* IOS's remaining-time form: "7:49.003", "1:07:49.003", "3d 7:05:24.003". */
static void fmt_remaining(long long ms, char *out, size_t size)
{
	if (ms < 0)
		ms = 0;
	long long d = ms / 86400000, h = ms / 3600000 % 24, m = ms / 60000 % 60, s = ms / 1000 % 60,
		  f = ms % 1000;
	if (d > 0)
		snprintf(out, size, "%lldd%2lld:%02lld:%02lld.%03lld", d, h, m, s, f);
	else if (h > 0)
		snprintf(out, size, "%lld:%02lld:%02lld.%03lld", h, m, s, f);
	else
		snprintf(out, size, "%lld:%02lld.%03lld", m, s, f);
}

/* "2025-03-01 12:00:00 UTC"; "-" for never. */
static void fmt_time(long long t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
		snprintf(out, size, "-");
		return;
	}
	strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* IOS validity dates: "12:02:48 UTC Dec 4 2018". */
static void fmt_ios_date(long long t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char hms_mon[32];

	if (gmtime_r(&tt, &tm) == NULL) {
		snprintf(out, size, "?");
		return;
	}
	strftime(hms_mon, sizeof(hms_mon), "%H:%M:%S UTC %b", &tm);
	snprintf(out, size, "%s %d %d", hms_mon, tm.tm_mday, tm.tm_year + 1900);
}

/* Lower-case hex digest → "E630EAE6 FB824658 ..." (IOS). */
static void fmt_fingerprint(const char *hex, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; hex[i] != '\0' && o + 2 < size; i++) {
		if (i > 0 && i % 8 == 0)
			out[o++] = ' ';
		char c = hex[i];
		out[o++] = (c >= 'a' && c <= 'f') ? (char)(c - 'a' + 'A') : c;
	}
	out[o] = '\0';
}

/* "02:00:00:00:00:01" → "0200.0000.0001" (Cisco CLI, provision lists). */
static void fmt_dotted(const char *colon, char *out, size_t size)
{
	uint8_t mac[6];
	char text[18];

	if (!capwap_mac_parse(colon, strlen(colon), mac)) {
		snprintf(out, size, "%s", colon);
		return;
	}
	capwap_mac_format(mac, CAPWAP_MAC_DOTTED, text);
	snprintf(out, size, "%s", text);
}

/* "sha256WithRSAEncryption" → "SHA256 with RSA Encryption", as IOS names it. */
static void fmt_sig_alg(const char *alg, char *out, size_t size)
{
	unsigned bits;
	char rest[32];

	if (sscanf(alg, "sha%uWith%31s", &bits, rest) == 2 && strcmp(rest, "RSAEncryption") == 0)
		snprintf(out, size, "SHA%u with RSA Encryption", bits);
	else if (sscanf(alg, "ecdsa-with-SHA%u", &bits) == 1)
		snprintf(out, size, "SHA%u with ECDSA", bits);
	else
		snprintf(out, size, "%s", alg);
}

/* ---- aligned tables ------------------------------------------------------------ */

#define TABLE_MAX_COLS 16

struct table {
	size_t ncols;
	const char *head[TABLE_MAX_COLS];
	size_t width[TABLE_MAX_COLS];
	size_t nrows, cap;
	char **cells;              /* nrows × ncols */
};

static void table_init(struct table *t, size_t ncols, const char *const *head)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols < TABLE_MAX_COLS ? ncols : TABLE_MAX_COLS;
	for (size_t i = 0; i < t->ncols; i++) {
		t->head[i] = head[i];
		t->width[i] = strlen(head[i]);
	}
}

static void table_row(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **v = realloc(t->cells, cap * t->ncols * sizeof(*v));
		if (v == NULL)
			return;
		t->cells = v;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		char *c = strdup(cells[i] ? cells[i] : "");
		t->cells[t->nrows * t->ncols + i] = c;
		if (c != NULL && strlen(c) > t->width[i])
			t->width[i] = strlen(c);
	}
	t->nrows++;
}

static void table_print(FILE *out, struct table *t)
{
	for (size_t i = 0; i < t->ncols; i++)
		fprintf(out, "%-*s%s", i + 1 < t->ncols ? (int)t->width[i] : 0, t->head[i],
			i + 1 < t->ncols ? "  " : "\n");
	for (size_t i = 0; i < t->ncols; i++) {
		for (size_t k = 0; k < t->width[i]; k++)
			fputc('-', out);
		fputs(i + 1 < t->ncols ? "  " : "\n", out);
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *c = t->cells[r * t->ncols + i];
			fprintf(out, "%-*s%s", i + 1 < t->ncols ? (int)t->width[i] : 0, c ? c : "",
				i + 1 < t->ncols ? "  " : "\n");
		}
	}
	for (size_t k = 0; k < t->nrows * t->ncols; k++)
		free(t->cells[k]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

/* ---- show renderers ------------------------------------------------------------ */

static void render_ap_summary(FILE *out, const json_t *data)
{
	static const char *const head[] = {
		"AP Name", "AP MAC", "Up Time", "Admin Status", "Operational Status", "AP Mode",
		"Certificate Type", "AP Model", "IP Address", "LSC Provisioning",
	};
	struct table t;
	const json_t *ap;
	size_t i;

	fprintf(out, "Number of APs: %lld\n", jint(data, "total"));
	fprintf(out, "APs on LSC: %lld, on MIC: %lld, in Run: %lld, DTLS handshakes in progress: %lld\n\n",
		jint(data, "lsc"), jint(data, "mic"), jint(data, "run"), jint(data, "handshakes"));
	table_init(&t, sizeof(head) / sizeof(head[0]), head);
	json_array_foreach(json_object_get(data, "aps"), i, ap) {
		char up[48], prov[64];
		fmt_uptime(jint(ap, "uptime_s"), up, sizeof(up));
		snprintf(prov, sizeof(prov), "%s%s", jstr(ap, "prov_state"),
			 jbool(ap, "loop_suspected") ? " (loop suspected)" : "");
		const char *row[] = {
			jstr(ap, "name"), jstr(ap, "mac"), up, jstr(ap, "admin_status"), jstr(ap, "oper_status"),
			jstr(ap, "ap_mode"), jstr(ap, "cert_type"), jstr(ap, "model"), jstr(ap, "address"), prov,
		};
		table_row(&t, row);
	}
	table_print(out, &t);
}

static void render_lsc_summary(FILE *out, const json_t *data)
{
	const char *mode = jstr(data, "mode");
	const json_t *subj = json_object_get(data, "subject"), *mac;
	static const struct { const char *label, *key; } params[] = {
		{ "Country", "country" }, { "State", "state" }, { "City", "city" },
		{ "Orgn", "organization" }, { "Dept", "department" }, { "Email", "email" },
	};
	size_t i;

	fprintf(out, "AP LSC-provisioning : %s\n",
		strcmp(mode, "all") == 0 ? "Enabled for all APs"
		: strcmp(mode, "provision-list") == 0 ? "Enabled for APs in provision list" : "Disabled");
	fprintf(out, "Trustpoint used for LSC-provisioning : %s\n",
		jstr(data, "trustpoint")[0] ? jstr(data, "trustpoint") : "Not Configured");
	fprintf(out, "LSC Revert Count in AP reboots : %lld\n", jint(data, "join_attempts"));
	fprintf(out, "AP LSC Parameters :\n");
	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		if (jstr(subj, params[i].key)[0] != '\0')
			fprintf(out, "%s : %s\n", params[i].label, jstr(subj, params[i].key));
	if (strcmp(jstr(data, "key_type"), "ec") == 0)
		fprintf(out, "EC Key Size : %lld bit\n", jint(data, "key_size"));
	else
		fprintf(out, "Key Size : %lld\n", jint(data, "key_size"));
	fprintf(out, "AP LSC-provision List :\n");
	fprintf(out, "Total number of APs in provision list: %lld\n", jint(data, "provision_list_count"));
	fprintf(out, "Mac Addresses :\n--------------\n");
	json_array_foreach(json_object_get(data, "provision_list"), i, mac) {
		char dotted[32];
		fmt_dotted(json_string_value(mac) ? json_string_value(mac) : "", dotted, sizeof(dotted));
		fprintf(out, "%s\n", dotted);
	}
}

static void cut(const char *s, size_t max, char *out, size_t size)
{
	if (strlen(s) <= max || max < 4)
		snprintf(out, size, "%s", s);
	else
		snprintf(out, size, "%.*s...", (int)(max - 3), s);
}

static void render_lsc_status_one(FILE *out, const json_t *ap)
{
	const json_t *lsc = json_object_get(ap, "lsc"), *a;
	char t[64], t2[64];
	size_t i;

	fprintf(out, "AP MAC Address : %s\n", jstr(ap, "mac"));
	fprintf(out, "AP Name : %s\n", jstr(ap, "name"));
	fprintf(out, "AP Model : %s\n", jstr(ap, "model"));
	fprintf(out, "AP Serial Number : %s\n", jstr(ap, "serial"));
	if (jbool(ap, "connected"))
		fprintf(out, "Connected : Yes (%s, %s)\n", jstr(ap, "state"), jstr(ap, "cert_type"));
	else
		fprintf(out, "Connected : No\n");
	fprintf(out, "Last Address : %s\n", jstr(ap, "last_address"));
	fmt_time(jint(ap, "first_seen"), t, sizeof(t));
	fprintf(out, "First Seen : %s\n", t);
	fmt_time(jint(ap, "last_seen"), t, sizeof(t));
	fprintf(out, "Last Seen : %s\n", t);
	fmt_time(jint(ap, "last_join"), t, sizeof(t));
	fprintf(out, "Last Join : %s (%s)\n", t, jstr(ap, "last_cert_type")[0] ? jstr(ap, "last_cert_type") : "-");
	fprintf(out, "LSC Provisioning State : %s\n", jstr(ap, "prov_state"));
	fprintf(out, "MIC Joins : %lld\n", jint(ap, "mic_joins"));
	fprintf(out, "LSC Joins : %lld\n", jint(ap, "lsc_joins"));
	fprintf(out, "LSC Join Failures : %lld\n", jint(ap, "lsc_join_failures"));
	fprintf(out, "MIC Fallbacks : %lld\n", jint(ap, "mic_fallbacks"));
	fprintf(out, "LSCs Issued : %lld\n", jint(ap, "provisions"));
	fprintf(out, "Re-provisions in Window : %lld\n", jint(ap, "reprovisions_in_window"));
	fprintf(out, "Loop Suspected : %s\n", yes_no(jbool(ap, "loop_suspected")));
	fprintf(out, "Re-provision Requested : %s\n", yes_no(jbool(ap, "reprovision_requested")));
	fmt_time(jint(ap, "last_failure_at"), t, sizeof(t));
	fprintf(out, "Last Failure : %s\n", jstr(ap, "last_failure")[0] ? jstr(ap, "last_failure") : "none");
	fprintf(out, "Last Failure At : %s\n", t);
	if (json_is_object(lsc)) {
		fprintf(out, "Issued LSC Serial Number (hex) : %s\n", jstr(lsc, "serial"));
		fprintf(out, "Issued LSC Subject : %s\n", jstr(lsc, "subject"));
		fprintf(out, "Issued LSC Issuer : %s\n", jstr(lsc, "issuer"));
		fmt_time(jint(lsc, "not_before"), t, sizeof(t));
		fmt_time(jint(lsc, "not_after"), t2, sizeof(t2));
		fprintf(out, "Issued LSC Validity : %s to %s\n", t, t2);
		fprintf(out, "Issued LSC SHA256 : %s\n", jstr(lsc, "sha256"));
	} else {
		fprintf(out, "Issued LSC : none\n");
	}
	const json_t *audit = json_object_get(ap, "audit");
	fprintf(out, "Audit Trail (newest %zu) :\n", json_array_size(audit));
	json_array_foreach(audit, i, a) {
		fmt_time(jint(a, "at"), t, sizeof(t));
		fprintf(out, "  %s  %-20s %s\n", t, jstr(a, "event"), jstr(a, "detail"));
	}
}

static void render_lsc_status(FILE *out, const json_t *data)
{
	static const char *const head[] = {
		"AP MAC", "AP Name", "Connected", "MIC Joins", "LSC Joins", "LSC Join Failures",
		"MIC Fallbacks", "LSCs Issued", "Loop Suspected", "Provisioning State", "LSC Serial",
		"LSC Expiry", "Last Failure",
	};
	const json_t *ap;
	struct table t;
	size_t i;

	if (json_is_object(json_object_get(data, "ap"))) {
		render_lsc_status_one(out, json_object_get(data, "ap"));
		return;
	}
	fprintf(out, "Total number of APs: %lld (LSC provisioned: %lld, loop suspected: %lld)\n\n",
		jint(data, "total"), jint(data, "provisioned"), jint(data, "loop_suspected"));
	table_init(&t, sizeof(head) / sizeof(head[0]), head);
	json_array_foreach(json_object_get(data, "aps"), i, ap) {
		char n[6][24], expiry[48], fail[72];
		const json_t *lsc = json_object_get(ap, "lsc");
		static const char *const counters[] = {
			"mic_joins", "lsc_joins", "lsc_join_failures", "mic_fallbacks", "provisions",
		};
		for (size_t k = 0; k < 5; k++)
			snprintf(n[k], sizeof(n[k]), "%lld", jint(ap, counters[k]));
		if (json_is_object(lsc))
			fmt_time(jint(lsc, "not_after"), expiry, sizeof(expiry));
		else
			snprintf(expiry, sizeof(expiry), "-");
		cut(jstr(ap, "last_failure")[0] ? jstr(ap, "last_failure") : "-", 60, fail, sizeof(fail));
		const char *row[] = {
			jstr(ap, "mac"), jstr(ap, "name"), jbool(ap, "connected") ? jstr(ap, "cert_type") : "No",
			n[0], n[1], n[2], n[3], n[4], yes_no(jbool(ap, "loop_suspected")), jstr(ap, "prov_state"),
			json_is_object(lsc) ? jstr(lsc, "serial") : "-", expiry, fail,
		};
		table_row(&t, row);
	}
	table_print(out, &t);
}

static void render_mgmt_tp(FILE *out, const json_t *data)
{
	bool have = jbool(data, "certificate_available");

	fprintf(out, "Trustpoint  Name : %s\n", jstr(data, "trustpoint"));
	fprintf(out, "Certificate Info : %s\n", have ? "Available" : "Not Available");
	if (have) {
		fprintf(out, "Certificate Type : %s\n", jstr(data, "certificate_type"));
		fprintf(out, "Certificate Hash : %s\n", jstr(data, "sha1"));
	}
	fprintf(out, "Private key Info : %s\n", jbool(data, "private_key_available") ? "Available" : "Not Available");
}

static const char *role_title(const char *role)
{
	if (strcmp(role, "identity") == 0)
		return "Certificate";
	if (strcmp(role, "ca") == 0)
		return "CA Certificate";
	if (strcmp(role, "ra-signature") == 0)
		return "RA Signature Certificate";
	if (strcmp(role, "ra-encryption") == 0)
		return "RA Encryption Certificate";
	if (strcmp(role, "next-ca") == 0)
		return "Rollover CA Certificate";
	return role;
}

static void render_name(FILE *out, const char *title, const json_t *attrs)
{
	const json_t *a;
	size_t i;

	fprintf(out, "  %s:\n", title);
	json_array_foreach(attrs, i, a)
		fprintf(out, "    %s=%s\n", jstr(a, "attr"), jstr(a, "value"));
}

static void render_cert(FILE *out, const json_t *c)
{
	char t[64], fp[128];
	const json_t *tp;
	size_t i;

	fprintf(out, "%s\n", role_title(jstr(c, "role")));
	fprintf(out, "  Status: %s\n", jstr(c, "status"));
	fprintf(out, "  Version: %lld\n", jint(c, "version"));
	fprintf(out, "  Certificate Serial Number (hex): %s\n", jstr(c, "serial"));
	fprintf(out, "  Certificate Usage: %s\n", jstr(c, "usage"));
	render_name(out, "Issuer", json_object_get(c, "issuer"));
	render_name(out, "Subject", json_object_get(c, "subject"));
	fprintf(out, "  Validity Date:\n");
	fmt_ios_date(jint(c, "not_before"), t, sizeof(t));
	fprintf(out, "    start date: %s\n", t);
	fmt_ios_date(jint(c, "not_after"), t, sizeof(t));
	fprintf(out, "    end date: %s\n", t);
	fprintf(out, "  Subject Key Info:\n");
	if (strcmp(jstr(c, "key_alg"), "RSA") == 0) {
		fprintf(out, "    Public Key Algorithm: rsaEncryption\n");
		fprintf(out, "    RSA Public Key: (%lld bit)\n", jint(c, "key_bits"));
	} else if (strcmp(jstr(c, "key_alg"), "EC") == 0) {
		fprintf(out, "    Public Key Algorithm: id-ecPublicKey\n");
		fprintf(out, "    EC Public Key: (%lld bit)\n", jint(c, "key_bits"));
	} else {
		fprintf(out, "    Public Key Algorithm: %s\n", jstr(c, "key_alg"));
		fprintf(out, "    Public Key: (%lld bit)\n", jint(c, "key_bits"));
	}
	fmt_sig_alg(jstr(c, "sig_alg"), t, sizeof(t));
	fprintf(out, "  Signature Algorithm: %s\n", t);
	fmt_fingerprint(jstr(c, "md5"), fp, sizeof(fp));
	fprintf(out, "  Fingerprint MD5: %s\n", fp);
	fmt_fingerprint(jstr(c, "sha1"), fp, sizeof(fp));
	fprintf(out, "  Fingerprint SHA1: %s\n", fp);
	fprintf(out, "  Associated Trustpoints:");
	json_array_foreach(json_object_get(c, "associated_trustpoints"), i, tp)
		fprintf(out, " %s", json_string_value(tp) ? json_string_value(tp) : "");
	fprintf(out, "\n");
	fmt_fingerprint(jstr(c, "sha256"), fp, sizeof(fp));
	fprintf(out, "  Fingerprint SHA256: %s\n", fp);
}

static void render_pki_certs(FILE *out, const json_t *data)
{
	const json_t *tps = json_object_get(data, "trustpoints"), *tp, *c;
	size_t i, k, shown = 0;

	json_array_foreach(tps, i, tp) {
		json_array_foreach(json_object_get(tp, "certificates"), k, c) {
			/* A CA that several trustpoints share is one block, as IOS prints it. */
			bool seen = false;
			for (size_t pi = 0; pi < i && !seen; pi++) {
				const json_t *pc;
				size_t pk;
				json_array_foreach(json_object_get(json_array_get(tps, pi), "certificates"), pk, pc)
					seen |= strcmp(jstr(pc, "sha256"), jstr(c, "sha256")) == 0;
			}
			if (seen)
				continue;
			if (shown++ > 0)
				fprintf(out, "\n");
			render_cert(out, c);
		}
		if (json_array_size(json_object_get(tp, "certificates")) == 0 && json_array_size(tps) == 1)
			fprintf(out, "Trustpoint %s holds no certificate yet\n", jstr(tp, "name"));
	}
}

static void render_pki_trustpoints(FILE *out, const json_t *data)
{
	const json_t *tp, *r;
	size_t i, k;

	json_array_foreach(json_object_get(data, "trustpoints"), i, tp) {
		if (i > 0)
			fprintf(out, "\n");
		fprintf(out, "Trustpoint %s:\n", jstr(tp, "name"));
		if (json_array_size(json_object_get(tp, "roles")) > 0) {
			fprintf(out, "    Used for:");
			json_array_foreach(json_object_get(tp, "roles"), k, r)
				fprintf(out, " %s", json_string_value(r) ? json_string_value(r) : "");
			fprintf(out, "\n");
		}
		if (strcmp(jstr(tp, "type"), "enrollment") == 0) {
			fprintf(out, "    Enrollment URL: %s\n", jstr(tp, "enrollment_url"));
			if (jstr(tp, "subject")[0])
				fprintf(out, "    Subject Name: %s\n", jstr(tp, "subject"));
			fprintf(out, "    CA Fingerprint Pin (SHA256): %s\n",
				jstr(tp, "ca_fingerprint")[0] ? jstr(tp, "ca_fingerprint") : "none");
			fprintf(out, "    Key: %s\n", jstr(tp, "key"));
			fprintf(out, "    CA Certificate Authenticated: %s\n", yes_no(jbool(tp, "authenticated")));
		} else {
			fprintf(out, "    Certificate File: %s\n", jstr(tp, "certificate_file"));
			fprintf(out, "    Private Key File: %s\n", jstr(tp, "private_key_file"));
		}
		fprintf(out, "    Identity Certificate: %s\n", jbool(tp, "identity") ? "Present" : "Not present");
		fprintf(out, "    Private Key: %s\n", jbool(tp, "private_key_available") ? "Available" : "Not Available");
		const json_t *st = json_object_get(tp, "stats");
		if (json_is_object(st))
			fprintf(out, "    Enrollments: %lld succeeded, %lld failed, %lld HTTP requests in flight, "
				"%lld queued\n", jint(st, "enrolled"), jint(st, "failed"), jint(st, "in_flight"),
				jint(st, "queued"));
		if (jstr(tp, "last_error")[0]) {
			char t[64];
			fmt_time(jint(tp, "last_error_at"), t, sizeof(t));
			fprintf(out, "    Last Error: %s (%s)\n", jstr(tp, "last_error"), t);
		} else {
			fprintf(out, "    Last Error: none\n");
		}
	}
}

static void render_pki_timers(FILE *out, const json_t *data)
{
	const json_t *timers = json_object_get(data, "timers"), *t;
	char rem[48];
	size_t i;

	fprintf(out, "PKI Timers\n");
	if (json_array_size(timers) == 0)
		return;
	/* The group's first line is its soonest timer, unnamed (IOS). */
	fmt_remaining(jint(json_array_get(timers, 0), "remaining_ms"), rem, sizeof(rem));
	fprintf(out, "|%16s\n", rem);
	json_array_foreach(timers, i, t) {
		fmt_remaining(jint(t, "remaining_ms"), rem, sizeof(rem));
		fprintf(out, "|%16s  %s%s%s\n", rem, jstr(t, "name"), jstr(t, "subject")[0] ? " " : "",
			jstr(t, "subject"));
	}
}

/* Operator commands: the daemon's sentence, and whatever it refused. */
static int render_change(FILE *out, FILE *err, const json_t *data)
{
	const json_t *bad = json_object_get(data, "bad_lines"), *b;
	size_t i;

	fprintf(out, "%s\n", jstr(data, "message"));
	if (json_array_size(bad) == 0)
		return EXIT_OK;
	fprintf(err, "lscctl: %zu entr%s of the file could not be used:\n", json_array_size(bad),
		json_array_size(bad) == 1 ? "y" : "ies");
	json_array_foreach(bad, i, b)
		fprintf(err, "  %s\n", json_string_value(b) ? json_string_value(b) : "");
	return EXIT_REFUSED;
}

struct action_def {
	enum action action;
	const char *cmd;           /* the protocol's command */
	void (*render)(FILE *out, const json_t *data);  /* NULL: an operator command */
};

static const struct action_def actions[] = {
	{ A_SHOW_AP_SUMMARY, "show ap summary", render_ap_summary },
	{ A_SHOW_LSC_SUMMARY, "show ap lsc-provision summary", render_lsc_summary },
	{ A_SHOW_LSC_STATUS, "show ap lsc-provision status", render_lsc_status },
	{ A_SHOW_MGMT_TP, "show wireless management trustpoint", render_mgmt_tp },
	{ A_SHOW_PKI_CERTS, "show crypto pki certificates verbose", render_pki_certs },
	{ A_SHOW_PKI_TPS, "show crypto pki trustpoints", render_pki_trustpoints },
	{ A_SHOW_PKI_TIMERS, "show crypto pki timers", render_pki_timers },
	{ A_PLIST_ADD, "ap provision-list add", NULL },
	{ A_PLIST_REMOVE, "ap provision-list remove", NULL },
	{ A_PLIST_IMPORT, "ap provision-list import", NULL },
	{ A_LSC_MODE, "ap lsc-provision mode", NULL },
	{ A_REPROVISION, "ap reprovision", NULL },
	{ A_RESET, "ap reset", NULL },
	{ A_RELOAD, "reload", NULL },
};

static const struct action_def *action_find(enum action a)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (actions[i].action == a)
			return &actions[i];
	return NULL;
}

/* ---- talking to lscd ---------------------------------------------------------------- */

/* A whole file, for import; "-" is standard input. */
static char *read_file(const char *path, size_t max, size_t *len, FILE *err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL) {
		fprintf(err, "lscctl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			char *p = realloc(buf, cap);
			if (p == NULL) {
				fprintf(err, "lscctl: %s: out of memory\n", path);
				goto fail;
			}
			buf = p;
		}
		size_t k = fread(buf + n, 1, cap - n - 1, f);
		n += k;
		if (n > max) {
			fprintf(err, "lscctl: %s: larger than %zu bytes: split it and import the parts\n", path, max);
			goto fail;
		}
		if (k == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(err, "lscctl: %s: %s\n", path, strerror(errno));
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return NULL;
}

/* JSON needs UTF-8; a spreadsheet export in Latin-1 still has ASCII MACs. */
static json_t *text_json(char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	if (j != NULL)
		return j;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80 || s[i] == '\0')
			s[i] = '?';
	return json_stringn(s, len);
}

static char *build_request(const struct action_def *a, const struct parsed *p, FILE *err)
{
	json_t *req = json_object(), *args = json_array();
	char *line = NULL;

	json_object_set_new(req, "cmd", json_string(a->cmd));
	if (a->action == A_PLIST_IMPORT) {
		size_t len;
		char *content = read_file(p->args[0], LSCCTL_MAX_REQUEST, &len, err);
		if (content == NULL) {
			json_decref(req);
			json_decref(args);
			return NULL;
		}
		json_array_append_new(args, text_json((char *)p->args[0], strlen(p->args[0])));
		json_array_append_new(args, text_json(content, len));
		free(content);
	} else {
		for (size_t i = 0; i < p->n_args; i++)
			json_array_append_new(args, json_string(p->args[i]));
	}
	json_object_set_new(req, "args", args);
	line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (line == NULL) {
		fprintf(err, "lscctl: out of memory\n");
		return NULL;
	}
	if (strlen(line) >= LSCCTL_MAX_REQUEST) {
		fprintf(err, "lscctl: the request is %zu bytes, more than lscd accepts (%d): split the file\n",
			strlen(line), LSCCTL_MAX_REQUEST);
		free(line);
		return NULL;
	}
	return line;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

/* One request, one answer line. Returns the parsed answer or NULL after
 * saying why on err. */
static json_t *transact(const char *path, const char *line, FILE *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *buf = NULL;
	size_t n = 0, cap = 0;
	json_t *resp = NULL;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(err, "lscctl: socket path too long: %s\n", path);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(err, "lscctl: cannot connect to %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!write_all(fd, line, strlen(line)) || !write_all(fd, "\n", 1)) {
		fprintf(err, "lscctl: %s: cannot send the request: %s\n", path, strerror(errno));
		close(fd);
		return NULL;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, LSCCTL_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			fprintf(err, "lscctl: %s: no answer within %d s\n", path, LSCCTL_TIMEOUT_MS / 1000);
			goto out;
		}
		if (n + 65536 > cap) {
			if (cap >= LSCCTL_MAX_RESPONSE) {
				fprintf(err, "lscctl: %s: answer larger than %u bytes\n", path, LSCCTL_MAX_RESPONSE);
				goto out;
			}
			cap = cap ? cap * 2 : 131072;
			char *p = realloc(buf, cap);
			if (p == NULL) {
				fprintf(err, "lscctl: out of memory\n");
				goto out;
			}
			buf = p;
		}
		ssize_t k = recv(fd, buf + n, cap - n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			fprintf(err, "lscctl: %s: %s\n", path, strerror(errno));
			goto out;
		}
		if (k == 0) {
			fprintf(err, "lscctl: %s: lscd closed the connection without answering\n", path);
			goto out;
		}
		char *nl = memchr(buf + n, '\n', (size_t)k);
		n += (size_t)k;
		if (nl != NULL) {
			json_error_t je;
			resp = json_loadb(buf, (size_t)(nl - buf), 0, &je);
			if (resp == NULL || !json_is_object(resp)) {
				fprintf(err, "lscctl: %s: not a valid answer: %s\n", path, resp ? "not an object" : je.text);
				json_decref(resp);
				resp = NULL;
			}
			goto out;
		}
	}
out:
	free(buf);
	close(fd);
	return resp;
}

/* ---- main ------------------------------------------------------------------------------ */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: lscctl [-s socket] [--json] command [arguments]\n"
		"\n"
		"Status and operator commands for lscd, the LSC provisioning proxy, over its\n"
		"control socket. Keywords may be shortened while they stay unambiguous\n"
		"(\"lscctl sh ap sum\").\n"
		"\n"
		"  -s, --socket PATH   lscd's control socket (default %s)\n"
		"  -j, --json          print the daemon's data as JSON instead of a table\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n"
		"\n"
		"Commands:\n",
		LSCCTL_DEFAULT_SOCKET);
	list_commands(out, t_main, "");
	fprintf(out,
		"\n"
		"MACs may be written xxxx.xxxx.xxxx, xx:xx:xx:xx:xx:xx, xx-xx-xx-xx-xx-xx or as\n"
		"12 hex digits; \"import -\" reads the file from standard input.\n"
		"Exit status: 0 done, 1 lscd refused or failed, 2 usage, 3 no answer from lscd.\n"
		"See lscctl(8) (docs/lscctl.8.md).\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = LSCCTL_DEFAULT_SOCKET;
	bool as_json = false;
	struct parsed p;
	int c;

	while ((c = getopt_long(argc, argv, "s:jhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("lscctl %s\n", LSCCTL_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!parse_words(argc - optind, argv + optind, &p, stderr))
		return EXIT_USAGE;
	const struct action_def *a = action_find(p.action);
	if (a == NULL)
		return EXIT_USAGE;
	char *line = build_request(a, &p, stderr);
	if (line == NULL)
		return EXIT_USAGE;
	json_t *resp = transact(path, line, stderr);
	free(line);
	if (resp == NULL)
		return EXIT_NO_ANSWER;

	int status = EXIT_OK;
	const json_t *data = json_object_get(resp, "data");
	if (!json_is_true(json_object_get(resp, "ok"))) {
		const json_t *d;
		size_t i;
		fprintf(stderr, "lscctl: %s\n", jstr(resp, "error"));
		json_array_foreach(json_object_get(resp, "details"), i, d)
			fprintf(stderr, "  %s\n", json_string_value(d) ? json_string_value(d) : "");
		status = EXIT_REFUSED;
	} else if (as_json) {
		json_dumpf(data, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		if (a->render == NULL && json_array_size(json_object_get(data, "bad_lines")) > 0)
			status = EXIT_REFUSED;
	} else if (a->render != NULL) {
		a->render(stdout, data);
	} else {
		status = render_change(stdout, stderr, data);
	}
	json_decref(resp);
	if (fflush(stdout) != 0)
		status = EXIT_REFUSED;
	return status;
}
