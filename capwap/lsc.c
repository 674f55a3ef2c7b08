/*
 * lsc.c — bodies of the Cisco LSC payloads behind VSP 37 → 104 → 63/64:
 * lscd's own sub-TLV format, version 1 (§3.2). The envelope is written by
 * elements.c; this file owns only what follows the inner id.
 *
 * Rules (§3.2): Version is the first sub-TLV and equals 1; unknown sub-types
 * are skipped; a duplicate of a (singular) known sub-type or a length that
 * overruns the body invalidates the whole body.
 */
#include <stddef.h>
#include <string.h>

#include "capwap/capwap_int.h"

enum sub_kind {
	SUB_U8,
	SUB_U16,
	SUB_U32,
	SUB_BYTES,       /* opaque (DER) */
	SUB_UTF8,        /* UTF-8 text, no NUL */
	SUB_IA5,         /* 7-bit text, no NUL */
};

struct sub_desc {
	uint16_t type;
	const char *name;
	enum sub_kind kind;
	uint16_t min_len, max_len;
	size_t offset;           /* of the field in the decoded struct */
};

#define MAX_BODY_SUB 16      /* bit width of the seen-masks below */

static const struct sub_desc params_subs[] = {
	{ 1, "Version", SUB_U8, 1, 1, offsetof(struct capwap_lsc_params, version) },
	{ 2, "Country", SUB_IA5, 2, 2, offsetof(struct capwap_lsc_params, country) },
	{ 3, "State", SUB_UTF8, 1, 128, offsetof(struct capwap_lsc_params, state) },
	{ 4, "City", SUB_UTF8, 1, 128, offsetof(struct capwap_lsc_params, city) },
	{ 5, "Organization", SUB_UTF8, 1, 64, offsetof(struct capwap_lsc_params, organization) },
	{ 6, "Department", SUB_UTF8, 1, 64, offsetof(struct capwap_lsc_params, department) },
	{ 7, "E-mail", SUB_IA5, 1, 128, offsetof(struct capwap_lsc_params, email) },
	{ 8, "Key size", SUB_U16, 2, 2, offsetof(struct capwap_lsc_params, key_size) },
	{ 9, "Join attempts", SUB_U8, 1, 1, offsetof(struct capwap_lsc_params, join_attempts) },
	{ 10, "Key algorithm", SUB_U8, 1, 1, offsetof(struct capwap_lsc_params, key_algo) },
	{ 11, "Transaction ID", SUB_U32, 4, 4, offsetof(struct capwap_lsc_params, txid) },
};

static const struct sub_desc cert_subs[] = {
	{ 1, "Version", SUB_U8, 1, 1, offsetof(struct capwap_lsc_cert, version) },
	{ 2, "Operation", SUB_U8, 1, 1, offsetof(struct capwap_lsc_cert, op) },
	{ 3, "Transaction ID", SUB_U32, 4, 4, offsetof(struct capwap_lsc_cert, txid) },
	{ 4, "Object", SUB_BYTES, 1, 0xffff, offsetof(struct capwap_lsc_cert, object) },
	{ 5, "Failure reason", SUB_U32, 4, 4, offsetof(struct capwap_lsc_cert, fail_reason) },
	{ 6, "Chain index", SUB_U8, 1, 1, offsetof(struct capwap_lsc_cert, chain_index) },
};

#define N_SUBS(a) (sizeof(a) / sizeof(a[0]))
#define BIT(t) (1u << (t))

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF,
 * and no NUL, since these become certificate subject fields. */
static bool utf8_ok(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i];
		size_t n, k;
		uint32_t cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static bool ia5_ok(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] == 0 || p[i] >= 0x80)
			return false;
	return true;
}

