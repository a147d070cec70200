'use strict'
// pm2's programmatic API over the Rust client and daemon. This file only adapts pm2's call
// shapes (overloads, errbacks, config files written in JavaScript) to the native binding.

const fs = require('fs')
const os = require('os')
const path = require('path')
const crypto = require('crypto')
const { nativeDir } = require('./platform')
const { evaluateConfig } = require('./lib/evaluate-config')

process.env.PM2_PROGRAMMATIC = 'true'

// process.dlopen rather than require: test runners wrap require with their own module
// system, which would count the addon's own handles as the test's (see nativeAddon).
function dlopen(file) {
  const mod = { exports: {} }
  process.dlopen(mod, file)
  return mod.exports
}

// The addon and the daemon executable live in this platform's package (see platform.js).
function loadNative() {
  const { dir, addon } = nativeDir()
  return { binding: dlopen(addon), daemonPath: path.join(dir, 'pm2-daemon') }
}

// The addon is loaded on first use, and every use runs in a promise callback, never on the
// stack of the `require('pm2')` call. Loading it registers napi-rs's per-environment
// (unref'd) GC handle, which `jest --detectOpenHandles` would otherwise report as a leak of
// the test that required the module.
let native = null
function nativeAddon() {
  if (!native) native = loadNative()
  return native
}

function defaultHome() {
  if (process.env.PM2_HOME) return process.env.PM2_HOME
  const home = process.env.HOME || process.env.HOMEPATH
  return home ? path.join(home, '.pm2') : '/etc/.pm2'
}

const CONFIG_FILE = /(\.json|\.ya?ml|\.config\.(c|m)?js)$/

function isConfigFile(name) {
  return typeof name === 'string' && CONFIG_FILE.test(name)
}

function toError(e) {
  if (e instanceof Error) {
    if (e.code === 'GenericFailure') delete e.code
    return e
  }
  return new Error(String(e))
}

// Errback if one is given (called exactly once, outside any promise chain, so that a throw
// in user code is an ordinary uncaught exception and never wedges the client); otherwise a
// promise that never turns into an unhandled rejection when the caller ignores it.
function settle(cb, work) {
  const promise = Promise.resolve().then(work)
  if (typeof cb === 'function') {
    promise.then(
      (res) => process.nextTick(cb, null, res),
      (err) => process.nextTick(cb, toError(err))
    )
    return undefined
  }
  const out = promise.catch((err) => {
    throw toError(err)
  })
  out.catch(() => {})
  return out
}

// An axon sub-emitter pattern: `*` matches anything, and what it matched is passed to the
// handler before the packet.
function patternToRegExp(pattern) {
  if (pattern instanceof RegExp) return pattern
  const escaped = String(pattern).replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\*/g, '(.+)')
  return new RegExp(`^${escaped}$`)
}

// What launchBus() gives: on(pattern, fn), off(pattern), close().
// `on('error', fn)` is the bus's own error (a dropped subscription), never an app event.
class Bus {
  constructor(open) {
    this._listeners = []
    this._errorListeners = []
    this._native = null
    this._closed = false
    this._open = open
    this._opening = null
  }

  on(pattern, fn) {
    if (typeof fn !== 'function') throw new TypeError('bus.on(pattern, fn) needs a function')
    if (pattern === 'error') this._errorListeners.push(fn)
    else this._listeners.push({ pattern, re: patternToRegExp(pattern), fn })
    return this
  }

  off(pattern) {
    if (pattern === 'error') this._errorListeners = []
    this._listeners = this._listeners.filter((l) => l.pattern !== pattern && String(l.pattern) !== String(pattern))
    return this
  }

  close(cb) {
    this._closed = true
    // A subscription still being opened closes itself when it is ready (see _subscribe).
    const done = Promise.resolve(this._opening).then(() => {
      const native = this._native
      this._native = null
      return native && native.close()
    })
    return settle(cb, () => done.then(() => undefined))
  }

  // A subscription that could not be made is the bus's own error.
  _report(e) {
    if (this._errorListeners.length === 0) process.emitWarning(e.message)
    for (const fn of this._errorListeners.slice()) process.nextTick(fn, e)
  }

