#!/usr/bin/env python3
"""End-to-end live test: stripwatch -i on a veth link between real mail software.

  e2e.py STRIPWATCH

Builds three network namespaces (client, middle, server: documentation
addresses only, inside the namespaces) with the capture lab's own code
(pcaps/lab/lab.py: namespaces, a postfix instance from a temporary config
directory, the MITM proxy pcaps/lab/proxy.py behind an nftables redirect),
under names of its own so it never meets a lab run.  Then:

  1. stripwatch -i m0 in the middle namespace (the client-side link);
  2. swaks --tls: a clean STARTTLS session with postfix;
  3. swaks --tls-optional through the proxy, which removes STARTTLS from
     the EHLO reply: the same server offered it in session 1, so
     starttls_stripped must fire from history;
  4. SIGUSR1: one stats event now; SIGTERM while the link is idle: prompt
     exit 0 with the open state flushed, a final stats event, the stop record;
  5. stripwatch verify -p PUB on the output.

Every process, namespace and temporary file is removed on exit, on failure
too.  Exit 0 pass, 1 fail.  The caller (e2e.sh) decides when to skip.
"""
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "pcaps", "lab"))
import lab  # noqa: E402  the capture lab's namespaces, postfix and proxy

SIGUSR1_BIT = 1 << (signal.SIGUSR1 - 1)
MX = lab.SERVERS["mx"]


def caught_signals(pid):
	with open(f"/proc/{pid}/status") as f:
		for line in f:
			if line.startswith("SigCgt:"):
				return int(line.split()[1], 16)
	return 0


def events(path):
	with open(path) as f:
		return [json.loads(line) for line in f if line.strip()]


def check(out, pub, sw, rc, stop_s):
	"""Return a list of failures for the run's output."""
	fail = []
	ev = events(out)
	if rc != 0:
		fail.append(f"stripwatch exited {rc} after SIGTERM")
	if stop_s > 3.0:
		fail.append(f"stripwatch took {stop_s:.1f}s to stop on SIGTERM with an idle link")
	if not ev or ev[0].get("event_type") != "chain" or ev[0]["chain"].get("kind") != "start":
		fail.append("the output does not begin with the chain's start record")
	if not ev or ev[-1].get("event_type") != "chain" or ev[-1]["chain"].get("kind") != "stop":
		fail.append("the output does not end with the chain's stop record")

	flows = sorted((e for e in ev if e["event_type"] == "flow" and e.get("dest_port") == 25),
		       key=lambda e: e["flow"]["start"])
	if len(flows) != 2:
		fail.append(f"{len(flows)} flow events to port 25, expected 2")
		return fail
	for f in flows:
		if f["dest_ip"] != MX or f["src_ip"] != lab.CLIENT_IP:
			fail.append(f"flow {f['src_ip']} -> {f['dest_ip']}: not the client and the mx")
	if not flows[0].get("starttls", {}).get("offered"):
		fail.append("flow 1: STARTTLS not seen offered")
	alerts = [e for e in ev if e["event_type"] == "alert"]
	by_port = {}
	for a in alerts:
		by_port.setdefault(a.get("src_port"), []).append(a["finding"])
	p1, p2 = flows[0]["src_port"], flows[1]["src_port"]
	if by_port.get(p1):
		fail.append(f"flow 1 (clean STARTTLS) raised {by_port[p1]}")
	if "starttls_stripped" not in by_port.get(p2, []):
		fail.append(f"flow 2 (stripped) raised {by_port.get(p2, [])}, no starttls_stripped")
	if any(a["finding"] == "sensor_degraded" for a in alerts):
		fail.append("sensor_degraded raised on a quiet link")

	stats = [e["stats"] for e in ev if e["event_type"] == "stats"]
	if len(stats) != 2:
		fail.append(f"{len(stats)} stats events, expected 2 (SIGUSR1 and stop)")
	if stats:
		last = stats[-1]
		cap = last["capture"]
		if cap["kernel_received"] < cap["tcp"] or cap["tcp"] == 0:
			fail.append(f"final stats: kernel_received {cap['kernel_received']}, tcp {cap['tcp']}")
		if cap["kernel_dropped"] != 0:
			fail.append(f"final stats: kernel_dropped {cap['kernel_dropped']}")
		if last["flows"]["created"] != 2:
			fail.append(f"final stats: {last['flows']['created']} flows created, expected 2")
		for k in ("caps_hit", "memory", "findings"):
			if k not in last:
				fail.append(f"final stats: no '{k}'")
	v = subprocess.run([sw, "verify", "-p", pub, out], capture_output=True, text=True)
	if v.returncode != 0:
		fail.append(f"verify exited {v.returncode}: {(v.stdout + v.stderr).strip()[-300:]}")
	print(f"e2e: {len(ev)} lines, flows {p1} and {p2}, alerts {sorted(by_port.items())}, "
	      f"stop in {stop_s:.2f}s, verify rc {v.returncode}")
	return fail


