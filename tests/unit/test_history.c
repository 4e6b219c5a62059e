/*
 * test_history.c - the per-server history store: open, write, reopen;
 * threshold and flap-tolerance of each verdict; path fingerprints; aging
 * and the row cap; kill -9 in the middle of writes; hostile store files;
 * the `stripwatch history` table.  Every store lives in a mkdtemp dir.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "history.h"

#define NS 1000000000ull
#define T0 (1700000000ull * NS)

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/test_history.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct sw_history *open_h(uint32_t threshold, uint32_t max_rows)
{
	struct sw_history_opts o;
	char err[512];
	sw_history_opts_default(&o);
	o.dir = dir;
	o.threshold = threshold;
	if (max_rows)
		o.max_rows = max_rows;
	struct sw_history *h = sw_history_open(&o, err, sizeof err);
	if (!h)
		fail_msg("open: %s", err);
	return h;
}

static uint8_t SRV[16], SRV2[16], CLI[16];

static void addrs(void)
{
	memset(SRV, 0, 16);
	memset(SRV2, 0, 16);
	memset(CLI, 0, 16);
	inet_pton(AF_INET, "198.51.100.25", SRV);
	inet_pton(AF_INET, "198.51.100.26", SRV2);
	inet_pton(AF_INET, "192.0.2.10", CLI);
}

static struct sw_hist_server server(const uint8_t *ip, const char *name)
{
	struct sw_hist_server s = { 4, ip, 25, name };
	return s;
}

/* One SMTP session: offered or not, client used STARTTLS or not, TLS version. */
static void session(struct sw_history *h, const uint8_t *ip, const char *name, uint64_t ts, bool offered,
		    bool used, uint16_t version)
{
	struct sw_hist_session ss;
	memset(&ss, 0, sizeof ss);
	ss.srv = server(ip, name);
	ss.client_ip = CLI;
	ss.ts_ns = ts;
	ss.offered = offered ? SW_YES : SW_NO;
	ss.client_used = used;
	ss.tls_version = version;
	ss.tls_cipher = version == 0x0304 ? 0x1302 : 0xc030;
	sw_history_observe(h, &ss);
}

static enum sw_hist_verdict offer(struct sw_history *h, const uint8_t *ip, const char *name)
{
	struct sw_hist_server s = server(ip, name);
	char d[200];
	return sw_history_offer_verdict(h, &s, d, sizeof d);
}

static void test_threshold_and_persistence(void **state)
{
	(void)state;
	addrs();
	struct sw_history *h = open_h(3, 0);
	assert_int_equal(offer(h, SRV, NULL), SW_HV_UNKNOWN);
	session(h, SRV, "mx.lab.example", T0, true, true, 0x0304);
	session(h, SRV, "mx.lab.example", T0 + NS, true, true, 0x0304);
	assert_int_equal(offer(h, SRV, NULL), SW_HV_UNKNOWN); /* 2 < threshold */
	session(h, SRV, "mx.lab.example", T0 + 2 * NS, true, true, 0x0304);
	struct sw_hist_server s = server(SRV, NULL);
	char d[200];
	assert_int_equal(sw_history_offer_verdict(h, &s, d, sizeof d), SW_HV_ALERT);
	assert_string_equal(d, "this server offered STARTTLS in 3 of its last 3 sessions (history)");
	/* rows: server, name, client */
	assert_int_equal(sw_history_rows(h), 3);
	char err[256];
	assert_int_equal(sw_history_flush(h, err, sizeof err), 0);
	sw_history_close(h);

	/* Reopened: the same verdicts, from the file. */
	h = open_h(3, 0);
	assert_int_equal(sw_history_rows(h), 3);
	assert_int_equal(offer(h, SRV, NULL), SW_HV_ALERT);
	assert_int_equal(sw_history_version_verdict(h, &s, 0x0303, d, sizeof d), SW_HV_ALERT);
	assert_string_equal(d, "this server selected TLS 1.3 in 3 of its last 3 TLS sessions (history)");
	assert_int_equal(sw_history_version_verdict(h, &s, 0x0304, d, sizeof d), SW_HV_QUIET);
	assert_int_equal(sw_history_client_verdict(h, &s, CLI, d, sizeof d), SW_HV_ALERT);
	/* Another address known only by the same name: the name row decides. */
	assert_int_equal(offer(h, SRV2, NULL), SW_HV_UNKNOWN);
	assert_int_equal(offer(h, SRV2, "MX.lab.example"), SW_HV_ALERT);
	/* A higher threshold makes the same rows undecided. */
	sw_history_close(h);
	h = open_h(4, 0);
	assert_int_equal(offer(h, SRV, NULL), SW_HV_UNKNOWN);
	sw_history_close(h);
}

