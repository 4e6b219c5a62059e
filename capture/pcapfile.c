/*
 * pcapfile.c - stripwatch's own classic pcap reader (see pcapfile.h).
 *
 * Why read(2) into a buffer and not mmap(2): a capture on a network share
 * or one being rotated may be cut while it is read.  A mapped page past the
 * new end raises SIGBUS and kills the whole run; read(2) just returns less,
 * and the cut becomes the usual "truncated dump file" error for that one
 * file.  The copy read(2) makes is one memcpy per byte in the kernel; the
 * per-packet costs of the libpcap path (a fortified fread() per header and
 * per frame, and libpcap's copy into its own buffer) are gone.
 *
 * Record layout (draft-ietf-opsawg-pcap section 5): ts_sec, ts_frac,
 * caplen, len, each 32 bits in the byte order of the magic, then caplen
 * bytes.  The timestamp seconds are unsigned (section 5).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "sw_capture.h"
#include "pcapfile.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_FILE_HDR 24u
#define PCAP_REC_HDR 16u
/* libpcap's MAXIMUM_SNAPLEN: max_snaplen_for_dlt() for every link type we read. */
#define PCAP_MAX_SNAPLEN 262144u

_Static_assert(SW_PCAPFILE_BUF_SIZE >= PCAP_REC_HDR + PCAP_MAX_SNAPLEN,
	       "a whole record must fit in the buffer");

static inline uint32_t rd32(const uint8_t *p, bool swapped)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return swapped ? __builtin_bswap32(v) : v;
}

static inline uint16_t rd16(const uint8_t *p, bool swapped)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return swapped ? __builtin_bswap16(v) : v;
}

/*
 * The DLT for a LINKTYPE value, as libpcap's linktype_to_dlt() maps it
 * (pcap-common.c: identity in the matching range 104..., a table below it,
 * LINKTYPE_RAW 101 -> DLT_RAW), for the link types sw_decode() supports;
 * -1 for the rest, which go to libpcap and its "unsupported" report.
 */
static int linktype_to_dlt(uint32_t linktype)
{
	switch (linktype) {
	case 0:   return DLT_NULL;
	case 1:   return DLT_EN10MB;
	case 51:  return DLT_PPP_ETHER;
	case 101: return DLT_RAW;
	case 108: return DLT_LOOP;
	case 113: return DLT_LINUX_SLL;
	case 228: return DLT_IPV4;
	case 229: return DLT_IPV6;
	case 276: return DLT_LINUX_SLL2;
	default:  return -1;
	}
}

int sw_pcapfile_probe(struct sw_pcapfile *pf, int fd)
{
	uint8_t h[PCAP_FILE_HDR];
	ssize_t n;

	do
		n = pread(fd, h, sizeof(h), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(h))
		return 0; /* short or unreadable: libpcap reports it in its words */

	uint32_t magic;
	memcpy(&magic, h, sizeof(magic));
	bool swapped = false;
	if (magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS) {
		magic = __builtin_bswap32(magic);
		if (magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS)
			return 0; /* pcapng, modified pcap magics, not a capture */
		swapped = true;
	}
	/* Versions before 2.4 may have caplen and len interchanged: libpcap's. */
	if (rd16(h + 4, swapped) != 2 || rd16(h + 6, swapped) != 4)
		return 0;
	uint32_t snaplen = rd32(h + 16, swapped);
	uint32_t linktype = rd32(h + 20, swapped);
	int dlt = linktype_to_dlt(linktype); /* FCS bits in the upper half: libpcap's */
	if (dlt < 0 || !sw_dlt_supported(dlt))
		return 0;

	if (!pf->buf) {
		if (!(pf->buf = malloc(SW_PCAPFILE_BUF_SIZE))) {
			snprintf(pf->err, sizeof(pf->err), "out of memory");
			return -1;
		}
		pf->end = 0;
		pf->hold = SW_PCAPFILE_NO_HOLD;
		pf->shift = 0;
	}
	if (lseek(fd, PCAP_FILE_HDR, SEEK_SET) != (off_t)PCAP_FILE_HDR) {
		snprintf(pf->err, sizeof(pf->err), "error reading dump file: %s", strerror(errno));
		return -1;
	}
	pf->fd = fd;
	pf->swapped = swapped;
	pf->nano = magic == PCAP_MAGIC_NS;
	pf->eof = false;
	pf->dlt = dlt;
	/* libpcap's pcap_adjust_snapshot(): 0 or above INT_MAX means the maximum. */
	pf->snapshot = (snaplen == 0 || snaplen > INT_MAX) ? PCAP_MAX_SNAPLEN : snaplen;
	/* Nothing of an earlier file is read again; what the caller holds stays. */
	pf->pos = pf->end;
	pf->err[0] = '\0';
	return 1;
}

