import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ModemSim } from '../../support/modem-sim.js';
import { openPtyPair } from '../../support/pty.js';
import { tempDir } from '../../support/tmp.js';

/** Runs Debian's `gammu` CLI (an AT sender not written here) against the simulated modem. */
function gammu(rc: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('gammu', ['-c', rc, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('the simulated modem against Gammu', () => {
  it('takes texts from Gammu over the pty and decodes them, and flags a dialogue that skips the SIM and network checks', async () => {
    const dir = tempDir('doorstep-gammu-');
    const pty = await openPtyPair();
    const sim = new ModemSim(pty.b);
    await sim.start();
    try {
      const rc = join(dir.path, 'gammurc');
      writeFileSync(rc, `[gammu]\ndevice = ${pty.a}\nconnection = at115200\n`);
      const short = await gammu(rc, [
        'sendsms',
        'TEXT',
        '+8613800138000',
        '-unicode',
        '-text',
        '【紧急报警】测试',
      ]);
      assert.equal(short.code, 0, short.out);
      const longText = `【紧急报警】${'幸福里小区3号楼2单元楼道'.repeat(7)}`;
      const long = await gammu(rc, [
        'sendsms',
        'TEXT',
        '13900139000',
        '-unicode',
        '-len',
        '400',
        '-text',
        longText,
      ]);
      assert.equal(long.code, 0, long.out);

      assert.deepEqual(
        sim.texts.map((t) => ({ to: t.to, text: t.text, parts: t.parts.length })),
        [
          { to: '+8613800138000', text: '【紧急报警】测试', parts: 1 },
          { to: '13900139000', text: longText, parts: 2 },
        ],
      );
      assert.ok(sim.texts[1]!.parts.every((p) => p.udhi && p.dcs === 0x08));
      // Gammu goes straight to AT+CMGS with echo on: the order check says so (it can fail).
      assert.ok(sim.violations.includes('AT+CMGS before AT+CPIN?'), sim.violations.join('\n'));
      assert.ok(sim.violations.includes('AT+CMGS with echo on (ATE0 not sent)'));
    } finally {
      await sim.stop();
      await pty.close();
      dir.dispose();
    }
  });
});
