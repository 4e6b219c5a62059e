/*
 * verify.c - `stripwatch verify -p PUBLIC [--open] FILE...`: checks one
 * output file or a rotated set given oldest first (line format: chain.h).
 *
 * Per line: it must end in a newline and carry the fixed chain members;
 * kid must be the key's; a signed line's signature must hold; seq must be
 * the previous seq + 1; prev must be the hash of the previous line;
 * session may change only at a start record.  An unsigned line is proved
 * by the chain up to the next signed line; lines after the last signed
 * line are reported as an unverified tail.  A new chain (prev all zero)
 * may only start a file's first line or follow a stop record.  Each file
 * but the last must end with a reopen or stop record; the last must end
 * with a stop record, else its end may have been cut: that is an error,
 * or only a warning with --open (a file the sensor is still writing).
 *
 * The first problem is reported as FILE:LINE with its kind: modified
 * (bad signature, or the hash of an unsigned line does not match the next
 * line's prev), deleted (seq gap), inserted, reordered, truncated (no
 * stop record at the end), torn line (no newline), wrong key, malformed.
 *
 * Exit: 0 verified, 1 a problem found, 2 usage or I/O error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "chain.h"
#include "keys.h"
#include "sw_alert.h"

#define REORDER_LOOKAHEAD 64

struct vstate {
	uint8_t pk[SW_PK_LEN];
	char kid[SW_KID_HEX_LEN];
	bool open_ok;             /* --open: a missing stop record is a warning */
	bool have_prev;
	uint8_t prev[SW_HASH_LEN];
	uint64_t next_seq;
	char session[SW_SESSION_HEX_LEN];
	char last_kind[16];       /* chain kind of the previous line, "" if none */
	const char *prev_file;    /* where the previous line was */
	uint64_t prev_lineno;
	uint64_t lines, signed_lines, sessions, chains, files, torn_recovered;
	uint64_t unsigned_pending; /* unsigned lines since the last signed line */
	char msg[SW_CHAIN_CONTEXT_LEN + SW_LINE_MAX];
};

__attribute__((format(printf, 3, 4)))
static int fail(const char *file, uint64_t line, const char *fmt, ...)
{
	va_list ap;
	printf("FAIL: %s:%llu: ", file, (unsigned long long)line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return 1;
}

/* The next line in [p, end): its length without newline; *has_nl. */
static size_t line_at(const char *p, const char *end, bool *has_nl)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	*has_nl = nl != NULL;
	return nl ? (size_t)(nl - p) : (size_t)(end - p);
}

