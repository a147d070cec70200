'use strict'
// pm2's module calls. No pm2 module runs here (they need pm2's Node daemon); what scripts
// rely on still works: the module configuration in module_conf.json (get / set / unset /
// multiset / conf, which pm2-logrotate's settings live in), `uninstall('all')`, and
// `install('pm2-logrotate')`, whose job the daemon's built-in rotation does: a change to
// pm2-logrotate's settings is checked and applied by the daemon before it is saved.

const { ModuleConf } = require('./module_conf')

const LOGROTATE = 'pm2-logrotate'
// pm2-logrotate's own defaults, written on install where no value is set yet, as pm2 does.
const LOGROTATE_DEFAULTS = {
  max_size: '10M',
  retain: '30',
  compress: false,
  dateFormat: 'YYYY-MM-DD_HH-mm-ss',
  workerInterval: '30',
  rotateInterval: '0 0 * * *',
  rotateModule: true,
}

function moduleName(spec) {
  if (typeof spec !== 'string' || !spec) throw new Error('A module name is required')
  // `pm2-logrotate@2.7.0`, `@scope/name@1`: the name without its version.
  const at = spec.lastIndexOf('@')
  return at > 0 ? spec.slice(0, at) : spec
}

module.exports = function addModules(API, { settle }) {
  const P = API.prototype

  P._moduleConf = function _moduleConf() {
    return new ModuleConf(this.pm2_home)
  }

  // Applies `change` to module_conf.json. When pm2-logrotate's settings change, the daemon
  // takes them first (and refuses a value it cannot use): the file never holds settings
  // the running rotation does not follow.
  P._editModuleConf = async function _editModuleConf(change) {
    const file = this._moduleConf()
    const before = file.all()
    const after = change(structuredClone(before))
    const section = (conf) => (conf[LOGROTATE] && typeof conf[LOGROTATE] === 'object' ? conf[LOGROTATE] : null)
    if (JSON.stringify(section(before)) !== JSON.stringify(section(after))) {
      await this._call('setLogRotation', { conf: section(after) })
    }
    return file.save(after)
  }

  // After a setting of an app changes, pm2 restarts that app with the caller's environment
  // (restart's updateEnv); the daemon gives it its settings from module_conf.json. No app of
  // that name: the setting is only saved.
  P._restartWithSettings = async function _restartWithSettings(key) {
    const app = ModuleConf.owner(key)
    if (!app) return
    await this._call('restart', { names: [app], ignoreUnknown: true, opts: { updateEnv: true }, context: this._context() })
  }

  P.install = function install(spec, opts, cb) {
    if (typeof opts === 'function') [cb, opts] = [opts, undefined]
    return settle(cb, async () => {
      const name = moduleName(spec)
      if (name !== LOGROTATE) {
        throw new Error(`Installing pm2 modules is not supported (${spec}): modules run inside pm2's Node daemon, which this implementation replaces. Start the module's script as an app with start() instead`)
      }
      await this._editModuleConf((all) => {
        const current = all[LOGROTATE] && typeof all[LOGROTATE] === 'object' ? all[LOGROTATE] : {}
        for (const [k, v] of Object.entries(LOGROTATE_DEFAULTS)) if (!(k in current)) current[k] = v
        all[LOGROTATE] = current
        return all
      })
      return {
        success: true,
        builtin: true,
        message: 'Log rotation is built into this pm2: pm2-logrotate is not needed and was not installed; its settings (set("pm2-logrotate:max_size", "10M"), ...) are kept in module_conf.json',
      }
    })
  }

  P.uninstall = function uninstall(spec, cb) {
    return settle(cb, async () => {
      if (spec === 'all') return undefined
      const name = moduleName(spec)
      if (name === LOGROTATE) {
        await this._editModuleConf((all) => ModuleConf.unset(all, LOGROTATE))
        return undefined
      }
      throw new Error(`Unknown module ${name}: no pm2 module is installed (pm2 modules are not supported here)`)
    })
  }

  P.deleteModule = function deleteModule(name, cb) {
    return settle(cb, () => undefined)
  }

  // get([key]): the whole configuration, a module's, or one value (pm2 prints it and
  // answers {success: true}; a script gets the value).
  P.get = function get(key, cb) {
    if (typeof key === 'function') [cb, key] = [key, undefined]
    return settle(cb, () => {
      const conf = this._moduleConf()
      return !key || key === 'all' ? conf.all() : conf.get(key)
    })
  }

  P.set = function set(key, value, cb) {
    return settle(cb, async () => {
      if (!key) throw new Error('set(key, value) needs a key; edit module_conf.json to change several at once')
      await this._editModuleConf((all) => ModuleConf.set(all, key, value))
      await this._restartWithSettings(key)
      return { success: true }
    })
  }

  P.multiset = function multiset(serial, cb) {
    return settle(cb, async () => {
      await this._editModuleConf((all) => ModuleConf.multiset(all, serial))
      // pm2 restarts the app of the first key.
      await this._restartWithSettings(ModuleConf.words(serial)[0])
      return { success: true }
    })
  }

  P.unset = function unset(key, cb) {
    return settle(cb, async () => {
      await this._editModuleConf((all) => ModuleConf.unset(all, key))
      return { success: true }
    })
  }

  // conf(key, value): set; conf(key): get; conf(): pm2 opens an editor.
  P.conf = function conf(key, value, cb) {
    if (typeof key === 'function') [cb, key, value] = [key, undefined, undefined]
    if (typeof value === 'function') [cb, value] = [value, undefined]
    if (key && value !== undefined && value !== null) return this.set(key, value, cb)
    if (key) return this.get(key, cb)
    return settle(cb, () => {
      throw new Error(`conf() with no key opens an editor under pm2 and is not supported; edit ${this._moduleConf().file} or call set(key, value)`)
    })
  }
}
