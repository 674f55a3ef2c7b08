/*
 * libFuzzer target: the configuration loader (lscd.json). Every input is
 * parsed as a whole file; whatever it says, the loader must return a config
 * or errors that name a path, never crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ctrl/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cfg_errors errs;
	struct lscd_config *cfg;

	memset(&errs, 0, sizeof(errs));
	/* "/nonexistent": relative paths in the input resolve to files that do
	 * not exist, so the loader's file checks run and fail cleanly. */
	cfg = cfg_load_buffer("fuzz.json", "/nonexistent", (const char *)data, size, &errs);
	if (cfg != NULL) {
		/* a config that loaded must answer its own questions */
		uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 1 };
		cfg_lsc_applies(cfg, mac);
		cfg_trustpoint(cfg, cfg->management_trustpoint);
		cfg_free(cfg);
	} else if (errs.n == 0) {
		__builtin_trap();       /* refused without saying why */
	}
	return 0;
}
