/*
 * flow.h - per-flow state shared by the engine, the mail dissectors and
 * the detector (private to dissect/).
 *
 * Invariants:
 *  - A flow costs a struct sw_flow (small, pooled) from its first packet
 *    beyond a bare SYN (SYN-ACK, payload, a SYN with flags or data...); a
 *    bare SYN alone costs a 64-byte entry of the SYN table (syntab.h).
 *    Bare ACKs and RSTs of unknown flows create nothing.
 *  - struct sw_app (reassembly, dissector state, the flow summary) is
 *    allocated only for flows that look like mail or TLS, on their first
 *    payload, and its buffers are released as soon as no dissector needs
 *    bytes (mode SW_M_DONE in both directions): after that a packet costs a
 *    lookup, counters and an LRU move.
 *  - struct sw_app holds what packets touch and what every such flow fills;
 *    the evidence buffer and the rarely filled summary (STARTTLS reply, TLS
 *    hello details, nDPI's name) are its cold part, allocated on first need.
 *    struct sw_flow_info is assembled from these only for the sink.
 *  - Direction 0 is client->server, 1 is server->client, always.
 */
#ifndef SW_FLOW_H
#define SW_FLOW_H

#include "reasm.h"
#include "sw_dissect.h"
#include "tls.h"

/* What a direction's delivered bytes mean right now. */
enum sw_dir_mode {
	SW_M_LINE = 0,   /* protocol lines (commands or replies) */
	SW_M_DATA,       /* SMTP DATA body: scanning for CRLF.CRLF, nothing kept */
	SW_M_AWAIT_TLS,  /* after a STARTTLS success: TLS should start here */
	SW_M_TLS,        /* TLS records */
	SW_M_DONE,       /* nothing more to learn */
};

#define SW_CMDQ_MAX 16   /* pipelined commands awaiting replies */
#define SW_EVBUF_LINES 6
#define SW_EVBUF_LINE 72

/* A few recent protocol lines kept as evidence for a finding raised later. */
struct sw_evbuf {
	uint8_t n;
	uint8_t from_server[SW_EVBUF_LINES];
	uint8_t len[SW_EVBUF_LINES];
	uint8_t data[SW_EVBUF_LINES][SW_EVBUF_LINE];
};

enum sw_verb {
	SW_V_OTHER = 0,
	SW_V_GREETING, /* pseudo-command the banner answers */
	SW_V_EHLO, SW_V_HELO, SW_V_STARTTLS, SW_V_AUTH, SW_V_MAIL, SW_V_RCPT,
	SW_V_DATA, SW_V_BDAT, SW_V_RSET, SW_V_QUIT, SW_V_NOOP,
	/* IMAP / POP3 */
	SW_V_CAPABILITY, SW_V_LOGIN, SW_V_AUTHENTICATE, SW_V_CAPA, SW_V_STLS,
	SW_V_USER, SW_V_PASS, SW_V_APOP,
};

struct sw_cmdq {
	uint8_t verb[SW_CMDQ_MAX];
	uint8_t head, len;
};

struct sw_smtp {
	struct sw_cmdq q;
	uint16_t reply_code;     /* code of the multi-line reply being read, 0 if none */
	bool reply_open;         /* a multi-line reply is being read */
	bool reply_starttls;     /* ... and it lists STARTTLS */
	bool reply_mangled;      /* ... and a token looks like a masked STARTTLS */
	bool reply_is_ehlo;      /* ... and it answers EHLO */
	bool greeting_seen;
	bool auth_exchange;      /* client lines are SASL continuations */
	bool in_transaction;     /* MAIL .. end of DATA */
	uint8_t data_match;      /* bytes of CRLF.CRLF matched so far */
	uint64_t bdat_left;      /* BDAT chunk bytes still to skip */
	bool bdat_last;
};

#define SW_IMAP_TAGS 4      /* tagged commands awaiting their completion */
#define SW_IMAP_TAG_MAX 16  /* longer tags are not tracked */

