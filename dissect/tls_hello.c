/*
 * tls_hello.c - ClientHello / ServerHello parsing over one complete
 * handshake message body, and the SSLv2-format hellos.
 *
 * Contract (tls.h): pure functions over a span.  They allocate nothing and
 * read wire bytes only through the bounded cursor (sw_common.h).  Every
 * nested vector is opened with cur_sub(), which charges it to its parent,
 * and is checked closed with close_span(): a length past its parent is
 * SW_TLS_ERR_SHORT, bytes left in a closed span are SW_TLS_ERR_TRAILING, a
 * length that no valid hello can have (odd cipher list, 40-byte session id)
 * is SW_TLS_ERR_VALUE.  On error *out holds whatever was read so far and
 * must not be used.
 *
 * JA3 / JA3S (salesforce/ja3) are hashed while walking, with a streaming
 * MD5 and no temporary lists: the extensions block is walked once for the
 * extension types and the checks, then again for the groups and the point
 * formats, which come after the types in the JA3 string.
 */
#include <string.h>

#include "tls.h"

/* TLS extension types used here (IANA "TLS ExtensionType Values"). */
enum {
	EXT_SERVER_NAME = 0,         /* RFC 6066 3 */
	EXT_SUPPORTED_GROUPS = 10,   /* RFC 8422 5.1.1, RFC 8446 4.2.7 */
	EXT_EC_POINT_FORMATS = 11,   /* RFC 8422 5.1.2 */
	EXT_ALPN = 16,               /* RFC 7301 3.1 */
	EXT_SUPPORTED_VERSIONS = 43, /* RFC 8446 4.2.1 */
};

#define TLS_FALLBACK_SCSV 0x5600 /* RFC 7507 */

/* SHA-256("HelloRetryRequest"): the ServerHello random of an HRR (RFC 8446 4.1.3). */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* "DOWNGRD" + 01 (TLS 1.2) or 00 (TLS 1.1 and below): RFC 8446 4.1.3. */
static const uint8_t downgrade_magic[7] = { 0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44 };

/* ---- small helpers --------------------------------------------------------- */

/* A span is closed correctly when no read failed and every byte was used. */
static int close_span(const struct sw_cur *s)
{
	if (!cur_ok(s))
		return SW_TLS_ERR_SHORT;
	return cur_done(s) ? SW_TLS_OK : SW_TLS_ERR_TRAILING;
}

/*
 * Ordering key for versions: SSL 2.0 < SSL 3.0 < ... < TLS 1.2 < any TLS 1.3
 * draft (0x7fNN) < TLS 1.3.  Other values compare by value.
 */
static uint32_t version_key(uint16_t v)
{
	if ((v & 0xff00) == 0x7f00)
		return (0x0303u << 8) | (v & 0xff);
	return (uint32_t)v << 8;
}

static uint16_t version_max(uint16_t a, uint16_t b)
{
	return version_key(b) > version_key(a) ? b : a;
}

/*
 * JA3 text sink: decimal numbers, '-' between list items, ',' between
 * fields, staged in a small buffer so MD5 sees a few large updates.
 */
struct ja3_w {
	struct sw_md5 md5;
	bool first;        /* no item written yet in the current field */
	uint8_t used;
	char buf[64];
};

static void ja3_start(struct ja3_w *w)
{
	sw_md5_init(&w->md5);
	w->first = true;
	w->used = 0;
}

static void ja3_put(struct ja3_w *w, const char *s, size_t n)
{
	if (w->used + n > sizeof w->buf) {
		sw_md5_update(&w->md5, w->buf, w->used);
		w->used = 0;
	}
	memcpy(w->buf + w->used, s, n);
	w->used = (uint8_t)(w->used + n);
}

static void ja3_num(struct ja3_w *w, unsigned v)
{
	char tmp[8];
	size_t n = sizeof tmp;

	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n > 1);
	if (!w->first)
		tmp[--n] = '-';
	ja3_put(w, tmp + n, sizeof tmp - n);
	w->first = false;
}

static void ja3_field_end(struct ja3_w *w)
{
	ja3_put(w, ",", 1);
	w->first = true;
}

static void ja3_final(struct ja3_w *w, char hex[33])
{
	sw_md5_update(&w->md5, w->buf, w->used);
	sw_md5_final_hex(&w->md5, hex);
}

