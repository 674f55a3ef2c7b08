/*
 * config_mac.c — the provision list: MACs inline or from the operator's
 * CSV/text file, merged into one sorted array that is searched per AP.
 *
 * The file comes from spreadsheets and inventory exports as often as from
 * an editor, so it tolerates what those produce: a UTF-8 byte order mark,
 * CRLF, a header row, quoted fields, extra columns, '#' comments.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "capwap/capwap.h"
#include "ctrl/config.h"
#include "ctrl/config_int.h"

#define MAC_FILE_LINE_MAX 4096
#define MAC_FILE_FIELDS   64

const char *cfg_mac_unusable(const uint8_t mac[6])
{
	static const uint8_t zero[6], bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	if (!memcmp(mac, zero, 6))
		return "the all-zero address";
	if (!memcmp(mac, bcast, 6))
		return "the broadcast address";
	/* I/G bit: a group address never identifies one device. */
	if (mac[0] & 0x01)
		return "a multicast address";
	return NULL;
}

static int mac_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 6);
}

void cfg_mac_sort_unique(uint8_t (*macs)[6], size_t *n)
{
	size_t i, o;

	if (*n < 2)
		return;
	qsort(macs, *n, 6, mac_cmp);
	for (i = 1, o = 1; i < *n; i++)
		if (memcmp(macs[i], macs[o - 1], 6) != 0)
			memcpy(macs[o++], macs[i], 6);
	*n = o;
}

bool cfg_mac_append(uint8_t (**macs)[6], size_t *n, size_t *cap, const uint8_t mac[6])
{
	if (*n >= *cap) {
		size_t ncap = *cap < 32 ? 64 : *cap * 2;
		uint8_t (*p)[6];

		if (ncap <= *n)
			ncap = *n + 64;
		p = realloc(*macs, ncap * 6);
		if (!p)
			return false;
		*macs = p;
		*cap = ncap;
	}
	memcpy((*macs)[*n], mac, 6);
	(*n)++;
	return true;
}

bool cfg_mac_listed(const struct lscd_config *cfg, const uint8_t mac[6])
{
	if (!cfg->lsc.n_macs)
		return false;
	return bsearch(mac, cfg->lsc.macs, cfg->lsc.n_macs, 6, mac_cmp) != NULL;
}

bool cfg_lsc_applies(const struct lscd_config *cfg, const uint8_t mac[6])
{
	switch (cfg->lsc.mode) {
	case CFG_LSC_ALL:
		return true;
	case CFG_LSC_PROVISION_LIST:
		return cfg_mac_listed(cfg, mac);
	case CFG_LSC_DISABLED:
		break;
	}
	return false;
}

struct csv_field {
	const char *s;
	size_t len;
};

/*
 * Split one line (without its line ending) into fields separated by ',',
 * ';' or TAB, unquoting "…" (with "" for a quote) into buf. An unquoted '#'
 * ends the line. Returns the number of fields, or -1 with *why set.
 */
static int split_fields(const char *line, char *buf, struct csv_field *f, const char **why)
{
	size_t i = 0, o = 0;
	int nf = 0;

	for (;;) {
		size_t start;

		while (line[i] == ' ')
			i++;
		start = o;
		if (line[i] == '"') {
			i++;
			for (;;) {
				if (!line[i]) {
					*why = "unterminated quoted field";
					return -1;
				}
				if (line[i] == '"') {
					if (line[i + 1] != '"')
						break;
					i++;
				}
				buf[o++] = line[i++];
			}
			i++;
			while (line[i] == ' ')
				i++;
			if (line[i] && !strchr(",;\t#", line[i])) {
				*why = "text after a closing quote";
				return -1;
			}
		} else {
			while (line[i] && !strchr(",;\t#", line[i]))
				buf[o++] = line[i++];
			while (o > start && buf[o - 1] == ' ')
				o--;
		}
		if (nf == MAC_FILE_FIELDS) {
			*why = "too many fields";
			return -1;
		}
		f[nf].s = buf + start;
		f[nf].len = o - start;
		nf++;
		buf[o++] = '\0';
		if (line[i] == '\0' || line[i] == '#')
			return nf;
		i++;
	}
}