static void test_flapping_pool_stays_quiet(void **state)
{
	(void)state;
	addrs();
	struct sw_history *h = open_h(3, 0);
	/* A pool that omits STARTTLS in one session of three. */
	unsigned alerts = 0;
	for (unsigned i = 0; i < 60; i++) {
		bool offered = i % 3 != 2;
		if (!offered && offer(h, SRV, NULL) == SW_HV_ALERT)
			alerts++;
		session(h, SRV, NULL, T0 + i * NS, offered, offered, 0x0304);
	}
	assert_int_equal(alerts, 0);
	assert_int_equal(offer(h, SRV, NULL), SW_HV_QUIET);

	/* One miss in twenty is still an alert (90% rule)... */
	for (unsigned i = 0; i < 32; i++)
		session(h, SRV2, NULL, T0 + i * NS, i != 10, true, 0x0304);
	assert_int_equal(offer(h, SRV2, NULL), SW_HV_ALERT);
	/* ...and misses that keep coming fall below it: a flapping server is learned. */
	unsigned n = 0;
	while (offer(h, SRV2, NULL) == SW_HV_ALERT && n < 32)
		session(h, SRV2, NULL, T0 + (100 + n++) * NS, false, false, 0);
	assert_int_equal(n, 3); /* 31/32, 30/32, 29/32 alert; 28/32 does not */

	/* A server that never offered STARTTLS. */
	uint8_t plain[16] = { 198, 51, 100, 27 };
	for (unsigned i = 0; i < 5; i++)
		session(h, plain, NULL, T0 + i * NS, false, false, 0);
	assert_int_equal(offer(h, plain, NULL), SW_HV_QUIET);
	sw_history_close(h);
}

static void test_version_flap_and_client(void **state)
{
	(void)state;
	addrs();
	struct sw_history *h = open_h(3, 0);
	struct sw_hist_server s = server(SRV, NULL);
	char d[200];
	/* A pool of TLS 1.2 and 1.3 members: 1.2 is no downgrade. */
	for (unsigned i = 0; i < 12; i++)
		session(h, SRV, NULL, T0 + i * NS, true, true, i % 2 ? 0x0303 : 0x0304);
	assert_int_equal(sw_history_version_verdict(h, &s, 0x0303, d, sizeof d), SW_HV_QUIET);
	/* An upgrade to 1.3 everywhere starts a new window. */
	struct sw_hist_server s2 = server(SRV2, NULL);
	session(h, SRV2, NULL, T0, true, true, 0x0303);
	session(h, SRV2, NULL, T0 + NS, true, true, 0x0303);
	session(h, SRV2, NULL, T0 + 2 * NS, true, true, 0x0304);
	assert_int_equal(sw_history_version_verdict(h, &s2, 0x0303, d, sizeof d), SW_HV_UNKNOWN);
	session(h, SRV2, NULL, T0 + 3 * NS, true, true, 0x0304);
	session(h, SRV2, NULL, T0 + 4 * NS, true, true, 0x7f1c); /* a 1.3 draft counts as 1.3 */
	assert_int_equal(sw_history_version_verdict(h, &s2, 0x0303, d, sizeof d), SW_HV_ALERT);

	/* A client that sometimes skips STARTTLS is not "always used". */
	uint8_t c2[16] = { 192, 0, 2, 11 };
	for (unsigned i = 0; i < 10; i++) {
		struct sw_hist_session ss;
		memset(&ss, 0, sizeof ss);
		ss.srv = s;
		ss.client_ip = c2;
		ss.ts_ns = T0 + (50 + i) * NS;
		ss.offered = SW_YES;
		ss.client_used = i % 2;
		sw_history_observe(h, &ss);
	}
	assert_int_equal(sw_history_client_verdict(h, &s, c2, d, sizeof d), SW_HV_QUIET);
	assert_int_equal(sw_history_client_verdict(h, &s, CLI, d, sizeof d), SW_HV_ALERT);
	sw_history_close(h);
}