static void copy_cut(char *dst, size_t cap, uint8_t *dst_len, const uint8_t *src, size_t n)
{
	size_t k = SW_MIN(n, cap - 1);
	memcpy(dst, src, k);
	dst[k] = '\0';
	*dst_len = (uint8_t)k;
}

/* ---- ClientHello extensions ----------------------------------------------- */

/* server_name (RFC 6066 3): ServerNameList<1..2^16-1>, first host_name kept. */
static int ch_server_name(struct sw_cur *x, struct sw_client_hello *out, bool *have_sni)
{
	struct sw_cur list = cur_sub(x, cur_be16(x));
	if (!cur_ok(&list))
		return SW_TLS_ERR_SHORT;
	if (!cur_left(&list))
		return SW_TLS_ERR_VALUE;
	while (cur_left(&list)) {
		uint8_t type = cur_u8(&list);
		struct sw_cur name = cur_sub(&list, cur_be16(&list));
		if (!cur_ok(&name))
			return SW_TLS_ERR_SHORT;
		size_t n = cur_left(&name);
		if (type == 0 && n == 0)
			return SW_TLS_ERR_VALUE; /* HostName<1..2^16-1> */
		if (type == 0 && !*have_sni) {
			copy_cut(out->sni, sizeof out->sni, &out->sni_len, name.p, n);
			*have_sni = true;
		}
	}
	return close_span(&list);
}

/* ALPN (RFC 7301 3.1): ProtocolNameList<2..2^16-1> of ProtocolName<1..2^8-1>. */
static int ch_alpn(struct sw_cur *x, struct sw_client_hello *out, bool *have_alpn)
{
	struct sw_cur list = cur_sub(x, cur_be16(x));
	if (!cur_ok(&list))
		return SW_TLS_ERR_SHORT;
	if (!cur_left(&list))
		return SW_TLS_ERR_VALUE;
	while (cur_left(&list)) {
		struct sw_cur name = cur_sub(&list, cur_u8(&list));
		if (!cur_ok(&name))
			return SW_TLS_ERR_SHORT;
		if (!cur_left(&name))
			return SW_TLS_ERR_VALUE;
		if (!*have_alpn) {
			copy_cut(out->alpn, sizeof out->alpn, &out->alpn_len, name.p, cur_left(&name));
			*have_alpn = true;
		}
	}
	return close_span(&list);
}

/* supported_versions, ClientHello form (RFC 8446 4.2.1): ProtocolVersion versions<2..254>. */
static int ch_supported_versions(struct sw_cur *x, struct sw_client_hello *out)
{
	struct sw_cur list = cur_sub(x, cur_u8(x));
	if (!cur_ok(&list))
		return SW_TLS_ERR_SHORT;
	size_t n = cur_left(&list);
	if (n == 0 || (n & 1))
		return SW_TLS_ERR_VALUE;
	while (cur_left(&list)) {
		uint16_t v = cur_be16(&list);
		if (!sw_tls_is_grease(v))
			out->max_version = version_max(out->max_version, v);
	}
	out->has_supported_versions = true;
	return close_span(&list);
}

/* A list of u16 in a u16 length, non-empty and even (supported_groups). */
static int check_u16_list16(struct sw_cur *x)
{
	struct sw_cur list = cur_sub(x, cur_be16(x));
	if (!cur_ok(&list))
		return SW_TLS_ERR_SHORT;
	size_t n = cur_left(&list);
	if (n == 0 || (n & 1))
		return SW_TLS_ERR_VALUE;
	cur_skip(&list, n);
	return close_span(&list);
}

/* A list of u8 in a u8 length, non-empty (ec_point_formats). */
static int check_u8_list8(struct sw_cur *x)
{
	struct sw_cur list = cur_sub(x, cur_u8(x));
	if (!cur_ok(&list))
		return SW_TLS_ERR_SHORT;
	if (!cur_left(&list))
		return SW_TLS_ERR_VALUE;
	cur_skip(&list, cur_left(&list));
	return close_span(&list);
}

/*
 * First walk: every extension opened and closed, the ones we read checked,
 * extension types fed to JA3 (GREASE left out).
 */
