/*
 * conv.h - scripted TCP conversations for engine-level tests.
 *
 * A conversation is a list of (direction, bytes) steps.  conv_* turns it
 * into real packets (IPv4 header + TCP header + payload, in one buffer, so
 * that sw_packet.l3 is valid for nDPI): SYN, SYN-ACK, ACK, then each step
 * cut into segments of at most `seg` bytes (0: up to an MSS of 1460) with
 * running sequence numbers, then FIN/ACK from both sides.  Findings and
 * flow events are collected by a sink that copies what it is given (the
 * engine's pointers live only during the callback).
 *
 * Header-only; every function is static inline so that a test uses what it
 * needs.  Nothing here depends on cmocka.
 */
#ifndef SW_TEST_CONV_H
#define SW_TEST_CONV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sw_dissect.h"

#define CONV_MAX_FINDINGS 32
#define CONV_MAX_FLOWS 8
#define CONV_EV_MAX 256
#define CONV_MSS 1460

struct conv_finding {
	enum sw_finding_kind kind;
	uint8_t severity;
	uint8_t n_ev;
	char ev[SW_EVIDENCE_MAX][CONV_EV_MAX];
};

struct conv_sink {
	int n_findings;
	struct conv_finding f[CONV_MAX_FINDINGS];
	int n_flows;
	struct sw_flow_info flows[CONV_MAX_FLOWS];
};

static inline void conv_on_finding(void *ctx, const struct sw_finding *fd)
{
	struct conv_sink *s = ctx;
	if (s->n_findings >= CONV_MAX_FINDINGS)
		return;
	struct conv_finding *f = &s->f[s->n_findings++];
	memset(f, 0, sizeof(*f));
	f->kind = fd->kind;
	f->severity = fd->severity;
	f->n_ev = fd->n_evidence;
	for (int i = 0; i < fd->n_evidence && i < SW_EVIDENCE_MAX; i++) {
		size_t n = fd->evidence[i].len < CONV_EV_MAX - 1 ? fd->evidence[i].len : CONV_EV_MAX - 1;
		memcpy(f->ev[i], fd->evidence[i].bytes, n);
		f->ev[i][n] = 0;
	}
}

static inline void conv_on_flow(void *ctx, const struct sw_flow_info *fi)
{
	struct conv_sink *s = ctx;
	if (s->n_flows < CONV_MAX_FLOWS)
		s->flows[s->n_flows++] = *fi;
}

/* An engine reporting into s; the caller frees it. */
static inline struct sw_engine *conv_engine(struct conv_sink *s, bool use_ndpi)
{
	struct sw_dissect_config cfg;
	sw_dissect_config_default(&cfg);
	cfg.seed = 7;
	cfg.use_ndpi = use_ndpi;
	struct sw_sink sink = { s, conv_on_finding, conv_on_flow };
	memset(s, 0, sizeof(*s));
	return sw_engine_new(&cfg, &sink);
}

struct conv_step {
	int dir;              /* 0 client->server, 1 server->client */
	const char *data;
	size_t len;
};
#define CONV_C(s) { 0, (s), sizeof(s) - 1 }
#define CONV_S(s) { 1, (s), sizeof(s) - 1 }

struct conv {
	struct sw_engine *e;
	uint32_t ip[2];       /* [0] client, [1] server (host order) */
	uint16_t port[2];
	uint32_t next[2];     /* next sequence number per direction */
	uint64_t ts;
	size_t seg;
	uint8_t pkt[40 + CONV_MSS];
};

static inline void conv_put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void conv_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One packet of direction dir; len <= CONV_MSS. */
static inline void conv_packet(struct conv *c, int dir, uint8_t flags, const uint8_t *data, size_t len)
{
	uint8_t *ip = c->pkt, *tcp = c->pkt + 20;
	memset(c->pkt, 0, 40);
	ip[0] = 0x45;
	conv_put16(ip + 2, (uint32_t)(40 + len));
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	conv_put32(ip + 12, c->ip[dir]);
	conv_put32(ip + 16, c->ip[!dir]);
	conv_put16(tcp, c->port[dir]);
	conv_put16(tcp + 2, c->port[!dir]);
	conv_put32(tcp + 4, c->next[dir]);
	conv_put32(tcp + 8, (flags & SW_TH_ACK) ? c->next[!dir] : 0);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	conv_put16(tcp + 14, 65535);
	if (len)
		memcpy(c->pkt + 40, data, len);

	struct sw_packet p;
	memset(&p, 0, sizeof(p));
	p.ts_ns = c->ts;
	p.ip_version = 4;
	p.ttl = 64;
	p.tcp_flags = flags;
	memcpy(p.src, ip + 12, 4);
	memcpy(p.dst, ip + 16, 4);
	p.sport = c->port[dir];
	p.dport = c->port[!dir];
	p.seq = c->next[dir];
	p.ack = (flags & SW_TH_ACK) ? c->next[!dir] : 0;
	p.window = 65535;
	p.wscale = 0xff;
	p.l3 = c->pkt;
	p.l3_len = (uint32_t)(40 + len);
	p.payload = c->pkt + 40;
	p.payload_len = p.payload_wire_len = (uint32_t)len;
	sw_engine_packet(c->e, &p);

	c->next[dir] += (uint32_t)len + ((flags & (SW_TH_SYN | SW_TH_FIN)) ? 1u : 0u);
	c->ts += 1000000; /* 1 ms per packet */
}

