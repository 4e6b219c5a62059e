/*
 * readloop.c - the libpcap read floor, used by bench/run only when
 * ../shared/bench (and its baseline/pcap-readloop.c) is not there.  The
 * same loop: pcap_next_ex over every packet, summing caplen and touching
 * the last byte, so the compiler cannot drop the read.
 *
 *   [PCAP_BUF=BYTES] pcap-readloop FILE
 *
 * PCAP_BUF: open the file with fopen, give the stream a malloc'd buffer of
 * BYTES with setvbuf (glibc ignores the size when the buffer is NULL) and
 * hand it to pcap_fopen_offline; without it, pcap_open_offline (stdio's
 * default st_blksize buffer, 4 KiB here).
 * Prints "packets N caplen_bytes B x X" on stdout.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p;

	if (argc != 2) {
		fprintf(stderr, "usage: [PCAP_BUF=BYTES] %s FILE\n", argv[0]);
		return 2;
	}
	const char *bs = getenv("PCAP_BUF");
	long bufsize = bs ? atol(bs) : 0;
	if (bufsize > 0) {
		FILE *fp = fopen(argv[1], "rb");
		char *buf = malloc((size_t)bufsize);
		if (!fp || !buf || setvbuf(fp, buf, _IOFBF, (size_t)bufsize) != 0) {
			perror(argv[1]);
			return 1;
		}
		p = pcap_fopen_offline(fp, err);
	} else {
		p = pcap_open_offline(argv[1], err);
	}
	if (!p) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t n = 0, bytes = 0, x = 0;
	int rc;
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		n++;
		bytes += h->caplen;
		if (h->caplen)
			x += d[h->caplen - 1];
	}
	if (rc == -1) {
		fprintf(stderr, "%s\n", pcap_geterr(p));
		return 1;
	}
	printf("packets %" PRIu64 " caplen_bytes %" PRIu64 " x %" PRIu64 "\n", n, bytes, x);
	pcap_close(p);
	return 0;
}