static int ch_walk_extensions(struct sw_cur exts, struct sw_client_hello *out, struct ja3_w *w)
{
	bool have_sni = false, have_alpn = false;

	while (cur_left(&exts)) {
		uint16_t type = cur_be16(&exts);
		struct sw_cur x = cur_sub(&exts, cur_be16(&exts));
		if (!cur_ok(&x))
			return SW_TLS_ERR_SHORT;
		if (!sw_tls_is_grease(type))
			ja3_num(w, type);

		int rc = SW_TLS_OK;
		switch (type) {
		case EXT_SERVER_NAME:
			rc = ch_server_name(&x, out, &have_sni);
			break;
		case EXT_ALPN:
			rc = ch_alpn(&x, out, &have_alpn);
			break;
		case EXT_SUPPORTED_VERSIONS:
			rc = ch_supported_versions(&x, out);
			break;
		case EXT_SUPPORTED_GROUPS:
			rc = check_u16_list16(&x);
			break;
		case EXT_EC_POINT_FORMATS:
			rc = check_u8_list8(&x);
			break;
		default:
			cur_skip(&x, cur_left(&x)); /* opaque extension_data */
			break;
		}
		if (rc == SW_TLS_OK)
			rc = close_span(&x);
		if (rc != SW_TLS_OK)
			return rc;
	}
	return close_span(&exts);
}

/*
 * Later walks over an extensions block the first walk accepted: feed the
 * first extension of this type's list items to JA3.  want is
 * supported_groups (u16 items, GREASE left out) or ec_point_formats (u8).
 */
static void ch_ja3_list(struct sw_cur exts, uint16_t want, struct ja3_w *w)
{
	while (cur_left(&exts)) {
		uint16_t type = cur_be16(&exts);
		struct sw_cur x = cur_sub(&exts, cur_be16(&exts));
		if (type != want)
			continue;
		if (want == EXT_SUPPORTED_GROUPS) {
			struct sw_cur list = cur_sub(&x, cur_be16(&x));
			while (cur_left(&list) >= 2) {
				uint16_t g = cur_be16(&list);
				if (!sw_tls_is_grease(g))
					ja3_num(w, g);
			}
		} else {
			struct sw_cur list = cur_sub(&x, cur_u8(&x));
			while (cur_left(&list))
				ja3_num(w, cur_u8(&list));
		}
		return;
	}
}

/* ---- ClientHello ------------------------------------------------------------ */

/*
 * RFC 8446 4.1.2 / RFC 5246 7.4.1.2:
 *   legacy_version, random[32], legacy_session_id<0..32>,
 *   cipher_suites<2..2^16-2>, legacy_compression_methods<1..2^8-1>,
 *   extensions<8..2^16-1> (absent in old clients: RFC 5246 7.4.1.2 "the
 *   client MAY omit" when nothing follows the compression methods).
 */
int sw_tls_parse_client_hello(const uint8_t *body, size_t len, struct sw_client_hello *out)
{
	struct sw_cur c = cur_make(body, len);
	struct ja3_w w;

	memset(out, 0, sizeof *out);
	ja3_start(&w);

	out->legacy_version = cur_be16(&c);
	out->max_version = out->legacy_version;
	cur_skip(&c, 32); /* random */
	struct sw_cur sid = cur_sub(&c, cur_u8(&c));
	if (!cur_ok(&sid))
		return SW_TLS_ERR_SHORT;
	if (cur_left(&sid) > 32)
		return SW_TLS_ERR_VALUE;

	ja3_num(&w, out->legacy_version);
	ja3_field_end(&w);

	struct sw_cur cs = cur_sub(&c, cur_be16(&c));
	if (!cur_ok(&cs))
		return SW_TLS_ERR_SHORT;
	if (cur_left(&cs) == 0 || (cur_left(&cs) & 1))
		return SW_TLS_ERR_VALUE;
	while (cur_left(&cs)) {
		uint16_t suite = cur_be16(&cs);
		out->n_ciphers++;
		if (suite == TLS_FALLBACK_SCSV)
			out->fallback_scsv = true;
		if (!sw_tls_is_grease(suite))
			ja3_num(&w, suite);
	}
	ja3_field_end(&w);

	struct sw_cur comp = cur_sub(&c, cur_u8(&c));
	if (!cur_ok(&comp))
		return SW_TLS_ERR_SHORT;
	if (cur_left(&comp) == 0)
		return SW_TLS_ERR_VALUE;

	if (cur_left(&c) == 0) {
		/* No extensions block: JA3 has three empty fields. */
		ja3_field_end(&w);
		ja3_field_end(&w);
		ja3_final(&w, out->ja3);
		return SW_TLS_OK;
	}

	struct sw_cur exts = cur_sub(&c, cur_be16(&c));
	if (!cur_ok(&exts))
		return SW_TLS_ERR_SHORT;
	int rc = close_span(&c);
	if (rc != SW_TLS_OK)
		return rc;
	rc = ch_walk_extensions(exts, out, &w);
	if (rc != SW_TLS_OK)
		return rc;
	ja3_field_end(&w);
	ch_ja3_list(exts, EXT_SUPPORTED_GROUPS, &w);
	ja3_field_end(&w);
	ch_ja3_list(exts, EXT_EC_POINT_FORMATS, &w);
	ja3_final(&w, out->ja3);
	return SW_TLS_OK;
}

