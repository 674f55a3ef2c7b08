/*
 * tpm.h — the daemon's trustpoints: opening the SCEP ones, authenticating
 * their CA (with the fingerprint pin), enrolling the controller's own
 * identity, and retrying with back-off while a CA is unreachable. The
 * certificate lifecycle after that (renewal, rollover) is ctrl/lifecycle.c.
 */
#ifndef LSCD_TPM_H
#define LSCD_TPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrl/lifecycle.h"
#include "ctrl/lscd.h"
#include "pki/pki.h"

struct tpm_entry {
	struct lscd *d;
	char name[CFG_NAME_MAX];
	bool enrollment;               /* SCEP trustpoint (else static files) */
	struct pki_trustpoint *tp;     /* SCEP trustpoints only */
	struct pki_op *op;             /* authenticate or enroll in flight */
	struct event *retry;
	unsigned retry_s;              /* current back-off */
	bool authenticated;
	char last_error[320];
	int64_t last_error_at;
	uint8_t offered_sha256[32];    /* the CA last offered by GetCACert */
	bool have_offered;
	struct lc_tp lc;               /* RENEW, SHADOW, ROLLOVER, POLL (ctrl/lifecycle.c) */
};

struct tpm {
	struct pki_ctx *pki;
	struct lc_global lc;           /* clock guard, AP renewal sweep */
	size_t n;
	struct tpm_entry entries[CFG_MAX_TRUSTPOINTS];
};

/* Open every trustpoint of d->cfg and start authenticating/enrolling. */
bool tpm_start(struct lscd *d, char *err, size_t errlen);
void tpm_stop(struct lscd *d);

struct tpm_entry *tpm_find(struct lscd *d, const char *name);

/**
 * tpm_kick - take the next step a trustpoint needs: authenticate, resume a
 *            PENDING enrollment, enroll a missing identity, plan its timers
 * @e: trustpoint
 */
void tpm_kick(struct tpm_entry *e);

/*
 * pki callbacks of a trustpoint's own first enrollment, so that
 * ctrl/lifecycle.c can resume one that was PENDING at the last stop.
 */
void tpm_enrolled(const struct pki_enroll_result *res, void *arg);
void tpm_enroll_pending(struct pki_op *op, unsigned polls, unsigned next_ms, void *arg);

/*
 * A trustpoint's certificate, DER: for SCEP trustpoints what pki holds, for
 * static ones the configured file (which = PKI_TP_CERT_IDENTITY only).
 */
bool tpm_cert(struct lscd *d, const char *name, enum pki_tp_cert which, struct pki_buf *der);

/* Paths of the identity certificate and key, for the DTLS server. */
void tpm_identity_files(const struct lscd_config *cfg, const char *name,
			char *cert, size_t certlen, char *key, size_t keylen);

/* Is the management trustpoint's identity certificate issued by the LSC
 * trustpoint's CA? Sets *known false when either is missing. */
bool tpm_mgmt_signed_by_lsc_ca(struct lscd *d, bool *known);

#endif /* LSCD_TPM_H */
