/*
 * pki/pki.h - trustpoints, certificate and CSR inspection, and an
 * asynchronous SCEP (RFC 8894) client with proxy enrollment.
 *
 * The only public header of pki/. Every type that holds key material is
 * opaque, so that keys can later move into a helper process without
 * changing callers. OpenSSL, libcurl and jansson types never appear here.
 *
 * Conventions
 *  - Functions that can fail return 0 on success and -1 on failure, and fill
 *    the caller's struct pki_error (which may be NULL). Predicates that can
 *    fail return 1 (yes), 0 (no) or -1 (error).
 *  - Library code never logs and never exits; the reason text names the CA
 *    URL, trustpoint or file at fault. It never contains key material or a
 *    challenge password.
 *  - Buffers handed to the caller are struct pki_buf; release them with
 *    pki_buf_free(), which clears them first.
 *  - Asynchronous operations run on the caller's libevent loop; nothing here
 *    blocks or starts a thread. Result structures passed to callbacks are
 *    valid only during the callback: copy what you keep.
 */
#ifndef LSCD_PKI_H
#define LSCD_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct event_base;

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

enum pki_status {
	PKI_OK = 0,
	PKI_ERR_NOMEM,
	PKI_ERR_INVALID,		/* bad argument or API misuse */
	PKI_ERR_CONFIG,			/* trustpoint configuration rejected */
	PKI_ERR_IO,			/* file system */
	PKI_ERR_PARSE,			/* malformed input (CSR, cert, PEM, subject) */
	PKI_ERR_CRYPTO,			/* OpenSSL failed on our own data */
	PKI_ERR_UNSUPPORTED,		/* algorithm, key type or size */
	PKI_ERR_NOT_FOUND,		/* no such certificate or state */
	PKI_ERR_NOT_AUTHENTICATED,	/* trustpoint has no accepted CA cert */
	PKI_ERR_BAD_SIGNATURE,
	PKI_ERR_CA_UNREACHABLE,		/* connection refused, no route, DNS */
	PKI_ERR_CA_TIMEOUT,
	PKI_ERR_CA_HTTP,		/* HTTP status >= 400: see http_code */
	PKI_ERR_CA_GARBAGE,		/* wrong content type or unparsable body */
	PKI_ERR_CA_REJECTED,		/* CertRep FAILURE: see fail_info */
	PKI_ERR_PENDING_EXHAUSTED,	/* still PENDING after the retry count */
	PKI_ERR_NONCE_MISMATCH,
	PKI_ERR_TXID_MISMATCH,
	PKI_ERR_NO_MATCHING_CERT,	/* no issued cert carries the CSR's key */
	PKI_ERR_WRONG_ISSUER,
	PKI_ERR_PIN_MISMATCH,		/* CA fingerprint differs from the pin */
	PKI_ERR_CANCELLED,
};

/* failInfo values of a CertRep FAILURE (RFC 8894 section 3.2.1.4.5). */
enum pki_fail_info {
	PKI_FAIL_NONE = -1,
	PKI_FAIL_BAD_ALG = 0,
	PKI_FAIL_BAD_MESSAGE_CHECK = 1,
	PKI_FAIL_BAD_REQUEST = 2,
	PKI_FAIL_BAD_TIME = 3,
	PKI_FAIL_BAD_CERT_ID = 4,
};

struct pki_error {
	enum pki_status status;
	int http_code;		/* PKI_ERR_CA_HTTP: the HTTP status, else 0 */
	int fail_info;		/* PKI_ERR_CA_REJECTED: enum pki_fail_info, else -1 */
	char reason[256];
};

/**
 * pki_status_name - stable upper-case name of a status
 * @st: status
 *
 * Returns e.g. "CA_TIMEOUT" or "PIN_MISMATCH"; never NULL.
 */
const char *pki_status_name(enum pki_status st);

/**
 * pki_fail_info_name - RFC 8894 name of a failInfo value
 * @fi: failInfo value
 *
 * Returns "badAlg", "badMessageCheck", "badRequest", "badTime",
 * "badCertId", "none" for PKI_FAIL_NONE, or "unknown".
 */
const char *pki_fail_info_name(int fi);

/**
 * pki_init - load OpenSSL's default and legacy providers, initialise libcurl
 * @err: error output
 *
 * The legacy provider is needed because micromdm and NDES encrypt CertReps
 * with single DES. Idempotent; call once from main() before anything else.
 * Returns 0, or -1 when a provider cannot be loaded.
 */
int pki_init(struct pki_error *err);

/**
 * pki_cleanup - unload the providers pki_init() loaded
 *
 * Registered with atexit() by pki_init(), so calling it is optional; after
 * it, pki_init() may be called again.
 */
void pki_cleanup(void);

/* ------------------------------------------------------------------------ */
/* Buffers and files                                                         */
/* ------------------------------------------------------------------------ */

struct pki_buf {
	uint8_t *data;
	size_t len;
};

/**
 * pki_buf_free - clear and free a buffer, leaving it empty
 * @b: buffer (may be NULL or empty)
 */
void pki_buf_free(struct pki_buf *b);

/**
 * pki_file_read - read a whole file
 * @path: file
 * @max: refuse files larger than this (PKI_ERR_PARSE)
 * @out: receives the bytes, NUL-terminated beyond @out->len
 * @err: error output
 */
int pki_file_read(const char *path, size_t max, struct pki_buf *out,
		  struct pki_error *err);

/**
 * pki_file_write - replace a file atomically (temp file, fsync, rename)
 * @path: file
 * @data: bytes
 * @len: number of bytes
 * @mode: permission bits, applied with fchmod whatever the umask
 * @err: error output
 */
int pki_file_write(const char *path, const void *data, size_t len,
		   unsigned mode, struct pki_error *err);

/* ------------------------------------------------------------------------ */
/* Keys                                                                      */
/* ------------------------------------------------------------------------ */

enum pki_key_type {
	PKI_KEY_NONE = 0,
	PKI_KEY_RSA,
	PKI_KEY_EC,
	PKI_KEY_ED25519,	/* inspection only */
	PKI_KEY_ED448,		/* inspection only */
};

/* RSA: bits 2048, 3072 or 4096. EC: bits 256 (P-256) or 384 (P-384). */
struct pki_key_spec {
	enum pki_key_type type;
	unsigned bits;
};

struct pki_key;

/**
 * pki_key_spec_parse - parse "rsa2048", "rsa-3072", "ec256", "p-384", ...
 * @text: key description, case-insensitive
 * @spec: result
 * @err: error output (PKI_ERR_UNSUPPORTED names the text)
 */
