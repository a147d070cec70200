'use strict';

// examples/kubernetes/Dockerfile, replayed without Docker (see dockerfile.js): the image it
// builds holds the packages as they are published, and its entry point starts the example
// app, serves it and its probes, and stops on SIGTERM leaving nothing behind.

const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { ROOT, IS_ORIGINAL, waitFor, pidsUsingHome, killPid } = require('./helpers');
const { freePort, localGet } = require('./http');
const { endEveryProcessOf } = require('./runtime-helpers');
const { replay } = require('./dockerfile');
const { hostPlatform, packageName } = require('../platform');

const DOCKERFILE = path.join(ROOT, 'examples', 'kubernetes', 'Dockerfile');

// This environment without an enclosing npm's settings; npm takes the root package's own
// dependencies from its cache when it has them.
function buildEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_TEST_CONTEXT') env[k] = v;
  return { ...env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' };
}

test("the example image's build steps give a pm2-runtime that starts, serves and stops the app", { skip: IS_ORIGINAL, timeout: 300000 }, async (t) => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-image-'));
  let home;
  t.after(async () => {
    if (home) await endEveryProcessOf(home);
    fs.rmSync(scratch, { recursive: true, force: true, maxRetries: 5 });
  });

  const stages = await replay(DOCKERFILE, { context: ROOT, scratch, env: buildEnv(), log: (line) => t.diagnostic(line) });
  const image = stages[stages.length - 1];

  // The image holds the root package without native code, and this platform's package.
  const modules = image.host('/app/node_modules');
  assert.ok(!fs.readdirSync(path.join(modules, 'pm2'), { recursive: true }).some((f) => String(f).endsWith('.node')), 'no addon in the root package');
  const platformDir = path.join(modules, packageName(hostPlatform()));
  for (const f of ['pm2-daemon', 'pm2-runtime']) assert.ok(fs.existsSync(path.join(platformDir, f)), `the image has ${packageName(hostPlatform())}/${f}`);

  // The image's entry point and command, its web address on a free local port.
  const [entry, ...args] = [...image.entrypoint, ...image.cmd];
  const webAt = args.indexOf('--web') + 1;
  assert.ok(webAt > 0, 'the image serves its probes (--web)');
  const webPort = await freePort();
  const appPort = await freePort();
  args[webAt] = `127.0.0.1:${webPort}`;
  const env = image.environment(buildEnv());
  env.PORT = String(appPort);
  home = env.PM2_HOME;
  assert.ok(home && home.startsWith(scratch), 'PM2_HOME is inside the image');
  fs.mkdirSync(env.HOME, { recursive: true });

  const rt = spawn(image.host(entry), args, { cwd: image.host('.'), env });
  let out = '';
  rt.stdout.on('data', (d) => { out += d; });
  rt.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => rt.on('close', (code, signal) => resolve({ code, signal })));
  t.after(() => { if (rt.exitCode === null && rt.signalCode === null) killPid(rt.pid, 'SIGKILL'); });

  await waitFor(async () => (await localGet(webPort, '/readyz')).status === 200, { timeout: 30000, message: `never ready:\n${out}` });
  assert.strictEqual((await localGet(webPort, '/healthz')).status, 200);
  const served = await localGet(appPort, '/');
  assert.strictEqual(served.status, 200);
  assert.match(served.body, /^hello from .* \(instance [01]\)\n$/);

  if (process.platform === 'linux') {
    // The process manager that runs is the image's own executable, not this checkout's build.
    const managerPid = Number(fs.readFileSync(path.join(home, 'pm2.pid'), 'utf8'));
    assert.strictEqual(path.dirname(fs.readlinkSync(`/proc/${managerPid}/exe`)), fs.realpathSync(platformDir));
  }

  rt.kill('SIGTERM');
  assert.deepStrictEqual(await exited, { code: 0, signal: null }, out);
  await waitFor(() => pidsUsingHome(home).length === 0, { timeout: 10000, message: 'processes of the image outlived pm2-runtime' });
});