/* A header row: no field is a MAC, and one says which column holds them. */
static bool header_row(const struct csv_field *f, int nf, uint64_t *mac_cols)
{
	uint8_t mac[6];
	uint64_t cols = 0;
	int j;

	for (j = 0; j < nf; j++) {
		if (capwap_mac_parse(f[j].s, f[j].len, mac))
			return false;
		if (strcasestr(f[j].s, "mac"))
			cols |= UINT64_C(1) << j;
	}
	*mac_cols = cols;
	return cols != 0;
}

bool cfg_parse_mac_file(const char *path, uint8_t (**macs)[6], size_t *n,
			struct cfg_errors *errs)
{
	struct csv_field f[MAC_FILE_FIELDS];
	char *line = NULL, *buf = NULL, q[96];
	size_t lcap = 0, cap = *n;
	unsigned lineno = 0;
	uint64_t mac_cols = 0;     /* from a header; 0: every field is a MAC */
	bool ok = true, first = true;
	ssize_t len;
	FILE *fp;

	fp = fopen(path, "re");
	if (!fp) {
		cfg_err(errs, "%s: %s", path, strerror(errno));
		return false;
	}
	/* Unquoted text never grows; each field adds one NUL. */
	buf = malloc(MAC_FILE_LINE_MAX + MAC_FILE_FIELDS + 1);
	if (!buf) {
		cfg_err(errs, "%s: out of memory", path);
		fclose(fp);
		return false;
	}
	while ((len = getline(&line, &lcap, fp)) >= 0) {
		const char *p = line, *why = NULL;
		int nf, j;

		lineno++;
		if (memchr(line, '\0', (size_t)len)) {
			cfg_err(errs, "%s:%u: NUL byte: not a text file", path, lineno);
			ok = false;
			break;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (lineno == 1 && !strncmp(p, "\xef\xbb\xbf", 3))
			p += 3;
		if (strlen(p) > MAC_FILE_LINE_MAX) {
			cfg_err(errs, "%s:%u: line longer than %d bytes", path, lineno,
				MAC_FILE_LINE_MAX);
			ok = false;
			continue;
		}
		nf = split_fields(p, buf, f, &why);
		if (nf < 0) {
			cfg_err(errs, "%s:%u: %s", path, lineno, why);
			ok = false;
			continue;
		}
		if (nf == 1 && f[0].len == 0)
			continue;  /* blank or comment */
		if (first) {
			first = false;
			if (header_row(f, nf, &mac_cols))
				continue;
		}
		for (j = 0; j < nf; j++) {
			uint8_t mac[6];
			const char *bad;

			if (mac_cols && (j >= 64 || !(mac_cols & (UINT64_C(1) << j))))
				continue;
			/* Trailing separators are common; a hole in the MAC column is not. */
			if (f[j].len == 0 && !mac_cols)
				continue;
			cfg_quote(q, sizeof(q), f[j].s, f[j].len);
			if (f[j].len == 0 || !capwap_mac_parse(f[j].s, f[j].len, mac)) {
				cfg_err(errs, "%s:%u:%d: not a MAC address: %s", path, lineno,
					j + 1, q);
				ok = false;
				continue;
			}
			if ((bad = cfg_mac_unusable(mac))) {
				cfg_err(errs, "%s:%u:%d: %s is %s, not an AP's", path, lineno,
					j + 1, q, bad);
				ok = false;
				continue;
			}
			if (!cfg_mac_append(macs, n, &cap, mac)) {
				cfg_err(errs, "%s: out of memory", path);
				ok = false;
				goto out;
			}
		}
	}
	if (ferror(fp)) {
		cfg_err(errs, "%s: %s", path, strerror(errno));
		ok = false;
	}
out:
	free(line);
	free(buf);
	fclose(fp);
	return ok;
}
