/*
 * control.h — the control socket lscctl(8) talks to (docs/control-protocol.md).
 *
 * A Unix stream socket on the daemon's event loop. One request per line, a
 * compact JSON object {"cmd": "show ap summary", "args": [...]}; one
 * response per request, a compact JSON object on one line:
 * {"ok": true, "data": ...} or {"ok": false, "error": "...", "details": [...]}.
 */
#ifndef LSCD_CONTROL_H
#define LSCD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrl/config.h"

struct lscd;

/* A request line longer than this is refused and the connection closed; it
 * is sized for an imported provision-list file (~30000 MACs). */
#define CTL_MAX_REQUEST   (1024 * 1024)
/* Connections at once; the next one is told so and closed. */
#define CTL_MAX_CONNS     32
#define CTL_MAX_ARGS      2
#define CTL_FILE_NAME_MAX 256
/* Audit lines shown with "show ap lsc-provision status <mac>". */
#define CTL_AUDIT_LINES   20

enum ctl_cmd {
	CTL_SHOW_AP_SUMMARY,
	CTL_SHOW_LSC_SUMMARY,
	CTL_SHOW_LSC_STATUS,
	CTL_SHOW_MGMT_TRUSTPOINT,
	CTL_SHOW_PKI_CERTIFICATES,
	CTL_SHOW_PKI_TRUSTPOINTS,
	CTL_SHOW_PKI_TIMERS,
	CTL_PLIST_ADD,
	CTL_PLIST_REMOVE,
	CTL_PLIST_IMPORT,
	CTL_LSC_MODE,
	CTL_AP_REPROVISION,
	CTL_AP_RESET,
	CTL_RELOAD,
};

enum ctl_arg {
	CTL_ARG_MAC,               /* any notation capwap_mac_parse accepts */
	CTL_ARG_TRUSTPOINT,        /* 1..63 of [A-Za-z0-9_.-] */
	CTL_ARG_MODE,              /* disabled | all | provision-list */
	CTL_ARG_FILE_NAME,         /* how the operator named a file: for messages */
	CTL_ARG_CONTENT,           /* a file's contents, as text */
};

struct ctl_command {
	const char *name;          /* "show ap lsc-provision status" */
	enum ctl_cmd cmd;
	unsigned min_args;
	unsigned max_args;
	enum ctl_arg arg[CTL_MAX_ARGS];
};

/* Every command the daemon accepts, ending with a NULL name. */
extern const struct ctl_command ctl_commands[];

/* A validated request: each argument already converted to its type. */
struct ctl_request {
	const struct ctl_command *def;
	unsigned n_args;
	bool has_mac;
	uint8_t mac[6];
	enum cfg_lsc_mode mode;
	char trustpoint[CFG_NAME_MAX];  /* "" when not given */
	char file_name[CTL_FILE_NAME_MAX];
	char *content;                  /* malloc'd, NUL-terminated; NULL when absent */
	size_t content_len;
};

/*
 * ctl_request_parse - validate one request line and convert its arguments
 * @buf: the line, without its newline; need not be NUL-terminated
 * @len: its length
 * @req: result; free with ctl_request_free() whatever the outcome
 * @err: why the request was refused, for the error response
 * @errlen: size of @err
 *
 * Needs no socket and no daemon: the fuzz target calls it directly.
 */
bool ctl_request_parse(const uint8_t *buf, size_t len, struct ctl_request *req,
		       char *err, size_t errlen);
void ctl_request_free(struct ctl_request *req);

/* The command called name (exact), or NULL. */
const struct ctl_command *ctl_command_find(const char *name);

/*
 * ctl_start - create the control socket named in d->cfg and serve it
 *
 * Refuses to take over a socket another process still answers on, and
 * anything at the path that is not a socket. Mode 0660.
 */
bool ctl_start(struct lscd *d, char *err, size_t errlen);
/* Close every connection and the socket, and unlink it. */
void ctl_stop(struct lscd *d);

/*
 * ctl_execute - run one validated request against the daemon
 *
 * Returns the response line (compact JSON, no newline; caller frees), or
 * NULL when out of memory. uid is the peer's, for the audit trail.
 */
char *ctl_execute(struct lscd *d, const struct ctl_request *req, long uid);

/* An error response line (caller frees). details may be NULL. */
char *ctl_error_response(const char *error, const char *const *details, size_t n_details);

#endif /* LSCD_CONTROL_H */
