/*
 * keys.h - the sensor's Ed25519 key pair: files, loading, key id.
 *
 * Public key file: minisign's format, so `minisign -Vm FILE -p PUB` works:
 *     untrusted comment: stripwatch public key <KID>\n
 *     base64("Ed" || keyid[8] || pk[32])\n
 *
 * Secret key file (stripwatch's own, unencrypted, mode 0600):
 *     stripwatch secret key v1\n
 *     base64("Ed" || keyid[8] || seed[32] || pk[32])\n
 * On load the key pair is re-derived from the seed and must give the stored
 * pk (a corrupt file is refused); a file that is not a regular file or is
 * group/world accessible is refused.
 *
 * keyid: minisign's 8 random bytes, stored in file order.  The "kid" text
 * (16 upper-case hex digits) is minisign's display form: the 8 bytes read
 * as a little-endian 64-bit number, i.e. the bytes in reverse file order,
 * so it matches what `minisign` prints for the same key.
 */
#ifndef SW_KEYS_H
#define SW_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SW_KEYID_LEN 8
#define SW_PK_LEN 32
#define SW_KID_HEX_LEN 17   /* 16 hex + NUL */
#define SW_PUBKEY_B64_LEN 57 /* base64 of the 42-byte minisign key + NUL */

/* Lives in sodium_malloc'd memory, read-only after load. */
struct sw_key {
	uint8_t sk[64];          /* libsodium form: seed || pk */
	uint8_t pk[SW_PK_LEN];
	uint8_t keyid[SW_KEYID_LEN];
};

void sw_kid_hex(const uint8_t keyid[SW_KEYID_LEN], char out[SW_KID_HEX_LEN]);
/* base64("Ed" || keyid || pk): the public key file's second line. */
void sw_pubkey_b64(const uint8_t keyid[SW_KEYID_LEN], const uint8_t pk[SW_PK_LEN],
		   char out[SW_PUBKEY_B64_LEN]);

/* Loads a secret key file.  NULL + err on any problem. */
struct sw_key *sw_key_load(const char *path, char *err, size_t errlen);
void sw_key_free(struct sw_key *k);

/* Parses a minisign public key file.  0 ok, -1 + err. */
int sw_pubkey_load(const char *path, uint8_t pk[SW_PK_LEN], uint8_t keyid[SW_KEYID_LEN],
		   char *err, size_t errlen);

/*
 * Creates a new key pair.  Refuses (nothing written) when either file
 * exists unless force.  0 ok, -1 + err.
 */
int sw_key_generate(const char *sec_path, const char *pub_path, bool force,
		    char *err, size_t errlen);

/*
 * The state directory's key paths: $STATE_DIRECTORY (first entry), else
 * /var/lib/stripwatch as root, else ~/.local/state/stripwatch.  Creates the
 * directory (0700) when mkdir is set.  0 ok, -1 + err.
 */
int sw_key_default_paths(char *sec, char *pub, size_t n, bool mkdir_it, char *err, size_t errlen);

/* write() all n bytes, retrying on EINTR and short writes; 0 or -1 (errno). */
int sw_write_all(int fd, const char *s, size_t n);

#endif
