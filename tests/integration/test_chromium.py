#!/usr/bin/python3
"""Headless Chromium against the real daemon: a page loaded over HTTPS
(HTTP/2 by ALPN) from the static root opens wss:// WebSockets on the same
origin, which Chromium then carries as RFC 8441 extended CONNECT streams
of that HTTP/2 connection.  The page exchanges text and binary messages
with the echo route and with a TCP backend route; permessage-deflate is
offered by Chromium and must be negotiated and work.  The access log
proves the sessions travelled as HTTP/2.

Chromium is driven through the DevTools protocol over a WebSocket (the
Python `websockets` library as the CDP client), in real time."""
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

import harness
import websockets

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

CONF = """
[server]
workers = 2
log_level = debug
[listen plain]
address = 127.0.0.1:{port}
[listen tls]
address = 127.0.0.1:{tls_port}
tls_certificate = {cert}
tls_key = {key}
[route echo]
path = /echo
backend = echo
permessage_deflate = on
[route tcp]
path = /tcp
backend = {backend}
permessage_deflate = on
[static]
root = {dir}/www
"""

PAGE = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>running</title></head><body>
<script>
window.results = {done: false, errors: [], sessions: []};
function log(e) { window.results.errors.push(String(e)); }
function session(path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket("wss://" + location.host + path);
    ws.binaryType = "arraybuffer";
    const got = [];
    const out = {path: path, extensions: null, protocol: null, got: got, close: null};
    const big = new Uint8Array(200000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 255;
    let step = 0;
    ws.onopen = () => {
      out.extensions = ws.extensions;
      ws.send("hello over h2 é✓ " + path);
      ws.send(new Uint8Array([1, 2, 3, 250]).buffer);
      ws.send(big.buffer);
    };
    let binBytes = [];
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") {
        got.push({type: "text", data: ev.data});
      } else {
        const a = new Uint8Array(ev.data);
        // The TCP route returns backend bytes as binary messages of its own
        // sizes: collect them as one stream.
        for (const b of a) binBytes.push(b);
        got.push({type: "binary", len: a.length});
      }
      const text = "hello over h2 é✓ " + path;
      const wantBin = 4 + big.length;
      const haveText = got.some(g => g.type === "text" && g.data === text);
      const textBytes = path === "/tcp" ? new TextEncoder().encode(text).length : 0;
      if ((haveText || path === "/tcp") && binBytes.length >= wantBin + textBytes) {
        const tail = binBytes.slice(binBytes.length - wantBin);
        let ok = tail[0] === 1 && tail[1] === 2 && tail[2] === 3 && tail[3] === 250;
        for (let i = 0; ok && i < big.length; i++) ok = tail[4 + i] === big[i];
        if (path === "/tcp") {
          const head = new TextDecoder().decode(new Uint8Array(binBytes.slice(0, textBytes)));
          ok = ok && head === text;
        }
        out.binaryOk = ok;
        ws.close(1000, "done");
      }
    };
    ws.onclose = (ev) => { out.close = ev.code; window.results.sessions.push(out); resolve(out); };
    ws.onerror = () => { log("error on " + path); };
  });
}
(async () => {
  try {
    await session("/echo");
    await session("/tcp");
    await Promise.all([session("/echo"), session("/tcp"), session("/echo")]);
  } catch (e) { log(e); }
  window.results.done = true;
  document.title = "done";
})();
</script></body></html>
"""


class Cdp:
    """A minimal DevTools protocol client on one page target."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0

    async def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        await self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise AssertionError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    async def evaluate(self, expr):
        r = await self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r.get("result", {}).get("value")


class TestChromium(unittest.TestCase):
    def setUp(self):
        self.backend = harness.TcpServer(harness.echo_handler)
        self.addCleanup(self.backend.close)
        self.daemon = harness.Daemon(CONF, tls=True, backend=self.backend.address)
        www = os.path.join(self.daemon.dir, "www")
        os.makedirs(www)
        with open(os.path.join(www, "test.html"), "w") as f:
            f.write(PAGE)
        self.daemon.start()
        self.addCleanup(self.daemon.stop)
        self.profile = tempfile.mkdtemp(prefix="wsgate-chromium-")
        self.addCleanup(shutil.rmtree, self.profile, True)
        self.cdp_port = harness.free_port()
        self.chrome = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--ignore-certificate-errors", "--disable-dev-shm-usage",
             "--user-data-dir=" + self.profile,
             "--remote-debugging-port=%d" % self.cdp_port, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.addCleanup(self.stop_chrome)

    def stop_chrome(self):
        if self.chrome.poll() is None:
            self.chrome.terminate()
            try:
                self.chrome.wait(10)
            except subprocess.TimeoutExpired:
                self.chrome.kill()
                self.chrome.wait(5)

    def page_ws_url(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % self.cdp_port,
                                            timeout=2) as r:
                    for t in json.load(r):
                        if t.get("type") == "page":
                            return t["webSocketDebuggerUrl"]
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("Chromium's DevTools endpoint did not come up")

    async def drive(self, url):
        async with websockets.connect(self.page_ws_url(), max_size=None) as ws:
            cdp = Cdp(ws)
            await cdp.call("Page.enable")
            await cdp.call("Page.navigate", url=url)
            deadline = time.monotonic() + 40 * harness.SLOW
            while time.monotonic() < deadline:
                done = await cdp.evaluate("window.results && window.results.done")
                if done:
                    return json.loads(await cdp.evaluate("JSON.stringify(window.results)"))
                await asyncio.sleep(0.2)
            raise AssertionError("the page did not finish: %r" %
                                 await cdp.evaluate("JSON.stringify(window.results)"))

    def test_page_websockets_over_http2(self):
        try:
            self.check_page()
        except AssertionError as e:
            raise AssertionError("%s\n--- daemon log (tail) ---\n%s"
                                 % (e, self.daemon.log()[-4000:])) from None

    def check_page(self):
        url = "https://127.0.0.1:%d/test.html" % self.daemon.tls_port
        res = harness.run_async(self.drive(url), 60)
        self.assertEqual(res["errors"], [])
        sessions = res["sessions"]
        self.assertEqual(len(sessions), 5, res)
        for s in sessions:
            s["got"] = [g for g in s["got"] if g["type"] == "text"]  # keep messages short
            self.assertEqual(s["close"], 1000, s)
            self.assertTrue(s.get("binaryOk"), s)
            self.assertIn("permessage-deflate", s["extensions"], s)
            if s["path"] == "/echo":
                self.assertIn({"type": "text", "data": "hello over h2 é✓ /echo"}, s["got"])
        lines = harness.access_lines(self.daemon)
        page = [l for l in lines if '"/test.html"' in l]
        self.assertTrue(page and page[0].split()[2] == "HTTP/2", lines)
        ws_lines = [l for l in lines if '"/echo"' in l or '"/tcp"' in l]
        self.assertEqual(len(ws_lines), 5, lines)
        for l in ws_lines:
            f = l.split()
            self.assertEqual(f[2], "HTTP/2", l)  # an RFC 8441 stream, not an HTTP/1.1 upgrade
            self.assertEqual(f[5], "200", l)
            self.assertEqual(f[-1], "1000", l)
        # Every WebSocket shared the page's one connection (same client port).
        clients = {l.split()[1] for l in lines}
        self.assertEqual(len(clients), 1, lines)


if __name__ == "__main__":
    harness.main()
