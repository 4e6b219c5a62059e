/*
 * classify.h - what a flow on a port we do not know carries (private to
 * dissect/).
 *
 * Two stages, cheapest first:
 *  1. sw_classify_first_bytes() looks at the first payload of a direction:
 *     a ClientHello from the client, an SMTP banner or EHLO/HELO, an IMAP
 *     "* OK"/"* PREAUTH" greeting, a POP3 "+OK" greeting.  Some answers are
 *     strong (decide at once), some only a hint that needs the other side
 *     to agree (a "+OK" alone says little), or to see more bytes (a first
 *     segment of "22" or "* O" may be a tiny split of a greeting).
 *  2. An undecided flow gets a struct sw_cls_flow: its first packets go to
 *     nDPI (at most SW_CLS_MAX_CALLS of them, the module created on first
 *     need, once per engine) and, for a hint, to the cheap confirmation.
 *     The packets are also logged, bounded, in arrival order, so that the
 *     dissector chosen at packet k can be replayed the bytes it missed
 *     (banner, capability list) exactly as they came.  A direction whose
 *     bytes overflowed the log is handed to the dissector after a gap.
 *
 * nDPI is never a source of findings, only of which dissector runs.  Its
 * per-flow state is freed as soon as the flow is decided or given up.
 */
#ifndef SW_CLASSIFY_H
#define SW_CLASSIFY_H

#include "sw_dissect.h"

#define SW_CLS_MAX_CALLS 10        /* packets handed to nDPI per flow */
#define SW_CLS_MAX_PKTS 12         /* packets an undecided flow may take */
#define SW_CLS_HEAD 64             /* first bytes per direction the cheap checks look at (<= 64) */
#define SW_CLS_LOG_PKTS 64         /* packets kept for replay (in-order runs share one) */
#define SW_CLS_LOG_BYTES 16384     /* payload bytes kept for replay */
#define SW_CLS_MAX_PENDING 4096    /* undecided flows at once, per engine */
#define SW_CLS_NDPI_FLOW_MEM 2800  /* nDPI heap per flow while tracked (platform-facts 2.3) */

enum sw_cls_strength { SW_CLS_NONE = 0, SW_CLS_HINT, SW_CLS_STRONG };

/*
 * What the first payload bytes of direction dir (0 client->server) say.
 * Returns the protocol and sets *strength; SW_APP_UNKNOWN with SW_CLS_NONE
 * when the bytes say nothing we know, with SW_CLS_STRONG when they say the
 * flow is something else (an HTTP request).
 */
enum sw_app_proto sw_classify_first_bytes(int dir, const uint8_t *p, uint32_t n,
					  enum sw_cls_strength *strength);

struct sw_classifier;   /* one per engine */
struct sw_cls_flow;     /* one per undecided flow */

/* Cheap: nDPI is initialised only when a flow first needs it. NULL on ENOMEM. */
struct sw_classifier *sw_classifier_new(bool use_ndpi);
void sw_classifier_free(struct sw_classifier *c);
/* Undecided flows now (for the SW_CLS_MAX_PENDING cap). */
uint32_t sw_classifier_pending(const struct sw_classifier *c);

/* Bytes charged to the memory statistics per undecided flow (an upper bound). */
size_t sw_cls_flow_mem(void);

/*
 * Start classifying a flow; hint is SW_APP_UNKNOWN or a cheap guess to
 * confirm.  first_seq[d] is the sequence number of direction d's first
 * payload byte (SYN + 1) when bit d of known is set; otherwise the first
 * segment seen fixes it.  NULL when capped or out of memory.
 */
struct sw_cls_flow *sw_cls_flow_new(struct sw_classifier *c, enum sw_app_proto hint,
				    const uint32_t first_seq[2], uint8_t known);
void sw_cls_flow_free(struct sw_classifier *c, struct sw_cls_flow *cf);

enum sw_cls_result {
	SW_CLS_PENDING = 0,  /* keep offering packets */
	SW_CLS_DECIDED,      /* *proto is set */
	SW_CLS_GIVE_UP,      /* not mail, not TLS, or never decided: ignore the flow */
};

struct sw_cls_verdict {
	enum sw_app_proto proto;
	char name[SW_PROTO_NAME_MAX];  /* nDPI's name when nDPI decided, else "" */
	bool logged;                    /* the packet just offered is in the log */
	bool lost[2];                   /* a direction has bytes that are not in the log */
	uint32_t ndpi_calls;            /* packets handed to nDPI by this call (0 or 1) */
};

/*
 * Offer one packet (dir 0 client->server) of an undecided flow.  The
 * packet's payload is copied into the log while it fits.
 */
enum sw_cls_result sw_cls_flow_packet(struct sw_classifier *c, struct sw_cls_flow *cf, int dir,
				      const struct sw_packet *p, struct sw_cls_verdict *v);

/* Hand the logged packets back, in arrival order. */
typedef void (*sw_cls_replay_fn)(void *ctx, int dir, uint32_t seq, const uint8_t *p, uint32_t n,
				 bool fin, uint64_t ts_ns);
void sw_cls_flow_replay(const struct sw_cls_flow *cf, sw_cls_replay_fn fn, void *ctx);

#endif
