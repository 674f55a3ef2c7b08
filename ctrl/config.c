/*
 * config.c — load and validate lscd.json.
 *
 * The document is walked once against static key tables: a key that is not
 * in its table is an error, a key that is has its own validator writing
 * into struct lscd_config, which was filled with defaults first. What
 * depends on more than one key (a trustpoint reference, a key size that
 * must fit the key type) is checked after the walk. Nothing stops at the
 * first error: every validator reports and carries on, so the operator
 * sees everything wrong with the file at once.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "capwap/capwap.h"
#include "pki/pki.h"
#include "ctrl/config.h"
#include "ctrl/config_int.h"

#define JPATH_MAX 192

struct loader {
	const char *file;          /* as named in every message */
	const char *dir;           /* relative paths resolve against it */
	struct cfg_errors *errs;
	struct lscd_config *cfg;
	json_t *root;
};

struct field;
typedef void (*field_fn)(struct loader *ld, const char *path, json_t *v,
			 void *dst, const struct field *f);

/*
 * One key of one JSON object. dst = the object's struct + off. min/max bound
 * integers; for strings, size is the buffer; for paths, min says what the
 * file must be (PATH_*).
 */
struct field {
	const char *key;
	field_fn fn;
	size_t off;
	size_t size;
	long long min, max;
	const char *const *names;      /* enums, NULL-terminated */
	const struct field *sub;       /* nested objects, key NULL-terminated */
};

enum { PATH_ANY, PATH_READABLE, PATH_PRIVATE_KEY };

static const char *const log_level_names[] = { "error", "warning", "info", "debug", NULL };
static const char *const lsc_mode_names[] = { "disabled", "all", "provision-list", NULL };
static const char *const key_type_names[] = { "rsa", "ec", NULL };
static const char *const revocation_names[] = { "none", "crl", NULL };

/* The enums are stored through an int. */
_Static_assert(sizeof(enum cfg_log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_lsc_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_key_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_revocation) == sizeof(int), "enum size");

/* ------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------ */

