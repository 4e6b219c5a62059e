/*
 * sw_dissect.h - the dissect stage: flow table, TCP reassembly, the SMTP,
 * IMAP, POP3 and TLS dissectors and the detector.
 *
 * dissect/ owns all flow state.  It is driven one packet at a time
 * (sw_engine_packet) and reports through the callbacks in struct sw_sink:
 * a finding the moment its evidence is complete, and a flow summary when a
 * mail or TLS connection ends (or at sw_engine_flush).  Every pointer handed
 * to a callback is valid only during that call.  Time is packet time.
 */
#ifndef SW_DISSECT_H
#define SW_DISSECT_H

#include <stdio.h>

#include "sw_capture.h"

/* ---- findings (DESIGN.md, "Findings") ------------------------------------ */

enum sw_finding_kind {
	SW_F_STARTTLS_STRIPPED = 0,
	SW_F_STARTTLS_MANGLED,
	SW_F_STARTTLS_REFUSED,
	SW_F_STARTTLS_NOT_UPGRADED,
	SW_F_STARTTLS_COMMAND_INJECTION,
	SW_F_STARTTLS_RESPONSE_INJECTION,
	SW_F_STARTTLS_NOT_USED,
	SW_F_CLEARTEXT_AUTH,
	SW_F_TLS_WEAK_VERSION,
	SW_F_TLS_WEAK_CLIENT,
	SW_F_TLS_VERSION_DOWNGRADE,
	SW_F_TLS_DOWNGRADE_SENTINEL,
	SW_F_TLS_FALLBACK_SCSV,
	SW_F_TLS_INAPPROPRIATE_FALLBACK,
	SW_F_TLS_WEAK_CIPHER,
	SW_F_PATH_CHANGED,
	SW_F_SENSOR_DEGRADED,
	SW_F__COUNT
};

/* Stable machine name ("starttls_stripped"), or NULL for an unknown kind. */
const char *sw_finding_name(enum sw_finding_kind k);
/* The human sentence used as alert.signature. */
const char *sw_finding_signature(enum sw_finding_kind k);
/* alert.category */
const char *sw_finding_category(enum sw_finding_kind k);
/* Stable alert.signature_id. */
uint32_t sw_finding_sid(enum sw_finding_kind k);
/* Look a finding up by name; -1 when unknown. */
int sw_finding_from_name(const char *name);

/* ---- value names ---------------------------------------------------------- */

/*
 * "SSL 2.0", "SSL 3.0", "TLS 1.0" ... "TLS 1.3", "TLS 1.3 draft 18", or
 * "0x7f12" for anything else.  buf must hold 24 bytes; returns buf.
 * SSL 2.0 is 0x0002.
 */
const char *sw_tls_version_name(uint16_t v, char buf[24]);
/* IANA name ("TLS_RSA_WITH_RC4_128_SHA") or "0xc0ff" written into buf (8 bytes). */
const char *sw_tls_cipher_name(uint16_t suite, char buf[8]);
/* NULL, anonymous, EXPORT, RC4, DES, 3DES, RC2, IDEA or MD5-based. */
bool sw_tls_cipher_weak(uint16_t suite);
/* SSL 2.0 cipher kinds are 24-bit; these are reported as "SSL2_..." names. */
const char *sw_ssl2_cipher_name(uint32_t kind, char buf[12]);
bool sw_ssl2_cipher_weak(uint32_t kind);
/* Plaintext alert description name ("inappropriate_fallback") or NULL. */
const char *sw_tls_alert_name(uint8_t desc);

/* ---- what a flow looked like ---------------------------------------------- */

enum sw_app_proto {
	SW_APP_UNKNOWN = 0,
	SW_APP_SMTP,
	SW_APP_IMAP,
	SW_APP_POP3,
	SW_APP_TLS,
	SW_APP__COUNT
};
const char *sw_app_proto_name(enum sw_app_proto p); /* "smtp", ..., NULL for unknown */

/* Tri-state for things that may not have been observable. */
enum sw_tri { SW_UNSEEN = 0, SW_NO = 1, SW_YES = 2 };