static bool is_zero(const uint8_t *b, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

/* Looks up to REORDER_LOOKAHEAD lines ahead of p for one with seq want. */
static bool seq_ahead(const char *p, const char *end, uint64_t want)
{
	for (int i = 0; i < REORDER_LOOKAHEAD && p < end; i++) {
		bool nl;
		size_t n = line_at(p, end, &nl);
		struct sw_chain_tail t;
		if (sw_chain_parse_tail(p, n, &t) == 0 && t.seq == want)
			return true;
		if (!nl)
			break;
		p += n + 1;
	}
	return false;
}

/* True when the line at p parses and its prev equals hash. */
static bool next_prev_is(const char *p, const char *end, const uint8_t hash[SW_HASH_LEN])
{
	bool nl;
	if (p >= end)
		return false;
	size_t n = line_at(p, end, &nl);
	struct sw_chain_tail t;
	return sw_chain_parse_tail(p, n, &t) == 0 && memcmp(t.prev, hash, SW_HASH_LEN) == 0;
}

/* A torn line left by a crash, ended by the writer's next start record. */
static bool torn_then_start(const char *next, const char *end)
{
	bool nl;
	char kind[16];
	if (next >= end)
		return false;
	size_t n = line_at(next, end, &nl);
	struct sw_chain_tail t;
	return nl && sw_chain_parse_tail(next, n, &t) == 0 && t.has_sig &&
	       sw_line_chain_kind(next, n, kind, sizeof kind) && strcmp(kind, "start") == 0 &&
	       sw_line_has(next, t.signed_len, "\"torn_line\":true");
}

static int check_line(struct vstate *v, const char *file, uint64_t ln, const char *line, size_t len,
		      const char *next, const char *end)
{
	struct sw_chain_tail t;
	char kind[16] = "";
	uint8_t hash[SW_HASH_LEN];

	if (len >= SW_LINE_MAX || sw_chain_parse_tail(line, len, &t) != 0)
		return fail(file, ln, "malformed: not a stripwatch event line (inserted or modified)");
	if (strcmp(t.kid, v->kid) != 0)
		return fail(file, ln, "wrong key: line has key id %s, the public key is %s", t.kid, v->kid);
	char et[16];
	if (!sw_line_event_type(line, len, et, sizeof et))
		return fail(file, ln, "malformed: no event_type (modified)");
	bool chain = strcmp(et, "chain") == 0;
	if (chain && !sw_line_chain_kind(line, len, kind, sizeof kind))
		return fail(file, ln, "malformed: chain line without kind (modified)");
	if ((chain || strcmp(et, "alert") == 0) && !t.has_sig)
		return fail(file, ln, "modified: %s line without a signature", et);
	if (t.has_sig) {
		memcpy(v->msg, SW_CHAIN_CONTEXT, SW_CHAIN_CONTEXT_LEN);
		memcpy(v->msg + SW_CHAIN_CONTEXT_LEN, line, t.signed_len);
		if (crypto_sign_verify_detached(t.sig, (const unsigned char *)v->msg,
						SW_CHAIN_CONTEXT_LEN + t.signed_len, v->pk) != 0)
			return fail(file, ln, "modified: bad signature (or signed with another key)");
	}
	sw_line_hash(hash, line, len);

	bool start = strcmp(kind, "start") == 0;
	bool new_chain = start && is_zero(t.prev, SW_HASH_LEN);
	if (!v->have_prev) {
		if (!new_chain)
			printf("note: %s:%llu: the chain begins at seq %llu, continuing a file not given\n",
			       file, (unsigned long long)ln, (unsigned long long)t.seq);
	} else if (new_chain) {
		if (strcmp(v->last_kind, "stop") != 0)
			return fail(file, ln, "truncated or deleted: a new chain starts here but %s:%llu "
					      "before it is not a stop record",
				    v->prev_file, (unsigned long long)v->prev_lineno);
	} else {
		if (t.seq > v->next_seq) {
			if (seq_ahead(next, end, v->next_seq))
				return fail(file, ln, "reordered: seq %llu comes before seq %llu",
					    (unsigned long long)t.seq, (unsigned long long)v->next_seq);
			if (!t.has_sig && next < end && !next_prev_is(next, end, hash))
				return fail(file, ln, "modified: its hash does not match prev of the next line");
			return fail(file, ln, "deleted: %llu line(s) missing before this one (seq %llu, expected %llu)",
				    (unsigned long long)(t.seq - v->next_seq), (unsigned long long)t.seq,
				    (unsigned long long)v->next_seq);
		}
		if (t.seq < v->next_seq) {
			if (t.seq + 1 == v->next_seq)
				return fail(file, ln, "inserted: seq %llu appears twice (here and at %s:%llu)",
					    (unsigned long long)t.seq, v->prev_file,
					    (unsigned long long)v->prev_lineno);
			return fail(file, ln, "inserted or reordered: seq %llu after seq %llu",
				    (unsigned long long)t.seq, (unsigned long long)(v->next_seq - 1));
		}
		if (memcmp(t.prev, v->prev, SW_HASH_LEN) != 0)
			return fail(v->prev_file, v->prev_lineno,
				    "modified: its hash does not match prev of the next line (%s:%llu)",
				    file, (unsigned long long)ln);
		if (!start && strcmp(t.session, v->session) != 0)
			return fail(file, ln, "inserted: session changes without a start record");
	}
	if (new_chain || !v->have_prev)
		v->chains++;
	if (start || !v->have_prev) {
		if (strcmp(t.session, v->session) != 0)
			v->sessions++;
		memcpy(v->session, t.session, sizeof v->session);
	}
	v->have_prev = true;
	memcpy(v->prev, hash, sizeof hash);
	v->next_seq = t.seq + 1;
	snprintf(v->last_kind, sizeof v->last_kind, "%s", kind);
	v->prev_file = file;
	v->prev_lineno = ln;
	v->lines++;
	if (t.has_sig) {
		v->signed_lines++;
		v->unsigned_pending = 0;
	} else {
		v->unsigned_pending++;
	}
	return 0;
}

/* 0 ok, 1 problem, 2 I/O error. */
static int verify_file(struct vstate *v, const char *file, bool last_file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "stripwatch verify: %s: %s\n", file, strerror(errno));
		return 2;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "stripwatch verify: %s: not a regular file\n", file);
		close(fd);
		return 2;
	}
	v->files++;
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	size_t size = (size_t)st.st_size;
	const char *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (base == MAP_FAILED) {
		fprintf(stderr, "stripwatch verify: %s: %s\n", file, strerror(errno));
		return 2;
	}
	(void)madvise((void *)base, size, MADV_SEQUENTIAL);

	const char *p = base, *end = base + size;
	uint64_t ln = 0;
	int rc = 0;
	while (p < end) {
		bool nl;
		size_t n = line_at(p, end, &nl);
		const char *next = p + n + (nl ? 1 : 0);
		ln++;
		if (!nl) {
			rc = fail(file, ln, "torn line: the last line has no newline (writer interrupted, or cut)");
			break;
		}
		struct sw_chain_tail t;
		if (sw_chain_parse_tail(p, n, &t) != 0 && torn_then_start(next, end)) {
			printf("note: %s:%llu: torn line from an interrupted writer, closed by the next start record\n",
			       file, (unsigned long long)ln);
			v->torn_recovered++;
			p = next;
			continue;
		}
		rc = check_line(v, file, ln, p, n, next, end);
		if (rc)
			break;
		p = next;
	}
	if (rc == 0 && !last_file && strcmp(v->last_kind, "reopen") != 0 && strcmp(v->last_kind, "stop") != 0)
		rc = fail(file, ln, "truncated: the file does not end with a reopen or stop record");
	munmap((void *)base, size);
	return rc;
}

