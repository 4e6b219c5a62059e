/*
 * tls_stream.c - one direction of a TLS (or SSLv2) byte stream, parsed as
 * it arrives, up to the point where encryption starts.
 *
 * Invariants of struct sw_tls_dir between calls:
 *  - rec_left > 0: inside the body of a record of type rec_type; else
 *    hdr[0..hdr_have) holds the start of the next record header.
 *  - inside a handshake record: hs_left > 0 means inside a message body,
 *    else hs_hdr[0..hs_hdr_have) holds the start of the next message header.
 *    A message may span records; no other record type may come between.
 *  - hs_keep: the current message is a hello being copied into hs_buf
 *    (hs_len bytes so far, hs_cap allocated, <= SW_TLS_HELLO_MAX).  Any
 *    other message is skipped without copying.  A hello that arrives whole
 *    inside one call is parsed in place, without copying.
 *  - the first record of a direction may be an SSLv2-format record
 *    (REC_SSLV2); it is assembled whole in hs_buf, header included.
 *  - state ENCRYPTED / FAILED is final: feed reads nothing more and hs_buf
 *    is released.
 *
 * Each event is reported once, in stream order, whatever the split of the
 * input; only NOT_TLS's evidence span depends on the split (see not_tls()).
 */
#include <stdlib.h>
#include <string.h>

#include "tls.h"

enum {
	CT_CCS = 20,        /* RFC 5246 6.2.1 ContentType */
	CT_ALERT = 21,
	CT_HANDSHAKE = 22,
	CT_APPDATA = 23,
	CT_HEARTBEAT = 24,  /* RFC 6520 */
	REC_SSLV2 = 0x80,   /* internal: an SSLv2-format record being assembled */
};

#define HS_CLIENT_HELLO 1
#define HS_SERVER_HELLO 2

/* RFC 5246 6.2.3: TLSCiphertext.length <= 2^14 + 2048. */
#define TLS_RECORD_MAX (16384u + 2048u)
#define NOT_TLS_EVIDENCE_MAX 64
#define ALERT_PLAIN_MAX 16 /* longest alert record taken as plaintext alerts */

void sw_tls_dir_init(struct sw_tls_dir *d)
{
	memset(d, 0, sizeof *d);
	d->state = SW_TLSD_START;
}

void sw_tls_dir_free(struct sw_tls_dir *d)
{
	free(d->hs_buf);
	d->hs_buf = NULL;
	d->hs_len = d->hs_cap = 0;
	d->hs_keep = false;
}

/* ---- reporting ---------------------------------------------------------------- */

struct feed_ctx {
	sw_tls_event_fn cb;
	void *ctx;
};

static void emit(const struct feed_ctx *f, const struct sw_tls_event *ev)
{
	if (f->cb)
		f->cb(f->ctx, ev);
}

static void finish(struct sw_tls_dir *d, enum sw_tls_dir_state st)
{
	d->state = st;
	sw_tls_dir_free(d);
}

static void encrypted(struct sw_tls_dir *d, const struct feed_ctx *f)
{
	struct sw_tls_event ev = { .kind = SW_TLS_EV_ENCRYPTED };
	emit(f, &ev);
	finish(d, SW_TLSD_ENCRYPTED);
}

static void malformed(struct sw_tls_dir *d, const struct feed_ctx *f, enum sw_anomaly an, int err)
{
	struct sw_tls_event ev = { .kind = SW_TLS_EV_MALFORMED, .anomaly = an, .err = err };
	emit(f, &ev);
	finish(d, SW_TLSD_FAILED);
}

static void bad_hello(struct sw_tls_dir *d, const struct feed_ctx *f, int err)
{
	malformed(d, f, err == SW_TLS_ERR_TRAILING ? SW_AN_TLS_TRAILING_BYTES : SW_AN_TLS_BAD_HELLO, err);
}

/* ---- hellos ---------------------------------------------------------------------- */

