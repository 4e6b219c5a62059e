/*
 * verify.c - `stripwatch verify -p PUBLIC [-p PUBLIC ...] [--open] [--json]
 * FILE...`: checks one output file or a rotated set given oldest first
 * (line format: chain.h).
 *
 * Per line: it must end in a newline and carry the fixed chain members;
 * kid must be one of the given keys' (several after a key rotation: a
 * chain continued with `-a` after `keygen --force`), and may change only
 * at a start record (a new process); a signed line's signature must hold
 * under the key its kid names; seq must be
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
 * Output: text ("OK: ..." or "FAIL: FILE:LINE: kind: message", notes on
 * their own lines), or with --json exactly one JSON object on stdout:
 *   {"ok":B,"lines":N,"signed":N,"sessions":N,"chains":N,"files":N,
 *    "first_error":null|{"file":S|null,"line":N,"kind":S,"message":S},
 *    "notes":[S,...]}
 * kind is one of modified, deleted, inserted, reordered, truncated,
 * torn_line, wrong_key, malformed, empty (no lines), io (exit 2).
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
#include "json.h"
#include "keys.h"
#include "sw_alert.h"

#define REORDER_LOOKAHEAD 64
#define MAX_KEYS 16
#define MAX_NOTES 16
#define MSG_MAX 512

struct vkey {
	uint8_t pk[SW_PK_LEN];
	char kid[SW_KID_HEX_LEN];
};

struct vstate {
	struct vkey keys[MAX_KEYS];
	size_t n_keys;
	bool json;                /* --json: one object at the end, nothing else on stdout */
	bool open_ok;             /* --open: a missing stop record is a warning */
	char line_kid[SW_KID_HEX_LEN]; /* kid of the previous line */
	/* The first problem. */
	bool failed;
	const char *err_file;     /* NULL: not about a file */
	uint64_t err_line;
	const char *err_kind;
	char err_msg[MSG_MAX];
	/* Notes and warnings, kept for --json. */
	char notes[MAX_NOTES][MSG_MAX];
	size_t n_notes, notes_dropped;
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

/*
 * Records the first problem: kind is its machine name, the message starts
 * with the kind in words ("modified: ...").  Returns 1 (2 for kind "io").
 */
__attribute__((format(printf, 5, 6)))
static int fail(struct vstate *v, const char *file, uint64_t line, const char *kind, const char *fmt, ...)
{
	int rc = strcmp(kind, "io") == 0 ? 2 : 1;
	if (v->failed)
		return rc;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->err_msg, sizeof v->err_msg, fmt, ap);
	va_end(ap);
	v->failed = true;
	v->err_file = file;
	v->err_line = line;
	v->err_kind = kind;
	return rc;
}

/* A note or warning: printed at once as text, kept for --json. */
__attribute__((format(printf, 3, 4)))
static void note(struct vstate *v, const char *prefix, const char *fmt, ...)
{
	char m[MSG_MAX - 16];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	if (!v->json) {
		printf("%s: %s\n", prefix, m);
		return;
	}
	if (v->n_notes < MAX_NOTES)
		snprintf(v->notes[v->n_notes++], MSG_MAX, "%.8s: %s", prefix, m);
	else
		v->notes_dropped++;
}

