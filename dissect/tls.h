/*
 * tls.h - TLS handshake parsing (private to dissect/).
 *
 * Two layers:
 *  - sw_tls_parse_*(): pure functions over one complete handshake message
 *    body (or one SSLv2 record).  They allocate nothing, read only inside
 *    the span given, and charge every nested vector to its parent.
 *  - struct sw_tls_dir: one direction of a TLS byte stream.  It reassembles
 *    records across segments and handshake messages across records, keeps
 *    only the bytes of a hello message it is assembling (bounded), skips
 *    everything else without copying, and reports what it saw through a
 *    callback.
 */
#ifndef SW_TLS_H
#define SW_TLS_H

#include "sw_dissect.h"

#define SW_TLS_HELLO_MAX 65536u /* largest hello message assembled */

struct sw_client_hello {
	uint16_t legacy_version;
	uint16_t max_version;        /* highest of legacy_version and supported_versions, GREASE ignored */
	bool has_supported_versions;
	bool fallback_scsv;          /* TLS_FALLBACK_SCSV 0x5600 in the cipher list */
	bool sslv2_format;           /* came as an SSLv2-format record */
	bool offers_at_or_above_floor_unknown; /* unused by the parser; the detector decides */
	uint16_t n_ciphers;          /* all suites offered (GREASE included) */
	uint8_t sni_len;
	char sni[SW_SNI_MAX + 1];    /* host_name, bytes as sent (not escaped), NUL-terminated */
	uint8_t alpn_len;
	char alpn[64];               /* first ALPN protocol name, cut to fit */
	char ja3[33];                /* lower-case hex MD5 of the JA3 string */
	/* The highest version offered, for the weak-client check, is max_version. */
};

struct sw_server_hello {
	uint16_t legacy_version;
	uint16_t version;            /* supported_versions if present, else legacy_version */
	uint16_t cipher;
	uint32_t ssl2_cipher;        /* SSLv2 ServerHello: first cipher kind */
	bool is_hello_retry;         /* random == SHA-256("HelloRetryRequest") */
	bool sslv2_format;
	uint8_t sentinel;            /* 0 none, 1 "DOWNGRD\x01" (TLS 1.2), 2 "DOWNGRD\x00" (<= 1.1) */
	char ja3s[33];
};

enum sw_tls_err {
	SW_TLS_OK = 0,
	SW_TLS_ERR_SHORT = -1,    /* a length ran past its parent */
	SW_TLS_ERR_TRAILING = -2, /* bytes left over in a closed span */
	SW_TLS_ERR_VALUE = -3,    /* a value that cannot be right (e.g. odd cipher list length) */
};

/* body/len: the handshake message body after its 4-byte header. */
int sw_tls_parse_client_hello(const uint8_t *body, size_t len, struct sw_client_hello *out);
int sw_tls_parse_server_hello(const uint8_t *body, size_t len, struct sw_server_hello *out);
/* rec/len: a whole SSLv2 record including its 2- or 3-byte header. */
int sw_tls_parse_sslv2_client_hello(const uint8_t *rec, size_t len, struct sw_client_hello *out);
int sw_tls_parse_sslv2_server_hello(const uint8_t *rec, size_t len, struct sw_server_hello *out);
/*
 * A comparable rank of a version: SSL 2.0 lowest, TLS 1.3 drafts and
 * experimental 1.3 code points (0x7fxx, 0x7exx, 0xfbxx) count as TLS 1.3.
 * 0 = unknown, never compared.
 */
uint16_t sw_tls_version_rank(uint16_t v);
/* GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa. */
static inline bool sw_tls_is_grease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

/* ---- streaming ------------------------------------------------------------ */