void cfg_err(struct cfg_errors *errs, const char *fmt, ...)
{
	va_list ap;

	if (errs->n >= CFG_MAX_ERRORS) {
		snprintf(errs->msg[CFG_MAX_ERRORS - 1], sizeof(errs->msg[0]),
			 "too many errors: only the first %d are shown",
			 CFG_MAX_ERRORS - 1);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(errs->msg[errs->n], sizeof(errs->msg[0]), fmt, ap);
	va_end(ap);
	errs->n++;
}

void cfg_quote(char *out, size_t size, const char *s, size_t len)
{
	/* Long enough to recognise a value, short enough to leave room for
	 * the file and path in a 256-byte message. */
	const size_t cap = 72;
	size_t o = 0, i;

	if (size < 8) {
		if (size)
			out[0] = '\0';
		return;
	}
	out[o++] = '"';
	for (i = 0; i < len && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == cap) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

static void perr(struct loader *ld, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(struct loader *ld, const char *path, const char *fmt, ...)
{
	char reason[224];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	cfg_err(ld->errs, "%s: %s: %s", ld->file, path, reason);
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:  return "an object";
	case JSON_ARRAY:   return "an array";
	case JSON_STRING:  return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL:    return "a fractional number";
	case JSON_TRUE:
	case JSON_FALSE:   return "a boolean";
	case JSON_NULL:    return "null";
	}
	return "?";
}

/* The value as the operator wrote it, for "got …". */
static void describe(char *out, size_t size, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		cfg_quote(out, size, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(out, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(out, size, "%g", json_real_value(v));
		break;
	case JSON_TRUE:  snprintf(out, size, "true"); break;
	case JSON_FALSE: snprintf(out, size, "false"); break;
	case JSON_NULL:  snprintf(out, size, "null"); break;
	default:         snprintf(out, size, "%s", type_name(v)); break;
	}
}

static void type_err(struct loader *ld, const char *path, const char *want, const json_t *v)
{
	char got[96];

	describe(got, sizeof(got), v);
	perr(ld, path, "expected %s, got %s", want, got);
}

static void join_path(char *out, const char *parent, const char *key)
{
	size_t o = 0, i;

	if (parent[0]) {
		o = strlen(parent);
		if (o > JPATH_MAX - 2)
			o = JPATH_MAX - 2;
		memcpy(out, parent, o);
		out[o++] = '.';
	}
	/* Keys are the operator's text: keep the message on one line. */
	for (i = 0; key[i] && o < JPATH_MAX - 1; i++) {
		unsigned char c = (unsigned char)key[i];

		out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[o] = '\0';
}

static void index_path(char *out, const char *parent, size_t idx)
{
	snprintf(out, JPATH_MAX, "%.*s[%zu]", JPATH_MAX - 24, parent, idx);
}

/*
 * Optimal string alignment distance, for "did you mean". Keys are short;
 * anything past 32 bytes is too far from every key to be a typo.
 */
static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	unsigned d[33][33];

	if (la > 32 || lb > 32)
		return UINT_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			unsigned cost = tolower((unsigned char)a[i - 1]) !=
					tolower((unsigned char)b[j - 1]);
			unsigned best = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* A close candidate, or NULL: at most 2 edits and fewer than a third of the word. */
static const char *closest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	unsigned bestd = UINT_MAX;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned d = edit_distance(word, cands[i]);

		if (d < bestd) {
			bestd = d;
			best = cands[i];
		}
	}
	if (!best || bestd > 2 || bestd * 3 > strlen(best))
		return NULL;
	return best;
}

static void unknown_key(struct loader *ld, const char *path, const char *key,
			const struct field *tab)
{
	const char *cands[32];
	const char *near;
	size_t n = 0;

	for (; tab->key && n < 32; tab++)
		cands[n++] = tab->key;
	near = closest(key, cands, n);
	if (near)
		perr(ld, path, "unknown key (did you mean \"%s\"?)", near);
	else
		perr(ld, path, "unknown key");
}

/* ------------------------------------------------------------------------
 * Scalar validators
 * ------------------------------------------------------------------------ */

static bool has_ctrl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* The string value, or NULL after reporting why not. */
static const char *want_string(struct loader *ld, const char *path, const json_t *v)
{
	char q[96];
	const char *s;

	if (!json_is_string(v)) {
		type_err(ld, path, "a string", v);
		return NULL;
	}
	s = json_string_value(v);
	if (has_ctrl(s)) {
		cfg_quote(q, sizeof(q), s, json_string_length(v));
		perr(ld, path, "control character in %s", q);
		return NULL;
	}
	return s;
}

/* char[f->size], at least f->min bytes. */
static void f_string(struct loader *ld, const char *path, json_t *v, void *dst,
		     const struct field *f)
{
	const char *s = want_string(ld, path, v);
	char q[96];
	size_t len;

	if (!s)
		return;
	len = strlen(s);
	cfg_quote(q, sizeof(q), s, len);
	if (len < (size_t)f->min) {
		perr(ld, path, "must not be empty");
		return;
	}
	if (len >= f->size) {
		perr(ld, path, "at most %zu bytes, got %zu in %s", f->size - 1, len, q);
		return;
	}
	memcpy(dst, s, len + 1);
}

static void f_uint(struct loader *ld, const char *path, json_t *v, void *dst,
		   const struct field *f)
{
	json_int_t x;

	if (!json_is_integer(v)) {
		type_err(ld, path, "an integer", v);
		return;
	}
	x = json_integer_value(v);
	if (x < f->min || x > f->max) {
		perr(ld, path, "must be %lld..%lld, got %" JSON_INTEGER_FORMAT,
		     f->min, f->max, x);
		return;
	}
	*(unsigned *)dst = (unsigned)x;
}

static void f_bool(struct loader *ld, const char *path, json_t *v, void *dst,
		   const struct field *f)
{
	(void)f;
	if (!json_is_boolean(v)) {
		type_err(ld, path, "true or false", v);
		return;
	}
	*(bool *)dst = json_is_true(v);
}

static void f_enum(struct loader *ld, const char *path, json_t *v, void *dst,
		   const struct field *f)
{
	const char *s = want_string(ld, path, v);
	char list[160], q[96];
	size_t i, o = 0;

	if (!s)
		return;
	for (i = 0; f->names[i]; i++) {
		if (!strcmp(s, f->names[i])) {
			*(int *)dst = (int)i;
			return;
		}
	}
	for (i = 0; f->names[i] && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s\"%s\"",
				      i ? (f->names[i + 1] ? ", " : " or ") : "",
				      f->names[i]);
	cfg_quote(q, sizeof(q), s, strlen(s));
	perr(ld, path, "must be %s, got %s", list, q);
}

/* clock_valid: the operator's true or false, or "ntp" (ask the kernel). */
static void f_clock(struct loader *ld, const char *path, json_t *v, void *dst,
		    const struct field *f)
{
	char q[96];

	(void)f;
	if (json_is_boolean(v)) {
		*(enum cfg_clock_valid *)dst = json_is_true(v) ? CFG_CLOCK_TRUE : CFG_CLOCK_FALSE;
		return;
	}
	if (json_is_string(v) && !strcmp(json_string_value(v), "ntp")) {
		*(enum cfg_clock_valid *)dst = CFG_CLOCK_NTP;
		return;
	}
	if (json_is_string(v)) {
		cfg_quote(q, sizeof(q), json_string_value(v), json_string_length(v));
		perr(ld, path, "must be true, false or \"ntp\", got %s", q);
		return;
	}
	type_err(ld, path, "true, false or \"ntp\"", v);
}

static void walk(struct loader *ld, const char *path, json_t *obj,
		 const struct field *tab, void *base);

static void f_object(struct loader *ld, const char *path, json_t *v, void *dst,
		     const struct field *f)
{
	walk(ld, path, v, f->sub, dst);
}

/* ------------------------------------------------------------------------
 * Paths and files
 * ------------------------------------------------------------------------ */

static char *resolve(struct loader *ld, const char *s)
{
	char *out;

	if (s[0] == '/')
		return strdup(s);
	if (asprintf(&out, "%s/%s", ld->dir, s) < 0)
		return NULL;
	return out;
}

/*
 * Open path to check what it is now; the daemon opens it again when it
 * uses it, so this is about telling the operator early, not about races.
 */
static bool check_file(struct loader *ld, const char *path, const char *file, int what)
{
	char q[96];
	struct stat st;
	int fd;

	cfg_quote(q, sizeof(q), file, strlen(file));
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		perr(ld, path, "%s: %s", q, strerror(errno));
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		perr(ld, path, "%s: not a regular file", q);
		return false;
	}
	close(fd);
	/* Anyone could swap in their own key, and with it the controller's
	 * identity towards every AP. */
	if (what == PATH_PRIVATE_KEY && (st.st_mode & S_IWOTH)) {
		perr(ld, path, "%s is world-writable (mode %04o): refusing the private key",
		     q, (unsigned)(st.st_mode & 07777));
		return false;
	}
	return true;
}

/* char *, resolved against the config's directory; f->min says what it must be. */
static void f_path(struct loader *ld, const char *path, json_t *v, void *dst,
		   const struct field *f)
{
	const char *s = want_string(ld, path, v);
	char **out = dst;
	char *full;

	if (!s)
		return;
	if (!s[0]) {
		perr(ld, path, "must not be empty");
		return;
	}
	full = resolve(ld, s);
	if (!full) {
		perr(ld, path, "out of memory");
		return;
	}
	if (strlen(full) >= PATH_MAX) {
		perr(ld, path, "path longer than %d bytes", PATH_MAX - 1);
		free(full);
		return;
	}
	if (f->min != PATH_ANY && !check_file(ld, path, full, (int)f->min)) {
		free(full);
		return;
	}
	free(*out);
	*out = full;
}

/* ------------------------------------------------------------------------
 * Addresses and URLs
 * ------------------------------------------------------------------------ */

static bool parse_port(const char *s, unsigned *port)
{
	unsigned long p = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (!isdigit((unsigned char)s[i]) || i >= 5)
			return false;
		p = p * 10 + (unsigned long)(s[i] - '0');
	}
	if (i == 0 || p < 1 || p > 65535)
		return false;
	*port = (unsigned)p;
	return true;
}

