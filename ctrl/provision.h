/*
 * provision.h — LSC provisioning policy: which AP gets certificate
 * parameters, checking the CSR it sends back, proxy enrolment through the
 * provisioning trustpoint, delivery of the CA root and the device
 * certificate, join-attempt counters and the guard against an endless
 * provision → reboot → MIC fallback loop.
 */
#ifndef LSCD_PROVISION_H
#define LSCD_PROVISION_H

#include <stdbool.h>
#include <stdint.h>

#include "ctrl/lscd.h"

struct prov_stats {
	uint64_t params_sent;
	uint64_t csrs_accepted;
	uint64_t csrs_refused;
	uint64_t enrollments_started;
	uint64_t enrollments_succeeded;
	uint64_t enrollments_failed;
	uint64_t certs_delivered;
	uint64_t certs_undelivered;
	uint64_t mic_fallbacks;
	uint64_t lsc_join_failures;
	uint64_t loops_suspected;
	uint64_t duplicate_serials;
	/* CA latency of finished enrolments, for metrics: sum and buckets. */
	uint64_t ca_latency_count;
	double ca_latency_sum_s;
	uint64_t ca_latency_le[8];     /* ≤ 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 s */
};

extern const double prov_latency_bounds[8];

/* Install the hooks into d and prepare; call after the store is open. */
bool prov_start(struct lscd *d, char *err, size_t errlen);
void prov_stop(struct lscd *d);

/* The provisioning trustpoint's CA became available: provision the APs
 * that are waiting in Run. Also (re)checks the loop warnings. */
void prov_trustpoint_ready(struct lscd *d);

/*
 * prov_renewal_sweep - re-provision the connected APs whose LSC came due
 * for renewal (ctrl/lifecycle.c's AP timer); returns when the next
 * connected AP comes due (wall clock), or INT64_MAX when none will.
 */
int64_t prov_renewal_sweep(struct lscd *d);

/* At start and reload: warn loudly about configurations that provision
 * APs into a loop. */
void prov_check_config(struct lscd *d);

/* Operator: forget the loop guard for mac and provision it again now if it
 * is connected (reason for the audit trail). false + why if impossible. */
bool prov_request(struct lscd *d, const uint8_t mac[6], char *why, size_t whylen);

/* Enrolments in flight at the CA. */
unsigned prov_in_flight(const struct lscd *d);
const struct prov_stats *prov_get_stats(const struct lscd *d);

#endif /* LSCD_PROVISION_H */
