#!/usr/bin/python3
"""`wsgate -t -c FILE`: exit 0 on good configs; exit 1 with the exact
`FILE:LINE: ` prefix (right line number) for each error class."""
import os
import shutil
import subprocess
import tempfile
import unittest

import harness

GOOD = """# a full config
[server]
workers = 2
max_connections = 100
log_level = warn
access_log = off
handshake_timeout = 1500ms
max_request_size = 8K
shutdown_timeout = 0

[listen v4]
address = 127.0.0.1:8080
[listen v6]
address = [::1]:8081
http2 = off
[listen sock]
address = unix:{dir}/ws.sock

[route echo]
path = /echo
backend = echo
subprotocols = chat.v2, chat.v1
allowed_origins = https://a.example/#keeps-hash, null
permessage_deflate = on
deflate_window_bits = 10
[route tcp]
path = /api/*
backend = tcp:localhost:9000
max_message_size = 1M
idle_timeout = 5m
[route unix]
path = /u
backend = unix:/run/app.sock

[static]
root = {dir}
"""

HEAD = "# comment\n\n[server]\nworkers = 1\n\n[listen a]\naddress = 127.0.0.1:8080\n"
# The line number of the next line appended to HEAD.
NEXT = HEAD.count("\n") + 1

# (name, text, line of the error, a word the message must contain)
BAD = [
    ("syntax", HEAD + "this is not a key value line\n", NEXT, "syntax"),
    ("syntax_header", HEAD + "[route x\npath = /x\n", NEXT, "]"),
    ("unknown_key", HEAD + "  # indented comment\nfrobnicate = 1\n", NEXT + 1, "frobnicate"),
    ("unknown_key_route", HEAD + "[route r]\npath = /r\nbackend = echo\ncolour = blue\n",
     NEXT + 3, "colour"),
    ("unknown_section", HEAD + "[proxy]\n", NEXT, "proxy"),
    ("bad_value_size", HEAD + "[route r]\npath = /r\nbackend = echo\nmax_message_size = 12Q\n",
     NEXT + 3, "max_message_size"),
    ("bad_value_duration", "[server]\n\nhandshake_timeout = soon\n[listen a]\n"
     "address = 127.0.0.1:1\n", 3, "handshake_timeout"),
    ("bad_value_bool", HEAD + "[route r]\npath = /r\nbackend = echo\npermessage_deflate = maybe\n",
     NEXT + 3, "permessage_deflate"),
    ("bad_value_level", "[server]\nlog_level = loud\n[listen a]\naddress = 127.0.0.1:1\n", 2,
     "log_level"),
    ("bad_address_port", HEAD + "[listen b]\naddress = 127.0.0.1:70000\n", NEXT + 1, "address"),
    ("bad_address_host", HEAD + "[listen b]\naddress = 999.0.0.1:80\n", NEXT + 1, "address"),
    ("bad_address_unix", HEAD + "[listen b]\naddress = unix:relative.sock\n", NEXT + 1,
     "address"),
    ("bad_backend_scheme", HEAD + "[route r]\npath = /r\nbackend = ftp:host:21\n", NEXT + 2,
     "backend"),
    ("bad_backend_port", HEAD + "[route r]\npath = /r\nbackend = tcp:127.0.0.1:0\n", NEXT + 2,
     "backend"),
    ("bad_backend_noport", HEAD + "[route r]\npath = /r\nbackend = tcp:127.0.0.1\n", NEXT + 2,
     "backend"),
    ("missing_listen_section", "# no listener\n[server]\nworkers = 1\n[route r]\npath = /r\n"
     "backend = echo\n", 0, "listen"),
    ("missing_route_key", HEAD + "[route r]\npath = /r\n", NEXT, "backend"),
    ("missing_tls_file", HEAD + "[listen t]\naddress = 127.0.0.1:8443\n"
     "tls_certificate = /nonexistent/cert.pem\ntls_key = /nonexistent/key.pem\n", NEXT + 2,
     "tls_certificate"),
]


def check(path):
    return subprocess.run([harness.WSGATE, "-t", "-c", path], capture_output=True, text=True,
                          timeout=10 * harness.SLOW, stdin=subprocess.DEVNULL)


class ConfigTestTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="wsgate-conf-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, name, text):
        p = os.path.join(self.dir, name + ".conf")
        with open(p, "w") as f:
            f.write(text)
        return p

    def test_good_config(self):
        p = self.write("good", GOOD.format(dir=self.dir))
        r = check(p)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertNotIn(f"{p}:", r.stderr)

    def test_shipped_example(self):
        r = check(os.path.join(harness.ROOT, "conf", "wsgate.conf"))
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)

    def test_bad_configs(self):
        for name, text, line, word in BAD:
            with self.subTest(name):
                p = self.write(name, text)
                r = check(p)
                self.assertEqual(r.returncode, 1, f"{name}: {r.stderr}{r.stdout}")
                prefix = f"{p}:{line}: "
                lines = [l for l in r.stderr.splitlines() if l.startswith(prefix)]
                self.assertTrue(lines, f"{name}: expected {prefix!r} in {r.stderr!r}")
                self.assertIn(word, lines[0], f"{name}: {lines[0]}")

    def test_missing_file(self):
        p = os.path.join(self.dir, "absent.conf")
        r = check(p)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{p}:", r.stderr)

    def test_daemon_refuses_to_start_on_bad_config(self):
        name, text, line, word = BAD[2]
        p = self.write("start", text)
        r = subprocess.run([harness.WSGATE, "-c", p], capture_output=True, text=True,
                           timeout=10 * harness.SLOW, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"{p}:{line}: ", r.stderr)


if __name__ == "__main__":
    harness.main()
