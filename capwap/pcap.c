/*
 * pcap.c — bytes of a classic pcap file (LINKTYPE_RAW) for debug captures
 * of decrypted control traffic. No I/O: the caller writes the bytes.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "capwap/capwap_int.h"

#define PCAP_MAGIC   0xa1b2c3d4u	/* microsecond time stamps */
#define IPV4_HDR_LEN 20
#define IPV6_HDR_LEN 40
#define UDP_HDR_LEN  8
#define SYNTH_TTL       64
#define DSCP_CS6     0xc0		/* control traffic's class (§1.1) */

enum capwap_status capwap_pcap_global_header(struct capwap_writer *w)
{
	size_t start = w->len;

	/* Written big-endian; readers recognise either byte order by the magic. */
	capwap_put_be32(w, PCAP_MAGIC);
	capwap_put_be16(w, 2);
	capwap_put_be16(w, 4);
	capwap_put_be32(w, 0);		/* thiszone: UTC */
	capwap_put_be32(w, 0);		/* sigfigs */
	capwap_put_be32(w, CAPWAP_PCAP_SNAPLEN);
	capwap_put_be32(w, CAPWAP_PCAP_LINKTYPE_RAW);
	if (w->overflow) {
		w->len = start;
		return CAPWAP_ERR_NOSPACE;
	}
	return CAPWAP_OK;
}

/* One's-complement sum of 16-bit big-endian words, folded later. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put_ipv4(struct capwap_writer *w, const struct sockaddr_in *src,
		     const struct sockaddr_in *dst, size_t udp_len)
{
	uint8_t h[IPV4_HDR_LEN];
	uint16_t total = (uint16_t)(IPV4_HDR_LEN + udp_len), csum;

	h[0] = 0x45;			/* version 4, IHL 5 */
	h[1] = DSCP_CS6;
	h[2] = (uint8_t)(total >> 8);
	h[3] = (uint8_t)total;
	h[4] = 0;			/* identification */
	h[5] = 0;
	h[6] = 0x40;			/* DF */
	h[7] = 0;
	h[8] = SYNTH_TTL;
	h[9] = IPPROTO_UDP;
	h[10] = 0;			/* checksum, computed below */
	h[11] = 0;
	memcpy(h + 12, &src->sin_addr, 4);
	memcpy(h + 16, &dst->sin_addr, 4);
	csum = fold(sum16(0, h, sizeof(h)));
	h[10] = (uint8_t)(csum >> 8);
	h[11] = (uint8_t)csum;
	capwap_put_data(w, h, sizeof(h));
}

static void put_ipv6(struct capwap_writer *w, const struct sockaddr_in6 *src,
		     const struct sockaddr_in6 *dst, size_t udp_len)
{
	capwap_put_be32(w, 0x60000000u | (uint32_t)DSCP_CS6 << 20);
	capwap_put_be16(w, (uint16_t)udp_len);
	capwap_put_u8(w, IPPROTO_UDP);
	capwap_put_u8(w, SYNTH_TTL);
	capwap_put_data(w, &src->sin6_addr, 16);
	capwap_put_data(w, &dst->sin6_addr, 16);
}

/* UDP over IPv6 must carry a checksum (RFC 8200 §8.1); over IPv4 the
 * CAPWAP control channel sends zero (§1.1). */
static uint16_t udp6_checksum(const struct sockaddr_in6 *src,
			      const struct sockaddr_in6 *dst,
			      const uint8_t udp_hdr[UDP_HDR_LEN],
			      const uint8_t *payload, size_t len)
{
	uint32_t sum = 0;
	uint32_t udp_len = (uint32_t)(UDP_HDR_LEN + len);
	uint16_t csum;

	sum = sum16(sum, (const uint8_t *)&src->sin6_addr, 16);
	sum = sum16(sum, (const uint8_t *)&dst->sin6_addr, 16);
	sum += udp_len >> 16;
	sum += udp_len & 0xffff;
	sum += IPPROTO_UDP;
	sum = sum16(sum, udp_hdr, UDP_HDR_LEN);
	/* An odd-length payload is padded with a zero byte at its end only;
	 * the header is even-sized, so summing it first is safe. */
	sum = sum16(sum, payload, len);
	csum = fold(sum);
	return csum == 0 ? 0xffff : csum;
}

enum capwap_status capwap_pcap_record(struct capwap_writer *w,
				      uint32_t ts_sec, uint32_t ts_usec,
				      const struct sockaddr *src,
				      const struct sockaddr *dst,
				      const uint8_t *payload, size_t len)
{
	size_t start = w->len, ip_len, udp_len = UDP_HDR_LEN + len;
	uint8_t udp[UDP_HDR_LEN];
	uint16_t sport, dport;

	if (src == NULL || dst == NULL || src->sa_family != dst->sa_family ||
	    (len > 0 && payload == NULL))
		return CAPWAP_ERR_UNSUPPORTED;
	if (src->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)src;
		const struct sockaddr_in *d4 = (const struct sockaddr_in *)(const void *)dst;

		sport = ntohs(s4->sin_port);
		dport = ntohs(d4->sin_port);
		ip_len = IPV4_HDR_LEN + udp_len;
		if (ip_len > 0xffff)
			return CAPWAP_ERR_LIMIT;
	} else if (src->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)src;
		const struct sockaddr_in6 *d6 = (const struct sockaddr_in6 *)(const void *)dst;

		sport = ntohs(s6->sin6_port);
		dport = ntohs(d6->sin6_port);
		ip_len = IPV6_HDR_LEN + udp_len;
		if (udp_len > 0xffff)
			return CAPWAP_ERR_LIMIT;
	} else {
		return CAPWAP_ERR_UNSUPPORTED;
	}

	capwap_put_be32(w, ts_sec);
	capwap_put_be32(w, ts_usec);
	capwap_put_be32(w, (uint32_t)ip_len);	/* captured */
	capwap_put_be32(w, (uint32_t)ip_len);	/* on the wire */

	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[2] = (uint8_t)(dport >> 8);
	udp[3] = (uint8_t)dport;
	udp[4] = (uint8_t)(udp_len >> 8);
	udp[5] = (uint8_t)udp_len;
	udp[6] = 0;
	udp[7] = 0;
	if (src->sa_family == AF_INET) {
		put_ipv4(w, (const struct sockaddr_in *)(const void *)src,
			 (const struct sockaddr_in *)(const void *)dst, udp_len);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)src;
		const struct sockaddr_in6 *d6 = (const struct sockaddr_in6 *)(const void *)dst;
		uint16_t csum = udp6_checksum(s6, d6, udp, payload, len);

		udp[6] = (uint8_t)(csum >> 8);
		udp[7] = (uint8_t)csum;
		put_ipv6(w, s6, d6, udp_len);
	}
	capwap_put_data(w, udp, sizeof(udp));
	capwap_put_data(w, payload, len);
	if (w->overflow) {
		w->len = start;
		return CAPWAP_ERR_NOSPACE;
	}
	return CAPWAP_OK;
}
