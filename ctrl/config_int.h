/*
 * config_int.h — shared by ctrl/config*.c and nothing else: the error
 * helper, MAC list helpers and the loader entry that works on a parsed
 * document (so an edit can be validated before it reaches the disk).
 */
#ifndef LSCD_CONFIG_INT_H
#define LSCD_CONFIG_INT_H

#include <jansson.h>

#include "ctrl/config.h"

/* Append one message; past CFG_MAX_ERRORS the last slot says so. */
void cfg_err(struct cfg_errors *errs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* s[0..len) as a double-quoted, escaped, length-capped string for messages. */
void cfg_quote(char *out, size_t size, const char *s, size_t len);

/* Why mac cannot be an AP's (multicast, broadcast, all zero), or NULL. */
const char *cfg_mac_unusable(const uint8_t mac[6]);

/* Sort and remove duplicates in place. */
void cfg_mac_sort_unique(uint8_t (*macs)[6], size_t *n);

/* Append one MAC, growing the array; false when out of memory. */
bool cfg_mac_append(uint8_t (**macs)[6], size_t *n, size_t *cap, const uint8_t mac[6]);

/*
 * Validate a parsed document as the contents of file (errors are named
 * after it; relative paths resolve against dir). Does not take root.
 */
struct lscd_config *cfg_load_json(json_t *root, const char *file, const char *dir,
				  struct cfg_errors *errs);

/* The canonical directory holding path (for relative paths), into out. */
bool cfg_dir_of(const char *path, char *out, size_t size, struct cfg_errors *errs);

#endif /* LSCD_CONFIG_INT_H */
