'use strict'
// Writes one line on stdout, then idles until stopped.
console.log(`first line ${process.pid}`)
setInterval(() => {}, 60000)
