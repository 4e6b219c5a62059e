/*
 * source.c - packet sources: a list of capture files read as one timeline,
 * or one live interface.
 *
 * Invariants:
 * - A source holds at most one pcap handle.  In file mode it belongs to
 *   paths[cur]; files are opened when reached, in the order given, and a
 *   file that cannot be opened or fails part-way is reported once (-1 from
 *   sw_source_next) and then skipped.
 * - A regular file holding classic pcap (2.4, either magic and byte
 *   order) of a supported link type is read by pcapfile.c, frames parsed in
 *   place in a 1 MiB read(2) buffer.  Everything else (pcapng, other pcap
 *   variants and link types, pipes, /dev/stdin) goes to libpcap, which
 *   decides pcap vs pcapng from the header; its timestamps are requested at
 *   nanosecond precision and a handle that still reports microseconds is
 *   scaled.  Both readers give the same frames and the same error lines.
 * - sw_source_next() is the hot path: the next frame (pcapfile.c, or
 *   pcap_next_ex() over a stdio stream with a 256 KiB buffer), sw_decode(),
 *   counters.  No allocation, no formatting except on the error path.
 * - Lookahead (sw_source_set_lookahead, file mode): up to depth packets
 *   after the one returned are read and decoded early and kept in a ring,
 *   so the caller can prefetch their state.  Only frames of pcapfile.c are
 *   kept across reads: its hold mark protects the ring's oldest frame, and
 *   when it moves the buffer the ring's pointers move with it.  A libpcap
 *   frame ends the read-ahead until it is returned, and so do an error or
 *   the end of the input, which are returned in order after the packets
 *   read before them.  Packets, errors, counters and file numbers are the
 *   same as without lookahead, but frames read ahead are counted when read.
 * - Every error is one line in src->err: "stripwatch: WHAT: ...".
 * - Live handles are non-blocking: with TPACKET_V3 the kernel retires a
 *   ring block on the timeout only when it holds a packet, so a blocking
 *   read on a silent link never returns.  When the ring is empty,
 *   sw_source_next() polls the capture fd for at most the timeout and
 *   returns 0 if nothing came (the only syscall of an idle read).
 * - A live group (--workers) is n sources on one interface joined in one
 *   PACKET_FANOUT_CBPF group; each takes no packet until all have joined.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/if_packet.h>
#include <pcap/pcap.h>

#include "sw_capture.h"
#include "fanout.h"
#include "pcapfile.h"

#define SW_FILE_BUF_SIZE (256u << 10) /* stdio buffer under libpcap's reads */
#define SW_LIVE_SNAPLEN 262144
#define SW_LIVE_BUFFER_MB 64
#define SW_LIVE_BUFFER_MB_MAX 2047 /* pcap_set_buffer_size takes an int of bytes */
#define SW_LIVE_TIMEOUT_MS 100
#define SW_ERR_LEN 512
#define SW_RING (SW_SOURCE_MAX_LOOKAHEAD + 1)

/* A packet read ahead. */
struct ahead {
	struct sw_packet pkt;
	bool held;              /* its bytes are in pf's buffer: later reads keep them */
};

/* Mail and TLS ports; the same list again under one VLAN tag. */
#define SW_PORTS "port 25 or port 465 or port 587 or port 2525 or port 110 or port 995 or " \
		 "port 143 or port 993 or port 443"
#define SW_DEFAULT_BPF "(tcp and (" SW_PORTS ")) or (vlan and tcp and (" SW_PORTS "))"

struct sw_source {
	pcap_t *pcap;
	int dlt;
	bool nano;              /* the handle delivers nanoseconds in tv_usec */
	bool live;
	int fd;                 /* live: pcap's selectable fd */
	int timeout_ms;         /* live: longest wait of one sw_source_next() */
	volatile sig_atomic_t stop; /* file mode: set by sw_source_break() */

	/* file mode */
	char **paths;
	size_t n_paths;
	size_t cur;             /* file being read (== n_paths at the end) */
	size_t last_file;       /* file of the last packet returned */
	void *fbuf;             /* stdio buffer of the open file */
	bool native;            /* paths[cur] is open in pf, not in pcap */
	struct sw_pcapfile pf;  /* the classic pcap reader; its buffer is kept across files */

