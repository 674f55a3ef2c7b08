/*
 * control.c — the control socket: lscctl's only way into the daemon.
 *
 * Requests are lines of JSON on a Unix stream socket (mode 0660: the
 * daemon's group are its operators). Each line is validated completely —
 * known command, argument count, every argument converted to its type —
 * before anything runs, so the commands below see typed values only.
 * Show commands answer with show.c's data; operator commands persist their
 * change (lscd.json or the state database) and say what changed.
 *
 * Everything runs on the daemon's event loop: a client that sends without
 * reading is stopped once its unread answers pass a bound, and a line
 * longer than CTL_MAX_REQUEST closes the connection.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "ctrl/control.h"
#include "ctrl/daemon.h"
#include "ctrl/provision.h"
#include "ctrl/show.h"
#include "ctrl/store.h"

/* Stop reading a connection's requests while this much of its answers is unread. */
#define CTL_MAX_PENDING_OUTPUT (8 * 1024 * 1024)
#define CTL_IDLE_TIMEOUT_S     120

const struct ctl_command ctl_commands[] = {
	{ "show ap summary", CTL_SHOW_AP_SUMMARY, 0, 0, { 0 } },
	{ "show ap lsc-provision summary", CTL_SHOW_LSC_SUMMARY, 0, 0, { 0 } },
	{ "show ap lsc-provision status", CTL_SHOW_LSC_STATUS, 0, 1, { CTL_ARG_MAC } },
	{ "show wireless management trustpoint", CTL_SHOW_MGMT_TRUSTPOINT, 0, 0, { 0 } },
	{ "show crypto pki certificates verbose", CTL_SHOW_PKI_CERTIFICATES, 0, 1, { CTL_ARG_TRUSTPOINT } },
	{ "show crypto pki trustpoints", CTL_SHOW_PKI_TRUSTPOINTS, 0, 0, { 0 } },
	{ "show crypto pki timers", CTL_SHOW_PKI_TIMERS, 0, 0, { 0 } },
	{ "ap provision-list add", CTL_PLIST_ADD, 1, 1, { CTL_ARG_MAC } },
	{ "ap provision-list remove", CTL_PLIST_REMOVE, 1, 1, { CTL_ARG_MAC } },
	{ "ap provision-list import", CTL_PLIST_IMPORT, 2, 2, { CTL_ARG_FILE_NAME, CTL_ARG_CONTENT } },
	{ "ap lsc-provision mode", CTL_LSC_MODE, 1, 1, { CTL_ARG_MODE } },
	{ "ap reprovision", CTL_AP_REPROVISION, 1, 1, { CTL_ARG_MAC } },
	{ "ap reset", CTL_AP_RESET, 1, 1, { CTL_ARG_MAC } },
	{ "reload", CTL_RELOAD, 0, 0, { 0 } },
	{ NULL, 0, 0, 0, { 0 } },
};

struct ctl_conn {
	struct ctl *ctl;
	LIST_ENTRY(ctl_conn) link;
	struct bufferevent *bev;
	long uid;
	bool closing;              /* answer written, then close */
};

struct ctl {
	struct lscd *d;
	struct evconnlistener *lev;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;                 /* the socket we made, so stop unlinks only ours */
	ino_t ino;
	unsigned n_conns;
	LIST_HEAD(, ctl_conn) conns;
};

/* ---- parsing --------------------------------------------------------------- */

