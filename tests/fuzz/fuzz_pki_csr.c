/*
 * tests/fuzz/fuzz_pki_csr.c - libFuzzer target for pki_csr_inspect(), the
 * parser that reads a CSR an access point sent (hostile input).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "pki/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct pki_csr_info info;
	struct pki_error err;

	if (!ready) {
		if (pki_init(NULL) < 0)
			abort();
		ready = 1;
	}
	(void)pki_csr_inspect(data, size, &info, &err);
	return 0;
}
