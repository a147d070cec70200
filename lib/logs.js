'use strict'
// printLogs / streamLogs: the last lines of the apps' log files, then (streamLogs) every new
// line from the bus, written to this process's stdout as `pm2 logs` prints them:
// `<pm_id>|<name> | <line>`, or the bare line with `raw`.

const fs = require('fs')
const path = require('path')
const util = require('util')

// ANSI colours only on a terminal, as pm2's colour library decides.
const paint = (code) => (s) => (process.stdout.isTTY ? `\x1b[${code}m${s}\x1b[39m` : s)
const green = paint(32)
const red = paint(31)
const blue = paint(34)
const gray = paint(90)

function pad(width, str) {
  return (str + ' '.repeat(width)).substring(0, width)
}

// pm2's selectors for logs: 'all', a name, an id, a namespace, or /regex/ over names.
function matcher(id) {
  if (id === 'all') return () => true
  if (typeof id === 'string' && id.length > 2 && id.startsWith('/') && id.endsWith('/')) {
    const re = new RegExp(id.slice(1, -1))
    return (p) => re.test(p.name)
  }
  return (p) => p.name == id || p.pm_id == id || p.namespace == id // eslint-disable-line eqeqeq
}

// The log files of the selected apps, each once, /dev/null left out.
function filesOf(list, id, exclusive) {
  const match = matcher(id)
  const files = []
  const add = (file, label, type) => {
    if (typeof file === 'string' && file !== '/dev/null' && !files.some((f) => f.path === file)) files.push({ path: file, label, type })
  }
  for (const proc of list) {
    const env = proc.pm2_env || {}
    if (!match({ name: env.name, pm_id: env.pm_id, namespace: env.namespace })) continue
    const label = `${env.pm_id}|${env.name}`
    if (exclusive !== 'err') add(env.pm_out_log_path, label, 'out')
    if (exclusive !== 'out') add(env.pm_err_log_path, label, 'err')
  }
  return files
}

// The last `n` lines of a file (read from its end, so a large log costs little).
function lastLines(file, n) {
  let fd
  try {
    fd = fs.openSync(file, 'r')
  } catch (_) {
    return null
  }
  try {
    const size = fs.fstatSync(fd).size
    let start = size
    let text = ''
    while (start > 0 && text.split('\n').length <= n + 1) {
      const len = Math.min(64 * 1024, start)
      start -= len
      const buf = Buffer.alloc(len)
      fs.readSync(fd, buf, 0, len, start)
      text = buf.toString('utf8') + text
    }
    const lines = text.split('\n').slice(-(n + 1))
    lines.pop()
    return lines
  } finally {
    fs.closeSync(fd)
  }
}

function tail(files, n, raw) {
  const sorted = files.slice().sort((a, b) => mtime(a.path) - mtime(b.path))
  for (const f of sorted) {
    const lines = lastLines(f.path, n)
    if (lines === null) continue
    process.stdout.write(gray(util.format('%s last %d lines:', f.path, n)) + '\n')
    for (const line of lines) {
      if (raw) {
        ;(f.type === 'err' ? process.stderr : process.stdout).write(line + '\n')
        continue
      }
      const colour = f.type === 'out' ? green : f.type === 'err' ? red : blue
      process.stdout.write(colour(pad(10, f.type === 'PM2' ? 'PM2' : f.label) + ' | ') + line + '\n')
    }
    if (lines.length) process.stdout.write('\n')
  }
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs
  } catch (_) {
    return 0
  }
}

function normalise(id, lines) {
  id = id === undefined || id === null || id === '' ? 'all' : id
  lines = lines === undefined || lines === null ? 20 : Math.abs(Number(lines))
  if (!Number.isFinite(lines)) throw new Error(`lines must be a number, got ${lines}`)
  return { id, lines }
}

module.exports = function addLogs(API, { settle, native }) {
  // printLogs(id, lines, raw, timestamp, exclusive): prints the last lines and returns.
  API.prototype.printLogs = function printLogs(id, lines, raw, timestamp, exclusive) {
    return settle(null, async () => {
      ;({ id, lines } = normalise(id, lines))
      if (lines === 0) return
      await this._printTail(id, lines, raw, exclusive)
    })
  }

  // streamLogs(id, lines, raw, timestamp, exclusive, highlight): prints the last lines,
  // then every new line until the promise's `close()` is called (pm2 streams until the
  // process exits; so does this while the stream is open).
  API.prototype.streamLogs = function streamLogs(id, lines, raw, timestamp, exclusive, highlight) {
    return settle(null, async () => {
      ;({ id, lines } = normalise(id, lines))
      if (exclusive === undefined) exclusive = false
      if (lines > 0) await this._printTail(id, lines, raw, exclusive)
      const bus = await this.launchBus()
      const match = matcher(id)
      let width = 3
      bus.on('log:*', (type, packet) => {
        const p = packet.process || {}
        if (!match(p)) return
        if ((type === 'out' && exclusive === 'err') || (type === 'err' && exclusive === 'out')) return
        if (typeof packet.data !== 'string') return
        for (const line of packet.data.split('\n')) {
          if (!line) continue
          if (raw) {
            ;(type === 'err' ? process.stderr : process.stdout).write(line + '\n')
            continue
          }
          let out = ''
          if (timestamp) out += gray(native().binding.formatDate(timestamp, Date.now()) + ' ')
          const name = `${p.pm_id}|${p.name}`
          if (name.length > width) width = name.length + 1
          out += (type === 'err' ? red : green)(pad(width, name) + ' | ')
          out += highlight ? line.split(highlight).join(`\x1b[100m${highlight}\x1b[49m`) : line
          process.stdout.write(out + '\n')
        }
      })
      return { close: () => bus.close() }
    })
  }

  API.prototype._printTail = async function _printTail(id, lines, raw, exclusive) {
    const list = await this.list()
    process.stdout.write(gray(util.format('[TAILING] Tailing last %d lines for [%s] process%s (change the value with --lines option)', lines, id, id === 'all' ? 'es' : '')) + '\n')
    const files = filesOf(list, id, exclusive)
    if (!raw && (id === 'all' || id === 'PM2') && !exclusive) {
      tail([{ path: path.join(this.pm2_home, 'pm2.log'), label: 'PM2', type: 'PM2' }], lines, raw)
    }
    tail(files, lines, raw)
  }
}