/* The version a ServerHello selected is TLS 1.3 or one of its drafts. */
static bool is_tls13(uint16_t v)
{
	return v == 0x0304 || (v & 0xff00) == 0x7f00;
}

/* A whole hello message body: parse it and report. */
static void hello_done(struct sw_tls_dir *d, const struct feed_ctx *f, uint8_t type,
		       const uint8_t *body, size_t len)
{
	struct sw_tls_event ev = { 0 };

	if (type == HS_CLIENT_HELLO) {
		struct sw_client_hello ch;
		int rc = sw_tls_parse_client_hello(body, len, &ch);
		if (rc != SW_TLS_OK) {
			bad_hello(d, f, rc);
			return;
		}
		ev.kind = SW_TLS_EV_CLIENT_HELLO;
		ev.ch = &ch;
		emit(f, &ev);
		return;
	}

	struct sw_server_hello sh;
	int rc = sw_tls_parse_server_hello(body, len, &sh);
	if (rc != SW_TLS_OK) {
		bad_hello(d, f, rc);
		return;
	}
	ev.kind = SW_TLS_EV_SERVER_HELLO;
	ev.sh = &sh;
	emit(f, &ev);
	if (sh.is_hello_retry) {
		d->hrr_seen = true; /* a second, plaintext ServerHello follows (RFC 8446 4.1.4) */
		return;
	}
	/* RFC 8446 2: everything after the ServerHello is encrypted. */
	if (is_tls13(sh.version))
		encrypted(d, f);
}

/* Make room for a hello of n bytes; false when memory is short. */
static bool hs_reserve(struct sw_tls_dir *d, uint32_t n)
{
	if (d->hs_cap >= n && d->hs_buf)
		return true;
	uint8_t *b = realloc(d->hs_buf, n ? n : 1);
	if (!b)
		return false;
	d->hs_buf = b;
	d->hs_cap = n;
	return true;
}

/* ---- handshake records ---------------------------------------------------------- */

/* A message header is complete: start its body. */
static void hs_message_start(struct sw_tls_dir *d, const struct feed_ctx *f,
			     const uint8_t **pp, size_t *lenp)
{
	uint8_t type = d->hs_hdr[0];
	uint32_t mlen = ((uint32_t)d->hs_hdr[1] << 16) | ((uint32_t)d->hs_hdr[2] << 8) | d->hs_hdr[3];

	d->hs_hdr_have = 0;
	d->hs_keep = false;
	d->hs_len = 0;
	d->hs_left = mlen;
	if (type != HS_CLIENT_HELLO && type != HS_SERVER_HELLO)
		return; /* skipped without copying; a zero-length one is simply over */

	if (mlen > SW_TLS_HELLO_MAX) {
		malformed(d, f, SW_AN_TLS_BAD_HELLO, SW_TLS_ERR_VALUE);
		return;
	}
	if (mlen <= *lenp) {
		/* The whole message is here: parse it where it lies. */
		const uint8_t *body = *pp;
		*pp += mlen;
		*lenp -= mlen;
		d->hs_left = 0;
		hello_done(d, f, type, body, mlen);
		return;
	}
	/* Otherwise copy it as it comes; without memory it is skipped unseen. */
	d->hs_keep = hs_reserve(d, mlen);
}

/* Bytes of a handshake record body. */
static void hs_bytes(struct sw_tls_dir *d, const struct feed_ctx *f, const uint8_t *p, size_t len)
{
	while (len && !sw_tls_dir_finished(d)) {
		if (d->hs_left == 0) {
			d->hs_hdr[d->hs_hdr_have++] = *p++;
			len--;
			if (d->hs_hdr_have == sizeof d->hs_hdr)
				hs_message_start(d, f, &p, &len);
			continue;
		}
		size_t take = SW_MIN(len, (size_t)d->hs_left);
		if (d->hs_keep) {
			memcpy(d->hs_buf + d->hs_len, p, take);
			d->hs_len += (uint32_t)take;
		}
		p += take;
		len -= take;
		d->hs_left -= (uint32_t)take;
		if (d->hs_left == 0 && d->hs_keep) {
			d->hs_keep = false;
			hello_done(d, f, d->hs_hdr[0], d->hs_buf, d->hs_len);
			sw_tls_dir_free(d); /* hellos are rare: hold no memory between them */
		}
	}
}

