/*
 * metrics.h — Prometheus text exposition and a JSON status summary over
 * HTTP (libevent evhttp), at metrics.listen; off unless configured.
 */
#ifndef LSCD_METRICS_H
#define LSCD_METRICS_H

#include <stdbool.h>
#include <stddef.h>

struct lscd;
struct evbuffer;

/* Serve GET /metrics and GET /status when d->cfg enables metrics; a
 * configured listener that cannot be bound is an error. */
bool metrics_start(struct lscd *d, char *err, size_t errlen);
void metrics_stop(struct lscd *d);

/* Append the exposition text (format 0.0.4) for d's current state to out. */
bool metrics_render(struct lscd *d, struct evbuffer *out);

/*
 * metrics_escape_label - a label value as the text format writes it
 * (backslash, double quote and newline escaped). Returns false, with out
 * cut short but terminated, when out is too small.
 */
bool metrics_escape_label(const char *in, char *out, size_t outlen);

#endif /* LSCD_METRICS_H */