int pki_key_spec_parse(const char *text, struct pki_key_spec *spec,
		       struct pki_error *err);

/**
 * pki_key_spec_format - "RSA-2048" or "EC-P256"
 * @spec: key description
 * @out: output
 * @outsz: size of @out (16 is enough)
 *
 * Returns @out.
 */
const char *pki_key_spec_format(const struct pki_key_spec *spec, char *out,
				size_t outsz);

/**
 * pki_key_generate - generate a key pair
 * @spec: RSA 2048/3072/4096 or EC 256/384
 * @out: new key, reference count 1
 * @err: error output
 *
 * Slow for RSA (tens of milliseconds to seconds): never call it on a path
 * that must stay responsive.
 */
int pki_key_generate(const struct pki_key_spec *spec, struct pki_key **out,
		     struct pki_error *err);

/**
 * pki_key_load - read an unencrypted PEM private key file
 * @path: file
 * @out: new key
 * @err: error output (names @path)
 */
int pki_key_load(const char *path, struct pki_key **out, struct pki_error *err);

/**
 * pki_key_save - write a private key as PKCS#8 PEM, mode 0600, atomically
 * @key: key
 * @path: file; created with O_EXCL in the same directory, then renamed
 * @err: error output
 */
int pki_key_save(const struct pki_key *key, const char *path,
		 struct pki_error *err);

/**
 * pki_key_from_pem - parse an unencrypted PEM private key from memory
 * @pem: text
 * @len: length of @pem
 * @out: new key
 * @err: error output
 */
int pki_key_from_pem(const char *pem, size_t len, struct pki_key **out,
		     struct pki_error *err);

/**
 * pki_key_to_pem - export a private key as PKCS#8 PEM
 * @key: key
 * @pem: receives NUL-terminated text; secret, release with pki_buf_free()
 * @err: error output
 */
int pki_key_to_pem(const struct pki_key *key, struct pki_buf *pem,
		   struct pki_error *err);

/**
 * pki_key_public_der - DER SubjectPublicKeyInfo of a key
 * @key: key
 * @spki: result
 * @err: error output
 */
int pki_key_public_der(const struct pki_key *key, struct pki_buf *spki,
		       struct pki_error *err);

/**
 * pki_key_get_spec - type and size of a key
 * @key: key
 * @spec: result
 */
void pki_key_get_spec(const struct pki_key *key, struct pki_key_spec *spec);

/**
 * pki_key_ref - take a reference
 * @key: key
 *
 * Returns @key.
 */
struct pki_key *pki_key_ref(struct pki_key *key);

/**
 * pki_key_free - drop a reference; the last one frees the key
 * @key: key (may be NULL)
 */
void pki_key_free(struct pki_key *key);

/* ------------------------------------------------------------------------ */
/* Subject names                                                             */
/* ------------------------------------------------------------------------ */

/* The subject fields an LSC carries, as Cisco's `ap lsc-provision subject-name-parameter`. */
struct pki_subject {
	char c[3];
	char st[129];
	char l[129];
	char o[65];
	char ou[65];
	char cn[65];
	char email[129];
};

/**
 * pki_subject_parse - parse an LDAP-style subject "C=US,ST=CA,...,CN=x"
 * @text: components separated by ',' (a literal ',' is written '\,');
 *        names C, ST, L, O, OU, CN, E/EMAIL/emailAddress, case-insensitive
 * @subj: result (unset fields are empty strings)
 * @err: error output; the reason names the offending component
 *
 * Each field at most once; values non-empty, within the X.520 upper bounds
 * (C exactly two letters), printable, no control characters.
 */
int pki_subject_parse(const char *text, struct pki_subject *subj,
		      struct pki_error *err);

/**
 * pki_subject_format - format as "C=..,ST=..,L=..,O=..,OU=..,CN=..,E=.."
 * @subj: subject (empty fields are skipped)
 * @out: output, accepted back by pki_subject_parse()
 * @outsz: size of @out
 *
 * Returns 0, or -1 when @out is too small.
 */
int pki_subject_format(const struct pki_subject *subj, char *out, size_t outsz);

/* ------------------------------------------------------------------------ */
/* Certificates                                                              */
/* ------------------------------------------------------------------------ */

#define PKI_NAME_MAX_ATTRS 16

struct pki_name_attr {
	char name[24];		/* lower-case as IOS prints it: cn, o, ou, ea ... */
	char value[257];
};

struct pki_name {
	char line[512];		/* RFC 2253 one-line form, most specific first */
	unsigned n_attrs;	/* most specific first */
	struct pki_name_attr attrs[PKI_NAME_MAX_ATTRS];
};

/* Key usage bits (struct pki_cert_info.key_usage). */
#define PKI_KU_DIGITAL_SIGNATURE	0x0001u
#define PKI_KU_NON_REPUDIATION		0x0002u
#define PKI_KU_KEY_ENCIPHERMENT		0x0004u
#define PKI_KU_DATA_ENCIPHERMENT	0x0008u
#define PKI_KU_KEY_AGREEMENT		0x0010u
#define PKI_KU_KEY_CERT_SIGN		0x0020u
#define PKI_KU_CRL_SIGN			0x0040u

/* Extended key usage bits (struct pki_cert_info.eku). */
#define PKI_EKU_SERVER_AUTH	0x0001u
#define PKI_EKU_CLIENT_AUTH	0x0002u
#define PKI_EKU_CODE_SIGNING	0x0004u
#define PKI_EKU_EMAIL		0x0008u
#define PKI_EKU_TIME_STAMPING	0x0010u
#define PKI_EKU_OCSP_SIGNING	0x0020u
#define PKI_EKU_ANY		0x0040u
#define PKI_EKU_OTHER		0x8000u

struct pki_cert_info {
	int version;			/* 1, 2 or 3 */
	char serial_hex[96];		/* upper-case, no separators */
	struct pki_name issuer;
	struct pki_name subject;
	time_t not_before;
	time_t not_after;
	struct pki_key_spec key;	/* bits: modulus or curve size */
	char key_alg[24];		/* "RSA", "EC", "ED25519" ... */
	char key_curve[24];		/* "P-256" ... for EC, else "" */
	char sig_alg[48];		/* "sha256WithRSAEncryption" ... */
	bool has_basic_constraints;
	bool is_ca;
	int path_len;			/* -1 when absent */
	bool has_key_usage;
	unsigned key_usage;		/* PKI_KU_* */
	bool has_eku;
	unsigned eku;			/* PKI_EKU_* */
	bool self_issued;		/* issuer name == subject name */
	uint8_t md5[16];		/* fingerprints of the DER */
	uint8_t sha1[20];
	uint8_t sha256[32];
};

