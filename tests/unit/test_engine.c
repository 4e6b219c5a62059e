/*
 * test_engine.c - the flow table: caps and eviction, idle timeouts by packet
 * time, both directions in one flow, client orientation with and without a
 * SYN, flow events at FIN/RST and at flush; the SYN table (bare SYNs kept
 * apart, promoted with what they taught, their own counted eviction).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sw_dissect.h"

struct seen {
	int flows;
	int findings;
	struct sw_flow_info last;
};

static void on_flow(void *ctx, const struct sw_flow_info *fi)
{
	struct seen *s = ctx;
	s->flows++;
	s->last = *fi;
}

static void on_finding(void *ctx, const struct sw_finding *f)
{
	struct seen *s = ctx;
	s->findings++;
}

static struct sw_packet pkt(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
			    uint8_t flags, uint32_t seq, const char *data, uint64_t ts)
{
	struct sw_packet p;
	memset(&p, 0, sizeof(p));
	p.ip_version = 4;
	p.src[0] = (uint8_t)(src >> 24);
	p.src[1] = (uint8_t)(src >> 16);
	p.src[2] = (uint8_t)(src >> 8);
	p.src[3] = (uint8_t)src;
	p.dst[0] = (uint8_t)(dst >> 24);
	p.dst[1] = (uint8_t)(dst >> 16);
	p.dst[2] = (uint8_t)(dst >> 8);
	p.dst[3] = (uint8_t)dst;
	p.sport = sport;
	p.dport = dport;
	p.tcp_flags = flags;
	p.seq = seq;
	p.ts_ns = ts;
	p.wscale = 0xff;
	if (data) {
		p.payload = (const uint8_t *)data;
		p.payload_len = p.payload_wire_len = (uint32_t)strlen(data);
	}
	return p;
}

static struct sw_engine *engine(struct seen *s, uint32_t max_flows)
{
	struct sw_dissect_config cfg;
	sw_dissect_config_default(&cfg);
	cfg.max_flows = max_flows;
	cfg.seed = 42;
	cfg.use_ndpi = false;
	struct sw_sink sink = { s, on_finding, on_flow };
	struct sw_engine *e = sw_engine_new(&cfg, &sink);
	assert_non_null(e);
	return e;
}

#define CLI 0xc0000201u /* 192.0.2.1 */
#define SRV 0xc6336419u /* 198.51.100.25 */
#define SEC 1000000000ull

static void test_cap_evicts_oldest(void **state)
{
	struct seen s = { 0 };
	struct sw_engine *e = engine(&s, 64);
	/* 1000 SYN-only flows into a table of 64: the oldest go, every eviction counted. */
	for (uint32_t i = 0; i < 1000; i++) {
		struct sw_packet p = pkt(CLI + i, (uint16_t)(40000 + i), SRV, 25, 0x02, i, NULL, i * 1000);
		sw_engine_packet(e, &p);
	}
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 1000);
	assert_true(st.flows_active <= 64);
	assert_int_equal(st.flows_evicted_cap, 1000 - st.flows_active);
	assert_true(st.flows_peak <= 64);
	/* A SYN-only flow may be a session about to speak: each eviction is a cap hit. */
	assert_int_equal(st.caps_hit, st.flows_evicted_cap);
	sw_engine_free(e);
}

static void test_table_grows(void **state)
{
	struct seen s = { 0 };
	struct sw_engine *e = engine(&s, 1u << 16);
	/*
	 * 20000 handshakes (each SYN-ACK moves its SYN into the flow table) grow
	 * the slots several times; every retransmitted SYN-ACK still finds its
	 * flow (a lost one would make a new flow).
	 */
	for (uint32_t i = 0; i < 20000; i++) {
		struct sw_packet p = pkt(CLI + i, (uint16_t)(1024 + i % 50000), SRV, 25, 0x02, i, NULL, i);
		sw_engine_packet(e, &p);
		p = pkt(SRV, 25, CLI + i, (uint16_t)(1024 + i % 50000), 0x12, i, NULL, i);
		sw_engine_packet(e, &p);
	}
	for (uint32_t i = 0; i < 20000; i++) {
		struct sw_packet p = pkt(SRV, 25, CLI + i, (uint16_t)(1024 + i % 50000), 0x12, i, NULL, 20000 + i);
		sw_engine_packet(e, &p);
	}
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 20000);
	assert_int_equal(st.flows_active, 20000);
	assert_int_equal(st.flows_evicted_cap, 0);
	sw_engine_free(e);
}

