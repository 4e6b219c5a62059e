/*
 * history.h - per-server memory across runs (private to dissect/).
 *
 * Rows, each keyed and kept in memory (bounded) and in SQLite:
 *   server  (IP, port): sessions, STARTTLS offered (total and a window of
 *           the last 32 sessions), highest TLS version selected and a window
 *           of whether each TLS session reached it, versions and ciphers
 *           seen, network fingerprints of the SYN-ACK, last name seen;
 *   name    (server name, port): the same, for servers known by name;
 *   client  (client IP, server IP, port): sessions where STARTTLS was
 *           offered, and a window of whether the client used it.
 *
 * Decisions (the flap-tolerant rule): a row decides once its window holds
 * at least `threshold` sessions; it says "alert" when at least 90% of the
 * window had the property (offered STARTTLS, reached the highest version,
 * client used STARTTLS), else "quiet".  With fewer sessions it says
 * "unknown" and the in-run memo of detect.c decides.  A load-balanced pool
 * that omits STARTTLS in more than one session in ten stays quiet.
 *
 * Nothing here is on the per-packet path: sw_history_observe() runs once
 * per flow end, the verdicts a few times per flow, and SQLite is written
 * only by sw_history_flush().
 */
#ifndef SW_HISTORY_H
#define SW_HISTORY_H

#include "sw_dissect.h"

#define SW_HIST_WINDOW 32      /* sessions in a decision window */
#define SW_HIST_CIPHERS 8      /* distinct cipher suites kept per row */
#define SW_HIST_FPS 4          /* network fingerprints kept per server */

enum sw_hist_verdict { SW_HV_UNKNOWN = 0, SW_HV_QUIET, SW_HV_ALERT };

/* The server's SYN-ACK as p0f reads it. */
struct sw_path_fp {
	uint8_t ttl0;          /* guessed initial TTL: 32, 64, 128 or 255 */
	uint8_t hops;          /* ttl0 - observed TTL */
	uint8_t wscale;        /* 0xff: no window scale option */
	uint8_t cli_opts;      /* the client's SYN offered: bit 0 MSS, 1 WS, 2 SACK_PERM, 3 TS */
	uint16_t win, mss;
	uint64_t opts;         /* option kinds in order, 4 bits each (sw_path_opts_pack) */
};

/* Pack TCP option kinds (in order) into 4-bit codes; 0 ends the list. */
uint64_t sw_path_opts_pack(const uint8_t *kinds, unsigned n);
/* Bit set of the options a SYN offered (see cli_opts). */
uint8_t sw_path_syn_set(const uint8_t *kinds, unsigned n);
/* Fill fp from the SYN-ACK's TTL, window, MSS, scale and packed options. */
void sw_path_fp_make(struct sw_path_fp *fp, uint8_t ttl, uint16_t win, uint16_t mss,
		     uint8_t wscale, uint64_t opts, uint8_t cli_opts);
/* "hops=1 ttl=63/64 win=64240 mss=1460 ws=7 opts=mss,sok,ts,nop,ws" */
void sw_path_fp_text(const struct sw_path_fp *fp, char *buf, size_t n);

/* Who the server is. */
struct sw_hist_server {
	uint8_t ip_version;
	const uint8_t *ip;         /* 16 bytes */
	uint16_t port;
	const char *name;          /* banner name or SNI, may be NULL or "" */
};

/* One finished session, as the detector saw it. */
struct sw_hist_session {
	struct sw_hist_server srv;
	const uint8_t *client_ip;  /* 16 bytes */
	uint64_t ts_ns;            /* packet time of the flow's end */
	enum sw_tri offered;       /* SW_UNSEEN: no capability list seen */
	bool client_used;          /* the client sent STARTTLS */
	bool stripped;             /* starttls_stripped was raised on this session */
	bool foreign_path;         /* path_changed was raised: someone else may have answered */
	uint16_t tls_version;      /* selected; 0: no ServerHello */
	uint16_t tls_cipher;
	bool has_fp;
	struct sw_path_fp fp;
};

/* Would a capability list without STARTTLS be a stripping?  detail: why. */
enum sw_hist_verdict sw_history_offer_verdict(struct sw_history *h, const struct sw_hist_server *s,
					      char *detail, size_t n);
/* Would selecting `selected` (ServerHello version) be a downgrade for this server? */
enum sw_hist_verdict sw_history_version_verdict(struct sw_history *h, const struct sw_hist_server *s,
						uint16_t selected, char *detail, size_t n);
/* Did this client always use STARTTLS with this server when it was offered? */
enum sw_hist_verdict sw_history_client_verdict(struct sw_history *h, const struct sw_hist_server *s,
					       const uint8_t *client_ip, char *detail, size_t n);
/*
 * Does fp differ from every stable fingerprint of the server (one seen in
 * >= threshold sessions) while a stable one exists for the same client
 * option set?  A longer hop distance with the same stack is not a change
 * (another vantage or route); a shorter one is (something closer answers).
 * detail gets both fingerprints.
 */
bool sw_history_path_changed(struct sw_history *h, const struct sw_hist_server *s,
			     const struct sw_path_fp *fp, char *detail, size_t n);

/* Learn one finished session (memory only). */
void sw_history_observe(struct sw_history *h, const struct sw_hist_session *ss);
/* Flush when due by packet time or by the number of dirty rows. */
void sw_history_maybe_flush(struct sw_history *h, uint64_t now_ns);
/* The engine's history (engine.c); NULL when off. */
struct sw_history *sw_engine_history(struct sw_engine *e);

/*
 * detect.c, from the engine at a mail/TLS flow's end (history on): raise
 * path_changed (severity 3) if the fingerprint moved and nothing lost TLS,
 * then learn the session.
 */
struct sw_engine_ctx;
void sw_detect_flow_end(struct sw_engine_ctx *x);

/* The decision threshold in use. */
uint32_t sw_history_threshold(const struct sw_history *h);

#endif