	/* lookahead: ring[(head + i) % SW_RING], i < n_ahead, the next packets to return */
	struct ahead ring[SW_RING];
	unsigned head, n_ahead;
	unsigned depth;         /* packets read ahead of the one returned; 0: none */
	bool pending;           /* pending_rc comes after the ring's packets */
	int pending_rc;

	uint64_t index;         /* frames read from the current file (live: run) */
	struct sw_capture_stats st;
	struct pcap_stat kstat; /* live: last pcap_stats(), 32-bit counters that wrap */
	char name[128];         /* live: interface name, for messages */
	char err[SW_ERR_LEN];
};

static void close_handle(struct sw_source *src)
{
	if (src->native)
		close(src->pf.fd);
	src->native = false;
	if (src->pcap)
		pcap_close(src->pcap); /* closes the FILE as well */
	src->pcap = NULL;
	free(src->fbuf);
	src->fbuf = NULL;
}

/* Open paths[cur] into src->pf (classic pcap) or src->pcap.  0, or -1 with src->err set. */
static int open_file(struct sw_source *src)
{
	const char *path = src->paths[src->cur];
	char perr[PCAP_ERRBUF_SIZE] = "";
	struct stat sb;

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(src->err, sizeof(src->err), "stripwatch: %s: %s", path, strerror(errno));
		return -1;
	}
	/* Our reader wants a regular file: it reads the header with pread(). */
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		int rc = sw_pcapfile_probe(&src->pf, fd);
		if (rc < 0) {
			snprintf(src->err, sizeof(src->err), "stripwatch: %s: %s", path, src->pf.err);
			close(fd);
			return -1;
		}
		if (rc == 1) {
			(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* a larger readahead */
			src->native = true;
			src->dlt = src->pf.dlt;
			src->index = 0;
			return 0;
		}
	}
	FILE *fp = fdopen(fd, "rb");
	if (!fp) {
		snprintf(src->err, sizeof(src->err), "stripwatch: %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* A large stdio buffer halves libpcap's read cost; without it stdio picks its own. */
	src->fbuf = malloc(SW_FILE_BUF_SIZE);
	if (src->fbuf)
		setvbuf(fp, src->fbuf, _IOFBF, SW_FILE_BUF_SIZE);

	src->pcap = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (!src->pcap) {
		fclose(fp); /* libpcap leaves the stream to its owner on failure */
		free(src->fbuf);
		src->fbuf = NULL;
		snprintf(src->err, sizeof(src->err), "stripwatch: %s: %s", path, perr);
		return -1;
	}
	src->dlt = pcap_datalink(src->pcap);
	if (!sw_dlt_supported(src->dlt)) {
		const char *dname = pcap_datalink_val_to_name(src->dlt);
		snprintf(src->err, sizeof(src->err), "stripwatch: %s: unsupported link type %s (%d)",
			 path, dname ? dname : "unknown", src->dlt);
		close_handle(src);
		return -1;
	}
	src->nano = pcap_get_tstamp_precision(src->pcap) == PCAP_TSTAMP_PRECISION_NANO;
	src->index = 0;
	return 0;
}

static void free_source(struct sw_source *src)
{
	if (!src)
		return;
	close_handle(src);
	sw_pcapfile_free(&src->pf);
	for (size_t i = 0; i < src->n_paths; i++)
		free(src->paths[i]);
	free(src->paths);
	free(src);
}

struct sw_source *sw_source_open_files(const char *const *paths, size_t n_paths,
				       char *err, size_t errlen)
{
	if (n_paths == 0) {
		snprintf(err, errlen, "stripwatch: no capture files given");
		return NULL;
	}
	struct sw_source *src = calloc(1, sizeof(*src));
	if (!src || !(src->paths = calloc(n_paths, sizeof(*src->paths)))) {
		free(src);
		snprintf(err, errlen, "stripwatch: out of memory");
		return NULL;
	}
	src->pf.hold = SW_PCAPFILE_NO_HOLD;
	for (; src->n_paths < n_paths; src->n_paths++) {
		src->paths[src->n_paths] = strdup(paths[src->n_paths]);
		if (!src->paths[src->n_paths]) {
			free_source(src);
			snprintf(err, errlen, "stripwatch: out of memory");
			return NULL;
		}
	}
	/* The first file is reached now: a bad first file fails the open. */
	if (open_file(src) < 0) {
		snprintf(err, errlen, "%s", src->err);
		free_source(src);
		return NULL;
	}
	return src;
}

/* Set err from an activation or setup failure of a live handle. */
static void live_error(struct sw_source *src, const char *what, int rc)
{
	const char *detail = pcap_geterr(src->pcap);

	if (rc == PCAP_ERROR && detail && *detail)
		snprintf(src->err, sizeof(src->err), "stripwatch: %s: %s: %s", src->name, what, detail);
	else if (detail && *detail)
		snprintf(src->err, sizeof(src->err), "stripwatch: %s: %s: %s (%s)", src->name, what,
			 pcap_statustostr(rc), detail);
	else
		snprintf(src->err, sizeof(src->err), "stripwatch: %s: %s: %s", src->name, what,
			 pcap_statustostr(rc));
}

static int live_setup(struct sw_source *src, const struct sw_live_opts *o)
{
	int snaplen = o->snaplen > 0 ? o->snaplen : SW_LIVE_SNAPLEN;
	int mb = o->buffer_mb > 0 ? SW_MIN(o->buffer_mb, SW_LIVE_BUFFER_MB_MAX) : SW_LIVE_BUFFER_MB;
	int timeout = o->timeout_ms > 0 ? o->timeout_ms : SW_LIVE_TIMEOUT_MS;
	pcap_t *p = src->pcap;
	int rc;

	/*
	 * No immediate mode: it forces TPACKET_V2 with one snaplen-sized slot
	 * per packet; TPACKET_V3 and a large ring drop far less.
	 */
	if ((rc = pcap_set_snaplen(p, snaplen)) != 0 ||
	    (rc = pcap_set_promisc(p, o->no_promisc ? 0 : 1)) != 0 ||
	    (rc = pcap_set_timeout(p, timeout)) != 0 ||
	    (rc = pcap_set_buffer_size(p, mb << 20)) != 0) {
		live_error(src, "setup", rc);
		return -1;
	}
	/* Nanoseconds where the platform has them; microseconds are scaled otherwise. */
	(void)pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);

	rc = pcap_activate(p);
	if (rc < 0) {
		live_error(src, "cannot capture", rc);
		return -1;
	}
	if (rc > 0) /* a warning: kept for the caller to show, capture goes on */
		live_error(src, "warning", rc);

	src->dlt = pcap_datalink(p);
	if (!sw_dlt_supported(src->dlt)) {
		const char *dname = pcap_datalink_val_to_name(src->dlt);
		snprintf(src->err, sizeof(src->err), "stripwatch: %s: unsupported link type %s (%d)",
			 src->name, dname ? dname : "unknown", src->dlt);
		return -1;
	}
	src->nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
	src->timeout_ms = timeout;
	char perr[PCAP_ERRBUF_SIZE] = "";
	src->fd = pcap_get_selectable_fd(p);
	if (src->fd < 0 || pcap_setnonblock(p, 1, perr) != 0) {
		snprintf(src->err, sizeof(src->err), "stripwatch: %s: cannot poll the capture: %s",
			 src->name, *perr ? perr : "no selectable fd");
		return -1;
	}

	return 0;
}

