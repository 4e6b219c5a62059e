#!/usr/bin/env python3
"""stripwatch capture lab: real mail software in network namespaces, captured twice.

Run as root through ./run (which installs the Debian packages first). For each
scenario in scenarios.py it captures on the client-side and the server-side
link of the middle namespace, checks with tshark that the scenario's label is
true of the bytes, and only then writes pcaps/<scenario>.<vantage>.pcap and
the .expect file beside it. Everything it starts runs from a temporary
directory and is stopped, and the namespaces deleted, on exit, error or Ctrl-C.

  lab.py [--only NAME[,NAME...]] [--out DIR] [--list]
"""
import argparse
import concurrent.futures
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "swlab-"
NS_C, NS_M, NS_S = PREFIX + "client", PREFIX + "middle", PREFIX + "server"
CLIENT_IP, CLIENT_IP6 = "192.0.2.10", "2001:db8:c::10"
MIDDLE_C, MIDDLE_C6 = "192.0.2.1", "2001:db8:c::1"
MIDDLE_S, MIDDLE_S6 = "198.51.100.1", "2001:db8:5::1"
SERVER_IP6 = "2001:db8:5::25"
# one server address per server configuration, so no two configurations share a history
SERVERS = {"mx": "198.51.100.25", "plain": "198.51.100.26", "tls12": "198.51.100.27",
	   "tls10": "198.51.100.28", "tls11": "198.51.100.29", "legacy": "198.51.100.30",
	   "nss": "198.51.100.31", "exim": "198.51.100.32", "exim-legacy": "198.51.100.33"}
LINKS = {"client": "m0", "server": "m1"}	# vantage -> interface in the middle namespace
PROXY_PORT = 10000
LEGACY_CIPHERS = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"

LOG = None
# Debian packages unpacked into the lab's temporary directory rather than installed
# (exim4 conflicts with postfix): package -> version, for package_version().
UNPACKED = {}
EXIM_DEBS = ("exim4-base", "exim4-daemon-light")
EXIM_UID = 64999	# Debian-exim in the exim daemon's private /etc/passwd


def log(msg):
	line = time.strftime("%H:%M:%S ") + msg
	print(line, flush=True)
	if LOG:
		LOG.write(line + "\n")
		LOG.flush()


def sh(*cmd, ns=None, check=True, timeout=60, env=None, stdin=None, cwd=None):
	"""Run a command (in namespace ns), log its output, return (rc, output)."""
	argv = (["ip", "netns", "exec", ns] if ns else []) + [str(c) for c in cmd]
	LOG.write("$ " + " ".join(argv) + "\n")
	LOG.flush()
	try:
		p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
				   stderr=subprocess.STDOUT, timeout=timeout, env=env, cwd=cwd)
		out = p.stdout.decode("utf-8", "replace")
		rc = p.returncode
	except subprocess.TimeoutExpired as e:
		out = (e.stdout or b"").decode("utf-8", "replace") + "\n[timed out]"
		rc = -1
	LOG.write(out + ("" if out.endswith("\n") else "\n") + f"[rc {rc}]\n")
	LOG.flush()
	if check and rc != 0:
		raise RuntimeError(f"command failed ({rc}): {' '.join(argv)}\n{out[-2000:]}")
	return rc, out


def start_daemon(*cmd, ns):
	"""Start a daemon that forks into the background; its output goes to the log, not a pipe."""
	argv = ["ip", "netns", "exec", ns] + [str(c) for c in cmd]
	LOG.write("$ " + " ".join(argv) + "\n")
	LOG.flush()
	rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=LOG, stderr=LOG, timeout=60).returncode
	if rc != 0:
		raise RuntimeError(f"command failed ({rc}): {' '.join(argv)}")


def wait_for(what, test, timeout=10.0):
	end = time.time() + timeout
	while time.time() < end:
		if test():
			return
		time.sleep(0.05)
	raise RuntimeError(f"timed out waiting for {what}")


