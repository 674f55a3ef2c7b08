/*
 * log.c — the daemon's log. The settings are process-wide, as syslog's
 * are. The event loop logs; so may the state store's checkpointer thread
 * (ctrl/store.c): a line is built on the caller's stack and written in one
 * call, the level is atomic, and the syslog probe below takes a lock.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "capwap/capwap.h"
#include "ctrl/log.h"

#define LOG_LIMIT_WINDOW_MS 10000
/* Without a syslog daemon, glibc's syslog() tries socket, connect and close
 * again for every line (3 % of lscd's CPU in a burst of joins): probe once,
 * stop calling it, and look again this often. */
#define SYSLOG_PROBE_S      60

static struct {
	_Atomic int level;             /* enum cfg_log_level */
	bool to_stderr;
	bool to_syslog;                /* configured */
	const char *ident;
	pthread_mutex_t lock;          /* guards the three below */
	bool syslog_up;                /* /dev/log answered the last probe */
	time_t syslog_probed;          /* monotonic seconds */
	bool syslog_said;              /* its absence is in the log already */
} logger = { CFG_LOG_INFO, true, false, "lscd", PTHREAD_MUTEX_INITIALIZER, false, 0, false };

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

static time_t mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Does anything listen on /dev/log? (glibc's syslog() tries the same two.) */
static bool syslog_listening(void)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = _PATH_LOG };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
		close(fd);
		if (rc == 0)
			return true;
	}
	return false;
}

void log_init(const char *ident, enum cfg_log_level level, bool to_stderr, bool to_syslog)
{
	logger.ident = ident;
	atomic_store(&logger.level, (int)level);
	logger.to_stderr = to_stderr;
	logger.to_syslog = to_syslog;
	logger.syslog_up = to_syslog && syslog_listening();
	logger.syslog_probed = mono_s();
	logger.syslog_said = false;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum cfg_log_level level)
{
	atomic_store(&logger.level, (int)level);
}

enum cfg_log_level log_get_level(void)
{
	return (enum cfg_log_level)atomic_load(&logger.level);
}

/* Whether to call syslog() for this line; *note is set when the line should
 * be followed by one saying that syslog went away or came back. */
static bool syslog_usable(const char **note)
{
	bool up;

	*note = NULL;
	pthread_mutex_lock(&logger.lock);
	if (!logger.syslog_up) {
		time_t now = mono_s();
		if (now - logger.syslog_probed >= SYSLOG_PROBE_S) {
			logger.syslog_probed = now;
			logger.syslog_up = syslog_listening();
			if (logger.syslog_up && logger.syslog_said) {
				logger.syslog_said = false;
				*note = "syslog: " _PATH_LOG " answers again: logging to syslog";
			}
		}
		if (!logger.syslog_up && !logger.syslog_said) {
			logger.syslog_said = true;
			*note = "syslog: nothing listens on " _PATH_LOG ": not logging to syslog until something "
				"does (looked for again every minute)";
		}
	}
	up = logger.syslog_up;
	pthread_mutex_unlock(&logger.lock);
	return up;
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

static void to_stderr(enum cfg_log_level level, const char *prefix, const char *line)
{
	struct timeval tv;
	struct tm tm;
	char stamp[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s[%d]: %s: %s%s\n", stamp, (long)(tv.tv_usec / 1000),
		logger.ident, (int)getpid(), level_names[level], prefix, line);
}

static void emit(enum cfg_log_level level, const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];

	if ((int)level > atomic_load(&logger.level))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* One event, one line: a peer-supplied newline must not forge another. */
	for (char *p = line; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (logger.to_stderr)
		to_stderr(level, prefix, line);
	if (logger.to_syslog) {
		const char *note;
		bool up = syslog_usable(&note);
		if (up)
			syslog(syslog_priority[level], "%s%s", prefix, line);
		if (note != NULL && logger.to_stderr)
			to_stderr(CFG_LOG_WARNING, "", note);
		if (note != NULL && up)
			syslog(LOG_WARNING, "%s", note);
	}
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
