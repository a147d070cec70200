'use strict'
// Medians and percentiles of samples. p99 is only meaningful with enough samples, so it is
// reported only from MIN_P99_SAMPLES up (below that it would just be the maximum).

const MIN_P99_SAMPLES = 200

function sorted(samples) {
  return samples.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
}

// Nearest-rank percentile, q in [0, 1].
function percentile(samples, q) {
  const s = sorted(samples)
  if (s.length === 0) return null
  const rank = Math.min(s.length, Math.max(1, Math.ceil(q * s.length)))
  return s[rank - 1]
}

function median(samples) {
  const s = sorted(samples)
  if (s.length === 0) return null
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

function summarize(samples) {
  const s = sorted(samples)
  return {
    n: s.length,
    median: median(s),
    p99: s.length >= MIN_P99_SAMPLES ? percentile(s, 0.99) : null,
    min: s.length ? s[0] : null,
    max: s.length ? s[s.length - 1] : null,
  }
}

module.exports = { MIN_P99_SAMPLES, percentile, median, summarize }
