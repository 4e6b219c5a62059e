/*
 * minisig.h - detached signatures of whole closed output files in
 * minisign's format, so stock `minisign -Vm FILE -p PUBLIC` verifies them
 * (format: minisign's src/minisign.c and its documentation):
 *
 *     untrusted comment: <text>\n
 *     base64("ED" || keyid[8] || Ed25519(BLAKE2b-512(FILE)))\n
 *     trusted comment: <text>\n
 *     base64(Ed25519(sig[64] || <trusted comment text>))\n
 *
 * "ED" is minisign's prehashed mode (the only one it accepts without -l).
 * The line signatures of the event chain (chain.h) are made over the
 * context string "stripwatch-event-v1\n" followed by a JSON line; the
 * messages signed here are a 64-byte hash and a 64-byte signature followed
 * by a trusted comment, so neither kind can pass for the other.
 */
#ifndef SW_MINISIG_H
#define SW_MINISIG_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "keys.h"

#define SW_MINISIG_SUFFIX ".minisig"
#define SW_FILE_HASH_LEN 64            /* BLAKE2b-512, as minisign hashes files */
#define SW_TRUSTED_COMMENT_MAX 1024    /* ours; minisign accepts up to 8 KiB */

/*
 * Writes FILE.minisig for file_path, given the BLAKE2b-512 of the file's
 * content.  trusted_comment: one line of printable text (the caller makes
 * it so), at most SW_TRUSTED_COMMENT_MAX bytes.  The file is written under
 * a temporary name, synced and renamed, so a reader never sees half of it.
 * 0 ok, -1 + err.
 */
int sw_minisig_write(const char *file_path, const struct sw_key *key,
		     const uint8_t hash[SW_FILE_HASH_LEN], const char *trusted_comment,
		     char *err, size_t errlen);

/* Removes file_path's .minisig if there is one.  0 ok or absent, -1 + err. */
int sw_minisig_remove(const char *file_path, char *err, size_t errlen);

/*
 * BLAKE2b-512 of a whole file read from fd (pread, from offset 0 to size)
 * into an initialised state.  0 ok, -1 with errno set.
 */
int sw_hash_fd(int fd, uint64_t size, crypto_generichash_state *st);

#endif