static void fp_session(struct sw_history *h, const uint8_t *ip, uint64_t ts, const struct sw_path_fp *fp)
{
	struct sw_hist_session ss;
	memset(&ss, 0, sizeof ss);
	ss.srv = server(ip, NULL);
	ss.client_ip = CLI;
	ss.ts_ns = ts;
	ss.has_fp = true;
	ss.fp = *fp;
	sw_history_observe(h, &ss);
}

static void test_path_fingerprint(void **state)
{
	(void)state;
	addrs();
	/* Linux SYN-ACK options: mss, sok, ts, nop, ws */
	const uint8_t kinds[] = { 2, 4, 8, 1, 3 };
	const uint8_t syn[] = { 2, 4, 8, 1, 3 };
	uint64_t opts = sw_path_opts_pack(kinds, 5);
	uint8_t cset = sw_path_syn_set(syn, 5);
	assert_int_equal(cset, 15);
	struct sw_path_fp far, near, other, nots;
	sw_path_fp_make(&far, 63, 65160, 1460, 7, opts, cset);   /* one hop away */
	sw_path_fp_make(&near, 64, 65160, 1460, 7, opts, cset);  /* zero hops: closer */
	sw_path_fp_make(&other, 127, 8192, 1460, 8, opts, cset); /* another stack */
	sw_path_fp_make(&nots, 64, 65160, 1460, 7, opts, 1);     /* client offered MSS only */
	char t[160];
	sw_path_fp_text(&far, t, sizeof t);
	assert_string_equal(t, "hops=1 ttl=63/64 win=65160 mss=1460 ws=7 opts=mss,sok,ts,nop,ws");

	struct sw_history *h = open_h(3, 0);
	struct sw_hist_server s = server(SRV, NULL);
	char d[400];
	assert_false(sw_history_path_changed(h, &s, &near, d, sizeof d)); /* no history */
	fp_session(h, SRV, T0, &far);
	fp_session(h, SRV, T0 + NS, &far);
	assert_false(sw_history_path_changed(h, &s, &near, d, sizeof d)); /* not stable yet */
	fp_session(h, SRV, T0 + 2 * NS, &far);
	assert_false(sw_history_path_changed(h, &s, &far, d, sizeof d));
	assert_true(sw_history_path_changed(h, &s, &near, d, sizeof d));
	assert_non_null(strstr(d, "SYN-ACK hops=0 ttl=64/64"));
	assert_non_null(strstr(d, "usual SYN-ACK hops=1 ttl=63/64"));
	assert_true(sw_history_path_changed(h, &s, &other, d, sizeof d));
	/* A client with other SYN options gets another SYN-ACK: not comparable. */
	assert_false(sw_history_path_changed(h, &s, &nots, d, sizeof d));
	char err[256];
	assert_int_equal(sw_history_flush(h, err, sizeof err), 0);
	sw_history_close(h);

	/* Reopened; learned from the near vantage, a farther one is no change. */
	h = open_h(3, 0);
	assert_true(sw_history_path_changed(h, &s, &near, d, sizeof d));
	struct sw_hist_server s2 = server(SRV2, NULL);
	for (unsigned i = 0; i < 3; i++)
		fp_session(h, SRV2, T0 + i * NS, &near);
	assert_false(sw_history_path_changed(h, &s2, &far, d, sizeof d));
	/* Two back ends behind one address: once both are stable, neither alerts. */
	for (unsigned i = 0; i < 3; i++)
		fp_session(h, SRV2, T0 + (10 + i) * NS, &other);
	assert_false(sw_history_path_changed(h, &s2, &other, d, sizeof d));
	assert_false(sw_history_path_changed(h, &s2, &near, d, sizeof d));
	sw_history_close(h);
}

