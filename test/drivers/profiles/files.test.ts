import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { CATALOGUE_DIR, catalogue } from '../../../drivers/profiles/catalogue/index.js';
import { checkProfileDocument } from '../../../drivers/profiles/file.js';
import { parseDump, runDump } from '../../../drivers/profiles/golden.js';
import { SKELETONS } from '../../../drivers/profiles/skeleton.js';
import { renderProfileSchema } from '../../../scripts/gen-profile-schema.js';
import { tempDir } from '../../support/tmp.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

describe('profile files', () => {
  it('every built-in profile file decodes its golden dump as expected', () => {
    for (const p of catalogue.values()) {
      const file = `${CATALOGUE_DIR}${p.id}.dump.json`;
      const dump = parseDump(JSON.parse(readFileSync(file, 'utf8')), file);
      assert.equal(dump.profile, p.id, file);
      for (const r of runDump(p, dump)) {
        assert.ok(r.readings.length > 0 || r.problems.length > 0, `${p.id} / ${r.name}: decoded nothing`);
        assert.deepEqual(r.mismatches, [], `${p.id} / ${r.name}`);
      }
    }
  });

  it('a golden dump whose expectation is wrong fails (the golden test can fail)', () => {
    const p = catalogue.get('gas-float32-cdab')!;
    const dump = parseDump(
      {
        profile: p.id,
        cases: [{ name: 'wrong', registers: { input: { '0': 0, '1': 0x4248, '2': 2 } }, expect: { gas: 5 } }],
      },
      'inline',
    );
    const [r] = runDump(p, dump);
    assert.ok(
      r!.mismatches.some((m) => m.startsWith('gas: expected 5, decoded 50')),
      r!.mismatches.join('\n'),
    );
    assert.ok(r!.mismatches.some((m) => m.startsWith('gas_al2: decoded true, not expected')));
  });

  it('docs/profile.schema.json is current', () => {
    assert.equal(
      readFileSync(new URL('docs/profile.schema.json', `file://${ROOT}`), 'utf8'),
      renderProfileSchema(),
      'run `npx tsx scripts/gen-profile-schema.ts`',
    );
  });

  it('the skeletons of doorstep profile new pass the check', () => {
    for (const [type, text] of Object.entries(SKELETONS)) {
      const { loaded, issues } = checkProfileDocument(parseYaml(text));
      assert.deepEqual(issues, [], type);
      assert.equal(loaded?.type, type);
    }
  });

  it('reports every problem of a register file with its path, at once', () => {
    const { loaded, issues } = checkProfileDocument({
      type: 'register',
      id: 'bad-map',
      kind: 'gas',
      title: 't',
      modelledOn: 'm',
      colour: 'red',
      fields: [
        { kind: 'numeric', point: 'gas', table: 'input', address: 0, type: 'int16', wordOrder: 'CDAB' },
        { kind: 'numeric', point: 'flow', table: 'input', address: 1, type: 'float64', unit: 'furlong' },
        { kind: 'bits', point: 'level_code', name: 'Level', table: 'input', address: 9, bit: 12, width: 8 },
        { kind: 'numeric', point: 'mystery', table: 'input', address: 20, type: 'uint16' },
        { kind: 'bit', point: 'gas_al1', table: 'coil', address: 0, bit: 3 },
      ],
      checks: [{ alarm: 'gas', point: 'gas_al1', above: 0 }],
    });
    assert.equal(loaded, undefined);
    const got = issues.map((i) => `${i.path}: ${i.message}`);
    const expected = [
      ['', 'colour'],
      ['fields[0].wordOrder', 'byte order must be one of AB, BA'],
      ['fields[1].unit', 'furlong'],
      ['fields[2].width', 'past bit 15'],
      ['fields[3].name', 'not a quantity of the shared vocabulary'],
      ['fields[4].bit', 'only to registers'],
      ['checks[0].alarm', 'not a boolean point'],
      ['checks[0].point', 'not a number point'],
    ];
    // One round: the schema's problem (unknown key) and the cross-field rules together.
    for (const [path, words] of expected)
      assert.ok(
        got.some((g) => g.startsWith(`${path}:`) && g.includes(words!)),
        `missing ${path} (${words}) in\n${got.join('\n')}`,
      );
  });

  it('a field the schema rejects is reported with the cross-field problems of the rest, indexes as in the file', () => {
    const { issues } = checkProfileDocument({
      type: 'register',
      id: 'bad-map',
      kind: 'gas',
      title: 't',
      modelledOn: 'm',
      fields: [
        { kind: 'numeric', point: 'pressure', table: 'input', address: 70000, type: 'int64' },
        { kind: 'numeric', point: 'gas', table: 'input', address: 0, type: 'float32' },
        { kind: 'numeric', point: 'level', table: 'input', address: 1, type: 'uint16' },
      ],
      quality: { badWhen: ['pressure'] },
    });
    const got = issues.map((i) => `${i.path}: ${i.message}`);
    assert.ok(
      got.some((g) => g.startsWith('fields[0].address:')),
      got.join('\n'),
    );
    assert.ok(
      got.some((g) => g.startsWith('fields[0].type:')),
      got.join('\n'),
    );
    assert.ok(
      got.includes('fields[2].address: overlaps fields[1] (input 0–1)'),
      `the overlap names the file's indexes:\n${got.join('\n')}`,
    );
    // The rejected field's point is not reported again as "not a boolean point".
    assert.ok(!got.some((g) => g.startsWith('quality.')), got.join('\n'));
  });

  it('doorstep profile check and test: exit codes and what they print', () => {
    const dir = tempDir('doorstep-profile-cli-');
    try {
      const bad = join(dir.path, 'bad.yaml');
      writeFileSync(bad, 'type: register\nid: Bad\nkind: gas\n');
      const run = (...args: string[]) =>
        spawnSync(process.execPath, ['--import', 'tsx', 'bin/doorstep.ts', 'profile', ...args], {
          cwd: ROOT,
          encoding: 'utf8',
        });
      const checked = run('check', bad, `${CATALOGUE_DIR}wireless-smoke.yaml`);
      assert.equal(checked.status, 1);
      assert.match(checked.stdout, /bad\.yaml: \d+ problem\(s\)/);
      assert.match(checked.stdout, /- id: /);
      assert.match(checked.stdout, /wireless-smoke\.yaml: ok — frame profile wireless-smoke v1/);

      const tested = run('test', 'gas-status-word-int16');
      assert.equal(tested.status, 0, tested.stdout + tested.stderr);
      assert.match(tested.stdout, /gas-status-word-int16 v1: 4 of 4 case\(s\) as expected/);
      assert.match(tested.stdout, /problem: gas_al2 is set while gas = 0 %LEL/);

      const wrongDump = join(dir.path, 'wrong.dump.json');
      writeFileSync(
        wrongDump,
        JSON.stringify({
          profile: 'manhole-tilt',
          cases: [{ name: 'x', registers: { input: { '0': 153 } }, expect: { tilt: 1.53 } }],
        }),
      );
      const failed = run('test', 'manhole-tilt', '--dump', wrongDump);
      assert.equal(failed.status, 1);
      assert.match(failed.stdout, /mismatch: tilt: expected 1\.53, decoded 15\.3/);

      const out = join(dir.path, 'new.yaml');
      assert.equal(run('new', '--type', 'frame', '--id', 'lobby-receiver', '-o', out).status, 0);
      assert.equal(run('check', out).status, 0);
      assert.equal(run('new', '-o', out).status, 2, 'never overwrites');
    } finally {
      dir.dispose();
    }
  });
});
