/*
 * test_fanout.c - the PACKET_FANOUT_CBPF program (capture/fanout.c), run in
 * a small classic BPF interpreter with the kernel's rules: loads relative
 * to the network header (SKF_NET_OFF), skb->protocol as an ancillary load,
 * and a load outside the packet ends the program with 0.
 *
 * What must hold: both directions of a connection and every client of one
 * server get the same value; different servers spread over the members;
 * odd packets (fragments, UDP, IPv6, IP options, truncation, ARP) give a
 * value without reading outside the packet.  The kernel's acceptance of
 * the program is tested live (tests/live/fanout.sh).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fanout.h"

struct pkt {
	uint16_t proto;        /* EtherType, as skb->protocol */
	uint8_t net[128];      /* from the network header on */
	uint32_t len;
};

static bool load(const struct pkt *p, uint32_t k, uint32_t size, uint32_t *v)
{
	int32_t sk = (int32_t)k;
	if (sk == SKF_AD_OFF + SKF_AD_PROTOCOL) {
		*v = p->proto;
		return true;
	}
	assert_true(sk >= SKF_NET_OFF && sk < SKF_NET_OFF + 0x10000); /* only net-relative loads */
	uint32_t off = (uint32_t)(sk - SKF_NET_OFF);
	if (off > p->len || size > p->len - off)
		return false;
	*v = 0;
	for (uint32_t i = 0; i < size; i++)
		*v = (*v << 8) | p->net[off + i];
	return true;
}

/* Run the program; every instruction the program uses, nothing else. */
static uint32_t run(const struct sock_filter *ins, size_t n, const struct pkt *p)
{
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = { 0 }, v;
	size_t steps = 0;
	for (size_t pc = 0; pc < n; pc++) {
		const struct sock_filter *f = &ins[pc];
		assert_true(++steps < 1000);
		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
		case BPF_LD | BPF_H | BPF_ABS:
		case BPF_LD | BPF_B | BPF_ABS: {
			uint32_t size = BPF_SIZE(f->code) == BPF_W ? 4 : BPF_SIZE(f->code) == BPF_H ? 2 : 1;
			if (!load(p, f->k, size, &v))
				return 0;
			A = v;
			break;
		}
		case BPF_LD | BPF_H | BPF_IND:
			if (!load(p, f->k + X, 2, &v))
				return 0;
			A = v;
			break;
		case BPF_LDX | BPF_B | BPF_MSH:
			if (!load(p, f->k, 1, &v))
				return 0;
			X = (v & 0xf) * 4;
			break;
		case BPF_ST:
			assert_true(f->k < BPF_MEMWORDS);
			M[f->k] = A;
			break;
		case BPF_LD | BPF_MEM:
			assert_true(f->k < BPF_MEMWORDS);
			A = M[f->k];
			break;
		case BPF_MISC | BPF_TAX:
			X = A;
			break;
		case BPF_ALU | BPF_XOR | BPF_X:
			A ^= X;
			break;
		case BPF_ALU | BPF_MUL | BPF_K:
			A *= f->k;
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
			A >>= f->k;
			break;
		case BPF_JMP | BPF_JA:
			pc += f->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += A == f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JEQ | BPF_X:
			pc += A == X ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGT | BPF_X:
			pc += A > X ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (A & f->k) ? f->jt : f->jf;
			break;
		case BPF_RET | BPF_K:
			return f->k;
		case BPF_RET | BPF_A:
			return A;
		default:
			fail_msg("instruction %zu: code 0x%x not expected", pc, f->code);
		}
	}
	fail_msg("ran off the end of the program");
	return 0;
}

static struct sock_filter prog[SW_FANOUT_PROG_MAX];
static size_t prog_n;

static int setup(void **state)
{
	(void)state;
	prog_n = sw_fanout_prog(prog, SW_FANOUT_PROG_MAX);
	return prog_n ? 0 : -1;
}

static void put16(uint8_t *b, uint16_t v) { b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v; }

