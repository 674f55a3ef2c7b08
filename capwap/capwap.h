/*
 * capwap.h — the CAPWAP control plane (RFC 5415/5416 as Cisco uses it) as a
 * library: bounded encode/decode of headers, message elements and the Cisco
 * LSC vendor payloads, fragmentation and reassembly, request/response
 * bookkeeping, and a DTLS transport that is free of I/O.
 *
 * The library has no global state and performs no I/O of its own: callers
 * hand it bytes and a monotonic time in milliseconds, and it hands bytes back.
 * Every decoder takes (const uint8_t *buf, size_t len), never reads outside
 * it, and reports failure as a status plus a human-readable reason.
 *
 * The wire contract is ../shared/spec/capwap-lsc.md; section numbers below
 * (§1.4, §3.2) refer to it.
 */
#ifndef LSCD_CAPWAP_H
#define LSCD_CAPWAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------
 * Status and errors
 * ------------------------------------------------------------------------ */

enum capwap_status {
	CAPWAP_OK = 0,
	CAPWAP_INCOMPLETE,        /* reassembly: more fragments needed */
	CAPWAP_ERR_TRUNCATED,     /* a length runs past the bytes present */
	CAPWAP_ERR_MALFORMED,     /* a field violates the format */
	CAPWAP_ERR_UNSUPPORTED,   /* version, preamble type or binding not spoken */
	CAPWAP_ERR_MISSING,       /* a mandatory message element is absent */
	CAPWAP_ERR_DUPLICATE,     /* a singular element appears twice */
	CAPWAP_ERR_UNKNOWN_ELEMENT, /* an element type this codec does not know */
	CAPWAP_ERR_LIMIT,         /* a bound (count, size, time) was exceeded */
	CAPWAP_ERR_FRAGMENT,      /* overlapping, duplicate or inconsistent fragment */
	CAPWAP_ERR_NOSPACE,       /* the encoder's output buffer is too small */
};

struct capwap_error {
	enum capwap_status status;
	char reason[160];         /* "WTP Board Data: sub-element 1 length 900 past end (12 left)" */
};

/* Stable short name of a status ("truncated", "malformed", ...). */
const char *capwap_status_name(enum capwap_status status);

/* ------------------------------------------------------------------------
 * Bounded output buffer
 *
 * Writers never write past cap. Running out of room sets a sticky overflow
 * flag; every encoder checks it once at the end and returns
 * CAPWAP_ERR_NOSPACE, so callers need not check each put.
 * ------------------------------------------------------------------------ */

struct capwap_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

void capwap_writer_init(struct capwap_writer *w, uint8_t *buf, size_t cap);
void capwap_put_u8(struct capwap_writer *w, uint8_t v);
void capwap_put_be16(struct capwap_writer *w, uint16_t v);
void capwap_put_be32(struct capwap_writer *w, uint32_t v);
void capwap_put_data(struct capwap_writer *w, const void *data, size_t len);

/* A view of bytes inside a decoded buffer (or, when encoding, in caller
 * memory). Never NUL-terminated; lives as long as the buffer it points into. */
struct capwap_bytes {
	const uint8_t *ptr;
	size_t len;
};

/* ------------------------------------------------------------------------
 * Constants (§1.3–§1.8, §2)
 * ------------------------------------------------------------------------ */

#define CAPWAP_CONTROL_PORT 5246
#define CAPWAP_PREAMBLE_HEADER 0x00     /* version 0, type 0: CAPWAP header follows */
#define CAPWAP_PREAMBLE_DTLS   0x01     /* version 0, type 1: CAPWAP DTLS header */
#define CAPWAP_DTLS_HEADER_LEN 4
#define CAPWAP_WBID_IEEE80211  1
#define CAPWAP_MIN_REASSEMBLY  4096     /* every receiver must accept this much */

/* Bounds that keep a hostile peer from inflating work or memory. */
#define CAPWAP_MAX_ELEMENTS    128      /* elements per message */
#define CAPWAP_MAX_RADIOS      31
#define CAPWAP_MAX_VSP         16       /* Vendor Specific Payloads per message */
#define CAPWAP_MAX_ENCRYPT     8        /* WTP Descriptor encryption entries kept */
#define CAPWAP_MAX_STRING      1024     /* names, locations, versions */

enum capwap_msg_type {
	CAPWAP_DISCOVERY_REQUEST = 1,
	CAPWAP_DISCOVERY_RESPONSE = 2,
	CAPWAP_JOIN_REQUEST = 3,
	CAPWAP_JOIN_RESPONSE = 4,
	CAPWAP_CONFIG_STATUS_REQUEST = 5,
	CAPWAP_CONFIG_STATUS_RESPONSE = 6,
	CAPWAP_CONFIG_UPDATE_REQUEST = 7,
	CAPWAP_CONFIG_UPDATE_RESPONSE = 8,
	CAPWAP_WTP_EVENT_REQUEST = 9,
	CAPWAP_WTP_EVENT_RESPONSE = 10,
	CAPWAP_CHANGE_STATE_REQUEST = 11,
	CAPWAP_CHANGE_STATE_RESPONSE = 12,
	CAPWAP_ECHO_REQUEST = 13,
	CAPWAP_ECHO_RESPONSE = 14,
	CAPWAP_RESET_REQUEST = 17,
	CAPWAP_RESET_RESPONSE = 18,
};