#define SW_REPLY_MAX 128   /* STARTTLS reply line kept, bytes */
#define SW_SNI_MAX 255
#define SW_ALERTS_MAX 4    /* plaintext alerts kept per flow */
#define SW_NAME_MAX 64     /* server name from the banner/greeting */
#define SW_PROTO_NAME_MAX 24

struct sw_tls_info {
	uint16_t client_max_version; /* highest of legacy_version and supported_versions; 0 = no ClientHello */
	uint16_t client_legacy_version;
	uint16_t version;            /* selected (ServerHello / supported_versions); 0 = no ServerHello */
	uint16_t cipher;             /* selected suite (valid when version != 0) */
	uint32_t ssl2_cipher;        /* SSL 2.0 ServerHello cipher kind, when version == 0x0002 */
	bool fallback_scsv;          /* 0x5600 in the ClientHello */
	bool downgrade_sentinel;     /* DOWNGRD01/00 in the ServerHello random */
	bool hello_retry;            /* a HelloRetryRequest was seen */
	bool client_offered_weak_only; /* nothing at or above the floor offered */
	uint8_t n_alerts;
	struct { uint8_t level, desc, from_server; } alerts[SW_ALERTS_MAX];
	uint8_t sni_len;
	char sni[SW_SNI_MAX + 1];
	char ja3[33];                /* hex MD5, "" when no ClientHello */
	char ja3s[33];               /* hex MD5, "" when no ServerHello */
};

struct sw_starttls_info {
	enum sw_tri offered;       /* capability list seen: STARTTLS/STLS present? */
	enum sw_tri command_sent;  /* the client sent STARTTLS/STLS */
	enum sw_tri upgraded;      /* a TLS handshake followed the success reply */
	uint16_t reply_len;
	char reply[SW_REPLY_MAX];  /* the reply line to STARTTLS as sent (first line) */
};

/* A snapshot of one connection, for findings and flow events. */
struct sw_flow_info {
	uint8_t ip_version;
	uint8_t client_ip[16], server_ip[16];
	uint16_t client_port, server_port;
	enum sw_app_proto app_proto;     /* what ran first: smtp/imap/pop3, or tls for implicit TLS */
	bool tls_seen;                   /* a TLS handshake was seen (after STARTTLS or implicit) */
	uint64_t first_ts_ns, last_ts_ns;
	uint64_t pkts[2], bytes[2];      /* [0] client->server, [1] server->client (payload bytes) */
	uint32_t file_no;                /* input file the flow started in */
	char classified_as[SW_PROTO_NAME_MAX]; /* nDPI's name when it was asked, else "" */
	char server_name[SW_NAME_MAX];   /* from the banner / greeting, "" if none */
	struct sw_starttls_info starttls;
	struct sw_tls_info tls;
	uint8_t state_gaps;              /* directions that lost bytes (bit 0 client, bit 1 server) */
	bool end_fin, end_rst, end_timeout, end_evicted; /* how it ended (all false: still open at flush) */
};

#define SW_EVIDENCE_MAX 6       /* lines per finding */
#define SW_EVIDENCE_LINE_MAX 200 /* bytes per line (longer lines are cut) */

struct sw_evidence {
	uint8_t from_server;      /* direction of the line */
	uint16_t len;
	const uint8_t *bytes;     /* raw protocol bytes, not NUL-terminated, not escaped */
};

struct sw_policy_ref {
	const char *rule;         /* the rule's match text, NULL when no policy applied */
	unsigned line;
	const char *level;        /* "none" | "may" | "encrypt" | "verify" */
	const char *mode;         /* "enforce" | "testing" */
	uint16_t min_version;
};

struct sw_finding {
	enum sw_finding_kind kind;
	uint8_t severity;         /* 1 high, 2 medium, 3 low */
	uint64_t ts_ns;           /* packet time of the packet that completed the evidence */
	const struct sw_flow_info *flow; /* NULL for sensor-wide findings (sensor_degraded) */
	uint8_t n_evidence;
	struct sw_evidence evidence[SW_EVIDENCE_MAX];
	const char *detail;       /* optional short free text (e.g. "offered in 4 of 4 earlier sessions") */
	struct sw_policy_ref policy;
};

