'use strict';

// Type-checks index.d.ts: compiles __test__/types (usage.ts must compile, every
// line of misuse.ts marked `@ts-expect-error` must be rejected) with the
// repository's TypeScript. No daemon is involved.

const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { execFile } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function runTsc(args) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TSC, ...args],
      { cwd: ROOT, timeout: 120000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, signal: error ? error.signal : null, stdout, stderr });
      },
    );
  });
}

test('index.d.ts: __test__/types compiles under tsc --strict with no errors', { timeout: 180000 }, async () => {
  const { code, signal, stdout, stderr } = await runTsc(['-p', path.join('__test__', 'types'), '--pretty', 'false']);
  const output = (stdout + stderr).trim();
  assert.strictEqual(output, '', `tsc reported:\n${output}`);
  assert.strictEqual(signal, null, `tsc was killed by ${signal}`);
  assert.strictEqual(code, 0, `tsc exited with ${code}`);
});

// The file written against pm2's own typings is checked against them too, so it stays
// code that compiles for pm2's users (and not code bent to fit index.d.ts).
test("pm2-api.ts compiles against pm2's own typings as well", { timeout: 180000 }, async (t) => {
  const fs = require('node:fs');
  const os = require('node:os');
  const pm2Types = path.join(ROOT, 'node_modules', 'pm2-original', 'types', 'index.d.ts');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-types-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, target: 'es2020', lib: ['es2020'], module: 'commonjs',
      esModuleInterop: true, baseUrl: dir, paths: { pm2: [pm2Types] }, types: [],
    },
    files: [path.join(ROOT, '__test__', 'types', 'pm2-api.ts')],
  }));
  const { code, stdout, stderr } = await runTsc(['-p', dir, '--pretty', 'false']);
  const output = (stdout + stderr).trim();
  assert.strictEqual(output, '', `tsc reported:\n${output}`);
  assert.strictEqual(code, 0, `tsc exited with ${code}`);
});