/* Name of a message type ("Join Request"), or "Unknown" for others. */
const char *capwap_msg_type_name(uint32_t type);

enum capwap_elem_type {
	CAPWAP_ELEM_AC_DESCRIPTOR = 1,
	CAPWAP_ELEM_AC_IPV4_LIST = 2,
	CAPWAP_ELEM_AC_IPV6_LIST = 3,
	CAPWAP_ELEM_AC_NAME = 4,
	CAPWAP_ELEM_AC_TIMESTAMP = 6,
	CAPWAP_ELEM_CONTROL_IPV4 = 10,
	CAPWAP_ELEM_CONTROL_IPV6 = 11,
	CAPWAP_ELEM_TIMERS = 12,
	CAPWAP_ELEM_DECRYPT_ERROR_PERIOD = 16,
	CAPWAP_ELEM_DISCOVERY_TYPE = 20,
	CAPWAP_ELEM_IDLE_TIMEOUT = 23,
	CAPWAP_ELEM_IMAGE_IDENTIFIER = 25,
	CAPWAP_ELEM_LOCATION_DATA = 28,
	CAPWAP_ELEM_MAX_MESSAGE_LENGTH = 29,
	CAPWAP_ELEM_LOCAL_IPV4 = 30,
	CAPWAP_ELEM_RADIO_ADMIN_STATE = 31,
	CAPWAP_ELEM_RADIO_OPER_STATE = 32,
	CAPWAP_ELEM_RESULT_CODE = 33,
	CAPWAP_ELEM_RETURNED_ELEMENT = 34,
	CAPWAP_ELEM_SESSION_ID = 35,
	CAPWAP_ELEM_STATISTICS_TIMER = 36,
	CAPWAP_ELEM_VENDOR_SPECIFIC = 37,
	CAPWAP_ELEM_WTP_BOARD_DATA = 38,
	CAPWAP_ELEM_WTP_DESCRIPTOR = 39,
	CAPWAP_ELEM_WTP_FALLBACK = 40,
	CAPWAP_ELEM_WTP_FRAME_TUNNEL_MODE = 41,
	CAPWAP_ELEM_CISCO_WTP_IPV4 = 42, /* Cisco draft-7 leftover, accepted and ignored */
	CAPWAP_ELEM_CISCO_WTP_IPV6 = 43, /* idem */
	CAPWAP_ELEM_WTP_MAC_TYPE = 44,
	CAPWAP_ELEM_WTP_NAME = 45,
	CAPWAP_ELEM_WTP_REBOOT_STATS = 48,
	CAPWAP_ELEM_LOCAL_IPV6 = 50,
	CAPWAP_ELEM_TRANSPORT_PROTOCOL = 51,
	CAPWAP_ELEM_MTU_DISCOVERY_PADDING = 52,
	CAPWAP_ELEM_ECN_SUPPORT = 53,
	CAPWAP_ELEM_IEEE80211_RADIO_INFO = 1048,
};

/* Name of an element type ("WTP Board Data"), or "Unknown". */
const char *capwap_elem_type_name(uint16_t type);

enum capwap_result_code {
	CAPWAP_RESULT_SUCCESS = 0,
	CAPWAP_RESULT_JOIN_FAILURE = 3,
	CAPWAP_RESULT_JOIN_RESOURCE = 4,
	CAPWAP_RESULT_JOIN_UNKNOWN_SOURCE = 5,
	CAPWAP_RESULT_JOIN_INCORRECT_DATA = 6,
	CAPWAP_RESULT_JOIN_SESSION_IN_USE = 7,
	CAPWAP_RESULT_CONFIG_FAILURE_SERVICE = 12,
	CAPWAP_RESULT_CONFIG_FAILURE = 13,
	CAPWAP_RESULT_UNEXPECTED_STATE = 18,
	CAPWAP_RESULT_UNRECOGNIZED_REQUEST = 19,
	CAPWAP_RESULT_MISSING_ELEMENT = 20,
	CAPWAP_RESULT_UNRECOGNIZED_ELEMENT = 21,
};

/* Cisco: vendor id 0x00409600 is hex (4232704), not an IANA PEN (§2.1). */
#define CAPWAP_VENDOR_CISCO         0x00409600u
#define CAPWAP_CISCO_SPAM_VENDOR    104 /* tunnelled LWAPP vendor element */
#define CAPWAP_CISCO_LSC_PARAMS     63  /* CERTIFICATE_PARAMETER_PAYLOAD */
#define CAPWAP_CISCO_LSC_CERT       64  /* LSC_CERTIFICATE_PAYLOAD */