/* ---- alerts and CCS -------------------------------------------------------------- */

/* RFC 5246 7.2: struct { AlertLevel level; AlertDescription description; } */
static void alert_bytes(struct sw_tls_dir *d, const struct feed_ctx *f, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len && !sw_tls_dir_finished(d); i++) {
		d->alert_buf[d->alert_have++] = p[i];
		if (d->alert_have < 2)
			continue;
		d->alert_have = 0;
		if (d->alert_buf[0] != 1 && d->alert_buf[0] != 2) {
			malformed(d, f, SW_AN_TLS_BAD_RECORD, 0); /* warning(1) or fatal(2) only */
			return;
		}
		struct sw_tls_event ev = {
			.kind = SW_TLS_EV_ALERT,
			.alert_level = d->alert_buf[0],
			.alert_desc = d->alert_buf[1],
		};
		emit(f, &ev);
	}
}

/* RFC 5246 7.1: the one byte of a ChangeCipherSpec is 1. */
static void ccs_byte(struct sw_tls_dir *d, const struct feed_ctx *f, uint8_t b)
{
	if (b != 1) {
		malformed(d, f, SW_AN_TLS_BAD_RECORD, 0);
		return;
	}
	struct sw_tls_event ev = { .kind = SW_TLS_EV_CCS };
	emit(f, &ev);
	d->ccs_seen = true;
	/*
	 * After a HelloRetryRequest, a TLS 1.3 server may send its compatibility
	 * CCS and then the real ServerHello in clear (RFC 8446 D.4); any other
	 * CCS is followed by encrypted records.
	 */
	if (!d->hrr_seen)
		encrypted(d, f);
}

/* ---- SSLv2 records ---------------------------------------------------------------- */

/* The whole SSLv2-format first record is in hs_buf. */
static void sslv2_done(struct sw_tls_dir *d, const struct feed_ctx *f)
{
	const uint8_t *rec = d->hs_buf;
	size_t len = d->hs_len;
	uint8_t msg = (rec[0] & 0x80) ? rec[2] : rec[3];
	struct sw_tls_event ev = { 0 };
	bool true_v2;

	d->hs_keep = false;
	if (msg == 1) {
		struct sw_client_hello ch;
		int rc = sw_tls_parse_sslv2_client_hello(rec, len, &ch);
		if (rc != SW_TLS_OK) {
			bad_hello(d, f, rc);
			return;
		}
		true_v2 = ch.legacy_version < 0x0300;
		ev.kind = SW_TLS_EV_CLIENT_HELLO;
		ev.ch = &ch;
		emit(f, &ev);
	} else {
		struct sw_server_hello sh;
		int rc = sw_tls_parse_sslv2_server_hello(rec, len, &sh);
		if (rc != SW_TLS_OK) {
			bad_hello(d, f, rc);
			return;
		}
		true_v2 = true;
		ev.kind = SW_TLS_EV_SERVER_HELLO;
		ev.sh = &sh;
		emit(f, &ev);
	}
	/*
	 * SSL 2.0 proper: the rest is the master key exchange and encrypted
	 * records, nothing more to learn.  A v3-compatible client hello in v2
	 * format is followed by TLS records (RFC 6101 E.1).
	 */
	if (true_v2)
		encrypted(d, f);
	else
		sw_tls_dir_free(d);
}

/* ---- record headers ---------------------------------------------------------------- */

/*
 * Can hdr[0..have) still be the start of a direction's first record?  A
 * TLS record (type 20..24, version 3.0..3.4), or an SSLv2-format record
 * with a 2-byte header (CLIENT-HELLO, version 0.2 or 3.x; SERVER-HELLO) or
 * a 3-byte header (CLIENT-HELLO only).  Only the newest byte is checked.
 */