/* Peer text in an error message: printable ASCII only, cut short. */
static void quote(char *out, size_t size, const char *s, size_t len)
{
	bool cut = len > size - 1 && size > 4;
	size_t max = cut ? size - 4 : size - 1, o = 0;

	for (size_t i = 0; i < len && o < max; i++)
		out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (cut) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

const struct ctl_command *ctl_command_find(const char *name)
{
	for (const struct ctl_command *c = ctl_commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static bool trustpoint_name_ok(const char *s, size_t len)
{
	if (len == 0 || len >= CFG_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static bool convert_arg(struct ctl_request *req, unsigned i, const char *s, size_t len,
			char *err, size_t errlen)
{
	char q[80];

	quote(q, sizeof(q), s, len);
	switch (req->def->arg[i]) {
	case CTL_ARG_MAC:
		if (!capwap_mac_parse(s, len, req->mac)) {
			snprintf(err, errlen, "argument %u: not a MAC address: \"%s\"", i + 1, q);
			return false;
		}
		req->has_mac = true;
		return true;
	case CTL_ARG_TRUSTPOINT:
		if (!trustpoint_name_ok(s, len)) {
			snprintf(err, errlen, "argument %u: not a trustpoint name: \"%s\"", i + 1, q);
			return false;
		}
		memcpy(req->trustpoint, s, len);
		req->trustpoint[len] = '\0';
		return true;
	case CTL_ARG_MODE:
		for (int m = CFG_LSC_DISABLED; m <= CFG_LSC_PROVISION_LIST; m++) {
			if (strlen(cfg_lsc_mode_name((enum cfg_lsc_mode)m)) == len &&
			    memcmp(cfg_lsc_mode_name((enum cfg_lsc_mode)m), s, len) == 0) {
				req->mode = (enum cfg_lsc_mode)m;
				return true;
			}
		}
		snprintf(err, errlen, "argument %u: no such mode \"%s\" (disabled, all, provision-list)", i + 1, q);
		return false;
	case CTL_ARG_FILE_NAME:
		if (len == 0 || len >= sizeof(req->file_name)) {
			snprintf(err, errlen, "argument %u: a file name of 1 to %zu bytes", i + 1,
				 sizeof(req->file_name) - 1);
			return false;
		}
		for (size_t k = 0; k < len; k++) {
			if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f) {
				snprintf(err, errlen, "argument %u: control character in the file name", i + 1);
				return false;
			}
		}
		memcpy(req->file_name, s, len);
		req->file_name[len] = '\0';
		return true;
	case CTL_ARG_CONTENT:
		req->content = malloc(len + 1);
		if (req->content == NULL) {
			snprintf(err, errlen, "out of memory");
			return false;
		}
		memcpy(req->content, s, len);
		req->content[len] = '\0';
		req->content_len = len;
		return true;
	}
	snprintf(err, errlen, "argument %u: internal error", i + 1);
	return false;
}

bool ctl_request_parse(const uint8_t *buf, size_t len, struct ctl_request *req,
		       char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *v, *cmd = NULL, *args = NULL;
	const char *key;
	char q[80];
	bool ok = false;

	memset(req, 0, sizeof(*req));
	if (len == 0) {
		snprintf(err, errlen, "empty request");
		return false;
	}
	if (len > CTL_MAX_REQUEST) {
		snprintf(err, errlen, "request longer than %d bytes", CTL_MAX_REQUEST);
		return false;
	}
	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		snprintf(err, errlen, "not JSON: %.120s (column %d)", je.text, je.column);
		return false;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "a request is a JSON object: {\"cmd\": \"...\", \"args\": [...]}");
		goto out;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "cmd") == 0) {
			cmd = v;
		} else if (strcmp(key, "args") == 0) {
			args = v;
		} else {
			quote(q, sizeof(q), key, strlen(key));
			snprintf(err, errlen, "unknown key \"%s\" (a request has \"cmd\" and \"args\")", q);
			goto out;
		}
	}
	if (!json_is_string(cmd)) {
		snprintf(err, errlen, "\"cmd\" is required and is a string");
		goto out;
	}
	/* jansson refuses \u0000 unless asked, so the length is the C string's. */
	req->def = ctl_command_find(json_string_value(cmd));
	if (req->def == NULL) {
		quote(q, sizeof(q), json_string_value(cmd), json_string_length(cmd));
		snprintf(err, errlen, "unknown command \"%s\"", q);
		goto out;
	}
	if (args != NULL && !json_is_array(args)) {
		snprintf(err, errlen, "\"args\" is an array of strings");
		goto out;
	}
	size_t n = args != NULL ? json_array_size(args) : 0;
	if (n < req->def->min_args || n > req->def->max_args) {
		if (req->def->min_args == req->def->max_args)
			snprintf(err, errlen, "%s: takes %u argument%s, got %zu", req->def->name,
				 req->def->min_args, req->def->min_args == 1 ? "" : "s", n);
		else
			snprintf(err, errlen, "%s: takes %u to %u arguments, got %zu", req->def->name,
				 req->def->min_args, req->def->max_args, n);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *a = json_array_get(args, i);
		if (!json_is_string(a)) {
			snprintf(err, errlen, "argument %zu: not a string", i + 1);
			goto out;
		}
		if (!convert_arg(req, (unsigned)i, json_string_value(a), json_string_length(a), err, errlen))
			goto out;
	}
	req->n_args = (unsigned)n;
	ok = true;
out:
	json_decref(root);
	if (!ok) {
		free(req->content);
		req->content = NULL;
		req->def = NULL;
	}
	return ok;
}

