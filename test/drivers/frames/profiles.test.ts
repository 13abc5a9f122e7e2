import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AsciiFrameDecoder,
  BinaryFrameDecoder,
  buildFrameRegistry,
  decodeFrameReport,
  defineFrameProfile,
  type FrameProfile,
  type FrameProfileDeclaration,
  frameProfiles,
  getFrameProfile,
  validateFrameProfile,
} from '../../../drivers/frames/index.js';
import { catalogue } from '../../../drivers/profiles/catalogue/index.js';
import { isDoorstepError, Reading } from '../../../protocol/index.js';

/** The built-in frame profiles, loaded from their catalogue files. */
const builtin = {
  wirelessSmoke: frameProfiles['wireless-smoke']!,
  wirelessDoor: frameProfiles['wireless-door']!,
  geomagneticVehicle: frameProfiles['geomagnetic-vehicle']!,
  manholeCover: frameProfiles['manhole-cover']!,
};

const TS = 1_700_000_000_000;
const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/** point → [value, unit, quality], for compact golden tables. */
function table(readings: Reading[]): Record<string, [unknown, string, string]> {
  const out: Record<string, [unknown, string, string]> = {};
  for (const r of readings) {
    Reading.parse(r); // every reading fits the edge↔cloud contract
    assert.equal(r.ts, TS);
    out[r.point] = [r.value, r.unit, r.quality];
  }
  return out;
}

function fromAscii(profile: FrameProfile, line: string, device = 'dev-1') {
  const [frame] = new AsciiFrameDecoder().push(Buffer.from(line, 'latin1'));
  assert.ok(frame, `no frame in ${JSON.stringify(line)}`);
  return decodeFrameReport(profile, frame, device, TS);
}

function fromBinary(profile: FrameProfile, bytes: Buffer, device = 'dev-1') {
  const [frame] = new BinaryFrameDecoder().push(bytes);
  assert.ok(frame, `no frame in ${bytes.toString('hex')}`);
  assert.equal(frame.detectorType, profile.detectorType);
  return decodeFrameReport(profile, frame, device, TS);
}

