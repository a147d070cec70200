'use strict'
// Evaluates a config file written in JavaScript (ecosystem.config.js/.cjs/.mjs), which only
// Node can do. index.js requires this file; the native `pm2` command runs it with `node -e`
// and reads the config as JSON on stdout, so both see the same apps.

const { pathToFileURL } = require('url')
const vm = require('vm')

// What the file exports: `module.exports`, or `export default` (an ES module, or CommonJS
// compiled from one).
async function evaluateConfig(abs) {
  if (abs.endsWith('.mjs')) {
    const mod = await import(pathToFileURL(abs).href)
    return mod.default !== undefined ? mod.default : mod
  }
  delete require.cache[require.resolve(abs)]
  const mod = require(abs)
  return mod && mod.__esModule && mod.default !== undefined ? mod.default : mod
}

// For the command: prints the config as JSON, or the error's message and exit code 1.
function printConfig(abs) {
  evaluateConfig(abs).then(
    (doc) => process.stdout.write(JSON.stringify(doc === undefined ? null : doc)),
    (err) => {
      process.stderr.write(String((err && err.message) || err))
      process.exitCode = 1
    }
  )
}

// A JSON config that is not strict JSON (comments, unquoted keys, expressions): pm2 reads
// such files, and a config piped on stdin, as one JavaScript expression. Prints it as JSON.
function printExpression(filename) {
  let text = ''
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', (d) => { text += d })
  process.stdin.on('end', () => {
    try {
      const doc = vm.runInThisContext('(' + text + ')', { filename, displayErrors: false, timeout: 1000 })
      process.stdout.write(JSON.stringify(doc === undefined ? null : doc))
    } catch (err) {
      process.stderr.write(String((err && err.message) || err))
      process.exitCode = 1
    }
  })
}

module.exports = { evaluateConfig, printConfig, printExpression }