static bool first_prefix_ok(const uint8_t *h, unsigned have)
{
	unsigned i = have - 1;
	uint8_t b = h[i];

	if (h[0] >= CT_CCS && h[0] <= CT_HEARTBEAT) {
		if (i == 1)
			return b == 3;
		if (i == 2)
			return b <= 4;
		return true;
	}
	if (h[0] & 0x80) {
		if (i == 0 || i == 1)
			return true;
		if (i == 2)
			return b == 1 || b == 4;
		if (h[2] == 1)
			return i == 3 ? (b == 0 || b == 3) : (h[3] == 3 || b == 2);
		return i == 3 ? b <= 1 : true; /* SERVER-HELLO: session_id_hit, certificate type */
	}
	if (h[0] <= 0x3f) {
		if (i <= 2)
			return true;
		if (i == 3)
			return b == 1;
		return b == 0 || b == 3;
	}
	return false;
}

/*
 * The direction's first bytes are not TLS.  Evidence is the first bytes of
 * the direction: up to 64 when this call began the direction, else the
 * header bytes gathered so far.
 */
static void not_tls(struct sw_tls_dir *d, const struct feed_ctx *f, const uint8_t *chunk, size_t n,
		    bool chunk_starts_dir)
{
	struct sw_tls_event ev = { .kind = SW_TLS_EV_NOT_TLS };
	if (chunk_starts_dir) {
		ev.bytes = chunk;
		ev.n_bytes = SW_MIN(n, (size_t)NOT_TLS_EVIDENCE_MAX);
	} else {
		ev.bytes = d->hdr;
		ev.n_bytes = d->hdr_have;
	}
	emit(f, &ev);
	finish(d, SW_TLSD_FAILED);
}

/* The first header is complete and is an SSLv2-format record: assemble it. */
static void sslv2_start(struct sw_tls_dir *d, const struct feed_ctx *f)
{
	const uint8_t *h = d->hdr;
	size_t total = (h[0] & 0x80) ? 2 + ((((size_t)h[0] & 0x7f) << 8) | h[1])
				     : 3 + ((((size_t)h[0] & 0x3f) << 8) | h[1]);
	if (total < sizeof d->hdr) {
		malformed(d, f, SW_AN_TLS_BAD_HELLO, SW_TLS_ERR_SHORT);
		return;
	}
	d->sslv2 = true;
	d->rec_type = REC_SSLV2;
	d->rec_left = (uint32_t)(total - sizeof d->hdr);
	d->hs_len = 0;
	if (!hs_reserve(d, (uint32_t)total)) {
		finish(d, SW_TLSD_FAILED); /* out of memory: stop quietly, nothing is known */
		return;
	}
	memcpy(d->hs_buf, h, sizeof d->hdr);
	d->hs_len = sizeof d->hdr;
	d->hs_keep = true;
}

/* A complete 5-byte TLS record header (RFC 5246 6.2.1). */
static void record_start(struct sw_tls_dir *d, const struct feed_ctx *f)
{
	const uint8_t *h = d->hdr;
	uint8_t type = h[0];
	uint32_t len = ((uint32_t)h[3] << 8) | h[4];

	if (type < CT_CCS || type > CT_HEARTBEAT || h[1] != 3 || len > TLS_RECORD_MAX) {
		malformed(d, f, SW_AN_TLS_BAD_RECORD, 0);
		return;
	}
	/* RFC 8446 5.1: a handshake message may not be interleaved with other records. */
	if ((type != CT_HANDSHAKE && (d->hs_left || d->hs_hdr_have)) ||
	    (type != CT_ALERT && d->alert_have)) {
		malformed(d, f, SW_AN_TLS_BAD_RECORD, 0);
		return;
	}
	/*
	 * Application data is encrypted.  So is an alert record too long for
	 * plaintext alerts: an encrypted alert carries at least a 16-byte MAC
	 * or tag besides its 2 bytes (seen when a capture joins a session late).
	 */
	if (type == CT_APPDATA || (type == CT_ALERT && len > ALERT_PLAIN_MAX)) {
		encrypted(d, f);
		return;
	}
	/* RFC 5246 6.2.1: no zero-length handshake, alert or CCS fragments. */
	if (len == 0 || (type == CT_CCS && len != 1)) {
		malformed(d, f, SW_AN_TLS_BAD_RECORD, 0);
		return;
	}
	d->rec_type = type;
	d->rec_version = (uint16_t)((h[1] << 8) | h[2]);
	d->rec_left = len;
}

