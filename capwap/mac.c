/*
 * mac.c — MAC addresses in the notations operators and certificates use.
 */
#include <stdio.h>
#include <string.h>

#include "capwap/capwap_int.h"

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parse 12 hex digits laid out as groups of group_len digits separated by
 * sep (or no separator when sep is 0). len must match the layout exactly.
 */
static bool parse_groups(const char *s, size_t len, size_t group_len, char sep,
			 uint8_t mac[6])
{
	size_t expect = 12 + (sep != 0 ? 12 / group_len - 1 : 0);
	size_t i, digits = 0;
	uint8_t out[6] = { 0 };

	if (len != expect)
		return false;
	for (i = 0; i < len; i++) {
		int v;

		/* A separator comes after every group_len digits. */
		if (sep != 0 && digits > 0 && digits % group_len == 0 &&
		    i == digits + digits / group_len - 1) {
			if (s[i] != sep)
				return false;
			continue;
		}
		v = hex_value(s[i]);
		if (v < 0)
			return false;
		out[digits / 2] = (uint8_t)(out[digits / 2] << 4 | v);
		digits++;
	}
	if (digits != 12)
		return false;
	memcpy(mac, out, 6);
	return true;
}

bool capwap_mac_parse(const char *s, size_t len, uint8_t mac[6])
{
	if (s == NULL)
		return false;
	switch (len) {
	case 17:
		return parse_groups(s, len, 2, ':', mac) ||
		       parse_groups(s, len, 2, '-', mac);
	case 14:
		return parse_groups(s, len, 4, '.', mac);
	case 12:
		return parse_groups(s, len, 12, 0, mac);
	}
	return false;
}

void capwap_mac_format(const uint8_t mac[6], enum capwap_mac_style style, char out[18])
{
	switch (style) {
	case CAPWAP_MAC_DOTTED:
		snprintf(out, 18, "%02x%02x.%02x%02x.%02x%02x",
			 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
		return;
	case CAPWAP_MAC_HYPHEN:
		snprintf(out, 18, "%02x-%02x-%02x-%02x-%02x-%02x",
			 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
		return;
	case CAPWAP_MAC_BARE_UPPER:
		snprintf(out, 18, "%02X%02X%02X%02X%02X%02X",
			 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
		return;
	case CAPWAP_MAC_COLON:
		break;
	}
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

bool capwap_mac_from_cn(const char *cn, size_t len, uint8_t mac[6])
{
	static const size_t layouts[] = { 17, 14, 12 };
	size_t i;

	if (cn == NULL)
		return false;
	if (capwap_mac_parse(cn, len, mac))
		return true;
	/* Cisco names: "<model>-<MAC>", the MAC in any notation at the end. */
	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		size_t n = layouts[i];

		if (len > n && cn[len - n - 1] == '-' &&
		    capwap_mac_parse(cn + len - n, n, mac))
			return true;
	}
	return false;
}