/* IMAP (imap.c): commands are paired with their tagged completions. */
struct sw_imap {
	struct {
		uint8_t verb;           /* enum sw_verb, SW_V_OTHER = free slot */
		uint8_t len;
		char tag[SW_IMAP_TAG_MAX];
	} pend[SW_IMAP_TAGS];
	uint64_t literal_left[2];       /* bytes of a {n} literal still to pass, per direction */
	bool cont[2];                   /* the line after the literal continues the command */
	bool greeting_seen;
	bool authenticated;             /* PREAUTH, or LOGIN/AUTHENTICATE accepted */
	bool auth_exchange;             /* client lines are SASL responses */
	bool caps_reported;             /* a capability list went to the detector */
	bool caps_starttls, caps_mangled; /* ... and what it said */
};

/* POP3 (pop3.c): replies are paired with commands through a queue. */
struct sw_pop3 {
	struct sw_cmdq q;               /* verbs; SW_POP3_MULTI marks a multi-line answer */
	bool greeting_seen;
	bool multiline;          /* reading a multi-line response (CAPA, LIST, RETR...) */
	bool capa_open;          /* ... which answers CAPA */
	bool capa_stls;
	bool capa_mangled;
	bool auth_exchange;      /* client lines are SASL responses */
};

struct sw_cls_flow;

/*
 * The cold part of a flow: what only findings and the flow event read.
 * Allocated on first need (an evidence line to keep, the STARTTLS reply, a
 * TLS hello or alert, nDPI's name), so a mail flow that showed a banner and
 * nothing else never has one.  `info` holds the summary's rarely filled
 * fields (classified_as, starttls.reply, tls) where they are written, and
 * becomes the whole summary when sw_flow_snapshot() fills in the rest, so a
 * flow that has a cold part is reported without copying it.  Failing to
 * allocate it is a counted cap hit: the report lacks these details,
 * detection goes on.
 */
struct sw_app_cold {
	union {
		struct sw_evbuf ev;       /* lines of the capability list / recent exchange */
		struct sw_app_cold *next_free; /* while on the engine's free list (engine.c) */
	};
	struct sw_flow_info info;
};

/*
 * Dissector state of a mail/TLS flow, allocated on its first payload.  It
 * holds what the per-packet path reads and writes, the detector's flags,
 * and the summary fields every such flow fills (protocol, tri-states, the
 * banner's server name); the rest of struct sw_flow_info is in `cold` and
 * the whole view is assembled only for a finding or the flow event
 * (sw_flow_snapshot).
 */
struct sw_app {
	/* Per packet: kept together at the front (one cache line with rs). */
	struct sw_cls_flow *cls;  /* while undecided: classifier state (classify.c) */
	struct sw_app_cold *cold; /* NULL until first needed (sw_app_cold()) */
	uint8_t proto;            /* enum sw_app_proto: what ran first (info.app_proto) */
	uint8_t mode[2];          /* enum sw_dir_mode */
	uint8_t resync[2];        /* after a gap: drop bytes up to the next LF */
	bool stop_req[2];         /* stop reassembly after the current segment */
	bool starttls_pending;    /* STARTTLS/STLS sent, reply not seen */
	bool starttls_accepted;   /* success reply seen */
	bool client_tls_started;  /* the client's first TLS record after STARTTLS */
	bool mail_cleartext;      /* a mail transaction / login ran in plaintext */
	bool client_hello_seen, server_hello_seen;
	bool tls_seen;            /* info.tls_seen */
	uint8_t state_gaps;       /* info.state_gaps */
	uint8_t offered;          /* enum sw_tri: info.starttls.offered */
	uint8_t command_sent;     /* enum sw_tri: info.starttls.command_sent */
	uint8_t upgraded;         /* enum sw_tri: info.starttls.upgraded */
	uint16_t client_max_version; /* the ClientHello's highest version (detector) */
	struct sw_reasm rs[2];
	struct sw_tls_dir tls[2];
	union {
		struct sw_smtp smtp;
		struct sw_imap imap;
		struct sw_pop3 pop3;
	} u;
	/* Rarely: the banner / greeting name (info.server_name). */
	char server_name[SW_NAME_MAX];
};

/*
 * Two cache lines (the pool aligns each flow on 64 bytes): the first holds
 * what the lookup compares and what every packet updates, the second the
 * summary and the SYN-ACK fingerprint.  The flow table and the LRU lists
 * address flows by pool index (engine.c).
 */
