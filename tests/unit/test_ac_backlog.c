/*
 * test_ac_backlog.c — the FIFO that holds DTLS handshake datagrams until
 * their turn (ctrl/ac.c): order, the bound in datagrams, the bound in bytes,
 * wrap-around, and that freeing it with datagrams inside leaks nothing.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctrl/lscd.h"

static struct sockaddr_in addr(uint16_t port)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(0x7f000001);
	return sin;
}

static bool push(struct ac_backlog *b, uint16_t port, size_t len)
{
	struct sockaddr_in peer = addr(port);
	uint8_t buf[4096];
	memset(buf, (int)(port & 0xff), sizeof(buf));
	return ac_backlog_push(b, NULL, (struct sockaddr *)&peer, sizeof(peer), NULL, 0, buf, len);
}

static void test_fifo_order_and_copy(void **state)
{
	struct ac_backlog b;
	struct sockaddr_in peer = addr(5246), local = addr(40000);
	uint8_t buf[3] = { 1, 2, 3 };
	(void)state;

	assert_true(ac_backlog_init(&b, 8, 1 << 20));
	assert_true(ac_backlog_push(&b, NULL, (struct sockaddr *)&peer, sizeof(peer),
				    (struct sockaddr *)&local, sizeof(local), buf, sizeof(buf)));
	buf[0] = 9;     /* the backlog holds a copy */
	assert_true(push(&b, 1001, 10));
	assert_int_equal(b.n, 2);
	assert_int_equal(b.bytes, 13);

	struct ac_deferred *it = ac_backlog_pop(&b);
	assert_non_null(it);
	assert_int_equal(it->len, 3);
	assert_int_equal(it->data[0], 1);
	assert_int_equal(it->peer_len, sizeof(peer));
	assert_memory_equal(&it->peer, &peer, sizeof(peer));
	assert_int_equal(it->local_len, sizeof(local));
	assert_memory_equal(&it->local, &local, sizeof(local));
	free(it);
	it = ac_backlog_pop(&b);
	assert_non_null(it);
	assert_int_equal(it->len, 10);
	assert_int_equal(it->local_len, 0);     /* none given: the socket's address */
	assert_int_equal(ntohs(((struct sockaddr_in *)&it->peer)->sin_port), 1001);
	free(it);
	assert_null(ac_backlog_pop(&b));
	assert_int_equal(b.bytes, 0);
	ac_backlog_free(&b);
}

static void test_bound_in_datagrams(void **state)
{
	struct ac_backlog b;
	(void)state;

	assert_true(ac_backlog_init(&b, 4, 1 << 20));
	for (uint16_t i = 0; i < 4; i++)
		assert_true(push(&b, i, 100));
	assert_false(push(&b, 99, 1));          /* full: dropped */
	assert_int_equal(b.n, 4);
	/* Room again once one has been taken; order kept across the wrap. */
	for (uint16_t round = 0; round < 10; round++) {
		struct ac_deferred *it = ac_backlog_pop(&b);
		assert_non_null(it);
		assert_int_equal(ntohs(((struct sockaddr_in *)&it->peer)->sin_port), round);
		free(it);
		assert_true(push(&b, (uint16_t)(round + 4), 100));
		assert_false(push(&b, 99, 1));
	}
	ac_backlog_free(&b);
}

static void test_bound_in_bytes(void **state)
{
	struct ac_backlog b;
	(void)state;

	assert_true(ac_backlog_init(&b, 100, 3000));
	assert_true(push(&b, 1, 1500));
	assert_true(push(&b, 2, 1000));
	assert_false(push(&b, 3, 501));         /* would be 3001 bytes */
	assert_true(push(&b, 4, 500));          /* exactly the bound */
	assert_false(push(&b, 5, 1));
	assert_int_equal(b.bytes, 3000);
	struct ac_deferred *it = ac_backlog_pop(&b);
	free(it);
	assert_int_equal(b.bytes, 1500);
	assert_true(push(&b, 6, 1500));
	assert_false(push(&b, 7, 4096));        /* larger than what is left */
	ac_backlog_free(&b);
}

static void test_free_with_datagrams(void **state)
{
	struct ac_backlog b;
	(void)state;

	/* Under ASan, a datagram not freed here is reported as a leak. */
	assert_true(ac_backlog_init(&b, 16, 1 << 20));
	for (uint16_t i = 0; i < 10; i++)
		assert_true(push(&b, i, 1200));
	ac_backlog_free(&b);
	assert_null(b.ring);
	assert_int_equal(b.n, 0);
	ac_backlog_free(&b);                    /* twice, as ac_stop after a failed start */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_order_and_copy),
		cmocka_unit_test(test_bound_in_datagrams),
		cmocka_unit_test(test_bound_in_bytes),
		cmocka_unit_test(test_free_with_datagrams),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