def listening(ns, addr, port):
	_, out = sh("ss", "-Hltn", ns=ns, check=False)
	return re.search(rf"\s\[?{re.escape(addr)}\]?:{port}\s", out) is not None


# ---------------------------------------------------------------- namespaces

def teardown_namespaces():
	"""Stop every process left in a lab namespace (by pid) and delete the namespaces."""
	names = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE,
			       text=True).stdout.split()
	names = [n for n in names if n.startswith(PREFIX)]
	for sig in (signal.SIGTERM, signal.SIGKILL):
		pids = []
		for n in names:
			pids += subprocess.run(["ip", "netns", "pids", n], stdout=subprocess.PIPE,
					       text=True).stdout.split()
		for pid in pids:
			try:
				os.kill(int(pid), sig)
			except ProcessLookupError:
				pass
		if pids and sig == signal.SIGTERM:
			time.sleep(1)
	for n in names:
		subprocess.run(["ip", "netns", "del", n])


def setup_namespaces():
	for n in (NS_C, NS_M, NS_S):
		sh("ip", "netns", "add", n)
		sh("ip", "link", "set", "lo", "up", ns=n)
		sh("sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", ns=n)
	sh("ip", "link", "add", "c0", "netns", NS_C, "type", "veth", "peer", "name", "m0", "netns", NS_M)
	sh("ip", "link", "add", "s0", "netns", NS_S, "type", "veth", "peer", "name", "m1", "netns", NS_M)
	plan = [(NS_C, "c0", [CLIENT_IP + "/24"], [CLIENT_IP6 + "/64"]),
		(NS_M, "m0", [MIDDLE_C + "/24"], [MIDDLE_C6 + "/64"]),
		(NS_M, "m1", [MIDDLE_S + "/24"], [MIDDLE_S6 + "/64"]),
		(NS_S, "s0", [a + "/24" for a in SERVERS.values()], [SERVER_IP6 + "/64"])]
	for ns, dev, v4, v6 in plan:
		for a in v4:
			sh("ip", "addr", "add", a, "dev", dev, ns=ns)
		for a in v6:
			sh("ip", "addr", "add", a, "dev", dev, "nodad", ns=ns)
		# real checksums and real segment sizes in the captures
		sh("ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off", "gro", "off",
		   ns=ns, check=False)
		sh("ip", "link", "set", dev, "up", ns=ns)
	sh("ip", "route", "add", "default", "via", MIDDLE_C, ns=NS_C)
	sh("ip", "-6", "route", "add", "default", "via", MIDDLE_C6, ns=NS_C)
	sh("ip", "route", "add", "default", "via", MIDDLE_S, ns=NS_S)
	sh("ip", "-6", "route", "add", "default", "via", MIDDLE_S6, ns=NS_S)
	sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=NS_M)
	sh("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1", ns=NS_M)
	sh("ping", "-c1", "-w5", SERVERS["mx"], ns=NS_C)
	sh("ping", "-6", "-c1", "-w5", SERVER_IP6, ns=NS_C)


# ---------------------------------------------------------------- servers

MASTER_CF = """\
smtp      inet  n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class Postfix:
	"""A postfix instance run from its own configuration directory (postfix -c)."""

	def __init__(self, lab, name, ns, interfaces, main, master=""):
		self.lab, self.name, self.ns = lab, name, ns
		self.dir = os.path.join(lab.tmp, "postfix-" + name)
		self.maillog = os.path.join(self.dir, "maillog")
		os.makedirs(os.path.join(self.dir, "queue"))
		os.makedirs(os.path.join(self.dir, "data"))
		shutil.chown(os.path.join(self.dir, "data"), "postfix")
		conf = f"""\