/* SYN, SYN-ACK, ACK.  seg: payload bytes per packet (0: up to the MSS). */
static inline void conv_open(struct conv *c, struct sw_engine *e, uint16_t cport, uint16_t sport, size_t seg)
{
	memset(c, 0, sizeof(*c));
	c->e = e;
	c->ip[0] = 0xc0000201u; /* 192.0.2.1 */
	c->ip[1] = 0xc6336419u; /* 198.51.100.25 */
	c->port[0] = cport;
	c->port[1] = sport;
	c->next[0] = 1000u + cport;
	c->next[1] = 0xfffffc00u + sport; /* wraps within the first kilobytes */
	c->ts = 1700000000ull * 1000000000ull + (uint64_t)cport * 1000000000ull;
	c->seg = seg;
	conv_packet(c, 0, SW_TH_SYN, NULL, 0);
	conv_packet(c, 1, SW_TH_SYN | SW_TH_ACK, NULL, 0);
	conv_packet(c, 0, SW_TH_ACK, NULL, 0);
}

static inline void conv_send(struct conv *c, int dir, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t max = c->seg && c->seg < CONV_MSS ? c->seg : CONV_MSS;
	while (len > 0) {
		size_t k = len < max ? len : max;
		conv_packet(c, dir, SW_TH_ACK | SW_TH_PSH, p, k);
		p += k;
		len -= k;
	}
}

static inline void conv_play(struct conv *c, const struct conv_step *st, size_t n)
{
	for (size_t i = 0; i < n; i++)
		conv_send(c, st[i].dir, st[i].data, st[i].len ? st[i].len : strlen(st[i].data));
}

static inline void conv_close(struct conv *c)
{
	conv_packet(c, 0, SW_TH_FIN | SW_TH_ACK, NULL, 0);
	conv_packet(c, 1, SW_TH_FIN | SW_TH_ACK, NULL, 0);
	conv_packet(c, 0, SW_TH_ACK, NULL, 0);
}

/* A whole session: open, play, close. */
static inline void conv_session(struct sw_engine *e, uint16_t cport, uint16_t sport,
				const struct conv_step *st, size_t n, size_t seg)
{
	struct conv *c = malloc(sizeof(*c));
	if (!c)
		abort();
	conv_open(c, e, cport, sport, seg);
	conv_play(c, st, n);
	conv_close(c);
	free(c);
}

/*
 * A real ClientHello (318 bytes, TLS 1.2 offered): the client's first TLS
 * record after STARTTLS in zeek/zeek testing/btest/Traces/tls/imap-starttls.pcap.
 */
static const uint8_t conv_client_hello[318] = {
	0x16, 0x03, 0x01, 0x01, 0x39, 0x01, 0x00, 0x01, 0x35, 0x03, 0x03, 0x14, 0x18, 0xd6, 0x1e, 0x6d,
	0xcf, 0x26, 0xce, 0x54, 0x85, 0x1c, 0xd8, 0x46, 0x2b, 0x59, 0xf2, 0xb2, 0x45, 0x65, 0x0d, 0xc4,
	0x8b, 0xc5, 0xbc, 0xe6, 0x24, 0x78, 0x76, 0xbb, 0x1c, 0x59, 0x0e, 0x00, 0x00, 0xb6, 0xc0, 0x30,
	0xc0, 0x2c, 0xc0, 0x28, 0xc0, 0x24, 0xc0, 0x14, 0xc0, 0x0a, 0x00, 0xa5, 0x00, 0xa3, 0x00, 0xa1,
	0x00, 0x9f, 0x00, 0x6b, 0x00, 0x6a, 0x00, 0x69, 0x00, 0x68, 0x00, 0x39, 0x00, 0x38, 0x00, 0x37,
	0x00, 0x36, 0x00, 0x88, 0x00, 0x87, 0x00, 0x86, 0x00, 0x85, 0xc0, 0x32, 0xc0, 0x2e, 0xc0, 0x2a,
	0xc0, 0x26, 0xc0, 0x0f, 0xc0, 0x05, 0x00, 0x9d, 0x00, 0x3d, 0x00, 0x35, 0x00, 0x84, 0xc0, 0x2f,
	0xc0, 0x2b, 0xc0, 0x27, 0xc0, 0x23, 0xc0, 0x13, 0xc0, 0x09, 0x00, 0xa4, 0x00, 0xa2, 0x00, 0xa0,
	0x00, 0x9e, 0x00, 0x67, 0x00, 0x40, 0x00, 0x3f, 0x00, 0x3e, 0x00, 0x33, 0x00, 0x32, 0x00, 0x31,
	0x00, 0x30, 0x00, 0x9a, 0x00, 0x99, 0x00, 0x98, 0x00, 0x97, 0x00, 0x45, 0x00, 0x44, 0x00, 0x43,
	0x00, 0x42, 0xc0, 0x31, 0xc0, 0x2d, 0xc0, 0x29, 0xc0, 0x25, 0xc0, 0x0e, 0xc0, 0x04, 0x00, 0x9c,
	0x00, 0x3c, 0x00, 0x2f, 0x00, 0x96, 0x00, 0x41, 0x00, 0x07, 0xc0, 0x11, 0xc0, 0x07, 0xc0, 0x0c,
	0xc0, 0x02, 0x00, 0x05, 0x00, 0x04, 0xc0, 0x12, 0xc0, 0x08, 0x00, 0x16, 0x00, 0x13, 0x00, 0x10,
	0x00, 0x0d, 0xc0, 0x0d, 0xc0, 0x03, 0x00, 0x0a, 0x00, 0x15, 0x00, 0x12, 0x00, 0x0f, 0x00, 0x0c,
	0x00, 0x09, 0x00, 0xff, 0x02, 0x01, 0x00, 0x00, 0x55, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01,
	0x02, 0x00, 0x0a, 0x00, 0x1c, 0x00, 0x1a, 0x00, 0x17, 0x00, 0x19, 0x00, 0x1c, 0x00, 0x1b, 0x00,
	0x18, 0x00, 0x1a, 0x00, 0x16, 0x00, 0x0e, 0x00, 0x0d, 0x00, 0x0b, 0x00, 0x0c, 0x00, 0x09, 0x00,
	0x0a, 0x00, 0x23, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x20, 0x00, 0x1e, 0x06, 0x01, 0x06, 0x02, 0x06,
	0x03, 0x05, 0x01, 0x05, 0x02, 0x05, 0x03, 0x04, 0x01, 0x04, 0x02, 0x04, 0x03, 0x03, 0x01, 0x03,
	0x02, 0x03, 0x03, 0x02, 0x01, 0x02, 0x02, 0x02, 0x03, 0x00, 0x0f, 0x00, 0x01, 0x01,
};

