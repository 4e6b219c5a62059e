/*
 * policy.c - parse and match the per-peer TLS policy (policy.h).
 *
 * Parsing is strict: any line that is not empty, a comment or a valid rule
 * fails the whole file with "FILE:LINE: reason", so a typo never turns a
 * rule into silence.  Matching allocates nothing.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"

#define POLICY_FILE_MAX (16u << 20) /* bytes read from a policy file */

const char *sw_pol_level_name(unsigned level)
{
	static const char *const n[] = { "none", "may", "encrypt", "verify" };
	return level < SW_ARRAY_LEN(n) ? n[level] : "?";
}

/* ---- errors ----------------------------------------------------------------- */

struct perr {
	const char *file;
	unsigned line;
	char *buf;
	size_t len;
};

static bool fail(struct perr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct perr *e, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (e->buf && e->len)
		snprintf(e->buf, e->len, "%s:%u: %s", e->file, e->line, msg);
	return false;
}

/* ---- pieces ----------------------------------------------------------------- */

/* Parse "ADDR" or "ADDR/LEN" (no brackets) into a network with host bits zero. */
static bool parse_cidr(struct perr *e, const char *s, uint8_t *ver, uint8_t addr[16], uint8_t *plen)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	if (strlen(s) >= sizeof tmp)
		return fail(e, "bad address '%.60s'", s);
	strcpy(tmp, s);
	char *slash = strchr(tmp, '/');
	long len = -1;
	if (slash) {
		*slash = 0;
		char *end;
		errno = 0;
		if (!isdigit((unsigned char)slash[1]))
			return fail(e, "bad prefix length in '%s'", s);
		len = strtol(slash + 1, &end, 10);
		if (errno || *end)
			return fail(e, "bad prefix length in '%s'", s);
	}
	memset(addr, 0, 16);
	if (strchr(tmp, ':')) {
		if (inet_pton(AF_INET6, tmp, addr) != 1)
			return fail(e, "bad IPv6 address '%s'", tmp);
		*ver = 6;
		if (len < 0)
			len = 128;
		if (len > 128)
			return fail(e, "prefix length %ld is over 128 in '%s'", len, s);
	} else {
		if (inet_pton(AF_INET, tmp, addr) != 1)
			return fail(e, "bad IPv4 address '%s'", tmp);
		*ver = 4;
		if (len < 0)
			len = 32;
		if (len > 32)
			return fail(e, "prefix length %ld is over 32 in '%s'", len, s);
	}
	*plen = (uint8_t)len;
	unsigned bytes = *ver == 4 ? 4 : 16;
	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = len >= (long)(8 * (i + 1)) ? 8 : len > (long)(8 * i) ? (unsigned)(len - 8 * i) : 0;
		uint8_t mask = keep ? (uint8_t)(0xff << (8 - keep)) : 0;
		if (addr[i] & ~mask)
			return fail(e, "host bits set in '%s' (prefix /%ld)", s, len);
	}
	return true;
}

static bool prefix_match(const uint8_t *net, uint8_t plen, const uint8_t *ip)
{
	unsigned full = plen / 8, rest = plen % 8;
	if (memcmp(net, ip, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (net[full] & mask) == (ip[full] & mask);
}

/* A DNS name: labels of letters, digits, '-' and '_', 1..63 bytes each. */
static bool valid_name(const char *s)
{
	size_t n = strlen(s), lab = 0;
	if (n == 0 || n > SW_POL_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (lab == 0)
				return false;
			lab = 0;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++lab > 63)
				return false;
		} else {
			return false;
		}
	}
	return lab > 0;
}

static bool parse_port(struct perr *e, const char *s, uint16_t *port)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*s))
		return fail(e, "bad port '%s'", s);
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return fail(e, "bad port '%s' (1-65535)", s);
	*port = (uint16_t)v;
	return true;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* The match field: *, ADDR[/LEN], NAME, .DOMAIN, or any of them in [] with :PORT. */
