import { MemoryOutbox, MemoryOutboxData } from '../../../edge/outbox/memory.js';
import type { Outbox } from '../../../edge/outbox/types.js';
import { outboxContract } from './contract.js';

outboxContract('memory', () => {
  let data = new MemoryOutboxData();
  return {
    open(options) {
      data = new MemoryOutboxData();
      const outbox = new MemoryOutbox({ ...options, data });
      outbox.open();
      return outbox;
    },
    reopen(outbox: Outbox, options) {
      outbox.close();
      const again = new MemoryOutbox({ ...options, data });
      again.open();
      return again;
    },
    dispose() {},
  };
});