/* ------------------------------------------------------------------------
 * Headers (§1.3–§1.5)
 * ------------------------------------------------------------------------ */

struct capwap_header {
	uint8_t radio_id;         /* RID, 0 on control messages */
	uint8_t wbid;             /* 1 = IEEE 802.11 */
	bool native_frame;        /* T */
	bool fragment;            /* F */
	bool last_fragment;       /* L */
	bool keepalive;           /* K */
	uint16_t frag_id;
	uint16_t frag_offset;     /* in 8-byte units */
	uint8_t radio_mac_len;    /* 0 (absent), 6 or 8: M flag */
	uint8_t radio_mac[8];
	struct capwap_bytes wireless_info; /* W flag when len > 0 */
};

/* Decode the CAPWAP header at buf (preamble type 0). On success *hlen is the
 * header length in bytes (HLEN × 4). */
enum capwap_status capwap_header_decode(const uint8_t *buf, size_t len,
					struct capwap_header *hdr, size_t *hlen,
					struct capwap_error *err);
enum capwap_status capwap_header_encode(struct capwap_writer *w,
					const struct capwap_header *hdr);

/* ------------------------------------------------------------------------
 * Message elements, typed
 * ------------------------------------------------------------------------ */

struct capwap_board_data {                 /* 38 */
	uint32_t vendor;
	struct capwap_bytes model;             /* sub-type 0, mandatory */
	struct capwap_bytes serial;            /* sub-type 1, mandatory */
	struct capwap_bytes board_id;          /* 2 */
	struct capwap_bytes board_revision;    /* 3 */
	bool has_base_mac;                     /* 4 */
	uint8_t base_mac[6];
};

struct capwap_descriptor_info {            /* a {vendor, type, value} sub-element */
	uint32_t vendor;
	struct capwap_bytes value;
};

struct capwap_wtp_descriptor {             /* 39, RFC layout */
	uint8_t max_radios;
	uint8_t radios_in_use;
	uint8_t n_encrypt;                     /* entries kept, at most CAPWAP_MAX_ENCRYPT */
	struct {
		uint8_t wbid;
		uint16_t capabilities;
	} encrypt[CAPWAP_MAX_ENCRYPT];
	struct capwap_descriptor_info hardware_version; /* type 0, mandatory */
	struct capwap_descriptor_info software_version; /* type 1, mandatory */
	struct capwap_descriptor_info boot_version;     /* type 2, mandatory */
	struct capwap_descriptor_info other_version;    /* type 3 */
};

#define CAPWAP_AC_SECURITY_PSK   0x04
#define CAPWAP_AC_SECURITY_X509  0x02
#define CAPWAP_AC_DTLS_DATA      0x04
#define CAPWAP_AC_CLEAR_DATA     0x02

struct capwap_ac_descriptor {              /* 1 */
	uint16_t stations;
	uint16_t station_limit;
	uint16_t active_wtps;
	uint16_t max_wtps;
	uint8_t security;
	uint8_t rmac;                          /* 1 supported, 2 not */
	uint8_t dtls_policy;
	struct capwap_descriptor_info hardware_version; /* AC info type 4 */
	struct capwap_descriptor_info software_version; /* AC info type 5 */
};

struct capwap_radio_info {                 /* 1048 */
	uint8_t radio_id;
	uint32_t radio_type;
};

struct capwap_radio_state {                /* 31 (cause unused) and 32 */
	uint8_t radio_id;                      /* 0 = the WTP itself (31 only) */
	uint8_t state;                         /* 1 enabled, 2 disabled */
	uint8_t cause;
};

struct capwap_timers {                     /* 12 */
	uint8_t discovery;                     /* seconds */
	uint8_t echo_request;                  /* seconds */
};

struct capwap_control_ipv4 {               /* 10 */
	uint8_t addr[4];
	uint16_t wtp_count;
};

struct capwap_control_ipv6 {               /* 11 */
	uint8_t addr[16];
	uint16_t wtp_count;
};

struct capwap_reboot_stats {               /* 48 */
	uint16_t reboot_count;
	uint16_t ac_initiated;
	uint16_t link_failure;
	uint16_t sw_failure;
	uint16_t hw_failure;
	uint16_t other_failure;
	uint16_t unknown_failure;
	uint8_t last_failure_type;
};

struct capwap_decrypt_error_period {       /* 16 */
	uint8_t radio_id;
	uint16_t interval;
};

struct capwap_image_identifier {           /* 25 */
	uint32_t vendor;
	struct capwap_bytes data;
};

struct capwap_returned_element {           /* 34 */
	uint8_t reason;                        /* 1 unknown element, 2 unsupported, ... */
	struct capwap_bytes element;           /* the offending TLV, at most 255 bytes */
};

struct capwap_vsp {                        /* 37, raw form */
	uint32_t vendor;
	uint16_t elem_id;
	struct capwap_bytes data;
};

