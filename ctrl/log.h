/*
 * log.h — one line per event, to stderr and/or syslog, with levels. Lines
 * about an AP carry its MAC in one fixed form so that grep finds them all.
 * Private keys, challenge passwords and CSR bodies are never passed here.
 */
#ifndef LSCD_LOG_H
#define LSCD_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "ctrl/config.h"

void log_init(const char *ident, enum cfg_log_level level, bool to_stderr, bool to_syslog);
void log_set_level(enum cfg_log_level level);
enum cfg_log_level log_get_level(void);
bool log_level_parse(const char *name, enum cfg_log_level *level);

void log_msg(enum cfg_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "ap 28:6f:7f:cf:53:ac: <message>" */
void log_ap(enum cfg_log_level level, const uint8_t mac[6], const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(CFG_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(CFG_LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(CFG_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(CFG_LOG_DEBUG, __VA_ARGS__)

/*
 * Hostile or broken peers can cause the same complaint per packet; a
 * limiter lets the first line of a kind through per interval and counts
 * the rest, which the next line that gets through reports.
 */
struct log_limiter {
	int64_t window_start_ms;
	unsigned suppressed;
};

void log_limited(struct log_limiter *lim, int64_t now_ms, enum cfg_log_level level,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif /* LSCD_LOG_H */
