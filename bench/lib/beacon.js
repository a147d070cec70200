'use strict'
// How the bench sees an app's "first line": the app sends one UDP datagram "<id> <pid>" as
// soon as it runs, and the bench stamps its arrival with its own clock. That is the same path
// whichever process manager started the app (and for a plain spawn), and unlike a log file it
// does not depend on when a daemon gets round to writing output. Apps also listen on their
// socket, so the bench can send them commands (crash, write logs, send bus messages).

const dgram = require('dgram')
const { performance } = require('perf_hooks')

class Beacon {
  static open() {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket('udp4')
      sock.once('error', reject)
      sock.bind(0, '127.0.0.1', () => resolve(new Beacon(sock)))
    })
  }

  constructor(sock) {
    this.sock = sock
    this.port = sock.address().port
    this.messages = [] // { id, pid, t, rinfo }, in arrival order
    this.waiters = new Set()
    this.onPid = null
    sock.on('message', (buf, rinfo) => {
      const t = performance.now()
      const [id, pid] = buf.toString().split(' ')
      const m = { id, pid: Number(pid), t, rinfo }
      this.messages.push(m)
      if (this.onPid) this.onPid(m.pid)
      for (const w of [...this.waiters]) w()
    })
  }

  // Index to pass as `from` to only consider later messages.
  mark() {
    return this.messages.length
  }

  // First message from index `from` on that satisfies pred.
  waitFor(pred, { from = 0, timeout = 30000, what = 'app beacon' } = {}) {
    return new Promise((resolve, reject) => {
      let timer = null
      const check = () => {
        for (let i = from; i < this.messages.length; i++) {
          if (pred(this.messages[i])) {
            this.waiters.delete(check)
            clearTimeout(timer)
            resolve(this.messages[i])
            return
          }
        }
      }
      timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`${what}: nothing within ${timeout} ms`))
      }, timeout)
      this.waiters.add(check)
      check()
    })
  }

  waitId(id, opts) {
    return this.waitFor((m) => m.id === id, Object.assign({ what: `first line of ${id}` }, opts))
  }

  // Resolves with the time the last of `ids` announced itself.
  async waitAll(ids, { from = 0, timeout = 60000 } = {}) {
    const want = new Set(ids)
    const last = await this.waitFor((m) => want.delete(m.id) && want.size === 0, {
      from,
      timeout,
      what: `first lines of ${ids.length} apps`,
    }).catch((e) => {
      throw new Error(`${e.message} (${want.size} missing)`)
    })
    return last.t
  }

  send(rinfo, text) {
    return new Promise((resolve, reject) => {
      this.sock.send(Buffer.from(text), rinfo.port, rinfo.address, (err) => (err ? reject(err) : resolve()))
    })
  }

  close() {
    try {
      this.sock.close()
    } catch (_) {}
  }
}

module.exports = { Beacon }