/**
 * pki_cert_inspect - decode an X.509 certificate for display and checks
 * @der: DER certificate (no trailing bytes)
 * @len: length of @der
 * @info: result
 * @err: error output (PKI_ERR_PARSE)
 */
int pki_cert_inspect(const uint8_t *der, size_t len, struct pki_cert_info *info,
		     struct pki_error *err);

/**
 * pki_cert_usage_name - IOS "Certificate Usage" line
 * @info: inspected certificate
 *
 * "Signature" when key usage allows only signing, "Encryption" when only
 * encipherment, otherwise "General Purpose".
 */
const char *pki_cert_usage_name(const struct pki_cert_info *info);

enum pki_fp_style {
	PKI_FP_IOS,	/* "E630EAE6 FB824658 ..." upper-case, groups of 8 */
	PKI_FP_HEX,	/* "e630eae6fb82..." lower-case, contiguous */
	PKI_FP_COLON,	/* "E6:30:EA:..." as openssl x509 -fingerprint */
};

/* Room for any style of a SHA-256 fingerprint, with the NUL. */
#define PKI_FP_MAX 100

/**
 * pki_fp_format - format a digest as a fingerprint
 * @md: digest bytes
 * @len: digest length (16, 20, 32 ...)
 * @style: see enum pki_fp_style
 * @out: output
 * @outsz: size of @out
 *
 * Returns @out; an empty string when @out is too small.
 */
const char *pki_fp_format(const uint8_t *md, size_t len, enum pki_fp_style style,
			  char *out, size_t outsz);

/**
 * pki_fp_parse_sha256 - parse a SHA-256 fingerprint as an operator writes it
 * @text: 64 hex digits, any case, optionally separated by ':', ' ' or '-'
 * @md: result
 * @err: error output
 */
int pki_fp_parse_sha256(const char *text, uint8_t md[32], struct pki_error *err);

/**
 * pki_pem_to_der - decode the first PEM block with a given label
 * @pem: text
 * @len: length of @pem
 * @label: "CERTIFICATE", "CERTIFICATE REQUEST" ... (NULL: any certificate
 *         or certificate request label)
 * @der: result
 * @err: error output
 */
int pki_pem_to_der(const char *pem, size_t len, const char *label,
		   struct pki_buf *der, struct pki_error *err);

/**
 * pki_der_to_pem - encode DER as PEM
 * @der: bytes
 * @len: length of @der
 * @label: "CERTIFICATE", "CERTIFICATE REQUEST" ...
 * @pem: result, NUL-terminated (the NUL is not counted in @pem->len)
 * @err: error output
 */
int pki_der_to_pem(const uint8_t *der, size_t len, const char *label,
		   struct pki_buf *pem, struct pki_error *err);

/**
 * pki_load_der - read a certificate or CSR file in PEM or DER
 * @path: file
 * @der: result (DER)
 * @err: error output
 */
int pki_load_der(const char *path, struct pki_buf *der, struct pki_error *err);

/**
 * pki_cert_verify_issued_by - does @ca's key sign @cert and name match?
 * @cert: DER certificate
 * @cert_len: length
 * @ca: DER issuer certificate
 * @ca_len: length
 * @err: error output (PKI_ERR_WRONG_ISSUER names both subjects)
 *
 * Checks the issuer name and the signature only, not validity dates.
 */
int pki_cert_verify_issued_by(const uint8_t *cert, size_t cert_len,
			      const uint8_t *ca, size_t ca_len,
			      struct pki_error *err);

/**
 * pki_cert_key_equals_csr - does the certificate carry the CSR's public key?
 * @cert: DER certificate
 * @cert_len: length
 * @csr: DER PKCS#10
 * @csr_len: length
 * @err: error output
 *
 * Returns 1, 0, or -1 when either input does not parse.
 */
int pki_cert_key_equals_csr(const uint8_t *cert, size_t cert_len,
			    const uint8_t *csr, size_t csr_len,
			    struct pki_error *err);

/**
 * pki_cert_key_equals - does the certificate carry this key's public half?
 * @cert: DER certificate
 * @cert_len: length
 * @key: key
 * @err: error output
 *
 * Returns 1, 0 or -1.
 */
int pki_cert_key_equals(const uint8_t *cert, size_t cert_len,
			const struct pki_key *key, struct pki_error *err);

/* Parameters for certificates lscd makes itself (SSCs, test PKIs, fakes). */
struct pki_issue_params {
	unsigned days;		/* validity from notBefore; 0 = 365 */
	long not_before_offset_s; /* notBefore relative to now; 0 = 5 minutes back
				   * (test PKIs use it to make expired certs) */
	bool ca;		/* basicConstraints CA:TRUE, critical */
	unsigned key_usage;	/* PKI_KU_*; 0 = none */
	unsigned eku;		/* PKI_EKU_SERVER_AUTH/CLIENT_AUTH; 0 = none */
	uint64_t serial;	/* 0 = 64 random bits */
	long validity_s;	/* > 0: validity in seconds, overriding days (a CA
				 * capping a certificate at its own end) */
};

/**
 * pki_cert_self_signed - make a self-signed certificate (SHA-256)
 * @key: key (subject and issuer)
 * @subj: subject
 * @p: parameters
 * @der: result
 * @err: error output
 */
int pki_cert_self_signed(const struct pki_key *key, const struct pki_subject *subj,
			 const struct pki_issue_params *p, struct pki_buf *der,
			 struct pki_error *err);

/**
 * pki_cert_issue - sign a CSR's subject and key with a CA key (SHA-256)
 * @ca_key: issuer's key
 * @ca_der: issuer's DER certificate
 * @ca_len: length
 * @csr_der: DER PKCS#10 (its self-signature is verified first)
 * @csr_len: length
 * @p: parameters
 * @der: result
 * @err: error output
 *
 * A minimal local CA for self-signed trustpoints, test PKIs and the fake
 * SCEP responder; not a policy engine (no SAN or extension copying).
 */
int pki_cert_issue(const struct pki_key *ca_key, const uint8_t *ca_der,
		   size_t ca_len, const uint8_t *csr_der, size_t csr_len,
		   const struct pki_issue_params *p, struct pki_buf *der,
		   struct pki_error *err);

/* ------------------------------------------------------------------------ */
/* Certificate signing requests                                              */
/* ------------------------------------------------------------------------ */