  // The daemon dropped this subscription (it fell too far behind): subscribe again, then
  // say so, so that the stream never silently stops and a listener that reacts to the
  // error already sees the events that follow it.
  _dropped(reason) {
    const err = new Error(`The bus subscription was dropped by the daemon (${reason}); events were lost, reconnected`)
    const old = this._native
    this._native = null
    Promise.resolve(old && old.close())
      .then(() => this._open(this))
      .then(() => this._report(err), (e) => this._report(e))
  }

  _dispatch(batch) {
    for (const { event, data } of batch) {
      if (event === 'bus:dropped') {
        this._dropped(data && data.reason)
        continue
      }
      for (const l of this._listeners.slice()) {
        const m = l.re.exec(event)
        if (!m) continue
        try {
          l.fn.apply(this, m.slice(1).concat([data]))
        } catch (e) {
          // As from an EventEmitter: the listener's exception is the caller's, uncaught.
          process.nextTick(() => {
            throw e
          })
        }
      }
    }
  }
}


// The document a config file holds: JSON, YAML, or what a JavaScript file exports
// (`module.exports`, or `export default` in an ES module).
async function readConfigDocument(abs) {
  if (/\.(c|m)?js$/.test(abs)) {
    if (!fs.existsSync(abs)) throw new Error('not found')
    return evaluateConfig(abs)
  }
  let text
  try {
    text = fs.readFileSync(abs, 'utf8')
  } catch (e) {
    throw new Error(e.code === 'ENOENT' ? 'not found' : e.message)
  }
  if (/\.json$/.test(abs)) {
    try {
      return JSON.parse(text)
    } catch (e) {
      throw new Error(`malformed JSON: ${e.message}`)
    }
  }
  try {
    return nativeAddon().binding.parseYaml(text)
  } catch (e) {
    throw new Error(`malformed YAML: ${e.message}`)
  }
}

// The app declarations of a config document (`{apps}`, an array, or one app).
function declaredApps(doc, file) {
  try {
    return nativeAddon().binding.appsOfConfig(JSON.parse(JSON.stringify(doc === undefined ? null : doc)))
  } catch (e) {
    throw new Error(file ? `Config file ${file}: ${e.message}` : e.message)
  }
}

// A process selector: 'all', an id, a name, a namespace, a script path, a /regex/ over
// names, or a config file (its apps' names). Script paths resolve against this process's
// cwd, as pm2 resolves them.
function selector(api, proc) {
  if (typeof proc === 'number' && Number.isInteger(proc)) return { target: proc }
  if (typeof proc === 'string' && proc.length > 0) {
    if (isConfigFile(proc)) return api._loadConfig(proc).then(({ apps }) => ({ names: apps.map(appName) }))
    return { target: proc, cwd: process.cwd() }
  }
  throw new Error(`A process must be selected by name, id, namespace or "all", got ${proc === undefined ? 'nothing' : JSON.stringify(proc)}`)
}

// An app declaration (options object or array of them) or a config file: what start,
// restart, reload, stop and delete treat as a deploy target.
function isDeclaration(proc) {
  return (proc !== null && typeof proc === 'object') || isConfigFile(proc)
}

// pm2's per-process answer to stop / restart / reload / delete, on top of the description.
function operated(procs) {
  return (Array.isArray(procs) ? procs : []).map((p) => {
    const env = p.pm2_env || {}
    return Object.assign({}, p, {
      name: env.name,
      namespace: env.namespace,
      pm_id: env.pm_id,
      status: env.status,
      restart_time: env.restart_time,
    })
  })
}

// pm2's action names (`restartProcessId`, ...) as this module's requests.
const JSON_ACTIONS = {
  restartProcessId: 'restart',
  reloadProcessId: 'reload',
  softReloadProcessId: 'reload',
  stopProcessId: 'stop',
  deleteProcessId: 'delete',
  start: 'start',
}

function appName(app) {
  if (app && typeof app.name === 'string') return app.name
  const script = app && (app.script || app.exec || app.cmd || app.command)
  return typeof script === 'string' ? path.basename(script, path.extname(script)) : undefined
}

