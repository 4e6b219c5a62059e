/*
 * test_tls.c - the TLS hello parsers, the streaming direction parser and
 * MD5, over hellos taken from the corpus captures (/work/shared/corpus):
 * whole, byte by byte, in random splits and record fragments; every
 * truncation; every length field made to lie; trailing bytes.  Expected
 * JA3/JA3S values are tshark 4.0's (tls.handshake.ja3 / ja3s).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

/* ---- vectors (bytes as captured; extracted with tshark -z follow,tcp,raw) ---- */

/* ntop_nDPI/imaps.pcap frame 25 (tcp.stream 1): ClientHello body, TLS 1.3 offer with GREASE suites, groups and supported_versions; tshark ja3 66b2d7acea2c20aeeebd69c8d44089d7 */
static const uint8_t ch13_grease[508] = {
	0x03, 0x03, 0xc9, 0x24, 0xd3, 0x98, 0x03, 0x41, 0x4f, 0x2f, 0x5f, 0x7f, 0x8a, 0x91, 0x90, 0x63,
	0x44, 0x1a, 0xbd, 0x44, 0xe8, 0x22, 0x06, 0xd4, 0x74, 0xec, 0xad, 0xd8, 0x23, 0xde, 0x6e, 0xc7,
	0xb5, 0x51, 0x20, 0xb6, 0x21, 0x89, 0x94, 0x92, 0xea, 0x03, 0xdf, 0x96, 0x0b, 0x18, 0x09, 0x2b,
	0x47, 0xd9, 0x44, 0x5e, 0x9a, 0x96, 0x16, 0x98, 0x4c, 0x83, 0x1f, 0x94, 0x19, 0x1f, 0x10, 0xab,
	0x28, 0x72, 0xd9, 0x00, 0x36, 0x8a, 0x8a, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2c, 0xc0,
	0x2b, 0xcc, 0xa9, 0xc0, 0x30, 0xc0, 0x2f, 0xcc, 0xa8, 0xc0, 0x24, 0xc0, 0x23, 0xc0, 0x0a, 0xc0,
	0x09, 0xc0, 0x28, 0xc0, 0x27, 0xc0, 0x14, 0xc0, 0x13, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d, 0x00,
	0x3c, 0x00, 0x35, 0x00, 0x2f, 0xc0, 0x08, 0xc0, 0x12, 0x00, 0x0a, 0x01, 0x00, 0x01, 0x7d, 0x5a,
	0x5a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x1d, 0x00, 0x00, 0x1a, 0x69, 0x6d, 0x61, 0x70,
	0x2e, 0x61, 0x73, 0x69, 0x61, 0x2e, 0x73, 0x65, 0x63, 0x75, 0x72, 0x65, 0x73, 0x65, 0x72, 0x76,
	0x65, 0x72, 0x2e, 0x6e, 0x65, 0x74, 0x00, 0x17, 0x00, 0x00, 0xff, 0x01, 0x00, 0x01, 0x00, 0x00,
	0x0a, 0x00, 0x0c, 0x00, 0x0a, 0x5a, 0x5a, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, 0x00, 0x19, 0x00,
	0x0b, 0x00, 0x02, 0x01, 0x00, 0x00, 0x05, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0d,
	0x00, 0x18, 0x00, 0x16, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x02, 0x03, 0x08, 0x05,
	0x08, 0x05, 0x05, 0x01, 0x08, 0x06, 0x06, 0x01, 0x02, 0x01, 0x00, 0x12, 0x00, 0x00, 0x00, 0x33,
	0x00, 0x2b, 0x00, 0x29, 0x5a, 0x5a, 0x00, 0x01, 0x00, 0x00, 0x1d, 0x00, 0x20, 0x96, 0xca, 0x55,
	0x6f, 0x2f, 0xc7, 0x59, 0xa1, 0xd5, 0x4a, 0xe8, 0xb4, 0x96, 0x4e, 0x5c, 0xa7, 0xbf, 0x12, 0x07,
	0xd9, 0x2e, 0xed, 0xb1, 0xea, 0xb5, 0xa3, 0xa9, 0x05, 0xfa, 0x3b, 0xf3, 0x0c, 0x00, 0x2d, 0x00,
	0x02, 0x01, 0x01, 0x00, 0x2b, 0x00, 0x0b, 0x0a, 0xda, 0xda, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02,
	0x03, 0x01, 0x4a, 0x4a, 0x00, 0x01, 0x00, 0x00, 0x15, 0x00, 0xc1, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* ntop_nDPI/imaps.pcap frame 6 (tcp.stream 0): ServerHello body, TLS 1.2 with DOWNGRD\x01 at the end of its random; tshark ja3s b653c251b0ee54c3088fe7bb997cf59d */
static const uint8_t sh12_downgrd[93] = {
	0x03, 0x03, 0x9f, 0x82, 0xb4, 0x80, 0xe9, 0x68, 0xd7, 0xd3, 0xfd, 0xdb, 0x83, 0x17, 0xbd, 0xa4,
	0x55, 0x1c, 0x9c, 0x5c, 0x86, 0xfd, 0x07, 0xa7, 0xa6, 0xc8, 0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52,
	0x44, 0x01, 0x20, 0x39, 0x1b, 0xdd, 0xd7, 0xde, 0x51, 0xc5, 0x71, 0x7a, 0xf9, 0xd8, 0xfb, 0xe8,
	0xc0, 0xb8, 0xf7, 0x17, 0x06, 0x03, 0xf5, 0x93, 0x88, 0x11, 0xeb, 0x46, 0x85, 0x14, 0xd7, 0x66,
	0xc6, 0x44, 0x38, 0xc0, 0x30, 0x00, 0x00, 0x15, 0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x17, 0x00, 0x00,
};

/* zeek_zeek/hrr.pcap frame 4: ClientHello body (TLS 1.3); tshark ja3 0f14b679807628ec7f9c02cada3ee941 */
static const uint8_t ch_hrr[227] = {
	0x03, 0x03, 0x30, 0xf1, 0x90, 0x3e, 0x37, 0xd4, 0xf5, 0x98, 0xa7, 0x0d, 0x69, 0x6a, 0x91, 0x72,
	0xb2, 0x96, 0xc9, 0x68, 0x52, 0xc9, 0xda, 0xe4, 0xa3, 0xc9, 0xca, 0x6b, 0x49, 0xd2, 0x02, 0x16,
	0x68, 0xa1, 0x20, 0x1a, 0x6b, 0xb8, 0x36, 0x8a, 0xdd, 0x0e, 0x28, 0x01, 0x5b, 0xd6, 0xcc, 0xed,
	0x64, 0x82, 0x36, 0xf4, 0x9e, 0x24, 0x07, 0xf1, 0x96, 0x53, 0xac, 0x1f, 0xdd, 0x1f, 0xfa, 0x48,
	0xbf, 0xae, 0xcd, 0x00, 0x08, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01, 0x00, 0xff, 0x01, 0x00, 0x00,
	0x92, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00,
	0x15, 0x00, 0x17, 0x00, 0x18, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00,
	0x00, 0x00, 0x0d, 0x00, 0x1e, 0x00, 0x1c, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08,
	0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05,
	0x01, 0x06, 0x01, 0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01,
	0x00, 0x33, 0x00, 0x3f, 0x00, 0x3d, 0x00, 0x15, 0x00, 0x39, 0x04, 0x74, 0x2b, 0xee, 0xe2, 0xf4,
	0x0d, 0x71, 0xfd, 0x7d, 0xe4, 0x42, 0xc4, 0x82, 0x94, 0x50, 0xb0, 0x81, 0x22, 0x55, 0x14, 0xe2,
	0x2c, 0x5d, 0x87, 0xb4, 0x7f, 0xc5, 0x95, 0x8b, 0xcc, 0xc7, 0xff, 0x69, 0x83, 0x5d, 0x77, 0x31,
	0x16, 0x6b, 0x62, 0xe9, 0x2d, 0xe5, 0x16, 0xb8, 0xaf, 0x90, 0xfe, 0x45, 0xcb, 0xb0, 0x56, 0xce,
	0x36, 0x4f, 0x40,
};

/* zeek_zeek/hrr.pcap frames 6, 11: the server direction's first three records: HelloRetryRequest (tshark ja3s 15af977ce25de452b96affa2addb1036), ChangeCipherSpec, ServerHello (TLS 1.3) */
static const uint8_t srv_hrr_stream[259] = {
	0x16, 0x03, 0x03, 0x00, 0x58, 0x02, 0x00, 0x00, 0x54, 0x03, 0x03, 0xcf, 0x21, 0xad, 0x74, 0xe5,
	0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a,
	0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c, 0x20, 0x1a, 0x6b, 0xb8, 0x36,
	0x8a, 0xdd, 0x0e, 0x28, 0x01, 0x5b, 0xd6, 0xcc, 0xed, 0x64, 0x82, 0x36, 0xf4, 0x9e, 0x24, 0x07,
	0xf1, 0x96, 0x53, 0xac, 0x1f, 0xdd, 0x1f, 0xfa, 0x48, 0xbf, 0xae, 0xcd, 0x13, 0x02, 0x00, 0x00,
	0x0c, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0x00, 0x33, 0x00, 0x02, 0x00, 0x17, 0x14, 0x03, 0x03,
	0x00, 0x01, 0x01, 0x16, 0x03, 0x03, 0x00, 0x9b, 0x02, 0x00, 0x00, 0x97, 0x03, 0x03, 0xc9, 0x62,
	0xa4, 0x8c, 0xac, 0x61, 0x14, 0xd3, 0x91, 0xe8, 0x63, 0x2c, 0x6c, 0xdc, 0xed, 0x9c, 0x20, 0x75,
	0xd7, 0xeb, 0xb8, 0x3b, 0x45, 0xa8, 0x93, 0x73, 0xe8, 0x71, 0x3a, 0x55, 0x3f, 0xe6, 0x20, 0x1a,
	0x6b, 0xb8, 0x36, 0x8a, 0xdd, 0x0e, 0x28, 0x01, 0x5b, 0xd6, 0xcc, 0xed, 0x64, 0x82, 0x36, 0xf4,
	0x9e, 0x24, 0x07, 0xf1, 0x96, 0x53, 0xac, 0x1f, 0xdd, 0x1f, 0xfa, 0x48, 0xbf, 0xae, 0xcd, 0x13,
	0x02, 0x00, 0x00, 0x4f, 0x00, 0x33, 0x00, 0x45, 0x00, 0x17, 0x00, 0x41, 0x04, 0x65, 0xfe, 0x52,
	0xa1, 0x96, 0x86, 0xb5, 0xdd, 0x1d, 0xe1, 0x0c, 0x56, 0xf3, 0x80, 0x94, 0xae, 0x84, 0x2e, 0xf6,
	0x0f, 0x51, 0x11, 0xec, 0x0e, 0x0e, 0xe1, 0x7d, 0x39, 0x2e, 0x54, 0xec, 0x42, 0x16, 0x48, 0x9b,
	0x6e, 0xcb, 0x62, 0x2c, 0x5c, 0x88, 0x4d, 0x90, 0x26, 0xe2, 0x4a, 0x42, 0x99, 0x0c, 0x44, 0x59,
	0xf2, 0x29, 0xcc, 0xee, 0x0d, 0x30, 0xdf, 0xc2, 0xa3, 0x67, 0xf9, 0x63, 0xd8, 0x00, 0x2b, 0x00,
	0x02, 0x03, 0x04,
};

/* ntop_nDPI/tls_alert.pcap frame 4: ClientHello body, TLS 1.0 with TLS_FALLBACK_SCSV; tshark ja3 d78489b860c8bf7838a6ff0b4d131541 */
static const uint8_t ch_scsv[190] = {
	0x03, 0x01, 0x52, 0xdb, 0x35, 0xf3, 0xea, 0xa1, 0x18, 0x8b, 0xf1, 0xe1, 0x93, 0xfc, 0xcf, 0x33,
	0x3e, 0x58, 0x73, 0xf4, 0x35, 0xbb, 0xdc, 0x1c, 0x48, 0x18, 0x17, 0x85, 0x3f, 0x54, 0x76, 0x25,
	0x6a, 0x3a, 0x00, 0x00, 0x12, 0x00, 0x2f, 0x00, 0x33, 0x00, 0x35, 0x00, 0x39, 0xc0, 0x09, 0xc0,
	0x0a, 0xc0, 0x13, 0xc0, 0x14, 0x56, 0x00, 0x01, 0x00, 0x00, 0x83, 0xff, 0x01, 0x00, 0x01, 0x00,
	0x00, 0x00, 0x00, 0x1d, 0x00, 0x1b, 0x00, 0x00, 0x18, 0x77, 0x77, 0x77, 0x2e, 0x67, 0x6f, 0x6f,
	0x67, 0x6c, 0x65, 0x2d, 0x61, 0x6e, 0x61, 0x6c, 0x79, 0x74, 0x69, 0x63, 0x73, 0x2e, 0x63, 0x6f,
	0x6d, 0x00, 0x17, 0x00, 0x00, 0x00, 0x05, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x33, 0x74,
	0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x10, 0x00, 0x30, 0x00, 0x2e, 0x02, 0x68, 0x32, 0x05,
	0x68, 0x32, 0x2d, 0x31, 0x36, 0x05, 0x68, 0x32, 0x2d, 0x31, 0x35, 0x05, 0x68, 0x32, 0x2d, 0x31,
	0x34, 0x08, 0x73, 0x70, 0x64, 0x79, 0x2f, 0x33, 0x2e, 0x31, 0x06, 0x73, 0x70, 0x64, 0x79, 0x2f,
	0x33, 0x08, 0x68, 0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31, 0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,
	0x00, 0x0a, 0x00, 0x0a, 0x00, 0x08, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, 0x00, 0x19,
};

/* zeek_zeek/tls13draft16-chrome55.0.2879.0-canary.pcap frame 4: ClientHello body offering TLS 1.3 draft 14 (0x7f0e) with GREASE; tshark ja3 1bbe072c914653f5696401459ca0f9b8 */
static const uint8_t ch_draft[508] = {
	0x03, 0x03, 0x6f, 0xa9, 0x48, 0x08, 0x04, 0xf9, 0xc5, 0xb3, 0x22, 0xb9, 0x80, 0xda, 0x24, 0xd3,
	0x1f, 0x8d, 0xa7, 0x26, 0xf4, 0x21, 0x37, 0xbe, 0x2c, 0x69, 0x9f, 0xf8, 0xb3, 0x59, 0x42, 0x2f,
	0xe2, 0xea, 0x00, 0x00, 0x24, 0x6a, 0x6a, 0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30, 0xcc,
	0xa9, 0xcc, 0xa8, 0xcc, 0x14, 0xcc, 0x13, 0xc0, 0x09, 0xc0, 0x13, 0xc0, 0x0a, 0xc0, 0x14, 0x00,
	0x9c, 0x00, 0x9d, 0x00, 0x2f, 0x00, 0x35, 0x00, 0x0a, 0x01, 0x00, 0x01, 0xaf, 0x4a, 0x4a, 0x00,
	0x00, 0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x23, 0x00, 0x00, 0x00, 0x0d,
	0x00, 0x18, 0x00, 0x16, 0x08, 0x06, 0x06, 0x01, 0x06, 0x03, 0x08, 0x05, 0x05, 0x01, 0x05, 0x03,
	0x08, 0x04, 0x04, 0x01, 0x04, 0x03, 0x02, 0x01, 0x02, 0x03, 0x00, 0x05, 0x00, 0x05, 0x01, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 0x68, 0x32,
	0x08, 0x68, 0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31, 0x75, 0x50, 0x00, 0x00, 0x00, 0x0b, 0x00,
	0x02, 0x01, 0x00, 0x00, 0x28, 0x00, 0x2b, 0x00, 0x29, 0xaa, 0xaa, 0x00, 0x01, 0x00, 0x00, 0x1d,
	0x00, 0x20, 0xf2, 0x2f, 0x34, 0x27, 0xa8, 0x10, 0xe4, 0xa3, 0xfb, 0xde, 0xd2, 0x92, 0x33, 0x3e,
	0x5f, 0x92, 0x83, 0x1a, 0x7f, 0x37, 0xd3, 0xfe, 0xec, 0xf3, 0xb6, 0x5b, 0x04, 0x9a, 0x48, 0xb4,
	0xdc, 0x3a, 0x00, 0x2b, 0x00, 0x0b, 0x0a, 0x0a, 0x0a, 0x7f, 0x0e, 0x03, 0x03, 0x03, 0x02, 0x03,
	0x01, 0x00, 0x0a, 0x00, 0x0a, 0x00, 0x08, 0xaa, 0xaa, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, 0x00,
	0x18, 0x00, 0x04, 0x00, 0x0a, 0x01, 0x02, 0x0a, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x15, 0x00, 0xfc,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* zeek_zeek/tls13draft16-chrome55.0.2879.0-canary.pcap frame 6: ServerHello body in the draft-14 layout (no session id, no compression); tshark ja3s 9ce213de238ed8aea57e81e02c0e4882 */
static const uint8_t sh_draft[78] = {
	0x7f, 0x0e, 0x69, 0x22, 0x74, 0x72, 0xe1, 0xcf, 0x93, 0x50, 0x45, 0xd8, 0xd2, 0x04, 0x4a, 0x45,
	0x06, 0x25, 0xa0, 0x53, 0xf7, 0x95, 0xba, 0x83, 0x28, 0x90, 0x56, 0x28, 0x72, 0x7a, 0x06, 0x77,
	0x8e, 0x8e, 0xcc, 0xa9, 0x00, 0x28, 0x00, 0x28, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x4f, 0x13,
	0xc5, 0xd0, 0x74, 0x5e, 0x88, 0x3b, 0xc2, 0x7f, 0x7d, 0x21, 0x95, 0xde, 0x1f, 0x45, 0xa1, 0xae,
	0xa1, 0x63, 0x64, 0x1d, 0x85, 0xc9, 0xaa, 0xc2, 0x24, 0x99, 0x2c, 0x73, 0xbb, 0x11,
};

/* zeek_zeek/ssl-v2.pcap frame 4: SSL 2.0 CLIENT-HELLO record (2-byte header), version 0x0002, 7 cipher kinds */
static const uint8_t v2_ssl2[48] = {
	0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, 0x07, 0x00, 0xc0, 0x05, 0x00,
	0x80, 0x03, 0x00, 0x80, 0x01, 0x00, 0x80, 0x06, 0x00, 0x40, 0x04, 0x00, 0x80, 0x02, 0x00, 0x80,
	0x1c, 0x30, 0xe2, 0xb1, 0x2f, 0x4c, 0x04, 0x52, 0x54, 0x76, 0xf2, 0x80, 0xc0, 0x7a, 0xbe, 0xe5,
};

/* OISF_suricata-verify/bypass-depth-disabled__input.pcap frame 4: SSLv2-format CLIENT-HELLO record offering TLS 1.2, 3 cipher specs */
static const uint8_t v2_tls12[52] = {
	0x80, 0x32, 0x01, 0x03, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x03, 0x02, 0x00,
	0x80, 0x00, 0x00, 0xff, 0x3b, 0x5c, 0xff, 0xc3, 0x20, 0x14, 0xf2, 0xcf, 0x0f, 0x8b, 0xee, 0x7d,
	0x33, 0xc1, 0xac, 0x30, 0x20, 0xd5, 0x41, 0x15, 0x86, 0x2a, 0x3a, 0xae, 0xdc, 0xf3, 0xe5, 0x55,
	0x7c, 0xaf, 0x92, 0x18,
};

/* Hand-written: SSL 2.0 SERVER-HELLO, no session hit, a 4-byte stand-in certificate,
 * cipher kinds DES_192_EDE3 then RC4_128, a 16-byte connection id. */
static const uint8_t v2_server_hello[39] = {
	0x80, 0x25, 0x04, 0x00, 0x01, 0x00, 0x02, 0x00, 0x04, 0x00, 0x06, 0x00, 0x10,
	'C', 'E', 'R', 'T', 0x07, 0x00, 0xc0, 0x01, 0x00, 0x80,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/* ---- event recording ------------------------------------------------------------- */

#define MAX_EV 16

struct ev_rec {
	int kind;
	uint16_t v1, v2, cipher;
	uint32_t ssl2_cipher;
	bool scsv, hrr, v2fmt, has_sv;
	uint8_t sentinel, level, desc;
	int anomaly, err;
	uint8_t first_byte;
	char fp[33];
	char sni[SW_SNI_MAX + 1];
};

struct got {
	int n;
	struct ev_rec ev[MAX_EV];
	size_t not_tls_n;
	uint8_t not_tls_bytes[64];
};

static void on_event(void *ctx, const struct sw_tls_event *e)
{
	struct got *g = ctx;
	assert_true(g->n < MAX_EV);
	struct ev_rec *r = &g->ev[g->n++];
	memset(r, 0, sizeof *r);
	r->kind = e->kind;
	switch (e->kind) {
	case SW_TLS_EV_CLIENT_HELLO:
		r->v1 = e->ch->legacy_version;
		r->v2 = e->ch->max_version;
		r->scsv = e->ch->fallback_scsv;
		r->v2fmt = e->ch->sslv2_format;
		r->has_sv = e->ch->has_supported_versions;
		memcpy(r->fp, e->ch->ja3, sizeof r->fp);
		memcpy(r->sni, e->ch->sni, sizeof r->sni);
		break;
	case SW_TLS_EV_SERVER_HELLO:
		r->v1 = e->sh->legacy_version;
		r->v2 = e->sh->version;
		r->cipher = e->sh->cipher;
		r->ssl2_cipher = e->sh->ssl2_cipher;
		r->hrr = e->sh->is_hello_retry;
		r->v2fmt = e->sh->sslv2_format;
		r->sentinel = e->sh->sentinel;
		memcpy(r->fp, e->sh->ja3s, sizeof r->fp);
		break;
	case SW_TLS_EV_ALERT:
		r->level = e->alert_level;
		r->desc = e->alert_desc;
		break;
	case SW_TLS_EV_MALFORMED:
		r->anomaly = e->anomaly;
		r->err = e->err;
		break;
	case SW_TLS_EV_NOT_TLS:
		assert_true(e->n_bytes >= 1 && e->n_bytes <= 64);
		r->first_byte = e->bytes[0];
		g->not_tls_n = e->n_bytes;
		memcpy(g->not_tls_bytes, e->bytes, e->n_bytes);
		break;
	default:
		break;
	}
}

/* Deterministic pseudo-random numbers for the splits. */
static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/*
 * Feed a direction's bytes in pieces: step 0 = whole, step k = k bytes at a
 * time, step < 0 = random sizes (1..64) from seed -step.  Checks the feed
 * contract (all consumed until finished, then 0) and that no memory is held
 * once finished.
 */
static void feed(const uint8_t *p, size_t n, int step, struct got *g)
{
	struct sw_tls_dir d;
	uint32_t seed = step < 0 ? (uint32_t)-step : 0;

	memset(g, 0, sizeof *g);
	sw_tls_dir_init(&d);
	for (size_t off = 0; off < n;) {
		size_t k = step == 0 ? n - off : step > 0 ? (size_t)step : 1 + lcg(&seed) % 64;
		k = SW_MIN(k, n - off);
		bool was_finished = sw_tls_dir_finished(&d);
		size_t used = sw_tls_dir_feed(&d, p + off, k, on_event, g);
		assert_int_equal(used, was_finished ? 0 : k);
		off += k;
	}
	if (sw_tls_dir_finished(&d))
		assert_null(d.hs_buf);
	sw_tls_dir_free(&d);
}

/* The same events (NOT_TLS evidence aside) whatever the split. */
static void check_splits(const uint8_t *p, size_t n, const struct got *want)
{
	struct got g;
	int steps[] = { 1, 2, 3, 5, 7, 64 };

	for (size_t i = 0; i < SW_ARRAY_LEN(steps); i++) {
		feed(p, n, steps[i], &g);
		assert_int_equal(g.n, want->n);
		assert_memory_equal(g.ev, want->ev, sizeof g.ev[0] * (size_t)want->n);
	}
	for (int seed = 1; seed <= 40; seed++) {
		feed(p, n, -seed, &g);
		assert_int_equal(g.n, want->n);
		assert_memory_equal(g.ev, want->ev, sizeof g.ev[0] * (size_t)want->n);
	}
}

/* ---- stream building ---------------------------------------------------------------- */

static uint8_t sbuf[16384];

static size_t put_record(uint8_t *o, uint8_t type, uint16_t ver, const uint8_t *body, size_t n)
{
	o[0] = type;
	o[1] = (uint8_t)(ver >> 8);
	o[2] = (uint8_t)ver;
	o[3] = (uint8_t)(n >> 8);
	o[4] = (uint8_t)n;
	memcpy(o + 5, body, n);
	return 5 + n;
}

/* A handshake message (4-byte header + body) cut into records of at most frag bytes. */
static size_t put_hs(uint8_t *o, uint8_t hs_type, const uint8_t *body, size_t n, size_t frag)
{
	static uint8_t msg[8192];
	size_t len = 0, mlen = 4 + n;

	assert_true(mlen <= sizeof msg);
	msg[0] = hs_type;
	msg[1] = (uint8_t)(n >> 16);
	msg[2] = (uint8_t)(n >> 8);
	msg[3] = (uint8_t)n;
	memcpy(msg + 4, body, n);
	for (size_t off = 0; off < mlen; off += frag)
		len += put_record(o + len, 22, 0x0301, msg + off, SW_MIN(frag, mlen - off));
	return len;
}

static const uint8_t ccs_rec[] = { 0x14, 0x03, 0x03, 0x00, 0x01, 0x01 };
static const uint8_t appdata_rec[] = { 0x17, 0x03, 0x03, 0x00, 0x03, 0xaa, 0xbb, 0xcc };

/* ---- MD5 (RFC 1321 A.5) ---------------------------------------------------------------- */

static void md5_hex(const char *s, size_t step, char out[33])
{
	struct sw_md5 m;
	size_t n = strlen(s);

	sw_md5_init(&m);
	for (size_t off = 0; off < n; off += step)
		sw_md5_update(&m, s + off, SW_MIN(step, n - off));
	sw_md5_final_hex(&m, out);
}

static void test_md5_rfc1321(void **state)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		  "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		  "57edf4a22be3c955ac49da2e2107b67a" },
	};
	char hex[33];

	for (size_t i = 0; i < SW_ARRAY_LEN(v); i++) {
		size_t steps[] = { 1, 3, 63, 64, 65, 1000 };
		for (size_t j = 0; j < SW_ARRAY_LEN(steps); j++) {
			md5_hex(v[i].in, steps[j], hex);
			assert_string_equal(hex, v[i].hex);
		}
	}
}

/* Lengths around the 55/56/64-byte padding edges, checked against a one-shot update. */
static void test_md5_padding_edges(void **state)
{
	char buf[200], a[33], b[33];

	memset(buf, 'x', sizeof buf);
	for (size_t n = 50; n < 140; n++) {
		struct sw_md5 m;
		sw_md5_init(&m);
		sw_md5_update(&m, buf, n);
		sw_md5_final_hex(&m, a);
		sw_md5_init(&m);
		for (size_t i = 0; i < n; i++)
			sw_md5_update(&m, buf + i, 1);
		sw_md5_final_hex(&m, b);
		assert_string_equal(a, b);
	}
	/* 56 bytes: the length no longer fits in the first block. */
	buf[56] = '\0';
	md5_hex(buf, 56, a);
	assert_string_equal(a, "668a72d5ba17f08e62dabcafad6db14b"); /* md5sum of 56 x */
}

/* ---- whole hellos ------------------------------------------------------------------------ */

static void test_ch_tls13_grease(void **state)
{
	struct sw_client_hello ch;

	assert_int_equal(sw_tls_parse_client_hello(ch13_grease, sizeof ch13_grease, &ch), SW_TLS_OK);
	assert_int_equal(ch.legacy_version, 0x0303);
	assert_int_equal(ch.max_version, 0x0304); /* GREASE 0xdada in supported_versions ignored */
	assert_true(ch.has_supported_versions);
	assert_false(ch.fallback_scsv);
	assert_false(ch.sslv2_format);
	assert_int_equal(ch.n_ciphers, 27);       /* GREASE 0x8a8a counted */
	assert_int_equal(ch.sni_len, strlen("imap.asia.secureserver.net"));
	assert_string_equal(ch.sni, "imap.asia.secureserver.net");
	assert_int_equal(ch.alpn_len, 0);
	assert_string_equal(ch.ja3, "66b2d7acea2c20aeeebd69c8d44089d7"); /* tshark */
}

static void test_ch_scsv(void **state)
{
	struct sw_client_hello ch;

	assert_int_equal(sw_tls_parse_client_hello(ch_scsv, sizeof ch_scsv, &ch), SW_TLS_OK);
	assert_int_equal(ch.legacy_version, 0x0301);
	assert_int_equal(ch.max_version, 0x0301);
	assert_false(ch.has_supported_versions);
	assert_true(ch.fallback_scsv);
	assert_int_equal(ch.n_ciphers, 9);
	assert_string_equal(ch.sni, "www.google-analytics.com");
	assert_string_equal(ch.alpn, "h2");
	assert_int_equal(ch.alpn_len, 2);
	assert_string_equal(ch.ja3, "d78489b860c8bf7838a6ff0b4d131541"); /* tshark */
}

static void test_ch_draft(void **state)
{
	struct sw_client_hello ch;

	assert_int_equal(sw_tls_parse_client_hello(ch_draft, sizeof ch_draft, &ch), SW_TLS_OK);
	assert_int_equal(ch.legacy_version, 0x0303);
	assert_int_equal(ch.max_version, 0x7f0e); /* a draft ranks above TLS 1.2 */
	assert_true(ch.has_supported_versions);
	assert_string_equal(ch.alpn, "h2");
	assert_string_equal(ch.ja3, "1bbe072c914653f5696401459ca0f9b8"); /* tshark */
}

static void test_ch_hrr(void **state)
{
	struct sw_client_hello ch;

	assert_int_equal(sw_tls_parse_client_hello(ch_hrr, sizeof ch_hrr, &ch), SW_TLS_OK);
	assert_int_equal(ch.max_version, 0x0304);
	assert_string_equal(ch.ja3, "0f14b679807628ec7f9c02cada3ee941"); /* tshark */
}

static void test_sh_downgrade_sentinel(void **state)
{
	struct sw_server_hello sh;

	assert_int_equal(sw_tls_parse_server_hello(sh12_downgrd, sizeof sh12_downgrd, &sh), SW_TLS_OK);
	assert_int_equal(sh.legacy_version, 0x0303);
	assert_int_equal(sh.version, 0x0303);
	assert_int_equal(sh.cipher, 0xc030);
	assert_int_equal(sh.sentinel, 1);
	assert_false(sh.is_hello_retry);
	assert_string_equal(sh.ja3s, "b653c251b0ee54c3088fe7bb997cf59d"); /* tshark */

	/* The same hello with DOWNGRD\0 (TLS 1.1 or below), and with neither. */
	uint8_t b[sizeof sh12_downgrd];
	memcpy(b, sh12_downgrd, sizeof b);
	b[2 + 31] = 0x00;
	assert_int_equal(sw_tls_parse_server_hello(b, sizeof b, &sh), SW_TLS_OK);
	assert_int_equal(sh.sentinel, 2);
	b[2 + 31] = 0x02;
	assert_int_equal(sw_tls_parse_server_hello(b, sizeof b, &sh), SW_TLS_OK);
	assert_int_equal(sh.sentinel, 0);
}

/* The HelloRetryRequest is the first handshake message of srv_hrr_stream. */
static const uint8_t *hrr_body(size_t *len)
{
	*len = ((size_t)srv_hrr_stream[6] << 16) | ((size_t)srv_hrr_stream[7] << 8) | srv_hrr_stream[8];
	return srv_hrr_stream + 9;
}

static void test_sh_hrr(void **state)
{
	struct sw_server_hello sh;
	size_t n;
	const uint8_t *b = hrr_body(&n);

	assert_int_equal(sw_tls_parse_server_hello(b, n, &sh), SW_TLS_OK);
	assert_true(sh.is_hello_retry);
	assert_int_equal(sh.legacy_version, 0x0303);
	assert_int_equal(sh.version, 0x0304);
	assert_int_equal(sh.cipher, 0x1302);
	assert_int_equal(sh.sentinel, 0);
	assert_string_equal(sh.ja3s, "15af977ce25de452b96affa2addb1036"); /* tshark */
}

static void test_sh_draft(void **state)
{
	struct sw_server_hello sh;

	assert_int_equal(sw_tls_parse_server_hello(sh_draft, sizeof sh_draft, &sh), SW_TLS_OK);
	assert_int_equal(sh.legacy_version, 0x7f0e);
	assert_int_equal(sh.version, 0x7f0e);
	assert_int_equal(sh.cipher, 0xcca9);
	assert_string_equal(sh.ja3s, "9ce213de238ed8aea57e81e02c0e4882"); /* tshark */
}

static void test_sslv2_hellos(void **state)
{
	struct sw_client_hello ch;
	struct sw_server_hello sh;

	assert_int_equal(sw_tls_parse_sslv2_client_hello(v2_ssl2, sizeof v2_ssl2, &ch), SW_TLS_OK);
	assert_true(ch.sslv2_format);
	assert_int_equal(ch.legacy_version, 0x0002);
	assert_int_equal(ch.max_version, 0x0002);
	assert_int_equal(ch.n_ciphers, 7);
	assert_false(ch.fallback_scsv);
	assert_string_equal(ch.ja3, "");

	assert_int_equal(sw_tls_parse_sslv2_client_hello(v2_tls12, sizeof v2_tls12, &ch), SW_TLS_OK);
	assert_int_equal(ch.legacy_version, 0x0303);
	assert_int_equal(ch.max_version, 0x0303);
	assert_int_equal(ch.n_ciphers, 3);

	/* 0x005600 as a 3-byte spec is TLS_FALLBACK_SCSV: replace the last spec. */
	uint8_t b[sizeof v2_tls12];
	memcpy(b, v2_tls12, sizeof b);
	size_t last = 11 + 6;
	b[last] = 0x00;
	b[last + 1] = 0x56;
	b[last + 2] = 0x00;
	assert_int_equal(sw_tls_parse_sslv2_client_hello(b, sizeof b, &ch), SW_TLS_OK);
	assert_true(ch.fallback_scsv);

	assert_int_equal(sw_tls_parse_sslv2_server_hello(v2_server_hello, sizeof v2_server_hello, &sh), SW_TLS_OK);
	assert_true(sh.sslv2_format);
	assert_int_equal(sh.version, 0x0002);
	assert_int_equal(sh.ssl2_cipher, 0x0700c0);
}

/* The same CLIENT-HELLO with a 3-byte header (no padding) parses the same. */
static void test_sslv2_three_byte_header(void **state)
{
	uint8_t b[sizeof v2_ssl2 + 1];
	struct sw_client_hello ch;
	size_t body = sizeof v2_ssl2 - 2;

	b[0] = (uint8_t)(body >> 8);
	b[1] = (uint8_t)body;
	b[2] = 0;
	memcpy(b + 3, v2_ssl2 + 2, body);
	assert_int_equal(sw_tls_parse_sslv2_client_hello(b, sizeof b, &ch), SW_TLS_OK);
	assert_int_equal(ch.n_ciphers, 7);
	b[2] = 200; /* more padding than the record holds */
	assert_int_equal(sw_tls_parse_sslv2_client_hello(b, sizeof b, &ch), SW_TLS_ERR_VALUE);
}

/* A ClientHello without extensions (RFC 5246 7.4.1.2) is valid. */
static void test_ch_no_extensions(void **state)
{
	uint8_t b[2 + 32 + 1 + 2 + 4 + 2];
	struct sw_client_hello ch;
	size_t o = 0;

	b[o++] = 0x03;
	b[o++] = 0x01;
	memset(b + o, 0x5a, 32);
	o += 32;
	b[o++] = 0;           /* session id */
	b[o++] = 0;
	b[o++] = 4;           /* two suites */
	b[o++] = 0x00;
	b[o++] = 0x05;
	b[o++] = 0x56;
	b[o++] = 0x00;
	b[o++] = 1;           /* one compression method: null */
	b[o++] = 0;
	assert_int_equal(o, sizeof b);
	assert_int_equal(sw_tls_parse_client_hello(b, sizeof b, &ch), SW_TLS_OK);
	assert_true(ch.fallback_scsv);
	assert_int_equal(ch.max_version, 0x0301);
	assert_int_equal(ch.sni_len, 0);
	/* JA3 "769,5-22016,,," */
	struct sw_md5 m;
	char want[33];
	sw_md5_init(&m);
	sw_md5_update(&m, "769,5-22016,,,", 14);
	sw_md5_final_hex(&m, want);
	assert_string_equal(ch.ja3, want);
}

/* ---- truncation, lying lengths, trailing bytes --------------------------------------------- */

enum hello_kind { K_CH, K_SH, K_V2CH, K_V2SH };

static int parse_any(enum hello_kind k, const uint8_t *b, size_t n)
{
	struct sw_client_hello ch;
	struct sw_server_hello sh;

	switch (k) {
	case K_CH:
		return sw_tls_parse_client_hello(b, n, &ch);
	case K_SH:
		return sw_tls_parse_server_hello(b, n, &sh);
	case K_V2CH:
		return sw_tls_parse_sslv2_client_hello(b, n, &ch);
	default:
		return sw_tls_parse_sslv2_server_hello(b, n, &sh);
	}
}

/* Where the extensions block begins: cutting there leaves a valid extension-less hello. */
static size_t ext_start(enum hello_kind k, const uint8_t *b, size_t n)
{
	if (k == K_SH) {
		if ((b[0] & 0xff) == 0x7f && b[1] < 22)
			return 2 + 32 + 2; /* draft layout: extensions are not optional there, but
					    * a cut before them is indistinguishable from TLS 1.2 */
		return 2 + 32 + 1 + b[34] + 2 + 1;
	}
	if (k != K_CH)
		return SIZE_MAX;
	size_t o = 2 + 32;
	o += 1 + b[o];
	o += 2 + (((size_t)b[o] << 8) | b[o + 1]);
	o += 1 + b[o];
	return o;
}

struct lenfield {
	size_t off;
	int width;
};

/* Offsets of the length fields of known extensions' contents. */
static size_t ext_inner_fields(uint16_t type, size_t d, size_t dlen, struct lenfield *lf)
{
	if (dlen == 0)
		return 0;
	switch (type) {
	case 0:  /* server_name: list, then the first name */
		lf[0] = (struct lenfield){ d, 2 };
		lf[1] = (struct lenfield){ d + 3, 2 };
		return 2;
	case 16: /* ALPN: list, then the first name */
		lf[0] = (struct lenfield){ d, 2 };
		lf[1] = (struct lenfield){ d + 2, 1 };
		return 2;
	case 10: /* supported_groups */
		lf[0] = (struct lenfield){ d, 2 };
		return 1;
	case 11: /* ec_point_formats */
	case 43: /* supported_versions (client) */
		lf[0] = (struct lenfield){ d, 1 };
		return 1;
	}
	return 0;
}

/* Every length field the parser reads, for TLS hellos. */
static size_t tls_len_fields(enum hello_kind k, const uint8_t *b, size_t n, struct lenfield *lf)
{
	size_t m = 0, o = 2 + 32;
	bool draft = k == K_SH && b[0] == 0x7f && b[1] < 22;

	if (!draft) {
		lf[m++] = (struct lenfield){ o, 1 };
		o += 1 + b[o];
	}
	if (k == K_CH) {
		lf[m++] = (struct lenfield){ o, 2 };
		o += 2 + (((size_t)b[o] << 8) | b[o + 1]);
		lf[m++] = (struct lenfield){ o, 1 };
		o += 1 + b[o];
	} else {
		o += draft ? 2 : 3;
	}
	if (o >= n)
		return m;
	lf[m++] = (struct lenfield){ o, 2 };
	size_t end = o + 2 + (((size_t)b[o] << 8) | b[o + 1]);
	for (o += 2; o < end;) {
		uint16_t type = (uint16_t)((b[o] << 8) | b[o + 1]);
		size_t dlen = ((size_t)b[o + 2] << 8) | b[o + 3];
		lf[m++] = (struct lenfield){ o + 2, 2 };
		if (k == K_CH)
			m += ext_inner_fields(type, o + 4, dlen, lf + m);
		o += 4 + dlen;
	}
	return m;
}

static size_t v2_len_fields(enum hello_kind k, struct lenfield *lf)
{
	size_t m = 0;
	lf[m++] = (struct lenfield){ 0, 2 }; /* record length (15 bits) */
	if (k == K_V2CH) {
		lf[m++] = (struct lenfield){ 5, 2 };
		lf[m++] = (struct lenfield){ 7, 2 };
		lf[m++] = (struct lenfield){ 9, 2 };
	} else {
		lf[m++] = (struct lenfield){ 7, 2 };
		lf[m++] = (struct lenfield){ 9, 2 };
		lf[m++] = (struct lenfield){ 11, 2 };
	}
	return m;
}

static void set_len(uint8_t *b, const struct lenfield *f, uint32_t v)
{
	if (f->width == 1) {
		b[f->off] = (uint8_t)v;
	} else {
		b[f->off] = (uint8_t)(v >> 8);
		b[f->off + 1] = (uint8_t)v;
	}
}

static uint32_t get_len(const uint8_t *b, const struct lenfield *f)
{
	return f->width == 1 ? b[f->off] : ((uint32_t)b[f->off] << 8) | b[f->off + 1];
}

static void check_robust(enum hello_kind k, const uint8_t *orig, size_t n)
{
	static uint8_t b[8192];
	struct lenfield lf[128];

	assert_true(n + 8 <= sizeof b);
	assert_int_equal(parse_any(k, orig, n), SW_TLS_OK);

	/* Every truncation fails, except a cut right before the extensions block. */
	size_t es = ext_start(k, orig, n);
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t *t = malloc(cut ? cut : 1); /* exact size: ASan catches any over-read */
		assert_non_null(t);
		memcpy(t, orig, cut);
		int rc = parse_any(k, t, cut);
		free(t);
		if (cut == es)
			assert_int_equal(rc, SW_TLS_OK);
		else
			assert_true(rc < 0);
	}

	/*
	 * Every length field one larger and one smaller than the truth fails,
	 * with one exception that no parser can refuse: an opaque extension's
	 * length that shifts the rest into another well-formed extension list.
	 * (ch_draft: token_binding's length 4 -> 5 turns GREASE + padding into
	 * one 256-byte extension 0x0a00.)  Such a reading must then differ.
	 */
	size_t m = (k == K_CH || k == K_SH) ? tls_len_fields(k, orig, n, lf) : v2_len_fields(k, lf);
	unsigned valid_reads = 0;
	assert_true(m >= 2);
	for (size_t i = 0; i < m; i++) {
		uint32_t mask = lf[i].width == 1 ? 0xff : 0xffff;
		uint32_t v = get_len(orig, &lf[i]);
		for (int delta = -1; delta <= 1; delta += 2) {
			memcpy(b, orig, n);
			uint32_t nv = (v + (uint32_t)delta) & mask;
			if (k >= K_V2CH && i == 0)
				nv = ((v + (uint32_t)delta) & 0x7fff) | 0x8000;
			set_len(b, &lf[i], nv);
			if (parse_any(k, b, n) == SW_TLS_OK) {
				struct sw_client_hello a, c;
				assert_int_equal(k, K_CH);
				assert_int_equal(sw_tls_parse_client_hello(orig, n, &a), SW_TLS_OK);
				assert_int_equal(sw_tls_parse_client_hello(b, n, &c), SW_TLS_OK);
				assert_string_not_equal(a.ja3, c.ja3);
				valid_reads++;
			}
		}
	}
	assert_true(valid_reads <= 1);

	/* Bytes after the last span. */
	for (size_t extra = 1; extra <= 3; extra++) {
		memcpy(b, orig, n);
		memset(b + n, 0, extra);
		int rc = parse_any(k, b, n + extra);
		if (es < n || k >= K_V2CH)
			assert_int_equal(rc, SW_TLS_ERR_TRAILING);
		else
			assert_true(rc < 0);
	}
}