void ctl_request_free(struct ctl_request *req)
{
	if (req->content != NULL)
		explicit_bzero(req->content, req->content_len);
	free(req->content);
	req->content = NULL;
}

/* ---- responses -------------------------------------------------------------- */

static char *ok_response(json_t *data)
{
	json_t *r;
	char *line;

	if (data == NULL)
		return NULL;
	r = json_object();
	json_object_set_new(r, "ok", json_true());
	json_object_set_new(r, "data", data);
	line = json_dumps(r, JSON_COMPACT);
	json_decref(r);
	return line;
}

char *ctl_error_response(const char *error, const char *const *details, size_t n_details)
{
	json_t *r = json_object();
	char *line;

	json_object_set_new(r, "ok", json_false());
	json_object_set_new(r, "error", show_text(error));
	if (n_details > 0) {
		json_t *a = json_array();
		for (size_t i = 0; i < n_details; i++)
			json_array_append_new(a, show_text(details[i]));
		json_object_set_new(r, "details", a);
	}
	line = json_dumps(r, JSON_COMPACT);
	json_decref(r);
	return line;
}

static char *cfg_error_response(const char *error, const struct cfg_errors *errs)
{
	const char *v[CFG_MAX_ERRORS];
	size_t n = errs->n < CFG_MAX_ERRORS ? errs->n : CFG_MAX_ERRORS;

	for (size_t i = 0; i < n; i++)
		v[i] = errs->msg[i];
	return ctl_error_response(error, v, n);
}

/* ---- operator commands ---------------------------------------------------------- */

static void mac_text(const uint8_t mac[6], char out[18])
{
	capwap_mac_format(mac, CAPWAP_MAC_COLON, out);
}

static const char *mode_hint(const struct lscd *d)
{
	return d->cfg->lsc.mode == CFG_LSC_PROVISION_LIST ? ""
	       : d->cfg->lsc.mode == CFG_LSC_ALL ? " (mode is all: the list matters in mode provision-list)"
						 : " (provisioning is disabled)";
}

/* After an edit of lscd.json: make the running configuration follow. */
static char *reload_failed(struct lscd *d, const char *what, const struct cfg_errors *errs)
{
	char msg[320];

	snprintf(msg, sizeof(msg), "%.200s was written to %.80s, but the reload failed; the running "
		 "configuration is kept", what, d->config_path);
	return cfg_error_response(msg, errs);
}

/* What every answer to an edit carries: the running state after it. */
static char *edit_response(struct lscd *d, json_t *data, const char *msg, bool reloaded)
{
	json_object_set_new(data, "message", show_text(msg));
	json_object_set_new(data, "reloaded", json_boolean(reloaded));
	json_object_set_new(data, "mode", json_string(cfg_lsc_mode_name(d->cfg->lsc.mode)));
	json_object_set_new(data, "provision_list_count", json_integer((json_int_t)d->cfg->lsc.n_macs));
	return ok_response(data);
}

