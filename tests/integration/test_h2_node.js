// WebSocket over HTTP/2 extended CONNECT (RFC 8441) with Node's own
// http2 client (an implementation independent of nghttp2's server side
// and of Python h2): the server advertises enableConnectProtocol, a
// CONNECT with :protocol websocket gets 200, masked frames are echoed,
// over h2c and over TLS (ALPN h2), many streams on one session, and an
// unknown :protocol gets 501.
'use strict';
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const http2 = require('http2');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawn, execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const WSGATE = path.resolve(process.env.WSGATE || path.join(ROOT, 'build', 'wsgate'));
const SLOW = WSGATE.includes('asan') ? 3 : 1;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timeout: ' + what)), ms * SLOW); }),
  ]).finally(() => clearTimeout(t));
}

async function waitPort(port) {
  const deadline = Date.now() + 10000 * SLOW;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('daemon not listening');
}

function frame(opcode, payload, fin = true) {
  const n = payload.length;
  let head;
  if (n < 126) {
    head = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | n]);
  } else if (n < 65536) {
    head = Buffer.alloc(4);
    head[0] = (fin ? 0x80 : 0) | opcode; head[1] = 0x80 | 126; head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | opcode; head[1] = 0x80 | 127; head.writeBigUInt64BE(BigInt(n), 2);
  }
  const key = crypto.randomBytes(4);
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([head, key, body]);
}

// Reads server frames from an http2 stream.
class FrameReader {
  constructor(stream) {
    this.buf = Buffer.alloc(0);
    this.waiters = [];
    this.ended = false;
    stream.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.kick(); });
    stream.on('end', () => { this.ended = true; this.kick(); });
    stream.on('close', () => { this.ended = true; this.kick(); });
  }
  parse() {
    const b = this.buf;
    if (b.length < 2) return null;
    assert.strictEqual(b[1] & 0x80, 0, 'server frames are not masked');
    let n = b[1] & 0x7f, off = 2;
    if (n === 126) { if (b.length < 4) return null; n = b.readUInt16BE(2); off = 4; }
    else if (n === 127) { if (b.length < 10) return null; n = Number(b.readBigUInt64BE(2)); off = 10; }
    if (b.length < off + n) return null;
    const f = { fin: !!(b[0] & 0x80), opcode: b[0] & 0x0f, payload: b.subarray(off, off + n) };
    this.buf = b.subarray(off + n);
    return f;
  }
  kick() {
    while (this.waiters.length) {
      const f = this.parse();
      if (f) { this.waiters.shift().resolve(f); continue; }
      if (this.ended) { this.waiters.shift().reject(new Error('stream ended')); continue; }
      break;
    }
  }
  next() {
    return new Promise((resolve, reject) => { this.waiters.push({ resolve, reject }); this.kick(); });
  }
  // A whole data message (the echo keeps fragment boundaries as they
  // arrived, so one message may come back as several frames).
  async message() {
    const parts = [];
    let f, opcode = null;
    do {
      f = await this.next();
      if (opcode === null) opcode = f.opcode;
      parts.push(f.payload);
    } while (!f.fin);
    return { opcode, payload: Buffer.concat(parts) };
  }
}

function connectWs(session, scheme, authority, p, protocol = 'websocket') {
  const req = session.request({
    ':method': 'CONNECT', ':protocol': protocol, ':scheme': scheme, ':path': p,
    ':authority': authority, 'sec-websocket-version': '13',
  }, { endStream: false });
  return new Promise((resolve, reject) => {
    req.on('response', (h) => resolve({ req, status: h[':status'], headers: h }));
    req.on('error', reject);
  });
}

async function openSession(url, opts = {}) {
  const session = http2.connect(url, opts);
  await withTimeout(new Promise((resolve, reject) => {
    session.on('remoteSettings', resolve);
    session.on('error', reject);
  }), 5000, 'remote settings');
  return session;
}