#define PKI_CSR_MAX_LEN	32768	/* larger CSRs are refused unparsed */
#define PKI_TXID_LEN	64	/* upper-case hex SHA-256 */

struct pki_csr_info {
	struct pki_subject subject;	/* first value of each field */
	struct pki_name name;		/* every attribute, most specific first */
	struct pki_key_spec key;
	char key_alg[24];
	char key_curve[24];
	char sig_alg[48];
	bool has_challenge;		/* challengePassword present (value not exposed) */
	uint8_t spki_sha256[32];	/* SHA-256 of the DER SubjectPublicKeyInfo */
	/*
	 * The SCEP transactionID for this CSR: upper-case hex of spki_sha256.
	 * It is derived from the requester's (the AP's) key, not the proxy's,
	 * so retries and polls for one AP key stay one transaction.
	 */
	char txid[PKI_TXID_LEN + 1];
};

/**
 * pki_csr_inspect - parse a PKCS#10 request and verify its self-signature
 * @der: DER request, at most PKI_CSR_MAX_LEN bytes, no trailing bytes
 * @len: length
 * @info: result
 * @err: PKI_ERR_PARSE (malformed, too large, subject field too long),
 *       PKI_ERR_UNSUPPORTED (key algorithm), PKI_ERR_BAD_SIGNATURE (no
 *       proof of possession)
 *
 * Safe on hostile input: it never allocates from a length the peer chose
 * beyond the size cap, and never crashes.
 */
int pki_csr_inspect(const uint8_t *der, size_t len, struct pki_csr_info *info,
		    struct pki_error *err);

/* A request parsed and checked by pki_csr_parse(), to enrol without
 * parsing it again (pki_proxy_enroll_csr()). */
struct pki_csr;

/**
 * pki_csr_parse - pki_csr_inspect(), keeping the parsed request
 * @der: DER request (as pki_csr_inspect())
 * @len: length
 * @info: result
 * @err: as pki_csr_inspect()
 *
 * Returns the request for pki_proxy_enroll_csr(), or NULL with @err set.
 * Release with pki_csr_free().
 */
struct pki_csr *pki_csr_parse(const uint8_t *der, size_t len, struct pki_csr_info *info,
			      struct pki_error *err);

/** pki_csr_free - release a request from pki_csr_parse() (NULL is fine) */
void pki_csr_free(struct pki_csr *csr);

/**
 * pki_csr_build - make a PKCS#10 request signed with @key (SHA-256)
 * @key: requester's key
 * @subj: subject fields (at least one non-empty)
 * @challenge: PKCS#9 challengePassword, or NULL
 * @der: result
 * @err: error output
 */
int pki_csr_build(const struct pki_key *key, const struct pki_subject *subj,
		  const char *challenge, struct pki_buf *der,
		  struct pki_error *err);

/* ------------------------------------------------------------------------ */
/* SCEP capabilities and algorithms                                          */
/* ------------------------------------------------------------------------ */

#define PKI_CAP_AES		0x0001u
#define PKI_CAP_DES3		0x0002u
#define PKI_CAP_GETNEXTCACERT	0x0004u
#define PKI_CAP_POST		0x0008u	/* POSTPKIOperation */
#define PKI_CAP_RENEWAL		0x0010u
#define PKI_CAP_SHA1		0x0020u
#define PKI_CAP_SHA256		0x0040u
#define PKI_CAP_SHA512		0x0080u
#define PKI_CAP_SCEP_STANDARD	0x0100u
#define PKI_CAP_UPDATE		0x0200u

struct pki_caps {
	unsigned flags;		/* PKI_CAP_* */
	bool known;		/* false: never fetched, or the CA gave none */
};

enum pki_digest {
	PKI_DIGEST_MD5,
	PKI_DIGEST_SHA1,
	PKI_DIGEST_SHA256,
	PKI_DIGEST_SHA512,
};

enum pki_cipher {
	PKI_CIPHER_DES,
	PKI_CIPHER_DES3,
	PKI_CIPHER_AES128,
	PKI_CIPHER_AES256,	/* never chosen from caps; for responders */
};

struct pki_scep_algs {
	bool post;
	enum pki_digest digest;
	enum pki_cipher cipher;
};

/**
 * pki_caps_parse - parse a GetCACaps body
 * @body: text, one keyword per line (LF or CRLF), case-insensitive
 * @len: length
 * @caps: result; unknown keywords are ignored, an empty body gives
 *        known = false
 */
void pki_caps_parse(const char *body, size_t len, struct pki_caps *caps);

/**
 * pki_caps_select - choose the algorithms for a PKIOperation
 * @caps: capabilities (unknown: RFC 8894 legacy defaults)
 * @algs: result
 *
 * POST when POSTPKIOperation or SCEPStandard; digest SHA-512 > SHA-256 >
 * SHA-1 > MD5 (MD5 only when nothing else is advertised); cipher
 * AES-128-CBC when AES or SCEPStandard, else 3DES when DES3, else DES.
 */
void pki_caps_select(const struct pki_caps *caps, struct pki_scep_algs *algs);

/**
 * pki_caps_format - space-separated keywords, in a fixed order
 * @caps: capabilities
 * @out: output
 * @outsz: size of @out (128 is enough)
 *
 * Returns @out.
 */
const char *pki_caps_format(const struct pki_caps *caps, char *out, size_t outsz);

/** pki_digest_name - "MD5", "SHA-1", "SHA-256", "SHA-512" */
const char *pki_digest_name(enum pki_digest d);

/** pki_cipher_name - "DES-CBC", "DES-EDE3-CBC", "AES-128-CBC", "AES-256-CBC" */
const char *pki_cipher_name(enum pki_cipher c);

/* ------------------------------------------------------------------------ */
/* SCEP messages: pure build and parse, no I/O                               */
/* ------------------------------------------------------------------------ */

enum pki_msg_type {
	PKI_MSG_CERTREP = 3,
	PKI_MSG_RENEWALREQ = 17,
	PKI_MSG_PKCSREQ = 19,
	PKI_MSG_CERTPOLL = 20,
	PKI_MSG_GETCERT = 21,
	PKI_MSG_GETCRL = 22,
};

enum pki_pkistatus {
	PKI_PKISTATUS_SUCCESS = 0,
	PKI_PKISTATUS_FAILURE = 2,
	PKI_PKISTATUS_PENDING = 3,
};

#define PKI_NONCE_LEN		16
#define PKI_SCEP_MSG_MAX	(256 * 1024)	/* CertRep size cap */

