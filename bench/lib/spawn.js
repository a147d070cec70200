'use strict'
// Processes the bench starts itself: the same app run directly (the floor a process manager
// is compared with), and whole short-lived processes timed from spawn to exit.

const path = require('path')
const { spawn } = require('child_process')
const { performance } = require('perf_hooks')

const APPS = path.join(__dirname, '..', 'apps')

function appPath(name) {
  return path.join(APPS, name)
}

// Every process the bench spawns carries BENCH_TAG=<scenario dir>, so the orphan scan finds it.
// The caller's own PM2_* settings never leak in; `extra` may set some (PM2_HOME for a command).
function benchEnv(tag, extra) {
  const env = Object.assign({}, process.env)
  for (const k of Object.keys(env)) if (k.startsWith('PM2_') || k === 'NODE_CHANNEL_FD') delete env[k]
  return Object.assign(env, { BENCH_TAG: tag }, extra)
}

// `node apps/<app>` run directly, stdio ignored; the caller kills it.
function runApp(app, { tag, env, pids }) {
  const child = spawn(process.execPath, [appPath(app)], { env: benchEnv(tag, env), stdio: 'ignore' })
  if (pids) pids.learn(child.pid)
  child.on('error', () => {})
  return child
}

// Milliseconds from spawn to exit of `cmd args` (rejects on failure or timeout).
function timeProcess(cmd, args, { tag, pids, env, cwd, timeout = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(cmd, args, { env: benchEnv(tag, env), cwd, stdio: ['ignore', 'ignore', 'pipe'] })
    if (pids) pids.learn(child.pid)
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${path.basename(args[0] || cmd)} did not exit within ${timeout} ms`))
    }, timeout)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('exit', (code, signal) => {
      const ms = performance.now() - t0
      clearTimeout(timer)
      if (code === 0) resolve(ms)
      else reject(new Error(`${args.join(' ')} exited with ${signal || code}: ${stderr.trim().slice(-500)}`))
    })
  })
}

function killChild(child) {
  if (child && child.exitCode === null && child.signalCode === null) {
    try {
      child.kill('SIGKILL')
    } catch (_) {}
  }
}

module.exports = { appPath, benchEnv, runApp, timeProcess, killChild }
