/*
 * fanout.c - the classic BPF program that spreads one interface's packets
 * over the sockets of a PACKET_FANOUT group (see fanout.h).
 *
 * The kernel runs a PACKET_FANOUT_CBPF program once per packet, before any
 * socket filter, and sends the packet to member (return value % members)
 * (packet(7); net/packet/af_packet.c, fanout_demux_bpf).  The program here
 * returns a hash of the packet's server endpoint:
 *
 *   TCP over IPv4, or over IPv6 without extension headers, not a later
 *   fragment: the endpoint with the lower port, ties broken by the lower
 *   address, hashed as address ^ port (an IPv6 address folded to 32 bits by
 *   xor);
 *   any other IPv4/IPv6 packet: the two addresses xor-ed (both directions
 *   agree);
 *   anything else (ARP, the inner tag of QinQ): 0.
 *
 * Both directions of a connection and every connection to one server
 * reach the same member, which the detector's in-run memory needs (see
 * alert/workers.c).  The kernel's PACKET_FANOUT_HASH is symmetric per
 * 5-tuple and would spread a server's sessions over the members.
 *
 * Offsets are relative to the network header (SKF_NET_OFF), never to the
 * frame: the program sees skb->data at the network header on receive and
 * at the link header on transmit, so absolute offsets would read other
 * bytes for the two directions.  The kernel strips one 802.1Q tag before
 * packet sockets see a packet (skb_vlan_untag), and skb->protocol
 * (SKF_AD_PROTOCOL) is then the inner EtherType.
 *
 * The program is written with symbolic labels and the forward jumps are
 * resolved at the end (classic BPF jumps are forward and relative).
 */
#include <string.h>

#include <linux/filter.h>

#include "fanout.h"

#define NET(off) ((uint32_t)(SKF_NET_OFF + (off)))

enum { M_SPORT = 0, M_DPORT = 1, M_SADDR = 2, M_DADDR = 3 };  /* scratch cells */

enum label {
	L_NONE = 0, L_V4, L_V4_PAIR, L_V6, L_V6_PAIR, L_CHOOSE, L_TIE, L_SRV_SRC, L_SRV_DST,
	L_MIX, L__COUNT
};

struct prog {
	struct sock_filter *ins;
	size_t n, max;
	uint8_t jt[SW_FANOUT_PROG_MAX], jf[SW_FANOUT_PROG_MAX]; /* labels, resolved at the end */
	uint8_t ja[SW_FANOUT_PROG_MAX];
	size_t at[L__COUNT];
	bool bad;
};

static void emit_j(struct prog *p, uint16_t code, enum label jt, enum label jf, uint32_t k)
{
	if (p->n >= p->max || p->n >= SW_FANOUT_PROG_MAX) {
		p->bad = true;
		return;
	}
	p->ins[p->n] = (struct sock_filter){ code, 0, 0, k };
	p->jt[p->n] = (uint8_t)jt;
	p->jf[p->n] = (uint8_t)jf;
	p->ja[p->n] = L_NONE;
	p->n++;
}

static void emit(struct prog *p, uint16_t code, uint32_t k)
{
	emit_j(p, code, L_NONE, L_NONE, k);
}

static void jump(struct prog *p, enum label to)
{
	emit(p, BPF_JMP | BPF_JA, 0);
	if (!p->bad)
		p->ja[p->n - 1] = (uint8_t)to;
}

static void label(struct prog *p, enum label l)
{
	p->at[l] = p->n;
}

/* A = the 32-bit xor of the 16 bytes at network offset off; X is clobbered. */
static void fold_v6(struct prog *p, uint32_t off)
{
	emit(p, BPF_LD | BPF_W | BPF_ABS, NET(off));
	for (uint32_t i = 4; i < 16; i += 4) {
		emit(p, BPF_MISC | BPF_TAX, 0);
		emit(p, BPF_LD | BPF_W | BPF_ABS, NET(off + i));
		emit(p, BPF_ALU | BPF_XOR | BPF_X, 0);
	}
}

/* A = M[a], X = M[x]. */
static void load_cells(struct prog *p, uint32_t a, uint32_t x)
{
	emit(p, BPF_LD | BPF_MEM, x);
	emit(p, BPF_MISC | BPF_TAX, 0);
	emit(p, BPF_LD | BPF_MEM, a);
}

/* Turn label references into relative offsets; false if one points backwards or too far. */
static bool resolve(struct prog *p)
{
	for (size_t i = 0; i < p->n; i++) {
		uint8_t l[3] = { p->jt[i], p->jf[i], p->ja[i] };
		for (int w = 0; w < 3; w++) {
			if (l[w] == L_NONE)
				continue;
			size_t to = p->at[l[w]];
			if (to <= i || to > p->n || (w < 2 && to - i - 1 > 255))
				return false;
			uint32_t rel = (uint32_t)(to - i - 1);
			if (w == 0)
				p->ins[i].jt = (uint8_t)rel;
			else if (w == 1)
				p->ins[i].jf = (uint8_t)rel;
			else
				p->ins[i].k = rel;
		}
	}
	return true;
}

