/*
 * config_file.c — operator changes that persist in lscd.json (provision
 * list entries, the provisioning mode).
 *
 * The file is the operator's: it is read again rather than regenerated
 * from the running config, only the one key changes, key order is kept,
 * and the result must pass the same validation as a load before it
 * replaces the original (by rename, so a crash leaves one or the other).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "capwap/capwap.h"
#include "ctrl/config.h"
#include "ctrl/config_int.h"

struct doc {
	const char *path;          /* as the caller named it, for messages */
	char *real;                /* the file itself, symlinks resolved */
	char dir[PATH_MAX];
	struct stat st;
	json_t *root;
	json_t *lsc;               /* root.lsc_provision, created if absent */
};

static void doc_free(struct doc *d)
{
	free(d->real);
	json_decref(d->root);
}

static bool doc_read(struct doc *d, const char *path, struct cfg_errors *errs)
{
	json_error_t je;
	int fd;

	memset(d, 0, sizeof(*d));
	d->path = path;
	errs->n = 0;
	/* Edit the target of a symlink, not replace the link with a file. */
	d->real = realpath(path, NULL);
	if (!d->real) {
		cfg_err(errs, "%s: %s", path, strerror(errno));
		return false;
	}
	if (!cfg_dir_of(d->real, d->dir, sizeof(d->dir), errs))
		return false;
	fd = open(d->real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		cfg_err(errs, "%s: %s", path, strerror(errno));
		return false;
	}
	if (fstat(fd, &d->st) < 0 || !S_ISREG(d->st.st_mode)) {
		cfg_err(errs, "%s: not a regular file", path);
		close(fd);
		return false;
	}
	if (d->st.st_mode & S_IWOTH) {
		cfg_err(errs, "%s: world-writable (mode %04o): refusing to use it (chmod o-w)",
			path, (unsigned)(d->st.st_mode & 07777));
		close(fd);
		return false;
	}
	d->root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &je);
	close(fd);
	if (!d->root) {
		cfg_err(errs, "%s:%d:%d: %s", path, je.line, je.column, je.text);
		return false;
	}
	if (!json_is_object(d->root)) {
		cfg_err(errs, "%s: top level: expected an object", path);
		return false;
	}
	d->lsc = json_object_get(d->root, "lsc_provision");
	if (!d->lsc) {
		d->lsc = json_object();
		if (!d->lsc || json_object_set_new(d->root, "lsc_provision", d->lsc) < 0) {
			cfg_err(errs, "%s: out of memory", path);
			return false;
		}
	} else if (!json_is_object(d->lsc)) {
		cfg_err(errs, "%s: lsc_provision: expected an object", path);
		return false;
	}
	return true;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Validate, write <path>.tmp with the original's mode and owner, rename. */
static bool doc_write(struct doc *d, struct cfg_errors *errs)
{
	struct lscd_config *check;
	char tmp[PATH_MAX + 8];
	char *text = NULL;
	bool ok = false;
	int fd, dfd;

	check = cfg_load_json(d->root, d->path, d->dir, errs);
	if (!check)
		return false;
	cfg_free(check);

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", d->real) >= sizeof(tmp)) {
		cfg_err(errs, "%s: path too long", d->path);
		return false;
	}
	text = json_dumps(d->root, JSON_PRESERVE_ORDER | JSON_INDENT(2));
	if (!text) {
		cfg_err(errs, "%s: out of memory", d->path);
		return false;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		cfg_err(errs, "%s: %s", tmp, strerror(errno));
		free(text);
		return false;
	}
	/* Owner first: fchown may clear set-id bits that fchmod then restores. */
	if (fchown(fd, d->st.st_uid, d->st.st_gid) < 0 && errno != EPERM)
		cfg_err(errs, "%s: chown: %s", tmp, strerror(errno));
	else if (fchmod(fd, d->st.st_mode & 07777) < 0)
		cfg_err(errs, "%s: chmod: %s", tmp, strerror(errno));
	else if (!write_all(fd, text, strlen(text)) || !write_all(fd, "\n", 1))
		cfg_err(errs, "%s: write: %s", tmp, strerror(errno));
	else if (fsync(fd) < 0)
		cfg_err(errs, "%s: fsync: %s", tmp, strerror(errno));
	else
		ok = true;
	if (close(fd) < 0 && ok) {
		cfg_err(errs, "%s: close: %s", tmp, strerror(errno));
		ok = false;
	}
	free(text);
	if (ok && rename(tmp, d->real) < 0) {
		cfg_err(errs, "%s: rename to %s: %s", tmp, d->real, strerror(errno));
		ok = false;
	}
	if (!ok) {
		unlink(tmp);
		return false;
	}
	/* The rename itself must survive a power cut. */
	dfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return true;
}

static json_t *inline_list(struct doc *d, bool create, struct cfg_errors *errs)
{
	json_t *list = json_object_get(d->lsc, "provision_list");

	if (!list && create) {
		list = json_array();
		if (!list || json_object_set_new(d->lsc, "provision_list", list) < 0) {
			cfg_err(errs, "%s: out of memory", d->path);
			return NULL;
		}
	}
	if (list && !json_is_array(list)) {
		cfg_err(errs, "%s: lsc_provision.provision_list: expected an array", d->path);
		return NULL;
	}
	return list;
}

static bool entry_is(const json_t *e, const uint8_t mac[6])
{
	uint8_t m[6];

	return json_is_string(e) &&
	       capwap_mac_parse(json_string_value(e), json_string_length(e), m) &&
	       !memcmp(m, mac, 6);
}