/*
 * Flows leave the table in the middle of probe sequences (RST, then the
 * closed timeout) while others stay: every survivor is still found, round
 * after round, so no deletion broke a sequence and no stale entry stayed.
 */
static void test_table_churn(void **state)
{
	struct seen s = { 0 };
	struct sw_engine *e = engine(&s, 4096);
	struct sw_dissect_stats st;
	const uint32_t n = 1500, rounds = 12;
	for (uint32_t r = 0; r < rounds; r++) {
		uint64_t t = r * 10 * SEC;
		uint16_t port = (uint16_t)(2000 + r);
		for (uint32_t i = 0; i < n; i++) {
			/* SYN and SYN-ACK: the flow is in the flow table. */
			struct sw_packet p = pkt(CLI + i * 7, port, SRV, 25, 0x02, i, NULL, t);
			sw_engine_packet(e, &p);
			p = pkt(SRV, 25, CLI + i * 7, port, 0x12, 76, NULL, t);
			sw_engine_packet(e, &p);
		}
		for (uint32_t i = 1; i < n; i += 2) {
			struct sw_packet p = pkt(CLI + i * 7, port, SRV, 25, 0x04, i + 1, NULL, t + SEC);
			sw_engine_packet(e, &p);
		}
		/* The closed half goes (5 s), the other half answers again: no new flow. */
		struct sw_packet tick = pkt(SRV + 1, 9, SRV + 2, 9, 0x10, 0, NULL, t + 7 * SEC);
		sw_engine_packet(e, &tick);
		sw_engine_stats(e, &st);
		assert_int_equal(st.flows_active, n / 2);
		for (uint32_t i = 0; i < n; i += 2) {
			struct sw_packet p = pkt(SRV, 25, CLI + i * 7, port, 0x12, 77, NULL, t + 7 * SEC);
			sw_engine_packet(e, &p);
		}
		sw_engine_stats(e, &st);
		assert_int_equal(st.flows_created, (r + 1) * n);
		assert_int_equal(st.flows_active, n / 2);
		for (uint32_t i = 0; i < n; i += 2) {
			struct sw_packet p = pkt(SRV, 25, CLI + i * 7, port, 0x04, 78, NULL, t + 8 * SEC);
			sw_engine_packet(e, &p);
		}
	}
	struct sw_packet tick = pkt(SRV + 1, 9, SRV + 2, 9, 0x10, 0, NULL, rounds * 10 * SEC + 6 * SEC);
	sw_engine_packet(e, &tick);
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_active, 0);
	assert_int_equal(st.flows_evicted_cap, 0);
	sw_engine_free(e);
}

static void test_cap_keeps_active_session(void **state)
{
	struct seen s = { 0 };
	struct sw_engine *e = engine(&s, 64);
	struct sw_packet p = pkt(CLI, 40000, SRV, 25, 0x02, 100, NULL, 0);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI, 40000, 0x12, 500, NULL, 1);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI, 40000, 0x18, 501, "220 mx.example ESMTP\r\n", 2);
	sw_engine_packet(e, &p);
	/* A SYN flood from other addresses, while the session stays busy. */
	for (uint32_t i = 0; i < 500; i++) {
		struct sw_packet q = pkt(CLI + 1 + i, 1000, SRV, 25, 0x02, i, NULL, 10 + i);
		sw_engine_packet(e, &q);
		if (i % 50 == 0) {
			q = pkt(CLI, 40000, SRV, 25, 0x18, 101, "NOOP\r\n", 10 + i);
			sw_engine_packet(e, &q);
		}
	}
	sw_engine_flush(e);
	/* The session survived the flood and ends as one flow event at flush. */
	assert_int_equal(s.flows, 1);
	assert_int_equal(s.last.client_port, 40000);
	assert_int_equal(s.last.server_port, 25);
	assert_false(s.last.end_evicted);
	sw_engine_free(e);
}

static void test_idle_timeout_by_packet_time(void **state)
{
	struct seen s = { 0 };
	struct sw_engine *e = engine(&s, 1024);
	struct sw_packet p = pkt(CLI, 40001, SRV, 25, 0x18, 1, "EHLO a\r\n", 0);
	sw_engine_packet(e, &p);
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_active, 1);
	/* Another flow an hour of packet time later expires the first. */
	p = pkt(CLI + 1, 40002, SRV, 25, 0x02, 1, NULL, 3600 * SEC);
	sw_engine_packet(e, &p);
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_timed_out, 1);
	assert_int_equal(st.flows_active, 1);
	assert_int_equal(s.flows, 1);
	assert_true(s.last.end_timeout);
	sw_engine_free(e);
}

