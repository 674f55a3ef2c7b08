/*
 * pki/subject.c - LDAP-style subject strings <-> struct pki_subject <-> X509_NAME.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/objects.h>

#include "pki/pki_int.h"

struct field {
	const char *names[4];	/* accepted spellings, first one is canonical */
	size_t off;
	size_t max;		/* X.520 upper bound in characters */
	int nid;
};

static const struct field fields[] = {
	{ { "C", NULL }, offsetof(struct pki_subject, c), 2, NID_countryName },
	{ { "ST", "S", NULL }, offsetof(struct pki_subject, st), 128,
	  NID_stateOrProvinceName },
	{ { "L", NULL }, offsetof(struct pki_subject, l), 128, NID_localityName },
	{ { "O", NULL }, offsetof(struct pki_subject, o), 64, NID_organizationName },
	{ { "OU", NULL }, offsetof(struct pki_subject, ou), 64,
	  NID_organizationalUnitName },
	{ { "CN", NULL }, offsetof(struct pki_subject, cn), 64, NID_commonName },
	{ { "E", "EMAIL", "EMAILADDRESS", NULL }, offsetof(struct pki_subject, email),
	  128, NID_pkcs9_emailAddress },
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static char *field_ptr(struct pki_subject *s, const struct field *f)
{
	return (char *)s + f->off;
}

static const char *field_cptr(const struct pki_subject *s, const struct field *f)
{
	return (const char *)s + f->off;
}

static const struct field *field_by_name(const char *name)
{
	size_t i, j;

	for (i = 0; i < NFIELDS; i++)
		for (j = 0; fields[i].names[j]; j++)
			if (!strcasecmp(name, fields[i].names[j]))
				return &fields[i];
	return NULL;
}

static void trim(char *s)
{
	size_t n = strlen(s), b = 0;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)s[b]))
		b++;
	memmove(s, s + b, n - b + 1);
}

static int check_value(const struct field *f, const char *v, unsigned idx,
		       const char *comp, struct pki_error *err)
{
	const char *p;

	if (!*v) {
		pki_err_set(err, PKI_ERR_PARSE,
			    "subject component %u '%s': empty value", idx, comp);
		return -1;
	}
	for (p = v; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			pki_err_set(err, PKI_ERR_PARSE,
				    "subject component %u '%s': control character",
				    idx, comp);
			return -1;
		}
	}
	if (f->nid == NID_countryName &&
	    (strlen(v) != 2 || !isalpha((unsigned char)v[0]) ||
	     !isalpha((unsigned char)v[1]))) {
		pki_err_set(err, PKI_ERR_PARSE,
			    "subject component %u '%s': country must be two letters",
			    idx, comp);
		return -1;
	}
	/* Bytes, not characters: the fields are fixed-size UTF-8 buffers. */
	if (strlen(v) > f->max) {
		pki_err_set(err, PKI_ERR_PARSE,
			    "subject component %u '%s': longer than %zu bytes",
			    idx, comp, f->max);
		return -1;
	}
	return 0;
}

int pki_subject_parse(const char *text, struct pki_subject *subj,
		      struct pki_error *err)
{
	char comp[512];
	const char *p = text;
	unsigned idx = 0;
	bool any = false;

	memset(subj, 0, sizeof(*subj));
	if (!text) {
		pki_err_set(err, PKI_ERR_PARSE, "subject: missing");
		return -1;
	}
	for (;;) {
		size_t n = 0;
		char *eq;
		const struct field *f;
		bool overflow = false;

		idx++;
		/* Collect one component up to an unescaped ',' or the end. */
		while (*p && *p != ',') {
			char c = *p++;

			if (c == '\\' && *p)
				c = *p++;
			if (n + 1 < sizeof(comp))
				comp[n++] = c;
			else
				overflow = true;
		}
		comp[n] = '\0';
		if (overflow) {
			pki_err_set(err, PKI_ERR_PARSE,
				    "subject component %u: too long", idx);
			return -1;
		}
		trim(comp);
		if (!comp[0]) {
			if (!*p && idx == 1) {
				pki_err_set(err, PKI_ERR_PARSE, "subject: empty");
				return -1;
			}
			pki_err_set(err, PKI_ERR_PARSE,
				    "subject component %u: empty (stray ',')", idx);
			return -1;
		}
		eq = strchr(comp, '=');
		if (!eq) {
			pki_err_set(err, PKI_ERR_PARSE,
				    "subject component %u '%.64s': expected NAME=value",
				    idx, comp);
			return -1;
		}
		*eq = '\0';
		trim(comp);
		trim(eq + 1);
		f = field_by_name(comp);
		if (!f) {
			pki_err_set(err, PKI_ERR_PARSE,
				    "subject component %u: unknown attribute '%.32s' (use C, ST, L, O, OU, CN, E)",
				    idx, comp);
			return -1;
		}
		if (field_ptr(subj, f)[0]) {
			pki_err_set(err, PKI_ERR_PARSE,
				    "subject component %u: %s given twice", idx,
				    f->names[0]);
			return -1;
		}
		if (check_value(f, eq + 1, idx, f->names[0], err) < 0)
			return -1;
		/* check_value() bounded the length by the field's size. */
		strcpy(field_ptr(subj, f), eq + 1);
		any = true;
		if (!*p)
			break;
		p++;
	}
	return any ? 0 : -1;
}

int pki_subject_format(const struct pki_subject *subj, char *out, size_t outsz)
{
	size_t n = 0, i;

	if (!outsz)
		return -1;
	out[0] = '\0';
	for (i = 0; i < NFIELDS; i++) {
		const char *v = field_cptr(subj, &fields[i]);
		int w;

		if (!v[0])
			continue;
		w = snprintf(out + n, outsz - n, "%s%s=", n ? "," : "",
			     fields[i].names[0]);
		if (w < 0 || (size_t)w >= outsz - n)
			return -1;
		n += (size_t)w;
		for (; *v; v++) {
			if (*v == ',' || *v == '\\') {
				if (n + 1 >= outsz)
					return -1;
				out[n++] = '\\';
			}
			if (n + 1 >= outsz)
				return -1;
			out[n++] = *v;
		}
		out[n] = '\0';
	}
	return 0;
}

X509_NAME *pki_subject_to_name(const struct pki_subject *subj,
			       struct pki_error *err)
{
	X509_NAME *nm = X509_NAME_new();
	size_t i;
	bool any = false;

	if (!nm) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	/* DER order is most general first: C, ST, L, O, OU, CN, E. */
	for (i = 0; i < NFIELDS; i++) {
		const char *v = field_cptr(subj, &fields[i]);

		if (!v[0])
			continue;
		if (!X509_NAME_add_entry_by_NID(nm, fields[i].nid, MBSTRING_UTF8,
						(const unsigned char *)v, -1, -1, 0)) {
			pki_err_ossl(err, PKI_ERR_PARSE, "subject %s='%.64s' rejected",
				     fields[i].names[0], v);
			X509_NAME_free(nm);
			return NULL;
		}
		any = true;
	}
	if (!any) {
		pki_err_set(err, PKI_ERR_PARSE, "subject: empty");
		X509_NAME_free(nm);
		return NULL;
	}
	return nm;
}
