/*
 * sw_capture.h - the capture stage: packet sources (pcap/pcapng files, live
 * interfaces) and the link/IP/TCP decoder.
 *
 * capture/ knows nothing about mail.  It turns each frame into one
 * struct sw_packet, handed by value to dissect/.  Every pointer in a packet
 * borrows the source's frame buffer and is valid only until the next call
 * to sw_source_next() on that source.
 */
#ifndef SW_CAPTURE_H
#define SW_CAPTURE_H

#include "sw_common.h"

/* TCP flag bits as on the wire. */
#define SW_TH_FIN 0x01
#define SW_TH_SYN 0x02
#define SW_TH_RST 0x04
#define SW_TH_PSH 0x08
#define SW_TH_ACK 0x10
#define SW_TH_URG 0x20

#define SW_TCP_MAX_OPTS 12

/* The decoded view of one TCP segment. */
struct sw_packet {
	uint64_t ts_ns;      /* packet time, nanoseconds since the epoch */
	uint64_t index;      /* 1-based packet number within its file (or live run) */
	uint32_t file_no;    /* 0-based index of the file it came from (file mode) */
	uint8_t ip_version;  /* 4 or 6 */
	uint8_t ttl;         /* IPv4 TTL or IPv6 hop limit */
	uint8_t tcp_flags;   /* SW_TH_* */
	uint8_t n_opts;      /* number of TCP option kinds in opt_kinds (SYN/SYN-ACK only) */
	uint8_t src[16];     /* IPv4: first 4 bytes, rest zero; IPv6: all 16 */
	uint8_t dst[16];
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint16_t window;     /* raw, unscaled */
	uint16_t mss;        /* from the MSS option, 0 if absent (SYN/SYN-ACK only) */
	uint8_t wscale;      /* window scale option, 0xff if absent (SYN/SYN-ACK only) */
	uint8_t ip_df;       /* IPv4 don't-fragment bit */
	uint8_t opt_kinds[SW_TCP_MAX_OPTS]; /* TCP option kinds in order (SYN/SYN-ACK only; NOPs kept) */
	const uint8_t *l3;   /* the IP header, for classifiers that want the whole packet */
	uint32_t l3_len;     /* captured bytes from l3 on, clamped to the IP total length */
	const uint8_t *payload; /* TCP payload (captured part) */
	uint32_t payload_len;   /* captured payload bytes */
	uint32_t payload_wire_len; /* payload length per the IP header; > payload_len when the snaplen cut it */
};

/* Why a frame did not become a TCP packet; each is counted. */
enum sw_decode_result {
	SW_DECODE_TCP = 0,     /* *out is filled */
	SW_DECODE_NOT_IP,      /* ARP, LLDP, unknown ethertype */
	SW_DECODE_NOT_TCP,     /* UDP, ICMP, ... */
	SW_DECODE_FRAGMENT,    /* an IP fragment: counted, not reassembled */
	SW_DECODE_TRUNCATED,   /* a header is cut short by the capture length */
	SW_DECODE_MALFORMED,   /* a length or field that cannot be true */
	SW_DECODE__COUNT
};

struct sw_capture_stats {
	uint64_t frames;          /* frames read */
	uint64_t bytes;           /* captured bytes read */
	uint64_t tcp;             /* frames decoded into TCP packets */
	uint64_t by_result[SW_DECODE__COUNT];
	uint64_t kernel_received; /* live: pcap_stats ps_recv (0 in file mode) */
	uint64_t kernel_dropped;  /* live: ps_drop + ps_ifdrop */
};

/*
 * Decode one frame of link type dlt (a DLT_* value from pcap).  Supported:
 * DLT_EN10MB (802.1Q/QinQ tags, PPPoE session), DLT_LINUX_SLL, DLT_LINUX_SLL2,
 * DLT_RAW/DLT_IPV4/DLT_IPV6, DLT_NULL, DLT_LOOP, DLT_PPP_ETHER.  caplen bytes
 * are readable at frame.  Never reads outside them.
 */
