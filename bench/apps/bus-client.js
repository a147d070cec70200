'use strict'
// A client process that subscribes to the bus and exits without closing anything once a log
// line arrives, as a monitoring script that dies would. argv: <module path> <pm2_home>.
const M = require(process.argv[2])
const pm2 = new M.custom({ pm2_home: process.argv[3], cwd: __dirname, daemon_mode: true })
pm2.connect((err) => {
  if (err) throw err
  pm2.launchBus((err, bus) => {
    if (err) throw err
    bus.on('log:out', () => process.exit(0))
  })
})