static void test_robust_client_hellos(void **state)
{
	check_robust(K_CH, ch13_grease, sizeof ch13_grease);
	check_robust(K_CH, ch_scsv, sizeof ch_scsv);
	check_robust(K_CH, ch_hrr, sizeof ch_hrr);
	check_robust(K_CH, ch_draft, sizeof ch_draft);
}

static void test_robust_server_hellos(void **state)
{
	size_t n;
	const uint8_t *b = hrr_body(&n);

	check_robust(K_SH, sh12_downgrd, sizeof sh12_downgrd);
	check_robust(K_SH, b, n);
	check_robust(K_SH, sh_draft, sizeof sh_draft);
}

static void test_robust_sslv2(void **state)
{
	check_robust(K_V2CH, v2_ssl2, sizeof v2_ssl2);
	check_robust(K_V2CH, v2_tls12, sizeof v2_tls12);
	check_robust(K_V2SH, v2_server_hello, sizeof v2_server_hello);
}

/* Find extension type t in a ClientHello; returns the offset of its header. */
static size_t find_ext(const uint8_t *b, size_t n, uint16_t t, size_t *block_len_off)
{
	size_t o = ext_start(K_CH, b, n);
	*block_len_off = o;
	size_t end = o + 2 + (((size_t)b[o] << 8) | b[o + 1]);
	for (o += 2; o < end; o += 4 + (((size_t)b[o + 2] << 8) | b[o + 3]))
		if (((b[o] << 8) | b[o + 1]) == t)
			return o;
	return SIZE_MAX;
}