/* ---- feed ------------------------------------------------------------------------- */

/* Bytes of the current record body. */
static void body_bytes(struct sw_tls_dir *d, const struct feed_ctx *f, const uint8_t *p, size_t take)
{
	switch (d->rec_type) {
	case CT_HANDSHAKE:
		hs_bytes(d, f, p, take);
		break;
	case CT_ALERT:
		alert_bytes(d, f, p, take);
		break;
	case CT_CCS:
		ccs_byte(d, f, p[0]);
		break;
	case REC_SSLV2:
		memcpy(d->hs_buf + d->hs_len, p, take);
		d->hs_len += (uint32_t)take;
		if (d->rec_left == take)
			sslv2_done(d, f);
		break;
	default:
		break; /* heartbeat: skipped */
	}
}

size_t sw_tls_dir_feed(struct sw_tls_dir *d, const uint8_t *p, size_t n,
		       sw_tls_event_fn cb, void *ctx)
{
	const struct feed_ctx f = { cb, ctx };
	bool starts_dir = d->state == SW_TLSD_START && d->hdr_have == 0;
	size_t off = 0;

	if (sw_tls_dir_finished(d))
		return 0;

	while (off < n && !sw_tls_dir_finished(d)) {
		if (d->rec_left) {
			size_t take = SW_MIN(n - off, (size_t)d->rec_left);
			body_bytes(d, &f, p + off, take);
			d->rec_left -= (uint32_t)take;
			off += take;
			continue;
		}

		d->hdr[d->hdr_have++] = p[off++];
		if (d->state == SW_TLSD_START) {
			if (!first_prefix_ok(d->hdr, d->hdr_have)) {
				not_tls(d, &f, p, n, starts_dir);
				break;
			}
		} else if (d->hdr_have == 1 && d->sslv2 && (d->hdr[0] & 0x80)) {
			/* SSLv2 records go on after a v2-format hello: the key exchange. */
			encrypted(d, &f);
			break;
		}
		if (d->hdr_have < sizeof d->hdr)
			continue;
		d->hdr_have = 0;

		if (d->state == SW_TLSD_START) {
			d->state = SW_TLSD_RECORDS;
			if (!(d->hdr[0] >= CT_CCS && d->hdr[0] <= CT_HEARTBEAT)) {
				sslv2_start(d, &f);
				continue;
			}
		}
		record_start(d, &f);
	}
	return n;
}

/* ---- detection ---------------------------------------------------------------------- */

bool sw_tls_looks_like_record(const uint8_t *p, size_t n)
{
	if (n < 3)
		return false;
	if ((p[0] == CT_HANDSHAKE || p[0] == CT_ALERT || p[0] == CT_CCS) && p[1] == 3 && p[2] <= 4)
		return true;
	/* SSLv2 CLIENT-HELLO: 2-byte header, msg type 1, version 0.2 or 3.x, >= 9 bytes of body. */
	if ((p[0] & 0x80) && p[2] == 1 && ((((size_t)p[0] & 0x7f) << 8) | p[1]) >= 9) {
		if (n < 5)
			return true;
		return (p[3] == 0 && p[4] == 2) || p[3] == 3;
	}
	return false;
}
