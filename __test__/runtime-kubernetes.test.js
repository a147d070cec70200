'use strict';

// examples/kubernetes/: the manifests parse, and what they probe and scrape is what
// pm2-runtime serves when started with the Deployment's own arguments.

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const yaml = require('js-yaml');
const { ROOT, waitFor } = require('./helpers');
const { workspace } = require('./runtime-helpers');
const { freePort, localGet } = require('./http');

const DIR = path.join(ROOT, 'examples', 'kubernetes');

function manifests() {
  const docs = [];
  for (const f of fs.readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f))) {
    for (const doc of yaml.loadAll(fs.readFileSync(path.join(DIR, f), 'utf8'))) if (doc) docs.push(doc);
  }
  return Object.fromEntries(docs.map((d) => [d.kind, d]));
}

test('the manifests are a Deployment, a Service and an autoscaler of that Deployment', () => {
  const { Deployment, Service, HorizontalPodAutoscaler } = manifests();
  assert.ok(Deployment && Service && HorizontalPodAutoscaler);
  const labels = Deployment.spec.template.metadata.labels;
  assert.deepStrictEqual(Deployment.spec.selector.matchLabels, labels);
  assert.deepStrictEqual(Service.spec.selector, labels);
  const container = Deployment.spec.template.spec.containers[0];
  assert.ok(container.ports.some((p) => p.name === Service.spec.ports[0].targetPort));
  assert.strictEqual(HorizontalPodAutoscaler.spec.scaleTargetRef.name, Deployment.metadata.name);
  assert.ok(container.resources.requests.cpu, 'CPU autoscaling needs a CPU request');
});

test("the grace period covers the apps' kill_timeout", () => {
  const { Deployment } = manifests();
  const { apps } = require(path.join(DIR, 'app', 'ecosystem.config.js'));
  const grace = Deployment.spec.template.spec.terminationGracePeriodSeconds;
  for (const app of apps) assert.ok(grace * 1000 > app.kill_timeout && grace * 1000 <= app.kill_timeout + 5000, `${grace}s vs ${app.kill_timeout}ms`);
});

test("probes and scrape annotations name what pm2-runtime serves with the Deployment's arguments", async (t) => {
  const { Deployment } = manifests();
  const pod = Deployment.spec.template;
  const container = pod.spec.containers[0];
  const args = container.args;
  const dockerfile = fs.readFileSync(path.join(DIR, 'Dockerfile'), 'utf8');
  assert.ok(dockerfile.includes(`CMD ${JSON.stringify(args).replace(/,/g, ', ')}`), 'the Deployment runs the image with its own CMD');
  const web = args[args.indexOf('--web') + 1];
  const webPort = Number(web.split(':').pop());
  const portOf = (p) => (typeof p === 'number' ? p : container.ports.find((x) => x.name === p).containerPort);
  assert.strictEqual(portOf(container.livenessProbe.httpGet.port), webPort);
  assert.strictEqual(portOf(container.readinessProbe.httpGet.port), webPort);
  assert.strictEqual(Number(pod.metadata.annotations['prometheus.io/port']), webPort);

  // The same arguments, on a free local port, in a copy of the example app.
  const ws = workspace(t);
  for (const f of fs.readdirSync(path.join(DIR, 'app'))) ws.write(f, fs.readFileSync(path.join(DIR, 'app', f)));
  const port = await freePort();
  const appPort = await freePort();
  const rt = ws.run(args.map((a) => (a === web ? `127.0.0.1:${port}` : a)), { env: { PORT: String(appPort) } });
  t.after(() => rt.child.kill('SIGTERM'));
  await waitFor(async () => (await localGet(port, container.readinessProbe.httpGet.path)).status === 200, { timeout: 20000, message: `never ready:\n${rt.stdout}\n${rt.stderr}` });
  assert.strictEqual((await localGet(port, container.livenessProbe.httpGet.path)).status, 200);
  const metrics = await localGet(port, pod.metadata.annotations['prometheus.io/path']);
  assert.strictEqual(metrics.status, 200);
  assert.match(metrics.body, /^pm2_up\{name="web",pm_id="1",namespace="default"\} 1$/m);
  rt.child.kill('SIGTERM');
  assert.strictEqual((await rt.exited).code, 0);
});
