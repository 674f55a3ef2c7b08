/*
 * pki/error.c - status names, error filling, buffers, files, provider setup.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include "pki/pki_int.h"

static const char *const status_names[] = {
	[PKI_OK] = "OK",
	[PKI_ERR_NOMEM] = "NOMEM",
	[PKI_ERR_INVALID] = "INVALID",
	[PKI_ERR_CONFIG] = "CONFIG",
	[PKI_ERR_IO] = "IO",
	[PKI_ERR_PARSE] = "PARSE",
	[PKI_ERR_CRYPTO] = "CRYPTO",
	[PKI_ERR_UNSUPPORTED] = "UNSUPPORTED",
	[PKI_ERR_NOT_FOUND] = "NOT_FOUND",
	[PKI_ERR_NOT_AUTHENTICATED] = "NOT_AUTHENTICATED",
	[PKI_ERR_BAD_SIGNATURE] = "BAD_SIGNATURE",
	[PKI_ERR_CA_UNREACHABLE] = "CA_UNREACHABLE",
	[PKI_ERR_CA_TIMEOUT] = "CA_TIMEOUT",
	[PKI_ERR_CA_HTTP] = "CA_HTTP",
	[PKI_ERR_CA_GARBAGE] = "CA_GARBAGE",
	[PKI_ERR_CA_REJECTED] = "CA_REJECTED",
	[PKI_ERR_PENDING_EXHAUSTED] = "PENDING_EXHAUSTED",
	[PKI_ERR_NONCE_MISMATCH] = "NONCE_MISMATCH",
	[PKI_ERR_TXID_MISMATCH] = "TXID_MISMATCH",
	[PKI_ERR_NO_MATCHING_CERT] = "NO_MATCHING_CERT",
	[PKI_ERR_WRONG_ISSUER] = "WRONG_ISSUER",
	[PKI_ERR_PIN_MISMATCH] = "PIN_MISMATCH",
	[PKI_ERR_CANCELLED] = "CANCELLED",
};

const char *pki_status_name(enum pki_status st)
{
	if ((unsigned)st < sizeof(status_names) / sizeof(status_names[0]) &&
	    status_names[st])
		return status_names[st];
	return "UNKNOWN";
}

const char *pki_fail_info_name(int fi)
{
	switch (fi) {
	case PKI_FAIL_NONE: return "none";
	case PKI_FAIL_BAD_ALG: return "badAlg";
	case PKI_FAIL_BAD_MESSAGE_CHECK: return "badMessageCheck";
	case PKI_FAIL_BAD_REQUEST: return "badRequest";
	case PKI_FAIL_BAD_TIME: return "badTime";
	case PKI_FAIL_BAD_CERT_ID: return "badCertId";
	}
	return "unknown";
}

void pki_err_clear(struct pki_error *err)
{
	if (!err)
		return;
	err->status = PKI_OK;
	err->http_code = 0;
	err->fail_info = PKI_FAIL_NONE;
	err->reason[0] = '\0';
}

static void err_vset(struct pki_error *err, enum pki_status st, const char *fmt,
		     va_list ap)
{
	err->status = st;
	err->http_code = 0;
	err->fail_info = PKI_FAIL_NONE;
	vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
}

void pki_err_set(struct pki_error *err, enum pki_status st, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	err_vset(err, st, fmt, ap);
	va_end(ap);
}

void pki_err_ossl(struct pki_error *err, enum pki_status st, const char *fmt, ...)
{
	unsigned long e = ERR_peek_last_error();
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		err_vset(err, st, fmt, ap);
		va_end(ap);
		if (e) {
			size_t n = strlen(err->reason);
			const char *r = ERR_reason_error_string(e);

			snprintf(err->reason + n, sizeof(err->reason) - n,
				 " (%s)", r ? r : "openssl error");
		}
	}
	/* A stale queue would blame the next, unrelated failure. */
	ERR_clear_error();
}