/* A byte left over inside one extension's data is TRAILING too. */
static void test_trailing_inside_extension(void **state)
{
	uint8_t b[sizeof ch_scsv + 1];
	struct sw_client_hello ch;
	size_t blk;
	size_t e = find_ext(ch_scsv, sizeof ch_scsv, 0, &blk);

	assert_true(e != SIZE_MAX);
	size_t dlen = ((size_t)ch_scsv[e + 2] << 8) | ch_scsv[e + 3];
	size_t at = e + 4 + dlen;
	memcpy(b, ch_scsv, at);
	b[at] = 0;
	memcpy(b + at + 1, ch_scsv + at, sizeof ch_scsv - at);
	b[e + 3]++;                  /* extension length + 1 (no carry for this vector) */
	assert_true(b[e + 3] != 0);
	b[blk + 1]++;                /* extensions block length + 1 */
	assert_true(b[blk + 1] != 0);
	assert_int_equal(sw_tls_parse_client_hello(b, sizeof b, &ch), SW_TLS_ERR_TRAILING);
}

/* Values no valid hello has: odd cipher list, empty lists, long session id, empty SNI name. */
static void test_bad_values(void **state)
{
	uint8_t b[sizeof ch_scsv];
	struct sw_client_hello ch;

	memcpy(b, ch_scsv, sizeof b);
	b[34] = 33; /* session id longer than 32 (the bytes run on into the suites) */
	assert_int_equal(sw_tls_parse_client_hello(b, sizeof b, &ch), SW_TLS_ERR_VALUE);

	/* supported_versions with an odd list length, inside a consistent extension. */
	static const uint8_t sv_odd[] = {
		0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00,
		0x00, 0x08, 0x00, 0x2b, 0x00, 0x04, 0x03, 0x03, 0x04, 0x03,
	};
	assert_int_equal(sw_tls_parse_client_hello(sv_odd, sizeof sv_odd, &ch), SW_TLS_ERR_VALUE);
}