/* ---- ServerHello ------------------------------------------------------------ */

/*
 * TLS 1.3 drafts before 22 sent a ServerHello without the session id echo
 * and the compression method, with the draft version in the version field
 * (draft-ietf-tls-tls13-21 4.1.3; draft 22 restored both for middleboxes).
 */
static bool is_early_draft(uint16_t v)
{
	return (v & 0xff00) == 0x7f00 && (v & 0xff) < 22;
}

/*
 * RFC 8446 4.1.3 / RFC 5246 7.4.1.3:
 *   legacy_version, random[32], legacy_session_id_echo<0..32>,
 *   cipher_suite, legacy_compression_method, extensions<6..2^16-1>
 *   (optional before TLS 1.3).  A HelloRetryRequest has the same shape
 *   with the special random.
 */
int sw_tls_parse_server_hello(const uint8_t *body, size_t len, struct sw_server_hello *out)
{
	struct sw_cur c = cur_make(body, len);
	struct ja3_w w;

	memset(out, 0, sizeof *out);
	ja3_start(&w);

	out->legacy_version = cur_be16(&c);
	out->version = out->legacy_version;
	const uint8_t *random = cur_bytes(&c, 32);
	if (is_early_draft(out->legacy_version)) {
		out->cipher = cur_be16(&c);
	} else {
		struct sw_cur sid = cur_sub(&c, cur_u8(&c));
		if (cur_ok(&sid) && cur_left(&sid) > 32)
			return SW_TLS_ERR_VALUE;
		out->cipher = cur_be16(&c);
		(void)cur_u8(&c); /* compression method */
	}
	if (!cur_ok(&c))
		return SW_TLS_ERR_SHORT;

	out->is_hello_retry = memcmp(random, hrr_random, sizeof hrr_random) == 0;
	if (memcmp(random + 24, downgrade_magic, sizeof downgrade_magic) == 0) {
		if (random[31] == 0x01)
			out->sentinel = 1;
		else if (random[31] == 0x00)
			out->sentinel = 2;
	}

	ja3_num(&w, out->legacy_version);
	ja3_field_end(&w);
	ja3_num(&w, out->cipher);
	ja3_field_end(&w);

	if (cur_left(&c) == 0) {
		ja3_final(&w, out->ja3s);
		return SW_TLS_OK;
	}

	struct sw_cur exts = cur_sub(&c, cur_be16(&c));
	if (!cur_ok(&exts))
		return SW_TLS_ERR_SHORT;
	int rc = close_span(&c);
	if (rc != SW_TLS_OK)
		return rc;
	while (cur_left(&exts)) {
		uint16_t type = cur_be16(&exts);
		struct sw_cur x = cur_sub(&exts, cur_be16(&exts));
		if (!cur_ok(&x))
			return SW_TLS_ERR_SHORT;
		if (!sw_tls_is_grease(type))
			ja3_num(&w, type);
		if (type == EXT_SUPPORTED_VERSIONS)
			out->version = cur_be16(&x); /* selected_version (RFC 8446 4.2.1) */
		else
			cur_skip(&x, cur_left(&x));
		rc = close_span(&x);
		if (rc != SW_TLS_OK)
			return rc;
	}
	rc = close_span(&exts);
	if (rc != SW_TLS_OK)
		return rc;
	ja3_final(&w, out->ja3s);
	return SW_TLS_OK;
}

/* ---- SSLv2 format -------------------------------------------------------------- */

/*
 * Open the data of one SSLv2 record (draft-hickman-netscape-ssl-00 "SSL
 * Record Header"): a 2-byte header when the high bit of the first byte is
 * set (15-bit length), else a 3-byte header (14-bit length, then the number
 * of padding bytes at the end of the record).  The record must fill len
 * exactly.
 */
