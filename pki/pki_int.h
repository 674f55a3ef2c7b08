/*
 * pki/pki_int.h - declarations shared by the files of pki/ only.
 * Nothing outside pki/ includes this header.
 */
#ifndef LSCD_PKI_INT_H
#define LSCD_PKI_INT_H

#include <sys/queue.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/pki.h"

#define PKI_ATTR_PRINTF(a, b) __attribute__((format(printf, a, b)))

struct pki_key {
	EVP_PKEY *pk;
	unsigned refs;
};

/* error.c */
void pki_err_set(struct pki_error *err, enum pki_status st, const char *fmt, ...)
	PKI_ATTR_PRINTF(3, 4);
/* Same, with OpenSSL's last queued reason appended; drains the queue. */
void pki_err_ossl(struct pki_error *err, enum pki_status st, const char *fmt, ...)
	PKI_ATTR_PRINTF(3, 4);
void pki_err_clear(struct pki_error *err);
int pki_buf_set(struct pki_buf *b, const void *data, size_t len);
void pki_hex(const uint8_t *in, size_t len, bool upper, char *out);
uint64_t pki_now_ms(void);

/* key.c */
struct pki_key *pki_key_wrap(EVP_PKEY *pk);	/* takes ownership */
void pki_key_describe(const EVP_PKEY *pk, struct pki_key_spec *spec,
		      char *alg, size_t algsz, char *curve, size_t curvesz);

/* cert.c */
X509 *pki_x509_d2i(const uint8_t *der, size_t len);	/* no trailing bytes */
/* pki_cert_inspect() of a parsed certificate. */
int pki_x509_inspect(X509 *x, struct pki_cert_info *info, struct pki_error *err);
int pki_x509_i2d(X509 *x, struct pki_buf *out);
void pki_name_fill(const X509_NAME *nm, struct pki_name *out);
int pki_x509_issued_by(X509 *cert, X509 *ca);		/* 1 yes, 0 no */
X509 *pki_temp_cert(EVP_PKEY *pk, const X509_NAME *subject, unsigned days,
		    struct pki_error *err);
const EVP_MD *pki_sign_md(EVP_PKEY *pk);	/* NULL for EdDSA */
void pki_x509_fingerprints(X509 *x, uint8_t md5[16], uint8_t sha1[20],
			   uint8_t sha256[32]);

/* subject.c */
X509_NAME *pki_subject_to_name(const struct pki_subject *subj,
			       struct pki_error *err);

/* csr.c */
/* A request parsed and checked once (pki_csr_parse()): an enrolment takes
 * req (and der) from it rather than parsing the DER again. */
struct pki_csr {
	X509_REQ *req;
	struct pki_buf der;
	char txid[PKI_TXID_LEN + 1];
};
X509_REQ *pki_req_d2i(const uint8_t *der, size_t len);
int pki_spki_sha256(EVP_PKEY *pk, uint8_t md[32]);

/* caps.c */
const EVP_MD *pki_digest_md(enum pki_digest d);
const EVP_CIPHER *pki_cipher_evp(enum pki_cipher c);

/* scep_msg.c */
enum pki_scep_oid {
	PKI_OID_MESSAGE_TYPE,
	PKI_OID_PKI_STATUS,
	PKI_OID_FAIL_INFO,
	PKI_OID_SENDER_NONCE,
	PKI_OID_RECIPIENT_NONCE,
	PKI_OID_TRANSACTION_ID,
	PKI_OID_FAIL_INFO_TEXT,
	PKI_OID_COUNT
};
/* OIDs are created per use (no registration in OpenSSL's global table). */
ASN1_OBJECT *pki_scep_oid(enum pki_scep_oid which);
int pki_signed_attr_add(CMS_SignerInfo *si, enum pki_scep_oid which, int type,
			const void *data, int len);
/* Returns the single value of a single-instance signed attribute, or NULL. */
const ASN1_TYPE *pki_signed_attr_get(CMS_SignerInfo *si, enum pki_scep_oid which,
				     bool *duplicate);
int pki_cms_to_buf(CMS_ContentInfo *cms, struct pki_buf *out);
CMS_ContentInfo *pki_cms_d2i(const uint8_t *der, size_t len);
int pki_cms_sign_data(EVP_PKEY *pk, X509 *signer, const EVP_MD *md,
		      const uint8_t *data, size_t len,
		      int (*add_attrs)(CMS_SignerInfo *si, void *arg), void *arg,
		      struct pki_buf *out, struct pki_error *err);
int pki_cms_verify(CMS_ContentInfo *cms, X509 *signer, CMS_SignerInfo **si_out,
		   struct pki_buf *content, bool *has_content,
		   struct pki_error *err);
int pki_certs_from_certs_only(const uint8_t *der, size_t len,
			      STACK_OF(X509) **out);
/*
 * pki_scep_request_build() and pki_scep_certrep_parse() with the CA/RA and
 * our signer certificate already parsed (the DER fields of @req and @exp
 * are not used): a trustpoint keeps them as X509, and decoding a
 * certificate costs a public-key decode in OpenSSL 3. The CertRep's
 * certificates stay parsed too (@certs, caller frees), @rep->certs empty.
 */