size_t sw_fanout_prog(struct sock_filter *ins, size_t max)
{
	struct prog p;
	memset(&p, 0, sizeof(p));
	p.ins = ins;
	p.max = max;

	emit(&p, BPF_LD | BPF_H | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL));
	emit_j(&p, BPF_JMP | BPF_JEQ | BPF_K, L_V4, L_NONE, 0x0800);
	emit_j(&p, BPF_JMP | BPF_JEQ | BPF_K, L_V6, L_NONE, 0x86dd);
	emit(&p, BPF_RET | BPF_K, 0);

	/* IPv4: TCP, and no fragment offset (a first fragment carries the ports) */
	label(&p, L_V4);
	emit(&p, BPF_LD | BPF_B | BPF_ABS, NET(9));
	emit_j(&p, BPF_JMP | BPF_JEQ | BPF_K, L_NONE, L_V4_PAIR, 6);
	emit(&p, BPF_LD | BPF_H | BPF_ABS, NET(6));
	emit_j(&p, BPF_JMP | BPF_JSET | BPF_K, L_V4_PAIR, L_NONE, 0x1fff);
	emit(&p, BPF_LDX | BPF_B | BPF_MSH, NET(0));          /* X = IHL * 4 */
	emit(&p, BPF_LD | BPF_H | BPF_IND, NET(0));
	emit(&p, BPF_ST, M_SPORT);
	emit(&p, BPF_LD | BPF_H | BPF_IND, NET(2));
	emit(&p, BPF_ST, M_DPORT);
	emit(&p, BPF_LD | BPF_W | BPF_ABS, NET(12));
	emit(&p, BPF_ST, M_SADDR);
	emit(&p, BPF_LD | BPF_W | BPF_ABS, NET(16));
	emit(&p, BPF_ST, M_DADDR);
	jump(&p, L_CHOOSE);

	label(&p, L_V4_PAIR);
	emit(&p, BPF_LD | BPF_W | BPF_ABS, NET(12));
	emit(&p, BPF_MISC | BPF_TAX, 0);
	emit(&p, BPF_LD | BPF_W | BPF_ABS, NET(16));
	emit(&p, BPF_ALU | BPF_XOR | BPF_X, 0);
	jump(&p, L_MIX);

	/* IPv6: next header TCP (extension headers are not walked) */
	label(&p, L_V6);
	emit(&p, BPF_LD | BPF_B | BPF_ABS, NET(6));
	emit_j(&p, BPF_JMP | BPF_JEQ | BPF_K, L_NONE, L_V6_PAIR, 6);
	emit(&p, BPF_LD | BPF_H | BPF_ABS, NET(40));
	emit(&p, BPF_ST, M_SPORT);
	emit(&p, BPF_LD | BPF_H | BPF_ABS, NET(42));
	emit(&p, BPF_ST, M_DPORT);
	fold_v6(&p, 8);
	emit(&p, BPF_ST, M_SADDR);
	fold_v6(&p, 24);
	emit(&p, BPF_ST, M_DADDR);
	jump(&p, L_CHOOSE);

	label(&p, L_V6_PAIR);
	fold_v6(&p, 8);
	emit(&p, BPF_ST, M_SADDR);
	fold_v6(&p, 24);
	emit(&p, BPF_MISC | BPF_TAX, 0);
	emit(&p, BPF_LD | BPF_MEM, M_SADDR);
	emit(&p, BPF_ALU | BPF_XOR | BPF_X, 0);
	jump(&p, L_MIX);

	/* The lower port is the server's; equal ports: the lower address. */
	label(&p, L_CHOOSE);
	load_cells(&p, M_SPORT, M_DPORT);
	emit_j(&p, BPF_JMP | BPF_JGT | BPF_X, L_SRV_DST, L_NONE, 0);   /* sport > dport */
	emit_j(&p, BPF_JMP | BPF_JEQ | BPF_X, L_TIE, L_SRV_SRC, 0);    /* sport < dport: src */

	label(&p, L_TIE);
	load_cells(&p, M_SADDR, M_DADDR);
	emit_j(&p, BPF_JMP | BPF_JGT | BPF_X, L_SRV_DST, L_SRV_SRC, 0); /* saddr > daddr: dst */

	/* key = address ^ port of the server's side */
	label(&p, L_SRV_SRC);
	load_cells(&p, M_SPORT, M_SADDR);
	emit(&p, BPF_ALU | BPF_XOR | BPF_X, 0);
	jump(&p, L_MIX);

	label(&p, L_SRV_DST);
	load_cells(&p, M_DPORT, M_DADDR);
	emit(&p, BPF_ALU | BPF_XOR | BPF_X, 0);

	/* A = key: murmur3's 32-bit finalizer, so the low bits (% members) mix. */
	label(&p, L_MIX);
	emit(&p, BPF_MISC | BPF_TAX, 0);
	emit(&p, BPF_ALU | BPF_RSH | BPF_K, 16);
	emit(&p, BPF_ALU | BPF_XOR | BPF_X, 0);
	emit(&p, BPF_ALU | BPF_MUL | BPF_K, 0x85ebca6bu);
	emit(&p, BPF_MISC | BPF_TAX, 0);
	emit(&p, BPF_ALU | BPF_RSH | BPF_K, 13);
	emit(&p, BPF_ALU | BPF_XOR | BPF_X, 0);
	emit(&p, BPF_ALU | BPF_MUL | BPF_K, 0xc2b2ae35u);
	emit(&p, BPF_MISC | BPF_TAX, 0);
	emit(&p, BPF_ALU | BPF_RSH | BPF_K, 16);
	emit(&p, BPF_ALU | BPF_XOR | BPF_X, 0);
	emit(&p, BPF_RET | BPF_A, 0);

	if (p.bad || !resolve(&p))
		return 0;
	return p.n;
}
