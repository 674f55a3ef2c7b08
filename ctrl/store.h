/*
 * store.h — lscd's state in SQLite (WAL): AP records with their join and
 * provisioning counters, issued certificates, and an audit trail of every
 * provisioning step. Each call is its own transaction (or part of an
 * explicit one), so kill -9 at any point leaves a consistent database.
 */
#ifndef LSCD_STORE_H
#define LSCD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* Where an AP is in LSC provisioning. Stored as the name. */
enum store_prov_state {
	STORE_PROV_NONE,           /* nothing done (not eligible, or never seen in Run) */
	STORE_PROV_PARAMS_SENT,    /* certificate parameters sent, waiting for the CSR */
	STORE_PROV_ENROLLING,      /* CSR accepted, enrolment at the CA in progress */
	STORE_PROV_CERT_SENT,      /* root and device certificates delivered */
	STORE_PROV_PROVISIONED,    /* the AP joined with the issued LSC */
	STORE_PROV_FAILED,         /* last attempt failed (reason in last_failure) */
	STORE_PROV_LOOP_SUSPECTED, /* re-provisioned too often: stopped */
};

struct store_ap {
	uint8_t mac[6];
	char name[65];
	char model[65];
	char serial[65];
	char last_address[64];
	int64_t first_seen;        /* seconds since the epoch */
	int64_t last_seen;
	int64_t last_join;
	char last_cert_type[4];    /* "MIC", "LSC", "" */
	enum store_prov_state prov_state;
	uint32_t txid;             /* of the enrolment in progress */
	/* counters */
	uint32_t mic_joins;
	uint32_t lsc_joins;
	uint32_t lsc_join_failures;  /* DTLS failures with an LSC, joins that never completed */
	uint32_t mic_fallbacks;      /* MIC joins after an LSC was issued */
	uint32_t provisions;         /* LSCs issued, ever */
	uint32_t reprovisions_in_window;
	int64_t reprovision_window_start;
	bool loop_suspected;
	char last_failure[256];
	int64_t last_failure_at;
	bool reprovision_requested;  /* operator asked for it */
};

struct store_cert {
	uint8_t mac[6];
	char serial_hex[64];
	char sha256_hex[65];
	char sha1_hex[41];
	char subject[256];
	char issuer[256];
	int64_t not_before;
	int64_t not_after;
	int64_t issued_at;
	bool current;
};

struct store_audit {
	int64_t id;
	int64_t at;                /* seconds since the epoch */
	uint8_t mac[6];            /* all zero for events about no AP */
	char event[32];            /* "params-sent", "csr-accepted", "enroll-start", … */
	char detail[256];
};

/* Open (create, migrate) the database at path, file mode 0600, WAL. */
struct store *store_open(const char *path, char *err, size_t errlen);
void store_close(struct store *st);

/* SQLite's message for the last call that failed, for the caller's log. */
const char *store_errmsg(struct store *st);

/* Read the AP record for mac; false if there is none (rec zeroed, mac set). */
bool store_ap_get(struct store *st, const uint8_t mac[6], struct store_ap *rec);
/* Insert or replace the whole record. */
bool store_ap_put(struct store *st, const struct store_ap *rec);
/* Visit every AP record in MAC order; stop early when fn returns false.
 * fn may read the store but not start another store_ap_foreach. */
bool store_ap_foreach(struct store *st, bool (*fn)(const struct store_ap *rec, void *arg), void *arg);
size_t store_ap_count(struct store *st);

/*
 * Record a newly issued certificate for mac as its one current LSC (the
 * previous current one, if any, is kept as history). Returns false if the
 * same issuer already issued this serial to another certificate (a CA that
 * issues a serial twice); the record is still stored and *duplicate is set.
 * Serials compare without ':', case or leading zeros. Adding a certificate
 * already recorded for mac (same SHA-256: a retry after a restart) makes it
 * current again without a second row. A bare AP record is created if mac
 * has none. cert->current is ignored. duplicate may be NULL.
 */
bool store_cert_add(struct store *st, const struct store_cert *cert, bool *duplicate);
bool store_cert_current(struct store *st, const uint8_t mac[6], struct store_cert *cert);
size_t store_cert_count_current(struct store *st, const uint8_t mac[6]);

/* Append an audit line (printf format for detail, cut at 255 bytes); mac
 * NULL or all zero for events about no AP. */
bool store_audit(struct store *st, const uint8_t mac[6], const char *event, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Visit audit lines for mac (NULL = all), oldest first, at most limit (0 = all):
 * with a limit, the newest limit lines. An all-zero mac selects the lines
 * about no AP. */
bool store_audit_foreach(struct store *st, const uint8_t *mac, size_t limit,
			 bool (*fn)(const struct store_audit *a, void *arg), void *arg);

/* Small key/value table for daemon state that must survive restarts
 * (serialised SCEP transactions, trustpoint timers). */
bool store_kv_set(struct store *st, const char *key, const char *value);
bool store_kv_get(struct store *st, const char *key, char **value);  /* caller frees */
bool store_kv_delete(struct store *st, const char *key);

/* An explicit transaction around several calls (BEGIN IMMEDIATE); the calls
 * inside keep their own atomicity through savepoints. */
bool store_begin(struct store *st);
bool store_commit(struct store *st);
bool store_rollback(struct store *st);

const char *store_prov_state_name(enum store_prov_state s);
bool store_prov_state_parse(const char *name, enum store_prov_state *s);

#endif /* LSCD_STORE_H */
