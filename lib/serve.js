'use strict'
// The app that serve() starts: a static file server over PM2_SERVE_PATH on
// PM2_SERVE_PORT, with PM2_SERVE_SPA (an unknown path answers the root's file of that name, else
// index.html) and optional basic
// auth (PM2_SERVE_BASIC_AUTH, _USERNAME, _PASSWORD), as `pm2 serve` configures its own.

const fs = require('fs')
const http = require('http')
const path = require('path')

const root = path.resolve(process.env.PM2_SERVE_PATH || '.')
const port = Number(process.env.PM2_SERVE_PORT || 8080)
const spa = process.env.PM2_SERVE_SPA === 'true'
const auth = process.env.PM2_SERVE_BASIC_AUTH === 'true'
  ? 'Basic ' + Buffer.from(`${process.env.PM2_SERVE_BASIC_AUTH_USERNAME}:${process.env.PM2_SERVE_BASIC_AUTH_PASSWORD}`).toString('base64')
  : null

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.htm': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8', '.md': 'text/markdown; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.ico': 'image/x-icon', '.webp': 'image/webp',
  '.woff': 'font/woff', '.woff2': 'font/woff2', '.wasm': 'application/wasm', '.xml': 'application/xml', '.pdf': 'application/pdf',
}

// The file a request names, never outside root; a directory means its index.html.
function fileFor(urlPath) {
  let rel
  try {
    rel = decodeURIComponent(urlPath.split('?')[0])
  } catch (_) {
    return null
  }
  const file = path.join(root, path.normalize('/' + rel))
  if (file !== root && !file.startsWith(root + path.sep)) return null
  try {
    const st = fs.statSync(file)
    if (st.isDirectory()) return fileFor(path.posix.join(rel, 'index.html'))
    return st.isFile() ? file : null
  } catch (_) {
    return null
  }
}

function send(res, status, file, head) {
  res.writeHead(status, { 'Content-Type': TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream' })
  if (head) return res.end()
  fs.createReadStream(file).on('error', () => res.destroy()).pipe(res)
}

const server = http.createServer((req, res) => {
  if (auth && req.headers.authorization !== auth) {
    res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="pm2 serve"' })
    return res.end('Unauthorized')
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD' })
    return res.end()
  }
  const head = req.method === 'HEAD'
  const file = fileFor(req.url)
  if (file) return send(res, 200, file, head)
  // A single-page app's links resolve against any route: a missing file is looked up by its
  // name at the root (`/a/b/other.html` answers `/other.html`), then the homepage answers.
  const index = spa && (fileFor('/' + path.posix.basename(req.url.split('?')[0])) || fileFor('/index.html'))
  if (index) return send(res, 200, index, head)
  const notFound = fileFor('/404.html')
  if (notFound) return send(res, 404, notFound, head)
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' })
  res.end(head ? undefined : 'Not Found')
})

server.listen(port, () => {
  console.log(`Exposing ${root} directory on port ${server.address().port}`)
})