enum sw_decode_result sw_decode(int dlt, const uint8_t *frame, uint32_t caplen,
				struct sw_packet *out);

/* True when sw_decode() supports this link type. */
bool sw_dlt_supported(int dlt);

const char *sw_decode_result_name(enum sw_decode_result r);

struct sw_source;

struct sw_live_opts {
	const char *iface;
	const char *bpf;        /* NULL: the default mail/TLS port filter */
	int snaplen;            /* 0: 262144 */
	bool no_promisc;
	int buffer_mb;          /* 0: 64 */
	int timeout_ms;         /* 0: 100 */
};

/*
 * Open several capture files as one timeline, read in the order given.
 * pcap and pcapng are told apart by their header, never by name;
 * timestamps are kept at nanosecond precision.  Files are opened one at a
 * time when reached, so an unreadable later file is reported when reached.
 * Returns NULL with a one-line message in err on failure.
 */
struct sw_source *sw_source_open_files(const char *const *paths, size_t n_paths,
				       char *err, size_t errlen);

/* Open a live interface (TPACKET_V3, large ring).  NULL + err on failure. */
struct sw_source *sw_source_open_live(const struct sw_live_opts *opts, char *err, size_t errlen);

/*
 * Open n sockets on one interface as one PACKET_FANOUT group (Linux): the
 * kernel hands every packet to exactly one of them, all packets of one
 * server endpoint (the lower port's side, see capture/fanout.c) to the same
 * one.  Each srcs[i] is then read like any live source, typically by its
 * own thread.  0, or -1 with err set and nothing left open.
 */
int sw_source_open_live_group(const struct sw_live_opts *opts, unsigned n, struct sw_source **srcs,
			      char *err, size_t errlen);

/*
 * Read the next TCP packet, skipping and counting frames that are not TCP.
 * Returns 1 with *pkt filled, 0 at the end of all input (or no packet within
 * the live timeout: check sw_source_is_live()), -1 on a fatal error of the
 * current file: sw_source_error() then holds one line naming the file and
 * the packet number.  After -1 the caller may call again to continue with
 * the next file.
 */
int sw_source_next(struct sw_source *src, struct sw_packet *pkt);

/*
 * Lookahead (file mode; live sources keep 0): with depth d > 0, each
 * sw_source_next() also reads and decodes up to d of the packets after the
 * one it returns, so the caller can prefetch what they will touch.  They
 * are the packets the next calls return, in order; an error or the end of
 * the input comes after them as it would without lookahead.  Packets read
 * by libpcap (pcapng, pipes) are not read ahead of.  The frame counters
 * include packets read ahead.  d is capped at SW_SOURCE_MAX_LOOKAHEAD.
 */
#define SW_SOURCE_MAX_LOOKAHEAD 4
void sw_source_set_lookahead(struct sw_source *src, unsigned depth);

/*
 * The i-th packet (0-based) after the one sw_source_next() returned last,
 * or NULL when it was not read ahead.  Valid until the next sw_source_next().
 */
const struct sw_packet *sw_source_peek(const struct sw_source *src, unsigned i);

const char *sw_source_error(const struct sw_source *src);
/* Name of the file the last packet came from (NULL in live mode). */
const char *sw_source_filename(const struct sw_source *src);
bool sw_source_is_live(const struct sw_source *src);
/* Fills *st; in live mode refreshes the kernel counters (one syscall). */
void sw_source_stats(struct sw_source *src, struct sw_capture_stats *st);
/* Make a blocking sw_source_next() return 0 soon (signal-safe). */
void sw_source_break(struct sw_source *src);
/* pcap's selectable fd (live), or -1. */
int sw_source_fd(const struct sw_source *src);
void sw_source_close(struct sw_source *src);

#endif
