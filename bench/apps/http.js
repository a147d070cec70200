'use strict'
// A minimal HTTP server for the cluster scenario: every request gets "ok".
require('http')
  .createServer((req, res) => res.end('ok'))
  .listen(Number(process.env.BENCH_HTTP_PORT), '127.0.0.1')
