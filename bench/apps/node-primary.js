'use strict'
// The floor of the cluster scenario: Node's own cluster primary (default scheduling) running
// BENCH_WORKERS workers of http.js. Workers exit with the primary (their channel closes).
const cluster = require('cluster')
const path = require('path')

cluster.setupPrimary({ exec: path.join(__dirname, 'http.js') })
for (let i = 0; i < Number(process.env.BENCH_WORKERS || 2); i++) cluster.fork()