static char *plist_edit(struct lscd *d, const struct ctl_request *req, bool add, long uid)
{
	struct cfg_errors errs = { 0 };
	bool changed = false, ok;
	char mac[18], msg[256];

	mac_text(req->mac, mac);
	ok = add ? cfg_file_add_mac(d->config_path, req->mac, &changed, &errs)
		 : cfg_file_remove_mac(d->config_path, req->mac, &changed, &errs);
	if (!ok) {
		snprintf(msg, sizeof(msg), "%s not %s the provision list", mac, add ? "added to" : "removed from");
		return cfg_error_response(msg, &errs);
	}
	if (!changed) {
		json_t *data = json_object();
		json_object_set_new(data, "mac", json_string(mac));
		json_object_set_new(data, "changed", json_false());
		snprintf(msg, sizeof(msg), "%s %s on the provision list; nothing changed", mac,
			 add ? "is already" : "was not");
		return edit_response(d, data, msg, false);
	}
	store_audit(d->store, req->mac, add ? "operator-list-add" : "operator-list-remove",
		    "%s the provision list by uid %ld", add ? "added to" : "removed from", uid);
	log_ap(CFG_LOG_INFO, req->mac, "%s the provision list in %s by the operator (uid %ld)",
	       add ? "added to" : "removed from", d->config_path, uid);
	if (!lscd_reload(d, &errs))
		return reload_failed(d, add ? "the addition" : "the removal", &errs);
	json_t *data = json_object();
	json_object_set_new(data, "mac", json_string(mac));
	json_object_set_new(data, "changed", json_true());
	snprintf(msg, sizeof(msg), "%s %s the provision list; %zu APs listed%s", mac,
		 add ? "added to" : "removed from", d->cfg->lsc.n_macs, mode_hint(d));
	return edit_response(d, data, msg, true);
}

static int cmp_mac6(const void *a, const void *b)
{
	return memcmp(a, b, 6);
}

/* The operator's file came over the socket (lscctl read it with the
 * operator's rights, so the daemon opens nothing it was named); it is parsed
 * from a private copy so that one parser reads every provision-list file. */
