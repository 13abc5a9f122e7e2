import type { InboxMessage } from '../cloud/notify/inbox.js';

/**
 * The demo's "scripted evening": the people of each tier, escalation policies with timings
 * compressed from minutes to seconds (so a visitor sees 提醒 and 督办 happen), and scripted duty
 * staff who answer what they are told about — except the canteen gas leak, which nobody answers.
 */

interface CommunityLike {
  town: string;
  townName: string;
  community: string;
  communityName: string;
}

/** Device whose alarms the scripted staff leave alone, so the visitor sees escalation. */
export const UNANSWERED_DEVICE = 'gas-canteen';

const NAMES = ['王芳', '李明', '周敏', '陈强', '孙工', '吴静', '郑伟', '赵磊', '钱华', '冯涛'];

/** The `escalation` section of the demo cloud: people reachable at the duty inbox, demo policies. */
export function demoEscalation(
  district: string,
  communities: readonly CommunityLike[],
  inbox: { url: string; secret: string },
): Record<string, unknown> {
  const channel = [{ kind: 'webhook', url: inbox.url, secret: inbox.secret }];
  let n = 0;
  const person = (id: string, site: string, roles: string[], title: string) => ({
    id,
    name: `${NAMES[n++ % NAMES.length]}（${title}）`,
    site,
    roles,
    channels: channel,
  });
  const towns = [...new Map(communities.map((c) => [c.town, c])).values()];
  const people = [
    ...communities.map((c) =>
      person(
        `${c.community}-duty`,
        `${district}/${c.town}/${c.community}`,
        ['duty'],
        `${c.communityName}值班`,
      ),
    ),
    ...towns.flatMap((t) => [
      person(`${t.town}-duty`, `${district}/${t.town}`, ['duty'], `${t.townName}分中心值班`),
      person(`${t.town}-lead`, `${district}/${t.town}`, ['lead'], `${t.townName}带班领导`),
      person(`${t.town}-maintenance`, `${district}/${t.town}`, ['maintenance'], `${t.townName}维保`),
    ]),
    person('district-supervisor', district, ['supervisor'], '区中心督办'),
  ];
  const role = (r: string, tier: 'community' | 'town' | 'district') => ({ kind: 'role', role: r, tier });
  // The shipped defaults wait 3 min / 30 min (critical) and 10 min / 4 h (major); the demo uses
  // seconds so that a visitor sees the whole loop. Never use these timings on a real district.
  const policies = [
    {
      id: 'demo-critical',
      version: 1,
      match: { severities: ['critical'] },
      steps: [
        {
          delayMs: 0,
          condition: 'always',
          stage: 'warn',
          targets: [role('duty', 'community'), role('duty', 'town')],
        },
        { delayMs: 40_000, condition: 'not_acked', stage: 'remind', targets: [role('lead', 'town')] },
        {
          delayMs: 100_000,
          condition: 'not_closed',
          stage: 'supervise',
          targets: [role('supervisor', 'district')],
        },
      ],
      deliveryFailure: { afterFailedSends: 2, fallback: [role('lead', 'town')] },
    },
    {
      id: 'demo-major',
      version: 1,
      match: { severities: ['major'] },
      steps: [
        { delayMs: 0, condition: 'always', stage: 'warn', targets: [role('duty', 'community')] },
        { delayMs: 40_000, condition: 'not_acked', stage: 'remind', targets: [role('duty', 'town')] },
        {
          delayMs: 100_000,
          condition: 'not_closed',
          stage: 'supervise',
          targets: [role('supervisor', 'district')],
        },
      ],
      deliveryFailure: { afterFailedSends: 2, fallback: [role('duty', 'town')] },
    },
  ];
  return { people, policies };
}

interface Account {
  tier: string;
  username: string;
  scope: string;
  token: string;
}

/**
 * Scripted community duty staff: a few seconds after a first notice (预警) they acknowledge the
 * case; once its condition has cleared (or after a reset) they record feedback and close it.
 */
export class DemoDutyStaff {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly handled = new Set<string>();

  constructor(
    private readonly cloudUrl: string,
    private readonly accounts: readonly Account[],
    private readonly say: (text: string) => void,
  ) {}

  static describe(m: InboxMessage): string {
    const time = new Date(m.receivedAt).toLocaleTimeString('zh-CN', {
      timeZone: 'Asia/Shanghai',
      hour12: false,
    });
    return `${time}  📨 ${m.payload.recipient.name} ← ${m.payload.title}`;
  }

  received(m: InboxMessage): void {
    const c = m.payload.cases[0];
    if (!c || m.payload.stage !== 'warn' || c.device === UNANSWERED_DEVICE || this.handled.has(c.id)) return;
    this.handled.add(c.id);
    const account = this.accounts.find((a) => a.tier === 'community' && c.sitePath === a.scope);
    if (!account) return;
    this.later(6_000, async () => {
      await this.act(account, c.id, 'ack', {});
      this.say(`          ✔ ${account.username} acknowledged ${c.typeLabel} at ${c.location ?? c.device}`);
      await this.closeWhenCleared(account, c.id, c.typeLabel, 0);
    });
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private async closeWhenCleared(account: Account, id: string, label: string, tries: number): Promise<void> {
    const res = await fetch(new URL(`/v1/cases/${encodeURIComponent(id)}`, this.cloudUrl), {
      headers: { authorization: `Bearer ${account.token}` },
    });
    const body = (await res.json()) as {
      case?: { condition: string; latched: boolean; device: string; type: string };
    };
    const kase = body.case;
    if (!kase) return;
    if (kase.condition === 'latched') await this.act(account, id, 'reset', {});
    if (kase.condition !== 'cleared') {
      if (tries < 60) this.later(5_000, () => this.closeWhenCleared(account, id, label, tries + 1));
      return;
    }
    await this.act(account, id, 'feedback', { cause: 'test', note: '演示：现场核实，为模拟场景' });
    await this.act(account, id, 'close', {});
    this.say(`          ✔ ${account.username} gave feedback and closed ${label} (办结)`);
  }

  private async act(account: Account, id: string, action: string, json: object): Promise<void> {
    await fetch(new URL(`/v1/cases/${encodeURIComponent(id)}/${action}`, this.cloudUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${account.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(json),
    });
  }

  private later(ms: number, fn: () => Promise<void>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn().catch(() => undefined);
    }, ms);
    t.unref();
    this.timers.add(t);
  }
}
