import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReportByExceptionFilter } from '../../../edge/outbox/report-by-exception.js';
import { isDoorstepError, type Reading } from '../../../protocol/index.js';

function r(
  device: string,
  point: string,
  value: Reading['value'],
  ts: number,
  quality: Reading['quality'] = 'good',
): Reading {
  return { device, point, value, unit: '', quality, ts };
}

describe('ReportByExceptionFilter', () => {
  it('sends a number when it moved more than an absolute deadband from the last sent value', () => {
    const filter = new ReportByExceptionFilter({
      points: [{ point: 'gas', deadband: { absolute: 2 }, heartbeatMs: 60_000 }],
    });
    const sent = [10, 11, 12, 12.5, 9.9, 7.8, 7.9].map((value, i) =>
      filter.shouldSend(r('g1', 'gas', value, i * 1000)),
    );
    // 12.5 is 2.5 from 10 → sent; 9.9 is 2.6 from 12.5 → sent; 7.8 is 2.1 from 9.9 → sent.
    assert.deepEqual(sent, [true, false, false, true, true, true, false]);
    assert.deepEqual(filter.stats(), { passed: 4, suppressed: 3, untracked: 0, trackedSeries: 1 });
  });

  it('computes a percent-of-span deadband', () => {
    const filter = new ReportByExceptionFilter({
      points: [
        { point: 'pressure', deadband: { percentOfSpan: 2, spanMin: 0, spanMax: 1.6 }, heartbeatMs: 60_000 },
      ],
    });
    // 2 % of 1.6 MPa = 0.032 MPa (ISA-18.2 practice, standards.md).
    const sent = [0.3, 0.33, 0.333, 0.29].map((value, i) => filter.shouldSend(r('p1', 'pressure', value, i)));
    assert.deepEqual(sent, [true, false, true, true]);
  });

  it('sends when the heartbeat period elapsed without change', () => {
    const filter = new ReportByExceptionFilter({
      points: [{ point: 'gas', deadband: { absolute: 5 }, heartbeatMs: 1000 }],
    });
    const sent = [0, 500, 999, 1000, 1500, 2000].map((ts) => filter.shouldSend(r('g1', 'gas', 1, ts)));
    assert.deepEqual(sent, [true, false, false, true, false, true]);
  });

  it('sends booleans and strings on any change, and any quality change', () => {
    const filter = new ReportByExceptionFilter({
      points: [
        { point: 'door_open', heartbeatMs: 60_000 },
        { point: 'gas', deadband: { absolute: 100 }, heartbeatMs: 60_000 },
      ],
    });
    const doors = [false, false, true, true, 'stuck', 'stuck'].map((value, i) =>
      filter.shouldSend(r('d1', 'door_open', value, i)),
    );
    assert.deepEqual(doors, [true, false, true, false, true, false]);
    assert.equal(filter.shouldSend(r('g1', 'gas', 1, 0)), true);
    assert.equal(filter.shouldSend(r('g1', 'gas', 1, 1, 'bad')), true);
    assert.equal(filter.shouldSend(r('g1', 'gas', 1, 2, 'bad')), false);
  });

  it('keeps state per (device, point); a device rule wins over the every-device rule', () => {
    const filter = new ReportByExceptionFilter({
      points: [
        { point: 'gas', deadband: { absolute: 10 }, heartbeatMs: 60_000 },
        { device: 'g2', point: 'gas', deadband: { absolute: 0.5 }, heartbeatMs: 60_000 },
      ],
    });
    assert.deepEqual(
      filter
        .filter([r('g1', 'gas', 1, 0), r('g2', 'gas', 1, 0), r('g1', 'gas', 2, 1), r('g2', 'gas', 2, 1)])
        .map((x) => x.device),
      ['g1', 'g2', 'g2'],
    );
    filter.forgetDevice('g1');
    assert.equal(filter.shouldSend(r('g1', 'gas', 2, 2)), true, 'a forgotten device sends its next reading');
  });

  it('passes unconfigured points without state and bounds tracked series', () => {
    const filter = new ReportByExceptionFilter({
      points: [{ point: 'gas', heartbeatMs: 60_000 }],
      maxSeries: 2,
    });
    assert.equal(filter.shouldSend(r('x', 'battery', 1, 0)), true);
    assert.equal(filter.shouldSend(r('x', 'battery', 1, 1)), true);
    for (const device of ['a', 'b', 'c', 'd']) filter.shouldSend(r(device, 'gas', 1, 0));
    assert.equal(filter.shouldSend(r('c', 'gas', 1, 1)), true, 'beyond maxSeries readings pass unfiltered');
    assert.equal(filter.shouldSend(r('a', 'gas', 1, 1)), false);
    assert.deepEqual(filter.stats().trackedSeries, 2);
    assert.equal(filter.stats().untracked, 3);
  });

  it('reports every configuration problem with its path', () => {
    assert.throws(
      () =>
        new ReportByExceptionFilter({
          points: [
            { point: 'gas', deadband: { absolute: -1 }, heartbeatMs: 1000 },
            { point: 'p', deadband: { percentOfSpan: 2, spanMin: 5, spanMax: 1 }, heartbeatMs: 0 },
          ],
        }),
      (e: unknown) =>
        isDoorstepError(e, 'CFG_ERR_INVALID') &&
        /points\.0\.deadband/.test(e.message) &&
        /points\.1\.heartbeatMs/.test(e.message),
    );
  });
});
