/*
 * lifecycle.h — certificate lifecycle timers (issue 9), after Cisco IOS PKI
 * (../shared/spec/lifecycle.md) and beyond it:
 *
 *   RENEW     a trustpoint's identity at auto_enroll % of its lifetime:
 *             RenewalReq signed with the current certificate when the CA
 *             advertises Renewal, else PKCSReq; with "regenerate" a shadow
 *             key pair that replaces the active one when the new
 *             certificate is installed; a rejection stops it.
 *   SHADOW    when the CA advertises GetNextCACert: at 90 % of the CA
 *             certificate's lifetime, fetch the rollover CA; or, when the
 *             identity ends together with the CA certificate, at
 *             auto_enroll % fetch it and renew against it (shadow renewal).
 *   ROLLOVER  when the CA certificate ends: the rollover CA and the shadow
 *             identity become current.
 *   POLL      the next CertPoll of an enrollment or renewal the CA answered
 *             PENDING (the back-off is pki/'s).
 *   AP renewal  connected APs whose LSC passes lsc_provision.renew_percent
 *             (spread per AP) are re-provisioned while they stay up.
 *
 * Nothing starts without a trusted clock (clock_valid). Due times are wall
 * clock (lscd_wall_time(), so --time-offset moves them in tests); the
 * libevent timers are re-planned at least hourly so that a clock step does
 * not leave a timer a day late. A PENDING enrollment or renewal is kept in
 * the store's kv table and resumed after a restart; everything else is
 * recomputed from the certificates at start.
 */
#ifndef LSCD_LIFECYCLE_H
#define LSCD_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event;
struct lscd;
struct pki_op;
struct tpm_entry;
struct wtp;

/* ---- timer arithmetic (pure; tests/unit/test_lifecycle.c) --------------- */

/* A certificate's validity, seconds since the epoch. */
struct lc_validity {
	int64_t not_before;
	int64_t not_after;
};

/**
 * lc_share_point - the moment a share of a certificate's lifetime has passed
 * @v: validity
 * @percent: 0..100
 *
 * Returns notBefore + percent × (notAfter − notBefore) / 100, rounded down.
 */
int64_t lc_share_point(const struct lc_validity *v, unsigned percent);

/**
 * lc_ends_with_ca - does an identity certificate end together with its CA's?
 * @id: identity certificate
 * @ca: its CA certificate
 *
 * A CA never issues past its own end, so an identity renewed late in the
 * CA's life is cut to end with it. "Together" is within 1 % of the
 * identity's lifetime (at least a minute) of the CA's end, or after it.
 */
bool lc_ends_with_ca(const struct lc_validity *id, const struct lc_validity *ca);

enum lc_kind { LC_NONE, LC_RENEW, LC_SHADOW };

/**
 * lc_identity_timer - which timer renews an identity, and when
 * @id: identity certificate
 * @ca: its CA certificate
 * @percent: auto_enroll (0: off)
 * @ca_rollover: the CA advertises GetNextCACert
 * @due: the time (auto_enroll % of the identity's lifetime)
 *
 * LC_RENEW when the identity ends before the CA certificate, or when it
 * ends with it but the CA offers no rollover (a renewal then cannot
 * outlive the CA either); LC_SHADOW when it ends with it and the CA rolls
 * over; LC_NONE when auto_enroll is off or the validity is empty.
 */
enum lc_kind lc_identity_timer(const struct lc_validity *id, const struct lc_validity *ca,
			       unsigned percent, bool ca_rollover, int64_t *due);

/**
 * lc_ca_shadow_due - when to fetch the rollover CA (90 % of the CA's life)
 * @ca: the CA certificate
 * @due: result
 *
 * Returns false for an empty validity.
 */
bool lc_ca_shadow_due(const struct lc_validity *ca, int64_t *due);

/**
 * lc_ap_spread - an AP's offset in the renewal spread, from its MAC
 * @mac: the AP's MAC
 * @spread_s: renew_spread_s (0: none)
 *
 * FNV-1a of the MAC modulo @spread_s: stable across restarts and spread
 * evenly over a fleet provisioned at the same moment.
 */
uint32_t lc_ap_spread(const uint8_t mac[6], unsigned spread_s);

/**
 * lc_ap_renew_due - when an AP's LSC is re-provisioned
 * @lsc: the LSC's validity
 * @percent: renew_percent (0: off)
 * @spread_s: renew_spread_s
 * @mac: the AP's MAC
 * @due: result: the percent point plus the AP's spread, or the percent
 *       point alone when the spread would reach the expiry
 *
 * Returns false when renewal is off or the validity is empty.
 */
bool lc_ap_renew_due(const struct lc_validity *lsc, unsigned percent, unsigned spread_s,
		     const uint8_t mac[6], int64_t *due);

/**
 * lc_time_text - "2026-11-23 06:44:36Z"
 * @t: seconds since the epoch
 * @out: output (24 bytes)
 */
const char *lc_time_text(int64_t t, char out[24]);

/* ---- per trustpoint state (in struct tpm_entry) -------------------------- */