/* The user's filter, or the default one. */
static int live_filter(struct sw_source *src, const struct sw_live_opts *o)
{
	const char *filter = o->bpf ? o->bpf : SW_DEFAULT_BPF;
	struct bpf_program prog;
	if (pcap_compile(src->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(src->err, sizeof(src->err), "stripwatch: %s: bad filter \"%s\": %s",
			 src->name, filter, pcap_geterr(src->pcap));
		return -1;
	}
	int rc = pcap_setfilter(src->pcap, &prog);
	pcap_freecode(&prog);
	if (rc != 0) {
		live_error(src, "cannot set filter", rc);
		return -1;
	}
	return 0;
}

/*
 * A filter that takes nothing: a group member holds it from activation
 * until every member has joined, so that no socket sees a packet outside
 * the group's split (libpcap also drops what its ring held before).
 */
static int live_filter_none(struct sw_source *src)
{
	struct bpf_insn none = { BPF_RET | BPF_K, 0, 0, 0 };
	struct bpf_program prog = { 1, &none };
	int rc = pcap_setfilter(src->pcap, &prog);
	if (rc != 0) {
		live_error(src, "cannot set filter", rc);
		return -1;
	}
	return 0;
}

/*
 * Join the PACKET_FANOUT group *id, or with *id == 0 create one with a
 * kernel-chosen id (PACKET_FANOUT_FLAG_UNIQUEID, so two sensors on one
 * host never share a group), read the id back and install the program.
 */
static int live_join(struct sw_source *src, uint16_t *id)
{
	int fd = pcap_fileno(src->pcap);
	int flags = *id ? 0 : PACKET_FANOUT_FLAG_UNIQUEID;
	int arg = (int)((unsigned)*id | ((unsigned)(PACKET_FANOUT_CBPF | flags) << 16));
	if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0) {
		snprintf(src->err, sizeof(src->err), "stripwatch: %s: cannot join a PACKET_FANOUT group: %s",
			 src->name, strerror(errno));
		return -1;
	}
	if (*id)
		return 0;
	socklen_t len = sizeof(arg);
	struct sock_filter ins[SW_FANOUT_PROG_MAX];
	struct sock_fprog fprog = { (unsigned short)sw_fanout_prog(ins, SW_FANOUT_PROG_MAX), ins };
	if (getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, &len) != 0 || fprog.len == 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &fprog, sizeof(fprog)) != 0) {
		snprintf(src->err, sizeof(src->err), "stripwatch: %s: cannot set the PACKET_FANOUT program: %s",
			 src->name, fprog.len ? strerror(errno) : "program too long");
		return -1;
	}
	*id = (uint16_t)(arg & 0xffff);
	return 0;
}

