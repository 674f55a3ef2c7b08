/*
 * capwap_int.h — declarations shared by the files of capwap/ and by nothing
 * else: the bounded reader, the error helper, and the element and message
 * descriptor tables the codec is driven by.
 */
#ifndef LSCD_CAPWAP_INT_H
#define LSCD_CAPWAP_INT_H

#include <string.h>

#include "capwap/capwap.h"

/* ------------------------------------------------------------------------
 * Bounded reader: every get checks what is left first and fails without
 * moving when the bytes are not there, so a parser cannot run past its
 * parent's end however the lengths lie.
 * ------------------------------------------------------------------------ */

struct capwap_reader {
	const uint8_t *buf;
	size_t len;
	size_t off;
};

static inline void capwap_reader_init(struct capwap_reader *r,
				      const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->off = 0;
}

static inline size_t capwap_reader_left(const struct capwap_reader *r)
{
	return r->len - r->off;
}

static inline bool capwap_get_u8(struct capwap_reader *r, uint8_t *v)
{
	if (capwap_reader_left(r) < 1)
		return false;
	*v = r->buf[r->off++];
	return true;
}

static inline bool capwap_get_be16(struct capwap_reader *r, uint16_t *v)
{
	if (capwap_reader_left(r) < 2)
		return false;
	*v = (uint16_t)((r->buf[r->off] << 8) | r->buf[r->off + 1]);
	r->off += 2;
	return true;
}

static inline bool capwap_get_be32(struct capwap_reader *r, uint32_t *v)
{
	if (capwap_reader_left(r) < 4)
		return false;
	*v = ((uint32_t)r->buf[r->off] << 24) |
	     ((uint32_t)r->buf[r->off + 1] << 16) |
	     ((uint32_t)r->buf[r->off + 2] << 8) |
	     (uint32_t)r->buf[r->off + 3];
	r->off += 4;
	return true;
}

/* A view of the next n bytes (no copy). */
static inline bool capwap_get_bytes(struct capwap_reader *r, size_t n,
				    struct capwap_bytes *out)
{
	if (capwap_reader_left(r) < n)
		return false;
	out->ptr = r->buf + r->off;
	out->len = n;
	r->off += n;
	return true;
}

static inline bool capwap_get_copy(struct capwap_reader *r, void *dst, size_t n)
{
	if (capwap_reader_left(r) < n)
		return false;
	memcpy(dst, r->buf + r->off, n);
	r->off += n;
	return true;
}

static inline uint16_t capwap_load_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t capwap_load_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/*
 * Read one {type 16, length 16, value} TLV, the layout of message elements,
 * Board Data sub-elements and LSC sub-TLVs. `what` names the container in
 * the reason ("WTP Board Data", "LSC parameters").
 */
enum capwap_status capwap_read_tlv16(struct capwap_reader *r, const char *what,
				     uint16_t *type, struct capwap_bytes *value,
				     struct capwap_error *err);

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* Record status and reason in err (which may be NULL) and return status. */
enum capwap_status capwap_fail(struct capwap_error *err,
			       enum capwap_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Clear err to CAPWAP_OK with an empty reason. */
void capwap_error_clear(struct capwap_error *err);

/* ------------------------------------------------------------------------
 * Writer helpers
 * ------------------------------------------------------------------------ */

/* Overwrite a big-endian 16-bit value already written at off (length
 * fix-ups). Does nothing if off is past what was written. */
void capwap_patch_be16(struct capwap_writer *w, size_t off, uint16_t v);

/* ------------------------------------------------------------------------
 * Element descriptors (elements.c)
 * ------------------------------------------------------------------------ */

#define CAPWAP_ELEM_TABLE_MAX    256  /* bound for per-message seen-bitmaps */
#define CAPWAP_ELEM_F_REPEATABLE 0x01 /* may appear more than once */
#define CAPWAP_ELEM_F_BINDING    0x02 /* an IEEE 802.11 binding element */

struct capwap_elem_desc {
	uint16_t type;
	const char *name;
	uint16_t min_len;
	uint16_t max_len;         /* equal to min_len for fixed-size elements */
	uint8_t flags;
	/* Fill the typed field of m from one element value; NULL for elements
	 * this codec keeps raw only (known RFC types, Cisco 42/43). */
	enum capwap_status (*decode)(struct capwap_message *m,
				     const struct capwap_elem_desc *d,
				     const uint8_t *v, size_t len,
				     struct capwap_error *err);
	/* Write every instance of the typed field as complete TLVs; NULL when
	 * there is no typed field. */
	enum capwap_status (*encode)(struct capwap_writer *w,
				     const struct capwap_message *m,
				     const struct capwap_elem_desc *d,
				     struct capwap_error *err);
};

/* The descriptor for type, or NULL when the codec does not know the type. */
const struct capwap_elem_desc *capwap_elem_desc_find(uint16_t type);

/* Index of d in the table, for per-message seen-bitmaps. */
size_t capwap_elem_desc_index(const struct capwap_elem_desc *d);

/* Check an element value length against d's bounds; the reason names the
 * element and both numbers. */
enum capwap_status capwap_elem_check_len(const struct capwap_elem_desc *d,
					 size_t len, struct capwap_error *err);

/* Write every present typed element of m, in table order. */
enum capwap_status capwap_elems_encode(struct capwap_writer *w,
				       const struct capwap_message *m,
				       struct capwap_error *err);

/* True when the message holds an element of this type, typed or raw. */
bool capwap_message_has_elem(const struct capwap_message *m, uint16_t type);

/* ------------------------------------------------------------------------
 * Message descriptors (message.c)
 * ------------------------------------------------------------------------ */

/* One mandatory requirement: satisfied when any of the listed types is
 * present (a single type is a plain MUST), or, with binding set, when any
 * IEEE 802.11 binding element is. */
struct capwap_requirement {
	const char *what;
	uint16_t any_of[16];
	bool binding;
};

struct capwap_msg_desc {
	uint32_t type;
	const char *name;
	const struct capwap_requirement *required;
	size_t n_required;
};

/* The descriptor of a supported message type, or NULL. */
const struct capwap_msg_desc *capwap_msg_desc_find(uint32_t type);

/* Check m against its message type's mandatory elements. */
enum capwap_status capwap_check_mandatory(const struct capwap_message *m,
					  struct capwap_error *err);

/* ------------------------------------------------------------------------
 * Cisco LSC bodies (lsc.c): the checks the encoders and the message encoder
 * share, with a reason.
 * ------------------------------------------------------------------------ */

enum capwap_status capwap_lsc_params_validate(const struct capwap_lsc_params *p,
					      struct capwap_error *err);
enum capwap_status capwap_lsc_cert_validate(const struct capwap_lsc_cert *c,
					    struct capwap_error *err);

/* ------------------------------------------------------------------------
 * Headers (wire.c)
 * ------------------------------------------------------------------------ */

#define CAPWAP_HEADER_MAX   (31 * 4)  /* HLEN is 5 bits of 4-byte words */
#define CAPWAP_CTRL_HDR_LEN 8
#define CAPWAP_FLAG_F       0x80      /* byte 3 of word 0 */
#define CAPWAP_FLAG_L       0x40
#define CAPWAP_FLAG_W       0x20
#define CAPWAP_FLAG_M       0x10
#define CAPWAP_FLAG_K       0x08

#endif /* LSCD_CAPWAP_INT_H */