static char *plist_import(struct lscd *d, const struct ctl_request *req, long uid)
{
	struct cfg_errors errs = { 0 };
	uint8_t (*macs)[6] = NULL;
	size_t n = 0;
	char tmp[600], msg[320];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/import-XXXXXX", d->cfg->state_dir);
	fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(msg, sizeof(msg), "cannot make a temporary file in %.200s: %s", d->cfg->state_dir,
			 strerror(errno));
		return ctl_error_response(msg, NULL, 0);
	}
	size_t off = 0;
	while (off < req->content_len) {
		ssize_t k = write(fd, req->content + off, req->content_len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	close(fd);
	if (off < req->content_len) {
		unlink(tmp);
		return ctl_error_response("cannot write the temporary copy of the file", NULL, 0);
	}
	cfg_parse_mac_file(tmp, &macs, &n, &errs);
	unlink(tmp);

	json_t *data = json_object(), *bad = json_array(), *added = json_array();
	size_t tmplen = strlen(tmp);
	for (size_t i = 0; i < errs.n && i < CFG_MAX_ERRORS; i++) {
		/* Name the operator's file, not our copy. */
		char line[sizeof(errs.msg[0]) + CTL_FILE_NAME_MAX];
		if (strncmp(errs.msg[i], tmp, tmplen) == 0)
			snprintf(line, sizeof(line), "%s%s", req->file_name, errs.msg[i] + tmplen);
		else
			lscd_copy(line, sizeof(line), errs.msg[i]);
		json_array_append_new(bad, show_text(line));
	}
	if (n > 1) {
		qsort(macs, n, 6, cmp_mac6);
		size_t o = 1;
		for (size_t i = 1; i < n; i++)
			if (memcmp(macs[i], macs[o - 1], 6) != 0)
				memcpy(macs[o++], macs[i], 6);
		n = o;
	}
	/* Listed already (inline or in provision_list_file): left out. */
	size_t already = 0, todo = 0;
	for (size_t i = 0; i < n; i++) {
		if (cfg_mac_listed(d->cfg, macs[i]))
			already++;
		else
			memcpy(macs[todo++], macs[i], 6);
	}
	bool *was_added = calloc(todo ? todo : 1, sizeof(*was_added));
	struct cfg_errors e = { 0 };
	if (was_added == NULL || !cfg_file_add_macs(d->config_path, (const uint8_t (*)[6])macs, todo,
						    was_added, &e)) {
		snprintf(msg, sizeof(msg), "import of %.100s refused: nothing added", req->file_name);
		json_decref(data);
		json_decref(bad);
		json_decref(added);
		free(macs);
		free(was_added);
		return cfg_error_response(msg, &e);
	}
	for (size_t i = 0; i < todo; i++) {
		char mac[18];
		if (!was_added[i]) {
			already++;
			continue;
		}
		mac_text(macs[i], mac);
		json_array_append_new(added, json_string(mac));
		store_audit(d->store, macs[i], "operator-list-add",
			    "added to the provision list by uid %ld (import of %.100s)", uid, req->file_name);
	}
	free(was_added);
	free(macs);
	json_object_set_new(data, "file", show_text(req->file_name));
	json_object_set_new(data, "macs_in_file", json_integer((json_int_t)n));
	json_object_set_new(data, "already_listed", json_integer((json_int_t)already));
	json_object_set_new(data, "bad_lines", bad);
	size_t n_added = json_array_size(added), n_bad = json_array_size(bad);
	json_object_set_new(data, "added", added);
	log_info("provision list: %zu MACs added from %s by the operator (uid %ld), %zu already listed, "
		 "%zu bad entries", n_added, req->file_name, uid, already, n_bad);
	if (n_added == 0) {
		snprintf(msg, sizeof(msg), "%zu MACs in %.100s, none new%s", n, req->file_name,
			 n_bad ? "; see the bad lines" : "");
		return edit_response(d, data, msg, false);
	}
	if (!lscd_reload(d, &errs)) {
		json_decref(data);
		return reload_failed(d, "the import", &errs);
	}
	snprintf(msg, sizeof(msg), "%zu MACs added from %.100s (%zu already listed, %zu bad entries); "
		 "%zu APs listed%s", n_added, req->file_name, already, n_bad, d->cfg->lsc.n_macs,
		 mode_hint(d));
	return edit_response(d, data, msg, true);
}

static char *set_mode(struct lscd *d, const struct ctl_request *req, long uid)
{
	struct cfg_errors errs = { 0 };
	enum cfg_lsc_mode before = d->cfg->lsc.mode;
	char msg[256];

	if (!cfg_file_set_mode(d->config_path, req->mode, &errs))
		return cfg_error_response("mode not changed", &errs);
	log_info("LSC provisioning mode set to %s (was %s) by the operator (uid %ld)",
		 cfg_lsc_mode_name(req->mode), cfg_lsc_mode_name(before), uid);
	store_audit(d->store, NULL, "operator-mode", "mode %s (was %s) by uid %ld",
		    cfg_lsc_mode_name(req->mode), cfg_lsc_mode_name(before), uid);
	if (!lscd_reload(d, &errs))
		return reload_failed(d, "the mode", &errs);
	json_t *data = json_object();
	json_object_set_new(data, "previous", json_string(cfg_lsc_mode_name(before)));
	json_object_set_new(data, "changed", json_boolean(before != req->mode));
	snprintf(msg, sizeof(msg), "LSC provisioning mode %s (was %s)", cfg_lsc_mode_name(req->mode),
		 cfg_lsc_mode_name(before));
	return edit_response(d, data, msg, true);
}

static char *reprovision(struct lscd *d, const struct ctl_request *req, long uid)
{
	char why[256], mac[18];
	struct store_ap rec;

	mac_text(req->mac, mac);
	if (!prov_request(d, req->mac, why, sizeof(why))) {
		char msg[320];
		snprintf(msg, sizeof(msg), "%s: %.250s", mac, why);
		return ctl_error_response(msg, NULL, 0);
	}
	log_ap(CFG_LOG_INFO, req->mac, "re-provisioning requested by the operator (uid %ld): %s", uid, why);
	json_t *data = json_object();
	json_object_set_new(data, "mac", json_string(mac));
	json_object_set_new(data, "message", show_text(why));
	if (store_ap_get(d->store, req->mac, &rec)) {
		json_object_set_new(data, "loop_suspected", json_boolean(rec.loop_suspected));
		json_object_set_new(data, "prov_state", json_string(store_prov_state_name(rec.prov_state)));
	}
	json_object_set_new(data, "connected", json_boolean(ac_find_by_mac(d, req->mac) != NULL));
	return ok_response(data);
}

static char *reset(struct lscd *d, const struct ctl_request *req, long uid)
{
	char mac[18], msg[256];
	struct wtp *w = ac_find_by_mac(d, req->mac);

	mac_text(req->mac, mac);
	if (w == NULL) {
		snprintf(msg, sizeof(msg), "AP %s is not connected", mac);
		return ctl_error_response(msg, NULL, 0);
	}
	if (w->state != WTP_RUN) {
		snprintf(msg, sizeof(msg), "AP %s is in state %s, not Run: try again when it is", mac,
			 wtp_state_name(w->state));
		return ctl_error_response(msg, NULL, 0);
	}
	if (!wtp_request_reset(w)) {
		snprintf(msg, sizeof(msg), "AP %s has a request outstanding: try again in a moment", mac);
		return ctl_error_response(msg, NULL, 0);
	}
	log_ap(CFG_LOG_INFO, req->mac, "Reset Request sent at the operator's request (uid %ld)", uid);
	store_audit(d->store, req->mac, "operator-reset", "Reset Request sent by uid %ld", uid);
	json_t *data = json_object();
	json_object_set_new(data, "mac", json_string(mac));
	snprintf(msg, sizeof(msg), "Reset Request sent to %s; it reboots and joins again", mac);
	json_object_set_new(data, "message", json_string(msg));
	return ok_response(data);
}

static char *reload(struct lscd *d, long uid)
{
	struct cfg_errors errs = { 0 };
	char msg[320];

	log_info("reload requested over the control socket (uid %ld)", uid);
	if (!lscd_reload(d, &errs)) {
		snprintf(msg, sizeof(msg), "configuration not reloaded from %.200s; the running configuration "
			 "is kept", d->config_path);
		return cfg_error_response(msg, &errs);
	}
	json_t *data = json_object();
	snprintf(msg, sizeof(msg), "configuration reloaded from %.200s", d->config_path);
	json_object_set_new(data, "message", json_string(msg));
	json_object_set_new(data, "mode", json_string(cfg_lsc_mode_name(d->cfg->lsc.mode)));
	json_object_set_new(data, "provision_list_count", json_integer((json_int_t)d->cfg->lsc.n_macs));
	return ok_response(data);
}

char *ctl_execute(struct lscd *d, const struct ctl_request *req, long uid)
{
	char err[320] = "out of memory";
	json_t *data = NULL;

	switch (req->def->cmd) {
	case CTL_SHOW_AP_SUMMARY:
		data = show_ap_summary(d, err, sizeof(err));
		break;
	case CTL_SHOW_LSC_SUMMARY:
		data = show_lsc_summary(d, err, sizeof(err));
		break;
	case CTL_SHOW_LSC_STATUS:
		data = show_lsc_status(d, req->has_mac ? req->mac : NULL, CTL_AUDIT_LINES, err, sizeof(err));
		break;
	case CTL_SHOW_MGMT_TRUSTPOINT:
		data = show_mgmt_trustpoint(d, err, sizeof(err));
		break;
	case CTL_SHOW_PKI_CERTIFICATES:
		data = show_pki_certificates(d, req->trustpoint, err, sizeof(err));
		break;
	case CTL_SHOW_PKI_TRUSTPOINTS:
		data = show_pki_trustpoints(d, err, sizeof(err));
		break;
	case CTL_SHOW_PKI_TIMERS:
		data = show_pki_timers(d, err, sizeof(err));
		break;
	case CTL_PLIST_ADD:
		return plist_edit(d, req, true, uid);
	case CTL_PLIST_REMOVE:
		return plist_edit(d, req, false, uid);
	case CTL_PLIST_IMPORT:
		return plist_import(d, req, uid);
	case CTL_LSC_MODE:
		return set_mode(d, req, uid);
	case CTL_AP_REPROVISION:
		return reprovision(d, req, uid);
	case CTL_AP_RESET:
		return reset(d, req, uid);
	case CTL_RELOAD:
		return reload(d, uid);
	}
	return data != NULL ? ok_response(data) : ctl_error_response(err, NULL, 0);
}

/* ---- connections --------------------------------------------------------------- */

static void conn_free(struct ctl_conn *c)
{
	LIST_REMOVE(c, link);
	c->ctl->n_conns--;
	bufferevent_free(c->bev);
	free(c);
}

static void conn_reply(struct ctl_conn *c, char *line)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (line == NULL) {
		static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\"}";
		evbuffer_add(out, oom, sizeof(oom) - 1);
	} else {
		evbuffer_add(out, line, strlen(line));
		free(line);
	}
	evbuffer_add(out, "\n", 1);
}

