'use strict'
// The messenger app (apps/messenger.js) started under the process manager as `name`, its
// output in the round's directory: resolves with what the app announced and its log file.

const path = require('path')
const { appPath } = require('./spawn')

async function startMessenger(ctx, session, beacon, name) {
  const outFile = path.join(ctx.workdir, `${name}-out.log`)
  await session.call('start', {
    script: appPath('messenger.js'),
    name,
    env: ctx.appEnv(name),
    out_file: outFile,
    error_file: path.join(ctx.workdir, `${name}-error.log`),
  })
  return { app: await beacon.waitId(name), outFile }
}

module.exports = { startMessenger }