static const struct vkey *key_by_kid(const struct vstate *v, const char *kid)
{
	for (size_t i = 0; i < v->n_keys; i++)
		if (strcmp(v->keys[i].kid, kid) == 0)
			return &v->keys[i];
	return NULL;
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
		return fail(v, file, ln, "malformed", "malformed: not a stripwatch event line (inserted or modified)");
	const struct vkey *key = key_by_kid(v, t.kid);
	if (!key && v->n_keys == 1)
		return fail(v, file, ln, "wrong_key", "wrong key: line has key id %s, the public key is %s",
			    t.kid, v->keys[0].kid);
	if (!key)
		return fail(v, file, ln, "wrong_key",
			    "wrong key: line has key id %s, not one of the %zu public keys given", t.kid,
			    v->n_keys);
	char et[16];
	if (!sw_line_event_type(line, len, et, sizeof et))
		return fail(v, file, ln, "malformed", "malformed: no event_type (modified)");
	bool chain = strcmp(et, "chain") == 0;
	if (chain && !sw_line_chain_kind(line, len, kind, sizeof kind))
		return fail(v, file, ln, "malformed", "malformed: chain line without kind (modified)");
	if ((chain || strcmp(et, "alert") == 0) && !t.has_sig)
		return fail(v, file, ln, "modified", "modified: %s line without a signature", et);
	if (t.has_sig) {
		memcpy(v->msg, SW_CHAIN_CONTEXT, SW_CHAIN_CONTEXT_LEN);
		memcpy(v->msg + SW_CHAIN_CONTEXT_LEN, line, t.signed_len);
		if (crypto_sign_verify_detached(t.sig, (const unsigned char *)v->msg,
						SW_CHAIN_CONTEXT_LEN + t.signed_len, key->pk) != 0)
			return fail(v, file, ln, "modified", "modified: bad signature (or signed with another key)");
	}
	sw_line_hash(hash, line, len);

	bool start = strcmp(kind, "start") == 0;
	bool new_chain = start && is_zero(t.prev, SW_HASH_LEN);
	if (!v->have_prev) {
		if (!new_chain)
			note(v, "note", "%s:%llu: the chain begins at seq %llu, continuing a file not given",
			     file, (unsigned long long)ln, (unsigned long long)t.seq);
	} else if (new_chain) {
		if (strcmp(v->last_kind, "stop") != 0)
			return fail(v, file, ln, "truncated",
				    "truncated or deleted: a new chain starts here but %s:%llu "
				    "before it is not a stop record",
				    v->prev_file, (unsigned long long)v->prev_lineno);
	} else {
		if (t.seq > v->next_seq) {
			if (seq_ahead(next, end, v->next_seq))
				return fail(v, file, ln, "reordered", "reordered: seq %llu comes before seq %llu",
					    (unsigned long long)t.seq, (unsigned long long)v->next_seq);
			if (!t.has_sig && next < end && !next_prev_is(next, end, hash))
				return fail(v, file, ln, "modified",
					    "modified: its hash does not match prev of the next line");
			return fail(v, file, ln, "deleted",
				    "deleted: %llu line(s) missing before this one (seq %llu, expected %llu)",
				    (unsigned long long)(t.seq - v->next_seq), (unsigned long long)t.seq,
				    (unsigned long long)v->next_seq);
		}
		if (t.seq < v->next_seq) {
			if (t.seq + 1 == v->next_seq)
				return fail(v, file, ln, "inserted", "inserted: seq %llu appears twice (here and at %s:%llu)",
					    (unsigned long long)t.seq, v->prev_file,
					    (unsigned long long)v->prev_lineno);
			return fail(v, file, ln, "inserted", "inserted or reordered: seq %llu after seq %llu",
				    (unsigned long long)t.seq, (unsigned long long)(v->next_seq - 1));
		}
		if (memcmp(t.prev, v->prev, SW_HASH_LEN) != 0)
			return fail(v, v->prev_file, v->prev_lineno, "modified",
				    "modified: its hash does not match prev of the next line (%s:%llu)",
				    file, (unsigned long long)ln);
		if (!start && strcmp(t.session, v->session) != 0)
			return fail(v, file, ln, "inserted", "inserted: session changes without a start record");
		if (!start && strcmp(t.kid, v->line_kid) != 0)
			return fail(v, file, ln, "wrong_key",
				    "wrong key: the key changes from %s to %s without a start record",
				    v->line_kid, t.kid);
	}
	if (new_chain || !v->have_prev)
		v->chains++;
	if (start || !v->have_prev) {
		if (strcmp(t.session, v->session) != 0)
			v->sessions++;
		memcpy(v->session, t.session, sizeof v->session);
	}
	v->have_prev = true;
	memcpy(v->line_kid, t.kid, sizeof v->line_kid);
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
	if (fd < 0)
		return fail(v, file, 0, "io", "%s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(v, file, 0, "io", "not a regular file");
	}
	v->files++;
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	size_t size = (size_t)st.st_size;
	const char *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		return fail(v, file, 0, "io", "%s", strerror(errno));
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
			rc = fail(v, file, ln, "torn_line",
				  "torn line: the last line has no newline (writer interrupted, or cut)");
			break;
		}
		struct sw_chain_tail t;
		if (sw_chain_parse_tail(p, n, &t) != 0 && torn_then_start(next, end)) {
			note(v, "note", "%s:%llu: torn line from an interrupted writer, closed by the next start record",
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
		rc = fail(v, file, ln, "truncated", "truncated: the file does not end with a reopen or stop record");
	munmap((void *)base, size);
	return rc;
}

static int verify_usage(void)
{
	fprintf(stderr, "usage: stripwatch verify -p PUBLIC [-p PUBLIC ...] [--open] [--json] FILE...\n"
			"  FILEs oldest first (a rotated set); -p again for each key the chain used\n"
			"  (key rotation); --open: the last file may still be written to;\n"
			"  --json: one JSON object with the result on stdout\n");
	return 2;
}

/* A JSON string (escaped; NULL gives null). */
static void json_str(const char *s)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	size_t n = strlen(s);
	char *e = malloc(6 * n + 1);
	size_t m = e ? sw_json_escape(e, 6 * n + 1, (const uint8_t *)s, n) : (size_t)-1;
	if (m == (size_t)-1) {
		fputs("\"\"", stdout); /* out of memory: still valid JSON */
	} else {
		putchar('"');
		fwrite(e, 1, m, stdout);
		putchar('"');
	}
	free(e);
}

