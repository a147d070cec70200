'use strict'
// The rest of pm2's API object: the CLI-oriented calls that print (jlist, env, report),
// @pm2/io actions (inspect, profile), attach, serve, sample and Dockerfile generation,
// deploy. Each does what pm2's does, through the same public calls scripts use.

const fs = require('fs')
const os = require('os')
const path = require('path')
const util = require('util')

const PROFILES = {
  cpu: { start: 'km:cpu:profiling:start', stop: 'km:cpu:profiling:stop', ext: '.cpuprofile' },
  mem: { start: 'km:heap:sampling:start', stop: 'km:heap:sampling:stop', ext: '.heapprofile' },
}

const SAMPLE = {
  simple: `module.exports = {
  apps: [{
    name: 'app',
    script: './app.js',
  }],
}
`,
  full: `module.exports = {
  apps: [{
    name: 'app',
    script: './app.js',
    instances: 1,
    exec_mode: 'fork',
    watch: false,
    max_memory_restart: '500M',
    env: {
      NODE_ENV: 'development',
    },
    env_production: {
      NODE_ENV: 'production',
    },
  }],

  deploy: {
    production: {
      user: 'SSH_USERNAME',
      host: 'SSH_HOSTMACHINE',
      ref: 'origin/main',
      repo: 'GIT_REPOSITORY',
      path: 'DESTINATION_PATH',
      'post-deploy': 'npm install && pm2 reload ecosystem.config.js --env production',
    },
  },
}
`,
}

function lastFunction(args) {
  for (let i = args.length - 1; i >= 0; i--) if (typeof args[i] === 'function') return args[i]
  return undefined
}

function hasAction(proc, name) {
  const actions = (proc.pm2_env && proc.pm2_env.axm_actions) || []
  return actions.some((a) => a && a.action_name === name)
}

