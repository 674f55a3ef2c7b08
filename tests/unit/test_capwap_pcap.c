/*
 * test_capwap_pcap.c — the debug-capture writer: pcap global header and
 * records with synthesized IPv4/IPv6 and UDP headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "capwap/capwap.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Independent one's-complement sum, for checking. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum > 0xffff)
		sum = (sum >> 16) + (sum & 0xffff);
	return (uint16_t)sum;
}

static void v4(struct sockaddr_in *sa, const char *ip, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sa->sin_addr), 1);
}

static void v6(struct sockaddr_in6 *sa, const char *ip, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin6_family = AF_INET6;
	sa->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sa->sin6_addr), 1);
}

static void test_global_header(void **state)
{
	static const uint8_t expect[24] = {
		0xa1, 0xb2, 0xc3, 0xd4, 0x00, 0x02, 0x00, 0x04,
		0, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 101,
	};
	uint8_t buf[32];
	struct capwap_writer w;

	(void)state;
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_pcap_global_header(&w), CAPWAP_OK);
	assert_int_equal(w.len, 24);
	assert_memory_equal(buf, expect, 24);
	capwap_writer_init(&w, buf, 23);
	assert_int_equal(capwap_pcap_global_header(&w), CAPWAP_ERR_NOSPACE);
	assert_int_equal(w.len, 0);
}

static void test_ipv4_record(void **state)
{
	static const uint8_t payload[] = { 0x00, 0x10, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 13, 7, 0, 3 };
	uint8_t buf[256];
	struct capwap_writer w;
	struct sockaddr_in src, dst;
	const uint8_t *ip;

	(void)state;
	v4(&src, "127.0.0.1", 40123);
	v4(&dst, "10.1.2.3", 5246);
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_pcap_record(&w, 1700000000u, 123456u,
					    (struct sockaddr *)&src, (struct sockaddr *)&dst,
					    payload, sizeof(payload)), CAPWAP_OK);
	assert_int_equal(w.len, 16 + 20 + 8 + sizeof(payload));
	assert_int_equal(be32(buf), 1700000000u);
	assert_int_equal(be32(buf + 4), 123456u);
	assert_int_equal(be32(buf + 8), 20 + 8 + sizeof(payload));
	assert_int_equal(be32(buf + 12), 20 + 8 + sizeof(payload));
	ip = buf + 16;
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(ip[1], 0xc0);	/* CS6 */
	assert_int_equal(be16(ip + 2), 20 + 8 + sizeof(payload));
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], 17);
	assert_memory_equal(ip + 12, "\x7f\x00\x00\x01", 4);
	assert_memory_equal(ip + 16, "\x0a\x01\x02\x03", 4);
	/* A correct header checksum sums to 0xffff. */
	assert_int_not_equal(be16(ip + 10), 0);
	assert_int_equal(csum_fold(csum_add(0, ip, 20)), 0xffff);
	assert_int_equal(be16(ip + 20), 40123);
	assert_int_equal(be16(ip + 22), 5246);
	assert_int_equal(be16(ip + 24), 8 + sizeof(payload));
	assert_int_equal(be16(ip + 26), 0);	/* RFC 5415: zero over IPv4 */
	assert_memory_equal(ip + 28, payload, sizeof(payload));
}

static void test_ipv6_record(void **state)
{
	static const uint8_t payload[] = { 1, 2, 3, 4, 5, 6, 7 };	/* odd length */
	uint8_t buf[256];
	struct capwap_writer w;
	struct sockaddr_in6 src, dst;
	const uint8_t *ip;
	uint32_t sum;
	size_t udp_len = 8 + sizeof(payload);

	(void)state;
	v6(&src, "2001:db8::1", 5246);
	v6(&dst, "fe80::1234:5678", 51000);
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_pcap_record(&w, 1, 2, (struct sockaddr *)&src,
					    (struct sockaddr *)&dst, payload, sizeof(payload)),
			 CAPWAP_OK);
	assert_int_equal(w.len, 16 + 40 + udp_len);
	ip = buf + 16;
	assert_int_equal(ip[0] >> 4, 6);
	assert_int_equal(be16(ip + 4), udp_len);
	assert_int_equal(ip[6], 17);
	assert_memory_equal(ip + 8, &src.sin6_addr, 16);
	assert_memory_equal(ip + 24, &dst.sin6_addr, 16);
	assert_int_equal(be16(ip + 40), 5246);
	assert_int_equal(be16(ip + 42), 51000);
	/* UDP checksum over the pseudo-header verifies. */
	assert_int_not_equal(be16(ip + 46), 0);
	sum = csum_add(0, ip + 8, 32);
	sum += (uint32_t)udp_len + 17;
	sum = csum_add(sum, ip + 40, udp_len);
	assert_int_equal(csum_fold(sum), 0xffff);
}

static void test_record_refuses(void **state)
{
	static uint8_t big[70000];
	uint8_t buf[128];
	struct capwap_writer w;
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;
	struct sockaddr_un un;

	(void)state;
	v4(&a4, "127.0.0.1", 1);
	v6(&a6, "::1", 2);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	capwap_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(capwap_pcap_record(&w, 0, 0, (struct sockaddr *)&a4,
					    (struct sockaddr *)&a6, buf, 1), CAPWAP_ERR_UNSUPPORTED);
	assert_int_equal(capwap_pcap_record(&w, 0, 0, (struct sockaddr *)&un,
					    (struct sockaddr *)&un, buf, 1), CAPWAP_ERR_UNSUPPORTED);
	assert_int_equal(capwap_pcap_record(&w, 0, 0, NULL, (struct sockaddr *)&a4, buf, 1),
			 CAPWAP_ERR_UNSUPPORTED);
	assert_int_equal(capwap_pcap_record(&w, 0, 0, (struct sockaddr *)&a4,
					    (struct sockaddr *)&a4, big, sizeof(big)),
			 CAPWAP_ERR_LIMIT);
	assert_int_equal(capwap_pcap_record(&w, 0, 0, (struct sockaddr *)&a6,
					    (struct sockaddr *)&a6, big, 65535 - 7),
			 CAPWAP_ERR_LIMIT);
	assert_int_equal(w.len, 0);
	/* Too small a buffer: nothing written, NOSPACE. */
	capwap_writer_init(&w, buf, 50);
	assert_int_equal(capwap_pcap_record(&w, 0, 0, (struct sockaddr *)&a4,
					    (struct sockaddr *)&a4, big, 20), CAPWAP_ERR_NOSPACE);
	assert_int_equal(w.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_global_header),
		cmocka_unit_test(test_ipv4_record),
		cmocka_unit_test(test_ipv6_record),
		cmocka_unit_test(test_record_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