/* "a.b.c.d:port" or "[v6]:port"; on failure *why says what is wrong. */
static bool parse_address(const char *s, struct cfg_address *a, const char **why)
{
	char host[64];
	const char *port_s, *end;
	unsigned port;
	size_t hl;

	memset(a, 0, sizeof(*a));
	if (strlen(s) >= sizeof(a->text)) {
		*why = "too long for an address";
		return false;
	}
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || end[1] != ':') {
			*why = "an IPv6 address is written \"[address]:port\"";
			return false;
		}
		hl = (size_t)(end - s - 1);
		port_s = end + 2;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
	} else {
		end = strrchr(s, ':');
		if (!end) {
			*why = "missing \":port\"";
			return false;
		}
		if (memchr(s, ':', (size_t)(end - s))) {
			*why = "an IPv6 address needs brackets: \"[address]:port\"";
			return false;
		}
		hl = (size_t)(end - s);
		port_s = end + 1;
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	if (!parse_port(port_s, &port)) {
		*why = "the port must be 1..65535";
		return false;
	}
	if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->addr;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			*why = "not an IPv6 address";
			return false;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->addr;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			*why = "not an IPv4 address (a.b.c.d:port; host names are not resolved)";
			return false;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		a->len = sizeof(*sin);
	}
	memcpy(a->text, s, strlen(s) + 1);
	return true;
}

static bool address_value(struct loader *ld, const char *path, json_t *v,
			  struct cfg_address *a)
{
	const char *s = want_string(ld, path, v);
	const char *why = NULL;
	char q[96];

	if (!s)
		return false;
	if (parse_address(s, a, &why))
		return true;
	cfg_quote(q, sizeof(q), s, strlen(s));
	perr(ld, path, "%s: %s", q, why);
	return false;
}

static void f_address(struct loader *ld, const char *path, json_t *v, void *dst,
		      const struct field *f)
{
	(void)f;
	address_value(ld, path, v, dst);
}

static void f_listen(struct loader *ld, const char *path, json_t *v, void *dst,
		     const struct field *f)
{
	struct lscd_config *cfg = dst;
	char sub[JPATH_MAX];
	size_t i, j;
	json_t *e;

	(void)f;
	if (!json_is_array(v)) {
		type_err(ld, path, "an array of addresses", v);
		return;
	}
	if (json_array_size(v) == 0) {
		perr(ld, path, "must list at least one address");
		return;
	}
	if (json_array_size(v) > CFG_MAX_LISTEN) {
		perr(ld, path, "at most %d addresses, got %zu", CFG_MAX_LISTEN,
		     json_array_size(v));
		return;
	}
	json_array_foreach(v, i, e) {
		struct cfg_address a;

		index_path(sub, path, i);
		if (!address_value(ld, sub, e, &a))
			continue;
		for (j = 0; j < cfg->n_listen; j++) {
			if (cfg->listen[j].len == a.len &&
			    !memcmp(&cfg->listen[j].addr, &a.addr, a.len)) {
				perr(ld, sub, "\"%s\" is listed twice", a.text);
				break;
			}
		}
		if (j == cfg->n_listen)
			cfg->listen[cfg->n_listen++] = a;
	}
}

static bool valid_host(const char *h, size_t len)
{
	size_t i;

	if (len == 0 || len > 253)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '-')
			return false;
	return h[0] != '.' && h[0] != '-';
}

/* http://host[:port][/path]: SCEP runs over plain HTTP (its messages are
 * signed and enveloped themselves). */
static const char *url_problem(const char *u)
{
	const char *h, *p;
	char port[8], v6[64];
	struct in6_addr a6;
	size_t hl;
	unsigned n;

	if (strncasecmp(u, "http://", 7) != 0)
		return strncasecmp(u, "https://", 8) == 0 ?
			"only http:// is supported: SCEP protects its own messages" :
			"must start with http://";
	h = u + 7;
	if (*h == '[') {
		p = strchr(h, ']');
		if (!p || (size_t)(p - h - 1) >= sizeof(v6))
			return "unterminated IPv6 address";
		memcpy(v6, h + 1, (size_t)(p - h - 1));
		v6[p - h - 1] = '\0';
		if (inet_pton(AF_INET6, v6, &a6) != 1)
			return "not an IPv6 address in brackets";
		p++;
	} else {
		p = h + strcspn(h, ":/?#");
		hl = (size_t)(p - h);
		if (hl == 0)
			return "has no host";
		if (!valid_host(h, hl))
			return "the host name has characters a host name cannot have";
	}
	if (*p == ':') {
		hl = strcspn(p + 1, "/?#");
		if (hl == 0 || hl >= sizeof(port))
			return "the port must be 1..65535";
		memcpy(port, p + 1, hl);
		port[hl] = '\0';
		if (!parse_port(port, &n))
			return "the port must be 1..65535";
		p += 1 + hl;
	}
	if (*p && *p != '/' && *p != '?')
		return "expected a path after the host";
	for (; *p; p++)
		if (*p == ' ' || *p == '#')
			return "spaces and fragments have no place in the URL";
	return NULL;
}

static void f_url(struct loader *ld, const char *path, json_t *v, void *dst,
		  const struct field *f)
{
	const char *s = want_string(ld, path, v);
	const char *why;
	char **out = dst;
	char q[96];

	(void)f;
	if (!s)
		return;
	why = url_problem(s);
	if (why) {
		cfg_quote(q, sizeof(q), s, strlen(s));
		perr(ld, path, "%s: %s", q, why);
		return;
	}
	free(*out);
	*out = strdup(s);
	if (!*out)
		perr(ld, path, "out of memory");
}

/* ------------------------------------------------------------------------
 * Subjects and fingerprints
 * ------------------------------------------------------------------------ */

/* A trustpoint's own subject: pki/ reads it, so pki/ says what is valid. */
static void f_dn(struct loader *ld, const char *path, json_t *v, void *dst,
		 const struct field *f)
{
	const char *s = want_string(ld, path, v);
	struct pki_subject subj;
	struct pki_error perr_;
	char **out = dst;
	char q[96];

	(void)f;
	if (!s)
		return;
	memset(&perr_, 0, sizeof(perr_));
	if (pki_subject_parse(s, &subj, &perr_) < 0) {
		cfg_quote(q, sizeof(q), s, strlen(s));
		perr(ld, path, "%s: %s", q, perr_.reason[0] ? perr_.reason : "not a subject");
		return;
	}
	free(*out);
	*out = strdup(s);
	if (!*out)
		perr(ld, path, "out of memory");
}

