/*
 * log.c — the daemon's log. One process, one thread: the settings are
 * process-wide, as syslog's are.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "capwap/capwap.h"
#include "ctrl/log.h"

#define LOG_LIMIT_WINDOW_MS 10000

static struct {
	enum cfg_log_level level;
	bool to_stderr;
	bool to_syslog;
	const char *ident;
} logger = { CFG_LOG_INFO, true, false, "lscd" };

static const char *const level_names[] = {
	[CFG_LOG_ERROR] = "error",
	[CFG_LOG_WARNING] = "warning",
	[CFG_LOG_INFO] = "info",
	[CFG_LOG_DEBUG] = "debug",
};

static const int syslog_priority[] = {
	[CFG_LOG_ERROR] = LOG_ERR,
	[CFG_LOG_WARNING] = LOG_WARNING,
	[CFG_LOG_INFO] = LOG_INFO,
	[CFG_LOG_DEBUG] = LOG_DEBUG,
};

void log_init(const char *ident, enum cfg_log_level level, bool to_stderr, bool to_syslog)
{
	logger.ident = ident;
	logger.level = level;
	logger.to_stderr = to_stderr;
	logger.to_syslog = to_syslog;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum cfg_log_level level)
{
	logger.level = level;
}

enum cfg_log_level log_get_level(void)
{
	return logger.level;
}

bool log_level_parse(const char *name, enum cfg_log_level *level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*level = (enum cfg_log_level)i;
			return true;
		}
	}
	return false;
}

static void emit(enum cfg_log_level level, const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];

	if (level > logger.level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* One event, one line: a peer-supplied newline must not forge another. */
	for (char *p = line; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (logger.to_stderr) {
		struct timeval tv;
		struct tm tm;
		char stamp[32];
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s[%d]: %s: %s%s\n", stamp, (long)(tv.tv_usec / 1000),
			logger.ident, (int)getpid(), level_names[level], prefix, line);
	}
	if (logger.to_syslog)
		syslog(syslog_priority[level], "%s%s", prefix, line);
}

void log_msg(enum cfg_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(level, "", fmt, ap);
	va_end(ap);
}

void log_ap(enum cfg_log_level level, const uint8_t mac[6], const char *fmt, ...)
{
	char prefix[32], text[18];
	va_list ap;

	capwap_mac_format(mac, CAPWAP_MAC_COLON, text);
	snprintf(prefix, sizeof(prefix), "ap %s: ", text);
	va_start(ap, fmt);
	emit(level, prefix, fmt, ap);
	va_end(ap);
}

void log_limited(struct log_limiter *lim, int64_t now_ms, enum cfg_log_level level,
		 const char *fmt, ...)
{
	char suffix[64] = "";
	char line[768];
	va_list ap;

	if (lim->window_start_ms != 0 && now_ms - lim->window_start_ms < LOG_LIMIT_WINDOW_MS) {
		lim->suppressed++;
		return;
	}
	if (lim->suppressed > 0)
		snprintf(suffix, sizeof(suffix), " (%u similar suppressed in the last %d s)",
			 lim->suppressed, LOG_LIMIT_WINDOW_MS / 1000);
	lim->window_start_ms = now_ms;
	lim->suppressed = 0;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg(level, "%s%s", line, suffix);
}