compatibility_level = 3.6
maillog_file_prefixes = {self.dir}
queue_directory = {self.dir}/queue
data_directory = {self.dir}/data
maillog_file = {self.maillog}
mail_owner = postfix
setgid_group = postdrop
mydomain = lab.example
inet_interfaces = {interfaces}
inet_protocols = all
mynetworks = 127.0.0.0/8 192.0.2.0/24 198.51.100.0/24 [2001:db8::]/32
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_connection_cache_on_demand = no
alias_maps =
alias_database =
local_recipient_maps =
local_transport = discard:lab
biff = no
smtpd_banner = $myhostname ESMTP
smtpd_tls_cert_file = {lab.tmp}/cert.pem
smtpd_tls_key_file = {lab.tmp}/key.pem
smtpd_tls_loglevel = 1
smtp_tls_loglevel = 1
""" + main
		with open(os.path.join(self.dir, "main.cf"), "w") as f:
			f.write(conf)
		with open(os.path.join(self.dir, "master.cf"), "w") as f:
			f.write(MASTER_CF + master)

	def start(self):
		start_daemon("postfix", "-c", self.dir, "start", ns=self.ns)

	def stop(self):
		sh("postfix", "-c", self.dir, "stop", ns=self.ns, check=False)


def server_postfix(lab, name, main="", master="", interfaces=None):
	return Postfix(lab, name, NS_S, interfaces or SERVERS[name],
		       f"myhostname = {name}.lab.example\nmydestination = lab.example\n" + main, master)


def make_servers(lab):
	tls_may = "smtpd_tls_security_level = may\n"
	legacy = f"tls_medium_cipherlist = {LEGACY_CIPHERS}\n"
	auth = f"""-o smtpd_sasl_auth_enable=yes -o smtpd_sasl_type=dovecot
  -o smtpd_sasl_path={lab.tmp}/dovecot-auth -o smtpd_tls_auth_only=no
"""
	mx = server_postfix(lab, "mx", tls_may, master=f"""\
465       inet  n - n - - smtpd -o smtpd_tls_wrappermode=yes {auth}\
587       inet  n - n - - smtpd {auth}""",
			    # the mx also listens on IPv6 for the IPv6 scenario
			    interfaces=f"{SERVERS['mx']}, [{SERVER_IP6}]")
	servers = [
		mx,
		server_postfix(lab, "plain", "smtpd_tls_security_level = none\n"),
		server_postfix(lab, "tls12", tls_may + "smtpd_tls_protocols = >=TLSv1.2, <=TLSv1.2\n"),
		server_postfix(lab, "tls10", tls_may + legacy + "smtpd_tls_protocols = >=TLSv1, <=TLSv1\n"),
		server_postfix(lab, "tls11", tls_may + legacy + "smtpd_tls_protocols = >=TLSv1.1, <=TLSv1.1\n"),
		server_postfix(lab, "legacy", tls_may + legacy + "smtpd_tls_protocols = >=TLSv1\n"),
		# the sending MTA for the MTA-to-MTA scenario, fed by swaks on its loopback
		Postfix(lab, "client-mta", NS_C, "127.0.0.1", f"""\
myhostname = mta.client.lab.example
mydestination =
relayhost = [{SERVERS['mx']}]:25
smtp_tls_security_level = may
"""),
	]
	return servers


class Dovecot:
	def __init__(self, lab):
		self.lab = lab
		d = os.path.join(lab.tmp, "dovecot")
		self.conf = os.path.join(d, "dovecot.conf")
		os.makedirs(os.path.join(d, "mail"))
		os.chmod(os.path.join(d, "mail"), 0o1777)
		with open(os.path.join(d, "users"), "w") as f:
			f.write("alice:{PLAIN}lab-secret::::::\n")
		with open(self.conf, "w") as f:
			f.write(f"""\
