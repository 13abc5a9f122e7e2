import assert from 'node:assert/strict';
import { it } from 'node:test';
import { formatFeedLine } from '../../../cloud/feed/format.js';

it('a case line names the place from the device registry before the device id', () => {
  const line = formatFeedLine({
    v: 1,
    kind: 'case',
    site: { district: 'pudong', town: 'zhangjiang', community: 'lane-100' },
    gateway: 'gw-1',
    ts: Date.UTC(2025, 5, 1),
    data: {
      stage: 'warn',
      state: 'active',
      type: 'gas_high',
      device: 'gas-canteen',
      location: '社区食堂 厨房',
    },
  });
  assert.match(line, /type=gas_high location="社区食堂 厨房" device=gas-canteen/);
  assert.ok(line.indexOf('社区食堂 厨房') < line.indexOf('gas-canteen'), line);
});
