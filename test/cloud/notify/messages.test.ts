import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALARM_TYPES, alarmTypeLabel, shanghaiTime } from '../../../cloud/notify/labels.js';
import { renderMessage, truncateUtf8 } from '../../../cloud/notify/message.js';
import { alarmCase, request } from './support.js';

const names = new Map([
  ['pudong', '浦东新区'],
  ['pudong/zhangjiang', '张江镇'],
  ['pudong/zhangjiang/lane-100', '100弄'],
]);

describe('notify messages', () => {
  it('names every default alarm type in both languages and falls back to the raw type', () => {
    const defaults = [
      'smoke',
      'fire_confirmed',
      'gas_low',
      'gas_high',
      'pressure_low',
      'pressure_low_low',
      'pressure_high',
      'door_open_warning',
      'door_held_open',
      'fire_lane_occupied',
      'manhole_tilt',
      'low_battery',
      'device_offline',
      'heartbeat_lost',
      'tamper',
      'device_fault',
      'chattering',
    ];
    // Raised only by gateways from before gas AL1/AL2 fed gas_low/gas_high: still named.
    for (const t of [...defaults, 'gas_al1', 'gas_al2']) {
      assert.ok(ALARM_TYPES[t], t);
      assert.match(alarmTypeLabel(t, 'zh'), /[\u4e00-\u9fff]/, t);
      assert.match(alarmTypeLabel(t, 'en'), /^[A-Z]/, t);
    }
    assert.equal(alarmTypeLabel('smoke', 'zh'), '烟感报警');
    assert.equal(alarmTypeLabel('smoke', 'en'), 'Smoke alarm');
    assert.equal(alarmTypeLabel('gas_high', 'zh'), '可燃气体高限报警');
    assert.equal(alarmTypeLabel('pressure_low', 'zh'), '消防水压低');
    assert.equal(alarmTypeLabel('water_leak', 'zh'), 'water_leak');
  });

  it('formats times in Asia/Shanghai whatever the host zone', () => {
    assert.equal(shanghaiTime(Date.UTC(2024, 4, 1, 19, 12, 9)), '2024-05-02 03:12:09');
    assert.equal(shanghaiTime(0), '1970-01-01 08:00:00');
  });

  it('renders a Chinese message with every fact and absolute links', () => {
    const m = renderMessage(request(), 'zh', { siteNames: names, publicUrl: 'https://cloud.example/' });
    assert.equal(m.title, '【提醒】紧急 · 可燃气体高限报警');
    assert.equal(m.subject, '【提醒】紧急 · 可燃气体高限报警 · 100弄');
    for (const part of [
      '地点：浦东新区 / 张江镇 / 100弄 (pudong/zhangjiang/lane-100)',
      '位置：3号楼2单元 厨房',
      '设备：gas-3 (gw-100)',
      '数值：52.5 %LEL',
      '时间：2024-05-02 03:12:09（北京时间）',
      '原因：未在3分钟内确认',
      '发生次数：第 2 次',
      '查看详情：https://cloud.example/cases/case-1',
      '确认接警：https://cloud.example/cases/case-1/ack',
      '填写反馈：https://cloud.example/cases/case-1/feedback',
    ])
      assert.ok(m.text.includes(part), `missing ${part} in\n${m.text}`);
    assert.ok(m.html.includes('<a href="https://cloud.example/cases/case-1/ack">确认接警</a>'));
  });

  it('renders English with units, lists grouped cases and takes the highest severity', () => {
    const req = request({
      stage: 'supervise',
      cases: [
        alarmCase({ severity: 'major', type: 'pressure_low', value: 0.08, occurrence: 1 }),
        alarmCase({ id: 'case-2', type: 'smoke', severity: 'critical', device: 'smoke-7', value: true }),
        alarmCase({
          id: 'case-3',
          type: 'water_leak',
          severity: 'minor',
          device: 'leak-1',
          value: undefined,
        }),
      ],
    });
    const m = renderMessage(req, 'en', { siteNames: names });
    assert.equal(m.severity, 'critical');
    assert.equal(m.title, '[Supervision] Critical · Fire-water pressure low and 2 more');
    assert.ok(m.text.includes('Value: 0.08 MPa'), m.text);
    assert.ok(m.text.includes('Time: 2024-05-02 03:12:09 (China Standard Time, UTC+8)'));
    assert.ok(m.text.includes('Reason: not acknowledged within 3 min'));
    assert.ok(!m.text.includes('Occurrence'), 'a first occurrence is not counted');
    assert.ok(m.text.includes('Grouped alarms (3):'));
    assert.ok(m.text.includes('2. 03:12:09 Smoke alarm · 100弄 3号楼2单元 厨房 · smoke-7'), m.text);
    assert.ok(m.text.includes('3. 03:12:09 water_leak · 100弄'), m.text);
    assert.ok(m.text.includes('Acknowledge: /cases/case-1/ack'));
  });

  it('cuts UTF-8 on character boundaries', () => {
    assert.equal(truncateUtf8('烟感报警', 7), '烟感');
    assert.equal(truncateUtf8('烟感报警', 12), '烟感报警');
    assert.equal(truncateUtf8('ab烟', 4), 'ab');
  });

  it('keeps markdown within the byte limit, dropping grouped cases first and keeping the links', () => {
    const cases = Array.from({ length: 200 }, (_, i) =>
      alarmCase({ id: `case-${i}`, device: `smoke-${i}`, type: 'smoke', location: `${i}号楼 楼道` }),
    );
    const m = renderMessage(request({ cases }), 'zh', { publicUrl: 'https://cloud.example/' });
    const md = m.markdown(4096);
    assert.ok(Buffer.byteLength(md) <= 4096, String(Buffer.byteLength(md)));
    assert.ok(md.includes('[确认接警](https://cloud.example/cases/case-1/ack)'));
    assert.match(md, /另有 \d+ 条未列出/);
    assert.ok(md.startsWith('### 【提醒】紧急 · 烟感报警 等 200 条'));
    // A tiny limit still yields valid UTF-8 within the limit.
    const tiny = m.markdown(300);
    assert.ok(Buffer.byteLength(tiny) <= 300);
    assert.ok(!tiny.includes('\uFFFD'));
  });
});
