import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseRuleFile } from '../../../edge/rules/file.js';
import { defaultRulePack, PACK_DIR } from '../../../edge/rules/packs.js';
import { renderRuleSchema } from '../../../scripts/gen-rule-schema.js';
import { harness } from './harness.js';

const S = 1000;

describe('rule files (YAML, docs/rule.schema.json)', () => {
  it('reports every problem at once, with its path in the file, and keeps the good rules', () => {
    const file = parseRuleFile(`
params: { setPoint: 20 }
rules:
  - type: leak_fast
    severity: major
    kind: gas
    when:
      - { kind: rateOfChange, point: gas, windowMs: 10000 }
  - type: gas_low
    severity: loud
    kind: gas
    when: [{ kind: above, point: gas, threshold: { param: setPiont } }]
  - type: gas_pulses
    severity: minor
    kind: gas
    when: [{ kind: nOfM, point: gas_al1, n: 5, m: 3 }]
  - type: gas_low_2
    severity: major
    kind: gas
    when: [{ kind: above, point: gas, threshold: 30 }]
    thresholdRange: [1, 25]
  - type: good_one
    severity: minor
    kind: door
    when: [{ kind: isTrue, point: door_open }]
    schedule: [{ from: '22:00', to: '06:00' }]
    holidays: ['2026-10-01', '2026-02-30']
  - type: fine
    severity: info
    kind: door
    when: [{ kind: isTrue, point: door_open }]
`);
    const messages = file.problems.map((p) => `${p.path}: ${p.message}`);
    assert.deepEqual(messages, [
      'rules[0].when[0]: rateOfChange needs above, below or both',
      'rules[1].when[0].threshold: unknown parameter "setPiont" (known: setPoint)',
      'rules[2].when[0].n: n 5 is more than m 3: the condition could never hold',
      'rules[3].when[0].threshold: threshold 30 is outside the legal range 1–25',
      'rules[4].holidays[1]: is not a calendar date',
    ]);
    assert.deepEqual(
      file.parsed.map((r) => r.type),
      ['fine'],
    );
  });

  it('a file that is not YAML, or has no rules, says so', () => {
    assert.match(parseRuleFile('rules: [').problems[0]!.message, /not valid YAML/);
    assert.equal(parseRuleFile('rules: []').problems[0]!.path, 'rules');
    assert.equal(parseRuleFile('rules: [{}]\nextra: 1').problems[0]!.message.includes('extra'), true);
  });

  it('the default packs are rule files; device options fill their parameters', () => {
    const files = readdirSync(PACK_DIR).filter((f) => f.endsWith('.yaml'));
    assert.deepEqual(files.sort(), [
      'diagnostics.yaml',
      'door.yaml',
      'gas.yaml',
      'geomagnetic.yaml',
      'smoke.yaml',
      'water_pressure.yaml',
    ]);
    for (const name of files) {
      const parsed = parseRuleFile(readFileSync(`${PACK_DIR}/${name}`, 'utf8'));
      assert.deepEqual(parsed.problems, [], name);
      for (const rule of parsed.parsed)
        assert.ok(
          rule.type === 'tamper' || rule.type === 'device_fault' || rule.source,
          `${name} ${rule.type} cites its source`,
        );
    }
    const gas = defaultRulePack('gas', { gasLowSetPointLel: 15 });
    assert.equal((gas[0]!.when[0] as { threshold: number }).threshold, 15);
    const pressure = defaultRulePack('water_pressure', { pressureSpanMpa: 2.5 });
    assert.equal((pressure[0]!.when[0] as { deadband: number }).deadband, 0.02 * 2.5);
    const heartbeat = defaultRulePack('door', { heartbeatPeriodMs: 2000 }).find(
      (r) => r.type === 'heartbeat_lost',
    )!;
    assert.equal((heartbeat.when[0] as { staleAfterMs: number }).staleAfterMs, 6000);
    assert.deepEqual(
      parseRuleFile(readFileSync(`${PACK_DIR}/gas.yaml`, 'utf8'), { nope: 1 }).problems.map((p) => p.path),
      ['params.nope'],
    );
  });

  it('the published JSON Schema is current', () => {
    assert.equal(
      readFileSync(new URL('../../../docs/rule.schema.json', import.meta.url), 'utf8'),
      renderRuleSchema(),
      'run `npx tsx scripts/gen-rule-schema.ts`',
    );
  });
});

describe('rule conditions beyond the packs (site rules)', () => {
  it('rate of change over a window raises a fast rise; n of m raises repeated pulses', () => {
    const h = harness([{ id: 'g', kind: 'gas' }], {
      overrides: {
        site: {
          gas_rising: {
            kind: 'gas',
            severity: 'major',
            when: [{ kind: 'rateOfChange', point: 'gas', windowMs: 10 * S, above: 1 }],
          },
          al1_pulses: {
            kind: 'gas',
            severity: 'minor',
            when: [{ kind: 'nOfM', point: 'gas_al1', n: 3, withinMs: 60 * S }],
          },
        },
      },
    });
    try {
      h.read(0, 'g', { gas: 1, gas_al1: false });
      h.read(5 * S, 'g', { gas: 3 }); // 0.4 %LEL/s
      h.read(10 * S, 'g', { gas: 14 }); // (14 − 1) / 10 s = 1.3 %LEL/s
      h.read(20 * S, 'g', { gas: 14 }); // window 10 s: (14 − 14) = 0
      assert.deepEqual(
        h.log().filter((l) => l.includes('gas_rising')),
        ['g gas_rising raised @10000', 'g gas_rising cleared @20000'],
      );
      h.read(30 * S, 'g', { gas_al1: true });
      h.read(40 * S, 'g', { gas_al1: true });
      h.read(50 * S, 'g', { gas_al1: true });
      // the first pulse (30 s) ages out of the 60 s window at 90 s: cleared without a reading
      h.clock.advanceTo(95 * S);
      assert.deepEqual(
        h.log().filter((l) => l.includes('al1_pulses')),
        ['g al1_pulses raised @50000', 'g al1_pulses cleared @90000'],
      );
    } finally {
      h.stop();
    }
  });

  it('a night schedule with a holiday: no window opens on the holiday', () => {
    // Virtual 0 = 1970-01-01 08:00 Asia/Shanghai (Thursday); 22:00 local = 14 h.
    const H = 3_600_000;
    const h = harness([{ id: 'v', kind: 'geomagnetic', use: 'vehicle_presence' }], {
      overrides: {
        site: {
          fire_lane_occupied: {
            schedule: [{ from: '22:00', to: '06:00' }],
            holidays: ['1970-01-01'],
            onDelayMs: 0,
          },
        },
      },
    });
    try {
      h.read(13 * H, 'v', { vehicle_present: true });
      h.clock.advanceTo(24 * H); // Thursday night is a holiday; Friday 08:00 local
      assert.deepEqual(h.log(), []);
      h.clock.advanceTo(38 * H); // Friday 22:00: the window opens
      assert.deepEqual(h.log(), [`v fire_lane_occupied raised @${38 * H}`]);
    } finally {
      h.stop();
    }
  });
});