/* Cisco 104 → 63, lscd body format version 1 (§3.2). */
enum capwap_lsc_key_algo {
	CAPWAP_LSC_KEY_RSA = 1,
	CAPWAP_LSC_KEY_EC_P256 = 2,
	CAPWAP_LSC_KEY_EC_P384 = 3,
};

struct capwap_lsc_params {
	uint8_t version;                       /* 1 */
	struct capwap_bytes country;           /* exactly 2 ASCII letters */
	struct capwap_bytes state;             /* optional: len 0 = absent */
	struct capwap_bytes city;
	struct capwap_bytes organization;
	struct capwap_bytes department;
	struct capwap_bytes email;
	uint16_t key_size;                     /* bits: 2048/3072/4096 (RSA), 256/384 (EC) */
	uint8_t join_attempts;                 /* 0 = never fall back to the MIC */
	uint8_t key_algo;                      /* enum capwap_lsc_key_algo */
	uint32_t txid;
};

/* Cisco 104 → 64, lscd body format version 1 (§3.2). */
enum capwap_lsc_op {
	CAPWAP_LSC_OP_CSR = 1,
	CAPWAP_LSC_OP_ENROLL_PENDING = 2,
	CAPWAP_LSC_OP_ROOT_CERT = 3,
	CAPWAP_LSC_OP_DEVICE_CERT = 4,
	CAPWAP_LSC_OP_ENROLL_FAILED = 5,
};

enum capwap_lsc_fail_reason {
	CAPWAP_LSC_FAIL_CA_REJECTED = 1,
	CAPWAP_LSC_FAIL_CA_TIMEOUT = 2,
	CAPWAP_LSC_FAIL_CSR_INVALID = 3,
	CAPWAP_LSC_FAIL_POLICY = 4,
};

struct capwap_lsc_cert {
	uint8_t version;                       /* 1 */
	uint8_t op;                            /* enum capwap_lsc_op */
	uint32_t txid;
	struct capwap_bytes object;            /* DER CSR (op 1) or certificate (3, 4) */
	uint32_t fail_reason;                  /* op 5 */
	uint8_t chain_index;                   /* op 3: 0 = root */
};

/* ------------------------------------------------------------------------
 * Messages
 *
 * One struct holds any control message: the transport header, the control
 * header, and every element lscd understands, each with a has_ flag. The
 * decoder fills it from bytes (views point into the input buffer); the
 * encoder writes the present elements in a canonical order. Both check the
 * message type's mandatory elements (§1.9).
 *
 * Cisco LSC payloads (VSP 37 → 104 → 63/64) are decoded into lsc_params /
 * lsc_cert and are not repeated in vsp[]; other VSPs are kept raw in vsp[].
 * ------------------------------------------------------------------------ */

struct capwap_elem {
	uint16_t type;
	uint16_t len;
	const uint8_t *value;
};

struct capwap_message {
	struct capwap_header hdr;
	uint32_t type;                         /* enum capwap_msg_type */
	uint8_t seq;
	bool ctrl_valid;                       /* type and seq were decoded (set even when
						  a later element fails, so a response
						  with a Result Code can still be sent) */

	bool has_ac_descriptor;        struct capwap_ac_descriptor ac_descriptor;
	bool has_ac_name;              struct capwap_bytes ac_name;
	uint8_t n_ac_ipv4;             uint8_t ac_ipv4[8][4];
	bool has_control_ipv4;         struct capwap_control_ipv4 control_ipv4;
	bool has_control_ipv6;         struct capwap_control_ipv6 control_ipv6;
	bool has_timers;               struct capwap_timers timers;
	bool has_decrypt_error_period; struct capwap_decrypt_error_period decrypt_error_period;
	bool has_discovery_type;       uint8_t discovery_type;
	bool has_idle_timeout;         uint32_t idle_timeout;
	bool has_image_identifier;     struct capwap_image_identifier image_identifier;
	bool has_location;             struct capwap_bytes location;
	bool has_max_message_length;   uint16_t max_message_length;
	bool has_local_ipv4;           uint8_t local_ipv4[4];
	bool has_local_ipv6;           uint8_t local_ipv6[16];
	uint8_t n_radio_admin;         struct capwap_radio_state radio_admin[CAPWAP_MAX_RADIOS + 1];
	uint8_t n_radio_oper;          struct capwap_radio_state radio_oper[CAPWAP_MAX_RADIOS];
	bool has_result_code;          uint32_t result_code;
	uint8_t n_returned;            struct capwap_returned_element returned[4];
	bool has_session_id;           uint8_t session_id[16];
	bool has_statistics_timer;     uint16_t statistics_timer;
	bool has_board_data;           struct capwap_board_data board_data;
	bool has_wtp_descriptor;       struct capwap_wtp_descriptor wtp_descriptor;
	bool has_wtp_fallback;         uint8_t wtp_fallback;
	bool has_frame_tunnel_mode;    uint8_t frame_tunnel_mode;
	bool has_mac_type;             uint8_t mac_type;
	bool has_wtp_name;             struct capwap_bytes wtp_name;
	bool has_reboot_stats;         struct capwap_reboot_stats reboot_stats;
	bool has_transport_protocol;   uint8_t transport_protocol;
	bool has_ecn_support;          uint8_t ecn_support;
	uint8_t n_radio_info;          struct capwap_radio_info radio_info[CAPWAP_MAX_RADIOS];
	uint8_t n_vsp;                 struct capwap_vsp vsp[CAPWAP_MAX_VSP];
	bool has_lsc_params;           struct capwap_lsc_params lsc_params;
	bool has_lsc_cert;             struct capwap_lsc_cert lsc_cert;

