// Shows what the example left running, the way `pm2 list` would.
const pm2 = require('pm2')

pm2.list((err, list) => {
  pm2.disconnect()
  if (err) throw err
  console.table(list.map((p) => ({
    id: p.pm_id,
    name: p.name,
    pid: p.pid,
    status: p.pm2_env.status,
    restarts: p.pm2_env.restart_time,
    memory: `${(p.monit.memory / 1048576).toFixed(1)} MiB`,
    out_log: p.pm2_env.pm_out_log_path,
  })))
  console.log(`Stop everything with: node -e "require('pm2').killDaemon(() => process.exit())" (from this folder)`)
})