def main():
	sw = os.path.abspath(sys.argv[1])
	t0 = time.time()
	prefix = f"swlive{os.getpid()}-"
	# The lab's functions read these module names at call time.
	lab.PREFIX = prefix
	lab.NS_C, lab.NS_M, lab.NS_S = prefix + "c", prefix + "m", prefix + "s"
	L = lab.Lab(None)
	lab.LOG = open(os.path.join(L.tmp, "lab.log"), "w+")
	out, key = os.path.join(L.tmp, "eve.json"), os.path.join(L.tmp, "k")
	fail = []
	try:
		lab.setup_namespaces()
		lab.sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
		       "-subj", "/CN=mx.lab.example", "-keyout", f"{L.tmp}/key.pem",
		       "-out", f"{L.tmp}/cert.pem")
		os.chmod(f"{L.tmp}/key.pem", 0o644)
		mx = lab.server_postfix(L, "mx", "smtpd_tls_security_level = may\n")
		L.servers.append(mx)
		mx.start()
		lab.wait_for("postfix", lambda: lab.listening(lab.NS_S, MX, 25), 20)
		lab.sh(sw, "keygen", "-s", key, "-p", key + ".pub")

		err = open(os.path.join(L.tmp, "stripwatch.err"), "w+")
		# History in a fresh directory of the test's: never the system state directory.
		p = subprocess.Popen(["ip", "netns", "exec", lab.NS_M, sw, "-i", "m0", "-k", key,
				      "-o", out, "--host", "e2e", "--stats-interval", "3600",
				      "--state", os.path.join(L.tmp, "state")],
				     stdout=subprocess.DEVNULL, stderr=err)
		L.procs.append(p)
		# Ready once its handlers are installed: the capture is open by then.
		lab.wait_for("stripwatch", lambda: p.poll() is not None
			     or caught_signals(p.pid) & SIGUSR1_BIT, 20)
		if p.poll() is not None:
			raise RuntimeError("stripwatch exited at start")
		L.start_proxy("strip", [25], 2, 99)
		for mode in ("--tls", "--tls-optional"):
			lab.sh("swaks", "--server", MX, "--port", "25", "--from", "a@client.lab.example",
			       "--to", "b@lab.example", "--ehlo", "client.lab.example", "--timeout", "10",
			       mode, ns=lab.NS_C)
		time.sleep(0.3)
		p.send_signal(signal.SIGUSR1)
		lab.wait_for("stats after SIGUSR1",
			     lambda: os.path.exists(out) and '"event_type":"stats"' in open(out).read(), 5)
		time.sleep(0.5)		# an idle link: the capture is waiting in poll()
		t = time.time()
		p.send_signal(signal.SIGTERM)
		try:
			rc = p.wait(timeout=10)
		except subprocess.TimeoutExpired:
			rc = -1
		stop_s = time.time() - t
		L.procs.remove(p)
		err.seek(0)
		msg = err.read().strip()
		if msg:
			print("stripwatch stderr:", msg)
		fail = check(out, key + ".pub", sw, rc, stop_s)
	except Exception as e:  # a setup step failed: report it as a failure, after cleanup
		fail.append(f"{type(e).__name__}: {e}")
	finally:
		if fail:
			lab.LOG.seek(0)
			print("---- last lines of the lab log ----")
			print("".join(lab.LOG.readlines()[-40:]))
		L.teardown()
	for f in fail:
		print("FAIL:", f)
	print(f"e2e: {'FAIL' if fail else 'ok'} in {time.time() - t0:.1f}s")
	return 1 if fail else 0


if __name__ == "__main__":
	sys.exit(main())