static int sslv2_open(const uint8_t *rec, size_t len, struct sw_cur *data)
{
	struct sw_cur c = cur_make(rec, len);
	uint8_t b0 = cur_u8(&c);
	size_t rlen, pad = 0;

	if (b0 & 0x80) {
		rlen = ((size_t)(b0 & 0x7f) << 8) | cur_u8(&c);
	} else {
		rlen = ((size_t)(b0 & 0x3f) << 8) | cur_u8(&c);
		pad = cur_u8(&c);
	}
	struct sw_cur r = cur_sub(&c, rlen);
	if (!cur_ok(&r))
		return SW_TLS_ERR_SHORT;
	int rc = close_span(&c);
	if (rc != SW_TLS_OK)
		return rc;
	if (pad > rlen)
		return SW_TLS_ERR_VALUE;
	*data = cur_make(r.p, rlen - pad);
	return SW_TLS_OK;
}

/*
 * CLIENT-HELLO: msg type 1, version, cipher_specs_length (multiple of 3),
 * session_id_length (0 or 16), challenge_length (16..32), then the specs,
 * the session id and the challenge (draft-hickman; RFC 6101 E.1 for the
 * form SSL 3.0/TLS clients send, where version is 0x03xx).
 */
int sw_tls_parse_sslv2_client_hello(const uint8_t *rec, size_t len, struct sw_client_hello *out)
{
	struct sw_cur c;

	memset(out, 0, sizeof *out);
	out->sslv2_format = true;
	int rc = sslv2_open(rec, len, &c);
	if (rc != SW_TLS_OK)
		return rc;

	uint8_t msg = cur_u8(&c);
	out->legacy_version = cur_be16(&c);
	out->max_version = out->legacy_version;
	uint16_t specs_len = cur_be16(&c);
	uint16_t sid_len = cur_be16(&c);
	uint16_t chal_len = cur_be16(&c);
	struct sw_cur specs = cur_sub(&c, specs_len);
	struct sw_cur sid = cur_sub(&c, sid_len);
	struct sw_cur chal = cur_sub(&c, chal_len);
	if (!cur_ok(&c))
		return SW_TLS_ERR_SHORT;
	if (msg != 1 || specs_len == 0 || specs_len % 3 != 0 || (sid_len != 0 && sid_len != 16) ||
	    chal_len < 16 || chal_len > 32)
		return SW_TLS_ERR_VALUE;
	(void)sid;
	(void)chal;

	while (cur_left(&specs)) {
		uint32_t kind = cur_be24(&specs);
		out->n_ciphers++;
		if (kind == TLS_FALLBACK_SCSV)
			out->fallback_scsv = true;
	}
	/* No JA3: it is defined over TLS ClientHello records only (tshark agrees). */
	return close_span(&c);
}

/*
 * SERVER-HELLO: msg type 4, session_id_hit, certificate_type,
 * server_version, certificate_length, cipher_specs_length (multiple of 3),
 * connection_id_length (16..32), then the certificate, the specs and the
 * connection id.  A session hit carries no certificate and no specs.
 */
int sw_tls_parse_sslv2_server_hello(const uint8_t *rec, size_t len, struct sw_server_hello *out)
{
	struct sw_cur c;

	memset(out, 0, sizeof *out);
	out->sslv2_format = true;
	int rc = sslv2_open(rec, len, &c);
	if (rc != SW_TLS_OK)
		return rc;

	uint8_t msg = cur_u8(&c);
	uint8_t hit = cur_u8(&c);
	(void)cur_u8(&c); /* certificate type */
	out->legacy_version = cur_be16(&c);
	out->version = out->legacy_version;
	uint16_t cert_len = cur_be16(&c);
	uint16_t specs_len = cur_be16(&c);
	uint16_t conn_len = cur_be16(&c);
	cur_skip(&c, cert_len);
	struct sw_cur specs = cur_sub(&c, specs_len);
	cur_skip(&c, conn_len);
	if (!cur_ok(&c))
		return SW_TLS_ERR_SHORT;
	if (msg != 4 || hit > 1 || specs_len % 3 != 0 || (hit == 0 && specs_len == 0) ||
	    conn_len < 16 || conn_len > 32)
		return SW_TLS_ERR_VALUE;
	if (cur_left(&specs))
		out->ssl2_cipher = cur_be24(&specs);
	return close_span(&c);
}