/* ---- streaming ---------------------------------------------------------------------------- */

static void want_ch(const struct got *g, int i, const char *ja3)
{
	assert_true(i < g->n);
	assert_int_equal(g->ev[i].kind, SW_TLS_EV_CLIENT_HELLO);
	assert_string_equal(g->ev[i].fp, ja3);
}

static void want_kind(const struct got *g, int i, int kind)
{
	assert_true(i < g->n);
	assert_int_equal(g->ev[i].kind, kind);
}

/* A ClientHello in one record, fragmented over records, and split every way. */
static void stream_client_hello(const uint8_t *body, size_t n, const char *ja3)
{
	struct got ref, g;
	size_t frags[] = { 1, 2, 3, 4, 5, 7, 100, 16384 };

	for (size_t i = 0; i < SW_ARRAY_LEN(frags); i++) {
		size_t len = put_hs(sbuf, 1, body, n, frags[i]);
		feed(sbuf, len, 0, &g);
		if (i == 0)
			ref = g;
		assert_int_equal(g.n, 1);
		want_ch(&g, 0, ja3);
		assert_memory_equal(&g.ev[0], &ref.ev[0], sizeof g.ev[0]);
		check_splits(sbuf, len, &ref);
	}

	/* Every prefix of the stream: no event at all, and no error. */
	size_t len = put_hs(sbuf, 1, body, n, 200);
	for (size_t cut = 0; cut < len; cut++) {
		feed(sbuf, cut, 0, &g);
		assert_int_equal(g.n, 0);
		feed(sbuf, cut, 1, &g);
		assert_int_equal(g.n, 0);
	}
}