enum lc_op_kind { LC_OP_NONE, LC_OP_ENROLL, LC_OP_RENEW, LC_OP_SHADOW, LC_OP_NEXTCA };

struct lc_tp {
	struct event *renew;        /* RENEW */
	struct event *shadow;       /* SHADOW */
	struct event *rollover;     /* ROLLOVER */
	int64_t renew_due;          /* wall clock, seconds; valid while armed */
	int64_t shadow_due;
	int64_t rollover_due;
	bool shadow_renews;         /* SHADOW renews the identity, not only fetches the CA */
	struct pki_op *op;          /* renewal or GetNextCACert in flight */
	enum lc_op_kind op_kind;
	bool polling;               /* an enrollment or renewal is PENDING */
	int64_t poll_due_ms;        /* monotonic */
	unsigned retry_s;           /* back-off after a failure that may pass */
	int64_t retry_at;           /* wall clock: not before then */
	bool stopped;               /* the CA rejected the renewal: an operator must act */
	bool skew;                  /* the CA certificate is not valid by our clock */
	bool warned_capped;         /* said once that renewal cannot outlive the CA */
};

/* Daemon-wide state (in struct tpm). */
struct lc_global {
	bool clock_trusted;
	bool clock_warned;
	struct event *clock_check;  /* clock_valid "ntp": until the kernel is synchronised */
	struct event *ap_sweep;     /* the soonest AP renewal among connected APs */
	int64_t ap_sweep_due;       /* wall clock, seconds; valid while armed */
};

/* ---- the daemon's side ---------------------------------------------------- */

/**
 * lifecycle_start - create the timers; called by tpm_start() before any
 *                   trustpoint takes its first step
 * @d: daemon
 * @err: reason on failure
 * @errlen: size of @err
 */
bool lifecycle_start(struct lscd *d, char *err, size_t errlen);

/** lifecycle_stop - free the timers; in-flight operations end with pki/ */
void lifecycle_stop(struct lscd *d);

/**
 * lifecycle_reload - the configuration was reloaded
 * @d: daemon (d->cfg is the new configuration)
 *
 * Re-reads clock_valid, auto_enroll and regenerate, lifts a stop after a
 * rejected renewal (the reload is the operator's action) and plans every
 * trustpoint and the AP renewals again.
 */
void lifecycle_reload(struct lscd *d);

/**
 * lifecycle_plan - (re)arm a trustpoint's RENEW, SHADOW and ROLLOVER timers
 * @e: trustpoint
 *
 * From its certificates, its CA's capabilities and the configuration;
 * nothing while an operation is in flight, the clock is not trusted or the
 * CA certificate is not yet valid (reported as clock skew).
 */
void lifecycle_plan(struct tpm_entry *e);

/**
 * lifecycle_resume - continue an enrollment or renewal left PENDING by a
 *                    previous run
 * @e: authenticated trustpoint
 *
 * Returns true when one was resumed (the trustpoint then waits for it).
 */
bool lifecycle_resume(struct tpm_entry *e);

/**
 * lifecycle_pending - the CA answered PENDING to an operation of @e
 * @e: trustpoint
 * @op: the operation (exported to the store for a restart)
 * @kind: LC_OP_ENROLL, LC_OP_RENEW or LC_OP_SHADOW
 * @polls: CertPolls so far
 * @next_ms: the next CertPoll in
 */
void lifecycle_pending(struct tpm_entry *e, struct pki_op *op, enum lc_op_kind kind,
		       unsigned polls, unsigned next_ms);

/** lifecycle_op_done - an enrollment of @e ended: forget its saved state */
void lifecycle_op_done(struct tpm_entry *e);

/** lifecycle_clock_trusted - may timers trust the wall clock now? */
bool lifecycle_clock_trusted(const struct lscd *d);

/**
 * lifecycle_ap_renew_due - when a connected AP's LSC is due for renewal
 * @d: daemon
 * @w: the AP's session
 * @due: wall clock seconds
 *
 * False when the AP is not on an LSC, renewal is off, or the clock is not
 * trusted (then no AP renewal runs either).
 */
bool lifecycle_ap_renew_due(const struct lscd *d, const struct wtp *w, int64_t *due);

/**
 * lifecycle_ap_watch - an AP reached Run on an LSC due at @due: make sure
 *                      the AP sweep runs by then
 * @d: daemon
 * @due: wall clock seconds
 */
void lifecycle_ap_watch(struct lscd *d, int64_t due);

/* One timer as `show crypto pki timers` lists it. */
struct lc_timer {
	char name[16];              /* "RENEW", "SHADOW", "ROLLOVER", "POLL" */
	char subject[64];           /* the trustpoint */
	int64_t due;                /* seconds since the epoch, on the daemon's clock */
	int64_t remaining_ms;       /* negative: overdue */
};

/**
 * lifecycle_timers - the trustpoint timers that are armed now
 * @d: daemon
 * @out: array
 * @max: its size
 *
 * Returns how many there are (more than @max when @out is too small; only
 * @max are written). AP renewals are listed by show.c from the sessions.
 */
size_t lifecycle_timers(const struct lscd *d, struct lc_timer *out, size_t max);

#endif /* LSCD_LIFECYCLE_H */
