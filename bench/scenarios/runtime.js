'use strict'
// `pm2-runtime start app.js`, as a container starts: from the spawn to the app's first line on
// pm2-runtime's stdout, next to `node app.js` printing the same line; then the memory of
// pm2-runtime itself beside its app's, and SIGTERM until it has exited.

const path = require('path')
const { spawn } = require('child_process')
const { ROOT, IMPLS } = require('../lib/impls')
const { appPath, benchEnv } = require('../lib/spawn')
const procfs = require('../lib/procfs')

const RUNTIME = {
  rs: path.join(ROOT, 'bin', 'pm2-runtime'),
  orig: path.join(IMPLS.orig.dir, 'bin', 'pm2-runtime'),
}

// Spawns `cmd args`; resolves with the ms until a stdout line starts with "first line", and
// the child with the app's pid (from that line).
function untilFirstLine(cmd, args, ctx, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(cmd, args, { cwd: ctx.workdir, env: benchEnv(ctx.workdir, env), stdio: ['ignore', 'pipe', 'ignore'] })
    ctx.pids.learn(child.pid)
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const m = /^first line (\d+)$/m.exec(out)
      if (m && !child.appPid) {
        child.appPid = Number(m[1])
        ctx.pids.learn(child.appPid)
        resolve({ ms: performance.now() - t0, child })
      }
    })
    child.on('error', reject)
    child.on('exit', () => reject(new Error(`${cmd} exited before the app's first line: ${out.slice(-500)}`)))
  })
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.removeAllListeners('exit')
    child.on('exit', resolve)
    child.kill('SIGTERM')
  })
}

module.exports = {
  title: 'pm2-runtime (containers)',
  rounds: { quick: 1, full: 2 },
  maxSeconds: { quick: 30, full: 90 },
  pairSeconds: { quick: 10, full: 40 },
  timeoutMs: { quick: 60000, full: 120000 },
  sizes: {
    quick: { starts: 2 },
    full: { starts: 5 },
  },
  metrics: [
    { id: 'floor', label: 'floor: `node app.js` → its first line on stdout', unit: 'ms' },
    { id: 'first', label: '`pm2-runtime start app.js` → the app\'s first line on stdout (goal ≤ 0.5× the original)', unit: 'ms' },
    { id: 'rss', label: 'pm2-runtime RSS, one app running (its daemon included)', unit: 'bytes' },
    { id: 'appRss', label: 'that app\'s RSS, beside it', unit: 'bytes' },
    { id: 'stop', label: 'SIGTERM → pm2-runtime exited', unit: 'ms' },
  ],

  async run(ctx) {
    const app = appPath('hello.js')
    const env = { PM2_HOME: path.join(ctx.workdir, 'home'), HOME: ctx.workdir }
    for (let i = 0; i < ctx.size.starts; i++) {
      const floor = await untilFirstLine(process.execPath, [app], ctx, env)
      ctx.record('floor', floor.ms)
      await stop(floor.child)

      const rt = await untilFirstLine(RUNTIME[ctx.impl], ['start', app], ctx, env)
      ctx.record('first', rt.ms)
      // The launcher execs the executable (same pid); the original's no-daemon mode keeps
      // its daemon in the same Node process.
      ctx.record('rss', procfs.rss(rt.child.pid))
      ctx.record('appRss', procfs.rss(rt.child.appPid))
      const t0 = performance.now()
      await stop(rt.child)
      ctx.record('stop', performance.now() - t0)
    }
  },
}