static void test_stream_client_hellos(void **state)
{
	stream_client_hello(ch13_grease, sizeof ch13_grease, "66b2d7acea2c20aeeebd69c8d44089d7");
	stream_client_hello(ch_scsv, sizeof ch_scsv, "d78489b860c8bf7838a6ff0b4d131541");
	stream_client_hello(ch_hrr, sizeof ch_hrr, "0f14b679807628ec7f9c02cada3ee941");
	stream_client_hello(ch_draft, sizeof ch_draft, "1bbe072c914653f5696401459ca0f9b8");
}

/* A whole hello in one call is parsed in place; a split one is copied, then released. */
static void test_stream_memory(void **state)
{
	struct sw_tls_dir d;
	struct got g = { 0 };
	size_t len = put_hs(sbuf, 1, ch_scsv, sizeof ch_scsv, 16384);

	sw_tls_dir_init(&d);
	assert_int_equal(sw_tls_dir_feed(&d, sbuf, len, on_event, &g), len);
	assert_int_equal(g.n, 1);
	assert_null(d.hs_buf);

	sw_tls_dir_init(&d);
	g.n = 0;
	sw_tls_dir_feed(&d, sbuf, 20, on_event, &g);
	assert_non_null(d.hs_buf);
	assert_true(d.hs_cap <= SW_TLS_HELLO_MAX);
	sw_tls_dir_feed(&d, sbuf + 20, len - 20, on_event, &g);
	assert_int_equal(g.n, 1);
	assert_null(d.hs_buf);

	/* A 60000-byte Certificate message is skipped without a buffer. */
	static const uint8_t cert_hdr[] = { 0x16, 0x03, 0x03, 0x40, 0x00, 0x0b, 0x00, 0xea, 0x60 };
	static uint8_t zeros[0x4000 - 4];
	sw_tls_dir_init(&d);
	g.n = 0;
	sw_tls_dir_feed(&d, cert_hdr, sizeof cert_hdr, on_event, &g);
	sw_tls_dir_feed(&d, zeros, sizeof zeros, on_event, &g);
	assert_null(d.hs_buf);
	assert_int_equal(g.n, 0);
	assert_false(sw_tls_dir_finished(&d));
	sw_tls_dir_free(&d);
}