static int verify_usage(void)
{
	fprintf(stderr, "usage: stripwatch verify -p PUBLIC [--open] FILE...\n"
			"  FILEs oldest first (a rotated set); --open: the last file may still be written to\n");
	return 2;
}

int sw_cmd_verify(int argc, char **argv)
{
	const char *pub = NULL;
	int first = argc;
	bool open_ok = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) {
			pub = argv[++i];
		} else if (strcmp(argv[i], "--open") == 0) {
			open_ok = true;
		} else if (strcmp(argv[i], "--") == 0) {
			first = i + 1;
			break;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return verify_usage();
		} else {
			first = i;
			break;
		}
	}
	if (!pub || first >= argc)
		return verify_usage();

	struct vstate *v = calloc(1, sizeof *v);
	if (!v) {
		fprintf(stderr, "stripwatch verify: out of memory\n");
		return 2;
	}
	char err[512];
	uint8_t keyid[SW_KEYID_LEN];
	if (sw_pubkey_load(pub, v->pk, keyid, err, sizeof err) != 0) {
		fprintf(stderr, "stripwatch verify: %s\n", err);
		free(v);
		return 2;
	}
	sw_kid_hex(keyid, v->kid);
	v->open_ok = open_ok;

	int rc = 0;
	for (int i = first; i < argc && rc == 0; i++)
		rc = verify_file(v, argv[i], i == argc - 1);
	if (rc == 0 && v->lines > 0 && strcmp(v->last_kind, "stop") != 0) {
		if (!v->open_ok)
			rc = fail(v->prev_file, v->prev_lineno,
				  "truncated: the last line is not a stop record (lines may have been cut from the end; "
				  "use --open for a file still being written)");
		else
			printf("warning: %s:%llu: no stop record yet; %llu line(s) after the last signed line are unverified\n",
			       v->prev_file, (unsigned long long)v->prev_lineno,
			       (unsigned long long)v->unsigned_pending);
	}
	if (rc == 0 && v->lines == 0) {
		printf("FAIL: no lines to verify\n");
		rc = 1;
	}
	if (rc == 0)
		printf("OK: %llu lines in %llu file(s), %llu session(s), %llu chain(s), %llu signed lines%s\n",
		       (unsigned long long)v->lines, (unsigned long long)v->files,
		       (unsigned long long)v->sessions, (unsigned long long)v->chains,
		       (unsigned long long)v->signed_lines,
		       v->torn_recovered ? ", torn lines recovered (see notes)" : "");
	free(v);
	return rc;
}
