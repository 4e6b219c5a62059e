/*
 * main.c - the stripwatch command: wires capture -> dissect -> alert.
 *
 *   stripwatch [options] -r FILE [-r FILE ...]     capture files, one timeline
 *   stripwatch [options] -i IFACE [BPF filter ...]  live capture
 *   stripwatch keygen -s SECRET -p PUBLIC [--force]
 *   stripwatch verify -p PUBLIC [-p PUBLIC ...] [--open] [--json] FILE ...
 *   stripwatch history [--state DIR]
 *
 * Exit status: 0 all input read; 1 an input file was corrupt or unreadable
 * (every event before the error is kept); 2 usage error or a failure to
 * start (output, key, interface).
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <ndpi_api.h>

#include "keys.h"
#include "sw_alert.h"
#include "sw_config.h"
#include "workers.h"

#define MAX_FILES 4096

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reopen_requested;
static volatile sig_atomic_t policy_requested;
static volatile sig_atomic_t stats_requested;
static struct sw_source *live_src;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
	if (live_src)
		sw_source_break(live_src);
}

static void on_hup(int sig)
{
	(void)sig;
	reopen_requested = 1;
}

static void on_usr2(int sig)
{
	(void)sig;
	policy_requested = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	stats_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: stripwatch [options] -r FILE [-r FILE ...]\n"
		"       stripwatch [options] -i IFACE [BPF filter ...]\n"
		"       stripwatch keygen -s SECRET -p PUBLIC [--force]\n"
		"       stripwatch verify -p PUBLIC [-p PUBLIC ...] [--open] [--json] FILE ...\n"
		"       stripwatch history [--state DIR]\n"
		"\n"
		"Watches SMTP, IMAP, POP3 and TLS for STARTTLS stripping and TLS downgrades;\n"
		"writes signed EVE-shaped JSON lines.\n"
		"\n"
		"input:\n"
		"  -r FILE            read a pcap or pcapng file (repeat: one timeline, in order)\n"
		"  -i IFACE           capture live; trailing arguments are a BPF filter\n"
		"  -s SNAPLEN         live snapshot length (default 262144)\n"
		"  -p                 live: do not put the interface in promiscuous mode\n"
		"  -B MIB             live: kernel ring size in MiB (default 64)\n"
		"  -c COUNT           stop after COUNT packets\n"
		"  --workers N        N dissecting threads (default 1), split by server endpoint:\n"
		"                     files through one reader, live through a PACKET_FANOUT\n"
		"                     group; event order then varies between runs\n"
		"  -Z USER            after opening the capture, output and key, run as USER\n"
		"output:\n"
		"  -o FILE            write events to FILE (default: standard output)\n"
		"  -a, --append       append to FILE, continuing its chain\n"
		"  -k FILE            secret key (default: the state directory's key)\n"
		"  --host NAME        sensor name in the \"host\" member (default: host name)\n"
		"  --no-flow          no flow events\n"
		"  --stats-interval S live: a stats event every S seconds (default 60)\n"
		"  --syslog[=FAC]     also send each alert to syslog, facility FAC (default local5)\n"
		"  --no-sign          chain lines but do not sign them (testing only)\n"
		"detection:\n"
		"  --tls-floor V      lowest acceptable TLS version: 1.0, 1.1, 1.2, 1.3 (default 1.2)\n"
		"  --max-flows N      flow table size (default 524288)\n"
		"  --no-ndpi          do not classify flows on unknown ports with nDPI\n"
		"  --policy FILE      per-peer TLS policy (none/may/encrypt/verify); SIGUSR2 reloads it\n"
		"  --state DIR        keep per-server history in DIR (live default: the state\n"
		"                     directory; with -r only when given)\n"
		"  --history-threshold N  sessions of history before it decides (1-32, default 3)\n"
		"  -h, --help         this text\n"
		"  -V, --version      versions of stripwatch and its libraries\n"
		"\n"
		"Exit status: 0 all input read, 1 an input file was bad, 2 usage or start-up error.\n");
}

static void version(void)
{
	printf("stripwatch %s\n%s\nnDPI %s\nlibsodium %s\n", SW_VERSION, pcap_lib_version(),
	       ndpi_revision(), sodium_version_string());
}

/* --syslog=NAME: the facilities of syslog(3) by their usual names. */
static bool parse_facility(const char *s, int *out)
{
	static const struct { const char *name; int v; } t[] = {
		{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV }, { "daemon", LOG_DAEMON },
		{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
		{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
		{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 }, { "mail", LOG_MAIL },
		{ "security", LOG_AUTH }, { "syslog", LOG_SYSLOG }, { "user", LOG_USER },
	};
	for (size_t i = 0; i < SW_ARRAY_LEN(t); i++)
		if (strcmp(s, t[i].name) == 0) {
			*out = t[i].v;
			return true;
		}
	return false;
}

/*
 * -Z: the output file was opened (and maybe created) as root; give it to
 * the user so that SIGHUP can reopen it under the same name.  lchown()
 * never follows a link planted at the path.
 */
static void give_output(const char *path, uid_t uid, gid_t gid)
{
	struct stat st;
	if (!path || strcmp(path, "-") == 0 || lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return;
	if (st.st_uid == 0 && lchown(path, uid, gid) != 0)
		fprintf(stderr, "stripwatch: -Z: cannot give %s to uid %u: %s\n", path,
			(unsigned)uid, strerror(errno));
}

/*
 * Become `user` for good: supplementary groups, gid, then uid.  Run after
 * everything that needs root is open.  Setting the uid away from 0 clears
 * every capability; no_new_privs keeps it that way.
 */
static int drop_privileges(const char *user, const char *out_path)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		fprintf(stderr, "stripwatch: -Z: no user '%s'\n", user);
		return -1;
	}
	give_output(out_path, pw->pw_uid, pw->pw_gid);
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		fprintf(stderr, "stripwatch: -Z %s: %s\n", user, strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		fprintf(stderr, "stripwatch: -Z %s: root could be regained\n", user);
		return -1;
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return 0;
}

static bool parse_floor(const char *s, uint16_t *out)
{
	static const struct { const char *name; uint16_t v; } t[] = {
		{ "1.0", 0x0301 }, { "1.1", 0x0302 }, { "1.2", 0x0303 }, { "1.3", 0x0304 },
	};
	for (size_t i = 0; i < SW_ARRAY_LEN(t); i++)
		if (strcmp(s, t[i].name) == 0) {
			*out = t[i].v;
			return true;
		}
	return false;
}

static bool parse_count(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return false;
	*out = v;
	return true;
}

struct run {
	struct sw_source *src;       /* NULL with live workers: each reads its own */
	struct sw_source *srcs[SW_WORKERS_MAX]; /* live workers: the fanout group */
	struct sw_engine *eng;       /* one worker: the engine; NULL with ws */
	struct sw_workers *ws;       /* --workers N > 1 */
	unsigned n_workers;
	struct sw_alert *out;
	const char *policy_path;     /* --policy, for SIGUSR2 */
	uint64_t last_ts;
	uint64_t caps_reported;
	uint64_t kernel_drops_reported;
};

/*
 * The counters of one report: the source's and the engine's, or the
 * workers' summed (live workers: their sockets' too, from one snapshot).
 */
static void collect_stats(struct run *r, struct sw_capture_stats *cs, struct sw_dissect_stats *ds)
{
	if (r->ws)
		sw_workers_stats(r->ws, ds, r->src ? NULL : cs);
	else
		sw_engine_stats(r->eng, ds);
	if (r->src)
		sw_source_stats(r->src, cs);
}

static void raise_sensor(struct run *r, const char *detail)
{
	if (r->ws)
		sw_workers_raise_sensor(r->ws, r->last_ts, detail);
	else
		sw_engine_raise_sensor(r->eng, r->last_ts, detail);
}

/* Raise sensor_degraded once per report when caps were hit or packets dropped. */
static void check_degraded(struct run *r)
{
	struct sw_capture_stats cs;
	struct sw_dissect_stats ds;
	collect_stats(r, &cs, &ds);
	char detail[160];
	if (cs.kernel_dropped > r->kernel_drops_reported) {
		snprintf(detail, sizeof(detail), "%llu packets dropped by the kernel",
			 (unsigned long long)(cs.kernel_dropped - r->kernel_drops_reported));
		r->kernel_drops_reported = cs.kernel_dropped;
		raise_sensor(r, detail);
	}
	if (ds.caps_hit > r->caps_reported) {
		snprintf(detail, sizeof(detail), "%llu caps hit (flow table or reassembly buffers)",
			 (unsigned long long)(ds.caps_hit - r->caps_reported));
		r->caps_reported = ds.caps_hit;
		raise_sensor(r, detail);
	}
}

static void write_stats(struct run *r)
{
	struct sw_capture_stats cs;
	struct sw_dissect_stats ds;
	collect_stats(r, &cs, &ds);
	sw_alert_stats(r->out, r->last_ts, &cs, &ds);
}

/*
 * SIGUSR2: load the policy file again.  A file that does not parse leaves
 * the policy in force unchanged; that is said on stderr and as a
 * sensor_degraded event naming the file and line.
 */
static void reload_policy(struct run *r)
{
	char err[512], detail[640];
	if (!r->policy_path) {
		fprintf(stderr, "stripwatch: SIGUSR2: no --policy file to reload\n");
		return;
	}
	struct sw_policy *p = sw_policy_load(r->policy_path, err, sizeof(err));
	if (!p) {
		snprintf(detail, sizeof(detail), "policy reload failed, the previous policy stays in force: %s",
			 err);
		fprintf(stderr, "stripwatch: %s\n", detail);
		raise_sensor(r, detail);
		return;
	}
	uint32_t rules = sw_policy_rules(p);
	if (r->ws) {
		/*
		 * Workers: one copy per engine, each taken between two of its
		 * packets.  A failure is said here only: an event would have
		 * to come from a worker's engine while it runs.
		 */
		sw_workers_set_policy(r->ws, 0, p);
		for (unsigned i = 1; i < r->n_workers; i++) {
			struct sw_policy *q = sw_policy_load(r->policy_path, err, sizeof(err));
			if (!q) {
				fprintf(stderr, "stripwatch: policy reload for worker %u failed: %s\n", i, err);
				continue;
			}
			sw_workers_set_policy(r->ws, i, q);
		}
	} else {
		sw_policy_free(sw_engine_set_policy(r->eng, p));
	}
	fprintf(stderr, "stripwatch: policy %s reloaded (%u rules)\n", r->policy_path, rules);
}

/* The state directory as alert/keys.c finds it (no directory is created). */
static int default_state_dir(char *dir, size_t n, char *err, size_t errlen)
{
	char sec[4200], pub[4200];
	if (sw_key_default_paths(sec, pub, sizeof(sec), false, err, errlen) != 0)
		return -1;
	char *slash = strrchr(sec, '/');
	if (slash)
		*slash = 0;
	snprintf(dir, n, "%s", sec);
	return 0;
}

/* `stripwatch history [--state DIR]`: 0 printed, 1 no store or unreadable, 2 usage. */
static int cmd_history(int argc, char **argv)
{
	const char *dir = NULL;
	char dbuf[4200], err[512];
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			dir = argv[++i];
		} else if (strncmp(argv[i], "--state=", 8) == 0) {
			dir = argv[i] + 8;
		} else {
			fprintf(stderr, "usage: stripwatch history [--state DIR]\n");
			return 2;
		}
	}
	if (!dir) {
		if (default_state_dir(dbuf, sizeof(dbuf), err, sizeof(err)) != 0) {
			fprintf(stderr, "stripwatch history: %s\n", err);
			return 1;
		}
		dir = dbuf;
	}
	if (sw_history_print(dir, stdout, err, sizeof(err)) != 0) {
		fprintf(stderr, "stripwatch history: %s\n", err);
		return 1;
	}
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* SIGHUP: reopen the output (through the workers when they write); SIGUSR2: reload the policy. */
static void handle_requests(struct run *r)
{
	if (reopen_requested) {
		char err[256];
		reopen_requested = 0;
		int rc = r->ws ? sw_workers_reopen(r->ws, err, sizeof(err)) : sw_alert_reopen(r->out, err, sizeof(err));
		if (rc != 0)
			fprintf(stderr, "stripwatch: %s\n", err);
	}
	if (policy_requested) {
		policy_requested = 0;
		reload_policy(r);
	}
}

/* Live: checkpoints due by the clock, stats at the interval and on SIGUSR1. */
static void keep_time(struct run *r, uint64_t now, uint64_t *next_tick, uint64_t *next_stats,
		      uint64_t stats_interval_ns)
{
	if (now >= *next_tick) {
		/* Due checkpoints by time, and buffered lines out. */
		*next_tick = now + 1000000000ull;
		sw_alert_tick(r->out, r->last_ts);
	}
	if (now >= *next_stats) {
		/* sensor_degraded at most once per interval, beside its stats. */
		stats_requested = 0;
		*next_stats = now + stats_interval_ns;
		check_degraded(r);
		write_stats(r);
	} else if (stats_requested) {
		/* SIGUSR1: counters now; drops are raised at the interval. */
		stats_requested = 0;
		write_stats(r);
	}
}

/*
 * Live with workers: each worker reads its own socket; this thread keeps
 * time (checkpoints, stats, sensor_degraded) and answers signals until a
 * stop, -c packets in all, or a failed socket.
 */
static int run_live_workers(struct run *r, uint64_t stats_interval_ns)
{
	uint64_t next_stats = now_ns() + stats_interval_ns;
	uint64_t next_tick = 0;

	/* A failed socket ends the run (exit 1), as with one worker: its share would go unseen. */
	while (!stop_requested && sw_workers_running(r->ws) && !sw_workers_failed(r->ws)) {
		struct timespec nap = { 0, 20000000 };
		nanosleep(&nap, NULL); /* a signal ends it early */
		r->last_ts = sw_workers_last_ts(r->ws);
		keep_time(r, now_ns(), &next_tick, &next_stats, stats_interval_ns);
		handle_requests(r);
	}
	sw_workers_finish(r->ws, 0);
	r->last_ts = sw_workers_last_ts(r->ws);
	return sw_workers_failed(r->ws) ? 1 : 0;
}

/*
 * The prefetch pipeline of one engine on files: the source reads
 * PREFETCH_DEPTH packets ahead, each is hashed once when it appears, and
 * before each packet the engine prefetches the table slot of the farthest
 * and the flow of the one after the current (sw_engine_prefetch()).
 * Measured on bench-1g (bench/README.md): depth 2 pays; 1 hides too little,
 * 3 or 4 with the flow's dissector state prefetched as well did not pay.
 */
#define PREFETCH_DEPTH 2

struct pipeline {
	unsigned depth;               /* 0: no prefetch */
	unsigned n;                   /* hash[0, n): the next packet and those read ahead */
	uint32_t hash[SW_SOURCE_MAX_LOOKAHEAD + 1];
};

/* Prefetch for the packets read ahead of pkt; pkt's flow hash. */
static uint32_t pipeline_step(struct pipeline *pl, struct sw_source *src, struct sw_engine *e,
			      const struct sw_packet *pkt)
{
	/* The ring returns the packets it read ahead next and in order: hash[0] is pkt's. */
	if (pl->n == 0)
		pl->hash[pl->n++] = sw_engine_flow_hash(e, pkt);
	for (const struct sw_packet *q; pl->n <= pl->depth && (q = sw_source_peek(src, pl->n - 1));)
		pl->hash[pl->n++] = sw_engine_flow_hash(e, q);
	sw_engine_prefetch(e, pl->hash + 1, pl->n - 1);
	uint32_t h = pl->hash[0];
	pl->n--;
	/* A fixed size: a few register moves, not a call. */
	memmove(pl->hash, pl->hash + 1, sizeof(pl->hash) - sizeof(pl->hash[0]));
	return h;
}

static int run_loop(struct run *r, bool live, uint64_t max_packets, uint64_t stats_interval_ns)
{
	int status = 0;
	uint32_t cur_file = UINT32_MAX;
	uint64_t n = 0;
	uint64_t next_stats = live ? now_ns() + stats_interval_ns : 0;
	uint64_t next_tick = 0;
	struct sw_packet pkt;
	struct pipeline pl = { 0 };

	/* Not with -c: packets read ahead of the last one would be counted as read. */
	if (!live && !r->ws && !max_packets) {
		pl.depth = PREFETCH_DEPTH;
		sw_source_set_lookahead(r->src, pl.depth);
	}
	while (!stop_requested) {
		int rc = sw_source_next(r->src, &pkt);
		if (rc < 0) {
			fprintf(stderr, "%s\n", sw_source_error(r->src));
			status = 1;
			if (live)
				break;
			continue;
		}
		if (rc == 0 && !live)
			break;
		if (rc > 0) {
			if (r->ws) {
				/* Workers dissect; each names the file of its own latest packet. */
				cur_file = pkt.file_no;
				sw_workers_packet(r->ws, &pkt);
			} else {
				if (!live && pkt.file_no != cur_file) {
					cur_file = pkt.file_no;
					sw_alert_set_pcap_filename(r->out, sw_source_filename(r->src));
				}
				if (pl.depth)
					sw_engine_packet_hashed(r->eng, &pkt, pipeline_step(&pl, r->src, r->eng, &pkt));
				else
					sw_engine_packet(r->eng, &pkt);
			}
			if (pkt.ts_ns > r->last_ts)
				r->last_ts = pkt.ts_ns;
			if (max_packets && ++n >= max_packets)
				break;
		}
		if (live) {
			uint64_t now = now_ns();
			if (rc == 0) {
				/* A quiet link: age flows by the clock. */
				if (now > r->last_ts)
					r->last_ts = now;
				sw_engine_expire(r->eng, r->last_ts);
			}
			keep_time(r, now, &next_tick, &next_stats, stats_interval_ns);
		}
		handle_requests(r);
	}
	/* The workers drain their rings and flush their engines. */
	if (r->ws)
		sw_workers_finish(r->ws, cur_file == UINT32_MAX ? 0 : cur_file);
	return status;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "keygen") == 0)
		return sw_cmd_keygen(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "verify") == 0)
		return sw_cmd_verify(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "history") == 0)
		return cmd_history(argc - 1, argv + 1);

	enum { O_HOST = 256, O_NOFLOW, O_NOSIGN, O_FLOOR, O_MAXFLOWS, O_NONDPI, O_STATS, O_SYSLOG,
	       O_POLICY, O_STATE, O_HTHRESH, O_WORKERS };
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "append", no_argument, NULL, 'a' },
		{ "host", required_argument, NULL, O_HOST },
		{ "no-flow", no_argument, NULL, O_NOFLOW },
		{ "no-sign", no_argument, NULL, O_NOSIGN },
		{ "tls-floor", required_argument, NULL, O_FLOOR },
		{ "max-flows", required_argument, NULL, O_MAXFLOWS },
		{ "no-ndpi", no_argument, NULL, O_NONDPI },
		{ "stats-interval", required_argument, NULL, O_STATS },
		{ "syslog", optional_argument, NULL, O_SYSLOG },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "state", required_argument, NULL, O_STATE },
		{ "history-threshold", required_argument, NULL, O_HTHRESH },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ NULL, 0, NULL, 0 },
	};
	static const char *files[MAX_FILES];
	size_t n_files = 0;
	struct sw_live_opts live = { 0 };
	struct sw_alert_opts ao;
	struct sw_dissect_config dc;
	uint64_t max_packets = 0, v;
	uint64_t stats_interval_ns = 60ull * 1000000000ull;
	const char *run_as = NULL;
	const char *policy_path = NULL;
	struct sw_policy *policy = NULL;
	struct sw_history *hist = NULL;
	struct sw_history_opts ho;
	char state_buf[4200];
	unsigned n_workers = 1;
	int c;

	sw_history_opts_default(&ho);

	sw_alert_opts_default(&ao);
	sw_dissect_config_default(&dc);
	/* '+': stop at the first non-option, so a trailing BPF filter is left alone. */
	while ((c = getopt_long(argc, argv, "+r:i:o:ak:s:pB:c:Z:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (n_files >= MAX_FILES) {
				fprintf(stderr, "stripwatch: more than %d files\n", MAX_FILES);
				return 2;
			}
			files[n_files++] = optarg;
			break;
		case 'i':
			live.iface = optarg;
			break;
		case 'o':
			ao.out_path = optarg;
			break;
		case 'a':
			ao.append = true;
			break;
		case 'k':
			ao.key_path = optarg;
			break;
		case 's':
			if (!parse_count(optarg, 262144, &v) || v < 64) {
				fprintf(stderr, "stripwatch: bad snaplen '%s'\n", optarg);
				return 2;
			}
			live.snaplen = (int)v;
			break;
		case 'p':
			live.no_promisc = true;
			break;
		case 'B':
			if (!parse_count(optarg, 4096, &v) || v == 0) {
				fprintf(stderr, "stripwatch: bad buffer size '%s' (MiB, 1-4096)\n", optarg);
				return 2;
			}
			live.buffer_mb = (int)v;
			break;
		case 'c':
			if (!parse_count(optarg, UINT64_MAX, &max_packets) || max_packets == 0) {
				fprintf(stderr, "stripwatch: bad count '%s'\n", optarg);
				return 2;
			}
			break;
		case 'Z':
			run_as = optarg;
			break;
		case O_HOST:
			ao.host = optarg;
			break;
		case O_NOFLOW:
			ao.flow_events = false;
			dc.flow_events = false;
			break;
		case O_NOSIGN:
			ao.no_sign = true;
			break;
		case O_FLOOR:
			if (!parse_floor(optarg, &dc.tls_floor)) {
				fprintf(stderr, "stripwatch: bad --tls-floor '%s' (1.0, 1.1, 1.2 or 1.3)\n", optarg);
				return 2;
			}
			break;
		case O_MAXFLOWS:
			if (!parse_count(optarg, 1u << 26, &v) || v < 16) {
				fprintf(stderr, "stripwatch: bad --max-flows '%s' (16 to 67108864)\n", optarg);
				return 2;
			}
			dc.max_flows = (uint32_t)v;
			break;
		case O_NONDPI:
			dc.use_ndpi = false;
			break;
		case O_STATS:
			if (!parse_count(optarg, 86400, &v) || v == 0) {
				fprintf(stderr, "stripwatch: bad --stats-interval '%s' (1-86400 s)\n", optarg);
				return 2;
			}
			stats_interval_ns = v * 1000000000ull;
			break;
		case O_SYSLOG:
			if (!optarg) {
				ao.syslog_facility = LOG_LOCAL5;
			} else if (!parse_facility(optarg, &ao.syslog_facility)) {
				fprintf(stderr, "stripwatch: bad --syslog facility '%s' (local0-local7, "
						"daemon, mail, user, auth, authpriv, syslog)\n", optarg);
				return 2;
			}
			break;
		case O_POLICY:
			policy_path = optarg;
			break;
		case O_STATE:
			ho.dir = optarg;
			break;
		case O_HTHRESH:
			if (!parse_count(optarg, 32, &v) || v == 0) {
				fprintf(stderr, "stripwatch: bad --history-threshold '%s' (1-32)\n", optarg);
				return 2;
			}
			ho.threshold = (uint32_t)v;
			break;
		case O_WORKERS:
			if (!parse_count(optarg, SW_WORKERS_MAX, &v) || v == 0) {
				fprintf(stderr, "stripwatch: bad --workers '%s' (1-%d)\n", optarg,
					SW_WORKERS_MAX);
				return 2;
			}
			n_workers = (unsigned)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			version();
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if ((n_files == 0) == (live.iface == NULL)) {
		fprintf(stderr, "stripwatch: give capture files with -r, or an interface with -i\n");
		usage(stderr);
		return 2;
	}
	char *bpf = NULL;
	if (optind < argc) {
		if (!live.iface) {
			fprintf(stderr, "stripwatch: unexpected argument '%s'\n", argv[optind]);
			return 2;
		}
		size_t len = 1;
		for (int i = optind; i < argc; i++)
			len += strlen(argv[i]) + 1;
		bpf = calloc(1, len);
		if (!bpf)
			return 2;
		for (int i = optind; i < argc; i++) {
			if (i > optind)
				strcat(bpf, " ");
			strcat(bpf, argv[i]);
		}
		live.bpf = bpf;
	}

	char err[512];
	struct run r = { 0 };
	int status = 2;
	/* Policy and history before any output: a bad policy file stops here (exit 2). */
	if (policy_path && !(policy = sw_policy_load(policy_path, err, sizeof(err)))) {
		fprintf(stderr, "stripwatch: %s\n", err);
		free(bpf);
		return 2;
	}
	r.policy_path = policy_path;
	if (!ho.dir && live.iface) {
		if (default_state_dir(state_buf, sizeof(state_buf), err, sizeof(err)) == 0)
			ho.dir = state_buf;
		else
			fprintf(stderr, "stripwatch: history off: %s\n", err);
	}
	if (ho.dir && !(hist = sw_history_open(&ho, err, sizeof(err)))) {
		if (ho.dir != state_buf) {
			fprintf(stderr, "stripwatch: --state: %s\n", err);
			sw_policy_free(policy);
			free(bpf);
			return 2;
		}
		fprintf(stderr, "stripwatch: history off: %s\n", err);
	}
	if (live.iface && n_workers > 1) {
		if (sw_source_open_live_group(&live, n_workers, r.srcs, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			goto out;
		}
	} else {
		r.src = live.iface ? sw_source_open_live(&live, err, sizeof(err))
				   : sw_source_open_files(files, n_files, err, sizeof(err));
		if (!r.src) {
			fprintf(stderr, "%s\n", err);
			goto out;
		}
	}
	r.out = sw_alert_open(&ao, err, sizeof(err));
	if (!r.out) {
		fprintf(stderr, "stripwatch: %s\n", err);
		goto out;
	}
	/* Before any thread starts: NoNewPrivs and capabilities are per thread. */
	if (run_as && drop_privileges(run_as, ao.out_path) != 0)
		goto out;
	r.n_workers = n_workers;
	if (n_workers > 1) {
		/* One policy copy per engine: an engine owns its policy. */
		struct sw_policy *pols[SW_WORKERS_MAX] = { policy };
		policy = NULL;
		for (unsigned i = 1; policy_path && i < n_workers; i++)
			if (!(pols[i] = sw_policy_load(policy_path, err, sizeof(err)))) {
				fprintf(stderr, "stripwatch: %s\n", err);
				for (unsigned k = 0; k < i; k++)
					sw_policy_free(pols[k]);
				goto out;
			}
		struct sw_workers_cfg wc = {
			.n = n_workers, .dc = &dc, .out = r.out, .policies = pols, .hist = hist,
			.files = files, .n_files = n_files,
			.srcs = live.iface ? r.srcs : NULL, .max_packets = max_packets,
		};
		r.ws = sw_workers_start(&wc, err, sizeof(err));
		if (!r.ws) {
			fprintf(stderr, "stripwatch: %s\n", err);
			goto out;
		}
	} else {
		struct sw_sink sink = { r.out, sw_alert_finding, sw_alert_flow };
		r.eng = sw_engine_new(&dc, &sink);
		if (!r.eng) {
			fprintf(stderr, "stripwatch: out of memory\n");
			goto out;
		}
		sw_engine_set_policy(r.eng, policy);
		policy = NULL;
		sw_engine_set_history(r.eng, hist);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (live.iface)
		live_src = r.src;

	if (live.iface && r.ws)
		status = run_live_workers(&r, stats_interval_ns);
	else
		status = run_loop(&r, live.iface != NULL, max_packets, stats_interval_ns);
	/* Stop: open flows out as flow events, a last stats event, the stop record. */
	if (!r.ws)
		sw_engine_flush(r.eng);
	check_degraded(&r);
	write_stats(&r);
	if (r.ws)
		sw_workers_report(r.ws, stderr);
	live_src = NULL;
out:
	/* Workers first: a failed start-up may leave them running, writing to r.out. */
	sw_workers_free(r.ws);
	if (r.out)
		sw_alert_close(r.out, r.last_ts);
	if (r.eng) {
		sw_policy_free(sw_engine_set_policy(r.eng, NULL));
		sw_engine_free(r.eng);
	}
	/* After the engine's last flow ended: the final flush. */
	sw_history_close(hist);
	sw_policy_free(policy);
	if (r.src)
		sw_source_close(r.src);
	for (unsigned i = 0; i < SW_WORKERS_MAX; i++)
		sw_source_close(r.srcs[i]);
	free(bpf);
	return status;
}
