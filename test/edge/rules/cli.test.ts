import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseReadingsCsv } from '../../../edge/rules/cli.js';
import { tempDir } from '../../support/tmp.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

const RULES = `
description: door held open at night, with a holiday
params: { heldMs: 5000 }
rules:
  - type: door_held_open_night
    severity: major
    kind: door
    when: [{ kind: isTrue, point: door_open }]
    onDelayMs: { param: heldMs }
    offDelayMs: 1000
    source: site practice (L)
`;

const CSV = `ts,device,point,value,quality
2026-12-07T14:00:00Z,door-1,door_open,true,good
2026-12-07T14:00:03Z,door-1,door_open,true,good
2026-12-07T14:00:03Z,door-2,door_open,true,good
2026-12-07T14:00:09Z,door-1,door_open,false,good
2026-12-07T14:00:09.500Z,door-1,door_open,true,good
2026-12-07T14:00:20Z,door-1,door_open,false,good
`;

describe('doorstep rules check / test', () => {
  it('check lists every problem with its path (exit 1); test replays a CSV on virtual time', () => {
    const dir = tempDir('doorstep-rules-cli-');
    try {
      const good = join(dir.path, 'door.yaml');
      const bad = join(dir.path, 'bad.yaml');
      const csv = join(dir.path, 'readings.csv');
      writeFileSync(good, RULES);
      writeFileSync(
        bad,
        'rules:\n  - { type: x, severity: loud, kind: door, when: [{ kind: stale, staleAfterMs: -1 }] }\n',
      );
      writeFileSync(csv, CSV);
      const run = (...args: string[]) =>
        spawnSync(process.execPath, ['--import', 'tsx', 'bin/doorstep.ts', 'rules', ...args], {
          cwd: ROOT,
          encoding: 'utf8',
        });
      const checked = run('check', good, bad);
      assert.equal(checked.status, 1, checked.stderr);
      assert.match(checked.stdout, /door\.yaml: ok — 1 rule\(s\): door_held_open_night \(door, major\)/);
      assert.match(checked.stdout, /bad\.yaml: 2 problem\(s\)/);
      assert.match(checked.stdout, /- rules\[0\]\.severity: /);
      assert.match(checked.stdout, /- rules\[0\]\.when\[0\]\.staleAfterMs: /);

      const tested = run(
        'test',
        '--rules',
        good,
        '--readings',
        csv,
        '--param',
        'heldMs=6000',
        '--until',
        '2026-12-07T14:01:00Z',
      );
      assert.equal(tested.status, 0, tested.stderr);
      // door-1: open from :00, held 6 s → raised :06; the dip at :09 is shorter than the 1 s
      // off-delay; closed at :20 → cleared :21. door-2: open from :03 → raised :09, never closed.
      assert.deepEqual(tested.stdout.trim().split('\n'), [
        '2026-12-07T14:00:06.000Z  door-1  door_held_open_night  raised  major [device] value true',
        '2026-12-07T14:00:09.000Z  door-2  door_held_open_night  raised  major [device] value true',
        '2026-12-07T14:00:21.000Z  door-1  door_held_open_night  cleared  major [device] value false',
        '6 reading(s), 3 transition(s)',
      ]);
    } finally {
      dir.dispose();
    }
  });

  it('a malformed CSV names every bad line', () => {
    assert.throws(
      () => parseReadingsCsv('ts,device,point,value\nyesterday,d,p,1\n5,d,,1\n6,d,p,1\n', 'r.csv'),
      /r\.csv line 2: .*yesterday.*; r\.csv line 3: device and point must not be empty/,
    );
    assert.throws(() => parseReadingsCsv('time,device,value\n', 'r.csv'), /missing: ts, point/);
  });
});