// Inside an app that a pm2 daemon manages, an open connection keeps the app alive until
// disconnect(), as under pm2: there an app whose work is done would exit and be restarted in
// a loop. Elsewhere a script exits when its work is done.
const INSIDE_MANAGED_APP = process.env.pm_id !== undefined && process.env.unique_id !== undefined

// Bus subscriptions of this process that the daemon has not confirmed yet (launchBus calls
// back before that); shared by every client object, since they share the daemon.
const subscribing = new Set()

class API {
  constructor(opts) {
    opts = opts && typeof opts === 'object' ? opts : {}
    if (opts.independent && opts.pm2_home) {
      throw new Error('You cannot set a pm2_home and independent instance in same time')
    }
    this.cwd = path.resolve(opts.cwd || process.cwd())
    this.pm2_home = opts.pm2_home
      ? path.resolve(opts.pm2_home)
      : opts.independent
        ? path.join(os.tmpdir(), crypto.randomBytes(8).toString('hex'))
        : defaultHome()
    this.daemon_mode = opts.daemon_mode === undefined ? !opts.independent : Boolean(opts.daemon_mode)
    this.Client = { daemon_mode: this.daemon_mode, pm2_home: this.pm2_home }
    // pm2's PM2 Plus identity fields: present for scripts that read them, never linked here.
    this.public_key = opts.public_key || null
    this.secret_key = opts.secret_key || null
    this.machine_name = opts.machine_name || null
    this.gl_interact_infos = null
    this.gl_is_km_linked = false
    this.gl_retry = 0
    // Own, bound methods: `import * as pm2 from 'pm2'` copies only own properties, and
    // `const { start } = pm2` loses `this`.
    for (const name of Object.getOwnPropertyNames(API.prototype)) {
      if (name !== 'constructor' && !name.startsWith('_')) {
        Object.defineProperty(this, name, { value: API.prototype[name].bind(this), writable: true, configurable: true, enumerable: true })
      }
    }
    this._nativeClient = null
    this._connecting = null
    this._keepAlive = null
    this._buses = new Set()
    try {
      for (const dir of ['', 'logs', 'pids']) fs.mkdirSync(path.join(this.pm2_home, dir), { recursive: true, mode: 0o700 })
    } catch (_) {
      // Reported by connect(), where the caller can act on it.
    }
    // The `pm2` section of module_conf.json, as pm2 reads it at construction.
    try {
      this.pm2_configuration = this._moduleConf().get('pm2')
    } catch (_) {
      this.pm2_configuration = {}
    }
  }

  // connect([noDaemonMode], cb): noDaemonMode runs the daemon inside this process.
  connect(noDaemonMode, cb) {
    if (typeof noDaemonMode === 'function') {
      cb = noDaemonMode
      noDaemonMode = false
    }
    if (noDaemonMode === true) {
      this.daemon_mode = false
      this.Client.daemon_mode = false
    }
    return settle(cb, () => this._connect())
  }

  get _native() {
    if (!this._nativeClient) this._nativeClient = new (nativeAddon().binding.Client)(this.pm2_home)
    return this._nativeClient
  }

  _connect() {
    if (!this._connecting || !this._native.isConnected()) {
      const attempt = this._native.connect(this.daemon_mode ? nativeAddon().daemonPath : '').then((info) => ({
        daemon_mode: this.daemon_mode,
        new_pm2_instance: info.new_pm2_instance,
        pm2_home: this.pm2_home,
        rpc_socket_file: path.join(this.pm2_home, 'rpc.sock'),
        pub_socket_file: path.join(this.pm2_home, 'rpc.sock'),
      }))
      attempt.then(() => this._holdEventLoop(), () => {
        if (this._connecting === attempt) this._connecting = null
      })
      this._connecting = attempt
    }
    return this._connecting
  }

  _holdEventLoop() {
    if (INSIDE_MANAGED_APP && !this._keepAlive) this._keepAlive = setInterval(() => {}, 0x7fffffff)
  }

  _releaseEventLoop() {
    clearInterval(this._keepAlive)
    this._keepAlive = null
  }

