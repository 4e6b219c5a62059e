/*
 * sw_sign_gen.c - writes a signed event file through the alert stage's
 * API, for the signing tests (tests/sign/minisig_test.sh) and for the
 * verifier's rate measurement: flows, an alert every K events, a stats
 * line every 500, optional SIGHUP-style rotations at given event counts.
 *
 *   sw_sign_gen -k KEY -o OUT [-a] [-n EVENTS] [-A K] [-c CHECKPOINT_LINES]
 *               [-R NEWNAME@EVENT ...]
 *
 * -R renames OUT to NEWNAME after EVENT events and reopens, as logrotate
 * and SIGHUP do.  Exit 0, or 1 with a message.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/alert_fakes.h"
#include "sw_alert.h"

#define MAX_ROT 8

static void flow_n(struct sw_flow_info *fi, unsigned long i)
{
	memset(fi, 0, sizeof *fi);
	fi->ip_version = 4;
	inet_pton(AF_INET, "192.0.2.10", fi->client_ip);
	inet_pton(AF_INET, "198.51.100.25", fi->server_ip);
	fi->client_port = (uint16_t)(1024 + i % 60000);
	fi->server_port = 25;
	fi->app_proto = SW_APP_SMTP;
	fi->first_ts_ns = 1764227880000000000ull + i * 1000000ull;
	fi->last_ts_ns = fi->first_ts_ns + 500000ull;
	fi->pkts[0] = 12;
	fi->pkts[1] = 14;
	fi->bytes[0] = 1200;
	fi->bytes[1] = 3400;
	fi->starttls.offered = SW_YES;
	fi->starttls.command_sent = SW_YES;
	fi->starttls.upgraded = SW_YES;
	fi->end_fin = true;
}

int main(int argc, char **argv)
{
	struct sw_alert_opts o;
	unsigned long n = 1000, alert_every = 0;
	const char *rot_name[MAX_ROT];
	unsigned long rot_at[MAX_ROT];
	int n_rot = 0, c;

	sw_alert_opts_default(&o);
	o.host = "gen";
	while ((c = getopt(argc, argv, "k:o:an:A:c:R:")) != -1) {
		switch (c) {
		case 'k': o.key_path = optarg; break;
		case 'o': o.out_path = optarg; break;
		case 'a': o.append = true; break;
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'A': alert_every = strtoul(optarg, NULL, 10); break;
		case 'c': o.checkpoint_lines = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'R': {
			char *at = strrchr(optarg, '@');
			if (!at || n_rot == MAX_ROT) {
				fprintf(stderr, "sw_sign_gen: -R NEWNAME@EVENT\n");
				return 1;
			}
			*at = '\0';
			rot_name[n_rot] = optarg;
			rot_at[n_rot++] = strtoul(at + 1, NULL, 10);
			break;
		}
		default:
			fprintf(stderr, "usage: sw_sign_gen -k KEY -o OUT [-a] [-n EVENTS] [-A K] [-c N] [-R NEW@EVENT]\n");
			return 1;
		}
	}
	if (!o.key_path || !o.out_path) {
		fprintf(stderr, "sw_sign_gen: -k and -o are needed\n");
		return 1;
	}
	char err[512];
	struct sw_alert *a = sw_alert_open(&o, err, sizeof err);
	if (!a) {
		fprintf(stderr, "sw_sign_gen: %s\n", err);
		return 1;
	}
	struct sw_flow_info fi;
	for (unsigned long i = 0; i < n; i++) {
		for (int r = 0; r < n_rot; r++) {
			if (rot_at[r] != i)
				continue;
			if (rename(o.out_path, rot_name[r]) != 0 || sw_alert_reopen(a, err, sizeof err) != 0) {
				fprintf(stderr, "sw_sign_gen: rotation to %s failed: %s\n", rot_name[r], err);
				return 1;
			}
		}
		flow_n(&fi, i);
		if (alert_every && i % alert_every == alert_every - 1) {
			struct sw_finding f = { 0 };
			f.kind = SW_F_STARTTLS_STRIPPED;
			f.severity = 1;
			f.ts_ns = fi.last_ts_ns;
			f.flow = &fi;
			sw_alert_finding(a, &f);
		} else if (i % 500 == 499) {
			struct sw_capture_stats cs = { 0 };
			struct sw_dissect_stats ds = { 0 };
			cs.frames = i * 26;
			sw_alert_stats(a, fi.last_ts_ns, &cs, &ds);
		} else {
			sw_alert_flow(a, &fi);
		}
	}
	sw_alert_close(a, 0);
	return 0;
}