/* Answer, then close once the answer is out. */
static void conn_fail(struct ctl_conn *c, const char *why)
{
	conn_reply(c, ctl_error_response(why, NULL, 0));
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_drain(bufferevent_get_input(c->bev), evbuffer_get_length(bufferevent_get_input(c->bev)));
}

static void conn_too_long(struct ctl_conn *c)
{
	char why[80];
	snprintf(why, sizeof(why), "request longer than %d bytes: closing", CTL_MAX_REQUEST);
	conn_fail(c, why);
}

static void conn_request(struct ctl_conn *c, const uint8_t *line, size_t len)
{
	struct ctl_request req;
	char err[320];

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (!ctl_request_parse(line, len, &req, err, sizeof(err))) {
		log_debug("control: uid %ld: request refused: %s", c->uid, err);
		conn_reply(c, ctl_error_response(err, NULL, 0));
		ctl_request_free(&req);
		return;
	}
	if (strncmp(req.def->name, "show ", 5) != 0)
		log_debug("control: uid %ld: %s", c->uid, req.def->name);
	conn_reply(c, ctl_execute(c->ctl->d, &req, c->uid));
	ctl_request_free(&req);
}

static void conn_process(struct ctl_conn *c, bool eof)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	while (!c->closing) {
		if (evbuffer_get_length(out) > CTL_MAX_PENDING_OUTPUT) {
			/* on_write resumes once the client has read its answers */
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		size_t eol_len = 0, have = evbuffer_get_length(in);
		struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (p.pos < 0) {
			if (have > CTL_MAX_REQUEST) {
				conn_too_long(c);
				return;
			}
			if (!eof || have == 0)
				return;
			/* A last request without its newline. */
			p.pos = (ev_ssize_t)have;
			eol_len = 0;
			c->closing = true;
		}
		size_t len = (size_t)p.pos;
		if (len > CTL_MAX_REQUEST) {
			conn_too_long(c);
			return;
		}
		if (len == 0) {
			evbuffer_drain(in, eol_len);
			conn_reply(c, ctl_error_response("empty request", NULL, 0));
			continue;
		}
		const uint8_t *line = evbuffer_pullup(in, (ev_ssize_t)len);
		if (line == NULL) {
			conn_fail(c, "out of memory");
			return;
		}
		conn_request(c, line, len);
		evbuffer_drain(in, len + eol_len);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process(arg, false);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;

	/* Called when the output has drained. */
	if (c->closing) {
		conn_free(c);
		return;
	}
	if (!(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		conn_process(c, false);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_conn *c = arg;

	if ((what & BEV_EVENT_EOF) && !(what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))) {
		/* The client may shut down its side and still wait for the answer. */
		if (!c->closing && evbuffer_get_length(bufferevent_get_input(bev)) > 0)
			conn_process(c, true);
		c->closing = true;
		bufferevent_disable(bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
			return;     /* on_write frees it */
	}
	conn_free(c);
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct ctl *ctl = arg;
	struct ucred uc = { .uid = (uid_t)-1 };
	socklen_t uclen = sizeof(uc);
	(void)lev;
	(void)sa;
	(void)salen;

	if (ctl->n_conns >= CTL_MAX_CONNS) {
		static const char busy[] = "{\"ok\":false,\"error\":\"too many control connections (32): try again\"}\n";
		ssize_t k = send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)k;
		evutil_closesocket(fd);
		log_limited(&ctl->d->lim_limits, lscd_now_ms(), CFG_LOG_WARNING,
			    "control socket: %d connections already open; one refused", CTL_MAX_CONNS);
		return;
	}
	getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &uclen);
	struct ctl_conn *c = calloc(1, sizeof(*c));
	struct bufferevent *bev = bufferevent_socket_new(ctl->d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c == NULL || bev == NULL) {
		free(c);
		if (bev != NULL)
			bufferevent_free(bev);
		else
			evutil_closesocket(fd);
		log_error("control socket: out of memory");
		return;
	}
	c->ctl = ctl;
	c->bev = bev;
	c->uid = uc.uid == (uid_t)-1 ? -1 : (long)uc.uid;
	LIST_INSERT_HEAD(&ctl->conns, c, link);
	ctl->n_conns++;
	struct timeval idle = { .tv_sec = CTL_IDLE_TIMEOUT_S };
	bufferevent_set_timeouts(bev, &idle, &idle);
	bufferevent_setcb(bev, on_read, on_write, on_event, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_listener_error(struct evconnlistener *lev, void *arg)
{
	struct ctl *ctl = arg;
	(void)lev;
	/* EMFILE and the like: the listener retries on the next readiness. */
	log_limited(&ctl->d->lim_limits, lscd_now_ms(), CFG_LOG_WARNING, "control socket %s: accept: %s",
		    ctl->path, strerror(errno));
}

/* ---- the socket ------------------------------------------------------------------ */

/* A socket file left by a previous run is removed; one that still answers
 * belongs to a running daemon and is left alone. */
static bool clear_stale(const char *path, const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return true;
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		return false;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "control socket %s: exists and is not a socket: refusing to replace it",
			 path);
		return false;
	}
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (const struct sockaddr *)sun, sizeof(*sun)) == 0) {
		close(probe);
		snprintf(err, errlen, "control socket %s: another process (another lscd?) is answering on it",
			 path);
		return false;
	}
	if (probe >= 0)
		close(probe);
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "control socket %s: cannot remove the stale socket: %s", path,
			 strerror(errno));
		return false;
	}
	return true;
}

