/*
 * keys.c - key files and the `stripwatch keygen` command (formats in
 * keys.h).  The secret key is only ever held in sodium_malloc'd memory
 * (guard pages, read-only after load); stack copies are wiped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keys.h"
#include "sw_alert.h"

#define SEC_HEADER "stripwatch secret key v1"
#define SEC_RAW_LEN (2 + SW_KEYID_LEN + 32 + SW_PK_LEN)
#define PUB_RAW_LEN (2 + SW_KEYID_LEN + SW_PK_LEN)
#define KEYFILE_MAX 512

void sw_kid_hex(const uint8_t keyid[SW_KEYID_LEN], char out[SW_KID_HEX_LEN])
{
	static const char hx[] = "0123456789ABCDEF";
	for (int i = 0; i < SW_KEYID_LEN; i++) {
		uint8_t b = keyid[SW_KEYID_LEN - 1 - i];
		out[2 * i] = hx[b >> 4];
		out[2 * i + 1] = hx[b & 15];
	}
	out[16] = '\0';
}

void sw_pubkey_b64(const uint8_t keyid[SW_KEYID_LEN], const uint8_t pk[SW_PK_LEN],
		   char out[SW_PUBKEY_B64_LEN])
{
	uint8_t raw[PUB_RAW_LEN] = { 'E', 'd' };
	memcpy(raw + 2, keyid, SW_KEYID_LEN);
	memcpy(raw + 2 + SW_KEYID_LEN, pk, SW_PK_LEN);
	sodium_bin2base64(out, SW_PUBKEY_B64_LEN, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
}

/* Reads a small file whole; -1 + err.  *out_mode gets st_mode. */
static int read_small(int fd, const char *path, char *buf, size_t cap, size_t *len,
		      char *err, size_t errlen)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			snprintf(err, errlen, "%s: not a key file (too long)", path);
			return -1;
		}
	}
	*len = n;
	return 0;
}

/* Splits "line1\nline2\n" (final newline optional); -1 if the shape is wrong. */
static int two_lines(char *buf, size_t len, char **l1, char **l2, size_t *l2len)
{
	char *nl = memchr(buf, '\n', len);
	if (!nl)
		return -1;
	*nl = '\0';
	*l1 = buf;
	*l2 = nl + 1;
	size_t rest = len - (size_t)(nl + 1 - buf);
	char *nl2 = memchr(*l2, '\n', rest);
	if (nl2) {
		if ((size_t)(nl2 + 1 - *l2) != rest)
			return -1; /* more than two lines */
		rest = (size_t)(nl2 - *l2);
	}
	*l2len = rest;
	return 0;
}

struct sw_key *sw_key_load(const char *path, char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium initialisation failed");
		return NULL;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "secret key %s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "secret key %s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "secret key %s: group/world accessible (mode %04o); run chmod 600 on it",
			 path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return NULL;
	}

	char buf[KEYFILE_MAX];
	size_t len = 0;
	struct sw_key *k = NULL;
	uint8_t *raw = sodium_malloc(SEC_RAW_LEN);
	int rc = read_small(fd, path, buf, sizeof buf, &len, err, errlen);
	close(fd);
	if (!raw) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (rc != 0)
		goto out;

	char *l1, *l2;
	size_t l2len, rawlen = 0;
	if (two_lines(buf, len, &l1, &l2, &l2len) != 0 || strcmp(l1, SEC_HEADER) != 0 ||
	    sodium_base642bin(raw, SEC_RAW_LEN, l2, l2len, NULL, &rawlen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    rawlen != SEC_RAW_LEN || raw[0] != 'E' || raw[1] != 'd') {
		snprintf(err, errlen, "secret key %s: not a stripwatch secret key (corrupt?)", path);
		goto out;
	}
	k = sodium_malloc(sizeof *k);
	if (!k) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	crypto_sign_seed_keypair(k->pk, k->sk, raw + 2 + SW_KEYID_LEN);
	memcpy(k->keyid, raw + 2, SW_KEYID_LEN);
	if (sodium_memcmp(k->pk, raw + 2 + SW_KEYID_LEN + 32, SW_PK_LEN) != 0) {
		snprintf(err, errlen, "secret key %s: corrupt (public half does not match the seed)", path);
		sodium_free(k);
		k = NULL;
		goto out;
	}
	sodium_mprotect_readonly(k);
out:
	sodium_memzero(buf, sizeof buf);
	if (raw)
		sodium_free(raw);
	return k;
}

void sw_key_free(struct sw_key *k)
{
	if (k)
		sodium_free(k); /* sodium_free wipes */
}

int sw_pubkey_load(const char *path, uint8_t pk[SW_PK_LEN], uint8_t keyid[SW_KEYID_LEN],
		   char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium initialisation failed");
		return -1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "public key %s: %s", path, strerror(errno));
		return -1;
	}
	char buf[KEYFILE_MAX];
	size_t len = 0;
	int rc = read_small(fd, path, buf, sizeof buf, &len, err, errlen);
	close(fd);
	if (rc != 0)
		return -1;
	char *l1, *l2;
	size_t l2len, rawlen = 0;
	uint8_t raw[PUB_RAW_LEN];
	if (two_lines(buf, len, &l1, &l2, &l2len) != 0 ||
	    strncmp(l1, "untrusted comment:", 18) != 0 ||
	    sodium_base642bin(raw, sizeof raw, l2, l2len, "\r", &rawlen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    rawlen != PUB_RAW_LEN || raw[0] != 'E' || raw[1] != 'd') {
		snprintf(err, errlen, "public key %s: not a minisign Ed25519 public key", path);
		return -1;
	}
	memcpy(keyid, raw + 2, SW_KEYID_LEN);
	memcpy(pk, raw + 2 + SW_KEYID_LEN, SW_PK_LEN);
	return 0;
}