static bool letter(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Check the value of one text/bytes field against its descriptor. An empty
 * optional field means "absent" and is fine. */
static enum capwap_status check_field(const char *body, const struct sub_desc *sd,
				      const struct capwap_bytes *b,
				      struct capwap_error *err)
{
	if (b->len == 0)
		return CAPWAP_OK;
	if (b->ptr == NULL)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s: %s (%u) has a NULL value", body, sd->name, sd->type);
	if (b->len < sd->min_len || b->len > sd->max_len)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s: %s (%u) length %zu, must be %u..%u",
				   body, sd->name, sd->type, b->len, sd->min_len, sd->max_len);
	if (sd->kind == SUB_UTF8 && !utf8_ok(b->ptr, b->len))
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s: %s (%u) is not valid UTF-8 text",
				   body, sd->name, sd->type);
	if (sd->kind == SUB_IA5 && !ia5_ok(b->ptr, b->len))
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s: %s (%u) is not 7-bit text",
				   body, sd->name, sd->type);
	return CAPWAP_OK;
}

/*
 * Walk a body into dst using the descriptor table; *seen gets one bit per
 * known sub-type found. Checks the framing rules; the per-payload rules
 * (required fields, value ranges) are the caller's.
 */
static enum capwap_status walk_body(const char *body, const uint8_t *buf, size_t len,
				    const struct sub_desc *subs, size_t n_subs,
				    void *dst, uint32_t *seen,
				    struct capwap_error *err)
{
	struct capwap_reader r;
	bool first = true;
	enum capwap_status st;
	size_t i;

	*seen = 0;
	capwap_reader_init(&r, buf, len);
	if (len == 0)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s: empty body, Version (1) missing", body);
	while (capwap_reader_left(&r) > 0) {
		const struct sub_desc *sd = NULL;
		size_t at = r.off;
		uint16_t type;
		struct capwap_bytes v;
		uint8_t *field;

		st = capwap_read_tlv16(&r, body, &type, &v, err);
		if (st != CAPWAP_OK)
			return st;
		if (first && type != 1)
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s: first sub-TLV is type %u, must be Version (1)",
					   body, type);
		first = false;
		if (type == 0)
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s: sub-TLV type 0 (reserved) at offset %zu",
					   body, at);
		for (i = 0; i < n_subs; i++)
			if (subs[i].type == type)
				sd = &subs[i];
		if (sd == NULL)
			continue;	/* a later version's field: skipped */
		if (*seen & BIT(type))
			return capwap_fail(err, CAPWAP_ERR_DUPLICATE,
					   "%s: %s (%u) appears twice",
					   body, sd->name, type);
		*seen |= BIT(type);
		if (sd->min_len == sd->max_len && v.len != sd->min_len)
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s: %s (%u) length %zu, must be %u",
					   body, sd->name, type, v.len, sd->min_len);
		if (v.len < sd->min_len || v.len > sd->max_len)
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s: %s (%u) length %zu, must be %u..%u",
					   body, sd->name, type, v.len, sd->min_len,
					   sd->max_len);
		field = (uint8_t *)dst + sd->offset;
		switch (sd->kind) {
		case SUB_U8:
			*field = v.ptr[0];
			break;
		case SUB_U16: {
			uint16_t x = capwap_load_be16(v.ptr);

			memcpy(field, &x, sizeof(x));
			break;
		}
		case SUB_U32: {
			uint32_t x = capwap_load_be32(v.ptr);

			memcpy(field, &x, sizeof(x));
			break;
		}
		case SUB_BYTES:
		case SUB_UTF8:
		case SUB_IA5:
			st = check_field(body, sd, &v, err);
			if (st != CAPWAP_OK)
				return st;
			memcpy(field, &v, sizeof(v));
			break;
		}
		if (type == 1 && v.ptr[0] != 1)
			return capwap_fail(err, CAPWAP_ERR_UNSUPPORTED,
					   "%s: Version %u, only 1 is spoken",
					   body, v.ptr[0]);
	}
	return CAPWAP_OK;
}

static enum capwap_status require(const char *body, uint32_t seen,
				  const struct sub_desc *subs, size_t n_subs,
				  uint16_t type, const char *why,
				  struct capwap_error *err)
{
	size_t i;

	if (seen & BIT(type))
		return CAPWAP_OK;
	for (i = 0; i < n_subs; i++)
		if (subs[i].type == type)
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s: %s (%u) missing%s", body,
					   subs[i].name, type, why);
	return capwap_fail(err, CAPWAP_ERR_MALFORMED, "%s: sub-TLV %u missing",
			   body, type);
}

