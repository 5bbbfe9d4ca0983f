#!/usr/bin/python3
"""File-descriptor limit: the daemon raises its soft RLIMIT_NOFILE to the
hard limit, warns at start when max_connections cannot fit under it, and
when accept() runs out of descriptors it pauses (and says so) instead of
spinning, and serves again once descriptors are free."""
import socket
import unittest

import harness
import websockets

CONF = """
[server]
workers = 1
max_connections = {maxc}
handshake_timeout = 30s
[listen plain]
address = 127.0.0.1:{port}
[route echo]
path = /echo
backend = echo
"""


def limits_of(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no 'Max open files' line")


async def echo_once(port):
    async with websockets.connect(f"ws://127.0.0.1:{port}/echo", open_timeout=5) as ws:
        await ws.send("ping")
        return await ws.recv()


class FdLimitTest(unittest.TestCase):
    def run_daemon(self, maxc, nofile):
        d = harness.Daemon(CONF, maxc=maxc, nofile=nofile)
        d.start()
        self.addCleanup(lambda: self.assertEqual(d.stop(), 0, d.log()))
        return d

    def test_soft_limit_raised_and_warning(self):
        d = self.run_daemon(10000, (64, 256))
        self.assertEqual(limits_of(d.proc.pid), (256, 256))
        log = d.log()
        self.assertIn("max_connections = 10000 needs about 20064 file descriptors", log)
        self.assertIn("the limit is 256", log)

    def test_no_warning_when_it_fits(self):
        d = self.run_daemon(50, (64, 256))
        self.assertEqual(limits_of(d.proc.pid), (256, 256))
        self.assertNotIn("file descriptors", d.log())
        self.assertEqual(harness.run_async(echo_once(d.port), 10), "ping")

    def test_out_of_descriptors_pauses_and_recovers(self):
        d = self.run_daemon(10000, (128, 128))
        socks = []
        try:
            # More idle connections than the daemon has descriptors: the
            # kernel queues them all, accept() hits EMFILE.
            for _ in range(160):
                socks.append(socket.create_connection(("127.0.0.1", d.port), timeout=5))
            harness.wait_for(lambda: "Too many open files; pausing" in d.log(), 10,
                             "the accept pause in the log")
        finally:
            for s in socks:
                s.close()
        # The idle connections are gone (their FIN is read): sessions work again.
        self.assertEqual(harness.run_async(echo_once(d.port), 20), "ping")
        self.assertLess(d.log().count("pausing"), 200, "accept errors logged in a busy loop")


if __name__ == "__main__":
    harness.main()
