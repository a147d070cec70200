'use strict'
// Methods of pm2's API object that this implementation does not provide. Each exists and
// fails with an Error that says why and what to use instead, through the same errback /
// promise shape as every other method.

const PLUS = 'PM2 Plus (app.pm2.io) needs pm2\'s Node agent, which this implementation does not run'

const UNSUPPORTED = {
  link: `${PLUS}; use list(), launchBus() and describe() to feed your own monitoring`,
  unlink: `${PLUS}; there is no agent to unlink`,
  linkManagement: `${PLUS}; there is no agent to manage`,
  plus: `${PLUS}; use list() and launchBus() for metrics and events`,
  openDashboard: `${PLUS}; there is no dashboard to open`,
  agentInfos: `${PLUS}; there is no agent to describe`,
  killAgent: `${PLUS}; there is no agent to kill`,
  minimumSetup: `${PLUS}; there is nothing to set up`,
  clearSetup: `${PLUS}; there is nothing to clear`,
  monitorState: `${PLUS}; use list() for each app's state`,
  launchSysMonitoring: 'System monitoring (the pm2-sysmonit module) is a PM2 Plus module and is not supported; list() reports each app\'s cpu and memory',
  dashboard: 'The terminal dashboard cannot be called programmatically; use list() and launchBus()',
  monit: 'The terminal monitor cannot be called programmatically; use list() for cpu and memory',
  boilerplate: 'boilerplate() asks on the terminal which sample project to copy and is not supported programmatically; write an ecosystem file with generateSample() and start() it',
  autoinstall: 'autoinstall() starts a service-detection script that pm2 no longer ships; start the services you need with start()',
  deepUpdate: 'deepUpdate() runs "npm i -g pm2@latest"; update this package with your package manager, then call update() to restart the daemon from it',
  pullAndReload: 'pullAndReload() needs pm2\'s versioning metadata (vizion), which this daemon does not collect; run "git pull" in the app\'s directory, then reload(name)',
  pullAndRestart: 'pullAndRestart() needs pm2\'s versioning metadata (vizion), which this daemon does not collect; run "git pull" in the app\'s directory, then restart(name)',
  pullCommitId: 'pullCommitId() needs pm2\'s versioning metadata (vizion), which this daemon does not collect; run "git checkout <commit>" in the app\'s directory, then reload(name)',
  forward: 'forward() needs pm2\'s versioning metadata (vizion), which this daemon does not collect; move the app\'s git checkout yourself, then reload(name)',
  backward: 'backward() needs pm2\'s versioning metadata (vizion), which this daemon does not collect; move the app\'s git checkout yourself, then reload(name)',
  package: 'Packaging pm2 modules is not supported: this implementation runs no pm2 modules; publish the code as an ordinary npm package',
  publish: 'Publishing pm2 modules is not supported: this implementation runs no pm2 modules; use "npm publish"',
  generateModuleSample: 'pm2 modules are not supported: this implementation runs no pm2 modules; write an ordinary app and start() it',
  launchAll: 'pm2 modules are not supported: there are no modules to launch',
  launchModules: 'pm2 modules are not supported: there are no modules to launch',
  dockerMode: 'it builds and runs images with the docker CLI; write a Dockerfile with generateDockerfile(script, {mode}) and run "docker build"',
  logrotate: 'it writes a system logrotate configuration; rotation is built in (max_size, retain, compress per app, or PM2_LOG_MAX_SIZE / PM2_LOG_RETAIN / PM2_LOG_COMPRESS for every app)',
}

module.exports = function addUnsupported(API, { settle }) {
  for (const [name, why] of Object.entries(UNSUPPORTED)) {
    API.prototype[name] = function unsupported(...args) {
      const cb = args.reverse().find((a) => typeof a === 'function')
      return settle(cb, () => {
        throw new Error(`${name}() is not supported: ${why}`)
      })
    }
  }
}

module.exports.UNSUPPORTED = UNSUPPORTED