/*
 * Make at least want bytes readable at buf + pos unless the file ends
 * first: move the bytes from the held frames (or from pos) to the start,
 * then read(2) until enough.  *avail gets what is readable from pos.
 * 0; 1 when the held bytes leave no room for want; -1 on a read error.
 */
static int fill(struct sw_pcapfile *pf, size_t want, size_t *avail)
{
	size_t keep = SW_MIN(pf->hold, pf->pos);

	if (keep > 0) {
		/* The unread tail is at most one record; held frames a few more. */
		memmove(pf->buf, pf->buf + keep, pf->end - keep);
		pf->pos -= keep;
		pf->end -= keep;
		pf->shift += keep;
		if (pf->hold != SW_PCAPFILE_NO_HOLD)
			pf->hold -= keep;
	}
	if (want > SW_PCAPFILE_BUF_SIZE - pf->pos)
		return 1;
	while (pf->end - pf->pos < want && !pf->eof) {
		ssize_t n = read(pf->fd, pf->buf + pf->end, SW_PCAPFILE_BUF_SIZE - pf->end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(pf->err, sizeof(pf->err), "error reading dump file: %s",
				 strerror(errno));
			return -1;
		}
		if (n == 0)
			pf->eof = true;
		pf->end += (size_t)n;
	}
	*avail = pf->end - pf->pos;
	return 0;
}

/* libpcap's two "invalid packet capture length" messages. */
static int bad_caplen(struct sw_pcapfile *pf, uint32_t caplen)
{
	if (caplen > pf->snapshot)
		snprintf(pf->err, sizeof(pf->err),
			 "invalid packet capture length %u, bigger than snaplen of %u",
			 caplen, pf->snapshot);
	else
		snprintf(pf->err, sizeof(pf->err),
			 "invalid packet capture length %u, bigger than maximum of %u",
			 caplen, PCAP_MAX_SNAPLEN);
	return -1;
}

/* The file ends inside the data of a record; got bytes of it are there. */
static int truncated_data(struct sw_pcapfile *pf, uint32_t caplen, size_t got)
{
	/* libpcap reads snapshot bytes first when caplen exceeds it. */
	uint32_t tried = (caplen > pf->snapshot && got < pf->snapshot) ? pf->snapshot : caplen;
	snprintf(pf->err, sizeof(pf->err),
		 "truncated dump file; tried to read %u captured bytes, only got %zu", tried, got);
	return -1;
}

int sw_pcapfile_next(struct sw_pcapfile *pf, struct sw_pcapfile_frame *fr)
{
	size_t avail = pf->end - pf->pos;

	int rc;

	if (SW_UNLIKELY(avail < PCAP_REC_HDR)) {
		if ((rc = fill(pf, PCAP_REC_HDR, &avail)) != 0)
			return rc < 0 ? -1 : SW_PCAPFILE_FULL;
		if (avail == 0)
			return 0;
		if (avail < PCAP_REC_HDR) {
			snprintf(pf->err, sizeof(pf->err),
				 "truncated dump file; tried to read %u header bytes, only got %zu",
				 PCAP_REC_HDR, avail);
			return -1;
		}
	}
	const uint8_t *h = pf->buf + pf->pos;
	uint32_t caplen = rd32(h + 8, pf->swapped);
	if (SW_UNLIKELY(caplen > PCAP_MAX_SNAPLEN))
		return bad_caplen(pf, caplen);

	size_t rec = PCAP_REC_HDR + caplen;
	if (SW_UNLIKELY(avail < rec)) {
		if ((rc = fill(pf, rec, &avail)) != 0)
			return rc < 0 ? -1 : SW_PCAPFILE_FULL;
		if (avail < rec)
			return truncated_data(pf, caplen, avail - PCAP_REC_HDR);
		h = pf->buf + pf->pos; /* the record moved toward the start */
	}
	uint64_t sec = rd32(h, pf->swapped);
	uint64_t frac = rd32(h + 4, pf->swapped);
	fr->ts_ns = sec * 1000000000u + (pf->nano ? frac : frac * 1000u);
	fr->data = h + PCAP_REC_HDR;
	/* Above the snaplen: cut to it and skip the rest, as libpcap does. */
	fr->caplen = SW_MIN(caplen, pf->snapshot);
	pf->pos += rec;
	return 1;
}

void sw_pcapfile_free(struct sw_pcapfile *pf)
{
	free(pf->buf);
	pf->buf = NULL;
}
