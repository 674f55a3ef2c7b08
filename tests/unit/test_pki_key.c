/*
 * tests/unit/test_pki_key.c - key generation, key specs and key files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "pki/pki.h"
#include "test_pki_vectors.h"

static char dir[] = "/tmp/test_pki_key.XXXXXX";

static void test_spec_parse(void **state)
{
	static const struct {
		const char *text;
		enum pki_key_type type;
		unsigned bits;
	} ok[] = {
		{ "rsa2048", PKI_KEY_RSA, 2048 }, { "RSA-3072", PKI_KEY_RSA, 3072 },
		{ "rsa 4096", PKI_KEY_RSA, 4096 }, { "ec256", PKI_KEY_EC, 256 },
		{ "P-384", PKI_KEY_EC, 384 }, { "ecdsa-p256", PKI_KEY_EC, 256 },
		{ "EC-P384", PKI_KEY_EC, 384 },
	};
	static const char *const bad[] = { "rsa1024", "rsa", "ec521", "dsa2048", "", "rsa2048x",
					   "ed25519" };
	struct pki_key_spec s;
	struct pki_error err;
	char text[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(pki_key_spec_parse(ok[i].text, &s, &err), 0);
		assert_int_equal(s.type, ok[i].type);
		assert_int_equal(s.bits, ok[i].bits);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pki_key_spec_parse(bad[i], &s, &err), -1);
		assert_int_equal(err.status, PKI_ERR_UNSUPPORTED);
	}
	s.type = PKI_KEY_EC;
	s.bits = 256;
	assert_string_equal(pki_key_spec_format(&s, text, sizeof(text)), "EC-P256");
	assert_int_equal(pki_key_generate(&(struct pki_key_spec){ PKI_KEY_RSA, 1024 },
					  &(struct pki_key *){ NULL }, &err), -1);
}

static void test_save_mode_0600(void **state)
{
	struct pki_key_spec spec = { PKI_KEY_EC, 256 }, got;
	struct pki_key *k, *l;
	struct pki_buf a, b;
	struct pki_error err;
	char path[256];
	struct stat st;
	mode_t old;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	/* Even a permissive umask must not widen a key file. */
	old = umask(0);
	assert_int_equal(pki_key_generate(&spec, &k, &err), 0);
	assert_int_equal(pki_key_save(k, path, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Replacing a world-readable file leaves a 0600 file. */
	unlink(path);
	f = fopen(path, "w");
	fputs("old", f);
	fclose(f);
	chmod(path, 0644);
	assert_int_equal(pki_key_save(k, path, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	umask(old);
	assert_int_equal(pki_key_load(path, &l, &err), 0);
	pki_key_get_spec(l, &got);
	assert_int_equal(got.type, PKI_KEY_EC);
	assert_int_equal(got.bits, 256);
	assert_int_equal(pki_key_public_der(k, &a, &err), 0);
	assert_int_equal(pki_key_public_der(l, &b, &err), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	pki_buf_free(&a);
	pki_buf_free(&b);
	pki_key_free(l);
	pki_key_free(k);
}

static void test_save_refuses_symlink_tmp(void **state)
{
	struct pki_key_spec spec = { PKI_KEY_EC, 256 };
	struct pki_key *k;
	struct pki_error err;
	char path[256], tmp[300];

	(void)state;
	/* A planted link at the temp name must not be written through. */
	snprintf(path, sizeof(path), "%s/k2.pem", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	assert_int_equal(pki_key_generate(&spec, &k, &err), 0);
	assert_int_equal(symlink("/nonexistent/target", tmp), 0);
	assert_int_equal(pki_key_save(k, path, &err), 0);	/* link removed, O_EXCL file made */
	assert_int_equal(access("/nonexistent/target", F_OK), -1);
	pki_key_free(k);
}

static void test_load_errors(void **state)
{
	static const char enc[] =
		"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
		"MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhUuY9a3yHd2QICCAAw\n"
		"DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEIDt3vC+JvcbbIC7qJbl9HgEQC0H\n"
		"-----END ENCRYPTED PRIVATE KEY-----\n";
	struct pki_key *k;
	struct pki_error err;
	struct pki_buf pem;
	char path[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.pem", dir);
	assert_int_equal(pki_key_load(path, &k, &err), -1);
	assert_int_equal(err.status, PKI_ERR_NOT_FOUND);
	assert_non_null(strstr(err.reason, "missing.pem"));
	/* An encrypted key never prompts on a terminal: it just fails. */
	assert_int_equal(pki_key_from_pem(enc, strlen(enc), &k, &err), -1);
	assert_int_equal(err.status, PKI_ERR_PARSE);
	assert_int_equal(pki_key_from_pem("garbage", 7, &k, &err), -1);
	/* The vector's RSA key loads and round-trips. */
	assert_int_equal(pki_key_from_pem(vec_ap_key_pem, strlen(vec_ap_key_pem), &k, &err), 0);
	assert_int_equal(pki_key_to_pem(k, &pem, &err), 0);
	assert_non_null(strstr((char *)pem.data, "BEGIN PRIVATE KEY"));
	pki_buf_free(&pem);
	assert_ptr_equal(pki_key_ref(k), k);
	pki_key_free(k);
	pki_key_free(k);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_parse),
		cmocka_unit_test(test_save_mode_0600),
		cmocka_unit_test(test_save_refuses_symlink_tmp),
		cmocka_unit_test(test_load_errors),
	};

	assert_int_equal(pki_init(NULL), 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
