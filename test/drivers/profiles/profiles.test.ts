import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { catalogue, registerProfiles } from '../../../drivers/profiles/catalogue/index.js';
import { decodeBlock, decodeImage } from '../../../drivers/profiles/codec.js';
import { checkProfile, defineProfile } from '../../../drivers/profiles/define.js';
import { encodePoints } from '../../../drivers/profiles/encode.js';
import { buildReadPlan, MAX_REGISTERS_PER_READ } from '../../../drivers/profiles/plan.js';
import type { RegisterProfile } from '../../../drivers/profiles/types.js';
import { SensorKind } from '../../../protocol/index.js';

const catalogueDir = new URL('../../../drivers/profiles/catalogue/', import.meta.url);

describe('profile registry', () => {
  it('registers every register-map file of the catalogue, each file named after its id', () => {
    const files = readdirSync(catalogueDir).filter((f) => f.endsWith('.yaml'));
    const register = files.filter((f) => catalogue.get(f.replace(/\.yaml$/, ''))?.type === 'register');
    assert.equal(catalogue.size, files.length, 'every file loads');
    assert.ok(register.length >= 10);
    assert.deepEqual(
      [...registerProfiles.keys()].sort(),
      register.map((f) => f.replace(/\.yaml$/, '')).sort(),
    );
  });

  it('has at least two register-map profiles per sensor kind, and both geomagnetic uses', () => {
    for (const kind of SensorKind.options) {
      const n = [...registerProfiles.values()].filter((p) => p.kind === kind).length;
      assert.ok(n >= 2, `${kind} has ${n} profile(s)`);
    }
    const uses = new Set([...registerProfiles.values()].map((p) => p.use).filter(Boolean));
    assert.deepEqual([...uses].sort(), ['manhole_tilt', 'vehicle_presence']);
  });

  it('holds at least 24 profiles; every file added from a published map cites it', () => {
    assert.ok(catalogue.size >= 24, `${catalogue.size} profiles`);
    // The first 18 files were written from device families before the catalogue carried sources;
    // every later file must name the manual (title, revision, section) or standard it follows.
    const beforeSources = new Set([
      'door-di-module',
      'door-monitor-state',
      'gas-float32-abcd',
      'gas-float32-cdab',
      'gas-status-word-int16',
      'geomagnetic-parking',
      'geomagnetic-vehicle',
      'io-module-8di8do',
      'json-door-generic',
      'json-smoke-generic',
      'manhole-cover',
      'manhole-tilt',
      'pressure-float32-loop',
      'pressure-int16-decimals',
      'smoke-di-module',
      'smoke-status-register',
      'wireless-door',
      'wireless-smoke',
    ]);
    const cited = [...catalogue.values()].filter((p) => !beforeSources.has(p.id));
    assert.ok(cited.length >= 6, `${cited.length} profile(s) with sources`);
    for (const p of cited) assert.ok((p.source ?? '').length >= 40, `${p.id} cites no source document`);
    // Level and flow meters of the flood-monitoring sites are among them.
    const points = new Set(
      cited.flatMap((p) => (p.type === 'register' ? p.profile.points.map((q) => q.point) : [])),
    );
    for (const point of ['level', 'flow', 'gas', 'pressure', 'smoke'])
      assert.ok(points.has(point), `no cited profile reads ${point}`);
  });

  it('profiles are frozen', () => {
    const p = registerProfiles.get('gas-float32-abcd')!;
    assert.throws(() => {
      (p as { id: string }).id = 'x';
    });
  });
});

describe('profile validation reports every problem with its path', () => {
  it('collects schema problems at once', () => {
    const { profile, issues } = checkProfile({
      id: 'Bad Id',
      kind: 'plasma',
      title: '',
      modelledOn: 'x',
      points: [],
      fields: [{ kind: 'numeric', point: 'gas', table: 'holding', address: 70000, type: 'int64' }],
    });
    assert.equal(profile, undefined);
    const paths = issues.map((i) => i.path);
    for (const expected of ['id', 'kind', 'title', 'points', 'fields[0].address', 'fields[0].type'])
      assert.ok(paths.includes(expected), `missing ${expected} in ${paths.join(', ')}`);
  });

  it('collects cross-field problems at once', () => {
    const { issues } = checkProfile({
      id: 'bad',
      kind: 'geomagnetic',
      title: 't',
      modelledOn: 'm',
      points: [
        { point: 'gas', name: 'g', valueType: 'boolean', priority: 'critical' },
        { point: 'fault', name: 'f', valueType: 'boolean', priority: 'normal' },
        { point: 'fault', name: 'f', valueType: 'boolean', priority: 'normal', range: [5, 1] },
      ],
      fields: [
        { kind: 'numeric', point: 'gas', table: 'holding', address: 0, type: 'float32', decimalsFrom: 'dp' },
        { kind: 'numeric', point: 'other', table: 'holding', address: 1, type: 'uint16' },
        { kind: 'bit', point: 'fault', table: 'holding', address: 5 },
        { kind: 'bit', point: 'fault', table: 'coil', address: 5, bit: 3 },
      ],
      quality: { badWhen: ['nope'] },
    });
    const got = issues.map((i) => `${i.path}: ${i.message}`);
    const expect = [
      'points[2].point',
      'points[2].range',
      'fields[0].point', // numeric into a boolean point
      'fields[0].decimalsFrom',
      'fields[1].point', // no descriptor
      'fields[1].address', // overlaps the float32
      'fields[2].bit',
      'fields[3].point', // fault read twice
      'fields[3].bit',
      'quality.badWhen[0]',
      'use',
    ];
    for (const path of expect)
      assert.ok(
        got.some((g) => g.startsWith(`${path}:`)),
        `missing ${path} in\n${got.join('\n')}`,
      );
  });

  it('defineProfile throws DRV_ERR_PROFILE listing the problems', () => {
    assert.throws(
      () =>
        defineProfile({
          id: 'broken',
          kind: 'gas',
          title: 't',
          modelledOn: 'm',
          points: [{ point: 'gas', name: 'g', valueType: 'number', priority: 'critical' }],
          fields: [{ kind: 'bit', point: 'gas', table: 'discrete', address: 0 }],
        }),
      (e: Error & { code?: string }) => e.code === 'DRV_ERR_PROFILE' && /fields\[0\]\.point/.test(e.message),
    );
  });
});