static void test_aging_and_cap(void **state)
{
	(void)state;
	addrs();
	struct sw_history *h = open_h(3, 16);
	char err[256];
	/* An old server, then 90+ days later a new one: the old row ages out. */
	session(h, SRV, NULL, T0, true, false, 0);
	session(h, SRV2, NULL, T0 + 91ull * 86400 * NS, false, false, 0);
	assert_int_equal(sw_history_rows(h), 3);
	assert_int_equal(sw_history_flush(h, err, sizeof err), 0);
	assert_int_equal(sw_history_rows(h), 1);
	sw_history_close(h);
	h = open_h(3, 16);
	assert_int_equal(sw_history_rows(h), 1);
	assert_int_equal(offer(h, SRV, NULL), SW_HV_UNKNOWN);

	/* 40 servers into 16 rows: bounded, and the most recent are kept. */
	for (unsigned i = 0; i < 40; i++) {
		uint8_t ip[16] = { 203, 0, 113, (uint8_t)i };
		for (unsigned k = 0; k < 3; k++)
			session(h, ip, NULL, T0 + 92ull * 86400 * NS + (i * 3 + k) * NS, true, false, 0);
		assert_true(sw_history_rows(h) <= 16);
	}
	uint8_t last[16] = { 203, 0, 113, 39 }, first[16] = { 203, 0, 113, 0 };
	assert_int_equal(offer(h, last, NULL), SW_HV_ALERT);
	assert_int_equal(offer(h, first, NULL), SW_HV_UNKNOWN);
	assert_int_equal(sw_history_flush(h, err, sizeof err), 0);
	sw_history_close(h);

	/* The file holds no more than the cap either. */
	char path[128];
	snprintf(path, sizeof path, "%s/history.db", dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM peer", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_true(sqlite3_column_int(st, 0) <= 16);
	assert_true(sqlite3_column_int(st, 0) >= 10);
	sqlite3_finalize(st);
	sqlite3_close(db);
	h = open_h(3, 16);
	assert_int_equal(offer(h, last, NULL), SW_HV_ALERT);
	sw_history_close(h);
}

/* Writer: sessions for ever, a flush after each batch; killed by the parent. */
static void writer(int ready)
{
	struct sw_history_opts o;
	char err[256];
	sw_history_opts_default(&o);
	o.dir = dir;
	o.flush_interval_ns = 0;
	struct sw_history *h = sw_history_open(&o, err, sizeof err);
	if (!h)
		_exit(3);
	for (uint64_t i = 0;; i++) {
		uint8_t ip[16] = { 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
		session(h, ip, "pool.lab.example", T0 + i * NS, true, true, 0x0304);
		session(h, SRV, "mx.lab.example", T0 + i * NS, true, true, 0x0304);
		if (i % 64 == 63 && sw_history_flush(h, err, sizeof err) != 0)
			_exit(4);
		if (i == 63 && write(ready, "r", 1) != 1) /* the first batch is committed */
			_exit(5);
	}
}

static void test_kill_during_writes(void **state)
{
	(void)state;
	addrs();
	srand((unsigned)time(NULL));
	for (int round = 0; round < 6; round++) {
		int pfd[2];
		assert_int_equal(pipe(pfd), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			writer(pfd[1]);
		}
		close(pfd[1]);
		char c;
		assert_int_equal(read(pfd[0], &c, 1), 1);
		close(pfd[0]);
		struct timespec ts = { 0, (long)(5 + rand() % 200) * 1000000L };
		nanosleep(&ts, NULL);
		int status;
		assert_int_equal(waitpid(pid, &status, WNOHANG), 0); /* still writing */
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		assert_true(WIFSIGNALED(status));
		/* The store opens (quick_check passes) and what was committed decides. */
		struct sw_history *h = open_h(3, 0);
		assert_true(sw_history_rows(h) > 0);
		assert_int_equal(offer(h, SRV, NULL), SW_HV_ALERT);
		assert_int_equal(offer(h, SRV2, "pool.lab.example"), SW_HV_ALERT);
		/* And it keeps learning and writing. */
		session(h, SRV, NULL, T0 + 5000000ull * NS, false, false, 0);
		char err[256];
		assert_int_equal(sw_history_flush(h, err, sizeof err), 0);
		sw_history_close(h);
	}
}

static void test_hostile_store(void **state)
{
	(void)state;
	addrs();
	struct sw_history *h = open_h(3, 0);
	session(h, SRV, NULL, T0, true, true, 0x0304);
	sw_history_close(h);
	char path[128], err[512];
	snprintf(path, sizeof path, "%s/history.db", dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"INSERT INTO peer (key, kind, last_seen, win, win_n, fps, ciphers) VALUES "
		"('s|not-an-ip|25','server',1,0,0,'',''),"
		"('s|198.51.100.99|99999','server',1,0,0,'',''),"
		"('x|y','server',1,0,0,'',''),"
		"('c|192.0.2.1|2001:db8::1|25','client',1,0,0,'',''),"
		"('n|" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "|25','name',1,0,0,'',''),"
		"('s|198.51.100.98|25','server',2,-1,9999,'64/1/65535/1460/7/15/ffffffffffffffff:5;junk','zz,1302,')",
		NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	h = open_h(3, 0);
	assert_int_equal(sw_history_rows(h), 3); /* server, client + the junk-valued row; the rest skipped */
	uint8_t ip[16] = { 198, 51, 100, 98 };
	struct sw_hist_server s = server(ip, NULL);
	char d[200];
	/* Out-of-range values are clamped (win -1 -> 0, win_n 9999 -> 32): 0 of 32. */
	assert_int_equal(sw_history_offer_verdict(h, &s, d, sizeof d), SW_HV_QUIET);
	assert_string_equal(d, "this server offered STARTTLS in 0 of its last 32 sessions (history)");
	sw_history_close(h);

	/* A file that is not a database is refused with a clear error. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("this is not an SQLite database, just text long enough to be read as a header....\n", f);
	fclose(f);
	char wal[160];
	snprintf(wal, sizeof wal, "%s-wal", path);
	unlink(wal);
	snprintf(wal, sizeof wal, "%s-shm", path);
	unlink(wal);
	struct sw_history_opts o;
	sw_history_opts_default(&o);
	o.dir = dir;
	assert_null(sw_history_open(&o, err, sizeof err));
	assert_non_null(strstr(err, "history.db"));
	unlink(path);
}

static void test_print(void **state)
{
	(void)state;
	addrs();
	struct sw_history *h = open_h(3, 0);
	for (unsigned i = 0; i < 4; i++)
		session(h, SRV, "mx.lab.example", T0 + i * NS, i != 3, i != 3, i == 1 ? 0x0303 : 0x0304);
	sw_history_close(h);
	char out[] = "/tmp/test_history_print.XXXXXX", err[256];
	int fd = mkstemp(out);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w+");
	assert_int_equal(sw_history_print(dir, f, err, sizeof err), 0);
	rewind(f);
	char buf[4096];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	unlink(out);
	assert_non_null(strstr(buf, "198.51.100.25:25"));
	assert_non_null(strstr(buf, "mx.lab.example"));
	assert_non_null(strstr(buf, "75%"));
	assert_non_null(strstr(buf, "1.2,1.3"));
	assert_non_null(strstr(buf, "TLS_AES_256_GCM_SHA384"));
	assert_non_null(strstr(buf, "2023-11-14 22:13"));
	assert_non_null(strstr(buf, "used STARTTLS in 3 of 3"));
	assert_int_equal(sw_history_print("/nonexistent-dir", stdout, err, sizeof err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_threshold_and_persistence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flapping_pool_stays_quiet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_flap_and_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_fingerprint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aging_and_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_during_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
