/*
 * chain.h - the line format shared by the writer (alert.c) and the
 * verifier (verify.c).
 *
 * Every line ends with the chain members, in this exact form:
 *
 *   ,"seq":N,"session":"<32 hex>","prev":"<44 base64>","kid":"<16 HEX>"
 *
 * followed by either `}` (an unsigned line) or `,"sig":"<88 base64>"}`
 * (a signed line).  The writer never produces anything else, so the
 * verifier reads these members from the end of the line with fixed
 * lengths and needs no JSON parser.
 *
 * prev = base64(BLAKE2b-256(previous line)), the previous line being its
 *        complete bytes without the newline, signature included; 32 zero
 *        bytes for the first line of a new chain.  BLAKE2b-256 was chosen
 *        by measurement (0.9 us per 600-byte line against 3.1 us for
 *        SHA-256 in libsodium 1.0.18 here) and is also minisign's hash.
 *
 * sig  = base64(Ed25519(CONTEXT || L)), L = the line's bytes from `{` up
 *        to but not including `,"sig":"`.  A signed line therefore ends
 *        with exactly SW_SIG_SUFFIX_LEN bytes `,"sig":"` + 88 + `"}`, and L
 *        is the line minus that suffix.  The context string separates
 *        these signatures from any other use of the key (.minisig files).
 */
#ifndef SW_CHAIN_H
#define SW_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SW_CHAIN_CONTEXT "stripwatch-event-v1\n"
#define SW_CHAIN_CONTEXT_LEN (sizeof(SW_CHAIN_CONTEXT) - 1)
#define SW_HASH_LEN 32
#define SW_HASH_B64_LEN 45      /* 44 + NUL */
#define SW_SIG_LEN 64
#define SW_SIG_B64_LEN 89       /* 88 + NUL */
#define SW_SESSION_HEX_LEN 33   /* 32 + NUL */
#define SW_SIG_SUFFIX_LEN (8 + 88 + 2)

/* The longest line the writer makes, newline included. */
#define SW_LINE_MAX 16384

void sw_line_hash(uint8_t out[SW_HASH_LEN], const char *line, size_t len);

struct sw_chain_tail {
	uint64_t seq;
	char session[SW_SESSION_HEX_LEN];
	uint8_t prev[SW_HASH_LEN];
	char kid[17];
	bool has_sig;
	uint8_t sig[SW_SIG_LEN];
	size_t signed_len;      /* bytes of the line covered by sig (L) */
};

/* Reads the chain members of one line (no newline).  0 ok, -1 malformed. */
int sw_chain_parse_tail(const char *line, size_t len, struct sw_chain_tail *t);

/* event_type of a line into out (up to n-1 chars); false if not found. */
bool sw_line_event_type(const char *line, size_t len, char *out, size_t n);
/* chain.kind of a chain line into out; false if none. */
bool sw_line_chain_kind(const char *line, size_t len, char *out, size_t n);
/* True when the line contains the exact bytes s (in the part before the chain members). */
bool sw_line_has(const char *line, size_t len, const char *s);

#endif
