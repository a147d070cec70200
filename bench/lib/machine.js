'use strict'
// What the results were measured on: date, versions, hardware.

const os = require('os')
const { version } = require('./impls')

function describe() {
  const cpus = os.cpus()
  return {
    date: new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
    node: process.version,
    versions: { rs: version('rs'), orig: version('orig') },
    cpu: cpus.length ? cpus[0].model.replace(/\s+/g, ' ').trim() : 'unknown CPU',
    cores: cpus.length,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  }
}

module.exports = { describe }
