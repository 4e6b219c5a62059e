/*
 * pcapfile.h - stripwatch's own reader of classic pcap files (private to
 * capture/).
 *
 * It reads version 2.4 files with the microsecond (a1b2c3d4) or nanosecond
 * (a1b23c4d) magic in either byte order, of a link type sw_decode()
 * supports, from a regular file.  Everything else (pcapng, modified or old
 * pcap variants, other link types, pipes) is left to libpcap: the probe
 * says so and leaves the file position at 0.
 *
 * Frames are parsed in place in one buffer filled by read(2).  When the
 * buffer runs out, the bytes from the oldest frame the caller still holds
 * (pf->hold; by default none, so from the record being read) to the end
 * are moved to its start, and pf->shift grows by the distance they moved:
 * a caller holding frames across calls moves its pointers back by it.
 * Without a hold, a frame pointer is valid until the next
 * sw_pcapfile_next().  Checks and error
 * wording follow libpcap 1.10's savefile reader (sf-pcap.c), so a file gives
 * the same packets and the same errors whichever reader takes it.
 */
#ifndef SW_PCAPFILE_H
#define SW_PCAPFILE_H

#include "sw_common.h"

#define SW_PCAPFILE_BUF_SIZE (1u << 20) /* read(2) size; > the largest record */
#define SW_PCAPFILE_NO_HOLD SIZE_MAX
#define SW_PCAPFILE_FULL 2              /* sw_pcapfile_next(): release held frames first */

struct sw_pcapfile {
	int fd;              /* not owned */
	bool swapped;        /* the file's byte order is not ours */
	bool nano;           /* timestamps hold nanoseconds */
	bool eof;            /* read(2) returned 0 */
	int dlt;             /* DLT_* value, mapped from the LINKTYPE_* in the header */
	uint32_t snapshot;   /* the snaplen libpcap would use for this file */
	uint8_t *buf;        /* SW_PCAPFILE_BUF_SIZE bytes, owned */
	size_t pos, end;     /* unread bytes are buf[pos, end) */
	size_t hold;         /* set by the caller: buf[hold, pos) must survive; SW_PCAPFILE_NO_HOLD */
	size_t shift;        /* bytes the buffer's contents moved back; the caller clears it */
	char err[256];       /* on -1: what went wrong, without file or packet */
};

/* One frame, borrowed from the reader's buffer. */
struct sw_pcapfile_frame {
	const uint8_t *data;
	uint32_t caplen;
	uint64_t ts_ns;
};

/*
 * Look at the file header of fd (with pread, so the position stays at 0).
 * 1: the file is ours, *pf is set up for sw_pcapfile_next() (buf must be
 * NULL or a buffer from an earlier use; it is allocated when NULL).  Bytes
 * the caller holds from an earlier file (pf->hold) stay in the buffer.
 * 0: hand the file to libpcap.  -1: cannot allocate or read; pf->err set.
 */
int sw_pcapfile_probe(struct sw_pcapfile *pf, int fd);

/*
 * Next frame: 1 with *fr filled, 0 at the clean end of the file, -1 on a
 * truncated or corrupt record or a read error (pf->err holds libpcap's
 * wording).  SW_PCAPFILE_FULL: the next record does not fit in the buffer
 * beside the held bytes; nothing was consumed, call again with a later (or
 * no) hold.  Never returned without a hold.  No allocation; one read(2)
 * per buffer.
 */
int sw_pcapfile_next(struct sw_pcapfile *pf, struct sw_pcapfile_frame *fr);

/* Free the buffer. */
void sw_pcapfile_free(struct sw_pcapfile *pf);

#endif
