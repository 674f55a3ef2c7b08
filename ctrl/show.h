/*
 * show.h — the data of every show command, built from daemon state as
 * jansson objects. This is the one producer: the control socket sends it,
 * lscctl draws its tables from it or prints it with --json, and /status
 * serves part of it. Field names are stable and listed in
 * docs/control-protocol.md.
 */
#ifndef LSCD_SHOW_H
#define LSCD_SHOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ctrl/lscd.h"

/*
 * Each returns a new reference, or NULL with a reason in err (no such AP or
 * trustpoint, out of memory).
 */
json_t *show_ap_summary(struct lscd *d, char *err, size_t errlen);
json_t *show_lsc_summary(struct lscd *d, char *err, size_t errlen);
/* mac NULL: every AP the store knows; else one AP with its audit trail
 * (the newest audit_lines lines). */
json_t *show_lsc_status(struct lscd *d, const uint8_t *mac, size_t audit_lines, char *err,
			size_t errlen);
json_t *show_mgmt_trustpoint(struct lscd *d, char *err, size_t errlen);
/* tp NULL or "": every trustpoint. */
json_t *show_pki_certificates(struct lscd *d, const char *tp, char *err, size_t errlen);
json_t *show_pki_trustpoints(struct lscd *d, char *err, size_t errlen);
json_t *show_pki_timers(struct lscd *d, char *err, size_t errlen);
/* The summary /status serves. */
json_t *show_status(struct lscd *d, char *err, size_t errlen);

/* A JSON string of s ("" for NULL); bytes that are not UTF-8 become '?',
 * since AP names and certificate fields come from peers. */
json_t *show_text(const char *s);

/* ---- timers -------------------------------------------------------------- */

struct show_timer {
	char name[24];             /* "RETRY", "AP-RENEW", "RENEW", "SHADOW", "ROLLOVER", "POLL" */
	char subject[72];          /* the trustpoint, or the AP's MAC */
	int64_t due;               /* seconds since the epoch, on the daemon's clock */
	int64_t remaining_ms;      /* negative: overdue */
};

struct show_timers {
	size_t n;
	size_t cap;
	struct show_timer *t;
};

/*
 * show_timers_collect - every timer lscd runs that an operator cares about,
 * sorted soonest first. Sources are a table in show.c: add a function
 * there to list a new kind. Free with show_timers_free().
 */
bool show_timers_collect(struct lscd *d, struct show_timers *out);
void show_timers_free(struct show_timers *t);
/* Append one timer (for the sources); false when out of memory. */
bool show_timers_add(struct show_timers *t, const char *name, const char *subject, int64_t due,
		     int64_t remaining_ms);

/*
 * show_ap_renew_due - when a connected AP's LSC is due for re-provisioning
 * (wall clock seconds), as ctrl/provision.c decides it; false when it is not
 * on an LSC or renewal is off.
 */
bool show_ap_renew_due(const struct lscd *d, const struct wtp *w, int64_t *due);

/* The certificate type a controller shows for the management trustpoint's
 * certificate: "SSC" self-signed, "LSC" from the LSC trustpoint's CA, else "MIC". */
const char *show_cert_type(struct lscd *d, const uint8_t *der, size_t len);

#endif /* LSCD_SHOW_H */