static void f_fingerprint(struct loader *ld, const char *path, json_t *v, void *dst,
			  const struct field *f)
{
	const char *s = want_string(ld, path, v);
	char hex[65], q[96];
	size_t n = 0;
	const char *p;

	(void)f;
	if (!s)
		return;
	for (p = s; *p; p++) {
		if (*p == ':' || *p == ' ')
			continue;
		if (!isxdigit((unsigned char)*p)) {
			cfg_quote(q, sizeof(q), s, strlen(s));
			perr(ld, path, "%s: not hexadecimal at '%c'", q, *p);
			return;
		}
		if (n < 64)
			hex[n] = (char)tolower((unsigned char)*p);
		n++;
	}
	if (n != 64) {
		cfg_quote(q, sizeof(q), s, strlen(s));
		perr(ld, path, "a SHA-256 fingerprint is 64 hex digits, got %zu in %s", n, q);
		return;
	}
	hex[64] = '\0';
	memcpy(dst, hex, sizeof(hex));
}

static void f_country(struct loader *ld, const char *path, json_t *v, void *dst,
		      const struct field *f)
{
	const char *s = want_string(ld, path, v);
	char *out = dst;
	char q[96];

	(void)f;
	if (!s)
		return;
	/* isalpha() depends on the locale; the payload wants ASCII. */
	if (strlen(s) != 2 ||
	    !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')) ||
	    !((s[1] >= 'A' && s[1] <= 'Z') || (s[1] >= 'a' && s[1] <= 'z'))) {
		cfg_quote(q, sizeof(q), s, strlen(s));
		perr(ld, path, "must be two letters (ISO 3166 code such as \"US\"), got %s", q);
		return;
	}
	out[0] = (char)toupper((unsigned char)s[0]);
	out[1] = (char)toupper((unsigned char)s[1]);
	out[2] = '\0';
}