int sw_write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int create_file(const char *path, mode_t mode, bool force, const char *text, size_t n,
		       char *err, size_t errlen)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL);
	int fd = open(path, flags, mode);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) != 0 || sw_write_all(fd, text, n) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int sw_key_generate(const char *sec_path, const char *pub_path, bool force,
		    char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium initialisation failed");
		return -1;
	}
	if (!force) {
		const char *p[2] = { sec_path, pub_path };
		for (int i = 0; i < 2; i++) {
			if (access(p[i], F_OK) == 0) {
				snprintf(err, errlen, "%s exists; use --force to overwrite it", p[i]);
				return -1;
			}
		}
	}
	int rc = -1;
	uint8_t *raw = sodium_malloc(SEC_RAW_LEN + 64);
	char *text = sodium_malloc(KEYFILE_MAX);
	if (!raw || !text) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	uint8_t *sk = raw + SEC_RAW_LEN;
	uint8_t pk[SW_PK_LEN], keyid[SW_KEYID_LEN];
	crypto_sign_keypair(pk, sk);
	randombytes_buf(keyid, sizeof keyid);
	raw[0] = 'E';
	raw[1] = 'd';
	memcpy(raw + 2, keyid, SW_KEYID_LEN);
	crypto_sign_ed25519_sk_to_seed(raw + 2 + SW_KEYID_LEN, sk);
	memcpy(raw + 2 + SW_KEYID_LEN + 32, pk, SW_PK_LEN);

	char b64[sodium_base64_ENCODED_LEN(SEC_RAW_LEN, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof b64, raw, SEC_RAW_LEN, sodium_base64_VARIANT_ORIGINAL);
	int n = snprintf(text, KEYFILE_MAX, "%s\n%s\n", SEC_HEADER, b64);
	sodium_memzero(b64, sizeof b64);
	if (create_file(sec_path, 0600, force, text, (size_t)n, err, errlen) != 0)
		goto out;

	char kid[SW_KID_HEX_LEN], pub64[SW_PUBKEY_B64_LEN], pubtext[160];
	sw_kid_hex(keyid, kid);
	sw_pubkey_b64(keyid, pk, pub64);
	n = snprintf(pubtext, sizeof pubtext, "untrusted comment: stripwatch public key %s\n%s\n", kid, pub64);
	if (create_file(pub_path, 0644, force, pubtext, (size_t)n, err, errlen) != 0) {
		unlink(sec_path); /* no half key pair */
		goto out;
	}
	rc = 0;
out:
	if (raw)
		sodium_free(raw);
	if (text)
		sodium_free(text);
	return rc;
}

static int mkdir_p(char *path, mode_t mode)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, mode);
		*p = '/';
		if (r != 0 && errno != EEXIST)
			return -1;
	}
	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int sw_key_default_paths(char *sec, char *pub, size_t n, bool mkdir_it, char *err, size_t errlen)
{
	char dir[4096];
	const char *sd = getenv("STATE_DIRECTORY");
	if (sd && *sd) {
		size_t l = strcspn(sd, ":"); /* systemd lists several, colon-separated */
		snprintf(dir, sizeof dir, "%.*s", (int)SW_MIN(l, sizeof dir - 1), sd);
	} else if (geteuid() == 0) {
		snprintf(dir, sizeof dir, "/var/lib/stripwatch");
	} else {
		const char *home = getenv("HOME");
		if (!home || !*home) {
			snprintf(err, errlen, "no key given and neither STATE_DIRECTORY nor HOME is set");
			return -1;
		}
		snprintf(dir, sizeof dir, "%s/.local/state/stripwatch", home);
	}
	if (mkdir_it && mkdir_p(dir, 0700) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(sec, n, "%s/stripwatch.key", dir) >= n ||
	    (size_t)snprintf(pub, n, "%s/stripwatch.pub", dir) >= n) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	return 0;
}

static int keygen_usage(void)
{
	fprintf(stderr, "usage: stripwatch keygen [-s SECRET] [-p PUBLIC] [--force]\n"
			"  without -s/-p the state directory's stripwatch.key/.pub are written\n");
	return 2;
}

/* `stripwatch keygen -s SECRET -p PUBLIC [--force]`: 0 ok, 1 refused/failed, 2 usage. */
int sw_cmd_keygen(int argc, char **argv)
{
	const char *sec = NULL, *pub = NULL;
	bool force = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			sec = argv[++i];
		else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
			pub = argv[++i];
		else if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0)
			force = true;
		else
			return keygen_usage();
	}
	char err[512], dsec[4200], dpub[4200];
	if (!sec || !pub) {
		if (sw_key_default_paths(dsec, dpub, sizeof dsec, true, err, sizeof err) != 0) {
			fprintf(stderr, "stripwatch keygen: %s\n", err);
			return 1;
		}
		if (!sec)
			sec = dsec;
		if (!pub)
			pub = dpub;
	}
	if (sw_key_generate(sec, pub, force, err, sizeof err) != 0) {
		fprintf(stderr, "stripwatch keygen: %s\n", err);
		return 1;
	}
	uint8_t pk[SW_PK_LEN], keyid[SW_KEYID_LEN];
	char kid[SW_KID_HEX_LEN];
	if (sw_pubkey_load(pub, pk, keyid, err, sizeof err) == 0) {
		sw_kid_hex(keyid, kid);
		fprintf(stderr, "stripwatch keygen: secret key %s, public key %s, key id %s\n", sec, pub, kid);
	}
	return 0;
}
