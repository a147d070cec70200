'use strict'
// Waiting for something that grows (bytes in a log file, messages received) to reach a goal.

const fs = require('fs')

// Polls `progress()` (a growing number) until it reaches `goal` or stops growing for
// `stallMs`. Resolves with the time (performance.now()) of the last growth seen.
async function until(progress, goal, { stallMs = 5000, everyMs = 2 } = {}) {
  let last = progress()
  let lastT = performance.now()
  while (last < goal) {
    await new Promise((resolve) => setTimeout(resolve, everyMs))
    const now = progress()
    if (now !== last) {
      last = now
      lastT = performance.now()
    } else if (performance.now() - lastT > stallMs) break
  }
  return lastT
}

// A file's size in bytes; 0 while it does not exist.
function fileSize(file) {
  try {
    return fs.statSync(file).size
  } catch (_) {
    return 0
  }
}

module.exports = { until, fileSize }
