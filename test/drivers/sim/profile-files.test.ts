import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CATALOGUE_DIR } from '../../../drivers/profiles/catalogue/index.js';
import { startDoorstep } from '../../support/processes.js';
import { tempDir } from '../../support/tmp.js';

/**
 * `doorstep sim` serves any profile file (issue 14): the catalogue's families taken from published
 * maps, copied out as an installer's own files, are served by the simulator CLI over Modbus TCP and
 * read back by `doorstep poll` through the same files — every device online, every point decoded.
 */
const FILES = [
  ['gas-a', 'gas-pt495-status-byte', 'gas'],
  ['gas-b', 'gas-toc635-channel', 'gas'],
  ['pres', 'pressure-float32-unit-code', 'pressure'],
  ['lvl', 'level-radar-mm', 'level'],
  ['flow', 'flow-magmeter-cdab', 'flow'],
  ['asd', 'smoke-aspirating-alarm-level', 'smoke'],
] as const;

describe('doorstep sim serves profile files', () => {
  it('the published-map families, as files, are served by `doorstep sim` and read by `doorstep poll`', async () => {
    const dir = tempDir('doorstep-sim-files-');
    after(() => dir.dispose());
    const devices = FILES.map(([id, file], i) => {
      const path = join(dir.path, `${file}.yaml`);
      copyFileSync(`${CATALOGUE_DIR}${file}.yaml`, path);
      return `${id}:${path}:${i + 1}`;
    });
    const sim = startDoorstep(['sim', '--tcp', ...devices.flatMap((d) => ['--device', d])]);
    after(() => sim.stop('SIGKILL'));
    const port = /modbus tcp tcp: 127\.0\.0\.1:(\d+)/.exec(await sim.waitFor(/modbus tcp tcp:/, 60_000))![1]!;
    await sim.waitFor(/^ready$/, 60_000);
    for (const [id, file] of FILES) assert.match(sim.output(), new RegExp(`${id}\\s+\\(${file}\\)`));

    const poll = startDoorstep([
      'poll',
      '--tcp',
      `127.0.0.1:${port}`,
      '--timeout',
      '2000',
      ...devices.flatMap((d) => ['--device', d]),
    ]);
    after(() => poll.stop('SIGKILL'));
    for (const [id, , point] of FILES) {
      await poll.waitFor(new RegExp(`\\s${id}\\s+is online`), 60_000);
      const line = await poll.waitFor(new RegExp(`\\s${id}\\s+${point}\\s`), 60_000);
      assert.ok(!/\[(bad|uncertain)\]/.test(line), `the simulator's normal state decodes good: ${line}`);
    }
    assert.ok(!/is (faulty|offline)/.test(poll.output()), poll.output().slice(-3000));
  });
});
