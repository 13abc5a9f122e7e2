import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ALARM_TYPES } from '../cloud/notify/labels.js';
import { defaultRulePack } from '../edge/rules/packs.js';
import { SensorKind } from '../protocol/index.js';

/**
 * The alarm types gateways raise (edge default rule packs, plus the engine's own `chattering`) must
 * all have words in the cloud's messages — a duty officer at 3 a.m. must never read `door_held_open`.
 */
it('every alarm type of the default rule packs has a zh and en label in notifications', () => {
  const types = new Set<string>(['chattering']);
  for (const kind of SensorKind.options)
    for (const use of ['vehicle_presence', 'manhole_tilt', undefined] as const)
      for (const rule of defaultRulePack(kind, use ? { use } : {})) types.add(rule.type);
  const missing = [...types].filter((t) => !ALARM_TYPES[t]);
  assert.deepEqual(missing, []);
});