  async _call(method, params) {
    await this._connect()
    // A request sent after launchBus() called back, by any client of this process, reaches
    // the daemon after the bus's subscription, so the bus gets every event the request causes.
    if (subscribing.size > 0) await Promise.all(subscribing)
    return JSON.parse(await this._native.call(method, JSON.stringify(params || {})))
  }

  _context(envName) {
    const env = {}
    for (const [k, v] of Object.entries(process.env)) if (typeof v === 'string') env[k] = v
    return { cwd: this.cwd, env, node_path: process.execPath, node_version: process.versions.node, env_name: typeof envName === 'string' ? envName : null }
  }

  // A config file's whole document (JSON, YAML, or what JavaScript exports); a failure
  // names the file and the reason.
  async _readConfigDocument(file) {
    const abs = path.resolve(this.cwd, file)
    try {
      return await readConfigDocument(abs)
    } catch (e) {
      throw new Error(`Config file ${abs}: ${e && e.message ? e.message : e}`)
    }
  }

  // A config file's apps, validated and normalised by the addon.
  async _loadConfig(file) {
    const abs = path.resolve(this.cwd, file)
    const doc = await this._readConfigDocument(file)
    return { apps: declaredApps(doc, abs), dir: path.dirname(abs) }
  }

  // The apps a declaration names: a config file, an app object, an array, or `{apps}`.
  async _declaration(decl) {
    if (typeof decl === 'string') return (await this._loadConfig(decl)).apps
    return declaredApps(decl, null)
  }

  // start(options | script | script, options | configFile | script, configFile, cb)
  start(cmd, opts, cb) {
    if (typeof opts === 'function') {
      cb = opts
      opts = undefined
    }
    return settle(cb, () => this._start(cmd, opts))
  }

  async _start(cmd, opts) {
    if (opts !== undefined && opts !== null && typeof opts !== 'object' && typeof opts !== 'string') {
      throw new Error(`start() options must be an object, got ${typeof opts}`)
    }
    if (typeof opts === 'string') {
      // start(script, jsonConfigFile): the file's options, for this script.
      const { apps } = await this._loadConfig(opts)
      opts = Object.assign({}, apps[0])
    }
    opts = opts || {}
    if (isDeclaration(cmd)) return this._deploy(cmd, opts, 'start')
    if (typeof cmd !== 'string' || cmd.length === 0) {
      throw new Error('start() needs a script path, an options object or a config file')
    }
    return this._call('start', { apps: [Object.assign({}, opts, { script: cmd })], mode: 'script', context: this._context() })
  }

  // Deploys a declaration: apps it names that are known are restarted (or reloaded, with
  // `action` 'reload') with the declaration's options and environment; the others start.
  async _deploy(decl, opts, action) {
    let apps = await this._declaration(decl)
    if (typeof opts.only === 'string' || Array.isArray(opts.only)) {
      const only = Array.isArray(opts.only) ? opts.only : opts.only.split(/[, ]/).map((s) => s.trim()).filter(Boolean)
      apps = apps.filter((app) => only.includes(appName(app)))
    }
    apps = apps.map((app) => {
      const a = Object.assign({}, app)
      if (opts.namespace && !a.namespace) a.namespace = opts.namespace
      if (opts.name_prefix) a.name_prefix = opts.name_prefix
      if (opts.force !== undefined) a.force = opts.force
      if (opts.cwd) a.cwd = path.resolve(this.cwd, opts.cwd)
      return a
    })
    const what = typeof decl === 'string' ? ` in ${decl}` : ''
    if (apps.length === 0) throw new Error(`No app to start${what}${opts.only ? ` (only: ${opts.only})` : ''}`)
    const params = { apps, mode: 'json', action, context: this._context(opts.env) }
    if (action === 'reload' && opts.force) params.force = true
    return this._call('start', params)
  }

  // pm2's _startJson(fileOrDeclaration, opts, action, [pipe], cb).
  _startJson(file, opts, action, pipe, cb) {
    if (typeof pipe === 'function') cb = pipe
    opts = opts && typeof opts === 'object' ? opts : {}
    return settle(cb, () => this._deploy(file, opts, JSON_ACTIONS[action] === 'reload' ? 'reload' : 'restart'))
  }

