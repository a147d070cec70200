'use strict';

// The daemon's executables are linked with the functions they run first ahead of the rest of
// their code (src/bin/code-order.ld), so that an idle daemon keeps few code pages resident.
// If the list goes stale (renamed functions, another symbol-name scheme), the linker places
// nothing there and nothing else fails: this is what notices.

const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { IS_ORIGINAL } = require('./helpers');
const { nativeDir } = require('../platform');

const KiB = 1024;

// The sections of a 64-bit little-endian ELF file: name, address, size.
function elfSections(file) {
  const elf = fs.readFileSync(file);
  assert.strictEqual(elf.toString('latin1', 0, 4), '\x7fELF', `${file} is not an ELF file`);
  const offset = Number(elf.readBigUInt64LE(0x28));
  const entrySize = elf.readUInt16LE(0x3a);
  const count = elf.readUInt16LE(0x3c);
  const header = (i) => offset + i * entrySize;
  const names = Number(elf.readBigUInt64LE(header(elf.readUInt16LE(0x3e)) + 0x18));
  return Array.from({ length: count }, (_, i) => {
    const h = header(i);
    const start = names + elf.readUInt32LE(h);
    return {
      name: elf.toString('latin1', start, elf.indexOf(0, start)),
      address: Number(elf.readBigUInt64LE(h + 0x10)),
      size: Number(elf.readBigUInt64LE(h + 0x20)),
    };
  });
}

for (const executable of ['pm2-daemon', 'pm2-runtime']) {
  test(`${executable} holds the functions it runs first in one block ahead of the rest of its code`, {
    skip: (IS_ORIGINAL && "pm2's daemon is node") || (process.platform !== 'linux' && 'the order is given to Linux linkers only'),
  }, () => {
    const sections = elfSections(path.join(nativeDir().dir, executable));
    const first = sections.find((s) => s.name === '.text.run_first');
    const rest = sections.find((s) => s.name === '.text');
    assert.ok(first, `${executable} has no .text.run_first section: is build.rs passing src/bin/code-order.ld to the linker?`);
    assert.ok(first.address < rest.address, 'the block comes before the rest of the code');
    // The list matches about 950 KB of the daemon and 580 KB of pm2-runtime; a list gone stale
    // matches little of it.
    assert.ok(
      first.size > 256 * KiB,
      `only ${Math.round(first.size / KiB)} KiB of code matched src/bin/code-order.ld: regenerate it with \`node scripts/order-code.js\`` +
        ' (or a RUSTFLAGS variable replaced the v0 symbol names that .cargo/config.toml asks for)'
    );
  });
}