static void test_both_directions_one_flow(void **state)
{
	struct seen s = { 0 };
	struct sw_engine *e = engine(&s, 1024);
	struct sw_packet p = pkt(CLI, 40003, SRV, 25, 0x02, 100, NULL, 0);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI, 40003, 0x12, 900, NULL, 1);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI, 40003, 0x18, 901, "220 mx ESMTP\r\n", 2);
	sw_engine_packet(e, &p);
	p = pkt(CLI, 40003, SRV, 25, 0x18, 101, "QUIT\r\n", 3);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI, 40003, 0x11, 915, NULL, 4);
	sw_engine_packet(e, &p);
	p = pkt(CLI, 40003, SRV, 25, 0x11, 107, NULL, 5);
	sw_engine_packet(e, &p);
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 1);
	/* FIN from both sides ends the flow with one event. */
	assert_int_equal(s.flows, 1);
	assert_true(s.last.end_fin);
	assert_int_equal(s.last.pkts[0], 3);
	assert_int_equal(s.last.pkts[1], 3);
	assert_int_equal(s.last.bytes[0], 6);
	assert_int_equal(s.last.bytes[1], 14);
	assert_string_equal(s.last.server_name, "mx");
	/* Late ACKs of the closed flow create nothing. */
	p = pkt(CLI, 40003, SRV, 25, 0x10, 108, NULL, 6);
	sw_engine_packet(e, &p);
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 1);
	sw_engine_free(e);
}

static void test_closed_flow_forgotten_soon(void **state)
{
	struct seen s = { 0 };
	struct sw_engine *e = engine(&s, 1024);
	struct sw_packet p = pkt(CLI, 40006, SRV, 25, 0x02, 100, NULL, 0);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI, 40006, 0x12, 900, NULL, 1);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI, 40006, 0x18, 901, "220 mx ESMTP\r\n", 2);
	sw_engine_packet(e, &p);
	p = pkt(CLI, 40006, SRV, 25, 0x04, 101, NULL, 3);
	sw_engine_packet(e, &p);
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_active, 1); /* kept a moment for late segments */
	/* A packet of another flow 6 s later: the ended flow is gone, not "timed out". */
	p = pkt(CLI + 1, 40007, SRV, 25, 0x02, 1, NULL, 6 * SEC);
	sw_engine_packet(e, &p);
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_active, 1);
	assert_int_equal(st.flows_timed_out, 0);
	assert_int_equal(s.flows, 1);
	sw_engine_free(e);
}

static void test_client_without_syn(void **state)
{
	struct seen s = { 0 };
	struct sw_engine *e = engine(&s, 1024);
	/* Mid-stream pickup: the server's packet comes first; port 25 says who serves. */
	struct sw_packet p = pkt(SRV, 25, CLI, 40004, 0x18, 901, "250 ok\r\n", 0);
	sw_engine_packet(e, &p);
	sw_engine_flush(e);
	assert_int_equal(s.flows, 1);
	assert_int_equal(s.last.server_port, 25);
	assert_int_equal(s.last.client_port, 40004);
	assert_int_equal(s.last.client_ip[3], CLI & 0xff);
	sw_engine_free(e);
}

static void test_rst_ends_flow(void **state)
{
	struct seen s = { 0 };
	struct sw_engine *e = engine(&s, 1024);
	struct sw_packet p = pkt(CLI, 40005, SRV, 25, 0x02, 100, NULL, 0);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI, 40005, 0x12, 900, NULL, 1);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI, 40005, 0x18, 901, "220 mx ESMTP\r\n", 2);
	sw_engine_packet(e, &p);
	p = pkt(CLI, 40005, SRV, 25, 0x04, 101, NULL, 3);
	sw_engine_packet(e, &p);
	assert_int_equal(s.flows, 1);
	assert_true(s.last.end_rst);
	/* Port reuse: a new SYN on the closed 4-tuple is a new connection. */
	p = pkt(CLI, 40005, SRV, 25, 0x02, 5000, NULL, 4);
	sw_engine_packet(e, &p);
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 2);
	sw_engine_free(e);
}

