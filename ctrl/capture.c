/*
 * capture.c — the debug capture: every decrypted control message lscd sends
 * or receives, written as clear-text CAPWAP to a pcap file that tshark
 * decodes fully, and optionally the DTLS key log (NSS format). Both expose
 * what DTLS protects, so both are off unless configured, and lscd says so
 * loudly when they are on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "ctrl/lscd.h"

struct capture {
	FILE *pcap;
	FILE *keylog;
	uint8_t *record;
	size_t record_cap;
};

static FILE *open_private(const char *path, char *err, size_t errlen)
{
	/* Decrypted traffic and session keys: readable by the owner only. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	return f;
}

struct capture *capture_open(const char *pcap_path, const char *keylog_path, char *err, size_t errlen)
{
	struct capture *c = calloc(1, sizeof(*c));
	struct capwap_writer w;
	uint8_t header[64];

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (pcap_path != NULL) {
		c->record_cap = 65536 + 128;
		c->record = malloc(c->record_cap);
		if (c->record == NULL || (c->pcap = open_private(pcap_path, err, errlen)) == NULL)
			goto fail;
		capwap_writer_init(&w, header, sizeof(header));
		if (capwap_pcap_global_header(&w) != CAPWAP_OK ||
		    fwrite(header, 1, w.len, c->pcap) != w.len || fflush(c->pcap) != 0) {
			snprintf(err, errlen, "%s: cannot write the pcap header", pcap_path);
			goto fail;
		}
		log_warn("DEBUG CAPTURE ON: every decrypted CAPWAP control message goes to %s", pcap_path);
	}
	if (keylog_path != NULL) {
		if ((c->keylog = open_private(keylog_path, err, errlen)) == NULL)
			goto fail;
		log_warn("DTLS KEY LOG ON: session secrets of every AP go to %s", keylog_path);
	}
	return c;
fail:
	capture_close(c);
	return NULL;
}

void capture_close(struct capture *c)
{
	if (c == NULL)
		return;
	if (c->pcap != NULL)
		fclose(c->pcap);
	if (c->keylog != NULL)
		fclose(c->keylog);
	free(c->record);
	free(c);
}

void capture_packet(struct capture *c, const struct sockaddr *src, const struct sockaddr *dst,
		    const uint8_t *pkt, size_t len)
{
	struct capwap_writer w;
	struct timeval tv;

	if (c == NULL || c->pcap == NULL || src->sa_family != dst->sa_family)
		return;
	gettimeofday(&tv, NULL);
	capwap_writer_init(&w, c->record, c->record_cap);
	if (capwap_pcap_record(&w, (uint32_t)tv.tv_sec, (uint32_t)tv.tv_usec, src, dst, pkt, len) != CAPWAP_OK)
		return;
	/* Flushed per record: the capture is for reading while lscd runs, and
	 * after it crashed. */
	if (fwrite(c->record, 1, w.len, c->pcap) == w.len)
		fflush(c->pcap);
}

void capture_keylog(const char *line, void *arg)
{
	struct capture *c = arg;
	if (c != NULL && c->keylog != NULL) {
		fprintf(c->keylog, "%s\n", line);
		fflush(c->keylog);
	}
}