static bool parse_match(struct perr *e, char *m, struct sw_pol_rule *r)
{
	snprintf(r->text, sizeof r->text, "%s", m);
	char *body = m;
	if (m[0] == '[') {
		char *close = strchr(m, ']');
		if (!close)
			return fail(e, "'[' without ']' in '%s'", m);
		*close = 0;
		body = m + 1;
		if (close[1] == ':') {
			if (!parse_port(e, close + 2, &r->port))
				return false;
		} else if (close[1] != 0) {
			return fail(e, "unexpected '%s' after ']' (expected ':PORT')", close + 1);
		}
		if (*body == 0)
			return fail(e, "empty '[]'");
	} else if (strchr(m, ']')) {
		return fail(e, "']' without '['");
	}
	if (strcmp(body, "*") == 0) {
		r->match = SW_PM_ANY;
		return true;
	}
	bool looks_addr = strchr(body, ':') != NULL;
	if (!looks_addr) {
		/* Dotted digits (and a /LEN) only: an IPv4 address, not a name. */
		looks_addr = strpbrk(body, "0123456789") != NULL;
		for (const char *p = body; *p; p++)
			if (!isdigit((unsigned char)*p) && *p != '.' && *p != '/')
				looks_addr = false;
	}
	if (m == body && strchr(body, ':') && strchr(body, ':') == strrchr(body, ':'))
		return fail(e, "'%s': write a match with a port as [MATCH]:PORT", body);
	if (looks_addr || strchr(body, '/')) {
		r->match = SW_PM_ADDR;
		return parse_cidr(e, body, &r->ip_version, r->addr, &r->plen);
	}
	const char *name = body;
	if (name[0] == '*' && name[1] == '.')
		name++;
	if (name[0] == '.') {
		if (!valid_name(name + 1))
			return fail(e, "bad domain '%s'", body);
		r->match = SW_PM_SUFFIX;
	} else {
		if (!valid_name(name))
			return fail(e, "bad server name or address '%s'", body);
		r->match = SW_PM_NAME;
	}
	snprintf(r->name, sizeof r->name, "%s", name);
	lower(r->name);
	return true;
}

static bool parse_level(struct perr *e, const char *s, struct sw_pol_rule *r)
{
	for (unsigned i = SW_POL_NONE; i <= SW_POL_VERIFY; i++)
		if (strcmp(s, sw_pol_level_name(i)) == 0) {
			r->level = (uint8_t)i;
			return true;
		}
	return fail(e, "unknown level '%s' (none, may, encrypt or verify)", s);
}

static bool parse_option(struct perr *e, char *opt, struct sw_pol_rule *r, unsigned *seen)
{
	char *eq = strchr(opt, '=');
	if (!eq || eq == opt || eq[1] == 0)
		return fail(e, "bad option '%s' (expected NAME=VALUE)", opt);
	*eq = 0;
	const char *k = opt, *v = eq + 1;
	unsigned bit;
	if (strcmp(k, "min_version") == 0) {
		static const struct { const char *n; uint16_t v; } t[] = {
			{ "1.0", 0x0301 }, { "1.1", 0x0302 }, { "1.2", 0x0303 }, { "1.3", 0x0304 },
			{ "TLSv1", 0x0301 }, { "TLSv1.1", 0x0302 }, { "TLSv1.2", 0x0303 }, { "TLSv1.3", 0x0304 },
		};
		bit = 1;
		for (size_t i = 0; i < SW_ARRAY_LEN(t); i++)
			if (strcmp(v, t[i].n) == 0)
				r->min_version = t[i].v;
		if (!r->min_version)
			return fail(e, "bad min_version '%s' (1.0, 1.1, 1.2 or 1.3)", v);
	} else if (strcmp(k, "mode") == 0) {
		bit = 2;
		if (strcmp(v, "enforce") == 0)
			r->testing = false;
		else if (strcmp(v, "testing") == 0)
			r->testing = true;
		else
			return fail(e, "bad mode '%s' (enforce or testing)", v);
	} else if (strcmp(k, "client") == 0) {
		bit = 4;
		char tmp[96];
		snprintf(tmp, sizeof tmp, "%s", v);
		char *a = tmp;
		size_t l = strlen(a);
		if (a[0] == '[' && l > 2 && a[l - 1] == ']') {
			a[l - 1] = 0;
			a++;
		}
		if (!parse_cidr(e, a, &r->cli_version, r->cli, &r->cli_plen))
			return false;
		r->has_client = true;
	} else {
		return fail(e, "unknown option '%s' (min_version, mode or client)", k);
	}
	if (*seen & bit)
		return fail(e, "option '%s' given twice", k);
	*seen |= bit;
	return true;
}

/* One non-empty, comment-stripped line. */
static bool parse_rule(struct perr *e, char *line, struct sw_pol_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->line = e->line;
	r->level = SW_POL_MAY;
	char *save = NULL;
	char *m = strtok_r(line, " \t", &save);
	char *lv = strtok_r(NULL, " \t", &save);
	if (!m)
		return fail(e, "empty rule");
	if (!lv)
		return fail(e, "'%.60s' has no level (none, may, encrypt or verify)", m);
	if (!parse_match(e, m, r) || !parse_level(e, lv, r))
		return false;
	unsigned seen = 0;
	for (char *o; (o = strtok_r(NULL, " \t", &save));)
		if (!parse_option(e, o, r, &seen))
			return false;
	return true;
}