/* ------------------------------------------------------------------------
 * 63: certificate parameters
 * ------------------------------------------------------------------------ */

static const char params_body[] = "LSC parameters (104/63)";
static const char cert_body[] = "LSC certificate payload (104/64)";

enum capwap_status capwap_lsc_params_validate(const struct capwap_lsc_params *p,
					      struct capwap_error *err)
{
	const struct capwap_bytes *texts[] = {
		&p->state, &p->city, &p->organization, &p->department, &p->email,
	};
	enum capwap_status st;
	size_t i;

	if (p->country.len != 2 || p->country.ptr == NULL ||
	    !letter(p->country.ptr[0]) || !letter(p->country.ptr[1]))
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s: Country (2) must be exactly 2 ASCII letters (got %zu bytes)",
				   params_body, p->country.len);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		st = check_field(params_body, &params_subs[2 + i], texts[i], err);
		if (st != CAPWAP_OK)
			return st;
	}
	switch (p->key_algo) {
	case 0:
	case CAPWAP_LSC_KEY_RSA:
		if (p->key_size != 2048 && p->key_size != 3072 &&
		    p->key_size != 4096)
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s: RSA key size %u, must be 2048, 3072 or 4096",
					   params_body, p->key_size);
		break;
	case CAPWAP_LSC_KEY_EC_P256:
	case CAPWAP_LSC_KEY_EC_P384:
		if (p->key_size != (p->key_algo == CAPWAP_LSC_KEY_EC_P256 ? 256 : 384))
			return capwap_fail(err, CAPWAP_ERR_MALFORMED,
					   "%s: key size %u does not match EC P-%u",
					   params_body, p->key_size,
					   p->key_algo == CAPWAP_LSC_KEY_EC_P256 ? 256u : 384u);
		break;
	default:
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s: Key algorithm %u, must be 1 (RSA), 2 (P-256) or 3 (P-384)",
				   params_body, p->key_algo);
	}
	return CAPWAP_OK;
}

enum capwap_status capwap_lsc_params_decode(const uint8_t *body, size_t len,
					    struct capwap_lsc_params *p,
					    struct capwap_error *err)
{
	static const uint16_t required[] = { 2, 8, 9, 11 };
	enum capwap_status st;
	uint32_t seen;
	size_t i;

	memset(p, 0, sizeof(*p));
	st = walk_body(params_body, body, len, params_subs, N_SUBS(params_subs),
		       p, &seen, err);
	if (st != CAPWAP_OK)
		return st;
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		st = require(params_body, seen, params_subs, N_SUBS(params_subs),
			     required[i], "", err);
		if (st != CAPWAP_OK)
			return st;
	}
	if (!(seen & BIT(10)))
		p->key_algo = CAPWAP_LSC_KEY_RSA;	/* §3.2 default */
	else if (p->key_algo == 0)	/* 0 means "absent" only to the encoder */
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s: Key algorithm 0, must be 1 (RSA), 2 (P-256) or 3 (P-384)",
				   params_body);
	return capwap_lsc_params_validate(p, err);
}

static void put_sub_bytes(struct capwap_writer *w, uint16_t type,
			  const struct capwap_bytes *b)
{
	capwap_put_be16(w, type);
	capwap_put_be16(w, (uint16_t)b->len);
	capwap_put_data(w, b->ptr, b->len);
}

static void put_sub_u8(struct capwap_writer *w, uint16_t type, uint8_t v)
{
	capwap_put_be16(w, type);
	capwap_put_be16(w, 1);
	capwap_put_u8(w, v);
}

static void put_sub_u32(struct capwap_writer *w, uint16_t type, uint32_t v)
{
	capwap_put_be16(w, type);
	capwap_put_be16(w, 4);
	capwap_put_be32(w, v);
}