static void report_json(const struct vstate *v)
{
	printf("{\"ok\":%s,\"lines\":%llu,\"signed\":%llu,\"sessions\":%llu,\"chains\":%llu,\"files\":%llu,"
	       "\"first_error\":",
	       v->failed ? "false" : "true", (unsigned long long)v->lines,
	       (unsigned long long)v->signed_lines, (unsigned long long)v->sessions,
	       (unsigned long long)v->chains, (unsigned long long)v->files);
	if (v->failed) {
		fputs("{\"file\":", stdout);
		json_str(v->err_file);
		printf(",\"line\":%llu,\"kind\":", (unsigned long long)v->err_line);
		json_str(v->err_kind);
		fputs(",\"message\":", stdout);
		json_str(v->err_msg);
		putchar('}');
	} else {
		fputs("null", stdout);
	}
	fputs(",\"notes\":[", stdout);
	for (size_t i = 0; i < v->n_notes; i++) {
		if (i)
			putchar(',');
		json_str(v->notes[i]);
	}
	if (v->notes_dropped)
		printf("%s\"... %llu more\"", v->n_notes ? "," : "", (unsigned long long)v->notes_dropped);
	fputs("]}\n", stdout);
}

static void report_text(const struct vstate *v)
{
	if (!v->failed) {
		printf("OK: %llu lines in %llu file(s), %llu session(s), %llu chain(s), %llu signed lines%s\n",
		       (unsigned long long)v->lines, (unsigned long long)v->files,
		       (unsigned long long)v->sessions, (unsigned long long)v->chains,
		       (unsigned long long)v->signed_lines,
		       v->torn_recovered ? ", torn lines recovered (see notes)" : "");
	} else if (strcmp(v->err_kind, "io") == 0) {
		if (v->err_file)
			fprintf(stderr, "stripwatch verify: %s: %s\n", v->err_file, v->err_msg);
		else
			fprintf(stderr, "stripwatch verify: %s\n", v->err_msg);
	} else if (v->err_file) {
		printf("FAIL: %s:%llu: %s\n", v->err_file, (unsigned long long)v->err_line, v->err_msg);
	} else {
		printf("FAIL: %s\n", v->err_msg);
	}
}

int sw_cmd_verify(int argc, char **argv)
{
	const char *pubs[MAX_KEYS];
	size_t n_pubs = 0;
	int first = argc;
	bool open_ok = false, json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) {
			if (n_pubs == MAX_KEYS) {
				fprintf(stderr, "stripwatch verify: at most %d public keys\n", MAX_KEYS);
				return 2;
			}
			pubs[n_pubs++] = argv[++i];
		} else if (strcmp(argv[i], "--open") == 0) {
			open_ok = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
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
	if (n_pubs == 0 || first >= argc)
		return verify_usage();

	struct vstate *v = calloc(1, sizeof *v);
	if (!v) {
		fprintf(stderr, "stripwatch verify: out of memory\n");
		return 2;
	}
	v->open_ok = open_ok;
	v->json = json;
	int rc = 0;
	for (size_t i = 0; i < n_pubs && rc == 0; i++) {
		char err[512];
		uint8_t keyid[SW_KEYID_LEN];
		struct vkey *k = &v->keys[v->n_keys];
		if (sw_pubkey_load(pubs[i], k->pk, keyid, err, sizeof err) != 0) {
			rc = fail(v, NULL, 0, "io", "%s", err);
			break;
		}
		sw_kid_hex(keyid, k->kid);
		if (!key_by_kid(v, k->kid))
			v->n_keys++;
	}

	for (int i = first; i < argc && rc == 0; i++)
		rc = verify_file(v, argv[i], i == argc - 1);
	if (rc == 0 && v->lines > 0 && strcmp(v->last_kind, "stop") != 0) {
		if (!v->open_ok)
			rc = fail(v, v->prev_file, v->prev_lineno, "truncated",
				  "truncated: the last line is not a stop record (lines may have been cut from the end; "
				  "use --open for a file still being written)");
		else
			note(v, "warning", "%s:%llu: no stop record yet; %llu line(s) after the last signed line are unverified",
			     v->prev_file, (unsigned long long)v->prev_lineno,
			     (unsigned long long)v->unsigned_pending);
	}
	if (rc == 0 && v->lines == 0)
		rc = fail(v, NULL, 0, "empty", "no lines to verify");
	if (json)
		report_json(v);
	else
		report_text(v);
	free(v);
	return rc;
}