	/* Decode: every element in wire order (also the ones decoded above),
	 * including unknown ones. Encode: extra elements written verbatim after
	 * the typed ones (tests use this to build unusual messages). */
	uint16_t n_raw;
	struct capwap_elem raw[CAPWAP_MAX_ELEMENTS];
};

/* Zero a message and set its type and sequence number (hdr.wbid = 1). */
void capwap_message_init(struct capwap_message *m, uint32_t type, uint8_t seq);

/*
 * Decode one complete (not fragmented, or already reassembled) control
 * packet that starts with the CAPWAP header, preamble type 0. Views in *m
 * point into buf. Unknown element types fail with CAPWAP_ERR_UNKNOWN_ELEMENT
 * (except the Cisco draft-7 types 42/43 and unknown vendors' VSPs, which are
 * kept raw); the offending element is the last one in m->raw. Missing
 * mandatory elements fail with CAPWAP_ERR_MISSING and name the element.
 */
enum capwap_status capwap_decode(const uint8_t *buf, size_t len,
				 struct capwap_message *m,
				 struct capwap_error *err);

/* Encode m into w (header, control header with its length fixed up,
 * elements). Refuses a message lacking a mandatory element. */
enum capwap_status capwap_encode(struct capwap_writer *w,
				 const struct capwap_message *m,
				 struct capwap_error *err);

/* The response type for a request type (request + 1). */
static inline uint32_t capwap_response_type(uint32_t request_type)
{
	return request_type + 1;
}

static inline bool capwap_is_request(uint32_t type)
{
	return (type & 1) != 0;
}

/* ------------------------------------------------------------------------
 * Cisco LSC payload bodies (§3.2), for callers that need them alone (fuzzing,
 * tests). capwap_decode/encode already use these.
 * ------------------------------------------------------------------------ */

enum capwap_status capwap_lsc_params_decode(const uint8_t *body, size_t len,
					    struct capwap_lsc_params *p,
					    struct capwap_error *err);
enum capwap_status capwap_lsc_params_encode(struct capwap_writer *w,
					    const struct capwap_lsc_params *p);
enum capwap_status capwap_lsc_cert_decode(const uint8_t *body, size_t len,
					  struct capwap_lsc_cert *c,
					  struct capwap_error *err);
enum capwap_status capwap_lsc_cert_encode(struct capwap_writer *w,
					  const struct capwap_lsc_cert *c);

/* ------------------------------------------------------------------------
 * Fragmentation and reassembly (§1.14)
 * ------------------------------------------------------------------------ */

typedef void (*capwap_fragment_cb)(const uint8_t *frag, size_t len, void *arg);

/*
 * Split a complete encoded packet into fragments of at most max_len bytes
 * each (header included), calling cb for each in order. A packet that fits
 * is passed through unchanged. Non-final payloads are multiples of 8 bytes.
 */
enum capwap_status capwap_fragment(const uint8_t *pkt, size_t len,
				   size_t max_len, uint16_t frag_id,
				   capwap_fragment_cb cb, void *arg,
				   struct capwap_error *err);

struct capwap_reasm_limits {
	size_t max_size;          /* reassembled bytes, >= CAPWAP_MIN_REASSEMBLY */
	unsigned max_fragments;   /* fragments per message */
	uint64_t timeout_ms;      /* a partial message older than this is dropped */
};

/* One reassembly context per peer and direction; holds at most one partial
 * message (a new fragment ID discards the old one). Memory is allocated on
 * the first fragment and released when a message completes or expires. */
struct capwap_reasm {
	struct capwap_reasm_limits limits;
	uint8_t *buf;             /* header of the first fragment + payload */
	size_t buf_cap;
	bool active;
	uint16_t frag_id;
	uint64_t started_ms;
	size_t hlen;              /* header bytes at the front of buf */
	size_t total;             /* payload length once the last fragment came, else 0 */
	unsigned n_frags;
	struct { uint16_t start, end; } ranges[64]; /* received payload ranges, 8-byte units ok */
};

void capwap_reasm_init(struct capwap_reasm *r, const struct capwap_reasm_limits *limits);
void capwap_reasm_free(struct capwap_reasm *r);