/** pki_msg_type_name - "PKCSReq", "CertRep", ... or "unknown" */
const char *pki_msg_type_name(int type);

struct pki_scep_request {
	enum pki_msg_type type;		/* PKCSReq, RenewalReq or CertPoll */
	const char *txid;		/* PrintableString */
	uint8_t nonce[PKI_NONCE_LEN];	/* senderNonce */
	const uint8_t *payload;		/* CSR, or IssuerAndSubject for CertPoll */
	size_t payload_len;
	const uint8_t *recipient;	/* CA/RA encryption cert (DER) */
	size_t recipient_len;
	const struct pki_key *signer_key;
	const uint8_t *signer;		/* temp self-signed or identity cert (DER) */
	size_t signer_len;
	enum pki_digest digest;
	enum pki_cipher cipher;
};

/**
 * pki_scep_request_build - make a pkiMessage (SignedData over EnvelopedData)
 * @req: contents
 * @out: DER pkiMessage
 * @err: error output
 *
 * Signed attributes: contentType, messageDigest, signingTime, messageType,
 * transactionID, senderNonce. The envelope uses issuerAndSerialNumber.
 */
int pki_scep_request_build(const struct pki_scep_request *req,
			   struct pki_buf *out, struct pki_error *err);

/**
 * pki_scep_issuer_and_subject - CertPoll payload for a request
 * @ca: DER CA certificate (its subject is the issuer)
 * @ca_len: length
 * @csr: DER PKCS#10 (its subject)
 * @csr_len: length
 * @out: DER IssuerAndSubject
 * @err: error output
 */
int pki_scep_issuer_and_subject(const uint8_t *ca, size_t ca_len,
				const uint8_t *csr, size_t csr_len,
				struct pki_buf *out, struct pki_error *err);

/* What a CertRep must match, and how to open it. */
struct pki_certrep_expect {
	const uint8_t *signer;		/* CA/RA signature cert (DER) */
	size_t signer_len;
	const char *txid;
	const uint8_t *nonce;		/* our senderNonce, PKI_NONCE_LEN bytes */
	const struct pki_key *key;	/* decrypts the SUCCESS envelope */
	const uint8_t *cert;		/* the cert the envelope is encrypted to */
	size_t cert_len;
};

struct pki_certrep {
	enum pki_pkistatus status;
	int fail_info;			/* FAILURE: enum pki_fail_info, else -1 */
	char fail_text[128];		/* failInfoText, sanitised, or "" */
	size_t n_certs;			/* SUCCESS: every cert of the payload */
	struct pki_buf *certs;
};

/**
 * pki_scep_certrep_parse - verify and open a CertRep
 * @der: DER pkiMessage from the CA
 * @len: length
 * @exp: expected signer, transactionID and nonce; key to decrypt with
 * @rep: result; release with pki_certrep_free()
 * @err: PKI_ERR_CA_GARBAGE (not a CertRep), PKI_ERR_BAD_SIGNATURE,
 *       PKI_ERR_TXID_MISMATCH, PKI_ERR_NONCE_MISMATCH
 *
 * Accepts sha1WithRSAEncryption as the SignerInfo algorithm (micromdm) and
 * single-DES envelopes (needs pki_init()). A FAILURE or PENDING reply is a
 * successful parse: look at @rep->status.
 */
int pki_scep_certrep_parse(const uint8_t *der, size_t len,
			   const struct pki_certrep_expect *exp,
			   struct pki_certrep *rep, struct pki_error *err);

/** pki_certrep_free - release the certificates of a parsed CertRep */
void pki_certrep_free(struct pki_certrep *rep);

/* CA and RA certificates from GetCACert or GetNextCACert. */
struct pki_cacerts {
	struct pki_buf ca;	/* the issuing CA */
	struct pki_buf ra_enc;	/* RA with keyEncipherment; empty: use ca */
	struct pki_buf ra_sig;	/* RA with digitalSignature; empty: use ca */
	size_t n_all;		/* every certificate, as received */
	struct pki_buf *all;
};

/**
 * pki_scep_cacert_parse - parse a GetCACert response
 * @content_type: the response's Content-Type (parameters ignored)
 * @body: response body
 * @len: length
 * @out: result; release with pki_cacerts_free()
 * @err: PKI_ERR_CA_GARBAGE for a wrong content type or body,
 *       PKI_ERR_WRONG_ISSUER for an RA not issued by the CA
 *
 * application/x-x509-ca-cert: one DER cert. application/x-x509-ca-ra-cert:
 * a certs-only SignedData. The issuing CA is the CA cert that issued the
 * RA certs, else the CA cert that issued no other cert of the set.
 */
int pki_scep_cacert_parse(const char *content_type, const uint8_t *body,
			  size_t len, struct pki_cacerts *out,
			  struct pki_error *err);

/**
 * pki_scep_nextca_parse - verify and parse a GetNextCACert response
 * @body: SignedData whose content is a certs-only SignedData
 * @len: length
 * @signer: current CA or RA signature cert (DER)
 * @signer_len: length
 * @out: the rollover CA (and RA) certificates
 * @err: PKI_ERR_BAD_SIGNATURE, PKI_ERR_CA_GARBAGE
 */
int pki_scep_nextca_parse(const uint8_t *body, size_t len,
			  const uint8_t *signer, size_t signer_len,
			  struct pki_cacerts *out, struct pki_error *err);

/** pki_cacerts_free - release a struct pki_cacerts */
void pki_cacerts_free(struct pki_cacerts *c);

/* --- responder side: for the fake CA in tests/ and in-process tests --- */

struct pki_scep_srv_request {
	enum pki_msg_type type;
	char txid[129];
	uint8_t nonce[PKI_NONCE_LEN];
	struct pki_buf payload;		/* decrypted: CSR, IssuerAndSubject ... */
	struct pki_buf signer;		/* requester's signer cert (DER) */
	char digest[24];		/* "SHA256" ... as OpenSSL names it */
	char cipher[24];		/* "AES-128-CBC" ... */
};

/**
 * pki_scep_srv_parse_request - verify and decrypt a request, as a CA does
 * @der: DER pkiMessage
 * @len: length
 * @key: CA or RA encryption key
 * @cert: the matching certificate (DER)
 * @cert_len: length
 * @req: result; release with pki_scep_srv_request_free()
 * @err: error output
 *
 * The signature is checked against the signer cert inside the message.
 */
int pki_scep_srv_parse_request(const uint8_t *der, size_t len,
			       const struct pki_key *key, const uint8_t *cert,
			       size_t cert_len, struct pki_scep_srv_request *req,
			       struct pki_error *err);