  // pm2's actionFromJson(action, fileOrDeclaration, opts, jsonVia, cb): the action on the
  // known apps the declaration names.
  actionFromJson(action, file, opts, jsonVia, cb) {
    if (typeof jsonVia === 'function') cb = jsonVia
    opts = opts && typeof opts === 'object' ? opts : {}
    return settle(cb, async () => {
      const method = JSON_ACTIONS[action]
      if (!method || method === 'start') throw new Error(`actionFromJson: unknown action ${action}`)
      let names = (await this._declaration(file)).map(appName)
      if (typeof opts.only === 'string') names = names.filter((n) => n === opts.only)
      const extra = method === 'restart' || method === 'reload' ? { opts: {}, context: this._context(opts.env) } : {}
      return operated(await this._call(method, Object.assign({ names, ignoreUnknown: true }, extra)))
    })
  }

  _action(method, proc, extra, cb) {
    return settle(cb, async () => {
      const sel = await selector(this, proc)
      return operated(await this._call(method, Object.assign({}, sel, extra)))
    })
  }

  stop(proc, cb) {
    if (isDeclaration(proc)) return this.actionFromJson('stopProcessId', proc, {}, cb)
    return this._action('stop', proc, {}, cb)
  }

  restart(proc, opts, cb) {
    if (typeof opts === 'function') {
      cb = opts
      opts = {}
    }
    opts = opts && typeof opts === 'object' ? opts : {}
    if (isDeclaration(proc)) return settle(cb, () => this._deploy(proc, opts, 'restart'))
    return this._action('restart', proc, { opts, context: this._context() }, cb)
  }

  reload(proc, opts, cb) {
    if (typeof opts === 'function') {
      cb = opts
      opts = {}
    }
    opts = opts && typeof opts === 'object' ? opts : {}
    if (isDeclaration(proc)) return settle(cb, () => this._deploy(proc, opts, 'reload'))
    return this._action('reload', proc, { opts, context: this._context() }, cb)
  }

  delete(proc, jsonVia, cb) {
    if (typeof jsonVia === 'function') cb = jsonVia
    if (isDeclaration(proc)) return this.actionFromJson('deleteProcessId', proc, {}, cb)
    return this._action('delete', proc, {}, cb)
  }

  del(proc, cb) {
    return this.delete(proc, cb)
  }

  // scale(name, n | '+k' | '-k', cb)
  scale(name, count, cb) {
    return settle(cb, () => this._call('scale', { target: name, count }))
  }

  reset(proc, cb) {
    return this._action('reset', proc, {}, cb)
  }

  list(opts, cb) {
    if (typeof opts === 'function') cb = opts
    return settle(cb, () => this._call('list'))
  }

  describe(proc, cb) {
    return settle(cb, async () => this._call('describe', await selector(this, proc)))
  }

  getProcessIdByName(name, cb) {
    return settle(cb, () => this._call('getProcessIdByName', { target: String(name) }))
  }

  getPID(proc, cb) {
    if (typeof proc === 'function') {
      cb = proc
      proc = undefined
    }
    return settle(cb, async () => this._call('getPID', proc === undefined ? {} : await selector(this, proc)))
  }

  ping(cb) {
    return settle(cb, () => this._call('ping'))
  }

  getVersion(cb) {
    return settle(cb, () => this._call('getVersion'))
  }

  flush(proc, cb) {
    if (typeof proc === 'function') {
      cb = proc
      proc = undefined
    }
    return settle(cb, async () => this._call('flush', proc === undefined || proc === 'all' ? {} : await selector(this, proc)))
  }

  reloadLogs(cb) {
    return settle(cb, () => this._call('reloadLogs'))
  }

  sendSignalToProcessName(signal, name, cb) {
    return settle(cb, async () => this._call('sendSignalToProcessName', Object.assign({ signal }, await selector(this, name))))
  }

  sendSignalToProcessId(signal, id, cb) {
    return settle(cb, async () => this._call('sendSignalToProcessId', Object.assign({ signal }, await selector(this, id))))
  }

  sendDataToProcessId(id, packet, cb) {
    if (typeof id === 'object' && id !== null) {
      cb = packet
      packet = id
    } else if (packet && typeof packet === 'object') {
      packet.id = id
    }
    return settle(cb, () => this._call('sendDataToProcessId', { packet }))
  }