/* ---- counters ------------------------------------------------------------- */

enum sw_anomaly {
	SW_AN_TCP_OVERLAP_CONFLICT = 0, /* overlapping segments with different bytes */
	SW_AN_TCP_GAP,                  /* a missing segment (bytes never seen) */
	SW_AN_TCP_OOO_CAP,              /* out-of-order buffer full: segment dropped */
	SW_AN_TCP_BUFFER_CAP,           /* per-direction buffer cap hit */
	SW_AN_TCP_BAD_FLAGS,            /* SYN+FIN and the like */
	SW_AN_LINE_TOO_LONG,            /* a protocol line over the line cap */
	SW_AN_SMTP_BAD_REPLY,           /* a reply that is not NNN[ -]... */
	SW_AN_SMTP_UNPAIRED_REPLY,      /* a reply with no command waiting */
	SW_AN_MAIL_BAD_SYNTAX,          /* IMAP / POP3 syntax that cannot be right */
	SW_AN_TLS_BAD_RECORD,           /* record header that cannot be right */
	SW_AN_TLS_BAD_HELLO,            /* malformed ClientHello / ServerHello */
	SW_AN_TLS_TRAILING_BYTES,       /* leftover bytes in a closed span */
	SW_AN_EVIDENCE_CUT,             /* evidence cut to fit its bound */
	SW_AN__COUNT
};
const char *sw_anomaly_name(enum sw_anomaly a);

struct sw_dissect_stats {
	uint64_t packets, payload_bytes;
	uint64_t flows_created, flows_active, flows_peak;
	uint64_t flows_evicted_cap;     /* evicted because the table was full */
	uint64_t flows_timed_out;
	uint64_t flows_mail, flows_tls;
	uint64_t gaps, gap_bytes;
	uint64_t ooo_segments, retransmissions;
	uint64_t caps_hit;              /* any cap: flow table, buffers, OOO, lines */
	uint64_t findings;
	uint64_t findings_by_kind[SW_F__COUNT];
	uint64_t anomalies[SW_AN__COUNT];
	uint64_t mem_bytes;             /* bytes held in flow state and buffers now */
	uint64_t mem_peak;
	uint64_t classifier_calls;      /* packets handed to nDPI */
};

/* ---- configuration, with every cap in one place (STYLE.md 10) ----------- */

struct sw_dissect_config {
	uint32_t max_flows;            /* flow table cap; oldest idle evicted beyond it */
	uint64_t idle_timeout_ns;      /* an established flow idle this long ends */
	uint64_t syn_timeout_ns;       /* a flow that never carried payload ends sooner */
	uint64_t closed_timeout_ns;    /* an ended flow is forgotten after this */
	uint32_t stream_buf_max;       /* bytes held per direction awaiting a parser */
	uint32_t ooo_max_bytes;        /* out-of-order bytes held per direction */
	uint32_t ooo_max_segments;     /* out-of-order segments held per direction */
	uint32_t line_max;             /* longest protocol line parsed */
	uint32_t server_memory_max;    /* servers remembered within a run */
	uint16_t tls_floor;            /* tls_weak_version below this (default 0x0303) */
	bool use_ndpi;                 /* classify flows on unknown ports with nDPI */
	bool flow_events;              /* call sink->flow for each mail/TLS flow */
	uint64_t seed;                 /* flow hash seed; 0 = random */
};

/* Fill *cfg with the defaults. */
void sw_dissect_config_default(struct sw_dissect_config *cfg);

/* Where findings and flow summaries go. Any callback may be NULL. */
struct sw_sink {
	void *ctx;
	void (*finding)(void *ctx, const struct sw_finding *f);
	void (*flow)(void *ctx, const struct sw_flow_info *fi);
};

struct sw_engine;