/** pki_scep_srv_request_free - release a parsed request */
void pki_scep_srv_request_free(struct pki_scep_srv_request *req);

/**
 * pki_scep_srv_subject_cn - commonName of the subject a request is about
 * @req: parsed request (PKCSReq, RenewalReq or CertPoll)
 * @cn: output
 * @cnsz: size of @cn
 * @err: error output
 */
int pki_scep_srv_subject_cn(const struct pki_scep_srv_request *req, char *cn,
			    size_t cnsz, struct pki_error *err);

struct pki_scep_srv_reply {
	enum pki_pkistatus status;
	int fail_info;				/* FAILURE */
	const char *fail_text;			/* optional failInfoText */
	const char *txid;
	const uint8_t *recipient_nonce;		/* PKI_NONCE_LEN bytes */
	const uint8_t *sender_nonce;		/* PKI_NONCE_LEN bytes */
	const struct pki_buf *certs;		/* SUCCESS payload */
	size_t n_certs;
	const uint8_t *requester;		/* SUCCESS: encrypt to this cert */
	size_t requester_len;
	const struct pki_key *signer_key;	/* CA or RA signature key */
	const uint8_t *signer;
	size_t signer_len;
	enum pki_digest digest;
	enum pki_cipher cipher;
};

/**
 * pki_scep_srv_build_certrep - make a CertRep as a CA does
 * @rep: contents
 * @out: DER pkiMessage
 * @err: error output
 */
int pki_scep_srv_build_certrep(const struct pki_scep_srv_reply *rep,
			       struct pki_buf *out, struct pki_error *err);

/**
 * pki_certs_only_build - degenerate certs-only SignedData
 * @certs: DER certificates
 * @n: how many
 * @out: DER ContentInfo
 * @err: error output
 */
int pki_certs_only_build(const struct pki_buf *certs, size_t n,
			 struct pki_buf *out, struct pki_error *err);

/**
 * pki_scep_srv_build_nextca - GetNextCACert response
 * @key: current CA (or RA) signing key
 * @signer: its certificate (DER)
 * @signer_len: length
 * @certs: the rollover CA (and RA) certificates
 * @n: how many
 * @out: DER SignedData whose content is certs-only with @certs
 * @err: error output
 */
int pki_scep_srv_build_nextca(const struct pki_key *key, const uint8_t *signer,
			      size_t signer_len, const struct pki_buf *certs,
			      size_t n, struct pki_buf *out,
			      struct pki_error *err);

/* ------------------------------------------------------------------------ */
/* Trustpoints                                                               */
/* ------------------------------------------------------------------------ */

struct pki_ctx;
struct pki_trustpoint;
struct pki_op;

enum pki_revocation {
	PKI_REVOCATION_NONE,
	PKI_REVOCATION_CRL,	/* recorded; CRL checking is a later issue */
};

struct pki_tp_config {
	const char *name;		/* [A-Za-z0-9._-], 1..32: file and clone names */
	const char *url;		/* http[s]://host[:port]/path (micromdm: /scep) */
	const char *subject;		/* LDAP-style; needed for own enrollment */
	struct pki_key_spec key;	/* generated when no key exists yet */
	const char *key_file;		/* import this PEM key instead of generating */
	const char *challenge;		/* own enrollment only; kept in memory only */
	enum pki_revocation revocation;
	const char *ca_fingerprint;	/* SHA-256 pin of the CA cert */
	unsigned http_timeout_ms;	/* whole request */
	unsigned connect_timeout_ms;
	unsigned poll_first_ms;		/* first CertPoll after PENDING */
	unsigned poll_retries;		/* CertPolls before giving up; 0 = forever */
	unsigned poll_cap_ms;		/* doubling stops at this interval */
	unsigned max_concurrent;	/* HTTP requests in flight; the rest queue */
};

/**
 * pki_tp_config_defaults - fill a config with the documented defaults
 * @cfg: config to initialise
 *
 * RSA-2048, revocation none, timeout 15 s, connect timeout 5 s, first poll
 * 60 s, 10 retries, cap 3600 s, 8 concurrent requests (IOS-like values).
 */
void pki_tp_config_defaults(struct pki_tp_config *cfg);

/**
 * pki_ctx_new - SCEP client context on an event loop
 * @base: the caller's libevent loop
 * @err: error output
 *
 * Holds the libcurl multi handle, driven by @base's socket and timer
 * events. One per process is enough.
 */
struct pki_ctx *pki_ctx_new(struct event_base *base, struct pki_error *err);

/**
 * pki_ctx_free - free a context
 * @ctx: context (may be NULL); free its trustpoints first, and never from
 *       inside a pki/ callback
 */
void pki_ctx_free(struct pki_ctx *ctx);

/**
 * pki_tp_open - create or restore a trustpoint
 * @ctx: context
 * @cfg: configuration (copied)
 * @dir: parent directory; state lives in @dir/<name>/ (mode 0700):
 *       key.pem (0600), ca.pem, ra-enc.pem, ra-sig.pem, cert.pem,
 *       caps.txt, ca-next.pem, and for renewals and rollover key-new.pem,
 *       cert-new.pem, cert-next.pem, key-next.pem, ca-lineage.txt
 * @out: trustpoint
 * @err: error output
 *
 * Loads the key (or imports cfg->key_file, or generates one: slow) and
 * every stored certificate. A stored CA whose SHA-256 no longer matches the
 * pin (directly, or through the rollovers the pinned CA vouched for) is
 * ignored, leaving the trustpoint unauthenticated. A key and certificate
 * swap or a rollover activation that a crash interrupted is completed.
 */
int pki_tp_open(struct pki_ctx *ctx, const struct pki_tp_config *cfg,
		const char *dir, struct pki_trustpoint **out,
		struct pki_error *err);

/**
 * pki_tp_free - cancel everything in flight and free the trustpoint
 * @tp: trustpoint (may be NULL)
 *
 * Callbacks of cancelled operations are not called. Safe from inside any
 * of this trustpoint's callbacks.
 */
void pki_tp_free(struct pki_trustpoint *tp);

/** pki_tp_name - the trustpoint's name */
const char *pki_tp_name(const struct pki_trustpoint *tp);

/** pki_tp_is_authenticated - has a CA cert matching the pin been accepted? */
bool pki_tp_is_authenticated(const struct pki_trustpoint *tp);

/** pki_tp_has_identity - does the trustpoint hold an identity cert? */
bool pki_tp_has_identity(const struct pki_trustpoint *tp);

