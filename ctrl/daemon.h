/*
 * daemon.h — starting, reloading and stopping lscd.
 */
#ifndef LSCD_DAEMON_H
#define LSCD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "ctrl/lscd.h"

#define LSCD_DEFAULT_CONFIG "/etc/lscd/lscd.json"

struct lscd_options {
	const char *config_path;
	bool check_only;
	bool debug;
	bool verbose;
	int64_t time_offset_s;
};

/* Run the daemon until told to stop; the process exit status. */
int lscd_run(const struct lscd_options *opts);

/* Load the configuration file again and apply it; on any error the running
 * configuration stays and the errors are logged (and returned in errs). */
bool lscd_reload(struct lscd *d, struct cfg_errors *errs);

#endif /* LSCD_DAEMON_H */