bool ctl_start(struct lscd *d, char *err, size_t errlen)
{
	const char *path = d->cfg->control_socket;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ctl *ctl;
	struct stat st;
	char dir[sizeof(sun.sun_path)];
	int fd;

	if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket \"%.200s\": empty or longer than %zu bytes",
			 path ? path : "", sizeof(sun.sun_path) - 1);
		return false;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* The default lives under /run/lscd, which a fresh boot does not have. */
	lscd_copy(dir, sizeof(dir), path);
	const char *parent = dirname(dir);
	if (stat(parent, &st) != 0 && errno == ENOENT && mkdir(parent, 0750) != 0) {
		snprintf(err, errlen, "control socket %s: cannot create %s: %s", path, parent, strerror(errno));
		return false;
	}
	if (!clear_stale(path, &sun, err, errlen))
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		return false;
	}
	/* Never visible with wider rights than the final 0660, not even briefly. */
	mode_t old = umask(0117);
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	int bind_errno = errno;
	umask(old);
	if (rc != 0) {
		snprintf(err, errlen, "control socket %s: bind: %s", path, strerror(bind_errno));
		close(fd);
		return false;
	}
	if (chmod(path, 0660) != 0 || lstat(path, &st) != 0 || listen(fd, 16) != 0) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return false;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL) {
		close(fd);
		unlink(path);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	ctl->d = d;
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	lscd_copy(ctl->path, sizeof(ctl->path), path);
	LIST_INIT(&ctl->conns);
	ctl->lev = evconnlistener_new(d->base, on_accept, ctl, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
				      -1, fd);
	if (ctl->lev == NULL) {
		close(fd);
		unlink(path);
		free(ctl);
		snprintf(err, errlen, "control socket %s: cannot listen", path);
		return false;
	}
	evconnlistener_set_error_cb(ctl->lev, on_listener_error);
	d->ctl = ctl;
	log_info("control socket %s (mode 0660)", path);
	return true;
}

void ctl_stop(struct lscd *d)
{
	struct ctl *ctl = d->ctl;
	struct ctl_conn *c;
	struct stat st;

	if (ctl == NULL)
		return;
	while ((c = LIST_FIRST(&ctl->conns)) != NULL)
		conn_free(c);
	evconnlistener_free(ctl->lev);
	/* Leave a socket that a newer daemon put there alone. */
	if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl);
	d->ctl = NULL;
}
