/*
 * fuzz_tls.c - libFuzzer harness for the TLS hello parsers and the
 * streaming TLS direction parser (dissect/tls.h).
 *
 * Input layout: byte 0 picks the target (value % 5):
 *   0 sw_tls_parse_client_hello     on bytes 1..
 *   1 sw_tls_parse_server_hello     on bytes 1..
 *   2 sw_tls_parse_sslv2_client_hello on bytes 1..
 *   3 sw_tls_parse_sslv2_server_hello on bytes 1..
 *   4 sw_tls_dir_feed: byte 1 = k (k % 8 chunk lengths follow, each 1..256);
 *     the rest is the stream, fed once whole and once cut into chunks of
 *     those lengths (cycling).  The two runs must report the same events
 *     (tls_stream.c promises split invariance except NOT_TLS's evidence
 *     span): a difference aborts.
 * Parsed results are read field by field so that an uninitialised or
 * out-of-bounds string shows up under the sanitizers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touch every string in a parsed hello: they must be NUL-terminated in bounds. */
static size_t touch_ch(const struct sw_client_hello *ch)
{
	return strlen(ch->sni) + strlen(ch->alpn) + strlen(ch->ja3) + ch->max_version + ch->n_ciphers;
}

static size_t touch_sh(const struct sw_server_hello *sh)
{
	return strlen(sh->ja3s) + sh->version + sh->cipher + sh->sentinel;
}

/* A record of the events of one run, compared between the whole and the split feed. */
#define EV_LOG_MAX 64
struct ev_rec {
	int kind;
	uint16_t v1, v2, v3;
	uint8_t b1, b2;
	int err;
	char s[SW_SNI_MAX + 1 + 33];
};

struct ev_log {
	size_t n;
	struct ev_rec ev[EV_LOG_MAX];
};

static void log_event(void *ctx, const struct sw_tls_event *ev)
{
	struct ev_log *l = ctx;
	struct ev_rec r;
	memset(&r, 0, sizeof r);
	r.kind = (int)ev->kind;
	switch (ev->kind) {
	case SW_TLS_EV_CLIENT_HELLO:
		r.v1 = ev->ch->legacy_version;
		r.v2 = ev->ch->max_version;
		r.v3 = ev->ch->n_ciphers;
		r.b1 = ev->ch->fallback_scsv;
		r.b2 = ev->ch->sslv2_format;
		(void)touch_ch(ev->ch);
		memcpy(r.s, ev->ch->sni, strlen(ev->ch->sni));
		memcpy(r.s + SW_SNI_MAX + 1, ev->ch->ja3, strlen(ev->ch->ja3));
		break;
	case SW_TLS_EV_SERVER_HELLO:
		r.v1 = ev->sh->legacy_version;
		r.v2 = ev->sh->version;
		r.v3 = ev->sh->cipher;
		r.b1 = ev->sh->sentinel;
		r.b2 = (uint8_t)(ev->sh->is_hello_retry | (ev->sh->sslv2_format << 1));
		(void)touch_sh(ev->sh);
		memcpy(r.s, ev->sh->ja3s, strlen(ev->sh->ja3s));
		break;
	case SW_TLS_EV_ALERT:
		r.b1 = ev->alert_level;
		r.b2 = ev->alert_desc;
		break;
	case SW_TLS_EV_MALFORMED:
		r.err = ev->err;
		r.v1 = (uint16_t)ev->anomaly;
		break;
	case SW_TLS_EV_NOT_TLS:
		/* Evidence bytes depend on the split; only check they are readable. */
		if (ev->n_bytes) {
			volatile uint8_t x = ev->bytes[0];
			x = ev->bytes[ev->n_bytes - 1];
			(void)x;
		}
		break;
	default:
		break;
	}
	if (l->n < EV_LOG_MAX)
		memcpy(&l->ev[l->n], &r, sizeof r);
	l->n++;
}

static void run_stream(const uint8_t *p, size_t n, const uint8_t *lens, size_t n_lens,
		       struct ev_log *log)
{
	struct sw_tls_dir d;
	size_t i = 0, k = 0;

	sw_tls_dir_init(&d);
	while (i < n) {
		size_t take = n - i;
		if (n_lens) {
			size_t want = (size_t)lens[k++ % n_lens] + 1;
			take = SW_MIN(take, want);
		}
		/* Exact-size copy so that ASan sees any read past the chunk. */
		uint8_t *chunk = malloc(take);
		if (!chunk)
			abort();
		memcpy(chunk, p + i, take);
		size_t used = sw_tls_dir_feed(&d, chunk, take, log_event, log);
		free(chunk);
		if (used != take && !(used == 0 && sw_tls_dir_finished(&d)))
			abort();
		i += take;
	}
	sw_tls_dir_free(&d);
}

static void fuzz_stream(const uint8_t *data, size_t size)
{
	if (size < 1)
		return;
	size_t n_lens = data[0] % 8;
	if (size < 1 + n_lens)
		return;
	const uint8_t *lens = data + 1;
	const uint8_t *p = data + 1 + n_lens;
	size_t n = size - 1 - n_lens;

	static struct ev_log whole, split;
	whole.n = split.n = 0;
	run_stream(p, n, NULL, 0, &whole);
	run_stream(p, n, lens, n_lens, &split);
	if (whole.n != split.n)
		abort();
	for (size_t i = 0; i < SW_MIN(whole.n, (size_t)EV_LOG_MAX); i++)
		if (memcmp(&whole.ev[i], &split.ev[i], sizeof whole.ev[i]) != 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0] % 5;
	data++;
	size--;
	/* Exact-size copy: the parsers must not read past len. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	struct sw_client_hello ch;
	struct sw_server_hello sh;
	switch (mode) {
	case 0:
		if (sw_tls_parse_client_hello(buf, size, &ch) == SW_TLS_OK)
			(void)touch_ch(&ch);
		break;
	case 1:
		if (sw_tls_parse_server_hello(buf, size, &sh) == SW_TLS_OK)
			(void)touch_sh(&sh);
		break;
	case 2:
		if (sw_tls_parse_sslv2_client_hello(buf, size, &ch) == SW_TLS_OK)
			(void)touch_ch(&ch);
		break;
	case 3:
		if (sw_tls_parse_sslv2_server_hello(buf, size, &sh) == SW_TLS_OK)
			(void)touch_sh(&sh);
		break;
	default:
		fuzz_stream(buf, size);
		break;
	}
	free(buf);
	return 0;
}
