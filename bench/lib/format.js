'use strict'
// Human units for the results table. Values are kept in base units (ms, bytes, per second,
// counts) until printed.

const MiB = 1024 * 1024

function num(x, digits) {
  return Number(x.toFixed(digits)).toString()
}

// Three significant digits, but never more decimals than useful.
function sig(x) {
  const a = Math.abs(x)
  if (a >= 100) return num(x, 0)
  if (a >= 10) return num(x, 1)
  if (a >= 1) return num(x, 2)
  return num(x, 3)
}

const UNITS = {
  ms: (v) => (Math.abs(v) < 1 ? `${sig(v * 1000)} µs` : Math.abs(v) >= 10000 ? `${sig(v / 1000)} s` : `${sig(v)} ms`),
  bytes: (v) => `${sig(v / MiB)} MiB`,
  rate: (v) => (v >= 1e6 ? `${sig(v / 1e6)} M/s` : v >= 1e3 ? `${sig(v / 1e3)} k/s` : `${sig(v)}/s`),
  count: (v) => String(Math.round(v)),
  percent: (v) => `${sig(v)} %`,
  x: (v) => `${sig(v)}×`,
}

function format(value, unit) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–'
  return (UNITS[unit] || sig)(value)
}

function targetText(target, unit) {
  if (!target) return ''
  if (target.text) return target.text
  if (target.on === 'p99') return `p99 ${targetText(Object.assign({}, target, { on: null }), unit)}`
  if (target.ratio !== undefined) return `≤ ${target.ratio}× the original`
  if (target.max === 0) return '0'
  if (target.max !== undefined) return `≤ ${format(target.max, unit)}`
  if (target.min !== undefined) return `≥ ${format(target.min, unit)}`
  return ''
}

// target: { max } or { min }, on the median unless on: 'p99'; { abs } bounds |value|;
// { ratio } bounds the median over the other implementation's (`other`).
function meets(target, cell, other) {
  if (!target) return null
  if (target.ratio !== undefined) {
    return other && cell.value > 0 && other.value > 0 ? cell.value / other.value <= target.ratio : null
  }
  let value = target.on === 'p99' ? cell.p99 : cell.value
  // Too few samples for a p99, but the median alone already misses a maximum.
  if (target.on === 'p99' && !Number.isFinite(value) && target.max !== undefined && cell.value > target.max) value = cell.value
  if (target.abs !== undefined) return Number.isFinite(value) ? Math.abs(value) <= target.abs : null
  if (value === null || value === undefined || !Number.isFinite(value)) return null
  if (target.max !== undefined && value > target.max) return false
  if (target.min !== undefined && value < target.min) return false
  return true
}

module.exports = { MiB, format, targetText, meets }