static void test_bare_acks_create_nothing(void **state)
{
	struct seen s = { 0 };
	struct sw_engine *e = engine(&s, 1024);
	for (uint32_t i = 0; i < 100; i++) {
		struct sw_packet p = pkt(CLI + i, 40000, SRV, 25, 0x10, i, NULL, i);
		sw_engine_packet(e, &p);
		p = pkt(CLI + i, 40000, SRV, 25, 0x04, i, NULL, i);
		sw_engine_packet(e, &p);
	}
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 0);
	assert_int_equal(st.packets, 200);
	sw_engine_free(e);
}

/* ---- the SYN table: bare SYNs stay out of the flow table ------------------ */

/* SYN, SYN-ACK, ACK from client cli (port cport) to SRV:25. */
static void handshake(struct sw_engine *e, uint32_t cli, uint16_t cport, uint32_t isn, uint64_t ts)
{
	struct sw_packet p = pkt(cli, cport, SRV, 25, 0x02, isn, NULL, ts);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, cli, cport, 0x12, 900, NULL, ts + 1);
	sw_engine_packet(e, &p);
	p = pkt(cli, cport, SRV, 25, 0x10, isn + 1, NULL, ts + 2);
	sw_engine_packet(e, &p);
}

static void test_syn_flood_spares_flows(void **state)
{
	struct seen s = { 0 };
	/* 1024 = 64 SYN-table entries + 960 flows. */
	struct sw_engine *e = engine(&s, 1024);
	/* 900 handshakes without payload: EMBRYO flows, the first a flood used to evict. */
	for (uint32_t i = 0; i < 900; i++)
		handshake(e, CLI + i, 40000, 100, i * 10);
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_active, 900);
	/* 100000 flood SYNs, each its own 4-tuple. */
	for (uint32_t i = 0; i < 100000; i++) {
		struct sw_packet p = pkt(0x0a000000u + i, (uint16_t)(1024 + i % 60000), SRV, 25, 0x02, i, NULL,
					 SEC + i * 10);
		sw_engine_packet(e, &p);
	}
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 900 + 100000);
	assert_int_equal(st.flows_active, 900 + 64);
	/* Only SYN-table entries went, each counted as an eviction and a cap hit. */
	assert_int_equal(st.flows_evicted_cap, 100000 - 64);
	assert_int_equal(st.caps_hit, st.flows_evicted_cap);
	assert_true(st.flows_peak <= 1024);
	/* Every handshake is still known: its greeting makes no new flow. */
	for (uint32_t i = 0; i < 900; i++) {
		struct sw_packet p = pkt(SRV, 25, CLI + i, 40000, 0x18, 901, "220 mx ESMTP\r\n", 2 * SEC + i);
		sw_engine_packet(e, &p);
	}
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 900 + 100000);
	sw_engine_flush(e);
	assert_int_equal(s.flows, 900);
	assert_false(s.last.end_evicted);
	sw_engine_free(e);
}

/*
 * A session opened by a SYN is dissected as the flow table alone did it:
 * the SYN's time, its packet, its ISN (the client's first segment arrives
 * after its second: held as out of order, then delivered in order).
 */
static void test_syn_promoted_keeps_what_it_taught(void **state)
{
	struct seen s = { 0 };
	struct sw_engine *e = engine(&s, 1024);
	struct sw_packet p = pkt(CLI, 40010, SRV, 25, 0x02, 100, NULL, 5 * SEC);
	sw_engine_packet(e, &p);
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 1);
	assert_int_equal(st.flows_active, 1);
	p = pkt(SRV, 25, CLI, 40010, 0x12, 900, NULL, 5 * SEC + 1);
	sw_engine_packet(e, &p);
	p = pkt(CLI, 40010, SRV, 25, 0x10, 101, NULL, 5 * SEC + 2);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI, 40010, 0x18, 901, "220 mx ESMTP\r\n", 5 * SEC + 3);
	sw_engine_packet(e, &p);
	p = pkt(CLI, 40010, SRV, 25, 0x18, 103, "IT\r\n", 5 * SEC + 4);
	sw_engine_packet(e, &p);
	p = pkt(CLI, 40010, SRV, 25, 0x18, 101, "QU", 5 * SEC + 5);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI, 40010, 0x11, 915, NULL, 5 * SEC + 6);
	sw_engine_packet(e, &p);
	p = pkt(CLI, 40010, SRV, 25, 0x11, 107, NULL, 5 * SEC + 7);
	sw_engine_packet(e, &p);
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 1);
	assert_int_equal(st.ooo_segments, 1);
	assert_int_equal(st.gaps, 0);
	assert_int_equal(s.flows, 1);
	assert_true(s.last.end_fin);
	assert_int_equal(s.last.first_ts_ns, 5 * SEC);
	assert_int_equal(s.last.last_ts_ns, 5 * SEC + 7);
	assert_int_equal(s.last.pkts[0], 5);
	assert_int_equal(s.last.pkts[1], 3);
	assert_int_equal(s.last.bytes[0], 6);
	assert_int_equal(s.last.bytes[1], 14);
	assert_string_equal(s.last.server_name, "mx");
	sw_engine_free(e);
}