struct sw_flow {
	/* First line: lookup and per-packet state. */
	uint32_t lprev, lnext;       /* LRU list (oldest first) by pool index; free list */
	uint8_t list : 2;            /* which LRU list */
	uint8_t ip_version : 4;      /* 4 or 6 */
	bool synack_seen : 1;
	bool client_known : 1;
	bool closed : 1;
	bool ignored : 1;
	uint8_t fin : 2;             /* bit 0: client FIN, bit 1: server FIN */
	uint8_t isn_known : 2;       /* bit d: isn[d] is the SYN's sequence number */
	uint8_t finished : 2;        /* bit d: direction d needs no more bytes (reassembly stopped) */
	uint16_t cport, sport;
	uint8_t cli[16], srv[16];
	uint64_t last_ts;
	uint32_t pkts[2];            /* saturate at UINT32_MAX */
	/* Second line. */
	struct sw_app *app;
	uint64_t bytes[2];
	uint64_t first_ts;
	uint32_t isn[2];
	uint32_t raised;             /* bitmask of findings raised on this flow */
	uint32_t file_no;
	uint64_t sa_opts;            /* SYN-ACK option kinds in order (sw_path_opts_pack) */
	/* server's SYN-ACK, for the network fingerprint */
	uint16_t sa_window, sa_mss;
	uint8_t sa_ttl, sa_wscale, sa_nopts;
	uint8_t syn_opts;            /* options the client's SYN offered (sw_path_syn_set) */
};

struct sw_engine;

/* ---- services the engine offers the dissectors (engine.c) --------------- */

struct sw_engine_ctx {
	struct sw_engine *e;
	struct sw_flow *f;
	uint64_t ts_ns;              /* time of the packet being processed */
};

/*
 * The flow's summary (struct sw_flow_info), assembled from the flow, its
 * sw_app and its cold part for a finding; valid until the next call.
 */
const struct sw_flow_info *sw_flow_snapshot(struct sw_engine *e, struct sw_flow *f);
/* Allocate the flow's cold part; use sw_app_cold(). */
struct sw_app_cold *sw_app_cold_new(struct sw_engine_ctx *x);
/*
 * The flow's cold part, allocated (and counted in the engine's memory) on
 * the first call; NULL when the allocation fails (counted as a cap hit).
 */
static inline struct sw_app_cold *sw_app_cold(struct sw_engine_ctx *x)
{
	return x->f->app->cold ? x->f->app->cold : sw_app_cold_new(x);
}
/* Count a finding and hand it to the sink. */
void sw_engine_emit(struct sw_engine *e, const struct sw_finding *fd);
/* Count an anomaly. */
void sw_count_anomaly(struct sw_engine *e, enum sw_anomaly a);
const struct sw_dissect_config *sw_engine_config(const struct sw_engine *e);

/* ---- detector (detect.c) -------------------------------------------------- */

/*
 * Raise kind on the flow (at most once per flow).  ev lines are copied by
 * the sink; evb (may be NULL) adds the lines kept in an evidence buffer
 * before `extra`.
 */
void sw_raise(struct sw_engine_ctx *x, enum sw_finding_kind kind, uint8_t severity,
	      const struct sw_evbuf *evb, const struct sw_evidence *extra, uint8_t n_extra,
	      const char *detail);

/* The mail dissector saw a complete capability list. */
void sw_detect_capabilities(struct sw_engine_ctx *x, bool has_starttls, bool mangled);
/* The mail dissector saw the reply to STARTTLS / STLS. */
void sw_detect_starttls_reply(struct sw_engine_ctx *x, bool success,
			      const uint8_t *line, uint32_t len);
/* The client began a plaintext mail transaction or login (MAIL, LOGIN, USER...). */
void sw_detect_plaintext_use(struct sw_engine_ctx *x, const uint8_t *line, uint32_t len);
/* The client sent credentials in plaintext; line is already redacted. */
void sw_detect_cleartext_auth(struct sw_engine_ctx *x, const uint8_t *line, uint32_t len);
/*
 * The IMAP server greeted with PREAUTH (RFC 3501 7.1.4): the session is
 * authenticated before the client could ask for STARTTLS (RFC 3501 6.2.1).
 * advertised: the greeting's capability list names STARTTLS.
 */
void sw_detect_preauth(struct sw_engine_ctx *x, bool advertised, const uint8_t *line, uint32_t len);
/* The TLS direction parser reported something. */
void sw_detect_tls_event(struct sw_engine_ctx *x, int dir, const struct sw_tls_event *ev);