/*
 * Add one received packet (header first). Non-fragments return CAPWAP_OK
 * with *out = pkt. Fragments return CAPWAP_INCOMPLETE until the message is
 * whole, then CAPWAP_OK with *out pointing at a synthesized unfragmented
 * packet valid until the next call. Overlaps, duplicates, two last
 * fragments, a size past the limit and similar drop the partial message and
 * return CAPWAP_ERR_FRAGMENT or CAPWAP_ERR_LIMIT.
 */
enum capwap_status capwap_reasm_add(struct capwap_reasm *r,
				    const uint8_t *pkt, size_t len,
				    uint64_t now_ms,
				    const uint8_t **out, size_t *out_len,
				    struct capwap_error *err);

/* Drop a partial message older than the timeout. True if one was dropped. */
bool capwap_reasm_expire(struct capwap_reasm *r, uint64_t now_ms);

/* ------------------------------------------------------------------------
 * Request/response bookkeeping (§1.13)
 *
 * Each side has at most one request outstanding. The receiver of requests
 * caches its last response and answers a duplicate from the cache without
 * processing it again; older sequence numbers (modulo 256) are ignored.
 * Timers belong to the caller; this only keeps the state and decides.
 * ------------------------------------------------------------------------ */

struct capwap_reliable {
	uint8_t next_seq;            /* sequence number of our next request */
	/* our outstanding request */
	bool pending;
	uint8_t pending_seq;
	uint32_t pending_type;
	uint8_t *pending_buf;        /* encoded request, for retransmission */
	size_t pending_len;
	unsigned retransmits;
	/* the peer's last request and our cached response */
	bool have_last_rx;
	uint8_t last_rx_seq;
	uint8_t *last_response;
	size_t last_response_len;
};

enum capwap_rx_class {
	CAPWAP_RX_NEW,               /* process it */
	CAPWAP_RX_DUPLICATE,         /* resend the cached response, do nothing else */
	CAPWAP_RX_STALE,             /* older than the last one: ignore */
};

void capwap_reliable_init(struct capwap_reliable *r, uint8_t first_seq);
void capwap_reliable_free(struct capwap_reliable *r);

/* True when s1 is older than s2 modulo 256 (RFC 5415 §4.5.1... rule, §1.13). */
bool capwap_seq_older(uint8_t s1, uint8_t s2);

/* Classify a received request's sequence number. */
enum capwap_rx_class capwap_reliable_classify(const struct capwap_reliable *r, uint8_t seq);

/* Remember the response to the request with seq (copied; replaces the old one). */
enum capwap_status capwap_reliable_store_response(struct capwap_reliable *r, uint8_t seq,
						  const uint8_t *resp, size_t len);

/* Start a request: claims next_seq for it and keeps a copy of the encoded
 * bytes. Fails if one is already outstanding. */
enum capwap_status capwap_reliable_start_request(struct capwap_reliable *r, uint32_t type,
						 uint8_t seq, const uint8_t *req, size_t len);

/* Claim the sequence number for the next request (increments next_seq). */
uint8_t capwap_reliable_next_seq(struct capwap_reliable *r);

/* A response arrived: true if it answers the outstanding request (type and
 * seq match), which is then cleared. Duplicates and strays return false. */
bool capwap_reliable_match_response(struct capwap_reliable *r, uint32_t type, uint8_t seq);

/* Drop the outstanding request (given up, or session ending). */
void capwap_reliable_cancel(struct capwap_reliable *r);

/* ------------------------------------------------------------------------
 * DTLS transport (§1.15): DTLS 1.2 behind the 4-byte CAPWAP DTLS header,
 * free of I/O. The caller owns the socket and the timers: it feeds received
 * datagrams in and gets datagrams to send, decrypted CAPWAP packets and
 * handshake results out through callbacks. Many peers share one socket;
 * the caller demultiplexes by address.
 *
 * Server side: a datagram from an address without a connection goes to
 * capwap_dtls_accept(), which runs the stateless cookie exchange
 * (HelloVerifyRequest) and allocates a connection only for a ClientHello
 * carrying a valid cookie. Peer certificates are verified here, by this
 * module: against the LSC trust anchors first, then the MIC bundle; the
 * result says which one matched and the AP's MAC from the subject CN.
 *
 * Callbacks never free the connection; a callee learns that a connection is
 * finished from the CAPWAP_DTLS_CLOSED return and frees it afterwards.
 * ------------------------------------------------------------------------ */

struct sockaddr;
struct capwap_dtls_ctx;
struct capwap_dtls_conn;
struct capwap_dtls_identity;
struct capwap_dtls_trust;

enum capwap_dtls_role {
	CAPWAP_DTLS_SERVER,       /* the AC */
	CAPWAP_DTLS_CLIENT,       /* the WTP */
};

enum capwap_cert_class {
	CAPWAP_CERT_NONE = 0,
	CAPWAP_CERT_MIC,          /* chains to the manufacturer (MIC) bundle */
	CAPWAP_CERT_LSC,          /* chains to the LSC CA */
};