enum pki_tp_cert {
	PKI_TP_CERT_CA,
	PKI_TP_CERT_RA_ENC,	/* the cert requests are encrypted to */
	PKI_TP_CERT_RA_SIG,	/* the cert CertReps must be signed by */
	PKI_TP_CERT_IDENTITY,
	PKI_TP_CERT_NEXT_CA,	/* from GetNextCACert */
	PKI_TP_CERT_NEXT_IDENTITY, /* shadow identity from the rollover CA */
};

/**
 * pki_tp_get_cert - copy one of the trustpoint's certificates
 * @tp: trustpoint
 * @which: which one; RA_ENC and RA_SIG give the CA when there is no RA
 * @der: result
 * @err: PKI_ERR_NOT_FOUND when absent
 */
int pki_tp_get_cert(const struct pki_trustpoint *tp, enum pki_tp_cert which,
		    struct pki_buf *der, struct pki_error *err);

/**
 * pki_tp_get_caps - the CA capabilities last fetched
 * @tp: trustpoint
 * @caps: result
 */
void pki_tp_get_caps(const struct pki_trustpoint *tp, struct pki_caps *caps);

/**
 * pki_tp_get_key_spec - the type and size of the trustpoint's key
 * @tp: trustpoint
 * @spec: result
 */
void pki_tp_get_key_spec(const struct pki_trustpoint *tp,
			 struct pki_key_spec *spec);

/** pki_tp_revocation - the recorded revocation-check setting */
enum pki_revocation pki_tp_revocation(const struct pki_trustpoint *tp);

struct pki_tp_stats {
	unsigned in_flight;	/* HTTP requests running */
	unsigned queued;	/* HTTP requests waiting for a slot */
	unsigned clones;	/* proxy clones alive */
	unsigned ops;		/* operations not finished */
	unsigned long enrolled;	/* certificates obtained */
	unsigned long failed;	/* enrollments that ended in an error */
};

/** pki_tp_get_stats - counters for show commands and metrics */
void pki_tp_get_stats(const struct pki_trustpoint *tp, struct pki_tp_stats *st);

/* ------------------------------------------------------------------------ */
/* Asynchronous SCEP operations                                              */
/* ------------------------------------------------------------------------ */

struct pki_auth_result {
	struct pki_error err;
	const uint8_t *ca;		/* the CA cert offered (NULL if none parsed) */
	size_t ca_len;
	uint8_t md5[16];		/* its fingerprints, valid when ca != NULL */
	uint8_t sha1[20];
	uint8_t sha256[32];
	bool ra_enc;			/* a separate encryption RA was chosen */
	bool ra_sig;			/* a separate signature RA was chosen */
	struct pki_caps caps;
};

typedef void pki_auth_cb(const struct pki_auth_result *res, void *arg);
typedef void pki_caps_cb(const struct pki_error *err, const struct pki_caps *caps,
			 void *arg);

struct pki_enroll_result {
	struct pki_error err;
	enum pki_msg_type type;		/* PKCSReq or RenewalReq */
	const uint8_t *cert;		/* issued cert (SUCCESS only) */
	size_t cert_len;
	const struct pki_cert_info *cert_info;	/* pki_cert_inspect() of it, or NULL */
	const uint8_t *ca;		/* the trustpoint's CA cert */
	size_t ca_len;
	const char *txid;
	const char *clone;		/* "Proxy-<TP><n>", or NULL for own enrollment */
	unsigned polls;			/* CertPolls sent */
	uint64_t elapsed_ms;
};

typedef void pki_enroll_cb(const struct pki_enroll_result *res, void *arg);

/* Called each time the CA answers PENDING and a CertPoll is scheduled. */
typedef void pki_pending_cb(struct pki_op *op, unsigned polls,
			    unsigned next_poll_ms, void *arg);

struct pki_nextca_result {
	struct pki_error err;
	const uint8_t *ca;		/* the rollover CA cert */
	size_t ca_len;
	uint8_t sha256[32];
};

typedef void pki_nextca_cb(const struct pki_nextca_result *res, void *arg);

/**
 * pki_tp_fetch_caps - GetCACaps, stored in the trustpoint
 * @tp: trustpoint
 * @cb: called once with the result; an HTTP error status or an empty body
 *      gives known = false and no error, as RFC 8894 asks
 * @arg: for @cb
 * @err: immediate errors
 *
 * Returns a handle for pki_op_cancel(), or NULL with @err set.
 */
struct pki_op *pki_tp_fetch_caps(struct pki_trustpoint *tp, pki_caps_cb *cb,
				 void *arg, struct pki_error *err);

/**
 * pki_tp_authenticate - GetCACaps, GetCACert and pin check
 * @tp: trustpoint
 * @cb: called once; on success the CA (and RA) certs are stored
 * @arg: for @cb
 * @err: immediate errors
 *
 * The result carries the offered CA's fingerprints even when the pin does
 * not match (PKI_ERR_PIN_MISMATCH, reason shows expected and actual) or no
 * pin is configured, so the daemon can print them.
 */
struct pki_op *pki_tp_authenticate(struct pki_trustpoint *tp, pki_auth_cb *cb,
				   void *arg, struct pki_error *err);

/**
 * pki_tp_enroll - enroll the trustpoint's own key (PKCSReq)
 * @tp: authenticated trustpoint with a subject and an RSA key
 * @cb: called once; on success the identity cert is stored (cert.pem)
 * @arg: for @cb
 * @err: immediate errors
 *
 * Signs with a temporary self-signed cert over the trustpoint key.
 */
struct pki_op *pki_tp_enroll(struct pki_trustpoint *tp, pki_enroll_cb *cb,
			     void *arg, struct pki_error *err);

/**
 * pki_tp_renew - re-enroll with the current identity cert (RenewalReq)
 * @tp: trustpoint holding an identity cert
 * @cb: called once; on success the new identity cert replaces the old
 * @arg: for @cb
 * @err: immediate errors
 *
 * Same key, same subject; the SignedData is signed by the identity cert.
 */
struct pki_op *pki_tp_renew(struct pki_trustpoint *tp, pki_enroll_cb *cb,
			    void *arg, struct pki_error *err);