static void test_syn_table_full_evicts_oldest(void **state)
{
	struct seen s = { 0 };
	/* max_flows 64: one set of 8 SYN entries, 56 flows. */
	struct sw_engine *e = engine(&s, 64);
	for (uint32_t i = 0; i < 9; i++) {
		struct sw_packet p = pkt(CLI + i, 40000, SRV, 25, 0x02, i, NULL, i);
		sw_engine_packet(e, &p);
	}
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 9);
	assert_int_equal(st.flows_active, 8);
	assert_int_equal(st.flows_evicted_cap, 1);
	assert_int_equal(st.caps_hit, 1);
	/* The oldest went: its SYN-ACK starts a new flow, the second's finds its SYN. */
	struct sw_packet p = pkt(SRV, 25, CLI, 40000, 0x12, 7, NULL, 10);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI + 1, 40000, 0x12, 7, NULL, 11);
	sw_engine_packet(e, &p);
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 10);
	assert_int_equal(st.flows_active, 9);
	/* 40 s later: the two flows time out (EMBRYO list), so does the SYN entry its next packet finds. */
	p = pkt(SRV, 25, CLI + 2, 40000, 0x12, 7, NULL, 40 * SEC);
	sw_engine_packet(e, &p);
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_timed_out, 2 + 1);
	assert_int_equal(st.flows_created, 11);
	assert_int_equal(st.flows_active, 1 + 6);
	/* Stale entries whose ways new SYNs take are timed out too, not evicted. */
	for (uint32_t i = 0; i < 8; i++) {
		p = pkt(CLI + 100 + i, 40000, SRV, 25, 0x02, i, NULL, 40 * SEC + i);
		sw_engine_packet(e, &p);
	}
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_timed_out, 3 + 6);
	assert_int_equal(st.flows_evicted_cap, 1);
	assert_int_equal(st.flows_active, 1 + 8);
	/* Flush: SYN-only flows carry no summary, so they make no flow event. */
	sw_engine_flush(e);
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_active, 0);
	assert_int_equal(s.flows, 0);
	sw_engine_free(e);
}

/* Live mode's periodic expiry ends SYN-only flows too. */
static void test_syn_table_expire(void **state)
{
	struct seen s = { 0 };
	struct sw_engine *e = engine(&s, 1024);
	for (uint32_t i = 0; i < 10; i++) {
		struct sw_packet p = pkt(CLI + i, 40000, SRV, 25, 0x02, i, NULL, i * SEC);
		sw_engine_packet(e, &p);
	}
	sw_engine_expire(e, 35 * SEC);
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_timed_out, 5); /* the SYNs of 0 .. 4 s */
	assert_int_equal(st.flows_active, 5);
	sw_engine_free(e);
}

static void test_syn_repeated_isn(void **state)
{
	struct seen s = { 0 };
	struct sw_engine *e = engine(&s, 1024);
	/* Three SYNs with different ISNs: the last one counts, as for a flow. */
	for (uint32_t i = 0; i < 3; i++) {
		struct sw_packet p = pkt(CLI, 40020, SRV, 25, 0x02, 100 * (i + 1), NULL, i);
		sw_engine_packet(e, &p);
	}
	struct sw_packet p = pkt(SRV, 25, CLI, 40020, 0x12, 900, NULL, 10);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI, 40020, 0x18, 901, "220 mx ESMTP\r\n", 11);
	sw_engine_packet(e, &p);
	/* The first client segment after the third ISN comes second. */
	p = pkt(CLI, 40020, SRV, 25, 0x18, 303, "IT\r\n", 12);
	sw_engine_packet(e, &p);
	p = pkt(CLI, 40020, SRV, 25, 0x18, 301, "QU", 13);
	sw_engine_packet(e, &p);
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 1);
	assert_int_equal(st.ooo_segments, 1);
	assert_int_equal(st.gaps, 0);
	sw_engine_flush(e);
	assert_int_equal(s.flows, 1);
	assert_int_equal(s.last.first_ts_ns, 0);
	assert_int_equal(s.last.pkts[0], 5);
	assert_int_equal(s.last.pkts[1], 2);
	/* A fourth and fifth SYN: the flow goes to the flow table, still one flow. */
	for (uint32_t i = 0; i < 5; i++) {
		p = pkt(CLI + 1, 40021, SRV, 25, 0x02, 7 + i, NULL, 20 + i);
		sw_engine_packet(e, &p);
	}
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 2);
	assert_int_equal(st.flows_active, 1);
	sw_engine_free(e);
}