static struct sw_source *open_live(const struct sw_live_opts *opts, bool group, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";

	if (!opts || !opts->iface || !*opts->iface) {
		snprintf(err, errlen, "stripwatch: no interface given");
		return NULL;
	}
	struct sw_source *src = calloc(1, sizeof(*src));
	if (!src) {
		snprintf(err, errlen, "stripwatch: out of memory");
		return NULL;
	}
	src->live = true;
	snprintf(src->name, sizeof(src->name), "%s", opts->iface);
	src->pcap = pcap_create(opts->iface, perr);
	if (!src->pcap) {
		snprintf(err, errlen, "stripwatch: %s: %s", opts->iface, perr);
		free_source(src);
		return NULL;
	}
	if (live_setup(src, opts) < 0 || (!group && live_filter(src, opts) < 0)) {
		snprintf(err, errlen, "%s", src->err);
		free_source(src);
		return NULL;
	}
	return src;
}

struct sw_source *sw_source_open_live(const struct sw_live_opts *opts, char *err, size_t errlen)
{
	return open_live(opts, false, err, errlen);
}

int sw_source_open_live_group(const struct sw_live_opts *opts, unsigned n, struct sw_source **srcs,
			      char *err, size_t errlen)
{
	uint16_t id = 0;
	unsigned i;

	memset(srcs, 0, n * sizeof(*srcs));
	for (i = 0; i < n; i++) {
		if (!(srcs[i] = open_live(opts, true, err, errlen)))
			goto fail;
		if (live_filter_none(srcs[i]) < 0 || live_join(srcs[i], &id) < 0) {
			snprintf(err, errlen, "%s", srcs[i]->err);
			goto fail;
		}
	}
	for (i = 0; i < n; i++)
		if (live_filter(srcs[i], opts) < 0) {
			snprintf(err, errlen, "%s", srcs[i]->err);
			goto fail;
		}
	return 0;
fail:
	for (i = 0; i < n; i++) {
		free_source(srcs[i]);
		srcs[i] = NULL;
	}
	return -1;
}

/* The current file failed at frame index + 1: report it and move on. */
static int file_failed(struct sw_source *src)
{
	snprintf(src->err, sizeof(src->err), "stripwatch: %s: packet %llu: %s",
		 src->paths[src->cur], (unsigned long long)src->index + 1,
		 src->native ? src->pf.err : pcap_geterr(src->pcap));
	close_handle(src);
	src->cur++;
	return -1;
}

