'use strict';

// Log line formats: log_date_format with dayjs's whole token set (compared with dayjs
// formatting the same instant, in a time zone with a half-hour offset), `time: true`, and
// `log_type: 'json'` lines shaped exactly as pm2 writes them.

// Set before any daemon starts: the daemon and the apps inherit it, and dayjs here uses it.
process.env.TZ = 'Asia/Kolkata';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const dayjs = require('dayjs');
const advancedFormat = require('dayjs/plugin/advancedFormat');

const { IS_ORIGINAL, sandbox, call, readFileEventually } = require('./helpers');

dayjs.extend(advancedFormat);

const TEST_TIMEOUT = 60000;

// Prints `count` lines, one every few milliseconds, then stays alive.
const PRINTER = [
  "let i = 0;",
  "const t = setInterval(() => { console.log('line ' + i); if (++i === Number(process.argv[2])) clearInterval(t); }, 7);",
  "setInterval(() => {}, 1000);",
  '',
].join('\n');

async function startPrinter(t, options, count = 5) {
  const box = await sandbox(t);
  const script = box.writeApp('printer.js', PRINTER);
  await call(box.pm2, 'start', { script, name: 'printer', args: [String(count)], ...options });
  const text = await readFileEventually(box.logPath('printer-out.log'), {
    timeout: 15000,
    predicate: (c) => c.split('\n').filter(Boolean).length >= count,
  });
  return text.split('\n').filter(Boolean);
}

// `x` (the instant in ms) leads, so each line says which instant it was formatted from.
const EVERY_TOKEN = 'x [|] YYYY YY M MM MMM MMMM D DD d dd ddd dddd H HH h hh m mm s ss SSS Z ZZ A a X [escaped YYYY]';

test('log_date_format: every dayjs token gives what dayjs gives for the same instant', {
  timeout: TEST_TIMEOUT,
  skip: IS_ORIGINAL && "beyond pm2: pm2's dayjs has no X / x tokens (advancedFormat) to read the instant back",
}, async (t) => {
  const lines = await startPrinter(t, { log_date_format: EVERY_TOKEN });
  assert.equal(lines.length, 5);
  for (const [i, line] of lines.entries()) {
    const ms = Number(line.split(' ')[0]);
    assert.ok(Number.isInteger(ms), `no instant in ${line}`);
    assert.equal(line, `${dayjs(ms).format(EVERY_TOKEN)}: line ${i}`);
  }
});

test("log_date_format 'DD MMM YYYY HH:mm:ss' names the month", { timeout: TEST_TIMEOUT }, async (t) => {
  const before = dayjs();
  const [line] = await startPrinter(t, { log_date_format: 'DD MMM YYYY HH:mm:ss' }, 1);
  const [date, rest] = [line.slice(0, 20), line.slice(20)];
  assert.equal(rest, ': line 0');
  assert.match(date, /^\d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d$/);
  const after = dayjs();
  const ok = [before, after].some((d) => d.format('DD MMM YYYY') === date.slice(0, 11));
  assert.ok(ok, `${date} is not today (${before.format('DD MMM YYYY')})`);
});

test('time: true prefixes each line with YYYY-MM-DDTHH:mm:ss, as pm2 does', { timeout: TEST_TIMEOUT }, async (t) => {
  const lines = await startPrinter(t, { time: true }, 3);
  assert.equal(lines.length, 3);
  for (const [i, line] of lines.entries()) assert.match(line, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d: line ${i}$`));
});

test("log_type 'json': one object per line, pm2's fields in pm2's order", { timeout: TEST_TIMEOUT }, async (t) => {
  const lines = await startPrinter(t, { log_type: 'json' }, 2);
  assert.equal(lines.length, 2);
  for (const [i, line] of lines.entries()) {
    const record = JSON.parse(line);
    assert.deepEqual(Object.keys(record), ['message', 'timestamp', 'type', 'process_id', 'app_name']);
    assert.equal(record.message, `line ${i}\n`);
    assert.match(record.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(record.type, 'out');
    assert.equal(record.process_id, 0);
    assert.equal(record.app_name, 'printer');
  }
});

test("log_type 'json' with log_date_format: the timestamp takes the format", { timeout: TEST_TIMEOUT }, async (t) => {
  const [line] = await startPrinter(t, { log_type: 'json', log_date_format: 'YYYY/MM/DD [at] HH:mm Z' }, 1);
  const record = JSON.parse(line);
  assert.match(record.timestamp, /^\d{4}\/\d\d\/\d\d at \d\d:\d\d \+05:30$/);
  assert.equal(record.message, 'line 0\n');
});
