/*
 * alert_test_util.h - helpers shared by test_alert.c and test_chain.c: a
 * strict JSON validator (RFC 8259 grammar, RFC 3629 UTF-8, no floats, no
 * duplicate-free check), file helpers and temporary directories.
 */
#ifndef ALERT_TEST_UTIL_H
#define ALERT_TEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct jv {
	const uint8_t *p, *end;
	int depth;
};

static bool jv_value(struct jv *v);

static void jv_ws(struct jv *v)
{
	while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' || *v->p == '\n' || *v->p == '\r'))
		v->p++;
}

static bool jv_utf8(struct jv *v)
{
	const uint8_t *s = v->p;
	size_t n = (size_t)(v->end - s), need;
	uint8_t lo = 0x80, hi = 0xbf;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return false;
	if (s[0] == 0xe0)
		lo = 0xa0;
	if (s[0] == 0xed)
		hi = 0x9f;
	if (s[0] == 0xf0)
		lo = 0x90;
	if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < need || s[1] < lo || s[1] > hi)
		return false;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return false;
	v->p += need;
	return true;
}

static bool jv_string(struct jv *v)
{
	if (v->p >= v->end || *v->p != '"')
		return false;
	v->p++;
	while (v->p < v->end) {
		uint8_t c = *v->p;
		if (c == '"') {
			v->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			v->p++;
			if (v->p >= v->end)
				return false;
			c = *v->p++;
			if (c == 'u') {
				for (int i = 0; i < 4; i++, v->p++)
					if (v->p >= v->end || !strchr("0123456789abcdefABCDEF", *v->p) || !*v->p)
						return false;
			} else if (!strchr("\"\\/bfnrt", c) || c == 0) {
				return false;
			}
			continue;
		}
		if (c < 0x80) {
			v->p++;
			continue;
		}
		if (!jv_utf8(v))
			return false;
	}
	return false;
}

static bool jv_lit(struct jv *v, const char *s)
{
	size_t n = strlen(s);
	if ((size_t)(v->end - v->p) < n || memcmp(v->p, s, n) != 0)
		return false;
	v->p += n;
	return true;
}

static bool jv_value(struct jv *v)
{
	jv_ws(v);
	if (v->p >= v->end || ++v->depth > 32)
		return false;
	bool ok = false;
	uint8_t c = *v->p;
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		v->p++;
		jv_ws(v);
		if (v->p < v->end && *v->p == close) {
			v->p++;
			ok = true;
		} else {
			for (;;) {
				jv_ws(v);
				if (c == '{') {
					if (!jv_string(v))
						break;
					jv_ws(v);
					if (v->p >= v->end || *v->p++ != ':')
						break;
				}
				if (!jv_value(v))
					break;
				jv_ws(v);
				if (v->p < v->end && *v->p == ',') {
					v->p++;
					continue;
				}
				if (v->p < v->end && *v->p == close) {
					v->p++;
					ok = true;
				}
				break;
			}
		}
	} else if (c == '"') {
		ok = jv_string(v);
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		/* Integers only: the writer never emits floats. */
		if (c == '-')
			v->p++;
		const uint8_t *d = v->p;
		while (v->p < v->end && *v->p >= '0' && *v->p <= '9')
			v->p++;
		ok = v->p > d && !(v->p - d > 1 && *d == '0') &&
		     !(v->p < v->end && (*v->p == '.' || *v->p == 'e' || *v->p == 'E'));
	} else {
		ok = jv_lit(v, "true") || jv_lit(v, "false") || jv_lit(v, "null");
	}
	v->depth--;
	return ok;
}

/* True when s[0..n) is exactly one JSON object with nothing around it. */
static bool json_valid(const char *s, size_t n)
{
	struct jv v = { (const uint8_t *)s, (const uint8_t *)s + n, 0 };
	if (n == 0 || s[0] != '{' || !jv_value(&v))
		return false;
	return v.p == v.end;
}

/* Reads a whole file (NUL-terminated); aborts the test on failure. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (b) {
		b[n] = '\0';
		if (len)
			*len = (size_t)n;
	}
	return b;
}

static int spit(const char *path, const char *s, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int rc = fwrite(s, 1, n, f) == n ? 0 : -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* A fresh temporary directory (path written into dir, 64 bytes). */
static void tmpdir_make(char dir[64])
{
	snprintf(dir, 64, "/tmp/sw-alert-test-XXXXXX");
	if (!mkdtemp(dir))
		abort();
}

static void tmpdir_remove(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

#endif