bool cfg_file_add_macs(const char *path, const uint8_t (*macs)[6], size_t n, bool *added,
		       struct cfg_errors *errs)
{
	char dotted[18];
	const char *bad;
	struct doc d;
	json_t *list, *e;
	size_t i, k, n_added = 0;
	bool ok = false;

	for (k = 0; k < n; k++)
		added[k] = false;
	if (!doc_read(&d, path, errs))
		goto out;
	for (k = 0; k < n; k++) {
		if ((bad = cfg_mac_unusable(macs[k]))) {
			capwap_mac_format(macs[k], CAPWAP_MAC_DOTTED, dotted);
			cfg_err(errs, "%s: lsc_provision.provision_list: %s is %s, not an AP's",
				path, dotted, bad);
			goto out;
		}
	}
	if (!(list = inline_list(&d, true, errs)))
		goto out;
	for (k = 0; k < n; k++) {
		bool present = false;
		json_array_foreach(list, i, e) {
			if (entry_is(e, macs[k])) {
				present = true;
				break;
			}
		}
		if (present)
			continue;
		capwap_mac_format(macs[k], CAPWAP_MAC_DOTTED, dotted);
		if (json_array_append_new(list, json_string(dotted)) < 0) {
			cfg_err(errs, "%s: out of memory", path);
			goto out;
		}
		added[k] = true;
		n_added++;
	}
	/* One validated rewrite for the whole batch, however long. */
	ok = n_added == 0 || doc_write(&d, errs);
	if (!ok)
		for (k = 0; k < n; k++)
			added[k] = false;
out:
	doc_free(&d);
	return ok;
}

bool cfg_file_add_mac(const char *path, const uint8_t mac[6], bool *changed,
		      struct cfg_errors *errs)
{
	const uint8_t (*one)[6] = (const uint8_t (*)[6])mac;
	*changed = false;
	return cfg_file_add_macs(path, one, 1, changed, errs);
}

/* Is mac in the operator's provision_list_file? Errors if it cannot tell. */
static bool in_list_file(struct doc *d, const uint8_t mac[6], bool *found,
			 struct cfg_errors *errs)
{
	json_t *f = json_object_get(d->lsc, "provision_list_file");
	struct cfg_errors ferrs;
	uint8_t (*macs)[6] = NULL;
	char *file;
	size_t n = 0, i;

	*found = false;
	if (!f)
		return true;
	if (!json_is_string(f)) {
		cfg_err(errs, "%s: lsc_provision.provision_list_file: expected a string", d->path);
		return false;
	}
	if (json_string_value(f)[0] == '/')
		file = strdup(json_string_value(f));
	else if (asprintf(&file, "%s/%s", d->dir, json_string_value(f)) < 0)
		file = NULL;
	if (!file) {
		cfg_err(errs, "%s: out of memory", d->path);
		return false;
	}
	if (access(file, R_OK) < 0) {
		cfg_err(errs, "%s: lsc_provision.provision_list_file: %s: %s", d->path, file,
			strerror(errno));
		free(file);
		return false;
	}
	/* Bad lines are the file's business, reported on load; the good ones count. */
	ferrs.n = 0;
	cfg_parse_mac_file(file, &macs, &n, &ferrs);
	for (i = 0; i < n; i++)
		if (!memcmp(macs[i], mac, 6))
			*found = true;
	if (*found) {
		char dotted[18];

		capwap_mac_format(mac, CAPWAP_MAC_DOTTED, dotted);
		cfg_err(errs, "%s: lsc_provision.provision_list_file: %s is listed in %s, "
			"which lscd does not rewrite: remove it there", d->path, dotted, file);
	}
	free(file);
	free(macs);
	return true;
}

bool cfg_file_remove_mac(const char *path, const uint8_t mac[6], bool *changed,
			 struct cfg_errors *errs)
{
	struct doc d;
	json_t *list;
	bool ok = false, found;
	size_t i;

	*changed = false;
	if (!doc_read(&d, path, errs))
		goto out;
	/* Removing it inline would leave the AP listed through the file:
	 * refuse rather than half-do what the operator asked. */
	if (!in_list_file(&d, mac, &found, errs) || found)
		goto out;
	list = json_object_get(d.lsc, "provision_list");
	if (!list) {
		ok = true;
		goto out;
	}
	if (!(list = inline_list(&d, false, errs)))
		goto out;
	for (i = json_array_size(list); i-- > 0;) {
		if (entry_is(json_array_get(list, i), mac)) {
			json_array_remove(list, i);
			*changed = true;
		}
	}
	ok = *changed ? doc_write(&d, errs) : true;
	if (!ok)
		*changed = false;
out:
	doc_free(&d);
	return ok;
}

bool cfg_file_set_mode(const char *path, enum cfg_lsc_mode mode, struct cfg_errors *errs)
{
	const char *name = cfg_lsc_mode_name(mode);
	struct doc d;
	json_t *cur;
	bool ok = false;

	if (!strcmp(name, "?")) {
		errs->n = 0;
		cfg_err(errs, "%s: lsc_provision.mode: no such mode (%d)", path, (int)mode);
		return false;
	}
	if (!doc_read(&d, path, errs))
		goto out;
	cur = json_object_get(d.lsc, "mode");
	if (json_is_string(cur) && !strcmp(json_string_value(cur), name)) {
		ok = true;
		goto out;
	}
	if (json_object_set_new(d.lsc, "mode", json_string(name)) < 0) {
		cfg_err(errs, "%s: out of memory", path);
		goto out;
	}
	ok = doc_write(&d, errs);
out:
	doc_free(&d);
	return ok;
}