static void test_stream_server_tls12(void **state)
{
	struct got g;
	size_t len = put_hs(sbuf, 2, sh12_downgrd, sizeof sh12_downgrd, 16384);

	memcpy(sbuf + len, ccs_rec, sizeof ccs_rec);
	len += sizeof ccs_rec;
	memcpy(sbuf + len, appdata_rec, sizeof appdata_rec);
	len += sizeof appdata_rec;
	feed(sbuf, len, 0, &g);
	assert_int_equal(g.n, 3);
	want_kind(&g, 0, SW_TLS_EV_SERVER_HELLO);
	assert_int_equal(g.ev[0].sentinel, 1);
	assert_int_equal(g.ev[0].v2, 0x0303);
	assert_string_equal(g.ev[0].fp, "b653c251b0ee54c3088fe7bb997cf59d");
	want_kind(&g, 1, SW_TLS_EV_CCS);
	want_kind(&g, 2, SW_TLS_EV_ENCRYPTED);
	check_splits(sbuf, len, &g);

	/* No CCS: the first application_data record ends it too. */
	len = put_hs(sbuf, 2, sh12_downgrd, sizeof sh12_downgrd, 30);
	memcpy(sbuf + len, appdata_rec, sizeof appdata_rec);
	len += sizeof appdata_rec;
	feed(sbuf, len, 0, &g);
	assert_int_equal(g.n, 2);
	want_kind(&g, 1, SW_TLS_EV_ENCRYPTED);
	check_splits(sbuf, len, &g);
}

