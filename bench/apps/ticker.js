'use strict'
// The soak's app: a log line every 100 ms, so that every bus client has something to read.
let n = 0
setInterval(() => console.log(`tick ${n++}`), 100)