enum sw_tls_event_kind {
	SW_TLS_EV_CLIENT_HELLO,   /* .ch valid */
	SW_TLS_EV_SERVER_HELLO,   /* .sh valid (also for a HelloRetryRequest: sh.is_hello_retry) */
	SW_TLS_EV_ALERT,          /* plaintext alert: .alert_level, .alert_desc */
	SW_TLS_EV_CCS,            /* ChangeCipherSpec record */
	SW_TLS_EV_ENCRYPTED,      /* encryption starts: this direction's CCS (except the one after a
				   * HelloRetryRequest), its first application_data record, right
				   * after a TLS 1.3 ServerHello, or after an SSL 2.0 hello */
	SW_TLS_EV_NOT_TLS,        /* the direction's first bytes are not a TLS/SSL record */
	SW_TLS_EV_MALFORMED,      /* .err, .anomaly: this direction stops parsing */
};

struct sw_tls_event {
	enum sw_tls_event_kind kind;
	const struct sw_client_hello *ch;
	const struct sw_server_hello *sh;
	uint8_t alert_level, alert_desc;
	enum sw_anomaly anomaly;
	int err;                  /* MALFORMED: enum sw_tls_err of a hello, 0 for a record fault */
	const uint8_t *bytes;     /* NOT_TLS: the first bytes of the direction (for evidence) */
	size_t n_bytes;
};

typedef void (*sw_tls_event_fn)(void *ctx, const struct sw_tls_event *ev);

enum sw_tls_dir_state {
	SW_TLSD_START = 0,  /* nothing seen yet */
	SW_TLSD_RECORDS,    /* inside the record layer, handshake in clear */
	SW_TLSD_ENCRYPTED,  /* encryption started: nothing more to learn */
	SW_TLSD_FAILED,     /* malformed or not TLS: stopped */
};

struct sw_tls_dir {
	enum sw_tls_dir_state state;
	uint8_t hdr[5];          /* partial record header */
	uint8_t hdr_have;
	uint8_t rec_type;        /* content type of the record being read */
	uint16_t rec_version;
	uint32_t rec_left;       /* bytes of the current record body still to come */
	uint8_t hs_hdr[4];       /* partial handshake message header */
	uint8_t hs_hdr_have;
	uint32_t hs_left;        /* bytes of the current handshake message still to come */
	uint8_t *hs_buf;         /* the hello message being assembled (malloc'd, <= SW_TLS_HELLO_MAX) */
	uint32_t hs_len, hs_cap;
	bool hs_keep;            /* the current message is a hello we keep */
	bool ccs_seen;
	bool sslv2;              /* the direction speaks SSLv2 record format */
	uint8_t alert_buf[2];
	uint8_t alert_have;
	bool hrr_seen;           /* this direction sent a HelloRetryRequest: its CCS is not the end */
};

void sw_tls_dir_init(struct sw_tls_dir *d);
/*
 * Feed n in-order bytes.  Always consumes all of them (returns n) unless
 * the direction is finished (ENCRYPTED or FAILED), when it returns 0 and
 * reads nothing.  Events are reported through cb as they complete.
 */
size_t sw_tls_dir_feed(struct sw_tls_dir *d, const uint8_t *p, size_t n,
		       sw_tls_event_fn cb, void *ctx);
/* True when nothing more can be learned from this direction. */
static inline bool sw_tls_dir_finished(const struct sw_tls_dir *d)
{
	return d->state == SW_TLSD_ENCRYPTED || d->state == SW_TLSD_FAILED;
}
/* Release the assembly buffer. */
void sw_tls_dir_free(struct sw_tls_dir *d);

/* Does this look like the start of a TLS or SSLv2 record (needs >= 3 bytes)? */
bool sw_tls_looks_like_record(const uint8_t *p, size_t n);

/* MD5 (RFC 1321) for JA3; hex is 33 bytes with the NUL. */
struct sw_md5 {
	uint32_t s[4];
	uint64_t n;
	uint8_t buf[64];
};
void sw_md5_init(struct sw_md5 *m);
void sw_md5_update(struct sw_md5 *m, const void *p, size_t n);
void sw_md5_final_hex(struct sw_md5 *m, char hex[33]);

#endif
