import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getRegisterProfile, registerProfiles } from '../../../drivers/profiles/catalogue/index.js';
import { decodeImage, emptyImage, type RegisterImage } from '../../../drivers/profiles/codec.js';
import { fieldWidth } from '../../../drivers/profiles/types.js';
import { SimDevice } from '../../../drivers/sim/devices.js';
import { findScenario, SCENARIOS, ScenarioPlayer, scenarioFits } from '../../../drivers/sim/scenarios.js';

/** Reads a device's registers back through its bank, the way a master would see them. */
function imageOf(device: SimDevice): RegisterImage {
  const image = emptyImage();
  const bank = device.unit.bank;
  for (const f of device.profile.fields) {
    const raw = bank.read(f.table, f.address, fieldWidth(f));
    assert.ok(raw, `${f.table} ${f.address} is mapped`);
    raw.forEach((v, i) => {
      if (f.table === 'coil' || f.table === 'discrete') image[f.table].set(f.address + i, v === 1);
      else image[f.table].set(f.address + i, v);
    });
  }
  for (const s of device.profile.startup)
    image[s.table].set(s.address, bank.read(s.table, s.address, 1)![0]!);
  return image;
}

function decoded(device: SimDevice): Record<string, unknown> {
  return Object.fromEntries(
    decodeImage(device.profile, imageOf(device), { device: device.id, ts: 0, startup: device.startup }).map(
      (r) => [r.point, r.value],
    ),
  );
}

describe('simulated devices follow their profile', () => {
  it('every profile starts in its normal state and reads back what was set', () => {
    for (const profile of registerProfiles.values()) {
      const device = new SimDevice({ id: 'd', profile, unitId: 1 });
      const values = decoded(device);
      for (const p of profile.points) assert.ok(p.point in values, `${profile.id}: ${p.point}`);
      if ('pressure' in values) assert.equal(values.pressure, 0.35);
      if ('smoke' in values) assert.equal(values.smoke, false);
    }
  });

  it('a word-swapped float and a shared alarm-level register encode like the real device', () => {
    const device = new SimDevice({ id: 'g', profile: getRegisterProfile('gas-float32-cdab'), unitId: 2 });
    device.set({ gas: 23.5, gas_al1: true });
    assert.deepEqual(device.unit.bank.read('input', 0, 3), [0x0000, 0x41bc, 1]);
    assert.deepEqual(decoded(device).gas, 23.5);
  });

  it('a transmitter set to kPa with one decimal reports its unit registers and scaled value', () => {
    const device = new SimDevice({
      id: 'p',
      profile: getRegisterProfile('pressure-int16-decimals'),
      unitId: 3,
      startup: { unit_code: 1, decimals: 1 },
    });
    device.set({ pressure: 0.3456 });
    assert.deepEqual(device.unit.bank.read('holding', 2, 3), [1, 1, 3456]);
    assert.equal(decoded(device).pressure, 0.3456);
  });

  it('refuses a point the profile does not have', () => {
    const device = new SimDevice({ id: 's', profile: getRegisterProfile('smoke-di-module'), unitId: 1 });
    assert.throws(() => device.set({ gas: 10 }), /no point "gas"/);
  });
});

describe('scenarios', () => {
  it('every scenario fits at least one shipped profile', () => {
    for (const scenario of SCENARIOS) {
      const fits = [...registerProfiles.values()].some((profile) =>
        scenarioFits(scenario, new SimDevice({ id: 'x', profile, unitId: 1 })),
      );
      assert.ok(fits, scenario.name);
    }
  });

  it('gas_leak passes both set points and decays', () => {
    const device = new SimDevice({
      id: 'g',
      profile: getRegisterProfile('gas-status-word-int16'),
      unitId: 1,
    });
    const player = new ScenarioPlayer(device, findScenario('gas_leak')!);
    player.step(0);
    assert.deepEqual([decoded(device).gas, decoded(device).gas_al1], [0, false]);
    player.step(25_000); // 20 %LEL
    assert.equal(decoded(device).gas_al1, true);
    assert.equal(decoded(device).gas_al2, false);
    player.step(65_000);
    assert.deepEqual([decoded(device).gas, decoded(device).gas_al2], [60, true]);
    player.step(160_000);
    assert.deepEqual([decoded(device).gas, decoded(device).gas_al1], [0, false]);
  });

  it('device_silent silences the unit and lets it speak again', () => {
    const device = new SimDevice({ id: 'd', profile: getRegisterProfile('door-di-module'), unitId: 1 });
    const player = new ScenarioPlayer(device, findScenario('device_silent')!);
    player.step(10_000);
    assert.ok(device.unit.faults.list().some((f) => f.mode === 'silence'));
    player.step(70_000);
    assert.ok(!device.unit.faults.list().some((f) => f.mode === 'silence'));
  });

  it('refuses a scenario that does not fit the device', () => {
    const device = new SimDevice({ id: 'd', profile: getRegisterProfile('door-di-module'), unitId: 1 });
    assert.throws(() => new ScenarioPlayer(device, findScenario('gas_leak')!), /does not fit/);
  });
});
