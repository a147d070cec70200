'use strict'
// A whole, short-lived client process: connect to a running daemon, list, disconnect, exit.
// argv: <module path> <pm2_home>. Exits by itself, as a user's script would.
const M = require(process.argv[2])
const pm2 = new M.custom({ pm2_home: process.argv[3], cwd: __dirname, daemon_mode: true })
pm2.connect((err) => {
  if (err) throw err
  pm2.list((err) => {
    if (err) throw err
    pm2.disconnect(() => {})
  })
})