struct sw_policy *sw_policy_parse(const char *name, const char *text, size_t len,
				  char *err, size_t errlen)
{
	struct perr e = { name ? name : "policy", 0, err, errlen };
	struct sw_policy *p = calloc(1, sizeof(*p));
	uint32_t cap = 0;
	char line[SW_POL_LINE_MAX + 1];
	size_t pos = 0;
	if (!p) {
		fail(&e, "out of memory");
		return NULL;
	}
	while (pos < len) {
		e.line++;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const char *src = text + pos;
		pos += n + (nl ? 1 : 0);
		if (n > SW_POL_LINE_MAX) {
			fail(&e, "line longer than %u bytes", SW_POL_LINE_MAX);
			goto bad;
		}
		if (memchr(src, 0, n)) {
			fail(&e, "NUL byte in line");
			goto bad;
		}
		memcpy(line, src, n);
		line[n] = 0;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		for (char *c = line; *c; c++)
			if (*c == '\r')
				*c = ' ';
		if (line[strspn(line, " \t")] == 0)
			continue;
		if (p->n >= SW_POL_RULES_MAX) {
			fail(&e, "more than %u rules", SW_POL_RULES_MAX);
			goto bad;
		}
		if (p->n == cap) {
			uint32_t nc = cap ? cap * 2 : 16;
			struct sw_pol_rule *nr = realloc(p->rules, (size_t)nc * sizeof(*nr));
			if (!nr) {
				fail(&e, "out of memory");
				goto bad;
			}
			p->rules = nr;
			cap = nc;
		}
		if (!parse_rule(&e, line, &p->rules[p->n]))
			goto bad;
		p->n++;
	}
	return p;
bad:
	sw_policy_free(p);
	return NULL;
}

struct sw_policy *sw_policy_load(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > POLICY_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most %u bytes", path, POLICY_FILE_MAX);
		close(fd);
		return NULL;
	}
	size_t n = (size_t)st.st_size, have = 0;
	char *buf = malloc(n + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return NULL;
	}
	while (have < n) {
		ssize_t k = read(fd, buf + have, n - have);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		have += (size_t)k;
	}
	close(fd);
	struct sw_policy *p = sw_policy_parse(path, buf, have, err, errlen);
	free(buf);
	return p;
}

void sw_policy_free(struct sw_policy *p)
{
	if (!p)
		return;
	free(p->rules);
	free(p);
}

uint32_t sw_policy_rules(const struct sw_policy *p) { return p ? p->n : 0; }

/* ---- matching ---------------------------------------------------------------- */

static bool name_eq(const char *rule, const char *n)
{
	return strcasecmp(rule, n) == 0;
}

/* ".example.com" matches "mx.example.com", not "example.com". */
static bool name_suffix(const char *suffix, const char *n)
{
	size_t sl = strlen(suffix), nl = strlen(n);
	return nl > sl && strcasecmp(n + nl - sl, suffix) == 0;
}

static bool rule_matches(const struct sw_pol_rule *r, const struct sw_pol_query *q)
{
	if (r->port && r->port != q->server_port)
		return false;
	if (r->has_client) {
		if (!q->client_ip || r->cli_version != q->ip_version ||
		    !prefix_match(r->cli, r->cli_plen, q->client_ip))
			return false;
	}
	switch (r->match) {
	case SW_PM_ANY:
		return true;
	case SW_PM_ADDR:
		return q->server_ip && r->ip_version == q->ip_version &&
		       prefix_match(r->addr, r->plen, q->server_ip);
	case SW_PM_NAME:
	case SW_PM_SUFFIX:
		for (int i = 0; i < 2; i++) {
			const char *n = q->names[i];
			if (!n || !*n)
				continue;
			size_t l = strlen(n);
			char tmp[SW_POL_NAME_MAX + 2];
			if (l > SW_POL_NAME_MAX)
				continue;
			/* A name is compared without its trailing dot. */
			memcpy(tmp, n, l + 1);
			if (l > 1 && tmp[l - 1] == '.')
				tmp[l - 1] = 0;
			if (r->match == SW_PM_NAME ? name_eq(r->name, tmp) : name_suffix(r->name, tmp))
				return true;
		}
		return false;
	default:
		return false;
	}
}

const struct sw_pol_rule *sw_policy_match(const struct sw_policy *p, const struct sw_pol_query *q)
{
	if (!p)
		return NULL;
	for (uint32_t i = 0; i < p->n; i++)
		if (rule_matches(&p->rules[i], q))
			return &p->rules[i];
	return NULL;
}

void sw_policy_ref_fill(const struct sw_pol_rule *r, struct sw_policy_ref *out)
{
	memset(out, 0, sizeof(*out));
	if (!r)
		return;
	out->rule = r->text;
	out->line = r->line;
	out->level = sw_pol_level_name(r->level);
	out->mode = r->testing ? "testing" : "enforce";
	out->min_version = r->min_version;
}