module.exports = function addExtra(API, { settle }) {
  const P = API.prototype

  // jlist([debug]): prints the process list as JSON (util.inspect with `debug`), as
  // `pm2 jlist` does, and answers it.
  P.jlist = function jlist(debug, cb) {
    if (typeof debug === 'function') [cb, debug] = [debug, false]
    return settle(cb, async () => {
      const list = await this.list()
      process.stdout.write(debug ? util.inspect(list, false, null, false) : JSON.stringify(list))
      return list
    })
  }

  // slist([tree]): prints what the machine has (cpus, memory, load, system) and answers it.
  P.slist = function slist(tree, cb) {
    if (typeof tree === 'function') [cb, tree] = [tree, false]
    return settle(cb, async () => {
      const cpus = os.cpus()
      const info = {
        system: { hostname: os.hostname(), platform: os.platform(), release: os.release(), arch: os.arch(), uptime: os.uptime() },
        cpu: { model: cpus.length ? cpus[0].model : 'unknown', cores: cpus.length, load: os.loadavg() },
        mem: { total: os.totalmem(), free: os.freemem() },
        processes: (await this.list()).length,
      }
      process.stdout.write(tree === true ? JSON.stringify(info, null, 2) + '\n' : util.inspect(info, false, null, false))
      return info
    })
  }

  // What pm2 prints after a CLI action; a script (as here) gets nothing printed.
  P.speedList = function speedList() {
    return false
  }

  // Under pm2 this leaves a CLI process; scripts never exit through it.
  P.exitCli = function exitCli() {
    return false
  }

  // env(pm_id): prints the app's pm2_env as `key: value` lines, as `pm2 env <id>` does.
  P.env = function env(appId, cb) {
    return settle(cb, async () => {
      const procs = (await this.list()).filter((p) => p.pm_id == appId) // eslint-disable-line eqeqeq
      if (procs.length === 0) throw new Error(`Process with id ${appId} not found`)
      const pm2Env = procs[0].pm2_env
      for (const [k, v] of Object.entries(pm2Env)) process.stdout.write(`${k}: ${v}\n`)
      return pm2Env
    })
  }

  P.getProcessIdsByNamespace = function getProcessIdsByNamespace(namespace, forceAll, cb) {
    if (typeof forceAll === 'function') cb = forceAll
    return settle(cb, async () => {
      const ns = String(namespace)
      return (await this.list()).filter((p) => p.pm2_env && p.pm2_env.namespace === ns).map((p) => p.pm_id)
    })
  }

  // report(): the facts pm2's issue template asks for, printed, and answered as an object.
  P.report = function report(cb) {
    return settle(cb, async () => {
      const [version, list] = await Promise.all([this.getVersion(), this.list()])
      let daemonLog = ''
      try {
        daemonLog = fs.readFileSync(path.join(this.pm2_home, 'pm2.log'), 'utf8').split('\n').slice(-21).join('\n')
      } catch (_) {}
      const cpus = os.cpus()
      const out = {
        date: new Date().toISOString(),
        daemon: { version, pm2_home: this.pm2_home },
        cli: { node_version: process.versions.node, node_path: process.execPath, argv: process.argv, user: os.userInfo().username, uid: process.getuid && process.getuid(), gid: process.getgid && process.getgid() },
        system: { arch: os.arch(), platform: os.platform(), type: os.type(), cpus: cpus.length ? cpus[0].model : 'unknown', cpus_nb: cpus.length, freemem: os.freemem(), totalmem: os.totalmem(), home: os.homedir() },
        processes: list.map((p) => ({ name: p.name, pm_id: p.pm_id, status: p.pm2_env.status, restart_time: p.pm2_env.restart_time, pid: p.pid, memory: p.monit && p.monit.memory, cpu: p.monit && p.monit.cpu })),
        daemon_log: daemonLog,
      }
      const lines = ['```', '--- PM2 report ----------------------------------------------------------------', `Date                 : ${out.date}`]
      for (const section of ['daemon', 'cli', 'system']) {
        lines.push(`===============================================================================`, `--- ${section.toUpperCase()} ----------`)
        for (const [k, v] of Object.entries(out[section])) lines.push(`${k.padEnd(21)}: ${Array.isArray(v) ? v.join(' ') : v}`)
      }
      lines.push('===============================================================================', '--- PM2 list ----------')
      for (const p of out.processes) lines.push(`${String(p.pm_id).padEnd(4)}${String(p.name).padEnd(24)}${String(p.status).padEnd(16)}restarts ${p.restart_time}  pid ${p.pid}  mem ${p.memory}  cpu ${p.cpu}`)
      lines.push('===============================================================================', '--- Daemon logs ----------', daemonLog, '```')
      process.stdout.write(lines.join('\n') + '\n')
      return out
    })
  }

  // pm2's raw @pm2/io call: {id | name, msg, opts}.
  P.msgProcess = function msgProcess(opts, cb) {
    return settle(cb, () => {
      if (!opts || typeof opts.msg !== 'string') throw new Error('msgProcess() needs {msg, id or name}')
      const target = opts.id !== undefined ? opts.id : opts.name
      return this._call('msgProcess', { msg: opts.msg, opts: opts.opts === undefined ? null : opts.opts, target })
    })
  }

  // inspect(name): asks @pm2/io in the app to open the inspector (its internal:inspect action).
  P.inspect = function inspect(appName, cb) {
    return settle(cb, async () => {
      try {
        return await this.trigger(appName, 'internal:inspect')
      } catch (e) {
        throw new Error(`${e.message}: inspect() asks the app's @pm2/io to open the inspector, so the app must load @pm2/io; otherwise start it with node_args: '--inspect'`)
      }
    })
  }

  // profile('cpu' | 'mem', [ms = 10000]): records a profile of every app whose @pm2/io
  // offers the profiling actions, and writes each to `<name>-<pm_id>-<time><ext>` in cwd.
  // (pm2 profiles its own Node daemon, which does not exist here.)
  P.profile = function profile(type, time, cb) {
    if (typeof time === 'function') [cb, time] = [time, undefined]
    return settle(cb, async () => {
      const kind = PROFILES[type]
      if (!kind) throw new Error(`profile() takes 'cpu' or 'mem', got ${JSON.stringify(type)}`)
      const duration = time === undefined || time === null ? 10000 : Number(time)
      if (!Number.isFinite(duration) || duration < 0) throw new Error(`profile() duration must be a number of milliseconds, got ${time}`)
      const procs = (await this.list()).filter((p) => p.pm2_env.status === 'online' && hasAction(p, kind.start) && hasAction(p, kind.stop))
      if (procs.length === 0) {
        throw new Error(`profile('${type}') is not supported for these apps: it records profiles of apps that load @pm2/io with profiling enabled (actions ${kind.start} / ${kind.stop}), and no running app declares them. pm2's own daemon profile does not exist here (the daemon is not a Node process); use node --cpu-prof or --heap-prof in node_args instead`)
      }
      for (const p of procs) await this.trigger(p.pm_id, kind.start)
      await new Promise((resolve) => setTimeout(resolve, duration))
      const stamp = new Date().toISOString().replace(/[:.]/g, '-')
      const written = []
      for (const p of procs) {
        const [reply] = await this.trigger(p.pm_id, kind.stop)
        const ret = (reply && reply.data && reply.data.return) || {}
        if (ret.success === false) throw new Error(`${p.name} (${p.pm_id}) could not record a profile: ${util.inspect(ret.err)}`)
        const file = path.join(this.cwd, `${p.name}-${p.pm_id}-${stamp}${kind.ext}`)
        if (typeof ret.dump_file === 'string') fs.copyFileSync(ret.dump_file, file)
        else if (ret.data !== undefined) fs.writeFileSync(file, typeof ret.data === 'string' ? ret.data : JSON.stringify(ret.data))
        else throw new Error(`${p.name} (${p.pm_id}) answered ${kind.stop} without a profile`)
        written.push({ name: p.name, pm_id: p.pm_id, file })
      }
      return written
    })
  }

  // attach(pm_id, [separator]): this process's stdin goes to the app's stdin line by line,
  // and the app's output comes to this stdout, until stdin ends.
  P.attach = function attach(pmId, separator, cb) {
    if (typeof separator === 'function') [cb, separator] = [separator, undefined]
    return settle(cb, async () => {
      if (isNaN(pmId)) throw new Error('attach() needs a process id (pm_id), not a name')
      const id = Number(pmId)
      const bus = await this.launchBus()
      bus.on('log:*', (type, packet) => {
        if (packet.process && packet.process.pm_id === id) process.stdout.write(packet.data)
      })
      const rl = require('readline').createInterface({ input: process.stdin })
      try {
        for await (const line of rl) await this.sendLineToStdin(id, line, separator)
      } finally {
        rl.close()
        await bus.close()
      }
    })
  }

  // serve([path = '.'], [port = 8080], [opts], [commander], cb): a static file server app
  // (lib/serve.js) named `static-page-server-<port>`, as `pm2 serve` starts one.
  P.serve = function serve(targetPath, port, opts, commander, cb) {
    cb = lastFunction([targetPath, port, opts, commander, cb])
    if (typeof targetPath !== 'string') targetPath = undefined
    if (typeof port !== 'number' && typeof port !== 'string') port = undefined
    opts = opts && typeof opts === 'object' ? Object.assign({}, opts) : {}
    commander = commander && typeof commander === 'object' ? commander : {}
    return settle(cb, () => {
      const servePort = Number(process.env.PM2_SERVE_PORT || port || 8080)
      if (!Number.isInteger(servePort) || servePort < 0 || servePort > 65535) throw new Error(`serve(): invalid port ${port}`)
      const servePath = path.resolve(this.cwd, process.env.PM2_SERVE_PATH || targetPath || '.')
      if (!fs.existsSync(servePath)) throw new Error(`serve(): ${servePath} does not exist`)
      const env = Object.assign({}, opts.env, {
        PM2_SERVE_PORT: String(servePort),
        PM2_SERVE_PATH: servePath,
        PM2_SERVE_SPA: String(Boolean(opts.spa)),
      })
      const user = opts.basicAuthUsername || opts.basic_auth_username
      const password = opts.basicAuthPassword || opts.basic_auth_password
      if (user && password) Object.assign(env, { PM2_SERVE_BASIC_AUTH: 'true', PM2_SERVE_BASIC_AUTH_USERNAME: user, PM2_SERVE_BASIC_AUTH_PASSWORD: password })
      if (opts.ftp) throw new Error('serve(): ftp is not supported; serve the files over HTTP')
      const app = {
        script: path.join(__dirname, 'serve.js'),
        name: typeof commander.name === 'string' ? commander.name : opts.name || `static-page-server-${servePort}`,
        cwd: servePath,
        env,
      }
      return this.start(app)
    })
  }

  // generateSample([mode]): writes an ecosystem.config.js (mode 'simple': one app) in cwd.
  P.generateSample = function generateSample(mode, cb) {
    if (typeof mode === 'function') [cb, mode] = [mode, undefined]
    return settle(cb, () => {
      const file = path.join(this.cwd, 'ecosystem.config.js')
      if (fs.existsSync(file)) throw new Error(`${file} already exists; remove it to generate a new one`)
      fs.writeFileSync(file, mode === 'simple' ? SAMPLE.simple : SAMPLE.full, { flag: 'wx' })
      return { success: true, file }
    })
  }

  // generateDockerfile(script, [opts]): a Dockerfile in cwd (replaced only with opts.force)
  // that runs `script` under pm2 in development mode, as `pm2 docker:gen` writes it.
  P.generateDockerfile = function generateDockerfile(script, opts, cb) {
    if (typeof opts === 'function') [cb, opts] = [opts, undefined]
    opts = opts || {}
    return settle(cb, () => {
      if (typeof script !== 'string' || !script) throw new Error('generateDockerfile() needs the script or config file to run')
      const file = path.join(this.cwd, 'Dockerfile')
      if (fs.existsSync(file) && opts.force !== true) throw new Error(`Dockerfile already exists in ${this.cwd}, use {force: true} to replace it`)
      const mode = opts.mode === 'distribution' ? 'distribution' : 'development'
      const env = mode === 'distribution' ? 'production' : 'development'
      const text = [
        `FROM keymetrics/pm2:${opts.node_version || opts.nodeVersion || 'latest'}`,
        '',
        'RUN mkdir -p /var/app',
        '',
        'WORKDIR /var/app',
        '',
        'COPY ./package.json /var/app',
        'RUN npm install',
        `## ${mode.toUpperCase()} MODE`,
        `ENV NODE_ENV=${env}`,
        ...(mode === 'distribution' ? ['COPY . /var/app', `CMD ["pm2-docker", "${script}", "--env", "production"]`] : [`CMD ["pm2-dev", "${script}", "--env", "development"]`]),
      ].join('\n')
      fs.writeFileSync(file, text)
      return { Dockerfile_path: file, Dockerfile: text }
    })
  }

  // deploy(file, commands, cb): pm2-deploy over the config file's `deploy` section.
  // `commands` is commander's object ({rawArgs: [..., 'deploy', file, env, ...]}) as pm2
  // receives it, or simply [env, ...args].
  P.deploy = function deploy(file, commands, cb) {
    if (typeof commands === 'function') [cb, commands] = [commands, undefined]
    return settle(cb, async () => {
      if (file === 'help') return { help: 'pm2.deploy(ecosystemFile, [env, command...]): commands setup, update, revert [n], curr[ent], prev[ious], exec|run <cmd>, list, [ref]' }
      let args
      if (Array.isArray(commands)) args = commands.map(String)
      else if (commands && Array.isArray(commands.rawArgs)) {
        args = commands.rawArgs.slice(commands.rawArgs.indexOf('deploy') + 1)
        if (args[0] === file) args.shift()
      } else if (typeof commands === 'string') args = [commands]
      else throw new Error('deploy(file, [env, ...commands], cb) needs the environment to deploy to')
      const env = args[0]
      if (!env) throw new Error('deploy() needs the environment to deploy to (e.g. "production")')
      const doc = await this._readConfigDocument(file)
      if (!doc || !doc.deploy || !doc.deploy[env]) throw new Error(`${env} environment is not defined in ${file}`)
      const conf = JSON.parse(JSON.stringify(doc.deploy))
      if (!conf[env]['post-deploy']) conf[env]['post-deploy'] = `pm2 startOrRestart ${file} --env ${env}`
      const pm2Deploy = require('pm2-deploy')
      return new Promise((resolve, reject) => {
        pm2Deploy.deployForEnv(conf, env, args.slice(1), (err, data) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(data)))
      })
    })
  }

  // remote / remoteV2: pm2's way of calling a method by name (used by its agent).
  P.remote = function remote(command, opts, cb) {
    return settle(cb, () => {
      if (typeof this[command] !== 'function' || command.startsWith('_')) throw new Error(`Unknown command: ${command}`)
      return this[command](opts && opts.name)
    })
  }

  P.remoteV2 = function remoteV2(command, opts, cb) {
    return settle(cb, () => {
      if (typeof this[command] !== 'function' || command.startsWith('_')) throw new Error(`Unknown command: ${command}`)
      return this[command](...((opts && opts.args) || []))
    })
  }

  P.autodump = function autodump(cb) {
    return this.dump(true, cb)
  }
}