async function echoTest(session, scheme, authority) {
  assert.strictEqual(session.remoteSettings.enableConnectProtocol, true,
    'server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL');
  const { req, status } = await withTimeout(connectWs(session, scheme, authority, '/echo'), 5000, '200');
  assert.strictEqual(status, 200);
  const r = new FrameReader(req);
  req.write(frame(1, Buffer.from('hello from node http2')));
  let m = await withTimeout(r.message(), 5000, 'echo');
  assert.strictEqual(m.opcode, 1);
  assert.strictEqual(m.payload.toString(), 'hello from node http2');
  const blob = crypto.randomBytes(300000);
  req.write(frame(2, blob));
  m = await withTimeout(r.message(), 5000, 'binary echo');
  assert.strictEqual(m.opcode, 2);
  assert.ok(m.payload.equals(blob));
  const close = Buffer.alloc(2); close.writeUInt16BE(1000);
  req.write(frame(8, close));
  const f = await withTimeout(r.next(), 5000, 'close echo');
  assert.strictEqual(f.opcode, 8);
  assert.strictEqual(f.payload.readUInt16BE(0), 1000);
  await withTimeout(new Promise((resolve) => { if (r.ended) resolve(); else req.on('end', resolve); }),
    5000, 'END_STREAM');
  req.end();
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgate-node-h2-'));
  const cert = path.join(dir, 'cert.pem'), key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-days', '2', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const port = await freePort(), tlsPort = await freePort();
  const conf = path.join(dir, 'wsgate.conf');
  fs.writeFileSync(conf, `
[server]
workers = 2
[listen plain]
address = 127.0.0.1:${port}
[listen tls]
address = 127.0.0.1:${tlsPort}
tls_certificate = ${cert}
tls_key = ${key}
[route echo]
path = /echo
backend = echo
`);
  const log = fs.openSync(path.join(dir, 'stderr.log'), 'a');
  const daemon = spawn(WSGATE, ['-c', conf], { stdio: ['ignore', log, log] });
  let passed = 0, failed = 0;
  const run = async (name, fn) => {
    try {
      await withTimeout(fn(), 30000, name);
      passed++;
      console.log('ok   ' + name);
    } catch (e) {
      failed++;
      console.log('FAIL ' + name + ': ' + (e && e.stack || e));
    }
  };
  try {
    await waitPort(port);
    await run('echo over h2c', async () => {
      const s = await openSession(`http://127.0.0.1:${port}`);
      try { await echoTest(s, 'http', `127.0.0.1:${port}`); } finally { s.close(); }
    });
    await run('echo over TLS with ALPN h2', async () => {
      const s = await openSession(`https://127.0.0.1:${tlsPort}`, { rejectUnauthorized: false });
      try {
        assert.strictEqual(s.alpnProtocol, 'h2');
        await echoTest(s, 'https', `127.0.0.1:${tlsPort}`);
      } finally { s.close(); }
    });
    await run('50 concurrent WebSocket streams on one session', async () => {
      const s = await openSession(`http://127.0.0.1:${port}`);
      try {
        const all = [];
        for (let i = 0; i < 50; i++) {
          all.push((async () => {
            const { req, status } = await connectWs(s, 'http', `127.0.0.1:${port}`, '/echo');
            assert.strictEqual(status, 200);
            const r = new FrameReader(req);
            const msg = crypto.randomBytes(1000 + i);
            req.write(frame(2, msg));
            const m = await r.message();
            assert.strictEqual(m.opcode, 2);
            assert.ok(m.payload.equals(msg));
            req.close(http2.constants.NGHTTP2_CANCEL);
          })());
        }
        await Promise.all(all);
      } finally { s.close(); }
    });
    await run('unknown :protocol gets 501', async () => {
      const s = await openSession(`http://127.0.0.1:${port}`);
      try {
        const { status } = await connectWs(s, 'http', `127.0.0.1:${port}`, '/echo', 'not-websocket');
        assert.strictEqual(status, 501);
      } finally { s.close(); }
    });
    await run('no route gets 404', async () => {
      const s = await openSession(`http://127.0.0.1:${port}`);
      try {
        const { status } = await connectWs(s, 'http', `127.0.0.1:${port}`, '/nowhere');
        assert.strictEqual(status, 404);
      } finally { s.close(); }
    });
  } catch (e) {
    failed++;
    console.log('FAIL setup: ' + (e && e.stack || e));
  } finally {
    daemon.kill('SIGTERM');
    await withTimeout(new Promise((r) => daemon.on('exit', r)), 15000, 'daemon exit').catch(() => daemon.kill('SIGKILL'));
  }
  const accessH2 = fs.readFileSync(path.join(dir, 'stderr.log'), 'utf8').split('\n')
    .filter((l) => / HTTP\/2 "\/echo" echo 200 /.test(l)).length;
  if (accessH2 < 52) {
    failed++;
    console.log(`FAIL access log: ${accessH2} HTTP/2 session lines, want >= 52`);
  } else {
    passed++;
    console.log('ok   access log says HTTP/2');
  }
  console.log(`test_h2_node.js: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