int pki_scep_request_build_x(const struct pki_scep_request *req, X509 *recipient,
			     X509 *signer, struct pki_buf *out, struct pki_error *err);
int pki_scep_certrep_parse_x(const uint8_t *der, size_t len,
			     const struct pki_certrep_expect *exp, X509 *signer, X509 *me,
			     struct pki_certrep *rep, STACK_OF(X509) **certs,
			     struct pki_error *err);
/* IssuerAndSubject of a CertPoll from the parsed CA certificate and CSR. */
int pki_issuer_and_subject_x(X509 *ca, X509_REQ *csr, struct pki_buf *out,
			     struct pki_error *err);

/* http.c: libcurl multi driven by libevent */
struct pki_http;
struct pki_http_req;

/* Per-trustpoint bound on requests in flight; the rest wait in FIFO order. */
struct pki_http_limit {
	unsigned max;
	unsigned active;
	unsigned queued;
	TAILQ_HEAD(, pki_http_req) queue;
	struct event *pump_ev;		/* starts lazily built requests, a few per loop turn */
};

struct pki_http_result {
	enum pki_status status;		/* PKI_OK: a 2xx response */
	long code;
	char content_type[96];
	struct pki_buf body;		/* the callee may take it (then zero it) */
	char reason[256];
};

typedef void pki_http_done_fn(struct pki_http_result *res, void *arg);

struct pki_http_opts {
	unsigned timeout_ms;
	unsigned connect_timeout_ms;
	size_t max_body;
	const char *what;		/* "GetCACert" ... for reasons */
};

/*
 * Fills in the URL and body of a request when it gets a slot, so the crypto
 * of queued requests is spread over time instead of stalling the loop in
 * one burst. post->data NULL: GET. Pure: must not call user callbacks.
 */
typedef int pki_http_build_fn(void *arg, char **url, struct pki_buf *post,
			      struct pki_error *err);

struct pki_http *pki_http_new(struct event_base *base);
void pki_http_free(struct pki_http *h);
int pki_http_limit_init(struct pki_http_limit *lim, struct pki_http *h, unsigned max);
void pki_http_limit_cleanup(struct pki_http_limit *lim);
/* post NULL: GET. Never calls done before returning. NULL on setup failure. */
struct pki_http_req *pki_http_request(struct pki_http *h, struct pki_http_limit *lim,
				      const char *url, const struct pki_buf *post,
				      const struct pki_http_opts *opts,
				      pki_http_done_fn *done, void *arg,
				      struct pki_error *err);
/* Same, with URL and body made by build when the request is started. */
struct pki_http_req *pki_http_request_lazy(struct pki_http *h,
					   struct pki_http_limit *lim,
					   pki_http_build_fn *build,
					   const struct pki_http_opts *opts,
					   pki_http_done_fn *done, void *arg,
					   struct pki_error *err);
void pki_http_cancel(struct pki_http_req *req);

/* tp.c / scep_client.c */
struct pki_ctx {
	struct event_base *base;
	struct pki_http *http;
	unsigned n_tps;
};

struct pki_trustpoint {
	struct pki_ctx *ctx;
	struct pki_trustpoint *parent;	/* proxy clones only */
	char name[64];
	char *url;
	char *dir;			/* <dir>/<name>; NULL for clones */
	struct pki_subject subject;
	bool has_subject;
	struct pki_key_spec key_spec;
	struct pki_key *key;
	char *challenge;
	enum pki_revocation revocation;
	uint8_t pin[32];
	bool has_pin;
	unsigned http_timeout_ms;
	unsigned connect_timeout_ms;
	unsigned poll_first_ms;
	unsigned poll_retries;
	unsigned poll_cap_ms;
	X509 *ca, *ra_enc, *ra_sig, *identity, *next_ca;
	/* Shadow identity from a renewal against the rollover CA: waits in
	 * cert-next.pem (and key-next.pem when regenerated, else the trustpoint
	 * key) until pki_tp_activate_rollover(). */
	X509 *next_identity;
	struct pki_key *next_key;
	struct pki_caps caps;
	unsigned clone_seq;
	unsigned n_clones;
	unsigned n_ops;
	unsigned long enrolled, failed;
	struct pki_http_limit limit;	/* root only: clones use the root's */
	TAILQ_HEAD(, pki_op) ops;	/* root only: every op, clones' too */
};

/* State files of a trustpoint directory (tp.c, renew.c). */
#define PKI_FILE_KEY		"key.pem"
#define PKI_FILE_CA		"ca.pem"
#define PKI_FILE_RA_ENC		"ra-enc.pem"
#define PKI_FILE_RA_SIG		"ra-sig.pem"
#define PKI_FILE_IDENTITY	"cert.pem"
#define PKI_FILE_NEXT_CA	"ca-next.pem"
#define PKI_FILE_CAPS		"caps.txt"
#define PKI_FILE_KEY_NEW	"key-new.pem"	/* shadow key of a renewal in flight */
#define PKI_FILE_CERT_NEW	"cert-new.pem"	/* renewed cert while key and cert swap */
#define PKI_FILE_CERT_NEXT	"cert-next.pem"	/* shadow identity from the rollover CA */
#define PKI_FILE_KEY_NEXT	"key-next.pem"	/* its key, when regenerated */
#define PKI_FILE_LINEAGE	"ca-lineage.txt" /* "old-sha256 new-sha256" per rollover */