  // Stops every app and the daemon. With no daemon running there is nothing to kill.
  killDaemon(cb) {
    return settle(cb, async () => {
      const connected = this._nativeClient !== null && this._nativeClient.isConnected()
      if (!connected && !fs.existsSync(path.join(this.pm2_home, 'rpc.sock'))) {
        return { success: true }
      }
      const res = await this._call('kill')
      this._connecting = null
      this._releaseEventLoop()
      return res
    })
  }

  kill(cb) {
    return this.killDaemon(cb)
  }

  disconnect(cb) {
    return settle(cb, async () => {
      this._connecting = null
      this._releaseEventLoop()
      const buses = [...this._buses]
      this._buses.clear()
      await Promise.all(buses.map((bus) => bus.close()))
      if (this._nativeClient) await this._nativeClient.disconnect()
    })
  }

  // dump([force], cb): saves the process list to $PM2_HOME/dump.pm2.
  dump(force, cb) {
    if (typeof force === 'function') {
      cb = force
      force = false
    }
    return settle(cb, () => this._call('dump', { force: force === true || process.env.FORCE === 'true' }))
  }

  clearDump(cb) {
    return settle(cb, () => this._call('clearDump'))
  }

  // With nothing saved, pm2 answers `false` at once when no callback is given.
  resurrect(cb) {
    if (typeof cb !== 'function' && !this._hasDump()) return false
    return settle(cb, () => this._call('resurrect', { context: this._context() }))
  }

  // A saved process list exists: dump.pm2 or its backup holds one. As under pm2, a broken
  // file does not stay under its own name (it is kept as `<file>.broken`).
  _hasDump() {
    return nativeAddon().binding.hasSavedProcessList(this.pm2_home)
  }

  // A new daemon, started from this process's environment, with every app brought back;
  // over a running original pm2 daemon, its apps are taken over (as `pm2 update`).
  update(cb) {
    return settle(cb, async () => {
      const takenOver = await nativeAddon().binding.takeOverOriginal(this.pm2_home)
      if (takenOver == null) {
        await this._call('dump', { force: true })
        await this.killDaemon()
      }
      await this._connect()
      await this._call('resurrect', { context: this._context() })
      return { success: true }
    })
  }

  // startup([platform], [opts], cb): installs the boot service that resurrects the dump.
  // opts: user, hp (home), serviceName, and root (install below another `/`).
  startup(platform, opts, cb) {
    return this._startupCall('startup', platform, opts, cb)
  }

  uninstallStartup(platform, opts, cb) {
    return this._startupCall('uninstallStartup', platform, opts, cb)
  }

  _startupCall(which, platform, opts, cb) {
    if (typeof platform === 'function') {
      cb = platform
      platform = undefined
    } else if (typeof opts === 'function') {
      cb = opts
      opts = undefined
    }
    if (platform && typeof platform === 'object') {
      opts = platform
      platform = undefined
    }
    opts = opts && typeof opts === 'object' ? opts : {}
    return settle(cb, () => {
      const options = {
        platform: typeof platform === 'string' ? platform : opts.platform,
        user: opts.user || opts.u,
        hp: opts.hp,
        pm2_home: opts.pm2_home || this.pm2_home,
        service_name: opts.serviceName || opts.service_name,
        root: opts.root,
        daemon_path: nativeAddon().daemonPath,
        path_env: `${path.dirname(process.execPath)}:${process.env.PATH || ''}`,
      }
      const { binding } = nativeAddon()
      return which === 'startup' ? binding.startup(options) : binding.uninstallStartup(options)
    })
  }

  // Calls back as soon as the daemon is connected, as pm2 does once its bus socket is; the
  // subscription is confirmed meanwhile, and this client's next requests wait for it.
  launchBus(cb) {
    return settle(cb, async () => {
      await this._connect()
      const bus = new Bus((b) => this._subscribe(b))
      const opening = this._subscribe(bus).catch((e) => bus._report(e))
      bus._opening = opening
      subscribing.add(opening)
      opening.then(() => subscribing.delete(opening))
      this._buses.add(bus)
      return bus
    })
  }

