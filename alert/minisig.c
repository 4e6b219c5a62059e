/*
 * minisig.c - minisign-format signatures of closed output files (format in
 * minisig.h).  Only called when a file is closed: nothing here is on the
 * per-line path.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"
#include "minisig.h"
#include "sw_common.h"

#define SIGSTRUCT_LEN (2 + SW_KEYID_LEN + crypto_sign_BYTES)
#define HASH_CHUNK 65536

/* path + suffix into out; false when it does not fit. */
static bool with_suffix(char *out, size_t n, const char *path, const char *suffix)
{
	return (size_t)snprintf(out, n, "%s%s", path, suffix) < n;
}

int sw_minisig_write(const char *file_path, const struct sw_key *key,
		     const uint8_t hash[SW_FILE_HASH_LEN], const char *trusted_comment,
		     char *err, size_t errlen)
{
	char sig_path[4200], tmp_path[4220];
	size_t tcl = strlen(trusted_comment);
	if (!with_suffix(sig_path, sizeof sig_path, file_path, SW_MINISIG_SUFFIX) ||
	    !with_suffix(tmp_path, sizeof tmp_path, sig_path, ".tmp")) {
		snprintf(err, errlen, "%s: path too long for its .minisig", file_path);
		return -1;
	}
	if (tcl > SW_TRUSTED_COMMENT_MAX || strpbrk(trusted_comment, "\r\n")) {
		snprintf(err, errlen, "%s: trusted comment not one short line", file_path);
		return -1;
	}

	/* "ED" || keyid || Ed25519(BLAKE2b-512(file)) */
	uint8_t ss[SIGSTRUCT_LEN] = { 'E', 'D' };
	memcpy(ss + 2, key->keyid, SW_KEYID_LEN);
	crypto_sign_detached(ss + 2 + SW_KEYID_LEN, NULL, hash, SW_FILE_HASH_LEN, key->sk);

	/* The global signature: over the file signature and the trusted comment text. */
	uint8_t gmsg[crypto_sign_BYTES + SW_TRUSTED_COMMENT_MAX], gsig[crypto_sign_BYTES];
	memcpy(gmsg, ss + 2 + SW_KEYID_LEN, crypto_sign_BYTES);
	memcpy(gmsg + crypto_sign_BYTES, trusted_comment, tcl);
	crypto_sign_detached(gsig, NULL, gmsg, crypto_sign_BYTES + tcl, key->sk);

	char kid[SW_KID_HEX_LEN];
	char ss64[sodium_base64_ENCODED_LEN(SIGSTRUCT_LEN, sodium_base64_VARIANT_ORIGINAL)];
	char g64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	sw_kid_hex(key->keyid, kid);
	sodium_bin2base64(ss64, sizeof ss64, ss, sizeof ss, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(g64, sizeof g64, gsig, sizeof gsig, sodium_base64_VARIANT_ORIGINAL);

	char text[SW_TRUSTED_COMMENT_MAX + 512];
	int n = snprintf(text, sizeof text,
			 "untrusted comment: signature from stripwatch key %s\n%s\ntrusted comment: %s\n%s\n",
			 kid, ss64, trusted_comment, g64);
	if (n < 0 || (size_t)n >= sizeof text) {
		snprintf(err, errlen, "%s: signature text too long", sig_path);
		return -1;
	}

	int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp_path, strerror(errno));
		return -1;
	}
	if (sw_write_all(fd, text, (size_t)n) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp_path, strerror(errno));
		close(fd);
		unlink(tmp_path);
		return -1;
	}
	if (close(fd) != 0 || rename(tmp_path, sig_path) != 0) {
		snprintf(err, errlen, "%s: %s", sig_path, strerror(errno));
		unlink(tmp_path);
		return -1;
	}
	return 0;
}

int sw_minisig_remove(const char *file_path, char *err, size_t errlen)
{
	char sig_path[4200];
	if (!with_suffix(sig_path, sizeof sig_path, file_path, SW_MINISIG_SUFFIX)) {
		snprintf(err, errlen, "%s: path too long for its .minisig", file_path);
		return -1;
	}
	if (unlink(sig_path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "%s: %s (it no longer matches)", sig_path, strerror(errno));
		return -1;
	}
	return 0;
}

int sw_hash_fd(int fd, uint64_t size, crypto_generichash_state *st)
{
	uint8_t *buf = malloc(HASH_CHUNK);
	if (!buf)
		return -1;
	uint64_t off = 0;
	int rc = 0;
	while (off < size) {
		size_t want = (size_t)SW_MIN((uint64_t)HASH_CHUNK, size - off);
		ssize_t r = pread(fd, buf, want, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO; /* the file shrank under us */
			rc = -1;
			break;
		}
		crypto_generichash_update(st, buf, (size_t)r);
		off += (uint64_t)r;
	}
	free(buf);
	return rc;
}
