import type { Logger } from '../../common/log.js';
import type { LifecycleService } from '../alarms/lifecycle.js';
import type { Accounts } from '../auth/accounts.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { CloudConfig } from '../config/schema.js';
import type { CommandQueue } from '../ingest/command-queue.js';
import type { IngestService } from '../ingest/service.js';
import type { CloudStore } from '../store/port.js';
import type { CloudMetrics } from './metrics.js';

/** What the route modules need; built once by buildCloud. */
export interface CloudServices {
  config: CloudConfig;
  store: CloudStore;
  auth: Authenticator;
  ingest: IngestService;
  commands: CommandQueue;
  metrics: CloudMetrics;
  clock: () => number;
  log: Logger;
  /** The alarm lifecycle (cloud/alarms): cases, actions, StageMover for escalation. */
  alarms: LifecycleService;
  /** The account life cycle (cloud/auth/accounts.ts): users, tokens, passwords, sessions, audit. */
  accounts: Accounts;
}