protocols = imap pop3
listen = {SERVERS['mx']}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{lab.tmp}/cert.pem
ssl_key = <{lab.tmp}/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/mail/%u
}}
service imap-login {{
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3s {{
    port = 0
  }}
}}
service auth {{
  unix_listener {lab.tmp}/dovecot-auth {{
    mode = 0666
  }}
}}
""")

	def start(self):
		start_daemon("dovecot", "-c", self.conf, ns=NS_S)

	def stop(self):
		sh("dovecot", "-c", self.conf, "stop", ns=NS_S, check=False)


class Exim:
	"""A real exim4 (Debian's exim4-daemon-light, GnuTLS) without installing it.

	exim4 conflicts with postfix as a Debian package, so the lab fetches the .debs with
	apt-get download and unpacks them with dpkg-deb -x into its temporary directory. The
	binary runs from there with -C and a configuration whose paths (spool, log, pid file,
	exim_path) all point into that directory. It looks up its compiled-in user
	Debian-exim at start; that user exists only in a copy of /etc/passwd and /etc/group
	bind-mounted over the real ones in a private mount namespace (unshare -m), so nothing
	under /etc changes. queue_only: mail is accepted and never delivered.
	"""

	def __init__(self, lab, name, ciphers):
		self.lab, self.name = lab, name
		self.dir = os.path.join(lab.tmp, name)
		self.conf = os.path.join(self.dir, "exim.conf")
		self.pidfile = os.path.join(self.dir, "exim.pid")
		for sub in ("spool", "log"):
			os.makedirs(os.path.join(self.dir, sub))
			os.chown(os.path.join(self.dir, sub), EXIM_UID, EXIM_UID)
		with open(self.conf, "w") as f:
			f.write(f"""\
keep_environment =
exim_path = {lab.exim_root}/usr/sbin/exim4
spool_directory = {self.dir}/spool
log_file_path = {self.dir}/log/%slog
pid_file_path = {self.pidfile}
primary_hostname = {name}.lab.example
qualify_domain = lab.example
local_interfaces = {SERVERS[name]}
daemon_smtp_ports = 25
never_users = root
host_lookup =
rfc1413_hosts =
queue_only = true
tls_advertise_hosts = *
tls_certificate = {lab.tmp}/cert.pem
tls_privatekey = {lab.tmp}/key.pem
tls_require_ciphers = {ciphers}
acl_smtp_rcpt = acl_check_rcpt
begin acl
acl_check_rcpt:
  accept
begin routers
discard:
  driver = redirect
  data = :blackhole:
""")

	def start(self):
		exim = f"{self.lab.exim_root}/usr/sbin/exim4"
		t = self.lab.tmp
		start_daemon("unshare", "-m", "sh", "-c",
			     f"mount --bind {t}/exim-passwd /etc/passwd && "
			     f"mount --bind {t}/exim-group /etc/group && exec {exim} -C {self.conf} -bd",
			     ns=NS_S)

	def stop(self):
		try:
			with open(self.pidfile) as f:
				os.kill(int(f.read().split()[0]), signal.SIGTERM)
		except (OSError, ValueError, IndexError):
			pass


def unpack_exim(lab):
	"""Fetch and unpack exim4 into the temp dir; return the root it was unpacked into."""
	root = os.path.join(lab.tmp, "exim-root")
	debs = os.path.join(lab.tmp, "debs")
	os.makedirs(debs)
	if sh("apt-get", "download", *EXIM_DEBS, timeout=300, cwd=debs, check=False)[0] != 0:
		sh("apt-get", "update", "-qq", timeout=300)	# stale package lists: refresh once
		sh("apt-get", "download", *EXIM_DEBS, timeout=300, cwd=debs)
	for deb in sorted(glob.glob(os.path.join(debs, "*.deb"))):
		sh("dpkg-deb", "-x", deb, root)
		_, pkg = sh("dpkg-deb", "-f", deb, "Package")
		_, ver = sh("dpkg-deb", "-f", deb, "Version")
		UNPACKED[pkg.strip()] = ver.strip()
	with open("/etc/passwd") as f:
		passwd = f.read()
	with open("/etc/group") as f:
		group = f.read()
	with open(os.path.join(lab.tmp, "exim-passwd"), "w") as f:
		f.write(passwd + f"Debian-exim:x:{EXIM_UID}:{EXIM_UID}:exim (lab):/nonexistent:/usr/sbin/nologin\n")
	with open(os.path.join(lab.tmp, "exim-group"), "w") as f:
		f.write(group + f"Debian-exim:x:{EXIM_UID}:\n")
	return root


# ---------------------------------------------------------------- capture and checks

class Capture:
	"""tcpdump on both links of the middle namespace, started before the clients."""

	def __init__(self, lab, name):
		self.files, self.procs = {}, []
		for vantage, dev in LINKS.items():
			path = os.path.join(lab.tmp, f"{name}.{vantage}.pcap")
			err = open(path + ".log", "w+")
			p = subprocess.Popen(["ip", "netns", "exec", NS_M, "tcpdump", "-i", dev, "-s", "0",
					      "-U", "--immediate-mode", "-n", "-w", path, "tcp"],
					     stdout=subprocess.DEVNULL, stderr=err)
			lab.procs.append(p)
			self.procs.append((p, err))
			self.files[vantage] = path
		for p, err in self.procs:
			wait_for("tcpdump", lambda: "listening on" in open(err.name).read())

	def stop(self, lab):
		time.sleep(0.6)
		for p, err in self.procs:
			p.send_signal(signal.SIGINT)
		for p, err in self.procs:
			p.wait(timeout=10)
			lab.procs.remove(p)
			err.seek(0)
			LOG.write(err.read())
			err.close()


def tshark(pcap, dfilter, fields=("frame.number",)):
	argv = ["tshark", "-r", pcap, "-n", "-d", "tcp.port==465,tls", "-Y", dfilter, "-T", "fields"]
	for f in fields:
		argv += ["-e", f]
	p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
	if p.returncode != 0:
		raise RuntimeError(f"tshark failed on filter {dfilter!r}: {p.stderr.strip()}")
	return [line.split("\t") for line in p.stdout.splitlines() if line]


def flow_table(pcap):
	"""The TCP connections of a capture in order of first packet, as (client, server)
	strings, and the set of connection indexes that ended with a FIN or a RST."""
	rows = tshark(pcap, "(tcp.flags.syn==1 && tcp.flags.ack==0) || tcp.flags.fin==1 || tcp.flags.reset==1",
		      ("tcp.stream", "tcp.flags.syn", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst",
		       "ipv6.dst", "tcp.dstport"))
	flows, ended = {}, set()
	for stream, syn, s4, s6, sp, d4, d6, dp in rows:
		stream = int(stream)
		if syn in ("1", "True") and stream not in flows:
			src = f"{s4}:{sp}" if s4 else f"[{s6}]:{sp}"
			dst = f"{d4}:{dp}" if d4 else f"[{d6}]:{dp}"
			flows[stream] = (src, dst)
		elif syn not in ("1", "True"):
			ended.add(stream)
	return [flows[k] for k in sorted(flows)], ended


def tshark_stats(pcap, exprs):
	"""Evaluate many display filters in one tshark pass (io,stat over the whole capture).
	An expression is a filter (-> number of frames matching) or ("first", filter)
	(-> number of the first frame matching, 0 if none)."""
	cols = []
	for e in exprs:
		f = e[1] if isinstance(e, tuple) else e
		if "," in f:
			raise ValueError(f"no commas in check filters: {f}")
		cols.append(f"MIN(frame.number)frame.number && ({f})" if isinstance(e, tuple) else f)
	p = subprocess.run(["tshark", "-r", pcap, "-n", "-q", "-d", "tcp.port==465,tls",
			    "-z", "io,stat,0," + ",".join(cols)],
			   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
	rows = [l for l in p.stdout.splitlines() if "<>" in l]
	if p.returncode != 0 or len(rows) != 1:
		raise RuntimeError(f"tshark io,stat failed on {pcap}: {p.stderr.strip()[-500:]}")
	cells = [c.strip() for c in rows[0].split("|")[2:]]
	values = []
	for e in exprs:
		values.append(int(cells[0]))
		cells = cells[1:] if isinstance(e, tuple) else cells[2:]
	return values


def check_vantage(sc, vantage, pcap):
	"""Return (failed checks, flows) for one capture."""
	failed = []
	flows, ended = flow_table(pcap)
	want = len(sc.flows[vantage])
	if len(flows) != want:
		failed.append(f"{vantage}: {len(flows)} TCP connections, expected {want}")
	for i in range(len(flows)):
		if i not in ended:
			failed.append(f"{vantage}: connection {i + 1} has no FIN or RST")
	mine = [c for c in sc.checks if c[0] == vantage]
	exprs = []
	for c in mine:
		exprs += [("first", c[2]), ("first", c[3])] if c[1] == "before" else [c[1]]
	values = tshark_stats(pcap, exprs) if exprs else []
	for c in mine:
		if c[1] == "before":
			a, b, values = values[0], values[1], values[2:]
			ok, got = 0 < a < b, f"first frames {a} and {b}"
		else:
			n, values = values[0], values[1:]
			ok = {"==": n == c[3], ">=": n >= c[3]}[c[2]]
			got = f"{n} frames, want {c[2]} {c[3]}"
		if not ok:
			failed.append(f"{vantage}: {c[-1]} ({got})")
	return failed, flows


def check_capture(sc, files):
	"""Check both captures (in parallel); return (failed checks, flows per vantage)."""
	with concurrent.futures.ThreadPoolExecutor(2) as pool:
		res = {v: pool.submit(check_vantage, sc, v, p) for v, p in files.items()}
		res = {v: r.result() for v, r in res.items()}
	return sum((r[0] for r in res.values()), []), {v: r[1] for v, r in res.items()}


def package_version(pkg):
	if pkg in UNPACKED:
		return UNPACKED[pkg] + " (unpacked, not installed)"
	return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], stdout=subprocess.PIPE,
			      stderr=subprocess.DEVNULL,
			      text=True).stdout.strip() or (
				      "(unpacked at run time)" if pkg in EXIM_DEBS else "?")


def write_expect(sc, vantage, path, flows, pcap):
	lines = [f"# {sc.name} ({vantage} vantage), made by pcaps/lab from real software; see pcaps/lab/README.md."]
	lines += ["# " + l for l in sc.what.strip().splitlines()]
	lines += textwrap.wrap("Software (Debian 12 packages): " + ", ".join(
		f"{p} {package_version(p)}" for p in sc.software), 96,
		initial_indent="# ", subsequent_indent="#   ")
	if vantage == "client":
		lines.append("# Client vantage: the link between the client and the middle box, "
			     "i.e. what the client saw.")
	else:
		lines.append("# Server vantage: the link between the middle box and the server, "
			     "i.e. what the server saw.")
	for i, fl in enumerate(sc.flows[vantage]):
		lines += textwrap.wrap(f"flow {i + 1}: {fl.why.strip()}", 96,
				       initial_indent="# ", subsequent_indent="#   ")
	if sc.notes:
		for note in sc.notes(vantage, pcap):
			lines += textwrap.wrap(note, 96, initial_indent="# ", subsequent_indent="#   ")
	lines.append("benign " + ("yes" if sc.benign(vantage) else "no"))
	for (src, dst), fl in zip(flows, sc.flows[vantage]):
		lines.append(f"flow client={src} server={dst} expect={','.join(fl.expect)} "
			     f"allow={','.join(fl.allow)}")
	with open(path, "w") as f:
		f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- the lab

class Lab:
	def __init__(self, out):
		self.out = out
		self.tmp = tempfile.mkdtemp(prefix=PREFIX)
		os.chmod(self.tmp, 0o755)
		self.procs = []
		self.servers = []
		self.dovecot = None
		self.proxy = None
		self.exim_root = None
		self.exims = []

	def setup(self, with_exim=False):
		teardown_namespaces()
		# temporary directories of an earlier run that was killed before its cleanup
		for d in glob.glob(os.path.join(tempfile.gettempdir(), PREFIX + "*")):
			if d != self.tmp and os.path.exists(os.path.join(d, "cert.pem")):
				shutil.rmtree(d, ignore_errors=True)
		setup_namespaces()
		sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
		   "-subj", "/CN=mx.lab.example", "-keyout", f"{self.tmp}/key.pem",
		   "-out", f"{self.tmp}/cert.pem")
		os.chmod(f"{self.tmp}/key.pem", 0o644)	# read by postfix and dovecot only, in a temp dir
		with open(f"{self.tmp}/openssl-legacy.cnf", "w") as f:
			f.write(f"""openssl_conf = init
[init]
ssl_conf = ssl
[ssl]
system_default = tls
[tls]
MinProtocol = TLSv1
CipherString = {LEGACY_CIPHERS}
""")
		nss = f"{self.tmp}/nss"
		os.makedirs(nss)
		with open(f"{nss}/noise", "wb") as f:
			f.write(os.urandom(64))
		sh("certutil", "-N", "-d", f"sql:{nss}", "--empty-password")
		sh("certutil", "-S", "-n", "server", "-s", "CN=tls.lab.example", "-x", "-t", "CT,,",
		   "-k", "rsa", "-g", "2048", "-v", "1", "-d", f"sql:{nss}", "-z", f"{nss}/noise")
		self.dovecot = Dovecot(self)
		self.dovecot.start()
		wait_for("dovecot auth socket", lambda: os.path.exists(f"{self.tmp}/dovecot-auth"))
		self.servers = make_servers(self)
		for s in self.servers:
			s.start()
		for name, addr in SERVERS.items():
			if name not in ("nss", "exim", "exim-legacy"):
				wait_for(f"postfix {name}", lambda: listening(NS_S, addr, 25))
		wait_for("postfix mx 465/587", lambda: listening(NS_S, SERVERS["mx"], 587)
			 and listening(NS_S, SERVERS["mx"], 465) and listening(NS_S, SERVER_IP6, 25))
		wait_for("client MTA", lambda: listening(NS_C, "127.0.0.1", 25))
		wait_for("dovecot", lambda: listening(NS_S, SERVERS["mx"], 143)
			 and listening(NS_S, SERVERS["mx"], 110))
		if with_exim:
			self.exim_root = unpack_exim(self)
			# Debian's defaults (GnuTLS NORMAL) and a legacy one that still allows 3DES and RC4
			self.exims = [Exim(self, "exim", "NORMAL"),
				      Exim(self, "exim-legacy", "NORMAL:+3DES-CBC:+ARCFOUR-128:+RSA:+SHA1")]
			for x in self.exims:
				x.start()
			for x in self.exims:
				wait_for(x.name, lambda: listening(NS_S, SERVERS[x.name], 25))

	def teardown(self):
		self.stop_proxy()
		for p in self.procs:
			if p.poll() is None:
				p.terminate()
				try:
					p.wait(timeout=5)
				except subprocess.TimeoutExpired:
					p.kill()
		for s in self.servers:
			s.stop()
		if self.dovecot:
			self.dovecot.stop()
		for x in self.exims:
			x.stop()
		teardown_namespaces()
		shutil.rmtree(self.tmp, ignore_errors=True)

	def start_proxy(self, mode, ports, first, last):
		p = subprocess.Popen(["ip", "netns", "exec", NS_M, "python3", f"{HERE}/proxy.py",
				      "--port", str(PROXY_PORT), "--mode", mode, "--first", str(first),
				      "--last", str(last)],
				     stdout=subprocess.PIPE, stderr=LOG)
		self.procs.append(p)
		self.proxy = p
		if p.stdout.readline().strip() != b"ready":
			raise RuntimeError("proxy did not start")
		portset = ", ".join(str(x) for x in ports)
		sh("nft", "-f", "-", ns=NS_M, stdin=f"""table ip swlab {{
	chain pre {{
		type nat hook prerouting priority dstnat; policy accept;
		iifname "m0" tcp dport {{ {portset} }} redirect to :{PROXY_PORT}
	}}
}}
""".encode())

	def stop_proxy(self):
		if self.proxy is None:
			return
		sh("nft", "delete", "table", "ip", "swlab", ns=NS_M, check=False)
		self.proxy.terminate()
		self.proxy.wait(timeout=5)
		self.procs.remove(self.proxy)
		self.proxy = None

	def run_scenario(self, sc):
		for stale in os.listdir(self.tmp):
			if stale.startswith(sc.name + "."):
				os.unlink(os.path.join(self.tmp, stale))
		t0 = time.time()
		cap = Capture(self, sc.name)
		LOG.write(f"[timing] capture started {time.time() - t0:.2f}s\n")
		try:
			if sc.proxy:
				self.start_proxy(*sc.proxy)
			for step in sc.steps:
				step(self)
				time.sleep(0.2)
		finally:
			cap.stop(self)
			self.stop_proxy()
		LOG.write(f"[timing] sessions done, capture stopped {time.time() - t0:.2f}s\n")
		failed, flows = check_capture(sc, cap.files)
		LOG.write(f"[timing] checked {time.time() - t0:.2f}s\n")
		if failed:
			keep = os.path.join(tempfile.gettempdir(), "swlab-failed")
			os.makedirs(keep, exist_ok=True)
			for pcap in cap.files.values():
				shutil.copy(pcap, keep)
			return failed + [f"captures kept in {keep}"]
		for vantage, pcap in cap.files.items():
			dest = os.path.join(self.out, f"{sc.name}.{vantage}")
			shutil.copyfile(pcap, dest + ".pcap")
			write_expect(sc, vantage, dest + ".expect", flows[vantage], dest + ".pcap")
		return []


def main():
	global LOG
	import scenarios
	ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
	ap.add_argument("--only", default="")
	ap.add_argument("--out", default=os.path.dirname(HERE))
	ap.add_argument("--list", action="store_true")
	args = ap.parse_args()
	todo = scenarios.SCENARIOS
	if args.list:
		for sc in todo:
			print(sc.name + "\t" + ", ".join(f"{p} {package_version(p)}" for p in sc.software))
		return 0
	if args.only:
		names = args.only.split(",")
		todo = [sc for sc in todo if sc.name in names]
		if len(todo) != len(names):
			sys.exit("unknown scenario in --only")
	LOG = open("/tmp/swlab-last.log", "w")
	t0 = time.time()
	lab = Lab(args.out)

	def on_signal(signum, frame):
		raise KeyboardInterrupt
	for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
		signal.signal(sig, on_signal)
	failures, kept = {}, 0
	try:
		lab.setup(with_exim=any("exim" in sc.needs for sc in todo))
		log(f"lab up in {time.time() - t0:.1f}s (log: /tmp/swlab-last.log)")
		for sc in todo:
			t = time.time()
			try:
				failed = lab.run_scenario(sc)
			except RuntimeError as e:
				failed = [str(e)]
			if failed:
				failures[sc.name] = failed
				log(f"FAIL {sc.name}: " + "; ".join(failed))
			else:
				sizes = " ".join(f"{v}={os.path.getsize(os.path.join(args.out, f'{sc.name}.{v}.pcap'))}B"
						 for v in LINKS)
				log(f"ok   {sc.name} ({time.time() - t:.1f}s, {sizes})")
				kept += 1
	except KeyboardInterrupt:
		log("interrupted")
		failures["(interrupted)"] = ["interrupted"]
	except RuntimeError as e:
		log(f"lab setup failed: {e}")
		failures["(setup)"] = [str(e).splitlines()[0]]
	finally:
		lab.teardown()
	log(f"{kept} of {len(todo)} scenarios kept, "
	    f"{time.time() - t0:.1f}s in total")
	for name, why in failures.items():
		log(f"not kept: {name}: {'; '.join(why)}")
	return 1 if failures else 0


if __name__ == "__main__":
	# run as the module "lab", the one scenarios.py imports, so that they share LOG
	sys.dont_write_bytecode = True
	sys.path.insert(0, HERE)
	import lab
	sys.exit(lab.main())
