// A small HTTP service: says it is ready once it listens, and finishes its requests on SIGINT.
const http = require('http');

const server = http.createServer((req, res) => {
  res.end(`hello from ${process.env.HOSTNAME || 'here'} (instance ${process.env.NODE_APP_INSTANCE})\n`);
});

server.listen(Number(process.env.PORT) || 3000, () => {
  if (process.send) process.send('ready');
});

process.on('SIGINT', () => {
  server.close(() => process.exit(0));
});
