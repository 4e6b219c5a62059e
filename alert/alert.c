/*
 * alert.c - the event writer: findings, flow summaries and counters become
 * EVE-shaped JSON lines (DESIGN.md "Event output"), each chained to the
 * previous one and, when it matters, signed (line format: chain.h).
 *
 * Signing policy, chosen by measurement (see the report in the tests):
 *   - alert lines and chain lines (start, checkpoint, reopen, stop) carry
 *     "sig" and are flushed to the output at once;
 *   - flow and stats lines carry seq/session/prev/kid but no "sig"; they
 *     are covered by the next signed line through the hash chain.  A
 *     signed checkpoint follows at the latest after checkpoint_lines
 *     unsigned lines or checkpoint_ns of packet time, and at stop.
 *
 * Output: one fd opened O_APPEND.  Unsigned lines collect in a userspace
 * buffer written with one write() when full, at the next signed line, at
 * a checkpoint and at stop; a signed line leaves with its buffer in one
 * write(), so a crash loses at most unsigned lines not yet checkpointed
 * and leaves at most one torn line.
 *
 * Write failures (disk full, EFBIG, EIO, a closed pipe) lose nothing that
 * is already in the chain: the bytes the fd did not take stay in the
 * buffer, a partial write included, and are written on the next attempt,
 * so a torn line is completed once space is back.  A new line that does
 * not fit beside them is not written and does not enter the chain (no
 * seq, no prev), so the file still verifies; it is counted in
 * output.lines_lost of the stats lines and reported on stderr, and an
 * alert still reaches syslog when that copy is on.  SIGHUP moves to the
 * new file only once the old one has taken every line.
 *
 * Closed files: when the key signs and the output is a regular file, the
 * writer keeps a BLAKE2b-512 of every byte the file holds (the existing
 * content of an appended file is read once at open) and, when the file is
 * closed (stop, or the old file at SIGHUP), writes FILE.minisig in
 * minisign's format (minisig.h) with the trusted comment
 *   file=NAME session=ID first_seq=A last_seq=B head=BASE64
 * (head = the chain hash of the file's last line).  On by default: it
 * costs one hash pass over bytes already in cache and two signatures per
 * file, needs no option, and lets anyone check an archived file with
 * stock minisign.  A .minisig beside the output is removed when the file
 * is opened for writing (it would no longer match) and written afresh,
 * covering the whole file, at close.  None is written when a byte could
 * not be written or synced: a signature would vouch for a torn file.
 *
 * Time is packet time.  The start record is written with the first line
 * (or at close), carrying that line's time, so a capture file gives the
 * same lines every run apart from session, key and signatures.
 *
 * Appending: the last complete line of the existing file gives seq and
 * prev.  A torn last line (no newline) is ended with a newline and the
 * start record says "torn_line":true; verify skips exactly that line.
 *
 * Threads.  The calling (packet) thread only formats: an event's body,
 * from `{` to its last member, is built in the producer's line buffer and
 * copied into a bounded byte ring (outq.h, preallocated; the producer
 * waits when it is full and counts the wait, nothing is dropped).  One
 * output thread, started at open, takes the entries in order and does
 * everything that follows: the start record, seq/session/prev/kid, the
 * BLAKE2b chain hash, the Ed25519 signature, the buffer and write(), the
 * syslog copy, checkpoints, reopen and stop records, the file hash and
 * the .minisig.  The file gets exactly the bytes a writer on the packet
 * thread would write.  Who owns what:
 *   - producer (struct sw_alert_prod): pcap_filename, the address text
 *     cache, strings_cut, members cut while formatting, queue_waits;
 *   - output thread: the chain, the fd and its buffer, lines, lines_lost,
 *     write_errors, last_ts (the latest time of a line it handled).
 * A stats line is the one event both fill: the producer formats the
 * capture and dissect counters and hands its own counters in the entry;
 * the output thread appends the "output" object when it takes the entry,
 * so lines / write_errors / lines_lost count exactly the lines before it
 * in the chain, however far the writer lags behind the packets.
 * queue_waits (how often a producer found the queue full and waited) is
 * written in live mode only (no pcap_filename), and only when not zero:
 * there a wait holds up the capture and shows as kernel drops.  Reading a
 * file, a wait costs nothing but time, and a count that depends on thread
 * timing would break "same capture, same lines"; it is said on stderr at
 * close instead.
 *
 * Order: tick (checkpoint by time, flush) is queued like a line and the
 * caller goes on.  Reopen (SIGHUP) and close are queued too and the
 * caller waits for them: every line queued before a SIGHUP goes to the
 * old file before the reopen record, every later one to the new file.
 * With several producers (--workers) lines enter the ring in the order
 * their producers commit them.
 */
#define _GNU_SOURCE /* memrchr */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <libgen.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <sodium.h>

#include "b64.h"
#include "chain.h"
#include "json.h"
#include "keys.h"
#include "minisig.h"
#include "outq.h"
#include "producer.h"
#include "sw_alert.h"

#define LINE_RESERVE 512      /* chain members + closers, always kept free */
#ifndef OBUF_MAX
#define OBUF_MAX 65536        /* unsigned lines buffered before one write() */
#endif
#define HOST_MAX 255
#define DETAIL_MAX 512        /* free text is cut to this many bytes */
#define RULE_MAX 256
#define PCAP_NAME_MAX 1024
#define DEFAULT_CHECKPOINT_LINES 1000
#define DEFAULT_CHECKPOINT_NS (60ull * 1000000000ull)
#ifndef OUTQ_BYTES
#define OUTQ_BYTES (2u << 20)  /* the ring between producers and the output thread */
#endif

_Static_assert(OBUF_MAX >= SW_LINE_MAX, "the output buffer must hold the longest line");

/*
 * The text of the last flow's addresses and Community ID: the alerts and
 * the flow line of one flow come one after another.
 */
struct tuple_text {
	bool valid;
	uint8_t ip_version;
	uint8_t client_ip[16], server_ip[16];
	uint16_t client_port, server_port;
	char src[INET6_ADDRSTRLEN], dest[INET6_ADDRSTRLEN];
	char cid[SW_COMMUNITY_ID_LEN];
};

/*
 * One formatting thread's state (producer.h).  Written by that thread
 * only; the counters are atomic (relaxed) because a stats line sums them
 * from another producer's thread.
 */
struct sw_alert_prod {
	struct sw_alert *a;
	struct sw_alert_prod *next;   /* a->prods, under a->q.plock */
	char *pcap_filename;
	struct tuple_text tt;
	_Atomic uint64_t members_cut, strings_cut, queue_waits;
	char line[SW_LINE_MAX];
};