describe('read plan', () => {
  it('merges adjacent registers and keeps each read within 125 registers', () => {
    const points = Array.from({ length: 300 }, (_, i) => ({
      point: `p${i}`,
      name: `p${i}`,
      valueType: 'number' as const,
      priority: 'normal' as const,
    }));
    const fields = points.map((p, i) => ({
      kind: 'numeric' as const,
      point: p.point,
      table: 'input' as const,
      address: i < 250 ? i : i + 10, // a gap after 250
      type: 'uint16' as const,
    }));
    const profile = defineProfile({ id: 'wide', kind: 'gas', title: 't', modelledOn: 'm', points, fields });
    const plan = buildReadPlan(profile);
    assert.deepEqual(
      plan.map((b) => [b.address, b.count]),
      [
        [0, 125],
        [125, 125],
        [260, 50],
      ],
    );
    assert.ok(plan.every((b) => b.count <= MAX_REGISTERS_PER_READ));
  });

  it('reads a shared status register once, at the fastest priority among its bits', () => {
    const profile = registerProfiles.get('gas-status-word-int16')!;
    const plan = buildReadPlan(profile);
    const critical = plan.filter((b) => b.priority === 'critical');
    assert.deepEqual(
      critical.map((b) => [b.table, b.address, b.count]),
      [['holding', 0, 2]],
    );
    // the heartbeat bit and fault bits ride in the critical read of holding 0
    assert.ok(critical[0]!.fields.some((f) => f.point === 'heartbeat'));
    const holding0Reads = plan.filter((b) => b.table === 'holding' && b.address === 0);
    assert.equal(holding0Reads.length, 1);
    assert.equal(critical[0]!.intervalMs, 1000);
  });

  it('uses configured intervals per priority', () => {
    const plan = buildReadPlan(registerProfiles.get('smoke-status-register')!, {
      intervals: { critical: 500 },
    });
    assert.equal(plan.find((b) => b.priority === 'critical')?.intervalMs, 500);
  });
});

/** A plausible value for every point of a profile, from a seeded generator. */
function sampleValues(profile: RegisterProfile, seed: number): Record<string, number | boolean> {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  const out: Record<string, number | boolean> = {};
  for (const p of profile.points) {
    if (p.valueType === 'boolean') out[p.point] = rand() > 0.5;
    else {
      const [lo, hi] = p.range ?? [0, 100];
      out[p.point] = Math.round((lo + rand() * (hi - lo)) * 10) / 10;
    }
  }
  // comparisons sharing a register must be consistent: AL2 implies AL1
  if (out.gas_al2 === true) out.gas_al1 = true;
  return out;
}

/**
 * The smallest step a numeric point can take in its registers: integers and bit runs round; a
 * float32 keeps 7 significant digits (codec.ts), which a scale (m³/s → m³/h) multiplies.
 */
function resolution(
  profile: RegisterProfile,
  point: string,
  startup: Record<string, number>,
  value: number,
): number {
  const field = profile.fields.find((f) => f.point === point);
  if (field?.kind === 'bits' || field?.kind === 'enum') return 1;
  if (field?.kind !== 'numeric') return 0;
  if (field.type === 'float32' || field.type === 'float64') return 2e-6 * Math.abs(value);
  let step = field.scale;
  if (field.decimalsFrom) step *= 10 ** -(startup[field.decimalsFrom] ?? 0);
  return step;
}

describe('encode is the inverse of decode for every profile', () => {
  for (const profile of registerProfiles.values()) {
    it(profile.id, () => {
      const startup: Record<string, number> = profile.startup.length > 0 ? { unit_code: 0, decimals: 3 } : {};
      for (let seed = 1; seed <= 20; seed++) {
        const want = sampleValues(profile, seed);
        if (profile.id === 'door-monitor-state' && want.door_open && want.fault) want.fault = false; // one state register
        const image = encodePoints(profile, want, { startup });
        const got = Object.fromEntries(
          decodeImage(profile, image, { device: 'x', ts: 0, startup }).map((r) => [r.point, r.value]),
        );
        for (const [point, value] of Object.entries(want)) {
          if (typeof value === 'number') {
            const tolerance = resolution(profile, point, startup, value) / 2 + 1e-6;
            assert.ok(
              Math.abs(Number(got[point]) - value) <= tolerance,
              `${point}: ${got[point]} vs ${value}`,
            );
          } else assert.equal(got[point], value, point);
        }
        // and decoding block by block through the read plan gives the same values
        for (const block of buildReadPlan(profile)) {
          const table = image[block.table] as Map<number, number | boolean>;
          const raw = Array.from(
            { length: block.count },
            (_, i) =>
              table.get(block.address + i) ??
              (block.table === 'coil' || block.table === 'discrete' ? false : 0),
          );
          for (const d of decodeBlock(profile, block, raw as number[] | boolean[], startup))
            assert.deepEqual(d.value, got[d.point]);
        }
      }
    });
  }
});
