// A long-running app: prints a line every few seconds until pm2 stops it.
let n = 0
console.log(`app started (pid ${process.pid}, pm_id ${process.env.pm_id})`)
setInterval(() => console.log(`tick ${++n}`), 5000)
