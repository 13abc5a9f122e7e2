/**
 * The district view's red-light communities include a case with 7 days without activity
 * (浦东i党建, docs/standards.md) — counted from the last acknowledgement, feedback or reset
 * request, never from a re-occurrence.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlarmCase } from '../../../cloud/alarms/contract.js';
import { planNewCase } from '../../../cloud/alarms/model.js';
import { districtFigures } from '../../../cloud/console/figures.js';
import { LANE, T0, transition } from './helpers.js';

const DAY = 86_400_000;
const fault = (id: string, device: string): AlarmCase =>
  planNewCase(transition(id, 'raised', T0, { device, type: 'device_fault', severity: 'minor' }), {
    site: LANE,
    offsetMs: 0,
    now: T0,
  }).case;

describe('district figures: red light', () => {
  it('flags a community with a case idle for 7 days; an acknowledgement 2 days ago does not', () => {
    const figures = (open: AlarmCase[]) =>
      districtFigures({ now: T0 + 7 * DAY, windowMs: 7 * DAY, sites: [], open, recent: [], devices: [] });
    const idle = { ...fault('f-1', 'd-1'), occurrence: 40 };
    const why = (open: AlarmCase[]) => figures(open).towns[0]?.redLights[0]?.why ?? [];
    assert.deepEqual(why([idle]), ['idle_7d']);
    assert.deepEqual(why([{ ...idle, lastActivityAt: T0 + 5 * DAY }]), []);
  });
});