  // Gives `bus` a subscription of its own on the daemon.
  async _subscribe(bus) {
    const native = new (nativeAddon().binding.BusConnection)(this.pm2_home, (json) => bus._dispatch(JSON.parse(json)))
    try {
      await native.open()
    } catch (e) {
      await native.close()
      throw e
    }
    // Closed while a dropped subscription was being renewed: nobody listens any more.
    if (bus._closed) await native.close()
    else bus._native = native
  }

  sendLineToStdin(id, line, separator, cb) {
    if (typeof separator === 'function') {
      cb = separator
      separator = undefined
    }
    return settle(cb, async () =>
      this._call('sendLineToStdin', Object.assign({ line, separator: typeof separator === 'string' ? separator : '\n' }, await selector(this, id)))
    )
  }

  // trigger(id | name, action, [params], cb): runs an @pm2/io action in every matching
  // instance and answers their `axm:reply` packets.
  trigger(proc, action, params, cb) {
    if (typeof params === 'function') {
      cb = params
      params = undefined
    }
    return settle(cb, async () => {
      const sel = await selector(this, proc)
      const bus = await this.launchBus()
      try {
        const replies = []
        let expected = Infinity
        let finish
        const done = new Promise((resolve) => (finish = resolve))
        bus.on('axm:reply', (packet) => {
          const p = packet.process || {}
          if (proc === 'all' || p.name === proc || p.pm_id === proc || String(p.pm_id) === String(proc) || p.namespace === proc) {
            replies.push(packet)
            if (replies.length >= expected) finish()
          }
        })
        const res = await this._call('msgProcess', Object.assign({ msg: action, opts: params === undefined ? null : params }, sel))
        expected = res.process_count
        if (replies.length >= expected) finish()
        await done
        return replies
      } finally {
        this._buses.delete(bus)
        await bus.close()
      }
    })
  }

  close(cb) {
    return this.disconnect(cb)
  }

  // Stops the daemon and deletes its home, which must hold nothing but what pm2 writes
  // there: any other directory is refused and left untouched.
  destroy(cb) {
    return settle(cb, async () => {
      if (this.pm2_home.includes('.pm2')) throw new Error('Destroy is not a allowed method on .pm2')
      checkIsPm2Home(this.pm2_home)
      await this.killDaemon()
      await this.disconnect()
      checkIsPm2Home(this.pm2_home)
      fs.rmSync(this.pm2_home, { recursive: true, force: true })
    })
  }
}

// What the daemon and pm2 keep in a home (`*.tmp-<pid>`: a file being replaced whole when the
// daemon stopped): destroy() deletes nothing else.
const PM2_HOME_DIRS = new Set(['logs', 'pids', 'modules'])
const PM2_HOME_FILES = /^(dump\.pm2.*|pm2\.log.*|module_conf\.json|process-table\.json|cluster-drain\.cjs|touch|conf\.js|interaction\.conf|.*\.(sock|pid|lock|log|tmp)|.*\.tmp-\d+)$/

function checkIsPm2Home(home) {
  let entries
  try {
    entries = fs.readdirSync(home, { withFileTypes: true })
  } catch (e) {
    throw new Error(`Cannot destroy ${home}: ${e.message}`)
  }
  const foreign = entries.filter((e) => (e.isDirectory() ? !PM2_HOME_DIRS.has(e.name) : !PM2_HOME_FILES.test(e.name))).map((e) => e.name)
  const layout = ['logs', 'pids'].every((d) => entries.some((e) => e.isDirectory() && e.name === d))
  if (foreign.length > 0 || !layout) {
    const why = foreign.length > 0 ? `it holds ${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', ...' : ''}, which pm2 does not write` : 'it has no logs/ and pids/'
    throw new Error(`Refusing to destroy ${home}: it is not a pm2 home (${why}); nothing was deleted`)
  }
}

// The rest of pm2's API object, one concern per file.
const helpers = { settle, native: nativeAddon }
require('./lib/extra')(API, helpers)
require('./lib/logs')(API, helpers)
require('./lib/modules')(API, helpers)
require('./lib/unsupported')(API, helpers)

const pm2 = new API()
pm2.custom = API
module.exports = pm2
