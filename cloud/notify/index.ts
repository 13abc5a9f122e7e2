/**
 * cloud/notify: reaching duty staff. `buildNotify` wires the notifier for the composition root
 * (cloud/build.ts): the NotificationStore on the cloud store's database, the channels (e-mail when
 * notify.smtp is set, SMS / voice / SMPP when notify.sms / voice / smpp are), the duty inbox when
 * notify.inbox is set. No I/O until start().
 */

import type { z } from 'zod';
import type { Logger } from '../../common/log.js';
import { DoorstepError, type SitePath } from '../../protocol/index.js';
import type { AlarmCase, Notifier, Recipient } from '../alarms/contract.js';
import { NotifyConfig } from '../config/schema.js';
import type { CloudStore } from '../store/port.js';
import { AliyunSmsChannel, AliyunVoiceChannel } from './channels/aliyun.js';
import type { Timers } from './channels/channel.js';
import { EmailChannel } from './channels/email.js';
import { SmppChannel } from './channels/smpp.js';
import { TencentSmsChannel } from './channels/tencent.js';
import { DutyInbox } from './inbox.js';
import { createNotifier, type NotifierService } from './notifier.js';
import { type NotificationStore, notificationStoreFor } from './store/index.js';

export {
  AliyunSmsChannel,
  AliyunVoiceChannel,
  aliyunEncode,
  aliyunFailureKind,
  aliyunSignature,
  aliyunStringToSign,
} from './channels/aliyun.js';
export type { Channel, SendContext, SendOutcome, Timers } from './channels/channel.js';
export { DingtalkChannel, dingtalkSign, dingtalkSignedUrl } from './channels/dingtalk.js';
export { EmailChannel } from './channels/email.js';
export { type FailureKind, providerFailure } from './channels/provider.js';
export { SmppChannel, smppStatusKind } from './channels/smpp.js';
export { TencentSmsChannel, tc3Authorization, tencentFailureKind } from './channels/tencent.js';
export { WebhookChannel } from './channels/webhook.js';
export { WecomChannel } from './channels/wecom.js';
export { DutyInbox, type DutyInboxOptions, type InboxMessage } from './inbox.js';
export { ALARM_TYPES, alarmTypeLabel, SEVERITY_LABELS } from './labels.js';
export { type Message, renderMessage, type WebhookPayload, webhookPayload } from './message.js';
export {
  addressKey,
  backoffDelay,
  createNotifier,
  type NotifierDeps,
  type NotifierService,
} from './notifier.js';
export { isE164, nationalNumber, PhoneNumber, parsePhone } from './phone.js';
export { compactText, TEMPLATE_KEYS, templateValues } from './short-text.js';
export { signWebhook, verifyWebhook } from './signature.js';
export * from './store/index.js';

export interface NotifyService {
  /** Usable once start() resolved; before, deliver() rejects with CLOUD_ERR_NOTIFY_NOT_STARTED. */
  readonly notifier: Notifier;
  /** The attempts and deliveries (console queries); throws before start(). */
  readonly store: NotificationStore;
  readonly inbox: DutyInbox | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Site display names from the registry, cached for a minute (one listing per district). */
function siteNamesFrom(store: CloudStore, clock: () => number) {
  const cache = new Map<string, { at: number; names: Map<string, string> }>();
  return async (sites: SitePath[]): Promise<ReadonlyMap<string, string>> => {
    const out = new Map<string, string>();
    for (const district of new Set(sites.map((s) => s.district))) {
      let entry = cache.get(district);
      if (!entry || clock() - entry.at > 60_000) {
        const nodes = await store.listSites(district);
        entry = { at: clock(), names: new Map(nodes.map((n) => [n.path, n.name])) };
        cache.set(district, entry);
      }
      for (const [k, v] of entry.names) out.set(k, v);
    }
    return out;
  };
}

export function buildNotify(
  config: z.input<typeof NotifyConfig> | undefined,
  deps: {
    store: CloudStore;
    clock?: () => number;
    log?: Logger;
    timers?: Timers;
    /** Each case's action link for a recipient (cloud/phone), relative to the public URL. */
    caseLink?: (c: AlarmCase, recipient: Recipient) => string;
    /** The cloud's public URL, used when notify.publicUrl is not set. */
    publicUrl?: string;
  },
): NotifyService {
  const c = NotifyConfig.parse(config ?? {});
  const clock = deps.clock ?? Date.now;
  const inbox = c.inbox
    ? new DutyInbox({
        host: c.inbox.host,
        port: c.inbox.port,
        secret: c.inbox.secret,
        keep: c.inbox.keep,
        clock,
      })
    : undefined;
  let store: NotificationStore | undefined;
  let service: NotifierService | undefined;
  const notStarted = (operation: string) => new DoorstepError('CLOUD_ERR_NOTIFY_NOT_STARTED', { operation });
  return {
    notifier: {
      async deliver(request) {
        if (!service) throw notStarted('deliver');
        return service.deliver(request);
      },
    },
    get store() {
      if (!store) throw notStarted('store');
      return store;
    },
    inbox,
    async start() {
      if (service) return;
      const s = notificationStoreFor(deps.store.handle());
      await s.migrate();
      store = s;
      service = createNotifier({
        store: s,
        channels: {
          ...(c.smtp
            ? { email: new EmailChannel(c.smtp, c.perChannel.email?.timeoutMs ?? c.timeoutMs) }
            : {}),
          ...(c.sms
            ? {
                sms:
                  c.sms.provider === 'tencent' ? new TencentSmsChannel(c.sms) : new AliyunSmsChannel(c.sms),
              }
            : {}),
          ...(c.voice ? { voice: new AliyunVoiceChannel(c.voice) } : {}),
          ...(c.smpp ? { smpp: new SmppChannel(c.smpp) } : {}),
        },
        language: c.language,
        ...((c.publicUrl ?? deps.publicUrl) ? { publicUrl: c.publicUrl ?? deps.publicUrl } : {}),
        ...(deps.caseLink ? { caseLink: deps.caseLink } : {}),
        timeoutMs: c.timeoutMs,
        perChannel: c.perChannel,
        endpoints: c.endpoints,
        channelConcurrency: c.channelConcurrency,
        retry: c.retry,
        clock,
        ...(deps.timers ? { timers: deps.timers } : {}),
        siteNames: siteNamesFrom(deps.store, clock),
        ...(deps.log ? { log: deps.log } : {}),
      });
      await inbox?.start();
    },
    async stop() {
      await inbox?.stop();
      await service?.close();
      service = undefined;
    },
  };
}
