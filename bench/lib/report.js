'use strict'
// Turns the samples of every round into the results table (Markdown): medians, p99 where there
// are enough samples, the ratio of the two implementations, and the target for this module.

const { summarize } = require('./stats')
const { format, targetText, meets } = require('./format')
const os = require('os')
const { IMPLS, KEYS, ROOT } = require('./impls')

// The results file is committed: no paths of the machine it was measured on.
function redact(text) {
  return text.split(ROOT).join('<repo>').split(os.tmpdir()).join('$TMPDIR')
}

const ORPHANS = {
  id: 'orphans',
  label: 'processes left behind after killDaemon',
  unit: 'count',
  agg: 'sum',
  target: { max: 0 },
}

// One implementation's figure for one metric: { value, p99, n } or { na } or { error }.
function cell(metric, res, computed, size) {
  if (!res) return { error: 'not run' }
  if (metric.id === 'orphans') return { value: res.orphans.length, n: res.rounds }
  if (metric.derive) {
    for (const dep of metric.needs || []) if (res.na[dep]) return { na: res.na[dep] }
    let v = null
    try {
      v = metric.derive(computed, size)
    } catch (_) {}
    return Number.isFinite(v) ? { value: v } : res.errors.length ? { error: 'error' } : { value: null }
  }
  if (res.na[metric.id]) return { na: res.na[metric.id] }
  const samples = res.samples[metric.id] || []
  if (samples.length === 0) return res.errors.length ? { error: 'error' } : { value: null }
  if (metric.agg === 'sum') return { value: samples.reduce((a, b) => a + b, 0), n: samples.length }
  const s = summarize(samples)
  return { value: s.median, p99: s.p99, n: s.n }
}

// rows: [{ scenario, metric, cells: { rs, orig } }]
function buildRows(scenarios, results, mode) {
  const rows = []
  for (const { id, mod } of scenarios) {
    const metrics = mod.metrics.concat([ORPHANS])
    const size = mod.sizes[mode]
    const cells = {}
    for (const key of KEYS) {
      const res = results[id] && results[id][key]
      const computed = {} // what derive() functions read: m.<id>.value / .p99
      cells[key] = {}
      for (const metric of metrics) {
        const c = cell(metric, res, computed, size)
        cells[key][metric.id] = c
        computed[metric.id] = { value: c.value, p99: c.p99 }
      }
    }
    for (const metric of metrics) {
      const label = typeof metric.label === 'function' ? metric.label(size) : metric.label
      rows.push({ scenario: mod.title, label, metric, cells: { rs: cells.rs[metric.id], orig: cells.orig[metric.id] } })
    }
  }
  return rows
}

function showCell(c, unit) {
  if (c.na) return `n/a (${c.na})`
  if (c.error) return c.error
  const main = format(c.value, unit)
  return c.p99 !== null && c.p99 !== undefined ? `${main} (p99 ${format(c.p99, unit)})` : main
}

function ratio(a, b) {
  if (!a || !b || a.value === null || b.value === null || a.value === undefined || b.value === undefined) return '–'
  // A ratio of differences that can be zero or negative (overheads, counts) means nothing.
  if (!(a.value > 0) || !(b.value > 0)) return '–'
  const r = a.value / b.value
  return r >= 10 ? `${r.toFixed(0)}×` : r >= 0.1 ? `${r.toFixed(2)}×` : `${r.toPrecision(2)}×`
}

function verdict(metric, c, other) {
  const ok = c.na ? null : c.error ? false : meets(metric.target, c, other)
  return ok === null ? '' : ok ? '✅' : '❌'
}

function table(rows) {
  const rs = IMPLS.rs.label
  const orig = IMPLS.orig.label
  const out = [
    `| Scenario | Metric | ${rs} | ${orig} | ratio | target (${rs}) | |`,
    '|---|---|--:|--:|--:|---|:-:|',
  ]
  let last = null
  for (const { scenario, label, metric, cells } of rows) {
    const name = scenario === last ? '' : scenario
    last = scenario
    out.push(
      `| ${name} | ${label} | ${showCell(cells.rs, metric.unit)} | ${showCell(cells.orig, metric.unit)} | ` +
        `${metric.unit === 'x' || metric.unit === 'count' ? '–' : ratio(cells.rs, cells.orig)} | ${targetText(metric.target, metric.unit)} | ${verdict(metric, cells.rs, cells.orig)} |`
    )
  }
  return out.join('\n')
}

// Errors, orphans and notes, per scenario and implementation.
function problems(scenarios, results) {
  const lines = []
  for (const { id, mod } of scenarios) {
    for (const key of KEYS) {
      const res = results[id] && results[id][key]
      if (!res) continue
      const who = `${mod.title}, ${IMPLS[key].label}`
      for (const e of res.errors) lines.push(`- ${who}: **error** in round ${e.round + 1}: ${e.message}`)
      for (const o of res.orphans) lines.push(`- ${who}: **orphan** in round ${o.round + 1}: pid ${o.pid} (${o.how}) \`${o.cmd}\``)
      for (const n of new Set(res.notes)) lines.push(`- ${who}: ${n}`)
    }
  }
  return lines
}

function markdown({ scenarios, results, machine, quick, rounds, seconds }) {
  const rows = buildRows(scenarios, results, quick ? 'quick' : 'full')
  const issues = problems(scenarios, results)
  return [
    `# Benchmark: ${IMPLS.rs.label} and ${IMPLS.orig.label}, side by side${quick ? ' (quick mode: small sizes, smoke run)' : ''}`,
    '',
    `- Date: ${machine.date}`,
    `- Versions: ${IMPLS.rs.label} ${machine.versions.rs} (this repository), ${IMPLS.orig.label} ${machine.versions.orig} (${IMPLS.orig.request === 'pm2-original' ? 'the original, installed as \`pm2-original\`' : 'another build of this package'}), Node.js ${machine.node}`,
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory} RAM, ${machine.os}`,
    `- Method: \`npm run bench${quick ? ':quick' : ''}\` (${seconds} s). Every scenario round runs in its own process with a fresh \`PM2_HOME\` and ends with \`killDaemon\`; ` +
      `the two implementations alternate round by round (${rounds}). Figures are medians over all samples, with p99 where there are at least 200 samples; ` +
      `losses and leftover processes are totals. Ratio = ${IMPLS.rs.label} / ${IMPLS.orig.label}; the target applies to ${IMPLS.rs.label}.`,
    '',
    table(rows),
    '',
    '## Problems and notes',
    '',
    issues.length ? redact(issues.join('\n')) : 'None: no errors, no processes left behind.',
    '',
  ].join('\n')
}

module.exports = { markdown, buildRows, ORPHANS }