/* IPv4 TCP: a.b.c.d as a 32-bit value, ihl in words (5 = no options). */
static struct pkt v4(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t ihl, uint8_t proto)
{
	struct pkt p;
	memset(&p, 0, sizeof(p));
	p.proto = 0x0800;
	p.net[0] = (uint8_t)(0x40 | ihl);
	p.net[8] = 64;
	p.net[9] = proto;
	for (int i = 0; i < 4; i++) {
		p.net[12 + i] = (uint8_t)(src >> (24 - 8 * i));
		p.net[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	uint32_t l4 = ihl * 4u;
	put16(p.net + l4, sport);
	put16(p.net + l4 + 2, dport);
	p.len = l4 + 20;
	return p;
}

static struct pkt v6(uint8_t s_last, uint16_t sport, uint8_t d_last, uint16_t dport, uint8_t nh)
{
	struct pkt p;
	memset(&p, 0, sizeof(p));
	p.proto = 0x86dd;
	p.net[0] = 0x60;
	p.net[6] = nh;
	p.net[7] = 64;
	p.net[8] = 0x20; p.net[9] = 0x01; p.net[10] = 0x0d; p.net[11] = 0xb8;   /* 2001:db8:: */
	p.net[24] = 0x20; p.net[25] = 0x01; p.net[26] = 0x0d; p.net[27] = 0xb8;
	p.net[23] = s_last;
	p.net[39] = d_last;
	put16(p.net + 40, sport);
	put16(p.net + 42, dport);
	p.len = 60;
	return p;
}

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static uint32_t h(const struct pkt *p) { return run(prog, prog_n, p); }

static void test_both_directions_and_all_clients(void **state)
{
	(void)state;
	struct pkt c2s = v4(IP(192, 0, 2, 10), 40000, IP(198, 51, 100, 5), 25, 5, 6);
	struct pkt s2c = v4(IP(198, 51, 100, 5), 25, IP(192, 0, 2, 10), 40000, 5, 6);
	assert_int_equal(h(&c2s), h(&s2c));
	for (uint32_t c = 1; c < 200; c++) {
		struct pkt o = v4(IP(203, 0, 113, c), (uint16_t)(1024 + c * 7), IP(198, 51, 100, 5), 25, 5, 6);
		struct pkt r = v4(IP(198, 51, 100, 5), 25, IP(203, 0, 113, c), (uint16_t)(1024 + c * 7), 5, 6);
		assert_int_equal(h(&o), h(&c2s));
		assert_int_equal(h(&r), h(&c2s));
	}
	/* Another port of the same host is another server. */
	struct pkt sub = v4(IP(192, 0, 2, 10), 40000, IP(198, 51, 100, 5), 587, 5, 6);
	struct pkt dif = v4(IP(192, 0, 2, 10), 40000, IP(198, 51, 100, 6), 25, 5, 6);
	assert_int_not_equal(h(&sub), h(&c2s));
	assert_int_not_equal(h(&dif), h(&c2s));
}

static void test_servers_spread(void **state)
{
	(void)state;
	for (unsigned members = 2; members <= 16; members *= 2) {
		unsigned count[16] = { 0 };
		for (uint32_t s = 0; s < 256; s++) {
			struct pkt p = v4(IP(192, 0, 2, 77), 51000, IP(198, 51, 100, s), 25, 5, 6);
			count[h(&p) % members]++;
		}
		for (unsigned m = 0; m < members; m++) {
			/* 256 servers: each member gets at least a third of its share */
			assert_true(count[m] >= 256 / members / 3);
		}
	}
}

static void test_ip_options_and_equal_ports(void **state)
{
	(void)state;
	/* IHL 7: the ports sit 8 bytes later; the value must not change. */
	struct pkt plain = v4(IP(192, 0, 2, 1), 50000, IP(198, 51, 100, 9), 465, 5, 6);
	struct pkt opts = v4(IP(192, 0, 2, 1), 50000, IP(198, 51, 100, 9), 465, 7, 6);
	assert_int_equal(h(&plain), h(&opts));
	/* Equal ports: the lower address is the server, both ways. */
	struct pkt a = v4(IP(192, 0, 2, 1), 443, IP(198, 51, 100, 9), 443, 5, 6);
	struct pkt b = v4(IP(198, 51, 100, 9), 443, IP(192, 0, 2, 1), 443, 5, 6);
	assert_int_equal(h(&a), h(&b));
}

static void test_ipv6(void **state)
{
	(void)state;
	struct pkt c2s = v6(0x10, 40000, 0x05, 25, 6);
	struct pkt s2c = v6(0x05, 25, 0x10, 40000, 6);
	struct pkt other = v6(0x11, 40001, 0x05, 25, 6);
	assert_int_equal(h(&c2s), h(&s2c));
	assert_int_equal(h(&c2s), h(&other));
	struct pkt srv2 = v6(0x10, 40000, 0x06, 25, 6);
	assert_int_not_equal(h(&c2s), h(&srv2));
	/* An extension header (hop-by-hop, 0): addresses only, both ways. */
	struct pkt x1 = v6(0x10, 40000, 0x05, 25, 0);
	struct pkt x2 = v6(0x05, 25, 0x10, 40000, 0);
	assert_int_equal(h(&x1), h(&x2));
}

static void test_not_tcp_and_fragments(void **state)
{
	(void)state;
	/* UDP (a GTP-U tunnel, say): the address pair, the same both ways. */
	struct pkt u1 = v4(IP(192, 0, 2, 1), 2152, IP(198, 51, 100, 9), 2152, 5, 17);
	struct pkt u2 = v4(IP(198, 51, 100, 9), 2152, IP(192, 0, 2, 1), 2152, 5, 17);
	assert_int_equal(h(&u1), h(&u2));
	/* A later fragment has no ports: the address pair too. */
	struct pkt f1 = v4(IP(192, 0, 2, 1), 0x1111, IP(198, 51, 100, 9), 0x2222, 5, 6);
	f1.net[6] = 0x00;
	f1.net[7] = 0xb9;           /* offset 185 * 8 */
	struct pkt f2 = v4(IP(198, 51, 100, 9), 0x3333, IP(192, 0, 2, 1), 0x4444, 5, 6);
	f2.net[7] = 0xb9;
	assert_int_equal(h(&f1), h(&f2));
	assert_int_equal(h(&f1), h(&u1));
	/* ARP and anything else: member 0. */
	struct pkt arp = u1;
	arp.proto = 0x0806;
	assert_int_equal(h(&arp), 0);
}

static void test_truncated(void **state)
{
	(void)state;
	/* Every cut of an IPv4 and an IPv6 TCP packet: a value, no read outside. */
	struct pkt full4 = v4(IP(192, 0, 2, 1), 50000, IP(198, 51, 100, 9), 25, 15, 6);
	struct pkt full6 = v6(0x10, 40000, 0x05, 25, 6);
	for (uint32_t len = 0; len <= full4.len; len++) {
		struct pkt p = full4;
		p.len = len;
		(void)h(&p);
	}
	for (uint32_t len = 0; len <= full6.len; len++) {
		struct pkt p = full6;
		p.len = len;
		(void)h(&p);
	}
	struct pkt p = full4;
	p.len = 20;           /* header only: the port loads fail, the program gives 0 */
	assert_int_equal(h(&p), 0);
}

static void test_program_shape(void **state)
{
	(void)state;
	struct sock_filter small[8];
	assert_int_equal(sw_fanout_prog(small, 8), 0); /* too small: refused, not cut */
	assert_true(prog_n <= BPF_MAXINSNS);
	/* Every jump lands inside the program; the last instruction returns. */
	for (size_t i = 0; i < prog_n; i++) {
		if (BPF_CLASS(prog[i].code) != BPF_JMP)
			continue;
		if (BPF_OP(prog[i].code) == BPF_JA)
			assert_true(i + 1 + prog[i].k < prog_n);
		else
			assert_true(i + 1 + prog[i].jt < prog_n && i + 1 + prog[i].jf < prog_n);
	}
	assert_int_equal(BPF_CLASS(prog[prog_n - 1].code), BPF_RET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_directions_and_all_clients),
		cmocka_unit_test(test_servers_spread),
		cmocka_unit_test(test_ip_options_and_equal_ports),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_not_tcp_and_fragments),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_program_shape),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