/* Per-server memory within a run (detect.c). */
struct sw_memo;
struct sw_memo *sw_memo_new(uint32_t max_entries);
void sw_memo_free(struct sw_memo *m);
struct sw_memo *sw_engine_memo(struct sw_engine *e);

/* ---- evidence buffer helpers ---------------------------------------------- */

void sw_evbuf_add(struct sw_evbuf *b, int from_server, const uint8_t *line, uint32_t len);
/* The flow's evidence buffer, NULL while it has none (nothing kept). */
static inline struct sw_evbuf *sw_app_ev(const struct sw_app *a) { return a->cold ? &a->cold->ev : NULL; }
/* Forget the kept lines (allocates nothing). */
static inline void sw_app_ev_clear(struct sw_app *a)
{
	if (a->cold)
		a->cold->ev.n = 0;
}
/*
 * Keep a line of direction from_server as evidence: appended while there
 * is room; when the buffer is full and `replace_last`, it replaces the last
 * line (a masked token must show).  Allocates the cold part on first use.
 */
static inline void sw_app_ev_keep(struct sw_engine_ctx *x, int from_server, const uint8_t *line,
				  uint32_t len, bool replace_last)
{
	struct sw_app_cold *c = sw_app_cold(x);
	if (!c)
		return;
	if (c->ev.n >= SW_EVBUF_LINES) {
		if (!replace_last)
			return;
		c->ev.n--;
	}
	sw_evbuf_add(&c->ev, from_server, line, len);
}

/* ---- shared line helpers (mail.c) ----------------------------------------- */

/* Strip the trailing CR LF / LF from a line. */
uint32_t sw_line_trim(const uint8_t *line, uint32_t len);
/* Case-insensitive: does the line start with word w followed by SP, CR, LF or end? */
bool sw_word_is(const uint8_t *p, uint32_t len, const char *w);
/* Blanks (SP, HTAB) skipped from i; the end of the word starting at i. */
uint32_t sw_skip_sp(const uint8_t *p, uint32_t n, uint32_t i);
uint32_t sw_word_end(const uint8_t *p, uint32_t n, uint32_t i);
/* Case-insensitive: is p[i..j) the upper-case word w? */
bool sw_span_is(const uint8_t *p, uint32_t i, uint32_t j, const char *w);
/* The command queue that pairs replies with pipelined commands. */
void sw_cmdq_push(struct sw_engine_ctx *x, struct sw_cmdq *q, uint8_t v);
uint8_t sw_cmdq_head(const struct sw_cmdq *q);
void sw_cmdq_pop(struct sw_cmdq *q);
/*
 * A client line fit for evidence: credentials after the command (and SASL
 * mechanism) become " <redacted>".  Returns line itself when nothing needs
 * cutting, else buf (cap bytes); *out_len is the length, CRLF trimmed.
 */
const uint8_t *sw_mail_safe_line(enum sw_app_proto proto, const uint8_t *line, uint32_t n,
				 uint8_t *buf, uint32_t cap, uint32_t *out_len);
/* Does a capability token look like a masked STARTTLS/STLS? */
bool sw_token_masks(const uint8_t *tok, uint32_t len, const char *word);

/*
 * Mail protocol line handlers: one complete line (with its LF) in direction
 * dir.  Return true when the line was consumed, false to leave it (and all
 * later bytes of that direction) held until more bytes arrive.
 */
bool sw_smtp_line(struct sw_engine_ctx *x, int dir, const uint8_t *line, uint32_t len);
bool sw_imap_line(struct sw_engine_ctx *x, int dir, const uint8_t *line, uint32_t len);
bool sw_pop3_line(struct sw_engine_ctx *x, int dir, const uint8_t *line, uint32_t len);
/* SMTP DATA body scan; returns bytes consumed (all of them, or up to and including the terminator). */
uint32_t sw_smtp_data(struct sw_engine_ctx *x, const uint8_t *p, uint32_t n);

/*
 * Client bytes arrived after STARTTLS (cmd: "STARTTLS" or "STLS") before its
 * reply (RFC 3207 4, RFC 2595 3.1 and 4): raise command injection with the
 * line already made safe by sw_mail_safe_line().
 */
void sw_mail_command_injection(struct sw_engine_ctx *x, const char *cmd, const uint8_t *shown, uint32_t len);
/* Switch both directions to expect TLS after a STARTTLS success. */
void sw_mail_starttls_accepted(struct sw_engine_ctx *x);

#endif