/* What the handshake established about the peer. */
struct capwap_dtls_peer {
	enum capwap_cert_class cert_class;
	bool has_mac;             /* MAC found in the subject CN */
	uint8_t mac[6];
	char subject_cn[65];
	char issuer[256];         /* one line, RFC 2253 */
	char serial_hex[64];
	int64_t not_before;       /* seconds since the epoch */
	int64_t not_after;
	uint8_t sha1[20];         /* of the DER certificate */
	char cipher[64];
};

struct capwap_dtls_config {
	enum capwap_dtls_role role;
	/* Server: our certificate (PEM, chain after the leaf) and key. */
	const char *cert_file;
	const char *key_file;
	/* Server: trust anchors for AP certificates (PEM bundles, NULL = none). */
	const char *mic_ca_file;
	const char *lsc_ca_file;
	const char *ciphers;      /* OpenSSL cipher list, NULL = lscd's default */
	unsigned mtu;             /* bytes per datagram including headers; 0 = 1400 */
	unsigned retransmit_ms;   /* first handshake retransmission, doubling; 0 = 1000 */
	/* Debug: each TLS key log line (NSS format) for tshark; NULL = off. */
	void (*keylog)(const char *line, void *arg);
	void *keylog_arg;
	/* Tests only (lscd --time-offset): peer certificates are checked at
	 * time(NULL) + this, the daemon's clock, so validity and clock skew
	 * follow the same clock as its certificate lifecycle. */
	int64_t time_offset_s;
};

typedef void (*capwap_dtls_send_fn)(void *arg, const uint8_t *dgram, size_t len);

struct capwap_dtls_ops {
	/* A datagram for the peer, CAPWAP DTLS header included. */
	capwap_dtls_send_fn send;
	/* A decrypted record: one CAPWAP packet (or fragment). */
	void (*recv)(void *arg, const uint8_t *pkt, size_t len);
	/* The handshake finished and the peer's certificate was accepted. */
	void (*established)(void *arg, const struct capwap_dtls_peer *peer);
};

enum capwap_dtls_result {
	CAPWAP_DTLS_OK,           /* carry on */
	CAPWAP_DTLS_CLOSED,       /* finished (closed, failed, refused): free it */
};

enum capwap_dtls_accept_result {
	CAPWAP_DTLS_ACCEPT_NEW,       /* *conn is new: set its arg, then capwap_dtls_start() */
	CAPWAP_DTLS_ACCEPT_COOKIE,    /* a HelloVerifyRequest went out; no state kept */
	CAPWAP_DTLS_ACCEPT_DROP,      /* not a usable ClientHello; nothing sent */
};

struct capwap_dtls_ctx *capwap_dtls_ctx_new(const struct capwap_dtls_config *cfg,
					    struct capwap_error *err);
void capwap_dtls_ctx_free(struct capwap_dtls_ctx *ctx);

/*
 * Server: offer one datagram (CAPWAP DTLS header included) from a peer that
 * has no connection yet. A HelloVerifyRequest goes out through
 * reply(reply_arg, …). On CAPWAP_DTLS_ACCEPT_NEW the connection holds the
 * ClientHello and will use ops; the caller sets the connection's callback
 * argument with capwap_dtls_set_arg() and calls capwap_dtls_start() to
 * answer it.
 */
enum capwap_dtls_accept_result capwap_dtls_accept(struct capwap_dtls_ctx *ctx,
						  const struct sockaddr *peer, size_t peer_len,
						  const uint8_t *dgram, size_t len,
						  capwap_dtls_send_fn reply, void *reply_arg,
						  const struct capwap_dtls_ops *ops,
						  struct capwap_dtls_conn **conn);

/* Client: an identity (certificate chain + key, PEM in memory) and a set of
 * trust anchors for the AC's certificate. Both may be shared by many
 * connections and must outlive them. */
struct capwap_dtls_identity *capwap_dtls_identity_new(const char *cert_pem, size_t cert_len,
						      const char *key_pem, size_t key_len,
						      struct capwap_error *err);
void capwap_dtls_identity_free(struct capwap_dtls_identity *id);
struct capwap_dtls_trust *capwap_dtls_trust_new(const char *ca_pem, size_t len,
						struct capwap_error *err);
void capwap_dtls_trust_free(struct capwap_dtls_trust *trust);

/* Client: a connection that will start its handshake on capwap_dtls_start(). */
struct capwap_dtls_conn *capwap_dtls_connect(struct capwap_dtls_ctx *ctx,
					     const struct capwap_dtls_identity *id,
					     const struct capwap_dtls_trust *trust,
					     const struct capwap_dtls_ops *ops, void *arg,
					     struct capwap_error *err);

void capwap_dtls_set_arg(struct capwap_dtls_conn *conn, void *arg);