struct pki_trustpoint *pki_tp_clone(struct pki_trustpoint *root,
				    struct pki_error *err);
void pki_tp_clone_free(struct pki_trustpoint *clone);
int pki_tp_store_cert(struct pki_trustpoint *tp, const char *file, X509 *x,
		      struct pki_error *err);
int pki_tp_store_caps(struct pki_trustpoint *tp, const char *body, size_t len,
		      struct pki_error *err);
void pki_op_cancel_all(struct pki_trustpoint *root);
int pki_tp_path(const struct pki_trustpoint *tp, const char *file, char *out,
		size_t outsz);
/* pki_tp_path(), setting @err ("path too long") when it fails. */
int pki_tp_path_or_err(const struct pki_trustpoint *tp, const char *file, char *out,
		       size_t outsz, struct pki_error *err);
X509 *pki_tp_load_cert(const struct pki_trustpoint *tp, const char *file);

/* renew.c: shadow keys, key/cert swaps, CA rollover and its pin lineage. */
bool pki_tp_pin_accepts(const struct pki_trustpoint *tp, const uint8_t sha256[32]);
int pki_tp_lineage_add(struct pki_trustpoint *tp, X509 *old_ca, X509 *new_ca,
		       struct pki_error *err);
int pki_tp_save_shadow_key(struct pki_trustpoint *tp, const struct pki_key *key,
			   struct pki_error *err);
void pki_tp_drop_shadow_key(struct pki_trustpoint *tp);
struct pki_key *pki_tp_load_shadow_key(struct pki_trustpoint *tp, struct pki_error *err);
/* Install a renewed identity: new_key NULL keeps the trustpoint key. */
int pki_tp_install_identity(struct pki_trustpoint *tp, X509 *cert,
			    struct pki_key *new_key, struct pki_error *err);
/* Keep a shadow identity from the rollover CA until activation. */
int pki_tp_install_next_identity(struct pki_trustpoint *tp, X509 *cert,
				 struct pki_key *new_key, struct pki_error *err);
/* At open: finish a swap or an activation a crash interrupted. */
void pki_tp_recover(struct pki_trustpoint *tp);

/* scep_client.c: one SCEP operation in flight (see there). */
enum op_kind { OP_CAPS, OP_AUTH, OP_ENROLL, OP_NEXTCA };
enum op_state { ST_IDLE, ST_CAPS, ST_CACERT, ST_PKIOP, ST_POLL_WAIT, ST_NEXTCA };

struct pki_op {
	TAILQ_ENTRY(pki_op) link;
	struct pki_trustpoint *root;	/* NULL once detached */
	struct pki_trustpoint *tp;	/* root, or this op's proxy clone */
	enum op_kind kind;
	enum op_state state;
	struct pki_http_req *req;
	struct event *poll_ev;
	bool in_callback;
	bool cancel_requested;
	uint64_t started_ms;
	pki_caps_cb *caps_cb;
	pki_auth_cb *auth_cb;
	pki_enroll_cb *enroll_cb;
	pki_nextca_cb *nextca_cb;
	pki_pending_cb *pending_cb;
	void *arg;

	/* Enrollment transaction: what pki_op_export() writes. */
	enum pki_msg_type msg_type;
	bool proxy;
	bool pending;			/* CA said PENDING: next message is CertPoll */
	bool caps_tried;
	char txid[PKI_TXID_LEN + 1];
	char clone_name[64];
	struct pki_buf csr;
	X509_REQ *csr_req;		/* csr, parsed once */
	EVP_PKEY *csr_pub;		/* its key (a reference of our own) */
	X509 *signer;			/* temp self-signed, or the identity cert */
	struct pki_key *sign_key;	/* signs and decrypts; NULL: the trustpoint key */
	struct pki_key *req_key;	/* the CSR's key when regenerating, else NULL */
	bool rollover;			/* addressed to the rollover CA (ca-next.pem) */
	uint8_t nonce[PKI_NONCE_LEN];
	unsigned polls;
	time_t next_poll_wall;
	char last_poll_error[160];

	/* Results owned by the op until its callback returns. */
	struct pki_buf res_cert;
	struct pki_cert_info res_info;
	bool has_res_info;
	struct pki_buf res_ca;
	struct pki_caps auth_caps;
};

struct pki_op *pki_op_new(struct pki_trustpoint *root, enum op_kind kind,
			  void *arg, struct pki_error *err);
void pki_op_destroy(struct pki_op *op);
int pki_enroll_preflight(struct pki_trustpoint *tp, struct pki_error *err);
int pki_op_proxy_clone(struct pki_op *op, const char *name, struct pki_error *err);
/* Sends the op's next PKIOperation after delay_ms, from the loop. */
int pki_op_arm(struct pki_op *op, unsigned delay_ms);

#endif /* LSCD_PKI_INT_H */
