#!/usr/bin/env node
// Node `ws` as an independent client of the real daemon: echo of text and
// binary, small and 16 MiB, over ws:// and wss://; permessage-deflate
// negotiated (perMessageDeflate: true) with data intact, and not
// negotiated on a route without it; a TCP backend round trip.
'use strict';
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawn, execFileSync } = require('child_process');
const WebSocket = require('ws');

const ROOT = path.resolve(__dirname, '..', '..');
const WSGATE = path.resolve(process.env.WSGATE || path.join(ROOT, 'build', 'wsgate'));
const SLOW = WSGATE.includes('asan') ? 3 : 1;
const BIG = 16 << 20;
const MIB = 1 << 20;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

function withTimeout(promise, ms, what) {
  let t;
  const timer = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms * SLOW);
  });
  return Promise.race([promise, timer]).finally(() => clearTimeout(t));
}

async function waitPort(port) {
  const deadline = Date.now() + 10000 * SLOW;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.on('connect', () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`nothing listening on ${port}`);
}

// An echo TCP backend that also hashes what it got.
function startBackend() {
  const srv = net.createServer((c) => {
    c.on('data', (d) => c.write(d));
    c.on('end', () => c.end());
    c.on('error', () => {});
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

async function startDaemon(backendPort) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgate-node-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt',
    'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')],
  { stdio: 'ignore' });
  const port = await freePort();
  const tlsPort = await freePort();
  const conf = `[server]
workers = 2
[listen plain]
address = 127.0.0.1:${port}
[listen tls]
address = 127.0.0.1:${tlsPort}
tls_certificate = ${dir}/cert.pem
tls_key = ${dir}/key.pem
[route echo]
path = /echo
backend = echo
[route deflate]
path = /deflate
backend = echo
permessage_deflate = on
[route tcp]
path = /tcp
backend = tcp:127.0.0.1:${backendPort}
`;
  const confPath = path.join(dir, 'wsgate.conf');
  fs.writeFileSync(confPath, conf);
  const logPath = path.join(dir, 'stderr.log');
  const logFd = fs.openSync(logPath, 'a');
  const proc = spawn(WSGATE, ['-c', confPath], { stdio: ['ignore', logFd, logFd] });
  const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig })));
  await waitPort(port);
  return { port, tlsPort, proc, exited, dir, log: () => fs.readFileSync(logPath, 'utf8') };
}

function connect(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { rejectUnauthorized: false, maxPayload: 0, ...opts });
    let response = null;
    ws.on('upgrade', (res) => { response = res; });
    ws.once('open', () => {
      ws.upgradeResponse = response;
      resolve(ws);
    });
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) =>
      reject(new Error(`unexpected response ${res.statusCode}`)));
  });
}