/* A libpcap frame as our frame view; nanoseconds either way. */
static inline void pcap_frame(const struct sw_source *src, const struct pcap_pkthdr *h,
			      const u_char *data, struct sw_pcapfile_frame *fr)
{
	uint64_t frac = (uint64_t)(uint32_t)h->ts.tv_usec;

	fr->data = data;
	fr->caplen = h->caplen;
	fr->ts_ns = (uint64_t)h->ts.tv_sec * 1000000000u + (src->nano ? frac : frac * 1000u);
}

/*
 * Next frame of the file timeline: 1 with *fr, 0 at the end, -1 on error,
 * SW_PCAPFILE_FULL when the held frames leave no room for it.
 */
static int next_file_frame(struct sw_source *src, struct sw_pcapfile_frame *fr)
{
	for (;;) {
		if (!src->native && !src->pcap) {
			if (src->cur >= src->n_paths)
				return 0;
			if (open_file(src) < 0) {
				src->cur++;
				return -1;
			}
		}
		int rc;
		if (SW_LIKELY(src->native)) {
			rc = sw_pcapfile_next(&src->pf, fr);
			if (SW_LIKELY(rc == 1))
				return 1;
			if (rc == SW_PCAPFILE_FULL)
				return rc;
		} else {
			struct pcap_pkthdr *h;
			const u_char *data;
			rc = pcap_next_ex(src->pcap, &h, &data);
			if (SW_LIKELY(rc == 1)) {
				pcap_frame(src, h, data, fr);
				return 1;
			}
			if (rc == PCAP_ERROR_BREAK)
				rc = 0;
		}
		if (rc == 0) { /* end of this file */
			close_handle(src);
			src->cur++;
			continue;
		}
		return file_failed(src);
	}
}

/*
 * Next live frame: 1 with *fr; 0 when none came within the timeout or
 * after sw_source_break(); -1 on a capture error.  *waited spans one
 * sw_source_next() call, so it waits at most once however many frames it
 * skips.
 */
static int next_live_frame(struct sw_source *src, struct sw_pcapfile_frame *fr, bool *waited)
{
	for (;;) {
		if (SW_UNLIKELY(src->stop)) {
			src->stop = 0;
			return 0;
		}
		struct pcap_pkthdr *h;
		const u_char *data;
		int rc = pcap_next_ex(src->pcap, &h, &data);
		if (SW_LIKELY(rc == 1)) {
			pcap_frame(src, h, data, fr);
			return 1;
		}
		if (rc == PCAP_ERROR_BREAK) {
			src->stop = 0;
			return 0;
		}
		if (rc != 0) {
			snprintf(src->err, sizeof(src->err), "stripwatch: %s: packet %llu: %s",
				 src->name, (unsigned long long)src->index + 1, pcap_geterr(src->pcap));
			return -1;
		}
		/* The ring is empty: wait once for a block, then report the timeout. */
		if (*waited)
			return 0;
		struct pollfd pfd = { .fd = src->fd, .events = POLLIN };
		if (poll(&pfd, 1, src->timeout_ms) <= 0)
			return 0; /* timeout, or a signal: the caller checks its own flags */
		*waited = true;
	}
}

/* The next TCP packet into *pkt: sw_source_next() without lookahead, or SW_PCAPFILE_FULL. */
static int read_packet(struct sw_source *src, struct sw_packet *pkt)
{
	struct sw_pcapfile_frame fr;
	bool waited = false;

	for (;;) {
		if (src->live) {
			int rc = next_live_frame(src, &fr, &waited);
			if (rc != 1)
				return rc;
		} else {
			if (SW_UNLIKELY(src->stop)) {
				src->stop = 0;
				return 0;
			}
			int rc = next_file_frame(src, &fr);
			if (rc != 1)
				return rc;
		}

		src->index++;
		src->st.frames++;
		src->st.bytes += fr.caplen;
		enum sw_decode_result r = sw_decode(src->dlt, fr.data, fr.caplen, pkt);
		src->st.by_result[r]++;
		if (r != SW_DECODE_TCP)
			continue;
		src->st.tcp++;
		pkt->ts_ns = fr.ts_ns;
		pkt->index = src->index;
		pkt->file_no = (uint32_t)src->cur;
		src->last_file = src->cur;
		return 1;
	}
}

