/*
 * fanout.h - the PACKET_FANOUT_CBPF program of live capture with several
 * workers (private to capture/; the unit test runs it in a small
 * interpreter).
 */
#ifndef SW_FANOUT_H
#define SW_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/filter.h>

#define SW_FANOUT_PROG_MAX 128

/*
 * Write the program into ins[0..max): it returns a hash of the packet's
 * server endpoint (fanout.c says which), equal for both directions of a
 * connection and for every connection to one server.  Returns the number
 * of instructions, 0 if max is too small.
 */
size_t sw_fanout_prog(struct sock_filter *ins, size_t max);

#endif