/* Real server direction: HRR, compatibility CCS, then the real ServerHello in clear. */
static void test_stream_server_hrr(void **state)
{
	struct got g;

	feed(srv_hrr_stream, sizeof srv_hrr_stream, 0, &g);
	assert_int_equal(g.n, 4);
	want_kind(&g, 0, SW_TLS_EV_SERVER_HELLO);
	assert_true(g.ev[0].hrr);
	assert_string_equal(g.ev[0].fp, "15af977ce25de452b96affa2addb1036");
	want_kind(&g, 1, SW_TLS_EV_CCS);
	want_kind(&g, 2, SW_TLS_EV_SERVER_HELLO);
	assert_false(g.ev[2].hrr);
	assert_int_equal(g.ev[2].v2, 0x0304);
	assert_int_equal(g.ev[2].cipher, 0x1302);
	want_kind(&g, 3, SW_TLS_EV_ENCRYPTED);
	check_splits(srv_hrr_stream, sizeof srv_hrr_stream, &g);
}

/* A TLS 1.3 (here draft 14) ServerHello: everything after it is encrypted. */
static void test_stream_server_tls13(void **state)
{
	struct got g;
	size_t len = put_hs(sbuf, 2, sh_draft, sizeof sh_draft, 16384);

	/* Encrypted bytes in a record that claims to be a handshake: never parsed. */
	static const uint8_t junk[] = { 0x16, 0x03, 0x03, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff };
	memcpy(sbuf + len, junk, sizeof junk);
	len += sizeof junk;
	feed(sbuf, len, 0, &g);
	assert_int_equal(g.n, 2);
	want_kind(&g, 0, SW_TLS_EV_SERVER_HELLO);
	assert_int_equal(g.ev[0].v2, 0x7f0e);
	want_kind(&g, 1, SW_TLS_EV_ENCRYPTED);
	check_splits(sbuf, len, &g);
}

/* A client's CCS ends the direction (the TLS 1.3 compatibility CCS included). */
static void test_stream_client_ccs(void **state)
{
	struct got g;
	size_t len = put_hs(sbuf, 1, ch_hrr, sizeof ch_hrr, 16384);

	memcpy(sbuf + len, ccs_rec, sizeof ccs_rec);
	len += sizeof ccs_rec;
	len += put_hs(sbuf + len, 1, ch_hrr, sizeof ch_hrr, 16384);
	feed(sbuf, len, 0, &g);
	assert_int_equal(g.n, 3);
	want_ch(&g, 0, "0f14b679807628ec7f9c02cada3ee941");
	want_kind(&g, 1, SW_TLS_EV_CCS);
	want_kind(&g, 2, SW_TLS_EV_ENCRYPTED);
	check_splits(sbuf, len, &g);
}

static void test_stream_alerts(void **state)
{
	struct got g;

	/* ntop_nDPI/tls_alert.pcap frame 6: fatal protocol_version. */
	static const uint8_t s1[] = { 0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46 };
	feed(s1, sizeof s1, 0, &g);
	assert_int_equal(g.n, 1);
	want_kind(&g, 0, SW_TLS_EV_ALERT);
	assert_int_equal(g.ev[0].level, 2);
	assert_int_equal(g.ev[0].desc, 70);
	check_splits(s1, sizeof s1, &g);

	/* After a ServerHello; two alerts in one record, then one split over records. */
	size_t len = put_hs(sbuf, 2, sh12_downgrd, sizeof sh12_downgrd, 16384);
	static const uint8_t tail[] = {
		0x15, 0x03, 0x03, 0x00, 0x04, 0x01, 0x00, 0x02, 0x56,
		0x15, 0x03, 0x03, 0x00, 0x01, 0x02,
		0x15, 0x03, 0x03, 0x00, 0x01, 0x28,
	};
	memcpy(sbuf + len, tail, sizeof tail);
	len += sizeof tail;
	feed(sbuf, len, 0, &g);
	assert_int_equal(g.n, 4);
	want_kind(&g, 1, SW_TLS_EV_ALERT);
	assert_int_equal(g.ev[1].desc, 0);
	assert_int_equal(g.ev[2].desc, 86);
	assert_int_equal(g.ev[3].level, 2);
	assert_int_equal(g.ev[3].desc, 40);
	check_splits(sbuf, len, &g);

	/* An alert record too long to be plaintext: an encrypted alert (a late start). */
	static const uint8_t enc[] = {
		0x15, 0x03, 0x01, 0x00, 0x16, 0x07, 0x62, 0x2d, 0x38, 0xe1, 0x10, 0x58, 0xbe, 0xec,
		0x77, 0xb5, 0x83, 0x9f, 0x42, 0x0a, 0xce, 0x61, 0x47, 0x36, 0xb3, 0xee, 0xb2,
	};
	feed(enc, sizeof enc, 0, &g);
	assert_int_equal(g.n, 1);
	want_kind(&g, 0, SW_TLS_EV_ENCRYPTED);
}

static void test_stream_sslv2(void **state)
{
	struct got g;

	feed(v2_ssl2, sizeof v2_ssl2, 0, &g);
	assert_int_equal(g.n, 2);
	want_kind(&g, 0, SW_TLS_EV_CLIENT_HELLO);
	assert_true(g.ev[0].v2fmt);
	assert_int_equal(g.ev[0].v2, 0x0002);
	want_kind(&g, 1, SW_TLS_EV_ENCRYPTED);
	check_splits(v2_ssl2, sizeof v2_ssl2, &g);

	/* v2-format hello offering TLS 1.2, then TLS records. */
	memcpy(sbuf, v2_tls12, sizeof v2_tls12);
	size_t len = sizeof v2_tls12;
	len += put_hs(sbuf + len, 16, (const uint8_t *)"\x00\x02\xab\xcd", 4, 16384);
	memcpy(sbuf + len, ccs_rec, sizeof ccs_rec);
	len += sizeof ccs_rec;
	feed(sbuf, len, 0, &g);
	assert_int_equal(g.n, 3);
	want_kind(&g, 0, SW_TLS_EV_CLIENT_HELLO);
	assert_int_equal(g.ev[0].v2, 0x0303);
	want_kind(&g, 1, SW_TLS_EV_CCS);
	want_kind(&g, 2, SW_TLS_EV_ENCRYPTED);
	check_splits(sbuf, len, &g);

	feed(v2_server_hello, sizeof v2_server_hello, 0, &g);
	assert_int_equal(g.n, 2);
	want_kind(&g, 0, SW_TLS_EV_SERVER_HELLO);
	assert_int_equal(g.ev[0].ssl2_cipher, 0x0700c0);
	want_kind(&g, 1, SW_TLS_EV_ENCRYPTED);
	check_splits(v2_server_hello, sizeof v2_server_hello, &g);

	/* Truncated v2 record: nothing yet, no error. */
	for (size_t cut = 0; cut < sizeof v2_ssl2; cut++) {
		feed(v2_ssl2, cut, 0, &g);
		assert_int_equal(g.n, 0);
	}
}