/* pcapfile.c moved its buffer back by pf.shift: move the ring's pointers too. */
static void rebase_ring(struct sw_source *src)
{
	size_t d = src->pf.shift;

	src->pf.shift = 0;
	for (unsigned i = 0; i < src->n_ahead; i++) {
		struct ahead *a = &src->ring[(src->head + i) % SW_RING];
		if (!a->held)
			continue;
		a->pkt.l3 -= d;
		a->pkt.payload -= d;
	}
}

/* Read until depth packets follow the next one, or a packet that cannot be held. */
static void read_ahead(struct sw_source *src)
{
	while (!src->pending && src->n_ahead <= src->depth) {
		struct ahead *last = &src->ring[(src->head + src->n_ahead + SW_RING - 1) % SW_RING];
		if (src->n_ahead > 0 && !last->held)
			return; /* a libpcap frame lives until the next read */
		/* The ring's oldest frame and everything after it stay in pf's buffer. */
		src->pf.hold = src->n_ahead > 0 ?
			(size_t)(src->ring[src->head].pkt.l3 - src->pf.buf) : SW_PCAPFILE_NO_HOLD;
		struct ahead *a = &src->ring[(src->head + src->n_ahead) % SW_RING];
		int rc = read_packet(src, &a->pkt);
		src->pf.hold = SW_PCAPFILE_NO_HOLD;
		if (src->pf.shift)
			rebase_ring(src);
		if (rc == SW_PCAPFILE_FULL)
			return; /* nothing consumed: read again once the ring is shorter */
		if (rc != 1) {
			src->pending = true;
			src->pending_rc = rc;
			return;
		}
		a->held = src->native;
		src->n_ahead++;
	}
}

int sw_source_next(struct sw_source *src, struct sw_packet *pkt)
{
	if (SW_LIKELY(src->depth == 0 && src->n_ahead == 0 && !src->pending))
		return read_packet(src, pkt);

	read_ahead(src);
	if (src->n_ahead == 0) {
		src->pending = false;
		return src->pending_rc;
	}
	*pkt = src->ring[src->head].pkt;
	src->head = (src->head + 1) % SW_RING;
	src->n_ahead--;
	src->last_file = pkt->file_no;
	return 1;
}

void sw_source_set_lookahead(struct sw_source *src, unsigned depth)
{
	src->depth = src->live ? 0 : SW_MIN(depth, (unsigned)SW_SOURCE_MAX_LOOKAHEAD);
}

const struct sw_packet *sw_source_peek(const struct sw_source *src, unsigned i)
{
	if (i >= src->n_ahead)
		return NULL;
	return &src->ring[(src->head + i) % SW_RING].pkt;
}

const char *sw_source_error(const struct sw_source *src)
{
	return src->err;
}

const char *sw_source_filename(const struct sw_source *src)
{
	if (src->live || src->n_paths == 0)
		return NULL;
	return src->paths[src->last_file];
}

bool sw_source_is_live(const struct sw_source *src)
{
	return src->live;
}

void sw_source_stats(struct sw_source *src, struct sw_capture_stats *st)
{
	if (src->live) {
		struct pcap_stat ps;
		if (pcap_stats(src->pcap, &ps) == 0) {
			/* Sum the deltas so the 32-bit kernel counters may wrap. */
			src->st.kernel_received += (uint32_t)(ps.ps_recv - src->kstat.ps_recv);
			src->st.kernel_dropped += (uint32_t)(ps.ps_drop - src->kstat.ps_drop);
			src->st.kernel_dropped += (uint32_t)(ps.ps_ifdrop - src->kstat.ps_ifdrop);
			src->kstat = ps;
		}
	}
	*st = src->st;
}

void sw_source_break(struct sw_source *src)
{
	/*
	 * A flag store and, live, pcap_breakloop() (a flag and an eventfd
	 * write): signal-safe.  A waiting poll() ends within the timeout.
	 */
	src->stop = 1;
	if (src->live)
		pcap_breakloop(src->pcap);
}

int sw_source_fd(const struct sw_source *src)
{
	return src->live ? src->fd : -1;
}

void sw_source_close(struct sw_source *src)
{
	free_source(src);
}