/* Drive the handshake (first flight, or the answer to the ClientHello). */
enum capwap_dtls_result capwap_dtls_start(struct capwap_dtls_conn *conn);

/* One received datagram for this connection, CAPWAP DTLS header included. */
enum capwap_dtls_result capwap_dtls_input(struct capwap_dtls_conn *conn,
					  const uint8_t *dgram, size_t len);

/* Encrypt and send one CAPWAP packet (at most capwap_dtls_max_payload()). */
enum capwap_dtls_result capwap_dtls_write(struct capwap_dtls_conn *conn,
					  const uint8_t *pkt, size_t len);

/* Largest CAPWAP packet that fits one datagram; fragment above it. */
size_t capwap_dtls_max_payload(const struct capwap_dtls_conn *conn);

/* Milliseconds until the handshake retransmission timer fires, or -1 if none
 * is running. Call after every start/input/write/timeout. */
int64_t capwap_dtls_timeout_ms(struct capwap_dtls_conn *conn);
enum capwap_dtls_result capwap_dtls_handle_timeout(struct capwap_dtls_conn *conn);

/* Send close_notify (best effort). The connection is finished afterwards. */
void capwap_dtls_close(struct capwap_dtls_conn *conn);

bool capwap_dtls_established(const struct capwap_dtls_conn *conn);

/* What is known of the peer's certificate; after a refused handshake it
 * still names the certificate that was presented (subject_cn is "" if none
 * was), with cert_class CAPWAP_CERT_NONE. */
const struct capwap_dtls_peer *capwap_dtls_peer_info(const struct capwap_dtls_conn *conn);

/* Why the connection finished or failed, for the log ("" if it did not). */
const char *capwap_dtls_error(const struct capwap_dtls_conn *conn);

void capwap_dtls_free(struct capwap_dtls_conn *conn);

/* ------------------------------------------------------------------------
 * Debug capture (pcap)
 *
 * An I/O-free writer of classic pcap files with LINKTYPE_RAW, so records are
 * bare IPv4 or IPv6 packets: lscd writes decrypted control messages as
 * clear-text CAPWAP (preamble 0) inside synthesized IP/UDP headers, and
 * tshark decodes them as if they had crossed the wire unencrypted (§2.7).
 * The caller writes the produced bytes to a file.
 * ------------------------------------------------------------------------ */

struct sockaddr;

#define CAPWAP_PCAP_LINKTYPE_RAW 101
#define CAPWAP_PCAP_SNAPLEN      65535

/* The 24-byte pcap global header (magic, version 2.4, LINKTYPE_RAW). */
enum capwap_status capwap_pcap_global_header(struct capwap_writer *w);

/*
 * One record: pcap record header, then an IPv4 (DSCP CS6, valid header
 * checksum, UDP checksum 0 as RFC 5415 asks) or IPv6 (UDP checksum computed)
 * header, a UDP header and payload. src and dst are both AF_INET or both
 * AF_INET6 (struct sockaddr_in / sockaddr_in6, ports included). The time
 * stamp is seconds and microseconds since the epoch. Fails with
 * CAPWAP_ERR_UNSUPPORTED for other or mixed families, CAPWAP_ERR_LIMIT when
 * the packet would not fit an IP datagram, CAPWAP_ERR_NOSPACE when w is full
 * (nothing is written then).
 */
enum capwap_status capwap_pcap_record(struct capwap_writer *w,
				      uint32_t ts_sec, uint32_t ts_usec,
				      const struct sockaddr *src,
				      const struct sockaddr *dst,
				      const uint8_t *payload, size_t len);

/* ------------------------------------------------------------------------
 * MAC addresses
 * ------------------------------------------------------------------------ */

enum capwap_mac_style {
	CAPWAP_MAC_COLON,         /* 28:6f:7f:cf:53:ac (AP tables) */
	CAPWAP_MAC_DOTTED,        /* 286f.7fcf.53ac (Cisco CLI, provision lists) */
	CAPWAP_MAC_HYPHEN,        /* 28-6f-7f-cf-53-ac */
	CAPWAP_MAC_BARE_UPPER,    /* 286F7FCF53AC (Cisco certificate CNs) */
};

/* Parse a MAC in any common notation: xx:xx:xx:xx:xx:xx, xx-xx-…, xxxx.xxxx.xxxx,
 * or 12 bare hex digits; either case. Returns false on anything else. */
bool capwap_mac_parse(const char *s, size_t len, uint8_t mac[6]);

/* Format into out (at least 18 bytes), NUL-terminated. */
void capwap_mac_format(const uint8_t mac[6], enum capwap_mac_style style, char out[18]);

/* The AP's Ethernet MAC from a certificate CN: the CN itself is a MAC
 * (RFC 5415 §2.4.4.3), or the CN ends in "-" followed by one (Cisco's
 * "ap3g3-286F7FCF53AC"). */
bool capwap_mac_from_cn(const char *cn, size_t len, uint8_t mac[6]);

#endif /* LSCD_CAPWAP_H */