/* ---- queries ------------------------------------------------------------------- */

/* Findings of kind k (with severity sev, or any when sev < 0). */
static inline int conv_count(const struct conv_sink *s, enum sw_finding_kind k, int sev)
{
	int n = 0;
	for (int i = 0; i < s->n_findings; i++)
		if (s->f[i].kind == k && (sev < 0 || s->f[i].severity == sev))
			n++;
	return n;
}

static inline const struct conv_finding *conv_find(const struct conv_sink *s, enum sw_finding_kind k)
{
	for (int i = 0; i < s->n_findings; i++)
		if (s->f[i].kind == k)
			return &s->f[i];
	return NULL;
}

/* Does any evidence line of any finding contain needle? */
static inline bool conv_evidence_has(const struct conv_sink *s, const char *needle)
{
	for (int i = 0; i < s->n_findings; i++)
		for (int j = 0; j < s->f[i].n_ev; j++)
			if (strstr(s->f[i].ev[j], needle))
				return true;
	return false;
}

/* Same flows with the same STARTTLS facts, in the same order? */
static inline bool conv_same_flows(const struct conv_sink *a, const struct conv_sink *b)
{
	if (a->n_flows != b->n_flows)
		return false;
	for (int i = 0; i < a->n_flows; i++) {
		const struct sw_starttls_info *x = &a->flows[i].starttls, *y = &b->flows[i].starttls;
		if (x->offered != y->offered || x->command_sent != y->command_sent ||
		    x->upgraded != y->upgraded || strcmp(x->reply, y->reply) != 0)
			return false;
	}
	return true;
}

typedef void (*conv_scenario)(struct sw_engine *e, size_t seg);

/*
 * Run sc twice, with whole segments into *whole and one byte per segment
 * into *bytewise (nDPI off).  *calls gets the larger classifier_calls of
 * the two runs.  The caller asserts the two sinks agree.
 */
static inline bool conv_run_both(conv_scenario sc, struct conv_sink *whole, struct conv_sink *bytewise,
				 uint64_t *calls)
{
	struct conv_sink *sinks[2] = { whole, bytewise };
	*calls = 0;
	for (int i = 0; i < 2; i++) {
		struct sw_engine *e = conv_engine(sinks[i], false);
		if (!e)
			return false;
		sc(e, i == 0 ? 0 : 1);
		sw_engine_flush(e);
		struct sw_dissect_stats st;
		sw_engine_stats(e, &st);
		if (st.classifier_calls > *calls)
			*calls = st.classifier_calls;
		sw_engine_free(e);
	}
	return true;
}

/* Same findings (kind, severity, evidence) in the same order? */
static inline bool conv_same_findings(const struct conv_sink *a, const struct conv_sink *b)
{
	if (a->n_findings != b->n_findings)
		return false;
	for (int i = 0; i < a->n_findings; i++) {
		const struct conv_finding *x = &a->f[i], *y = &b->f[i];
		if (x->kind != y->kind || x->severity != y->severity || x->n_ev != y->n_ev)
			return false;
		for (int j = 0; j < x->n_ev; j++)
			if (strcmp(x->ev[j], y->ev[j]) != 0)
				return false;
	}
	return true;
}

#endif