static void test_stream_not_tls(void **state)
{
#define T(s) { (const uint8_t *)(s), sizeof(s) - 1 }
	static const struct {
		const uint8_t *p;
		size_t n;
	} texts[] = {
		T("220 mail.example.org ESMTP Postfix\r\n"),
		T("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
		T("+OK POP3 ready\r\n"),
		T("QUIT\r\n"),
		T("HTTP/1.1 400 Bad Request\r\n"),
		T("\x16\x03\x07\x00\x10"), /* version 3.7 */
		T("\x16\x02\x01\x00\x10"), /* major 2 */
		T("\x80\x2e\x02\x00\x02"), /* SSLv2 message type 2 first */
		T("\x80\x2e\x01\x00\x03"), /* SSLv2 hello, version 0.3 */
		T("\x2e\x00\x00\x01\x05"), /* SSLv2 3-byte header, version 5.x */
	};
#undef T
	struct got g;

	for (size_t i = 0; i < SW_ARRAY_LEN(texts); i++) {
		const uint8_t *p = texts[i].p;
		size_t n = texts[i].n;
		feed(p, n, 0, &g);
		assert_int_equal(g.n, 1);
		want_kind(&g, 0, SW_TLS_EV_NOT_TLS);
		assert_int_equal(g.not_tls_n, SW_MIN(n, (size_t)64));
		assert_memory_equal(g.not_tls_bytes, p, g.not_tls_n);
		/* Byte by byte: the same verdict, evidence a prefix of the same bytes. */
		feed(p, n, 1, &g);
		assert_int_equal(g.n, 1);
		want_kind(&g, 0, SW_TLS_EV_NOT_TLS);
		assert_memory_equal(g.not_tls_bytes, p, g.not_tls_n);
	}
}

static void expect_malformed(const uint8_t *p, size_t n, int anomaly, int err)
{
	struct got g;
	feed(p, n, 0, &g);
	assert_true(g.n >= 1);
	want_kind(&g, g.n - 1, SW_TLS_EV_MALFORMED);
	assert_int_equal(g.ev[g.n - 1].anomaly, anomaly);
	assert_int_equal(g.ev[g.n - 1].err, err);
	check_splits(p, n, &g);
}

static void test_stream_malformed(void **state)
{
	size_t len;

	/* A record type that does not exist, after a good record. */
	len = put_hs(sbuf, 1, ch_scsv, sizeof ch_scsv, 16384);
	static const uint8_t bad_type[] = { 0x19, 0x03, 0x03, 0x00, 0x01, 0x00 };
	memcpy(sbuf + len, bad_type, sizeof bad_type);
	expect_malformed(sbuf, len + sizeof bad_type, SW_AN_TLS_BAD_RECORD, 0);

	/* Record longer than 2^14 + 2048. */
	static const uint8_t too_long[] = { 0x16, 0x03, 0x01, 0x48, 0x01, 0x01 };
	expect_malformed(too_long, sizeof too_long, SW_AN_TLS_BAD_RECORD, 0);

	/* Zero-length handshake record; CCS of two bytes; CCS byte not 1; alert level 3. */
	static const uint8_t zero_hs[] = { 0x16, 0x03, 0x01, 0x00, 0x00 };
	expect_malformed(zero_hs, sizeof zero_hs, SW_AN_TLS_BAD_RECORD, 0);
	static const uint8_t ccs2[] = { 0x14, 0x03, 0x03, 0x00, 0x02, 0x01, 0x01 };
	expect_malformed(ccs2, sizeof ccs2, SW_AN_TLS_BAD_RECORD, 0);
	static const uint8_t ccs_val[] = { 0x14, 0x03, 0x03, 0x00, 0x01, 0x02 };
	expect_malformed(ccs_val, sizeof ccs_val, SW_AN_TLS_BAD_RECORD, 0);
	static const uint8_t alert3[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x03, 0x28 };
	expect_malformed(alert3, sizeof alert3, SW_AN_TLS_BAD_RECORD, 0);

	/* An alert between two fragments of a ClientHello. */
	len = put_record(sbuf, 22, 0x0301, (const uint8_t *)"\x01\x00\x00\xbe\x03\x01", 6);
	len += put_record(sbuf + len, 21, 0x0301, (const uint8_t *)"\x02\x28", 2);
	expect_malformed(sbuf, len, SW_AN_TLS_BAD_RECORD, 0);
	/* ... even between the bytes of its 4-byte header. */
	len = put_record(sbuf, 22, 0x0301, (const uint8_t *)"\x01\x00", 2);
	len += put_record(sbuf + len, 20, 0x0301, (const uint8_t *)"\x01", 1);
	expect_malformed(sbuf, len, SW_AN_TLS_BAD_RECORD, 0);

	/* A hello longer than SW_TLS_HELLO_MAX. */
	static const uint8_t huge[] = { 0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x01, 0x00, 0x01 };
	expect_malformed(huge, sizeof huge, SW_AN_TLS_BAD_HELLO, SW_TLS_ERR_VALUE);

	/* A ClientHello with a byte after its extensions, whole and fragmented. */
	static uint8_t body[sizeof ch13_grease + 1];
	memcpy(body, ch13_grease, sizeof ch13_grease);
	body[sizeof ch13_grease] = 0;
	len = put_hs(sbuf, 1, body, sizeof body, 16384);
	expect_malformed(sbuf, len, SW_AN_TLS_TRAILING_BYTES, SW_TLS_ERR_TRAILING);
	len = put_hs(sbuf, 1, body, sizeof body, 50);
	expect_malformed(sbuf, len, SW_AN_TLS_TRAILING_BYTES, SW_TLS_ERR_TRAILING);

	/* A handshake length shorter than the hello: its body is cut short. */
	len = put_hs(sbuf, 1, ch_scsv, sizeof ch_scsv, 16384);
	sbuf[5 + 3] -= 10; /* the record still carries every byte */
	expect_malformed(sbuf, len, SW_AN_TLS_BAD_HELLO, SW_TLS_ERR_SHORT);

	/* A bad ServerHello: odd session id length running past the body. */
	static uint8_t shb[sizeof sh12_downgrd];
	memcpy(shb, sh12_downgrd, sizeof shb);
	shb[34] = 200;
	len = put_hs(sbuf, 2, shb, sizeof shb, 16384);
	expect_malformed(sbuf, len, SW_AN_TLS_BAD_HELLO, SW_TLS_ERR_SHORT);

	/* A broken SSLv2 CLIENT-HELLO: cipher_spec_length not a multiple of 3. */
	static uint8_t v2b[sizeof v2_ssl2];
	memcpy(v2b, v2_ssl2, sizeof v2b);
	v2b[6] = 0x14; /* 20: the specs, session id and challenge still fit the record */
	expect_malformed(v2b, sizeof v2b, SW_AN_TLS_BAD_HELLO, SW_TLS_ERR_VALUE);
}

/* Once finished, feed reads nothing. */
static void test_stream_finished(void **state)
{
	struct sw_tls_dir d;
	struct got g = { 0 };

	sw_tls_dir_init(&d);
	assert_int_equal(sw_tls_dir_feed(&d, appdata_rec, sizeof appdata_rec, on_event, &g), sizeof appdata_rec);
	assert_true(sw_tls_dir_finished(&d));
	assert_int_equal(d.state, SW_TLSD_ENCRYPTED);
	assert_int_equal(sw_tls_dir_feed(&d, ccs_rec, sizeof ccs_rec, on_event, &g), 0);
	assert_int_equal(g.n, 1);
	sw_tls_dir_free(&d);

	sw_tls_dir_init(&d);
	g.n = 0;
	sw_tls_dir_feed(&d, (const uint8_t *)"EHLO x\r\n", 8, on_event, &g);
	assert_int_equal(d.state, SW_TLSD_FAILED);
	assert_int_equal(sw_tls_dir_feed(&d, ccs_rec, sizeof ccs_rec, NULL, NULL), 0);
	sw_tls_dir_free(&d);
}

static void test_looks_like_record(void **state)
{
	assert_true(sw_tls_looks_like_record((const uint8_t *)"\x16\x03\x01\x00\xbe", 5));
	assert_true(sw_tls_looks_like_record((const uint8_t *)"\x16\x03\x00", 3));
	assert_true(sw_tls_looks_like_record((const uint8_t *)"\x16\x03\x04", 3));
	assert_true(sw_tls_looks_like_record((const uint8_t *)"\x15\x03\x03\x00\x02", 5));
	assert_true(sw_tls_looks_like_record((const uint8_t *)"\x14\x03\x01", 3));
	assert_true(sw_tls_looks_like_record(v2_ssl2, sizeof v2_ssl2));
	assert_true(sw_tls_looks_like_record(v2_tls12, sizeof v2_tls12));
	assert_true(sw_tls_looks_like_record(v2_tls12, 3));
	assert_false(sw_tls_looks_like_record((const uint8_t *)"\x16\x03", 2));
	assert_false(sw_tls_looks_like_record((const uint8_t *)"\x16\x03\x05", 3));
	assert_false(sw_tls_looks_like_record((const uint8_t *)"\x17\x03\x03", 3));
	assert_false(sw_tls_looks_like_record((const uint8_t *)"220 ok", 6));
	assert_false(sw_tls_looks_like_record((const uint8_t *)"\x80\x2e\x01\x00\x03", 5));
	assert_false(sw_tls_looks_like_record((const uint8_t *)"\x80\x05\x01\x00\x02", 5));
	assert_false(sw_tls_looks_like_record(v2_server_hello, sizeof v2_server_hello));
}

static void test_grease(void **state)
{
	unsigned n = 0;
	for (uint32_t v = 0; v <= 0xffff; v++)
		if (sw_tls_is_grease((uint16_t)v)) {
			assert_int_equal(v & 0x0f0f, 0x0a0a);
			assert_int_equal(v >> 8, v & 0xff);
			n++;
		}
	assert_int_equal(n, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md5_rfc1321),
		cmocka_unit_test(test_md5_padding_edges),
		cmocka_unit_test(test_grease),
		cmocka_unit_test(test_ch_tls13_grease),
		cmocka_unit_test(test_ch_scsv),
		cmocka_unit_test(test_ch_draft),
		cmocka_unit_test(test_ch_hrr),
		cmocka_unit_test(test_ch_no_extensions),
		cmocka_unit_test(test_sh_downgrade_sentinel),
		cmocka_unit_test(test_sh_hrr),
		cmocka_unit_test(test_sh_draft),
		cmocka_unit_test(test_sslv2_hellos),
		cmocka_unit_test(test_sslv2_three_byte_header),
		cmocka_unit_test(test_robust_client_hellos),
		cmocka_unit_test(test_robust_server_hellos),
		cmocka_unit_test(test_robust_sslv2),
		cmocka_unit_test(test_trailing_inside_extension),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_stream_client_hellos),
		cmocka_unit_test(test_stream_memory),
		cmocka_unit_test(test_stream_server_tls12),
		cmocka_unit_test(test_stream_server_hrr),
		cmocka_unit_test(test_stream_server_tls13),
		cmocka_unit_test(test_stream_client_ccs),
		cmocka_unit_test(test_stream_alerts),
		cmocka_unit_test(test_stream_sslv2),
		cmocka_unit_test(test_stream_not_tls),
		cmocka_unit_test(test_stream_malformed),
		cmocka_unit_test(test_stream_finished),
		cmocka_unit_test(test_looks_like_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