int pki_buf_set(struct pki_buf *b, const void *data, size_t len)
{
	/* One extra NUL byte so text bodies can be used as C strings. */
	uint8_t *p = malloc(len + 1);

	if (!p)
		return -1;
	if (len)
		memcpy(p, data, len);
	p[len] = '\0';
	b->data = p;
	b->len = len;
	return 0;
}

void pki_buf_free(struct pki_buf *b)
{
	if (!b)
		return;
	/* Every pki_buf is malloc(len + 1) (see pki_buf_set). */
	if (b->data) {
		explicit_bzero(b->data, b->len + 1);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
}

void pki_hex(const uint8_t *in, size_t len, bool upper, char *out)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

uint64_t pki_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * The only process-wide state of pki/: OpenSSL's provider handles. They are
 * released at exit (or by pki_cleanup()) because OpenSSL does not free an
 * explicitly loaded provider's stores by itself (LeakSanitizer shows it).
 */
static OSSL_PROVIDER *prov_default, *prov_legacy;

void pki_cleanup(void)
{
	if (prov_legacy)
		OSSL_PROVIDER_unload(prov_legacy);
	if (prov_default)
		OSSL_PROVIDER_unload(prov_default);
	prov_legacy = prov_default = NULL;
}

int pki_init(struct pki_error *err)
{
	if (prov_legacy) {
		pki_err_clear(err);
		return 0;
	}
	/*
	 * libcurl first: its OpenSSL initialisation after an explicit provider
	 * load leaves OpenSSL's config state unreachable.
	 */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		pki_err_set(err, PKI_ERR_CRYPTO, "curl_global_init failed");
		return -1;
	}
	/* Loading "legacy" disables the implicit "default": load both. */
	prov_default = OSSL_PROVIDER_load(NULL, "default");
	if (!prov_default) {
		pki_err_ossl(err, PKI_ERR_CRYPTO, "cannot load OpenSSL default provider");
		return -1;
	}
	prov_legacy = OSSL_PROVIDER_load(NULL, "legacy");
	if (!prov_legacy) {
		pki_err_ossl(err, PKI_ERR_CRYPTO,
			     "cannot load OpenSSL legacy provider (needed for DES CertReps)");
		pki_cleanup();
		return -1;
	}
	/* Runs before OpenSSL's own exit handler, which was registered earlier. */
	atexit(pki_cleanup);
	pki_err_clear(err);
	return 0;
}

int pki_file_read(const char *path, size_t max, struct pki_buf *out,
		  struct pki_error *err)
{
	struct stat st;
	uint8_t *p;
	size_t got = 0;
	int fd;

	out->data = NULL;
	out->len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pki_err_set(err, errno == ENOENT ? PKI_ERR_NOT_FOUND : PKI_ERR_IO,
			    "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		pki_err_set(err, PKI_ERR_IO, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > max) {
		pki_err_set(err, PKI_ERR_PARSE, "%s: larger than %zu bytes", path, max);
		close(fd);
		return -1;
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		pki_err_set(err, PKI_ERR_NOMEM, "%s: out of memory", path);
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pki_err_set(err, PKI_ERR_IO, "%s: short read", path);
			explicit_bzero(p, (size_t)st.st_size + 1);
			free(p);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	p[got] = '\0';
	out->data = p;
	out->len = got;
	return 0;
}

int pki_file_write(const char *path, const void *data, size_t len,
		   unsigned mode, struct pki_error *err)
{
	char tmp[4096];
	const uint8_t *p = data;
	size_t done = 0;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
			     (long)getpid()) >= sizeof(tmp)) {
		pki_err_set(err, PKI_ERR_IO, "%s: path too long", path);
		return -1;
	}
	unlink(tmp);
	/* O_EXCL: never write a key through a link someone planted. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  (mode_t)mode);
	if (fd < 0) {
		pki_err_set(err, PKI_ERR_IO, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	/* The umask may have widened or narrowed the mode; pin it. */
	if (fchmod(fd, (mode_t)mode) < 0)
		goto fail;
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:
	pki_err_set(err, PKI_ERR_IO, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}
