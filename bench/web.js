#!/usr/bin/env node
'use strict'
// What `pm2 web` costs the daemon (this module only: pm2 7 has no web page).
//
//   node bench/web.js [--baseline=DIR]
//
// 20 idle apps: the daemon's RSS and CPU with the web interface off (the CPU/memory history
// is always kept), then served with one page's event stream open; the page's load time in
// headless chromium (when /usr/bin/chromium exists); log lines per second reaching a page
// during a flood, and how many it was told it skipped. --baseline=DIR names a directory with
// another build's `pm2` (e.g. the previous commit's npm/<triple>/) to compare the idle RSS.

const fs = require('fs')
const os = require('os')
const path = require('path')
const http = require('http')
const { spawnSync } = require('child_process')

const ROOT = path.join(__dirname, '..')
const APPS = 20
const FLOOD_LINES = 200000
const baseline = (process.argv.find((a) => a.startsWith('--baseline=')) || '').slice('--baseline='.length)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function cli(bin, home, args) {
  const r = spawnSync(bin, args, { env: { ...process.env, PM2_HOME: home, NO_COLOR: '1' }, encoding: 'utf8', timeout: 60000 })
  if (r.status !== 0) throw new Error(`pm2 ${args.join(' ')}: ${r.stderr}${r.stdout}`)
  return r.stdout
}

function rssKiB(pid) {
  return Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1])
}

function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return Number(f[11]) + Number(f[12])
}

// The daemon's CPU over `ms`, in percent of one core (100 ticks per second).
async function cpuPercent(pid, ms) {
  const t0 = cpuTicks(pid)
  await sleep(ms)
  return ((cpuTicks(pid) - t0) / 100) / (ms / 1000) * 100
}

async function withApps(bin, fn) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-bench-web-'))
  const app = path.join(home, 'idle.js')
  fs.writeFileSync(app, 'setInterval(() => {}, 1000)\n')
  try {
    for (let i = 0; i < APPS; i++) cli(bin, home, ['start', app, '--name', `idle${i}`])
    const pid = Number(fs.readFileSync(path.join(home, 'pm2.pid'), 'utf8'))
    return await fn({ home, pid })
  } finally {
    try { cli(bin, home, ['kill']) } catch { /* reported by the caller's numbers */ }
    fs.rmSync(home, { recursive: true, force: true })
  }
}

// An event stream as a page opens it; counts log lines and skipped messages.
function openStream(port, token) {
  const counts = { logs: 0, skipped: 0, req: null }
  counts.req = http.get({ host: '127.0.0.1', port, path: `/api/stream?token=${token}`, agent: false }, (res) => {
    let buf = ''
    res.setEncoding('utf8')
    res.on('data', (d) => {
      buf += d
      let i
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i)
        buf = buf.slice(i + 2)
        if (frame.startsWith('event: log\n')) counts.logs++
        else if (frame.startsWith('event: skipped\n')) counts.skipped += JSON.parse(frame.split('data: ')[1]).messages
      }
    })
  })
  counts.req.on('error', () => {})
  return counts
}

async function pageLoadMs(url) {
  if (!fs.existsSync('/usr/bin/chromium')) return null
  const { chromium } = require('playwright-core')
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-bench-chromium-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] })
  try {
    const page = await context.newPage()
    const times = []
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now()
      await page.goto(url)
      await page.waitForSelector(`tr[data-id="${APPS - 1}"]`)
      times.push(Date.now() - t0)
    }
    return times.sort((a, b) => a - b)[2]
  } finally {
    await context.close()
    fs.rmSync(profile, { recursive: true, force: true })
  }
}

async function main() {
  const bin = path.join(ROOT, 'bin', 'pm2')
  const settle = 20000
  const rows = []
  if (baseline) {
    const before = await withApps(path.join(baseline, 'pm2'), async ({ pid }) => { await sleep(settle); return rssKiB(pid) })
    rows.push(['daemon RSS, 20 idle apps, baseline build', `${(before / 1024).toFixed(2)} MiB`])
  }
  await withApps(bin, async ({ home, pid }) => {
    await sleep(settle)
    rows.push(['daemon RSS, 20 idle apps, history on, web off', `${(rssKiB(pid) / 1024).toFixed(2)} MiB`])
    rows.push(['daemon CPU, same', `${(await cpuPercent(pid, 20000)).toFixed(2)} % of a core`])
    const port = 19000 + Math.floor(Math.random() * 1000)
    cli(bin, home, ['web', String(port)])
    const token = fs.readFileSync(path.join(home, 'web.token'), 'utf8').trim()
    const stream = openStream(port, token)
    await sleep(5000)
    rows.push(['daemon CPU, same, one page open', `${(await cpuPercent(pid, 20000)).toFixed(2)} % of a core`])
    rows.push(['daemon RSS, same, one page open', `${(rssKiB(pid) / 1024).toFixed(2)} MiB`])
    stream.req.destroy()
    const load = await pageLoadMs(`http://127.0.0.1:${port}/dashboard#token=${token}`)
    if (load !== null) rows.push(['page load → 20 apps listed (chromium, median of 5)', `${load} ms`])

    const flood = path.join(home, 'flood.js')
    fs.writeFileSync(flood, `let i = 0; function go() { let ok = true; while (i < ${FLOOD_LINES} && ok) ok = process.stdout.write('flood line ' + i++ + '\\n'); if (i < ${FLOOD_LINES}) process.stdout.once('drain', go) } go(); setInterval(() => {}, 1000)\n`)
    const page = openStream(port, token)
    await sleep(1000)
    const t0 = Date.now()
    cli(bin, home, ['start', flood, '--name', 'flood'])
    let last = -1
    while (page.logs + page.skipped < FLOOD_LINES && page.logs !== last) { last = page.logs; await sleep(2000) }
    const secs = (Date.now() - t0) / 1000
    rows.push([`log flood (${FLOOD_LINES} lines) → one page: lines/s received; skipped (told)`, `${Math.round(page.logs / secs)} /s; ${page.skipped}`])
    page.req.destroy()
  })
  console.log('| | this module |\n|---|--:|')
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`)
}

main().catch((e) => { console.error(e); process.exit(1) })
