#!/usr/bin/env python3
"""Mail clients for the stripwatch capture lab, built on Python's standard library.

  clients.py smtp-multi HOST PORT COUNT   STARTTLS, then COUNT mails in one session
  clients.py imap HOST                    IMAP: STARTTLS if offered, LOGIN, SELECT, LOGOUT
  clients.py pop3 HOST                    POP3: STLS if offered, USER/PASS, STAT, QUIT
  clients.py smtp-no-upgrade HOST PORT    STARTTLS accepted, then MAIL/RCPT in plaintext
  clients.py imap-no-upgrade HOST         IMAP STARTTLS accepted, then NOOP in plaintext
  clients.py pop3-no-upgrade HOST         POP3 STLS accepted, then CAPA in plaintext

The IMAP and POP3 clients are opportunistic: they use STARTTLS/STLS when the
server lists it and log in in cleartext when it does not, as many real clients
configured for "STARTTLS if available" do. That is what the stripping
scenarios exploit.

The *-no-upgrade clients are broken on purpose: they send the STARTTLS command
and get the server's go-ahead, then carry on in plaintext without a TLS
handshake (the server, expecting a ClientHello, fails its handshake and drops
the connection). They end quietly when the server hangs up.
"""
import imaplib
import poplib
import smtplib
import ssl
import sys

USER, PASSWORD = "alice", "lab-secret"


def context():
	ctx = ssl.create_default_context()
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	return ctx


def smtp_multi(host, port, count):
	with smtplib.SMTP(host, int(port), local_hostname="client.lab.example", timeout=20) as s:
		s.ehlo()
		s.starttls(context=context())
		s.ehlo()
		for i in range(int(count)):
			msg = (f"From: a@client.lab.example\r\nTo: b@lab.example\r\n"
			       f"Subject: lab mail {i + 1} of {count}\r\n\r\nbody {i + 1}\r\n")
			s.sendmail("a@client.lab.example", ["b@lab.example"], msg)


def imap(host):
	m = imaplib.IMAP4(host, 143, timeout=20)
	typ, caps = m.capability()
	if b"STARTTLS" in caps[0].upper().split():
		m.starttls(ssl_context=context())
	else:
		print("imap: no STARTTLS offered, logging in in cleartext", file=sys.stderr)
	m.login(USER, PASSWORD)
	m.select("INBOX")
	m.logout()


def pop3(host):
	p = poplib.POP3(host, 110, timeout=20)
	if "STLS" in p.capa():
		p.stls(context=context())
	else:
		print("pop3: no STLS offered, logging in in cleartext", file=sys.stderr)
	p.user(USER)
	p.pass_(PASSWORD)
	p.stat()
	p.quit()


def smtp_no_upgrade(host, port):
	s = smtplib.SMTP(host, int(port), local_hostname="client.lab.example", timeout=20)
	s.ehlo()
	code, msg = s.docmd("STARTTLS")
	print(f"smtp: STARTTLS answered {code} {msg.decode()}, going on in plaintext", file=sys.stderr)
	try:
		s.mail("a@client.lab.example")
		s.rcpt("b@lab.example")
		s.quit()
	except (smtplib.SMTPException, OSError) as e:
		print(f"smtp: server ended the session: {e!r}", file=sys.stderr)
	s.close()


def imap_no_upgrade(host):
	m = imaplib.IMAP4(host, 143, timeout=20)
	typ, data = m._simple_command("STARTTLS")
	print(f"imap: STARTTLS answered {typ} {data}, going on in plaintext", file=sys.stderr)
	try:
		m.noop()
		m.logout()
	except (imaplib.IMAP4.error, OSError) as e:
		print(f"imap: server ended the session: {e!r}", file=sys.stderr)
	m.shutdown()


def pop3_no_upgrade(host):
	p = poplib.POP3(host, 110, timeout=20)
	resp = p._shortcmd("STLS")
	print(f"pop3: STLS answered {resp.decode()}, going on in plaintext", file=sys.stderr)
	try:
		p.capa()
		p.quit()
	except (poplib.error_proto, OSError) as e:
		print(f"pop3: server ended the session: {e!r}", file=sys.stderr)
	p.close()


def main(argv):
	cmds = {"smtp-multi": smtp_multi, "imap": imap, "pop3": pop3,
		"smtp-no-upgrade": smtp_no_upgrade, "imap-no-upgrade": imap_no_upgrade,
		"pop3-no-upgrade": pop3_no_upgrade}
	if len(argv) < 2 or argv[1] not in cmds:
		sys.exit(__doc__)
	cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
	main(sys.argv)
