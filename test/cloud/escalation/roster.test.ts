import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EscalationConfig } from '../../../cloud/escalation/config.js';
import { DutyResolver } from '../../../cloud/escalation/roster.js';
import { localMidnight, parseLocal } from '../../../common/time.js';
import { DIRECTORY, directoryConfig } from './support.js';

const at = parseLocal;
const duty = () => new DutyResolver(directoryConfig());
const layer = (d: DutyResolver, site: string, t: number, schedule: string, name: string) =>
  d.onDuty(site, t).find((x) => x.schedule === schedule && x.layer === name)!;

describe('escalation: rosters (Asia/Shanghai, UTC+8, no DST)', () => {
  it('rotation handoff at 08:00 local: zhou until 07:59, qian from 08:00', () => {
    const d = duty();
    assert.equal(
      layer(d, 'pudong/zhangjiang', at('2025-06-03T07:59'), 'zhangjiang', 'desk').current?.person.id,
      'zhou',
    );
    const desk = layer(d, 'pudong/zhangjiang', at('2025-06-03T08:00'), 'zhangjiang', 'desk');
    assert.equal(desk.current?.person.id, 'qian');
    assert.equal(desk.current?.from, at('2025-06-03T08:00'));
    assert.equal(desk.current?.to, at('2025-06-04T08:00'));
    assert.equal(desk.next?.person.id, 'zhou');
    assert.equal(desk.next?.from, at('2025-06-04T08:00'));
  });

  it('community station: on site by day, on call at night, next shift shown', () => {
    const d = duty();
    const dayTime = layer(d, 'pudong/zhangjiang/lane-100', at('2025-06-03T10:00'), 'lane-100', 'day');
    assert.deepEqual(
      [dayTime.mode, dayTime.current?.person.id, dayTime.current?.to],
      ['on_site', 'wang', at('2025-06-03T20:00')],
    );
    const night = at('2025-06-03T23:00');
    const nightLayer = layer(d, 'pudong/zhangjiang/lane-100', night, 'lane-100', 'night');
    assert.deepEqual([nightLayer.mode, nightLayer.current?.person.id], ['on_call', 'li']);
    assert.equal(nightLayer.current?.from, at('2025-06-03T20:00'));
    assert.equal(nightLayer.current?.to, at('2025-06-04T08:00'));
    const dayAtNight = layer(d, 'pudong/zhangjiang/lane-100', night, 'lane-100', 'day');
    assert.equal(dayAtNight.current, null);
    assert.deepEqual([dayAtNight.next?.person.id, dayAtNight.next?.from], ['wang', at('2025-06-04T08:00')]);
    assert.deepEqual(d.scheduleOnDuty('lane-100', night), ['li']);
  });

  it('an override wins over the rotation for its period, and only then', () => {
    const d = duty();
    const during = layer(d, 'pudong/zhangjiang/lane-100', at('2025-06-10T13:00'), 'lane-100', 'day');
    assert.deepEqual([during.current?.person.id, during.current?.override], ['zhao', true]);
    assert.deepEqual(
      [during.current?.from, during.current?.to],
      [at('2025-06-10T12:00'), at('2025-06-10T14:00')],
    );
    assert.equal(
      layer(d, 'pudong/zhangjiang/lane-100', at('2025-06-10T14:00'), 'lane-100', 'day').current?.person.id,
      'wang',
    );
    // An override without a layer covers the whole schedule, hours included (here: at 03:00).
    const config = directoryConfig({
      schedules: DIRECTORY.schedules?.map((s) =>
        s.id === 'lane-100'
          ? { ...s, overrides: [{ person: 'he', from: '2025-06-11T02:00', to: '2025-06-11T04:00' }] }
          : s,
      ),
    });
    const d2 = new DutyResolver(config);
    assert.deepEqual(d2.scheduleOnDuty('lane-100', at('2025-06-11T03:00')), ['he']);
  });

  it('local midnight is 16:00 UTC: a daily midnight handoff and an overnight Friday window', () => {
    const config = directoryConfig({
      schedules: [
        {
          id: 'midnight',
          site: 'pudong/zhangjiang/lane-200',
          layers: [
            {
              name: 'a',
              rotation: { members: ['he', 'li'], start: '2025-06-02', handoff: '00:00', lengthDays: 1 },
            },
            {
              name: 'friday-night',
              hours: { from: '22:00', to: '06:00', days: [5] },
              rotation: { members: ['zhao'], start: '2025-06-02', handoff: '00:00', lengthDays: 7 },
            },
          ],
        },
      ],
    });
    const d = new DutyResolver(config);
    const midnight = Date.UTC(2025, 5, 2, 16, 0); // 2025-06-03 00:00 in Shanghai
    assert.equal(localMidnight(midnight + 1), midnight);
    assert.deepEqual(d.scheduleOnDuty('midnight', midnight - 1), ['he']);
    assert.deepEqual(d.scheduleOnDuty('midnight', midnight), ['li']);
    // Friday 6 June 22:00 → Saturday 06:00 local: Saturday 01:00 is still Friday night's window.
    assert.ok(d.scheduleOnDuty('midnight', at('2025-06-07T01:00')).includes('zhao'));
    assert.ok(!d.scheduleOnDuty('midnight', at('2025-06-07T23:00')).includes('zhao'));
  });

  it('a role target resolves to whoever is on shift, or to everyone with the role without a schedule', () => {
    const d = duty();
    const site = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };
    const ids = (t: number) =>
      d
        .resolve(
          [
            { kind: 'role', role: 'duty', tier: 'community' },
            { kind: 'role', role: 'supervisor', tier: 'district' },
          ],
          site,
          t,
        )
        .map((r) => r.id);
    assert.deepEqual(ids(at('2025-06-03T10:00')), ['wang', 'sun']);
    assert.deepEqual(ids(at('2025-06-03T22:00')), ['li', 'sun']);
  });

  it('bad rosters and policies are refused with every problem and its path', () => {
    const result = EscalationConfig.safeParse({
      ...DIRECTORY,
      schedules: [
        {
          id: 'bad',
          site: 'pudong/zhangjiang',
          layers: [
            {
              name: 'x',
              hours: { from: '8:00', to: '20:00' },
              rotation: { members: ['nobody'], start: '2025-06-02', lengthDays: 1 },
            },
          ],
          overrides: [{ person: 'wang', from: '2025-06-02T10:00', to: '2025-06-02T09:00', layer: 'y' }],
        },
      ],
      policies: [
        {
          id: 'p',
          version: 1,
          match: {},
          steps: [
            {
              delayMs: 0,
              condition: 'always',
              stage: 'warn',
              targets: [{ kind: 'oncall', schedule: 'nope' }],
            },
          ],
          deliveryFailure: { afterFailedSends: 2, fallback: [{ kind: 'person', id: 'ghost' }] },
        },
      ],
    });
    assert.equal(result.success, false);
    const paths = result.error!.issues.map((i) => i.path.join('.')).sort();
    // Shapes and references together: every problem in one report.
    assert.deepEqual(paths, [
      'policies.0.deliveryFailure.fallback.0.id',
      'policies.0.steps.0.targets.0.schedule',
      'schedules.0.layers.0.hours.from',
      'schedules.0.layers.0.rotation.members.0',
      'schedules.0.overrides.0.layer',
      'schedules.0.overrides.0.to',
    ]);
    const refs = EscalationConfig.safeParse({
      ...DIRECTORY,
      schedules: [
        {
          id: 'bad',
          site: 'pudong/zhangjiang',
          layers: [
            { name: 'x', rotation: { members: ['wang', 'nobody'], start: '2025-06-02', lengthDays: 1 } },
          ],
          overrides: [{ person: 'wang', from: '2025-06-02T08:00', to: '2025-06-02T09:00', layer: 'y' }],
        },
      ],
      policies: [
        {
          id: 'p',
          version: 1,
          match: {},
          steps: [
            {
              delayMs: 0,
              condition: 'always',
              stage: 'warn',
              targets: [{ kind: 'oncall', schedule: 'nope' }],
            },
          ],
          deliveryFailure: { afterFailedSends: 2, fallback: [{ kind: 'person', id: 'ghost' }] },
        },
      ],
    });
    assert.deepEqual(
      refs.error?.issues.map((i) => [i.path.join('.'), i.message]),
      [
        ['schedules.0.layers.0.rotation.members.1', 'no person "nobody" in escalation.people'],
        ['schedules.0.overrides.0.layer', 'no layer "y" in schedule "bad"'],
        ['policies.0.steps.0.targets.0.schedule', 'no schedule "nope" in escalation.schedules'],
        ['policies.0.deliveryFailure.fallback.0.id', 'no person "ghost" in escalation.people'],
      ],
    );
  });
});
