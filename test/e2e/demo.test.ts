import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { it } from 'node:test';
import { startDoorstep } from '../support/processes.js';

/** `npm start` runs `doorstep demo`: it must come up on a fresh clone, show alarms, and clean up. */
it('the demo starts the neighbourhood, prints where to look and the alarms, and removes its data at exit', async () => {
  const demo = startDoorstep(['demo', '--duration', '25']);
  try {
    await demo.waitFor(/district cloud API\s+http:\/\/127\.0\.0\.1:\d+/, 60_000);
    await demo.waitFor(/gateway gw-garden-1 .*health http:\/\/127\.0\.0\.1:\d+\/health/);
    await demo.waitFor(/gw-lane-100\s+RAISED\s+critical smoke\s+smoke-3-2 \(3号楼2单元 楼道\)/, 60_000);
    // Issue 12's measure: register change → inbox for every major and critical alarm, printed.
    await demo.waitFor(
      /⏱ 寄存器变化→收件 \d+\.\d s.*目标 ≤ 10\.0 s（GB 26875\.1） 烟感报警 3号楼2单元 楼道/,
      60_000,
    );
    const code = await demo.stop('SIGINT');
    assert.equal(code, 0);
    const out = demo.output();
    for (const tier of ['district', 'town', 'community'])
      assert.match(out, new RegExp(`\\n\\s+${tier}\\s+\\S+\\s+\\S+\\s+scope \\S+\\s+dsa_`));
    assert.match(out, /重大\/紧急报警 寄存器变化→收件：\d+ 条已送达，\d+ 条 ≤ 10\.0 s/);
    const dir = /data in (\S+),/.exec(out)?.[1];
    assert.ok(dir && !existsSync(dir), `temporary directory ${dir} removed`);
  } finally {
    await demo.stop('SIGKILL');
  }
});
