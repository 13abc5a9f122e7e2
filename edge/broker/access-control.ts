import { unmatchableHash, verifyPassword } from '../../common/password.js';
import type { BrokerAcl, LocalBrokerConfig } from './config.js';
import { filterCovers } from './topic-filter.js';

/**
 * CONNACK return codes used for refusals (MQTT 3.1.1 §3.2.2.3, table 3.1). MQTT 5 reason codes
 * 0x86/0x87/0x88 mean the same; aedes speaks 3.1/3.1.1.
 */
export const CONNACK = {
  identifierRejected: 2,
  serverUnavailable: 3,
  badUsernameOrPassword: 4,
  notAuthorized: 5,
} as const;
export type RefusalCode = (typeof CONNACK)[keyof typeof CONNACK];

export type AuthDecision =
  | { ok: true; username: string | undefined }
  | { ok: false; returnCode: RefusalCode; reason: string };

interface CompiledAcl {
  publish: string[];
  subscribe: string[];
}

/**
 * Who may connect, publish and subscribe. Patterns are compiled once per user with `%g` (gateway
 * id) and `%u` (username) substituted; anonymous clients drop every pattern that names `%u`.
 * Pure logic: no sockets, so it is tested on its own.
 */
export class AccessControl {
  private readonly passwords = new Map<string, string>();
  private readonly acls = new Map<string, CompiledAcl>();
  private readonly anonymousAcl: CompiledAcl | undefined;
  /** Client id prefix → the user it belongs to. */
  private readonly clientIdOwners = new Map<string, string>();
  private dummyHash: string | undefined;

  constructor(
    config: Pick<LocalBrokerConfig, 'users' | 'allowAnonymous' | 'anonymousAcl'>,
    gatewayId: string,
  ) {
    for (const user of config.users) {
      this.passwords.set(user.username, user.passwordHash);
      this.acls.set(user.username, compile(user.acl, gatewayId, user.username));
      this.clientIdOwners.set(user.clientIdPrefix ?? user.username, user.username);
    }
    this.anonymousAcl = config.allowAnonymous
      ? compile(config.anonymousAcl, gatewayId, undefined)
      : undefined;
  }

  /**
   * MQTT 3.1.1 §3.1.3.4–5: username and password are optional in CONNECT. A missing username is
   * anonymous (refused with 5 "not authorized" unless allowed); a wrong password, a missing
   * password or an unknown user all get 4 "bad user name or password", after the same scrypt
   * work, so neither the answer nor its timing tells which usernames exist.
   */
  async authenticate(username: string | undefined, password: Buffer | undefined): Promise<AuthDecision> {
    if (username === undefined || username === '') {
      if (this.anonymousAcl) return { ok: true, username: undefined };
      return { ok: false, returnCode: CONNACK.notAuthorized, reason: 'anonymous clients are not allowed' };
    }
    const stored = this.passwords.get(username);
    this.dummyHash ??= unmatchableHash();
    const matches = await verifyPassword(password ?? Buffer.alloc(0), stored ?? this.dummyHash);
    if (stored === undefined)
      return { ok: false, returnCode: CONNACK.badUsernameOrPassword, reason: 'unknown user' };
    if (password === undefined || password.length === 0)
      return { ok: false, returnCode: CONNACK.badUsernameOrPassword, reason: 'no password given' };
    if (!matches) return { ok: false, returnCode: CONNACK.badUsernameOrPassword, reason: 'wrong password' };
    return { ok: true, username };
  }

  /**
   * Whether `username` (undefined: anonymous) may connect with `clientId`. The id belongs to the user
   * with the longest prefix it matches (exactly, or followed by "-"); ids no user owns are open to
   * anonymous clients only. An id the broker assigned itself (the client sent none: clean session
   * only, MQTT-3.1.3-7/8) is random and nobody else's, so it is always allowed.
   */
  mayUseClientId(username: string | undefined, clientId: string, assignedByBroker: boolean): boolean {
    if (assignedByBroker) return true;
    return this.ownerOfClientId(clientId) === username;
  }

  private ownerOfClientId(clientId: string): string | undefined {
    let best: string | undefined;
    let owner: string | undefined;
    for (const [prefix, user] of this.clientIdOwners) {
      const matches = clientId === prefix || clientId.startsWith(`${prefix}-`);
      if (matches && (best === undefined || prefix.length > best.length)) {
        best = prefix;
        owner = user;
      }
    }
    return owner;
  }

  /** `topic` is a topic name; true when one of the user's publish patterns matches it. */
  mayPublish(username: string | undefined, topic: string): boolean {
    // MQTT 3.1.1 §4.7.2: "$" topics belong to the server ($SYS); clients never publish there.
    if (topic.startsWith('$')) return false;
    return this.aclOf(username)?.publish.some((allowed) => filterCovers(allowed, topic)) ?? false;
  }

  /** `filter` is the requested topic filter; allowed only when a subscribe pattern covers all of it. */
  maySubscribe(username: string | undefined, filter: string): boolean {
    return this.aclOf(username)?.subscribe.some((allowed) => filterCovers(allowed, filter)) ?? false;
  }

  private aclOf(username: string | undefined): CompiledAcl | undefined {
    return username === undefined ? this.anonymousAcl : this.acls.get(username);
  }
}

function compile(acl: BrokerAcl, gatewayId: string, username: string | undefined): CompiledAcl {
  const expand = (patterns: readonly string[]) =>
    patterns
      .filter((pattern) => username !== undefined || !pattern.includes('%u'))
      .map((pattern) => pattern.replaceAll('%g', gatewayId).replaceAll('%u', username ?? ''));
  return { publish: expand(acl.publish), subscribe: expand(acl.subscribe) };
}