/* A producer's counter: one writer, readers anywhere. */
static inline void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static inline uint64_t counted(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

enum ev_kind { EV_ALERT = 1, EV_FLOW, EV_STATS, EV_TICK, EV_REOPEN, EV_SYNC, EV_STOP };

/* A queue entry: this header, then body_len bytes of line body. */
struct ev {
	uint8_t kind;                 /* enum ev_kind */
	bool stats_open;              /* EV_STATS: the "stats" object is open, "output" goes in it */
	uint16_t pad;
	int32_t prio;                 /* EV_ALERT: syslog priority */
	uint32_t body_len;
	uint32_t pad2;
	uint64_t ts;                  /* the line's time; EV_TICK, EV_STOP: the time given */
	uint64_t members_cut, strings_cut, queue_waits; /* EV_STATS: the producers' totals */
	uint64_t id;                  /* control requests: answered in ctl_done */
};

_Static_assert(OUTQ_BYTES / 4 >= sizeof(struct ev) + SW_LINE_MAX,
	       "the longest entry is within SW_OUTQ_ENTRY_MAX");

struct sw_alert {
	struct sw_alert_opts o;
	int syslog_prio;              /* priority of the next line's syslog copy */
	char host[HOST_MAX + 1];
	char *out_path;               /* NULL: stdout */
	int fd;
	struct sw_key *key;           /* NULL when no_sign */
	char kid[SW_KID_HEX_LEN];
	char pubkey_b64[SW_PUBKEY_B64_LEN];
	char session[SW_SESSION_HEX_LEN];

	uint64_t seq;                 /* seq of the next line */
	uint8_t prev[SW_HASH_LEN];    /* hash of the last line written */
	bool started;                 /* start record written in this file */
	bool continuing;              /* prev links to an earlier line */
	bool torn_tail;               /* the appended file ended in a torn line */
	uint64_t lines_since_cp;      /* lines since the last chain record */
	uint64_t unsigned_pending;    /* unsigned lines since the last signed line */
	uint64_t last_signed_ts;
	uint64_t last_ts;             /* latest packet time seen */

	bool torn_nl;                 /* ... and its newline is written */

	/* The current output file and its .minisig (minisig.h). */
	bool file_reg;                /* a regular file: dev/ino are valid */
	dev_t file_dev;
	ino_t file_ino;
	crypto_generichash_state *fh; /* BLAKE2b-512 of the file's bytes; NULL: no .minisig */
	bool file_has_first;
	uint64_t file_first_seq;

	uint64_t lines;
	uint64_t members_cut_out;     /* members cut by the output thread (a stats line's "output") */
	uint64_t write_errors;        /* write() calls that failed */
	uint64_t lines_lost;          /* lines never written (not in the chain, or unwritten at close) */
	bool write_failing;           /* the last write failed; said so on stderr */

	/* Producers and the queue. */
	struct sw_alert_prod *p0;     /* the public calls' producer */
	struct sw_alert_prod *prods;  /* every producer; under q.plock */
	uint64_t gone_members_cut, gone_strings_cut, gone_waits; /* of freed producers; under q.plock */
	struct sw_outq q;
	pthread_t th;
	bool th_running;

	/* Control requests (reopen, sync, close): one at a time (rmu); answers under cmu. */
	pthread_mutex_t rmu;
	pthread_mutex_t cmu;
	pthread_cond_t cdone;
	uint64_t ctl_next;            /* requester: id of the last request */
	uint64_t ctl_done;            /* output thread: id of the last one handled */
	int ctl_rc;
	char ctl_err[512];

	size_t olen;
	char obuf[OBUF_MAX];
	/* SW_CHAIN_CONTEXT immediately followed by the line being built. */
	char msg[SW_CHAIN_CONTEXT_LEN + SW_LINE_MAX];
};

/* ---- time ----------------------------------------------------------------- */

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

/* Writes v as exactly w decimal digits. */
static char *put_digits(char *p, unsigned v, int w)
{
	for (int i = w - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + w;
}

void sw_format_time(uint64_t ts_ns, char out[32])
{
	uint64_t secs = ts_ns / 1000000000ull;
	unsigned usec = (unsigned)((ts_ns % 1000000000ull) / 1000); /* rounds down */
	int64_t y;
	unsigned mo, d, sod = (unsigned)(secs % 86400);
	civil_from_days((int64_t)(secs / 86400), &y, &mo, &d);
	/* uint64 nanoseconds end in the year 2554: always four digits. */
	char *p = put_digits(out, (unsigned)y, 4);
	*p++ = '-';
	p = put_digits(p, mo, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = 'T';
	p = put_digits(p, sod / 3600, 2);
	*p++ = ':';
	p = put_digits(p, sod / 60 % 60, 2);
	*p++ = ':';
	p = put_digits(p, sod % 60, 2);
	*p++ = '.';
	p = put_digits(p, usec, 6);
	*p++ = 'Z';
	*p = '\0';
}

/* ---- options -------------------------------------------------------------- */

void sw_alert_opts_default(struct sw_alert_opts *o)
{
	memset(o, 0, sizeof *o);
	o->checkpoint_lines = DEFAULT_CHECKPOINT_LINES;
	o->checkpoint_ns = DEFAULT_CHECKPOINT_NS;
	o->community_seed = 0;
	o->flow_events = true;
	o->syslog_facility = -1;
}

/* ---- output --------------------------------------------------------------- */

static const char *out_name(const struct sw_alert *a)
{
	return a->out_path ? a->out_path : "stdout";
}

/*
 * Writes as much of the buffer as the fd takes (EINTR and partial writes
 * continue); what it does not take stays at the front of the buffer for
 * the next attempt.  Bytes that reached the file go into its hash.
 * 0 when the buffer is empty, -1 after a failed write().
 */
static int out_flush(struct sw_alert *a)
{
	size_t done = 0;
	int e = 0;
	while (done < a->olen) {
		ssize_t w = write(a->fd, a->obuf + done, a->olen - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = w < 0 ? errno : EIO;
			break;
		}
		if (a->fh)
			crypto_generichash_update(a->fh, (const unsigned char *)a->obuf + done, (size_t)w);
		done += (size_t)w;
	}
	if (done > 0) {
		memmove(a->obuf, a->obuf + done, a->olen - done);
		a->olen -= done;
	}
	if (e) {
		a->write_errors++;
		if (!a->write_failing)
			fprintf(stderr, "stripwatch: writing %s: %s; %zu bytes kept for a retry, "
					"lines that do not fit are lost and counted\n",
				out_name(a), strerror(e), a->olen);
		a->write_failing = true;
		return -1;
	}
	if (a->write_failing)
		fprintf(stderr, "stripwatch: writing %s works again (%llu lines lost so far)\n",
			out_name(a), (unsigned long long)a->lines_lost);
	a->write_failing = false;
	return 0;
}

/* Queues a line (flushing now when asked).  False: no room, the line is not written. */
static bool out_line(struct sw_alert *a, const char *s, size_t n, bool now)
{
	if (n > sizeof a->obuf - a->olen)
		out_flush(a);
	if (n > sizeof a->obuf - a->olen)
		return false;
	memcpy(a->obuf + a->olen, s, n);
	a->olen += n;
	if (now)
		out_flush(a);
	return true;
}

/* ---- line assembly -------------------------------------------------------- */

static char *line_buf(struct sw_alert *a)
{
	return a->msg + SW_CHAIN_CONTEXT_LEN;
}

/* The common members, into buf (SW_LINE_MAX bytes): the same on both threads. */
static void begin_common(const struct sw_alert *a, struct jb *j, char *buf, uint64_t ts, const char *type)
{
	char t[32];
	jb_init(j, buf, SW_LINE_MAX - 1 /* newline */, LINE_RESERVE);
	sw_format_time(ts, t);
	jb_raw(j, "{", 1);
	jb_m_str(j, "timestamp", t);
	jb_m_str(j, "event_type", type);
	jb_m_str(j, "host", a->host);
}

/* Output thread: a line of its own (chain records). */
static void begin_line(struct sw_alert *a, struct jb *j, uint64_t ts, const char *type)
{
	if (ts > a->last_ts)
		a->last_ts = ts;
	begin_common(a, j, line_buf(a), ts, type);
}

/* Producer: an event line in its own buffer. */
static void begin_event(struct sw_alert_prod *p, struct jb *j, uint64_t ts, const char *type)
{
	begin_common(p->a, j, p->line, ts, type);
}

static void put_pcap_filename(struct sw_alert_prod *p, struct jb *j)
{
	if (p->pcap_filename)
		jb_m_str(j, "pcap_filename", p->pcap_filename);
}

static void hex_encode(char *out, const uint8_t *b, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool write_start(struct sw_alert *a, uint64_t ts);

/*
 * Appends the chain members (and the signature when sign), writes the line,
 * moves the chain on.  Lines always fit: the reserve holds the members.
 * False when the output could not take the line: it is counted as lost
 * and the chain stays where it was.
 */
static bool finish_line(struct sw_alert *a, struct jb *j, bool sign, bool now)
{
	char prev64[SW_HASH_B64_LEN];
	a->members_cut_out += j->cut;
	j->limit = j->cap; /* the reserve is for exactly this */
	j->over = false;
	sw_b64_encode(prev64, a->prev, sizeof a->prev);
	jb_key(j, "seq");
	jb_u64(j, a->seq);
	jb_m_str(j, "session", a->session);
	jb_m_str(j, "prev", prev64);
	jb_m_str(j, "kid", a->kid);
	if (sign && a->key) {
		uint8_t sig[SW_SIG_LEN];
		char sig64[SW_SIG_B64_LEN];
		crypto_sign_detached(sig, NULL, (const unsigned char *)a->msg,
				     SW_CHAIN_CONTEXT_LEN + j->len, a->key->sk);
		sw_b64_encode(sig64, sig, sizeof sig);
		jb_raw(j, ",\"sig\":\"", 8);
		jb_raw(j, sig64, 88);
		jb_raw(j, "\"", 1);
	}
	jb_close(j, '}');
	char *line = line_buf(a);
	uint8_t hash[SW_HASH_LEN];
	sw_line_hash(hash, line, j->len);
	line[j->len] = '\n'; /* begin_line kept one byte for it */
	if (!out_line(a, line, j->len + 1, now)) {
		a->lines_lost++;
		return false;
	}
	if (a->o.syslog_facility >= 0)
		syslog(a->syslog_prio, "%.*s", (int)j->len, line);
	a->syslog_prio = LOG_INFO;
	memcpy(a->prev, hash, sizeof hash);
	if (!a->file_has_first) {
		a->file_first_seq = a->seq;
		a->file_has_first = true;
	}
	a->seq++;
	a->lines++;
	a->lines_since_cp++;
	if (sign) { /* with no_sign too: the line stands where a signed one would */
		a->unsigned_pending = 0;
	} else {
		a->unsigned_pending++;
	}
	return true;
}

static void write_chain(struct sw_alert *a, uint64_t ts, const char *kind)
{
	struct jb j;
	char head64[SW_HASH_B64_LEN];
	bool start = strcmp(kind, "start") == 0;

	sw_b64_encode(head64, a->prev, sizeof a->prev);
	begin_line(a, &j, ts, "chain");
	if (jb_open(&j, "chain", '{')) {
		jb_m_str(&j, "kind", kind);
		if (start) {
			if (a->key)
				jb_m_str(&j, "public_key", a->pubkey_b64);
			if (a->continuing)
				jb_m_str(&j, "prev_file_head", head64);
			if (a->torn_tail)
				jb_m_bool(&j, "torn_line", true);
		}
		jb_m_u64(&j, "lines", start ? 0 : a->lines_since_cp);
		jb_m_str(&j, "head", head64);
		jb_close(&j, '}');
	}
	if (!finish_line(a, &j, true, true))
		return;
	a->lines_since_cp = 0;
	a->last_signed_ts = ts;
	if (start)
		a->started = true;
}

/*
 * Lazily, before the first line of a file: ends a torn tail first.  False
 * when the output could not take it; the caller then drops its line too
 * (counted), so no line goes out ahead of its file's start record.
 */
static bool write_start(struct sw_alert *a, uint64_t ts)
{
	if (a->started)
		return true;
	if (a->torn_tail && !a->torn_nl) {
		if (!out_line(a, "\n", 1, false))
			return false;
		a->torn_nl = true;
	}
	write_chain(a, ts, "start");
	if (a->started)
		a->torn_tail = false;
	return a->started;
}

/* write_start for an event line: false (and the event counted lost) if it failed. */
static bool start_event(struct sw_alert *a, uint64_t ts)
{
	if (write_start(a, ts))
		return true;
	a->lines_lost++;
	return false;
}

/* After an unsigned line: checkpoint when N lines or T of packet time are pending. */
static void maybe_checkpoint(struct sw_alert *a, uint64_t ts)
{
	if (a->unsigned_pending == 0)
		return;
	if (a->unsigned_pending >= a->o.checkpoint_lines ||
	    (ts > a->last_signed_ts && ts - a->last_signed_ts >= a->o.checkpoint_ns))
		write_chain(a, ts, "checkpoint");
}

/* ---- context objects ------------------------------------------------------ */

static size_t cut_len(struct sw_alert_prod *a, size_t n, size_t max)
{
	if (n > max) {
		count(&a->strings_cut, 1);
		return max;
	}
	return n;
}

static void put_str_bounded(struct sw_alert_prod *a, struct jb *j, const char *name, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	jb_m_strn(j, name, (const uint8_t *)s, cut_len(a, n, max));
}

/* A protocol line without its line ending. */
static size_t strip_eol(const uint8_t *b, size_t n)
{
	if (n > 0 && b[n - 1] == '\n')
		n--;
	if (n > 0 && b[n - 1] == '\r')
		n--;
	return n;
}

/* Dotted decimal, as inet_ntop(AF_INET) writes it; out holds 16 bytes. */
static void ipv4_text(const uint8_t ip[4], char *out)
{
	for (int k = 0; k < 4; k++) {
		unsigned v = ip[k];
		if (v >= 100)
			*out++ = (char)('0' + v / 100);
		if (v >= 10)
			*out++ = (char)('0' + v / 10 % 10);
		*out++ = (char)('0' + v % 10);
		*out++ = k < 3 ? '.' : '\0';
	}
}

static void addr_text(uint8_t ip_version, const uint8_t ip[16], char out[INET6_ADDRSTRLEN])
{
	if (ip_version != 6)
		ipv4_text(ip, out);
	else if (!inet_ntop(AF_INET6, ip, out, INET6_ADDRSTRLEN))
		strcpy(out, "?");
}

/* The tuple's text, made again only when the flow is not the last one formatted. */
static const struct tuple_text *tuple_text(struct sw_alert_prod *p, const struct sw_flow_info *fi)
{
	struct tuple_text *t = &p->tt;
	if (t->valid && t->ip_version == fi->ip_version && t->client_port == fi->client_port &&
	    t->server_port == fi->server_port && memcmp(t->client_ip, fi->client_ip, 16) == 0 &&
	    memcmp(t->server_ip, fi->server_ip, 16) == 0)
		return t;
	t->ip_version = fi->ip_version;
	t->client_port = fi->client_port;
	t->server_port = fi->server_port;
	memcpy(t->client_ip, fi->client_ip, 16);
	memcpy(t->server_ip, fi->server_ip, 16);
	addr_text(fi->ip_version, fi->client_ip, t->src);
	addr_text(fi->ip_version, fi->server_ip, t->dest);
	sw_community_id(p->a->o.community_seed, fi->ip_version, 6, fi->client_ip, fi->client_port,
			fi->server_ip, fi->server_port, t->cid);
	t->valid = true;
	return t;
}

static void put_tuple(struct sw_alert_prod *p, struct jb *j, const struct sw_flow_info *fi)
{
	const struct tuple_text *t = tuple_text(p, fi);
	jb_m_str(j, "src_ip", t->src);
	jb_m_u64(j, "src_port", fi->client_port);
	jb_m_str(j, "dest_ip", t->dest);
	jb_m_u64(j, "dest_port", fi->server_port);
	jb_m_str(j, "proto", "TCP");
	const char *ap = sw_app_proto_name(fi->app_proto);
	if (ap)
		jb_m_str(j, "app_proto", ap);
	jb_m_str(j, "community_id", t->cid);
}

static bool is_mail(enum sw_app_proto p)
{
	return p == SW_APP_SMTP || p == SW_APP_IMAP || p == SW_APP_POP3;
}

static void put_tri(struct jb *j, const char *name, enum sw_tri t)
{
	if (t == SW_YES || t == SW_NO)
		jb_m_bool(j, name, t == SW_YES);
}

static void put_starttls(struct sw_alert_prod *a, struct jb *j, const struct sw_flow_info *fi)
{
	const struct sw_starttls_info *st = &fi->starttls;
	size_t rl = strip_eol((const uint8_t *)st->reply, SW_MIN((size_t)st->reply_len, (size_t)SW_REPLY_MAX));
	if (!is_mail(fi->app_proto))
		return;
	if (st->offered == SW_UNSEEN && st->command_sent == SW_UNSEEN && st->upgraded == SW_UNSEEN && rl == 0)
		return;
	if (!jb_open(j, "starttls", '{'))
		return;
	put_tri(j, "offered", st->offered);
	put_tri(j, "command_sent", st->command_sent);
	if (rl > 0)
		jb_m_strn(j, "reply", (const uint8_t *)st->reply, rl);
	put_tri(j, "upgraded", st->upgraded);
	jb_close(j, '}');
}

static const char *alert_level_name(uint8_t level, char buf[8])
{
	if (level == 1)
		return "warning";
	if (level == 2)
		return "fatal";
	snprintf(buf, 8, "%u", level);
	return buf;
}

static void put_tls(struct sw_alert_prod *a, struct jb *j, const struct sw_flow_info *fi, bool flow_line)
{
	const struct sw_tls_info *t = &fi->tls;
	bool ch = t->client_max_version != 0, sh = t->version != 0;
	char vb[24], cb[24];
	if (!ch && !sh && !(flow_line && fi->tls_seen))
		return;
	if (!jb_open(j, "tls", '{'))
		return;
	if (sh)
		jb_m_str(j, "version", sw_tls_version_name(t->version, vb));
	if (ch)
		jb_m_str(j, "client_max_version", sw_tls_version_name(t->client_max_version, vb));
	if (sh) {
		const char *c = t->version == 0x0002 ? sw_ssl2_cipher_name(t->ssl2_cipher, cb)
						     : sw_tls_cipher_name(t->cipher, cb);
		if (c)
			jb_m_str(j, "cipher", c);
	}
	size_t sl = cut_len(a, t->sni_len, SW_SNI_MAX);
	if (sl > 0)
		jb_m_strn(j, "sni", (const uint8_t *)t->sni, sl);
	size_t l = strnlen(t->ja3, sizeof t->ja3);
	if (l > 0)
		jb_m_strn(j, "ja3", (const uint8_t *)t->ja3, l);
	l = strnlen(t->ja3s, sizeof t->ja3s);
	if (l > 0)
		jb_m_strn(j, "ja3s", (const uint8_t *)t->ja3s, l);
	if (ch)
		jb_m_bool(j, "fallback_scsv", t->fallback_scsv);
	if (sh)
		jb_m_bool(j, "downgrade_sentinel", t->downgrade_sentinel);
	if (flow_line) {
		if (sh || t->hello_retry)
			jb_m_bool(j, "hello_retry", t->hello_retry);
		unsigned na = SW_MIN(t->n_alerts, (uint8_t)SW_ALERTS_MAX);
		if (na > 0 && jb_open(j, "alerts", '[')) {
			for (unsigned i = 0; i < na; i++) {
				char lb[8], db[8], item[64];
				const char *dn = sw_tls_alert_name(t->alerts[i].desc);
				if (!dn) {
					snprintf(db, sizeof db, "%u", t->alerts[i].desc);
					dn = db;
				}
				snprintf(item, sizeof item, "%s:%s:%s",
					 t->alerts[i].from_server ? "from_server" : "from_client",
					 alert_level_name(t->alerts[i].level, lb), dn);
				size_t m = jb_mark(j);
				jb_elem(j);
				jb_str(j, item);
				jb_commit(j, m);
			}
			jb_close(j, ']');
		}
	}
	jb_close(j, '}');
}

static void put_policy(struct sw_alert_prod *a, struct jb *j, const struct sw_policy_ref *p)
{
	char vb[24];
	if (!p->rule || !jb_open(j, "policy", '{'))
		return;
	put_str_bounded(a, j, "rule", p->rule, RULE_MAX);
	jb_m_u64(j, "line", p->line);
	if (p->level)
		put_str_bounded(a, j, "level", p->level, RULE_MAX);
	if (p->mode)
		put_str_bounded(a, j, "mode", p->mode, RULE_MAX);
	if (p->min_version)
		jb_m_str(j, "min_version", sw_tls_version_name(p->min_version, vb));
	jb_close(j, '}');
}

static void put_evidence(struct sw_alert_prod *a, struct jb *j, const struct sw_finding *f)
{
	unsigned n = SW_MIN(f->n_evidence, (uint8_t)SW_EVIDENCE_MAX);
	if (n < f->n_evidence)
		count(&a->strings_cut, 1);
	if (n == 0 || !jb_open(j, "evidence", '['))
		return;
	for (unsigned i = 0; i < n; i++) {
		const struct sw_evidence *e = &f->evidence[i];
		size_t len = e->bytes ? strip_eol(e->bytes, e->len) : 0;
		len = cut_len(a, len, SW_EVIDENCE_LINE_MAX);
		size_t m = jb_mark(j);
		jb_elem(j);
		jb_raw(j, "{", 1);
		jb_key(j, "dir");
		jb_str(j, e->from_server ? "to_client" : "to_server");
		jb_key(j, "line");
		jb_strn(j, e->bytes ? e->bytes : (const uint8_t *)"", len);
		jb_raw(j, "}", 1);
		jb_commit(j, m);
	}
	jb_close(j, ']');
}

/* ---- producers: formatting on the calling thread ------------------------------ */

/*
 * Hands a formatted body (or a bare request when j is NULL) to the output
 * thread.  Waits while the queue is full; wake: the output thread should
 * take it now rather than with the next batch.
 */
static void submit(struct sw_alert_prod *p, struct ev *h, const struct jb *j, bool wake)
{
	struct sw_alert *a = p->a;
	bool waited;
	h->body_len = j ? (uint32_t)j->len : 0;
	if (j)
		count(&p->members_cut, j->cut);
	uint8_t *d = sw_outq_reserve(&a->q, (uint32_t)sizeof *h + h->body_len, &waited);
	memcpy(d, h, sizeof *h);
	if (j)
		memcpy(d + sizeof *h, j->buf, j->len);
	sw_outq_commit(&a->q, wake);
	if (waited)
		count(&p->queue_waits, 1);
}

void sw_alert_prod_finding(struct sw_alert_prod *p, const struct sw_finding *f)
{
	struct jb j;
	struct ev h = { .kind = EV_ALERT, .ts = f->ts_ns };
	const char *name = sw_finding_name(f->kind);
	const char *sigtext = sw_finding_signature(f->kind);
	const char *cat = sw_finding_category(f->kind);
	unsigned sev = f->severity < 1 ? 1 : f->severity > 3 ? 3 : f->severity;

	begin_event(p, &j, f->ts_ns, "alert");
	if (f->flow)
		put_tuple(p, &j, f->flow);
	put_pcap_filename(p, &j);
	jb_m_str(&j, "finding", name ? name : "unknown");
	if (jb_open(&j, "alert", '{')) {
		jb_m_str(&j, "action", "allowed");
		jb_m_u64(&j, "gid", 1);
		jb_m_u64(&j, "signature_id", sw_finding_sid(f->kind));
		jb_m_u64(&j, "rev", 1);
		jb_m_str(&j, "signature", sigtext ? sigtext : "");
		jb_m_str(&j, "category", cat ? cat : "");
		jb_m_u64(&j, "severity", sev);
		jb_close(&j, '}');
	}
	if (f->flow) {
		put_starttls(p, &j, f->flow);
		put_tls(p, &j, f->flow, false);
	}
	put_policy(p, &j, &f->policy);
	if (f->detail)
		put_str_bounded(p, &j, "detail", f->detail, DETAIL_MAX);
	put_evidence(p, &j, f);
	static const int prio[4] = { LOG_WARNING, LOG_WARNING, LOG_NOTICE, LOG_INFO };
	h.prio = prio[sev];
	/*
	 * Live (no pcap_filename): wake the output thread, the alert is signed
	 * and written at once.  Reading files nobody waits for it: it goes with
	 * the next batch, which saves a wake-up per alert.
	 */
	submit(p, &h, &j, p->pcap_filename == NULL);
}

void sw_alert_finding(void *ctx, const struct sw_finding *f)
{
	struct sw_alert *a = ctx;
	sw_alert_prod_finding(a->p0, f);
}

static const char *flow_state(const struct sw_flow_info *fi)
{
	if (fi->end_rst)
		return "reset";
	if (fi->end_fin)
		return "closed";
	if (fi->end_timeout)
		return "timeout";
	if (fi->end_evicted)
		return "evicted";
	return "open";
}

void sw_alert_prod_flow(struct sw_alert_prod *p, const struct sw_flow_info *fi)
{
	struct jb j;
	char t[32];
	uint64_t ts = fi->last_ts_ns;
	struct ev h = { .kind = EV_FLOW, .ts = ts };

	if (!p->a->o.flow_events)
		return;
	begin_event(p, &j, ts, "flow");
	put_tuple(p, &j, fi);
	put_pcap_filename(p, &j);
	if (jb_open(&j, "flow", '{')) {
		jb_m_u64(&j, "pkts_toserver", fi->pkts[0]);
		jb_m_u64(&j, "pkts_toclient", fi->pkts[1]);
		jb_m_u64(&j, "bytes_toserver", fi->bytes[0]);
		jb_m_u64(&j, "bytes_toclient", fi->bytes[1]);
		sw_format_time(fi->first_ts_ns, t);
		jb_m_str(&j, "start", t);
		sw_format_time(fi->last_ts_ns, t);
		jb_m_str(&j, "end", t);
		jb_m_str(&j, "state", flow_state(fi));
		jb_close(&j, '}');
	}
	size_t l = strnlen(fi->server_name, sizeof fi->server_name);
	if (l > 0)
		jb_m_strn(&j, "server_name", (const uint8_t *)fi->server_name, l);
	l = strnlen(fi->classified_as, sizeof fi->classified_as);
	if (l > 0)
		jb_m_strn(&j, "classified_as", (const uint8_t *)fi->classified_as, l);
	put_starttls(p, &j, fi);
	put_tls(p, &j, fi, true);
	submit(p, &h, &j, false);
}

void sw_alert_flow(void *ctx, const struct sw_flow_info *fi)
{
	struct sw_alert *a = ctx;
	sw_alert_prod_flow(a->p0, fi);
}

static void put_counts(struct jb *j, const char *(*name)(int), const uint64_t *v, int from, int n,
		       bool nonzero)
{
	for (int i = from; i < n; i++) {
		const char *nm = name(i);
		if (nm && (!nonzero || v[i] != 0))
			jb_m_u64(j, nm, v[i]);
	}
}

static const char *decode_name(int i) { return sw_decode_result_name((enum sw_decode_result)i); }
static const char *finding_name(int i) { return sw_finding_name((enum sw_finding_kind)i); }
static const char *anomaly_name(int i) { return sw_anomaly_name((enum sw_anomaly)i); }

/* The producers' counters so far, for a stats line. */
static void producer_totals(struct sw_alert *a, struct ev *h)
{
	pthread_mutex_lock(&a->q.plock);
	h->members_cut = a->gone_members_cut;
	h->strings_cut = a->gone_strings_cut;
	h->queue_waits = a->gone_waits;
	for (const struct sw_alert_prod *p = a->prods; p; p = p->next) {
		h->members_cut += counted(&p->members_cut);
		h->strings_cut += counted(&p->strings_cut);
		h->queue_waits += counted(&p->queue_waits);
	}
	pthread_mutex_unlock(&a->q.plock);
}

/*
 * The body up to the "output" object, which the output thread appends
 * (its counters are the output thread's).  The producers' counters go in
 * the entry as they stand before this line is formatted.
 */
void sw_alert_stats(struct sw_alert *a, uint64_t ts_ns,
		    const struct sw_capture_stats *cs, const struct sw_dissect_stats *ds)
{
	struct sw_alert_prod *p = a->p0;
	struct jb j;
	struct ev h = { .kind = EV_STATS, .ts = ts_ns };
	producer_totals(a, &h);
	if (p->pcap_filename)
		h.queue_waits = 0; /* file mode: timing, not data (see the top of this file) */
	begin_event(p, &j, ts_ns, "stats");
	put_pcap_filename(p, &j);
	if (jb_open(&j, "stats", '{')) {
		h.stats_open = true;
		if (cs && jb_open(&j, "capture", '{')) {
			jb_m_u64(&j, "frames", cs->frames);
			jb_m_u64(&j, "bytes", cs->bytes);
			jb_m_u64(&j, "tcp", cs->tcp);
			/* by_result[SW_DECODE_TCP] is the "tcp" member above. */
			put_counts(&j, decode_name, cs->by_result, SW_DECODE_TCP + 1, SW_DECODE__COUNT, false);
			jb_m_u64(&j, "kernel_received", cs->kernel_received);
			jb_m_u64(&j, "kernel_dropped", cs->kernel_dropped);
			jb_close(&j, '}');
		}
		if (ds) {
			if (jb_open(&j, "flows", '{')) {
				jb_m_u64(&j, "created", ds->flows_created);
				jb_m_u64(&j, "active", ds->flows_active);
				jb_m_u64(&j, "peak", ds->flows_peak);
				jb_m_u64(&j, "evicted_cap", ds->flows_evicted_cap);
				jb_m_u64(&j, "timed_out", ds->flows_timed_out);
				jb_m_u64(&j, "mail", ds->flows_mail);
				jb_m_u64(&j, "tls", ds->flows_tls);
				jb_close(&j, '}');
			}
			if (jb_open(&j, "reassembly", '{')) {
				jb_m_u64(&j, "gaps", ds->gaps);
				jb_m_u64(&j, "gap_bytes", ds->gap_bytes);
				jb_m_u64(&j, "ooo_segments", ds->ooo_segments);
				jb_m_u64(&j, "retransmissions", ds->retransmissions);
				jb_close(&j, '}');
			}
			jb_m_u64(&j, "caps_hit", ds->caps_hit);
			if (jb_open(&j, "memory", '{')) {
				jb_m_u64(&j, "bytes", ds->mem_bytes);
				jb_m_u64(&j, "peak", ds->mem_peak);
				jb_close(&j, '}');
			}
			if (jb_open(&j, "findings", '{')) {
				jb_m_u64(&j, "total", ds->findings);
				put_counts(&j, finding_name, ds->findings_by_kind, 0, SW_F__COUNT, true);
				jb_close(&j, '}');
			}
			if (jb_open(&j, "anomalies", '{')) {
				put_counts(&j, anomaly_name, ds->anomalies, 0, SW_AN__COUNT, true);
				jb_close(&j, '}');
			}
			jb_m_u64(&j, "classifier_calls", ds->classifier_calls);
		}
	}
	submit(p, &h, &j, false);
}

/* Queued: the output thread writes the checkpoint that is due and flushes. */
void sw_alert_tick(struct sw_alert *a, uint64_t now_ns)
{
	struct ev h = { .kind = EV_TICK, .ts = now_ns };
	submit(a->p0, &h, NULL, true);
}

void sw_alert_prod_set_pcap_filename(struct sw_alert_prod *p, const char *name)
{
	free(p->pcap_filename);
	p->pcap_filename = NULL;
	if (name)
		p->pcap_filename = strndup(name, PCAP_NAME_MAX);
}

void sw_alert_set_pcap_filename(struct sw_alert *a, const char *name)
{
	sw_alert_prod_set_pcap_filename(a->p0, name);
}

struct sw_alert_prod *sw_alert_prod_new(struct sw_alert *a)
{
	struct sw_alert_prod *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->a = a;
	pthread_mutex_lock(&a->q.plock);
	p->next = a->prods;
	a->prods = p;
	pthread_mutex_unlock(&a->q.plock);
	return p;
}

void sw_alert_prod_free(struct sw_alert_prod *p)
{
	if (!p)
		return;
	struct sw_alert *a = p->a;
	pthread_mutex_lock(&a->q.plock);
	for (struct sw_alert_prod **pp = &a->prods; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	a->gone_members_cut += counted(&p->members_cut);
	a->gone_strings_cut += counted(&p->strings_cut);
	a->gone_waits += counted(&p->queue_waits);
	pthread_mutex_unlock(&a->q.plock);
	free(p->pcap_filename);
	free(p);
}

/*
 * A control request: queued behind every line before it; returns what
 * the output thread answered (err filled when it failed).
 */
static int request(struct sw_alert *a, enum ev_kind kind, uint64_t ts, char *err, size_t errlen)
{
	pthread_mutex_lock(&a->rmu);
	struct ev h = { .kind = (uint8_t)kind, .ts = ts, .id = ++a->ctl_next };
	submit(a->p0, &h, NULL, true);
	pthread_mutex_lock(&a->cmu);
	while (a->ctl_done < h.id)
		pthread_cond_wait(&a->cdone, &a->cmu);
	int rc = a->ctl_rc;
	if (rc != 0 && err)
		snprintf(err, errlen, "%s", a->ctl_err);
	pthread_mutex_unlock(&a->cmu);
	pthread_mutex_unlock(&a->rmu);
	return rc;
}

void sw_alert_sync(struct sw_alert *a)
{
	(void)request(a, EV_SYNC, 0, NULL, 0);
}

/* ---- the output thread ---------------------------------------------------------- */

/*
 * An event line: the start record first, then the chain members, the
 * signature, the write.  The queue slot is released as soon as the body
 * is copied out, before the hash and signature.
 */
static void out_event(struct sw_alert *a, const struct ev *h, const char *body)
{
	struct jb j;
	if (!start_event(a, h->ts)) {
		sw_outq_release(&a->q);
		return;
	}
	if (h->ts > a->last_ts)
		a->last_ts = h->ts;
	jb_init(&j, line_buf(a), SW_LINE_MAX - 1, LINE_RESERVE);
	memcpy(line_buf(a), body, h->body_len);
	j.len = h->body_len;
	sw_outq_release(&a->q);
	if (h->kind == EV_ALERT) {
		a->syslog_prio = h->prio;
		finish_line(a, &j, true, true);
		return;
	}
	if (h->kind == EV_STATS && h->stats_open) {
		/* The writer's own counters: lines so far, and anything cut to fit. */
		if (jb_open(&j, "output", '{')) {
			jb_m_u64(&j, "lines", a->lines);
			jb_m_u64(&j, "members_cut", h->members_cut + a->members_cut_out);
			jb_m_u64(&j, "strings_cut", h->strings_cut);
			jb_m_u64(&j, "write_errors", a->write_errors);
			jb_m_u64(&j, "lines_lost", a->lines_lost);
			if (h->queue_waits)
				jb_m_u64(&j, "queue_waits", h->queue_waits);
			jb_close(&j, '}');
		}
		jb_close(&j, '}');
	}
	finish_line(a, &j, false, false);
	maybe_checkpoint(a, h->ts);
}

static int reopen_file(struct sw_alert *a, char *err, size_t errlen);
static void close_file(struct sw_alert *a, uint64_t ts_ns);

static void answer(struct sw_alert *a, uint64_t id, int rc, const char *err)
{
	pthread_mutex_lock(&a->cmu);
	a->ctl_rc = rc;
	snprintf(a->ctl_err, sizeof a->ctl_err, "%s", rc ? err : "");
	a->ctl_done = id;
	pthread_cond_broadcast(&a->cdone);
	pthread_mutex_unlock(&a->cmu);
}

static void *output_main(void *arg)
{
	struct sw_alert *a = arg;
	char err[512];
	/*
	 * This thread starts before -Z drops privileges.  glibc's setuid()
	 * reaches every thread (and the kernel clears each one's
	 * capabilities), but no_new_privs is per thread: set it here, as the
	 * main thread does after the drop.  This thread never execs.
	 */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	for (;;) {
		uint32_t n;
		const uint8_t *d = sw_outq_peek(&a->q, &n);
		struct ev h;
		memcpy(&h, d, sizeof h);
		switch (h.kind) {
		case EV_ALERT:
		case EV_FLOW:
		case EV_STATS:
			out_event(a, &h, (const char *)d + sizeof h); /* releases the slot */
			break;
		case EV_TICK:
			sw_outq_release(&a->q);
			if (a->started)
				maybe_checkpoint(a, h.ts);
			(void)out_flush(a);
			break;
		case EV_REOPEN:
			sw_outq_release(&a->q);
			err[0] = '\0';
			answer(a, h.id, reopen_file(a, err, sizeof err), err);
			break;
		case EV_SYNC:
			sw_outq_release(&a->q);
			answer(a, h.id, 0, "");
			break;
		case EV_STOP:
			sw_outq_release(&a->q);
			close_file(a, h.ts);
			answer(a, h.id, 0, "");
			return NULL;
		default:
			sw_outq_release(&a->q);
			break;
		}
	}
}

/* ---- open / append / reopen / close ----------------------------------------- */

/*
 * Reads the chain state from the end of an existing output file: seq and
 * prev from its last complete line; torn_tail when bytes follow it.
 */
static int recover_chain(struct sw_alert *a, int fd, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", a->out_path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return 0;
	size_t want = (size_t)SW_MIN((off_t)(2 * SW_LINE_MAX), st.st_size);
	off_t off = st.st_size - (off_t)want;
	char *buf = malloc(want);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t got = 0;
	while (got < want) {
		ssize_t r = pread(fd, buf + got, want - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	int rc = 0;
	if (got != want) {
		snprintf(err, errlen, "%s: short read while looking for the chain head", a->out_path);
		rc = -1;
		goto out;
	}
	size_t end = want; /* one past the last complete line's newline */
	if (buf[want - 1] != '\n') {
		a->torn_tail = true;
		char *nl = memrchr(buf, '\n', want);
		end = nl ? (size_t)(nl - buf) + 1 : 0;
		if (!nl && off == 0) /* only a torn fragment: a new chain */
			goto out;
	}
	if (end == 0) {
		snprintf(err, errlen, "%s: last line longer than %d bytes: not a stripwatch file",
			 a->out_path, SW_LINE_MAX);
		rc = -1;
		goto out;
	}
	char *ln = memrchr(buf, '\n', end - 1);
	size_t start = ln ? (size_t)(ln - buf) + 1 : 0;
	if (!ln && off != 0) {
		snprintf(err, errlen, "%s: last line longer than %d bytes: not a stripwatch file",
			 a->out_path, SW_LINE_MAX);
		rc = -1;
		goto out;
	}
	struct sw_chain_tail t;
	if (sw_chain_parse_tail(buf + start, end - 1 - start, &t) != 0) {
		snprintf(err, errlen, "%s: cannot continue its chain: the last line is not a stripwatch line",
			 a->out_path);
		rc = -1;
		goto out;
	}
	a->seq = t.seq + 1;
	sw_line_hash(a->prev, buf + start, end - 1 - start);
	a->continuing = true;
out:
	free(buf);
	return rc;
}

/* The seq of the file's first line, when it is a stripwatch line. */
static bool first_line_seq(int fd, uint64_t size, uint64_t *seq)
{
	size_t want = (size_t)SW_MIN((uint64_t)SW_LINE_MAX, size);
	char *buf = malloc(want);
	ssize_t r;
	bool ok = false;
	if (!buf)
		return false;
	do
		r = pread(fd, buf, want, 0);
	while (r < 0 && errno == EINTR);
	const char *nl = r > 0 ? memchr(buf, '\n', (size_t)r) : NULL;
	struct sw_chain_tail t;
	if (nl && sw_chain_parse_tail(buf, (size_t)(nl - buf), &t) == 0) {
		*seq = t.seq;
		ok = true;
	}
	free(buf);
	return ok;
}

/*
 * Starts tracking a newly opened output file: removes its stale .minisig
 * and, when signing a regular file, starts its hash over what it holds.
 * Problems only cost the .minisig (said on stderr), never the output.
 */
static void file_begin(struct sw_alert *a, int fd)
{
	struct stat st;
	char err[512];
	a->file_has_first = false;
	a->file_reg = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	if (!a->file_reg)
		return;
	a->file_dev = st.st_dev;
	a->file_ino = st.st_ino;
	if (sw_minisig_remove(a->out_path, err, sizeof err) != 0)
		fprintf(stderr, "stripwatch: %s\n", err);
	if (!a->key)
		return;
	if (!a->fh)
		a->fh = aligned_alloc(64, (sizeof *a->fh + 63) / 64 * 64);
	if (!a->fh)
		return;
	crypto_generichash_init(a->fh, NULL, 0, SW_FILE_HASH_LEN);
	if (st.st_size > 0) {
		uint64_t first;
		if (sw_hash_fd(fd, (uint64_t)st.st_size, a->fh) != 0) {
			fprintf(stderr, "stripwatch: reading %s for its .minisig: %s; none will be written\n",
				a->out_path, strerror(errno));
			free(a->fh);
			a->fh = NULL;
			return;
		}
		if (first_line_seq(fd, (uint64_t)st.st_size, &first)) {
			a->file_first_seq = first;
			a->file_has_first = true;
		}
	}
}

static bool same_file(const struct stat *st, const struct sw_alert *a)
{
	return S_ISREG(st->st_mode) && st->st_dev == a->file_dev && st->st_ino == a->file_ino;
}

/*
 * Where the current output file is now (logrotate may have renamed it):
 * out_path itself, else what /proc says of the fd, else a name in
 * out_path's directory with the same inode (after -Z, /proc/self/fd is
 * not readable).  False when it has no name any more.
 */
static bool file_where(const struct sw_alert *a, int fd, char *out, size_t n)
{
	struct stat st;
	if (stat(a->out_path, &st) == 0 && same_file(&st, a)) {
		snprintf(out, n, "%s", a->out_path);
		return true;
	}
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t l = readlink(link, out, n - 1);
	if (l > 0) {
		out[l] = '\0';
		if (stat(out, &st) == 0 && same_file(&st, a))
			return true;
	}
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", a->out_path);
	char *d = dirname(dir);
	DIR *dp = opendir(d);
	if (!dp)
		return false;
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(dp)) != NULL) {
		if (fstatat(dirfd(dp), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && same_file(&st, a) &&
		    (size_t)snprintf(out, n, "%s/%s", d, e->d_name) < n)
			found = true;
	}
	closedir(dp);
	return found;
}

/*
 * The current file is done: its lines are all written (or never will be).
 * Syncs it, writes its .minisig when every byte is accounted for, closes it.
 */
static void file_end(struct sw_alert *a, int fd)
{
	char path[4200], err[512];
	bool ok = a->olen == 0;
	if (a->file_reg && fsync(fd) != 0) {
		fprintf(stderr, "stripwatch: syncing %s: %s\n", a->out_path, strerror(errno));
		ok = false;
	}
	if (a->fh && a->file_has_first) {
		if (!ok) {
			fprintf(stderr, "stripwatch: %s: not all lines were written; no .minisig\n", a->out_path);
		} else if (!file_where(a, fd, path, sizeof path)) {
			fprintf(stderr, "stripwatch: %s: the closed file has no name any more; no .minisig\n",
				a->out_path);
		} else {
			uint8_t h[SW_FILE_HASH_LEN];
			char tc[SW_TRUSTED_COMMENT_MAX], name[256], head64[SW_HASH_B64_LEN];
			crypto_generichash_final(a->fh, h, sizeof h);
			/* The name as one printable word: the comment is key=value pairs on one line. */
			const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
			snprintf(name, sizeof name, "%.*s", (int)(sizeof name - 1), base);
			for (char *p = name; *p; p++)
				if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
					*p = '_';
			sodium_bin2base64(head64, sizeof head64, a->prev, sizeof a->prev,
					  sodium_base64_VARIANT_ORIGINAL);
			snprintf(tc, sizeof tc, "file=%s session=%s first_seq=%llu last_seq=%llu head=%s", name,
				 a->session, (unsigned long long)a->file_first_seq,
				 (unsigned long long)(a->seq - 1), head64);
			if (sw_minisig_write(path, a->key, h, tc, err, sizeof err) != 0)
				fprintf(stderr, "stripwatch: %s\n", err);
		}
	}
	if (fd != STDOUT_FILENO && close(fd) != 0)
		fprintf(stderr, "stripwatch: closing %s: %s\n", out_name(a), strerror(errno));
}

static int open_output(struct sw_alert *a, bool append, char *err, size_t errlen)
{
	if (!a->out_path) {
		a->fd = STDOUT_FILENO;
		return 0;
	}
	/* Append needs to read the file's last line too. */
	int flags = append ? O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC
			   : O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC;
	int fd = open(a->out_path, flags, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", a->out_path, strerror(errno));
		return -1;
	}
	if (append && recover_chain(a, fd, err, errlen) != 0) {
		close(fd);
		return -1;
	}
	a->fd = fd;
	file_begin(a, fd);
	return 0;
}

static int load_key(struct sw_alert *a, const struct sw_alert_opts *o, char *err, size_t errlen)
{
	if (o->no_sign) {
		memset(a->kid, '0', 16);
		a->kid[16] = '\0';
		return 0;
	}
	char sec[4200], pub[4200];
	const char *path = o->key_path;
	if (!path) {
		if (sw_key_default_paths(sec, pub, sizeof sec, true, err, errlen) != 0)
			return -1;
		if (access(sec, F_OK) != 0) {
			if (sw_key_generate(sec, pub, false, err, errlen) != 0)
				return -1;
			fprintf(stderr, "stripwatch: created a signing key; public key: %s\n", pub);
		}
		path = sec;
	}
	a->key = sw_key_load(path, err, errlen);
	if (!a->key)
		return -1;
	sw_kid_hex(a->key->keyid, a->kid);
	sw_pubkey_b64(a->key->keyid, a->key->pk, a->pubkey_b64);
	return 0;
}

static void alert_free(struct sw_alert *a);

/*
 * The output thread takes no asynchronous signal: SIGINT, SIGTERM, SIGHUP,
 * SIGUSR1/2 must reach the thread that reads packets, whose blocking read
 * they interrupt.  Faults and SIGXFSZ stay as they are.
 */
static int start_output_thread(struct sw_alert *a, char *err, size_t errlen)
{
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGXFSZ);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&a->th, NULL, output_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the output thread: %s", strerror(rc));
		return -1;
	}
	a->th_running = true;
	return 0;
}

struct sw_alert *sw_alert_open(const struct sw_alert_opts *o, char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium initialisation failed");
		return NULL;
	}
	struct sw_alert *a = calloc(1, sizeof *a);
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->syslog_prio = LOG_INFO;
	a->o = *o;
	a->fd = -1;
	pthread_mutex_init(&a->rmu, NULL);
	pthread_mutex_init(&a->cmu, NULL);
	pthread_cond_init(&a->cdone, NULL);
	if (sw_outq_init(&a->q, OUTQ_BYTES) != 0 || !(a->p0 = sw_alert_prod_new(a))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (a->o.checkpoint_lines == 0)
		a->o.checkpoint_lines = DEFAULT_CHECKPOINT_LINES;
	if (a->o.checkpoint_ns == 0)
		a->o.checkpoint_ns = DEFAULT_CHECKPOINT_NS;
	if (o->host) {
		snprintf(a->host, sizeof a->host, "%s", o->host);
	} else if (gethostname(a->host, sizeof a->host) != 0) {
		strcpy(a->host, "unknown");
	}
	a->host[HOST_MAX] = '\0';
	a->o.host = NULL;
	memcpy(a->msg, SW_CHAIN_CONTEXT, SW_CHAIN_CONTEXT_LEN);
	uint8_t sid[16];
	randombytes_buf(sid, sizeof sid);
	hex_encode(a->session, sid, sizeof sid);

	if (o->out_path && strcmp(o->out_path, "-") != 0) {
		a->out_path = strdup(o->out_path);
		if (!a->out_path) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	a->o.out_path = NULL;
	if (load_key(a, o, err, errlen) != 0 || open_output(a, o->append, err, errlen) != 0)
		goto fail;
	a->o.key_path = NULL;
	if (start_output_thread(a, err, errlen) != 0)
		goto fail;
	if (o->syslog_facility >= 0)
		openlog("stripwatch", LOG_PID | LOG_NDELAY, o->syslog_facility);
	return a;
fail:
	if (a->fd >= 0 && a->fd != STDOUT_FILENO)
		close(a->fd);
	alert_free(a);
	return NULL;
}

/* Output thread: SIGHUP's work (sw_alert_reopen). */
static int reopen_file(struct sw_alert *a, char *err, size_t errlen)
{
	if (!a->out_path)
		return 0; /* stdout: nothing to rotate */
	if (write_start(a, a->last_ts))
		write_chain(a, a->last_ts, "reopen");
	if (out_flush(a) != 0 || a->olen > 0) {
		snprintf(err, errlen, "%s: the old file did not take its last lines (still writing to it)",
			 a->out_path);
		return -1;
	}
	int fd = open(a->out_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s (still writing to the old file)", a->out_path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (a->file_reg && fstat(fd, &st) == 0 && same_file(&st, a)) {
		/* Not rotated: the same file goes on, and so does its hash. */
		close(a->fd);
	} else {
		file_end(a, a->fd);
		file_begin(a, fd);
	}
	a->fd = fd;
	a->started = false;
	a->torn_tail = false;
	a->torn_nl = false;
	a->continuing = a->seq > 0;
	return 0;
}

/* Counts the lines left in the buffer: written never. */
static void count_unwritten(struct sw_alert *a)
{
	for (size_t i = 0; i < a->olen; i++)
		a->lines_lost += a->obuf[i] == '\n';
}

int sw_alert_reopen(struct sw_alert *a, char *err, size_t errlen)
{
	return request(a, EV_REOPEN, 0, err, errlen);
}

/* Output thread: the stop record, the last write, the .minisig (sw_alert_close). */
static void close_file(struct sw_alert *a, uint64_t ts_ns)
{
	if (ts_ns < a->last_ts)
		ts_ns = a->last_ts;
	if (write_start(a, ts_ns))
		write_chain(a, ts_ns, "stop");
	if (out_flush(a) != 0)
		count_unwritten(a);
	if (a->lines_lost > 0)
		fprintf(stderr, "stripwatch: %llu event line(s) could not be written to %s "
				"(%llu failed writes; counted in output.lines_lost of the stats lines)\n",
			(unsigned long long)a->lines_lost, out_name(a), (unsigned long long)a->write_errors);
	if (a->out_path && a->fd >= 0)
		file_end(a, a->fd);
}

/* Everything sw_alert_open made; the output thread has ended or never ran. */
static void alert_free(struct sw_alert *a)
{
	while (a->prods)
		sw_alert_prod_free(a->prods);
	sw_outq_destroy(&a->q);
	pthread_mutex_destroy(&a->rmu);
	pthread_mutex_destroy(&a->cmu);
	pthread_cond_destroy(&a->cdone);
	free(a->fh);
	sw_key_free(a->key);
	free(a->out_path);
	sodium_memzero(a->msg, sizeof a->msg);
	free(a);
}

void sw_alert_close(struct sw_alert *a, uint64_t ts_ns)
{
	if (!a)
		return;
	struct ev t;
	(void)request(a, EV_STOP, ts_ns, NULL, 0);
	pthread_join(a->th, NULL);
	producer_totals(a, &t);
	if (t.queue_waits > 0)
		fprintf(stderr, "stripwatch: the output queue was full %llu time(s); "
				"event formatting waited for the writer\n", (unsigned long long)t.queue_waits);
	if (a->o.syslog_facility >= 0)
		closelog();
	alert_free(a);
}
