/*
 * fuzz_mail.c - libFuzzer harness for the mail and TLS dissectors, fed
 * through the engine (include/sw_dissect.h) as ONE TCP flow.
 *
 * Input layout (in the style of Suricata's app-layer fuzz target):
 *   byte 0          bits 0-5: server port, ports[value % 6] = 25, 587, 143, 110,
 *                   443, 2526; bits 6-7 both set: classify unknown ports with
 *                   nDPI (its set-up costs milliseconds, so only when asked)
 *   then chunks separated by the 4 bytes "FUZZ".  Each chunk's first byte
 *   is a flags byte, the rest its payload:
 *     bit 0     direction: 0 client -> server, 1 server -> client
 *     bit 1     send the chunk's segments in reverse order
 *     bit 2     retransmit the chunk's first segment afterwards
 *     bits 3-5  segment size: 1460, 1, 2, 7, 64, 536, 1000, 1460
 * The flow opens with SYN / SYN-ACK / ACK, sequence and acknowledgement
 * numbers follow the bytes sent, and it closes with FIN from both sides;
 * then sw_engine_flush().  Frames are built as raw IPv4 and go through
 * sw_decode(), so the engine sees what the capture stage would hand it.
 * Every finding and flow summary is read field by field (evidence bytes
 * included) so that the sanitizers see any bad pointer.
 */
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sw_dissect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEG_MAX 1460

struct fl {
	struct sw_engine *eng;
	uint32_t seq[2];      /* next sequence number per direction */
	uint64_t ts;
	uint64_t index;
	uint16_t port;
};

static volatile size_t sink_sum;

static void touch_flow(const struct sw_flow_info *fi)
{
	size_t s = strlen(fi->classified_as) + strlen(fi->server_name) +
		   strlen(fi->tls.sni) + strlen(fi->tls.ja3) + strlen(fi->tls.ja3s);
	s += fi->starttls.reply_len <= SW_REPLY_MAX ? fi->starttls.reply_len : (abort(), 0);
	if (fi->starttls.reply_len)
		s += (uint8_t)fi->starttls.reply[fi->starttls.reply_len - 1];
	s += fi->tls.n_alerts <= SW_ALERTS_MAX ? fi->tls.n_alerts : (abort(), 0);
	sink_sum += s;
}

static void on_finding(void *ctx, const struct sw_finding *f)
{
	(void)ctx;
	if (!sw_finding_name(f->kind) || f->n_evidence > SW_EVIDENCE_MAX)
		abort();
	size_t s = f->detail ? strlen(f->detail) : 0;
	for (unsigned i = 0; i < f->n_evidence; i++) {
		const struct sw_evidence *ev = &f->evidence[i];
		if (ev->len > SW_EVIDENCE_LINE_MAX)
			abort();
		if (ev->len)
			s += (size_t)ev->bytes[0] + ev->bytes[ev->len - 1];
	}
	if (f->flow)
		touch_flow(f->flow);
	sink_sum += s;
}

static void on_flow(void *ctx, const struct sw_flow_info *fi)
{
	(void)ctx;
	touch_flow(fi);
}

