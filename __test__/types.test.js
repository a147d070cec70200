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
