import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Logger } from '../../common/log.js';
import { AlarmTransition } from '../../protocol/index.js';

/**
 * The alarms that are active right now (raised, or cleared but latched until reset), kept in a small
 * file beside the outbox. The local broker keeps its retained messages in memory only, so after a
 * gateway restart a display or a Node-RED flow subscribing to `alarms/active/#` would see nothing
 * while a detector is still in alarm; the gateway republishes these at start.
 */
export class ActiveAlarms {
  private readonly active = new Map<string, AlarmTransition>();

  constructor(
    private readonly file: string,
    private readonly logger: Logger,
  ) {}

  load(): AlarmTransition[] {
    try {
      const raw = JSON.parse(readFileSync(this.file, 'utf8')) as unknown[];
      for (const item of raw) {
        const t = AlarmTransition.safeParse(item);
        if (t.success) this.active.set(`${t.data.device}/${t.data.type}`, t.data);
      }
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT')
        this.logger.warn(
          { err: error, file: this.file },
          'active alarms file unreadable; starting without it',
        );
    }
    return [...this.active.values()];
  }

  /** Follows one transition; written atomically (temporary file, then rename). */
  apply(t: AlarmTransition): void {
    const key = `${t.device}/${t.type}`;
    if (t.state === 'raised' || (t.state === 'cleared' && t.latched)) this.active.set(key, t);
    else this.active.delete(key);
    try {
      writeFileSync(`${this.file}.tmp`, JSON.stringify([...this.active.values()]));
      renameSync(`${this.file}.tmp`, this.file);
    } catch (error) {
      this.logger.warn({ err: error, file: this.file }, 'active alarms not saved');
    }
  }
}