/* How pki_tp_renew_ex() renews the trustpoint's own identity. */
struct pki_renew_opts {
	/*
	 * A new key pair for the new certificate (IOS "auto-enroll ...
	 * regenerate"). It is a shadow key, written to key-new.pem at once so a
	 * PENDING renewal survives a restart, and it replaces key.pem only when
	 * the certificate is installed (key.pem and cert.pem swap so that a
	 * crash leaves one complete pair, finished by pki_tp_open()).
	 */
	bool regenerate;
	/*
	 * PKCSReq signed by a temporary self-signed certificate over the
	 * request key, for CAs that do not advertise Renewal (or an identity
	 * that already expired); otherwise a RenewalReq signed by the current
	 * identity certificate and key.
	 */
	bool pkcsreq;
	/*
	 * Shadow renewal: the request is enveloped to the rollover CA
	 * certificate (ca-next.pem, from pki_tp_get_next_ca()) and the issued
	 * certificate must chain to it. It is kept as the shadow identity
	 * (cert-next.pem, key-next.pem when regenerated) until
	 * pki_tp_activate_rollover(); the current identity stays in use.
	 */
	bool rollover;
};

/**
 * pki_tp_renew_ex - renew the trustpoint's own identity
 * @tp: authenticated trustpoint with a subject and an RSA key; an identity
 *      certificate unless @o->pkcsreq; a rollover CA if @o->rollover
 * @o: how (see struct pki_renew_opts)
 * @cb: called once; on success the new certificate is installed (or kept as
 *      the shadow identity) before @cb runs; res->cert is it
 * @arg: for @cb
 * @err: immediate errors: PKI_ERR_UNSUPPORTED for a RenewalReq the CA's
 *       caps refuse, PKI_ERR_NOT_FOUND without identity or rollover CA
 *
 * The transactionID is derived from the request key, so a regenerated
 * renewal is a new transaction. Generating an RSA key (regenerate) takes
 * tens to hundreds of milliseconds on the caller's loop. On failure the
 * shadow key is removed; on cancellation it is kept for
 * pki_enroll_resume().
 */
struct pki_op *pki_tp_renew_ex(struct pki_trustpoint *tp, const struct pki_renew_opts *o,
			       pki_enroll_cb *cb, void *arg, struct pki_error *err);

/**
 * pki_tp_activate_rollover - make the rollover CA (and shadow identity) current
 * @tp: trustpoint holding a rollover CA certificate
 * @err: PKI_ERR_NOT_FOUND without one, PKI_ERR_IO
 *
 * ca-next.pem becomes ca.pem (RA certificates of the old CA are dropped);
 * a shadow identity becomes cert.pem (and its key key.pem). Without one, an
 * identity issued by the old CA is no identity any more. The configured
 * pin keeps matching: the rollover CA was vouched for by the pinned CA's
 * signature on GetNextCACert, which ca-lineage.txt records.
 */
int pki_tp_activate_rollover(struct pki_trustpoint *tp, struct pki_error *err);

/**
 * pki_proxy_enroll - enroll someone else's CSR (an AP's) through a clone
 * @tp: authenticated trustpoint with an RSA key
 * @csr: DER PKCS#10, forwarded unchanged; inspected first
 * @csr_len: length
 * @cb: called once with the issued cert, the CA cert, txid and clone name
 * @arg: for @cb
 * @err: immediate errors (CSR refused, trustpoint not authenticated)
 *
 * Clones @tp as "Proxy-<TP><n>" for this transaction, signs with @tp's key
 * through a temporary self-signed cert CN=Proxy-<TP><n>, uses the CSR's
 * txid, polls while PENDING, checks the issued cert carries the CSR's key
 * and is issued by the CA, and removes the clone before @cb returns.
 */
struct pki_op *pki_proxy_enroll(struct pki_trustpoint *tp, const uint8_t *csr,
				size_t csr_len, pki_enroll_cb *cb, void *arg,
				struct pki_error *err);

/**
 * pki_proxy_enroll_csr - pki_proxy_enroll() of a request already parsed
 * @tp: as pki_proxy_enroll()
 * @csr: from pki_csr_parse(); the operation takes the parsed request out
 *       of it (a second enrolment of the same @csr fails), the caller still
 *       releases it with pki_csr_free()
 * @cb: as pki_proxy_enroll()
 * @arg: for @cb
 * @err: immediate errors
 *
 * The request is parsed and verified once, by pki_csr_parse(), for the
 * caller's checks and for the enrolment alike.
 */
struct pki_op *pki_proxy_enroll_csr(struct pki_trustpoint *tp, struct pki_csr *csr,
				    pki_enroll_cb *cb, void *arg, struct pki_error *err);

/**
 * pki_tp_get_next_ca - GetNextCACert: fetch and verify the rollover CA
 * @tp: authenticated trustpoint
 * @cb: called once; on success the cert is stored (ca-next.pem) and the
 *      lineage from the current CA to it recorded; a CA that answers with
 *      its current certificate has no rollover CA yet (PKI_ERR_NOT_FOUND)
 * @arg: for @cb
 * @err: immediate errors
 */
struct pki_op *pki_tp_get_next_ca(struct pki_trustpoint *tp, pki_nextca_cb *cb,
				  void *arg, struct pki_error *err);

/**
 * pki_op_set_pending_cb - be told about PENDING answers of an enrollment
 * @op: enrollment handle
 * @cb: callback (NULL to stop)
 */
void pki_op_set_pending_cb(struct pki_op *op, pki_pending_cb *cb);

/**
 * pki_op_cancel - abandon an operation; its callback is not called
 * @op: handle (may be NULL). From the op's pending callback the op ends when
 *      that callback returns; from its completion callback this is a no-op.
 */
void pki_op_cancel(struct pki_op *op);

/**
 * pki_op_export - serialise an enrollment's transaction state as JSON
 * @op: enrollment handle (typically after a PENDING)
 * @json: NUL-terminated text; release with free()
 * @err: error output
 *
 * Holds txid, message type, CSR, the temporary signer cert (not its key:
 * that is the trustpoint key), the last nonce, poll count and next poll
 * time (wall clock), clone name. Nothing secret beyond the CSR.
 */
int pki_op_export(const struct pki_op *op, char **json, struct pki_error *err);

/**
 * pki_enroll_resume - continue an exported enrollment (e.g. after a restart)
 * @tp: the same trustpoint (same key) the state was exported from
 * @json: pki_op_export() output
 * @cb: completion callback
 * @arg: for @cb
 * @err: immediate errors (state unparsable, key differs)
 *
 * Sends the next CertPoll when the exported next poll time is reached.
 */
struct pki_op *pki_enroll_resume(struct pki_trustpoint *tp, const char *json,
				 pki_enroll_cb *cb, void *arg,
				 struct pki_error *err);

#endif /* LSCD_PKI_H */