// A queue of incoming messages so that tests can await them in order.
function messages(ws) {
  const q = [];
  const waiters = [];
  let closed = null;
  ws.on('message', (data, isBinary) => {
    const m = { data, isBinary };
    if (waiters.length) waiters.shift().resolve(m); else q.push(m);
  });
  ws.on('close', (code) => {
    closed = code;
    while (waiters.length) waiters.shift().reject(new Error(`closed ${code}`));
  });
  return {
    next() {
      if (q.length) return Promise.resolve(q.shift());
      if (closed !== null) return Promise.reject(new Error(`closed ${closed}`));
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
  };
}

function closeWs(ws) {
  return new Promise((resolve) => {
    ws.once('close', (code) => resolve(code));
    ws.close(1000, 'done');
  });
}

async function roundtrip(ws, q, payload) {
  const isBinary = typeof payload !== 'string';
  ws.send(payload, { binary: isBinary });
  const m = await q.next();
  assert.strictEqual(m.isBinary, isBinary, 'message type changed');
  if (isBinary) {
    assert.ok(Buffer.compare(m.data, payload) === 0, `binary payload of ${payload.length} differs`);
  } else {
    assert.ok(m.data.toString('utf8') === payload, `text payload of ${payload.length} differs`);
  }
}

async function echoTest(d, tls) {
  const url = tls ? `wss://127.0.0.1:${d.tlsPort}/echo` : `ws://127.0.0.1:${d.port}/echo`;
  const ws = await connect(url, { perMessageDeflate: false });
  const q = messages(ws);
  for (const p of ['hello', '', 'héllo ✓'.repeat(50), Buffer.from([0, 1, 255]),
    Buffer.alloc(0), crypto.randomBytes(100000)]) {
    await roundtrip(ws, q, p);
  }
  await roundtrip(ws, q, crypto.randomBytes(BIG));
  await roundtrip(ws, q, 'abcdefghijklmnopqrstuvwxyzé✓'.repeat(BIG / 32));
  assert.strictEqual(await closeWs(ws), 1000);
}

function compressibleText(n) {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `line ${i}: the quick brown fox jumps over the lazy dog\n`;
  return s.slice(0, n);
}

async function deflateTest(d, tls) {
  const url = tls ? `wss://127.0.0.1:${d.tlsPort}/deflate` : `ws://127.0.0.1:${d.port}/deflate`;
  const ws = await connect(url, { perMessageDeflate: true });
  const ext = ws.upgradeResponse.headers['sec-websocket-extensions'] || '';
  assert.ok(ext.includes('permessage-deflate'), `response extensions: '${ext}'`);
  assert.ok(ws.extensions.includes('permessage-deflate'), `client extensions: '${ws.extensions}'`);
  const q = messages(ws);
  const text = compressibleText(MIB);
  for (const p of ['hi', '', 'héllo'.repeat(100), Buffer.from([0, 1, 2]), text,
    Buffer.from(text), crypto.randomBytes(MIB), Buffer.alloc(MIB)]) {
    await roundtrip(ws, q, p);
  }
  for (let i = 0; i < 100; i++) ws.send(`message ${i} `.repeat(i % 7 + 1));
  for (let i = 0; i < 100; i++) {
    const m = await q.next();
    assert.strictEqual(m.data.toString(), `message ${i} `.repeat(i % 7 + 1));
  }
  assert.strictEqual(await closeWs(ws), 1000);
}

async function noDeflateTest(d) {
  const ws = await connect(`ws://127.0.0.1:${d.port}/echo`, { perMessageDeflate: true });
  assert.strictEqual(ws.upgradeResponse.headers['sec-websocket-extensions'], undefined);
  assert.strictEqual(ws.extensions, '');
  const q = messages(ws);
  await roundtrip(ws, q, compressibleText(100000));
  assert.strictEqual(await closeWs(ws), 1000);
}

async function tcpBackendTest(d) {
  const ws = await connect(`ws://127.0.0.1:${d.port}/tcp`, { perMessageDeflate: false });
  const total = 8 * MIB;
  const sent = crypto.createHash('sha256');
  const got = crypto.createHash('sha256');
  let n = 0;
  const done = new Promise((resolve, reject) => {
    ws.on('message', (data, isBinary) => {
      if (!isBinary) reject(new Error('backend bytes must arrive as binary messages'));
      got.update(data);
      n += data.length;
      if (n >= total) resolve();
    });
    ws.on('close', () => reject(new Error('closed early')));
  });
  for (let i = 0; i < total; i += 256 * 1024) {
    const b = crypto.randomBytes(256 * 1024);
    sent.update(b);
    ws.send(b);
  }
  await done;
  assert.strictEqual(n, total);
  assert.strictEqual(got.digest('hex'), sent.digest('hex'));
  ws.removeAllListeners('close');
  assert.strictEqual(await closeWs(ws), 1000);
}

let daemonProc = null;

async function main() {
  const backend = await startBackend();
  const d = await startDaemon(backend.address().port);
  daemonProc = d.proc;
  const tests = [
    ['echo ws://', () => echoTest(d, false)],
    ['echo wss://', () => echoTest(d, true)],
    ['deflate ws://', () => deflateTest(d, false)],
    ['deflate wss://', () => deflateTest(d, true)],
    ['no deflate without the route option', () => noDeflateTest(d)],
    ['tcp backend 8 MiB round trip', () => tcpBackendTest(d)],
  ];
  let passed = 0;
  let failed = 0;
  for (const [name, fn] of tests) {
    try {
      await withTimeout(fn(), 60000, name);
      console.log(`ok   ${name}`);
      passed++;
    } catch (e) {
      console.log(`FAIL ${name}: ${e.stack || e}`);
      failed++;
    }
  }
  d.proc.kill('SIGTERM');
  const st = await withTimeout(d.exited, 15000, 'daemon exit').catch((e) => {
    d.proc.kill('SIGKILL');
    return { code: null, sig: String(e) };
  });
  if (st.code !== 0) {
    console.log(`FAIL daemon exit ${JSON.stringify(st)}\n${d.log()}`);
    failed++;
  } else {
    console.log('ok   daemon exits 0 on SIGTERM');
    passed++;
  }
  if (failed) console.log(d.log().split('\n').slice(-40).join('\n'));
  backend.close();
  if (!process.env.WSGATE_KEEP_TMP) fs.rmSync(d.dir, { recursive: true, force: true });
  console.log(`test_node_ws.js: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL ${e.stack || e}`);
  if (daemonProc && daemonProc.exitCode === null) daemonProc.kill('SIGKILL');
  console.log('test_node_ws.js: 0 passed, 1 failed');
  process.exit(1);
});