enum capwap_status capwap_lsc_params_encode(struct capwap_writer *w,
					    const struct capwap_lsc_params *p)
{
	const struct capwap_bytes *texts[] = {
		&p->state, &p->city, &p->organization, &p->department, &p->email,
	};
	size_t i;

	if (capwap_lsc_params_validate(p, NULL) != CAPWAP_OK)
		return CAPWAP_ERR_MALFORMED;
	/* Only version 1 exists; the field is written whatever p says. */
	put_sub_u8(w, 1, 1);
	put_sub_bytes(w, 2, &p->country);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i]->len > 0)
			put_sub_bytes(w, (uint16_t)(3 + i), texts[i]);
	capwap_put_be16(w, 8);
	capwap_put_be16(w, 2);
	capwap_put_be16(w, p->key_size);
	put_sub_u8(w, 9, p->join_attempts);
	if (p->key_algo != 0)
		put_sub_u8(w, 10, p->key_algo);
	put_sub_u32(w, 11, p->txid);
	return w->overflow ? CAPWAP_ERR_NOSPACE : CAPWAP_OK;
}

/* ------------------------------------------------------------------------
 * 64: LSC certificate payload
 * ------------------------------------------------------------------------ */

enum capwap_status capwap_lsc_cert_validate(const struct capwap_lsc_cert *c,
					    struct capwap_error *err)
{
	if (c->op < CAPWAP_LSC_OP_CSR || c->op > CAPWAP_LSC_OP_ENROLL_FAILED)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s: Operation %u, must be 1..5", cert_body, c->op);
	if (c->object.len > 0xffff || (c->object.len > 0 && c->object.ptr == NULL))
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s: Object of %zu bytes cannot be encoded",
				   cert_body, c->object.len);
	if ((c->op == CAPWAP_LSC_OP_CSR || c->op == CAPWAP_LSC_OP_ROOT_CERT ||
	     c->op == CAPWAP_LSC_OP_DEVICE_CERT) && c->object.len == 0)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s: Object (4) missing, operation %u carries one",
				   cert_body, c->op);
	if (c->op == CAPWAP_LSC_OP_ENROLL_FAILED && c->fail_reason == 0)
		return capwap_fail(err, CAPWAP_ERR_MALFORMED,
				   "%s: Failure reason (5) missing or 0 for ENROLL_FAILED",
				   cert_body);
	return CAPWAP_OK;
}

enum capwap_status capwap_lsc_cert_decode(const uint8_t *body, size_t len,
					  struct capwap_lsc_cert *c,
					  struct capwap_error *err)
{
	enum capwap_status st;
	uint32_t seen;

	memset(c, 0, sizeof(*c));
	st = walk_body(cert_body, body, len, cert_subs, N_SUBS(cert_subs),
		       c, &seen, err);
	if (st != CAPWAP_OK)
		return st;
	st = require(cert_body, seen, cert_subs, N_SUBS(cert_subs), 2, "", err);
	if (st == CAPWAP_OK)
		st = require(cert_body, seen, cert_subs, N_SUBS(cert_subs), 3, "", err);
	if (st == CAPWAP_OK && c->op == CAPWAP_LSC_OP_ENROLL_FAILED)
		st = require(cert_body, seen, cert_subs, N_SUBS(cert_subs), 5,
			     " (ENROLL_FAILED)", err);
	if (st != CAPWAP_OK)
		return st;
	return capwap_lsc_cert_validate(c, err);
}

enum capwap_status capwap_lsc_cert_encode(struct capwap_writer *w,
					  const struct capwap_lsc_cert *c)
{
	if (capwap_lsc_cert_validate(c, NULL) != CAPWAP_OK)
		return CAPWAP_ERR_MALFORMED;
	put_sub_u8(w, 1, 1);
	put_sub_u8(w, 2, c->op);
	put_sub_u32(w, 3, c->txid);
	if (c->op == CAPWAP_LSC_OP_ROOT_CERT)
		put_sub_u8(w, 6, c->chain_index);
	if (c->op == CAPWAP_LSC_OP_ENROLL_FAILED)
		put_sub_u32(w, 5, c->fail_reason);
	/* The object last, so a body cut anywhere lacks a required field. */
	if (c->object.len > 0)
		put_sub_bytes(w, 4, &c->object);
	return w->overflow ? CAPWAP_ERR_NOSPACE : CAPWAP_OK;
}
