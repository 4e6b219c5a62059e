/*
 * sw_alert.h - the alert stage: turns findings, flow summaries and counters
 * into EVE-shaped JSON lines (DESIGN.md "Event output"), chains and signs
 * them, and writes them to their sinks.  Also the Community ID and the
 * keygen / verify commands.
 *
 * alert/ never reaches into flow state: it sees only what sw_dissect.h
 * hands it.
 */
#ifndef SW_ALERT_H
#define SW_ALERT_H

#include <stdio.h>

#include "sw_dissect.h"

/* Community ID v1 ("1:" + base64(SHA-1)), written NUL-terminated into out. */
#define SW_COMMUNITY_ID_LEN 32 /* "1:" + 28 base64 chars + NUL, rounded up */
void sw_community_id(uint16_t seed, uint8_t ip_version, uint8_t proto,
		     const uint8_t *saddr, uint16_t sport,
		     const uint8_t *daddr, uint16_t dport,
		     char out[SW_COMMUNITY_ID_LEN]);

/* RFC 3339 UTC with microseconds and Z: "2026-11-27T07:18:03.123456Z" (28 bytes with NUL). */
void sw_format_time(uint64_t ts_ns, char out[32]);

struct sw_alert_opts {
	const char *host;           /* "host" member; NULL: gethostname() */
	const char *out_path;       /* NULL or "-": stdout */
	bool append;                /* append to out_path, continuing its chain */
	const char *key_path;       /* secret key file; NULL: the state directory's key */
	bool no_sign;               /* for tests and benchmarks only: chain without signatures */
	uint32_t checkpoint_lines;  /* signed checkpoint at least every N unsigned lines */
	uint64_t checkpoint_ns;     /* ... and every T of packet time */
	uint16_t community_seed;
	bool flow_events;           /* write flow lines */
	int syslog_facility;        /* -1: no syslog copy */
};

void sw_alert_opts_default(struct sw_alert_opts *o);

struct sw_alert;

/*
 * Opens the output and the key, writes the chain start record.
 * NULL with a one-line message in err on failure (nothing written).
 */
struct sw_alert *sw_alert_open(const struct sw_alert_opts *o, char *err, size_t errlen);

/* The current input file name for pcap_filename (NULL in live mode). */
void sw_alert_set_pcap_filename(struct sw_alert *a, const char *name);

/* These match struct sw_sink: pass a as ctx. */
void sw_alert_finding(void *a, const struct sw_finding *f);
void sw_alert_flow(void *a, const struct sw_flow_info *fi);

/* A stats line at packet time ts_ns. */
void sw_alert_stats(struct sw_alert *a, uint64_t ts_ns,
		    const struct sw_capture_stats *cs, const struct sw_dissect_stats *ds);

/*
 * Periodic call (live mode, e.g. once a second with the packet clock or
 * the wall clock when idle): writes the signed checkpoint that is due
 * (checkpoint_ns after the last signed line with unsigned lines pending)
 * and flushes buffered lines.  Added by the alert stage.
 */
void sw_alert_tick(struct sw_alert *a, uint64_t now_ns);

/* SIGHUP: checkpoint and close the file, reopen it, chain the new file on. */
int sw_alert_reopen(struct sw_alert *a, char *err, size_t errlen);

/* Writes the stop record (ts_ns = last packet time) and closes. */
void sw_alert_close(struct sw_alert *a, uint64_t ts_ns);

/* Subcommands (argv[0] is the subcommand name).  Exit status as documented. */
int sw_cmd_keygen(int argc, char **argv);
int sw_cmd_verify(int argc, char **argv);

#endif
