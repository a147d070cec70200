'use strict';

// HTTP and port utilities for suites that run servers under the daemon.

const http = require('node:http');
const net = require('node:net');

// A TCP port the OS says is free right now.
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// GET with agent:false (a fresh connection per request); resolves {status, type, body}.
function httpGet(opts) {
  return new Promise((resolve, reject) => {
    const req = http.get({ agent: false, path: '/', timeout: 10000, ...opts }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

// GET http://127.0.0.1:<port><urlPath>; resolves {status, type, body}.
function localGet(port, urlPath, headers = {}) {
  return httpGet({ host: '127.0.0.1', port, path: urlPath, headers });
}

// Continuous GET loops (agent:false) until stop(); counts successes and failures.
function loadLoop(reqOpts, concurrency = 4) {
  const state = { ok: 0, failures: [], stopped: false, pids: new Set() };
  const loops = Array.from({ length: concurrency }, async () => {
    while (!state.stopped) {
      try {
        const r = await httpGet(reqOpts);
        if (r.status === 200) {
          state.ok += 1;
          try { state.pids.add(JSON.parse(r.body).pid); } catch { /* counted ok anyway */ }
        } else {
          state.failures.push(`status ${r.status}`);
        }
      } catch (e) {
        state.failures.push(e.code || e.message);
      }
    }
  });
  state.stop = async () => { state.stopped = true; await Promise.all(loops); };
  return state;
}

module.exports = { freePort, httpGet, localGet, loadLoop };
