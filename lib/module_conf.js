'use strict'
// pm2's module configuration: $PM2_HOME/module_conf.json, edited with keys such as
// `pm2-logrotate:max_size` or `module.key` (one level per `:` or `.`; double quotes keep a
// level with dots in it whole), with pm2's semantics: set creates the levels it needs,
// unset('all') empties the file, get of an unknown key is an error.

const fs = require('fs')
const path = require('path')

const FILE = 'module_conf.json'
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype'])

function splitKey(key) {
  if (typeof key !== 'string' || key.length === 0) throw new Error('A configuration key is required (e.g. "pm2-logrotate:max_size")')
  const sep = key.includes('.') ? '.' : key.includes(':') ? ':' : null
  const levels = sep ? (key.match(sep === '.' ? /(?:[^."]+|"[^"]*")+/g : /(?:[^:"]+|"[^"]*")+/g) || []).map((l) => l.replace(/"/g, '')) : [key]
  if (levels.some((l) => FORBIDDEN.has(l))) throw new Error(`Invalid configuration key: ${key}`)
  return levels
}

class ModuleConf {
  constructor(home) {
    this.file = path.join(home, FILE)
  }

  all() {
    let text
    try {
      text = fs.readFileSync(this.file, 'utf8')
    } catch (e) {
      if (e.code === 'ENOENT') return {}
      throw new Error(`Cannot read ${this.file}: ${e.message}`)
    }
    try {
      const conf = JSON.parse(text)
      return conf && typeof conf === 'object' && !Array.isArray(conf) ? conf : {}
    } catch (e) {
      throw new Error(`${this.file} is not valid JSON: ${e.message}`)
    }
  }

  // Written whole to a temporary file and renamed, so a reader never sees half of it.
  save(conf) {
    const tmp = `${this.file}.${process.pid}.tmp`
    fs.writeFileSync(tmp, JSON.stringify(conf, null, 4), { mode: 0o600 })
    fs.renameSync(tmp, this.file)
    return conf
  }

  // The object holding the last level, created on the way as pm2 creates it.
  static parentOf(conf, levels) {
    let node = conf
    for (const level of levels.slice(0, -1)) {
      if (!node[level] || typeof node[level] !== 'object') node[level] = {}
      node = node[level]
    }
    return node
  }

  get(key) {
    let node = this.all()
    for (const level of splitKey(key)) {
      if (!node || typeof node !== 'object' || !node[level]) throw new Error(`Unknown key: ${key}`)
      node = node[level]
    }
    return node
  }

  // Edits return the changed configuration; `save` writes it.
  static set(conf, key, value) {
    const levels = splitKey(key)
    ModuleConf.parentOf(conf, levels)[levels[levels.length - 1]] = value
    return conf
  }

  static unset(conf, key) {
    if (key === 'all') return {}
    const levels = splitKey(key)
    delete ModuleConf.parentOf(conf, levels)[levels[levels.length - 1]]
    return conf
  }

  // multiset's words: separated by spaces, double quotes keep one whole.
  static words(serial) {
    if (typeof serial !== 'string') throw new Error('multiset() takes a string of "key value" pairs')
    return serial.match(/(?:[^ "]+|"[^"]*")+/g) || []
  }

  // "key1 value1 key2 value2", double quotes keeping spaces in a value.
  static multiset(conf, serial) {
    const words = ModuleConf.words(serial)
    if (words.length === 0 || words.length % 2 !== 0) throw new Error(`multiset() needs "key value" pairs, got: ${serial}`)
    for (let i = 0; i < words.length; i += 2) ModuleConf.set(conf, words[i], words[i + 1])
    return conf
  }

  // The module (or app) a key belongs to: `pm2-logrotate` for `pm2-logrotate:max_size`.
  static owner(key) {
    const levels = splitKey(key)
    return levels.length > 1 ? levels[0] : null
  }
}

module.exports = { ModuleConf, splitKey }
