/*
 * tests/fuzz/fuzz_control_request.c - libFuzzer target for
 * ctl_request_parse(), which reads every line a control-socket client
 * sends before anything runs. No socket, no daemon: the parser converts
 * the request into a struct ctl_request or says why not.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request req;
	char err[320];

	if (ctl_request_parse(data, size, &req, err, sizeof(err))) {
		/* what the commands rely on */
		if (req.def == NULL || req.n_args < req.def->min_args || req.n_args > req.def->max_args)
			abort();
		if (req.content != NULL && req.content[req.content_len] != '\0')
			abort();
		if (strnlen(req.trustpoint, sizeof(req.trustpoint)) == sizeof(req.trustpoint) ||
		    strnlen(req.file_name, sizeof(req.file_name)) == sizeof(req.file_name))
			abort();
	} else if (strnlen(err, sizeof(err)) == sizeof(err)) {
		abort();
	}
	ctl_request_free(&req);
	return 0;
}