describe('frame profiles: golden bytes → readings', () => {
  it('wireless smoke, fire alarm with the low-battery flag (binary a5 002a 04 01 81 55 b5 4239)', () => {
    const { readings, problems } = fromBinary(
      frameProfiles['wireless-smoke']!,
      hex('a5 002a 04 01 81 55 b5 4239'),
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(table(readings), {
      smoke: [true, '', 'good'],
      fault: [false, '', 'good'],
      self_test: [false, '', 'good'],
      battery: [85, '%', 'good'],
      battery_low: [true, '', 'good'], // the detector's own flag, though 85 % ≥ 20 %
      signal: [-75, 'dBm', 'good'],
      tamper: [false, '', 'good'],
    });
  });

  it('wireless smoke, fault: smoke reported with quality bad; test button is no fire (ASCII)', () => {
    const fault = fromAscii(builtin.wirelessSmoke, '$1,3,1024,2,87,-71*3D\r\n');
    assert.deepEqual(table(fault.readings).smoke, [false, '', 'bad']);
    assert.deepEqual(table(fault.readings).fault, [true, '', 'good']);
    const test = fromAscii(builtin.wirelessSmoke, '$1,3,1024,3,87,-71*3E\r\n');
    assert.deepEqual(table(test.readings).smoke, [false, '', 'good']);
    assert.deepEqual(table(test.readings).self_test, [true, '', 'good']);
  });

  it('wireless door contact, open with tamper (binary a5 0007 04 02 41 64 c4 9188)', () => {
    const { readings } = fromBinary(builtin.wirelessDoor, hex('a5 0007 04 02 41 64 c4 9188'));
    assert.deepEqual(table(readings), {
      door_open: [true, '', 'good'],
      fault: [false, '', 'good'],
      battery: [100, '%', 'good'],
      battery_low: [false, '', 'good'],
      signal: [-60, 'dBm', 'good'],
      tamper: [true, '', 'good'],
    });
  });

  it('geomagnetic vehicle presence, occupied (binary a5 03e8 04 03 01 32 b0 8bb8); battery 50 % not low', () => {
    const { readings } = fromBinary(builtin.geomagneticVehicle, hex('a5 03e8 04 03 01 32 b0 8bb8'));
    assert.deepEqual(table(readings), {
      vehicle_present: [true, '', 'good'],
      fault: [false, '', 'good'],
      battery: [50, '%', 'good'],
      battery_low: [false, '', 'good'],
      signal: [-80, 'dBm', 'good'],
    });
  });

  it('manhole cover, open and tilted 15.3° with 15 % battery (binary and ASCII agree)', () => {
    const expected = {
      cover_open: [true, '', 'good'],
      fault: [false, '', 'good'],
      tilt: [15.3, '°', 'good'],
      battery: [15, '%', 'good'],
      battery_low: [true, '', 'good'],
      signal: [-90, 'dBm', 'good'],
    };
    const binary = fromBinary(builtin.manholeCover, hex('a5 0102 06 04 01 0f a6 0099 ffa0'));
    assert.deepEqual(table(binary.readings), expected);
    // sum(b"9,1,258,1,15,-90,153") % 256 = 0xD7
    const ascii = fromAscii(builtin.manholeCover, '$9,1,258,1,15,-90,153*D7\r\n');
    assert.deepEqual(table(ascii.readings), expected);
  });

  it('an unknown state code yields battery and signal only, and a problem', () => {
    const { readings, problems } = fromAscii(builtin.wirelessDoor, '$1,3,1024,9,87,-71*44\r\n');
    assert.deepEqual(Object.keys(table(readings)).sort(), ['battery', 'battery_low', 'signal', 'tamper']);
    assert.match(problems[0]!, /state code 9/);
  });

  it('out-of-range battery, signal and tilt arrive marked uncertain', () => {
    const { readings } = decodeFrameReport(
      builtin.manholeCover,
      { detector: 1, state: 0, battery: 140, rssi: 20, value: 2000 },
      'mh-1',
      TS,
    );
    const t = table(readings);
    assert.deepEqual([t.battery?.[2], t.signal?.[2], t.tilt?.[2]], ['uncertain', 'uncertain', 'uncertain']);
  });
});

describe('frame profile registry and validation', () => {
  it('registers every built-in profile, with unique detector types', () => {
    const exported = [...catalogue.values()].flatMap((p) => (p.type === 'frame' ? [p.profile] : []));
    assert.ok(exported.length >= 4);
    for (const profile of exported)
      assert.equal(frameProfiles[profile.id], profile, `${profile.id} registered`);
    assert.equal(Object.keys(frameProfiles).length, exported.length);
    assert.equal(new Set(exported.map((p) => p.detectorType)).size, exported.length);
    assert.ok(Object.isFrozen(frameProfiles) && Object.isFrozen(builtin.wirelessSmoke));
  });

  it('gives every point a descriptor, the standard point of its kind included', () => {
    assert.equal(builtin.wirelessSmoke.descriptors.smoke?.priority, 'critical');
    assert.deepEqual(builtin.manholeCover.descriptors.tilt?.range, [0, 180]);
    assert.equal(builtin.geomagneticVehicle.descriptors.tamper, undefined);
    assert.equal(builtin.wirelessDoor.descriptors.signal?.unit, 'dBm');
  });

  it('reports every problem of a bad declaration with its path', () => {
    const bad = {
      id: 'Bad Id',
      description: 'x',
      kind: 'smoke',
      detectorType: 300,
      hasTamper: false,
      points: { smoke: { name: 'Smoke', valueType: 'boolean', priority: 'critical' } },
      states: { x: { label: 'odd', set: {} } },
    };
    const result = validateFrameProfile(bad);
    assert.equal(result.ok, false);
    const paths = result.ok ? [] : result.problems.map((p) => p.path);
    assert.ok(
      paths.includes('id') && paths.includes('detectorType') && paths.includes('states.x'),
      paths.join(),
    );
  });

  it('cross-checks states against points and the kind', () => {
    const declaration: FrameProfileDeclaration = {
      id: 'odd-manhole',
      description: 'x',
      kind: 'geomagnetic',
      detectorType: 9,
      hasTamper: false,
      points: {
        tilt: { name: 'Tilt', valueType: 'boolean', priority: 'critical' },
        battery: { name: 'Battery', valueType: 'number', priority: 'diagnostic' },
      },
      states: { 0: { label: 'closed', set: { cover_open: false, tilt: 3 }, bad: ['fault'] } },
      value: { point: 'tilt', scale: 0.1 },
    };
    const result = validateFrameProfile(declaration);
    assert.equal(result.ok, false);
    const problems = result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
    for (const expected of [
      /^use: /,
      /^points\.battery: /,
      /^states\.0\.set\.cover_open: is not a declared point/,
      /^states\.0\.set\.tilt: is a number, the point is a boolean/,
      /^states\.0\.bad\.0: /,
      /^value\.point: the value point must be a number/,
    ]) {
      assert.ok(
        problems.some((p) => expected.test(p)),
        `${expected} in ${problems.join(' | ')}`,
      );
    }
    assert.throws(
      () => defineFrameProfile(declaration),
      (error) =>
        isDoorstepError(error, 'DRV_ERR_PROFILE') && /states\.0\.set\.cover_open/.test(error.message),
    );
  });

  it('refuses two profiles with one detector type, and names an unknown profile', () => {
    const clone = defineFrameProfile({
      id: 'smoke-clone',
      description: 'x',
      kind: 'smoke',
      detectorType: builtin.wirelessSmoke.detectorType,
      hasTamper: false,
      points: { smoke: { name: 'Smoke', valueType: 'boolean', priority: 'critical' } },
      states: { 0: { label: 'normal', set: { smoke: false } } },
    });
    assert.throws(() => buildFrameRegistry([builtin.wirelessSmoke, clone]), /detectorType 1 already used/);
    assert.throws(
      () => getFrameProfile('no-such'),
      (error) => isDoorstepError(error, 'DRV_ERR_UNKNOWN_PROFILE'),
    );
  });
});