/* NULL on allocation failure. */
struct sw_engine *sw_engine_new(const struct sw_dissect_config *cfg, const struct sw_sink *sink);
/* Feed one packet; packets must come in capture order. */
void sw_engine_packet(struct sw_engine *e, const struct sw_packet *pkt);

/*
 * Software prefetch for packets read ahead (the caller's pipeline).  Hash
 * each packet once with sw_engine_flow_hash(); before each packet, pass
 * the hashes of the next n packets read ahead, nearest first: the farthest
 * gets its table slot prefetched, the one before it (whose slot the
 * previous call prefetched) its flow.  Hints only: nothing changes, and
 * flows created or removed in between are harmless.
 * sw_engine_packet_hashed() with the packet's hash is sw_engine_packet().
 */
uint32_t sw_engine_flow_hash(const struct sw_engine *e, const struct sw_packet *pkt);
void sw_engine_prefetch(const struct sw_engine *e, const uint32_t *hash, unsigned n);
void sw_engine_packet_hashed(struct sw_engine *e, const struct sw_packet *pkt, uint32_t hash);
/* Expire idle flows as of now_ns (call periodically in live mode). */
void sw_engine_expire(struct sw_engine *e, uint64_t now_ns);
/* End of input: report every open flow and empty the table. */
void sw_engine_flush(struct sw_engine *e);
void sw_engine_stats(const struct sw_engine *e, struct sw_dissect_stats *out);
/* Raise a sensor-wide finding (sensor_degraded) through the sink. */
void sw_engine_raise_sensor(struct sw_engine *e, uint64_t ts_ns, const char *detail);

/* A sensor-wide sensor_degraded finding (no flow, no evidence) into *fd. */
void sw_finding_sensor(struct sw_finding *fd, uint64_t ts_ns, const char *detail);
void sw_engine_free(struct sw_engine *e);

/* ---- policy and per-server history (policy.c, history.c) ------------------ */

/*
 * The per-peer TLS policy file (`--policy FILE`, dissect/policy.h has the
 * syntax).  sw_policy_load: NULL with "FILE:LINE: reason" in err on any
 * error.  sw_engine_set_policy installs p (NULL: no policy) between packets
 * and returns the previous one for the caller to free; the engine keeps no
 * rule pointer across packets, so a reload is safe at any time.
 */
struct sw_policy;
struct sw_policy *sw_policy_load(const char *path, char *err, size_t errlen);
uint32_t sw_policy_rules(const struct sw_policy *p);
void sw_policy_free(struct sw_policy *p);
struct sw_policy *sw_engine_set_policy(struct sw_engine *e, struct sw_policy *p);

/*
 * Per-server memory across runs, in an SQLite database (DIR/history.db).
 * Updated in memory at flow end, written in one transaction at most every
 * flush_interval of packet time (or when many rows are dirty) and at close.
 */
struct sw_history_opts {
	const char *dir;             /* the state directory (created 0700 if missing) */
	uint32_t threshold;          /* sessions needed before history decides (default 3) */
	uint32_t max_rows;           /* rows kept; the least recently seen go first */
	uint64_t max_age_ns;         /* rows not seen for this long are dropped */
	uint64_t flush_interval_ns;  /* packet time between writes */
};
void sw_history_opts_default(struct sw_history_opts *o);

struct sw_history;
/* NULL + err when the store cannot be opened or created. */
struct sw_history *sw_history_open(const struct sw_history_opts *o, char *err, size_t errlen);
/* Write every dirty row now.  0 ok, -1 + err (rows stay dirty for the next try). */
int sw_history_flush(struct sw_history *h, char *err, size_t errlen);
/* Rows held. */
uint32_t sw_history_rows(const struct sw_history *h);
/* Flush (errors to stderr) and close. */
void sw_history_close(struct sw_history *h);
/* Give the engine its history (NULL: none).  The caller keeps ownership. */
void sw_engine_set_history(struct sw_engine *e, struct sw_history *h);
/* `stripwatch history`: print the store in dir as a table to out.  0 ok, -1 + err. */
int sw_history_print(const char *dir, FILE *out, char *err, size_t errlen);

#endif