static bool email_ok(const char *s)
{
	const char *at = strchr(s, '@'), *p;
	bool dot = false;

	if (!at || at == s || strchr(at + 1, '@') || !at[1])
		return false;
	for (p = s; p < at; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._%-", *p))
			return false;
	if (at[1] == '.' || at[1] == '-')
		return false;
	for (p = at + 1; *p; p++) {
		if (*p == '.') {
			if (p[1] == '.' || p[1] == '\0')
				return false;
			dot = true;
		} else if (!isalnum((unsigned char)*p) && *p != '-') {
			return false;
		}
	}
	return dot;
}

/*
 * A subject field the AP puts in its CSR. APs and CAs build DN strings from
 * these, so characters with a meaning in DN syntax (RFC 4514 and OpenSSL's
 * "/C=…/O=…") are refused rather than escaped by someone else, somewhere.
 * f->min = 1 marks the e-mail address.
 */
static void f_dnval(struct loader *ld, const char *path, json_t *v, void *dst,
		    const struct field *f)
{
	const char *s = want_string(ld, path, v);
	size_t len;
	char q[96];
	const char *bad;

	if (!s)
		return;
	len = strlen(s);
	cfg_quote(q, sizeof(q), s, len);
	if (len >= f->size) {
		perr(ld, path, "at most %zu bytes, got %zu in %s", f->size - 1, len, q);
		return;
	}
	bad = s + strcspn(s, ",=+/\\\"<>;");
	if (*bad) {
		perr(ld, path, "'%c' would break the certificate subject, in %s", *bad, q);
		return;
	}
	if (len && (s[0] == ' ' || s[len - 1] == ' ' || s[0] == '#')) {
		perr(ld, path, "leading or trailing space or leading '#' in %s", q);
		return;
	}
	if (f->min == 1 && len && !email_ok(s)) {
		perr(ld, path, "not an e-mail address (ASCII name@domain.tld): %s", q);
		return;
	}
	memcpy(dst, s, len + 1);
}

/* ------------------------------------------------------------------------
 * Provision list and trustpoints
 * ------------------------------------------------------------------------ */

static void f_maclist(struct loader *ld, const char *path, json_t *v, void *dst,
		      const struct field *f)
{
	struct cfg_lsc_provision *lsc = dst;
	size_t cap = lsc->n_macs, i;
	char sub[JPATH_MAX], q[96];
	json_t *e;

	(void)f;
	if (!json_is_array(v)) {
		type_err(ld, path, "an array of MAC addresses", v);
		return;
	}
	json_array_foreach(v, i, e) {
		uint8_t mac[6];
		const char *s, *why;

		index_path(sub, path, i);
		if (!(s = want_string(ld, sub, e)))
			continue;
		cfg_quote(q, sizeof(q), s, strlen(s));
		if (!capwap_mac_parse(s, strlen(s), mac)) {
			perr(ld, sub, "not a MAC address: %s", q);
			continue;
		}
		if ((why = cfg_mac_unusable(mac))) {
			perr(ld, sub, "%s is %s, not an AP's", q, why);
			continue;
		}
		if (!cfg_mac_append(&lsc->macs, &lsc->n_macs, &cap, mac)) {
			perr(ld, sub, "out of memory");
			return;
		}
	}
}

static void f_listfile(struct loader *ld, const char *path, json_t *v, void *dst,
		       const struct field *f)
{
	struct cfg_lsc_provision *lsc = dst;
	static const struct field as_path = { .min = PATH_READABLE };
	struct stat st;
	char q[96];

	(void)f;
	f_path(ld, path, v, &lsc->provision_list_file, &as_path);
	if (!lsc->provision_list_file || !json_is_string(v))
		return;
	/* The list decides who gets a certificate from the CA. */
	if (stat(lsc->provision_list_file, &st) == 0 && (st.st_mode & S_IWOTH)) {
		cfg_quote(q, sizeof(q), lsc->provision_list_file,
			  strlen(lsc->provision_list_file));
		perr(ld, path, "%s is world-writable (mode %04o): refusing it", q,
		     (unsigned)(st.st_mode & 07777));
		return;
	}
	cfg_parse_mac_file(lsc->provision_list_file, &lsc->macs, &lsc->n_macs, ld->errs);
}

static const struct field trustpoint_fields[] = {
	{ "certificate", f_path, offsetof(struct cfg_trustpoint, certificate_file), 0,
	  PATH_READABLE, 0, NULL, NULL },
	{ "private_key", f_path, offsetof(struct cfg_trustpoint, private_key_file), 0,
	  PATH_PRIVATE_KEY, 0, NULL, NULL },
	{ "enrollment_url", f_url, offsetof(struct cfg_trustpoint, enrollment_url), 0,
	  0, 0, NULL, NULL },
	{ "subject", f_dn, offsetof(struct cfg_trustpoint, subject), 0, 0, 0, NULL, NULL },
	{ "key_type", f_enum, offsetof(struct cfg_trustpoint, key_type), 0, 0, 0,
	  key_type_names, NULL },
	{ "key_size", f_uint, offsetof(struct cfg_trustpoint, key_size), 0, 1, 16384,
	  NULL, NULL },
	{ "ca_fingerprint_sha256", f_fingerprint,
	  offsetof(struct cfg_trustpoint, ca_fingerprint), 0, 0, 0, NULL, NULL },
	{ "revocation_check", f_enum, offsetof(struct cfg_trustpoint, revocation_check),
	  0, 0, 0, revocation_names, NULL },
	{ "auto_enroll", f_uint, offsetof(struct cfg_trustpoint, auto_enroll_percent), 0,
	  0, 99, NULL, NULL },
	{ "regenerate", f_bool, offsetof(struct cfg_trustpoint, regenerate), 0, 0, 0,
	  NULL, NULL },
	{ "http_timeout_ms", f_uint, offsetof(struct cfg_trustpoint, http_timeout_ms), 0,
	  100, 600000, NULL, NULL },
	{ "poll_interval_s", f_uint, offsetof(struct cfg_trustpoint, poll_interval_s), 0,
	  1, 86400, NULL, NULL },
	{ "poll_retries", f_uint, offsetof(struct cfg_trustpoint, poll_retries), 0,
	  0, 10000, NULL, NULL },
	{ "max_concurrent", f_uint, offsetof(struct cfg_trustpoint, max_concurrent), 0,
	  1, 1024, NULL, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL, NULL },
};

/* Keys that mean something only when lscd enrols the trustpoint itself. */
static const char *const enrollment_only[] = {
	"subject", "key_type", "key_size", "ca_fingerprint_sha256", "revocation_check",
	"auto_enroll", "regenerate", "http_timeout_ms", "poll_interval_s",
	"poll_retries", "max_concurrent", NULL,
};

static void trustpoint_defaults(struct cfg_trustpoint *tp)
{
	tp->key_type = CFG_KEY_RSA;
	tp->key_size = 0;          /* by key type, after the walk */
	tp->revocation_check = CFG_REVOCATION_NONE;
	tp->http_timeout_ms = 10000;
	tp->poll_interval_s = 60;
	tp->poll_retries = 10;
	tp->max_concurrent = 4;
}

/* Names become directories under <state_dir>/trustpoints/ and JSON path parts. */
static bool tp_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= CFG_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

static void f_trustpoints(struct loader *ld, const char *path, json_t *v, void *dst,
			  const struct field *f)
{
	struct lscd_config *cfg = dst;
	char sub[JPATH_MAX], q[96];
	const char *name;
	json_t *tv;

	(void)f;
	if (!json_is_object(v)) {
		type_err(ld, path, "an object of trustpoints by name", v);
		return;
	}
	json_object_foreach(v, name, tv) {
		struct cfg_trustpoint *tp;

		join_path(sub, path, name);
		if (!tp_name_ok(name)) {
			cfg_quote(q, sizeof(q), name, strlen(name));
			perr(ld, sub, "trustpoint name %s: use 1..%d letters, digits, '-' or '_'",
			     q, CFG_NAME_MAX - 1);
			continue;
		}
		if (cfg->n_trustpoints == CFG_MAX_TRUSTPOINTS) {
			perr(ld, sub, "too many trustpoints (at most %d)", CFG_MAX_TRUSTPOINTS);
			return;
		}
		tp = &cfg->trustpoints[cfg->n_trustpoints++];
		memcpy(tp->name, name, strlen(name) + 1);
		trustpoint_defaults(tp);
		walk(ld, sub, tv, trustpoint_fields, tp);
	}
}

static void f_metrics(struct loader *ld, const char *path, json_t *v, void *dst,
		      const struct field *f)
{
	struct lscd_config *cfg = dst;

	cfg->metrics_enabled = true;
	walk(ld, path, v, f->sub, cfg);
}

/* ------------------------------------------------------------------------
 * Key tables
 * ------------------------------------------------------------------------ */

#define S_OFF(m) offsetof(struct cfg_lsc_subject, m), sizeof(((struct cfg_lsc_subject *)0)->m)
static const struct field subject_fields[] = {
	{ "country", f_country, S_OFF(country), 0, 0, NULL, NULL },
	{ "state", f_dnval, S_OFF(state), 0, 0, NULL, NULL },
	{ "city", f_dnval, S_OFF(city), 0, 0, NULL, NULL },
	{ "organization", f_dnval, S_OFF(organization), 0, 0, NULL, NULL },
	{ "department", f_dnval, S_OFF(department), 0, 0, NULL, NULL },
	{ "email", f_dnval, S_OFF(email), 1, 0, NULL, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL, NULL },
};

#define L_OFF(m) offsetof(struct cfg_lsc_provision, m)
static const struct field lsc_fields[] = {
	{ "mode", f_enum, L_OFF(mode), 0, 0, 0, lsc_mode_names, NULL },
	{ "trustpoint", f_string, L_OFF(trustpoint), CFG_NAME_MAX, 1, 0, NULL, NULL },
	{ "join_attempts", f_uint, L_OFF(join_attempts), 0, 0, 255, NULL, NULL },
	{ "key_type", f_enum, L_OFF(key_type), 0, 0, 0, key_type_names, NULL },
	{ "key_size", f_uint, L_OFF(key_size), 0, 1, 16384, NULL, NULL },
	{ "subject", f_object, L_OFF(subject), 0, 0, 0, NULL, subject_fields },
	{ "provision_list", f_maclist, 0, 0, 0, 0, NULL, NULL },
	{ "provision_list_file", f_listfile, 0, 0, 0, 0, NULL, NULL },
	{ "max_reprovision", f_uint, L_OFF(max_reprovision), 0, 0, 1000, NULL, NULL },
	{ "reprovision_window_s", f_uint, L_OFF(reprovision_window_s), 0, 60, 31536000,
	  NULL, NULL },
	{ "renew_percent", f_uint, L_OFF(renew_percent), 0, 0, 99, NULL, NULL },
	{ "renew_spread_s", f_uint, L_OFF(renew_spread_s), 0, 0, 2592000, NULL, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL, NULL },
};

/*
 * RFC 5415 §4.7: the Timers element carries MaxDiscoveryInterval (2..180)
 * and EchoInterval in one byte each; WaitDTLS must exceed 30 s and
 * WaitJoin 20 s.
 */
#define C_OFF(m) offsetof(struct cfg_capwap, m)
static const struct field capwap_fields[] = {
	{ "ac_name", f_string, C_OFF(ac_name), sizeof(((struct cfg_capwap *)0)->ac_name),
	  1, 0, NULL, NULL },
	{ "discovery_interval_s", f_uint, C_OFF(discovery_interval_s), 0, 2, 180, NULL, NULL },
	{ "echo_interval_s", f_uint, C_OFF(echo_interval_s), 0, 1, 255, NULL, NULL },
	{ "retransmit_interval_s", f_uint, C_OFF(retransmit_interval_s), 0, 1, 60, NULL, NULL },
	{ "max_retransmit", f_uint, C_OFF(max_retransmit), 0, 1, 64, NULL, NULL },
	{ "wait_dtls_s", f_uint, C_OFF(wait_dtls_s), 0, 31, 3600, NULL, NULL },
	{ "wait_join_s", f_uint, C_OFF(wait_join_s), 0, 21, 3600, NULL, NULL },
	{ "change_state_pending_s", f_uint, C_OFF(change_state_pending_s), 0, 1, 3600,
	  NULL, NULL },
	{ "data_check_s", f_uint, C_OFF(data_check_s), 0, 1, 3600, NULL, NULL },
	{ "mtu", f_uint, C_OFF(mtu), 0, 576, 9000, NULL, NULL },
	{ "max_message_size", f_uint, C_OFF(max_message_size), 0, 4096, 65535, NULL, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL, NULL },
};

#define LIM_OFF(m) offsetof(struct cfg_limits, m)
static const struct field limits_fields[] = {
	{ "max_sessions", f_uint, LIM_OFF(max_sessions), 0, 1, 1000000, NULL, NULL },
	{ "max_handshakes", f_uint, LIM_OFF(max_handshakes), 0, 1, 1000000, NULL, NULL },
	{ "handshakes_per_source", f_uint, LIM_OFF(handshakes_per_source), 0, 1, 1000000,
	  NULL, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL, NULL },
};

#define T_OFF(m) offsetof(struct lscd_config, m)
static const struct field metrics_fields[] = {
	{ "listen", f_address, T_OFF(metrics_listen), 0, 0, 0, NULL, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL, NULL },
};

static const struct field debug_fields[] = {
	{ "capture_pcap", f_path, T_OFF(capture_pcap), 0, PATH_ANY, 0, NULL, NULL },
	{ "dtls_keylog", f_path, T_OFF(dtls_keylog), 0, PATH_ANY, 0, NULL, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL, NULL },
};

static const struct field top_fields[] = {
	{ "listen", f_listen, 0, 0, 0, 0, NULL, NULL },
	{ "state_dir", f_path, T_OFF(state_dir), 0, PATH_ANY, 0, NULL, NULL },
	{ "database", f_path, T_OFF(database), 0, PATH_ANY, 0, NULL, NULL },
	{ "control_socket", f_path, T_OFF(control_socket), 0, PATH_ANY, 0, NULL, NULL },
	{ "log_level", f_enum, T_OFF(log_level), 0, 0, 0, log_level_names, NULL },
	{ "clock_valid", f_clock, T_OFF(clock_valid), 0, 0, 0, NULL, NULL },
	{ "wireless_management_trustpoint", f_string, T_OFF(management_trustpoint),
	  CFG_NAME_MAX, 1, 0, NULL, NULL },
	{ "mic_ca_bundle", f_path, T_OFF(mic_ca_bundle), 0, PATH_READABLE, 0, NULL, NULL },
	{ "trustpoints", f_trustpoints, 0, 0, 0, 0, NULL, NULL },
	{ "lsc_provision", f_object, T_OFF(lsc), 0, 0, 0, NULL, lsc_fields },
	{ "capwap", f_object, T_OFF(capwap), 0, 0, 0, NULL, capwap_fields },
	{ "limits", f_object, T_OFF(limits), 0, 0, 0, NULL, limits_fields },
	{ "metrics", f_metrics, 0, 0, 0, 0, NULL, metrics_fields },
	{ "debug", f_object, 0, 0, 0, 0, NULL, debug_fields },
	{ NULL, NULL, 0, 0, 0, 0, NULL, NULL },
};

static void walk(struct loader *ld, const char *path, json_t *obj,
		 const struct field *tab, void *base)
{
	const struct field *f;
	char sub[JPATH_MAX];
	const char *key;
	json_t *v;

	if (!json_is_object(obj)) {
		type_err(ld, path[0] ? path : "top level", "an object", obj);
		return;
	}
	json_object_foreach(obj, key, v) {
		join_path(sub, path, key);
		for (f = tab; f->key; f++)
			if (!strcmp(f->key, key))
				break;
		if (!f->key) {
			unknown_key(ld, sub, key, tab);
			continue;
		}
		f->fn(ld, sub, v, (char *)base + f->off, f);
	}
}

/* ------------------------------------------------------------------------
 * Defaults and cross-field checks
 * ------------------------------------------------------------------------ */

static bool set_defaults(struct lscd_config *cfg)
{
	cfg->state_dir = strdup("/var/lib/lscd");
	cfg->control_socket = strdup("/run/lscd/lscd.sock");
	cfg->log_level = CFG_LOG_INFO;
	cfg->clock_valid = CFG_CLOCK_NTP;

	cfg->lsc.mode = CFG_LSC_DISABLED;
	cfg->lsc.join_attempts = 3;
	cfg->lsc.key_type = CFG_KEY_RSA;
	cfg->lsc.key_size = 0;     /* by key type, after the walk */
	cfg->lsc.max_reprovision = 2;
	cfg->lsc.reprovision_window_s = 86400;
	cfg->lsc.renew_percent = 80;
	cfg->lsc.renew_spread_s = 3600;

	strcpy(cfg->capwap.ac_name, "lscd");
	cfg->capwap.discovery_interval_s = 20;
	cfg->capwap.echo_interval_s = 30;
	cfg->capwap.retransmit_interval_s = 3;
	cfg->capwap.max_retransmit = 5;
	cfg->capwap.wait_dtls_s = 60;
	cfg->capwap.wait_join_s = 60;
	cfg->capwap.change_state_pending_s = 25;
	cfg->capwap.data_check_s = 30;
	cfg->capwap.mtu = 1400;
	cfg->capwap.max_message_size = 16384;

	cfg->limits.max_sessions = 10000;
	cfg->limits.max_handshakes = 256;
	cfg->limits.handshakes_per_source = 20;
	return cfg->state_dir && cfg->control_socket;
}

static void check_key(struct loader *ld, const char *path, enum cfg_key_type type,
		      unsigned *size, bool given)
{
	if (!given || *size == 0) {
		*size = type == CFG_KEY_EC ? 256 : 2048;
		return;
	}
	if (type == CFG_KEY_RSA && *size != 2048 && *size != 3072 && *size != 4096)
		perr(ld, path, "%u is not an RSA key size lscd provisions (2048, 3072 or 4096)",
		     *size);
	else if (type == CFG_KEY_EC && *size != 256 && *size != 384)
		perr(ld, path, "%u is not an EC key size (256 for P-256, 384 for P-384)", *size);
}

/* Does the JSON object at root.a.b… have key? (For keys given explicitly.) */
static json_t *jget(json_t *obj, const char *a, const char *b, const char *c)
{
	if (obj && a)
		obj = json_object_get(obj, a);
	if (obj && b)
		obj = json_is_object(obj) ? json_object_get(obj, b) : NULL;
	if (obj && c)
		obj = json_is_object(obj) ? json_object_get(obj, c) : NULL;
	return obj;
}

static void tp_ref(struct loader *ld, const char *path, const char *name, bool enrol)
{
	const struct lscd_config *cfg = ld->cfg;
	const struct cfg_trustpoint *tp = cfg_trustpoint(cfg, name);
	const char *names[CFG_MAX_TRUSTPOINTS];
	const char *near;
	size_t i;

	if (!tp) {
		for (i = 0; i < cfg->n_trustpoints; i++)
			names[i] = cfg->trustpoints[i].name;
		near = closest(name, names, cfg->n_trustpoints);
		if (near)
			perr(ld, path, "no trustpoint named \"%s\" (did you mean \"%s\"?)", name, near);
		else
			perr(ld, path, "no trustpoint named \"%s\" in \"trustpoints\"", name);
		return;
	}
	if (enrol && !tp->enrollment_url)
		perr(ld, path, "trustpoint \"%s\" has no \"enrollment_url\": LSCs are enrolled through a CA",
		     name);
}

static void check_trustpoints(struct loader *ld)
{
	struct lscd_config *cfg = ld->cfg;
	char path[JPATH_MAX], sub[JPATH_MAX];
	size_t i, k;

	for (i = 0; i < cfg->n_trustpoints; i++) {
		struct cfg_trustpoint *tp = &cfg->trustpoints[i];
		json_t *obj = jget(ld->root, "trustpoints", tp->name, NULL);
		bool cert = json_object_get(obj, "certificate") != NULL;
		bool key = json_object_get(obj, "private_key") != NULL;
		bool url = json_object_get(obj, "enrollment_url") != NULL;

		if (!json_is_object(obj))
			continue;
		join_path(path, "trustpoints", tp->name);
		if (!cert && !key && !url) {
			perr(ld, path, "needs \"certificate\" and \"private_key\", or \"enrollment_url\"");
			continue;
		}
		if ((cert || key) && url) {
			perr(ld, path, "has both files and \"enrollment_url\": choose one source for its certificate");
			continue;
		}
		if (url) {
			/* Only a trustpoint that enrolls its own identity needs a
			 * subject; one that only proxies APs' CSRs does not. */
			if (!json_object_get(obj, "subject") &&
			    strcmp(tp->name, cfg->management_trustpoint) == 0) {
				join_path(sub, path, "subject");
				perr(ld, sub, "required for the wireless management trustpoint, which enrolls "
					      "the controller's own certificate");
			}
			join_path(sub, path, "key_size");
			check_key(ld, sub, tp->key_type, &tp->key_size,
				  json_object_get(obj, "key_size") != NULL);
			continue;
		}
		if (!cert) {
			join_path(sub, path, "certificate");
			perr(ld, sub, "required with \"private_key\"");
		}
		if (!key) {
			join_path(sub, path, "private_key");
			perr(ld, sub, "required with \"certificate\"");
		}
		for (k = 0; enrollment_only[k]; k++) {
			if (json_object_get(obj, enrollment_only[k])) {
				join_path(sub, path, enrollment_only[k]);
				perr(ld, sub, "applies only to a trustpoint with \"enrollment_url\"");
			}
		}
	}
}

static void cross_check(struct loader *ld)
{
	struct lscd_config *cfg = ld->cfg;
	struct cfg_lsc_provision *lsc = &cfg->lsc;
	json_t *root = ld->root;
	const char *why;

	if (!json_object_get(root, "listen")) {
		parse_address("0.0.0.0:5246", &cfg->listen[0], &why);
		cfg->n_listen = 1;
	}
	if (!cfg->database && cfg->state_dir &&
	    asprintf(&cfg->database, "%s/lscd.db", cfg->state_dir) < 0) {
		cfg->database = NULL;
		perr(ld, "database", "out of memory");
	}
	if (cfg->control_socket &&
	    strlen(cfg->control_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		perr(ld, "control_socket", "\"%s\" is longer than a socket path can be (%zu bytes)",
		     cfg->control_socket, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	if (!json_object_get(root, "mic_ca_bundle"))
		perr(ld, "mic_ca_bundle", "required: the manufacturer CAs that sign AP MICs");

	check_trustpoints(ld);

	if (!json_object_get(root, "wireless_management_trustpoint"))
		perr(ld, "wireless_management_trustpoint",
		     "required: the trustpoint whose certificate lscd presents to APs");
	else if (cfg->management_trustpoint[0])
		tp_ref(ld, "wireless_management_trustpoint", cfg->management_trustpoint, false);

	check_key(ld, "lsc_provision.key_size", lsc->key_type, &lsc->key_size,
		  jget(root, "lsc_provision", "key_size", NULL) != NULL);
	if (lsc->trustpoint[0])
		tp_ref(ld, "lsc_provision.trustpoint", lsc->trustpoint, true);
	if (lsc->mode != CFG_LSC_DISABLED) {
		if (!jget(root, "lsc_provision", "trustpoint", NULL))
			perr(ld, "lsc_provision.trustpoint", "required when mode is \"%s\"",
			     cfg_lsc_mode_name(lsc->mode));
		/* The certificate-parameter payload must carry a country. */
		if (!jget(root, "lsc_provision", "subject", "country"))
			perr(ld, "lsc_provision.subject.country", "required when mode is \"%s\"",
			     cfg_lsc_mode_name(lsc->mode));
	}
	if (json_object_get(root, "metrics") && !jget(root, "metrics", "listen", NULL) &&
	    json_is_object(json_object_get(root, "metrics")))
		perr(ld, "metrics.listen", "required: where to serve /metrics (or drop \"metrics\")");

	cfg_mac_sort_unique(lsc->macs, &lsc->n_macs);
}

/* ------------------------------------------------------------------------
 * Entry points
 * ------------------------------------------------------------------------ */

struct lscd_config *cfg_load_json(json_t *root, const char *file, const char *dir,
				  struct cfg_errors *errs)
{
	struct loader ld = { .file = file, .dir = dir, .errs = errs, .root = root };
	size_t before = errs->n;

	ld.cfg = calloc(1, sizeof(*ld.cfg));
	if (!ld.cfg || !set_defaults(ld.cfg) || !(ld.cfg->path = strdup(file))) {
		cfg_err(errs, "%s: out of memory", file);
		cfg_free(ld.cfg);
		return NULL;
	}
	if (!json_is_object(root)) {
		type_err(&ld, "top level", "an object", root);
	} else {
		walk(&ld, "", root, top_fields, ld.cfg);
		cross_check(&ld);
	}
	if (errs->n != before) {
		cfg_free(ld.cfg);
		return NULL;
	}
	return ld.cfg;
}

bool cfg_dir_of(const char *path, char *out, size_t size, struct cfg_errors *errs)
{
	char *real = realpath(path, NULL);
	char *slash;

	if (!real) {
		cfg_err(errs, "%s: %s", path, strerror(errno));
		return false;
	}
	slash = strrchr(real, '/');
	if (slash == real)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (strlen(real) >= size) {
		cfg_err(errs, "%s: path too long", path);
		free(real);
		return false;
	}
	memcpy(out, real, strlen(real) + 1);
	free(real);
	return true;
}

static void syntax_err(struct cfg_errors *errs, const char *file, const json_error_t *je)
{
	if (je->line > 0)
		cfg_err(errs, "%s:%d:%d: %s", file, je->line, je->column, je->text);
	else
		cfg_err(errs, "%s: %s", file, je->text);
}

struct lscd_config *cfg_load(const char *path, struct cfg_errors *errs)
{
	char dir[PATH_MAX];
	struct lscd_config *cfg;
	json_error_t je;
	struct stat st;
	json_t *root;
	int fd;

	errs->n = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		cfg_err(errs, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		cfg_err(errs, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	/* It names the keys and the CA: anyone who can write it owns the fleet. */
	if (st.st_mode & S_IWOTH) {
		cfg_err(errs, "%s: world-writable (mode %04o): refusing to use it (chmod o-w)",
			path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return NULL;
	}
	root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &je);
	close(fd);
	if (!root) {
		syntax_err(errs, path, &je);
		return NULL;
	}
	if (!cfg_dir_of(path, dir, sizeof(dir), errs)) {
		json_decref(root);
		return NULL;
	}
	cfg = cfg_load_json(root, path, dir, errs);
	json_decref(root);
	return cfg;
}

struct lscd_config *cfg_load_buffer(const char *name, const char *dir, const char *buf,
				    size_t len, struct cfg_errors *errs)
{
	struct lscd_config *cfg;
	json_error_t je;
	json_t *root;

	errs->n = 0;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		syntax_err(errs, name, &je);
		return NULL;
	}
	cfg = cfg_load_json(root, name, dir, errs);
	json_decref(root);
	return cfg;
}

void cfg_free(struct lscd_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_trustpoints; i++) {
		free(cfg->trustpoints[i].certificate_file);
		free(cfg->trustpoints[i].private_key_file);
		free(cfg->trustpoints[i].enrollment_url);
		free(cfg->trustpoints[i].subject);
	}
	free(cfg->lsc.macs);
	free(cfg->lsc.provision_list_file);
	free(cfg->path);
	free(cfg->state_dir);
	free(cfg->database);
	free(cfg->control_socket);
	free(cfg->mic_ca_bundle);
	free(cfg->capture_pcap);
	free(cfg->dtls_keylog);
	free(cfg);
}

const struct cfg_trustpoint *cfg_trustpoint(const struct lscd_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_trustpoints; i++)
		if (!strcmp(cfg->trustpoints[i].name, name))
			return &cfg->trustpoints[i];
	return NULL;
}

const char *cfg_lsc_mode_name(enum cfg_lsc_mode mode)
{
	if ((unsigned)mode < sizeof(lsc_mode_names) / sizeof(lsc_mode_names[0]) - 1)
		return lsc_mode_names[mode];
	return "?";
}