/* Build one IPv4/TCP frame, decode it as the capture stage would, feed it. */
static void send_seg(struct fl *x, int dir, uint8_t flags, uint32_t seq, const uint8_t *p, size_t n)
{
	static const uint8_t cli[4] = { 10, 0, 0, 1 }, srv[4] = { 10, 0, 0, 2 };
	uint8_t *frame = malloc(40 + n); /* exact size: decode must not read past it */
	if (!frame)
		abort();
	uint8_t *ip = frame, *tcp = frame + 20;
	size_t tot = 40 + n;
	memset(frame, 0, 40);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, dir ? srv : cli, 4);
	memcpy(ip + 16, dir ? cli : srv, 4);
	uint16_t sp = dir ? x->port : 40000, dp = dir ? 40000 : x->port;
	uint32_t ack = (flags & SW_TH_SYN) && !dir ? 0 : x->seq[!dir];
	tcp[0] = (uint8_t)(sp >> 8);
	tcp[1] = (uint8_t)sp;
	tcp[2] = (uint8_t)(dp >> 8);
	tcp[3] = (uint8_t)dp;
	tcp[4] = (uint8_t)(seq >> 24);
	tcp[5] = (uint8_t)(seq >> 16);
	tcp[6] = (uint8_t)(seq >> 8);
	tcp[7] = (uint8_t)seq;
	tcp[8] = (uint8_t)(ack >> 24);
	tcp[9] = (uint8_t)(ack >> 16);
	tcp[10] = (uint8_t)(ack >> 8);
	tcp[11] = (uint8_t)ack;
	tcp[12] = 5 << 4;
	tcp[13] = (uint8_t)(flags | ((flags & SW_TH_SYN) && !dir ? 0 : SW_TH_ACK));
	tcp[14] = 0xff;
	tcp[15] = 0xff;
	if (n)
		memcpy(tcp + 20, p, n);
	struct sw_packet pkt;
	memset(&pkt, 0, sizeof pkt);
	if (sw_decode(DLT_RAW, frame, (uint32_t)tot, &pkt) != SW_DECODE_TCP)
		abort(); /* the harness builds valid frames: a refusal is a decoder bug */
	x->ts += 1000000; /* 1 ms a packet */
	pkt.ts_ns = x->ts;
	pkt.index = ++x->index;
	sw_engine_packet(x->eng, &pkt);
	free(frame);
}

static void send_chunk(struct fl *x, uint8_t flags, const uint8_t *p, size_t n)
{
	static const size_t seg_sizes[8] = { SEG_MAX, 1, 2, 7, 64, 536, 1000, SEG_MAX };
	int dir = flags & 1;
	size_t seg = seg_sizes[(flags >> 3) & 7];
	uint32_t base = x->seq[dir];
	if (n == 0)
		return;
	size_t n_segs = (n + seg - 1) / seg;
	for (size_t k = 0; k < n_segs; k++) {
		size_t i = (flags & 2) ? n_segs - 1 - k : k;
		size_t off = i * seg, len = SW_MIN(seg, n - off);
		x->seq[dir] = base + (uint32_t)(off + len); /* ack covers what was sent so far */
		send_seg(x, dir, SW_TH_PSH, base + (uint32_t)off, p + off, len);
	}
	x->seq[dir] = base + (uint32_t)n;
	if (flags & 4)
		send_seg(x, dir, SW_TH_PSH, base, p, SW_MIN(seg, n));
}

static const uint8_t *find_delim(const uint8_t *p, const uint8_t *end)
{
	for (; end - p >= 4; p++)
		if (p[0] == 'F' && p[1] == 'U' && p[2] == 'Z' && p[3] == 'Z')
			return p;
	return end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t ports[6] = { 25, 587, 143, 110, 443, 2526 };
	if (size < 1)
		return 0;
	/* A fresh engine per input, so that every input replays alone. */
	struct sw_dissect_config cfg;
	sw_dissect_config_default(&cfg);
	cfg.max_flows = 64;
	cfg.server_memory_max = 256; /* small tables: a fresh engine per input must be cheap */
	cfg.use_ndpi = (data[0] & 0xc0) == 0xc0;
	cfg.seed = 1;
	struct sw_sink sink = { NULL, on_finding, on_flow };
	struct sw_engine *eng = sw_engine_new(&cfg, &sink);
	if (!eng)
		abort();
	struct fl x = { .eng = eng, .seq = { 1000, 500000 }, .ts = 1800000000ull * 1000000000ull,
			.port = ports[(data[0] & 0x3f) % 6] };
	send_seg(&x, 0, SW_TH_SYN, x.seq[0]++, NULL, 0);
	send_seg(&x, 1, SW_TH_SYN, x.seq[1]++, NULL, 0);
	send_seg(&x, 0, 0, x.seq[0], NULL, 0);

	const uint8_t *p = data + 1, *end = data + size;
	while (p < end) {
		const uint8_t *d = find_delim(p, end);
		if (d > p)
			send_chunk(&x, p[0], p + 1, (size_t)(d - p - 1));
		p = d == end ? end : d + 4;
	}
	send_seg(&x, 0, SW_TH_FIN, x.seq[0]++, NULL, 0);
	send_seg(&x, 1, SW_TH_FIN, x.seq[1]++, NULL, 0);
	send_seg(&x, 0, 0, x.seq[0], NULL, 0);
	sw_engine_flush(eng);
	sw_engine_free(eng);
	return 0;
}