/* Packets that are more than a bare SYN never sit in the SYN table. */
static void test_syn_hostile_flags(void **state)
{
	struct seen s = { 0 };
	/* One set of 8 SYN entries: a flood of 20 pushes out anything held there. */
	struct sw_engine *e = engine(&s, 64);
	/* SYN with payload (RFC 9293 3.4: data on a SYN is legal, held until open). */
	struct sw_packet p = pkt(CLI, 40030, SRV, 25, 0x02, 100, "EHLO a\r\n", 0);
	sw_engine_packet(e, &p);
	/* SYN+FIN: an anomaly, and a flow. */
	p = pkt(CLI + 1, 40031, SRV, 25, 0x03, 100, NULL, 1);
	sw_engine_packet(e, &p);
	/* SYN-ACK without a SYN: the sender is the server. */
	p = pkt(SRV, 25, CLI + 2, 40032, 0x12, 900, NULL, 2);
	sw_engine_packet(e, &p);
	/* SYN+RST: creates nothing. */
	p = pkt(CLI + 3, 40033, SRV, 25, 0x06, 100, NULL, 3);
	sw_engine_packet(e, &p);
	/* Simultaneous open (RFC 9293 3.5, figure 7): the SYNs cross; one flow. */
	p = pkt(CLI + 4, 40034, SRV, 25, 0x02, 100, NULL, 4);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI + 4, 40034, 0x02, 900, NULL, 5);
	sw_engine_packet(e, &p);
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 4);
	assert_int_equal(st.flows_active, 4);
	assert_int_equal(st.anomalies[SW_AN_TCP_BAD_FLAGS], 1);
	for (uint32_t i = 0; i < 20; i++) {
		p = pkt(0x0a000000u + i, 1000, SRV, 25, 0x02, i, NULL, 10 + i);
		sw_engine_packet(e, &p);
	}
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_evicted_cap, 12);
	assert_int_equal(st.flows_active, 4 + 8);
	/* All four are still flows: their next packets make none. */
	p = pkt(SRV, 25, CLI, 40030, 0x18, 901, "220 mx ESMTP\r\n", 40);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI + 1, 40031, 0x18, 901, "220 mx ESMTP\r\n", 41);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI + 2, 40032, 0x18, 901, "220 mx ESMTP\r\n", 42);
	sw_engine_packet(e, &p);
	p = pkt(SRV, 25, CLI + 4, 40034, 0x18, 901, "220 mx ESMTP\r\n", 43);
	sw_engine_packet(e, &p);
	sw_engine_stats(e, &st);
	assert_int_equal(st.flows_created, 4 + 20);
	sw_engine_flush(e);
	assert_int_equal(s.flows, 4);
	assert_false(s.last.end_evicted);
	/* The last flow event is the simultaneous open: the first SYN's sender is the client. */
	assert_int_equal(s.last.client_port, 40034);
	assert_int_equal(s.last.pkts[0], 1);
	assert_int_equal(s.last.pkts[1], 2);
	sw_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_evicts_oldest),
		cmocka_unit_test(test_table_grows),
		cmocka_unit_test(test_table_churn),
		cmocka_unit_test(test_cap_keeps_active_session),
		cmocka_unit_test(test_idle_timeout_by_packet_time),
		cmocka_unit_test(test_both_directions_one_flow),
		cmocka_unit_test(test_closed_flow_forgotten_soon),
		cmocka_unit_test(test_client_without_syn),
		cmocka_unit_test(test_rst_ends_flow),
		cmocka_unit_test(test_bare_acks_create_nothing),
		cmocka_unit_test(test_syn_flood_spares_flows),
		cmocka_unit_test(test_syn_promoted_keeps_what_it_taught),
		cmocka_unit_test(test_syn_table_full_evicts_oldest),
		cmocka_unit_test(test_syn_table_expire),
		cmocka_unit_test(test_syn_repeated_isn),
		cmocka_unit_test(test_syn_hostile_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
