import { z } from 'zod';
import { passwordHashProblems } from '../../common/password.js';
import { DoorstepError } from '../../protocol/errors.js';
import { formatPath, renderIssues, type ValidationIssue } from '../../protocol/validation.js';
import { topicFilterProblems } from './topic-filter.js';

/**
 * Usernames are plain identifiers: they are substituted for `%u` in ACL patterns, so they must
 * never contain "/", "+" or "#" (that would widen a pattern to other users' topics).
 */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

/** An ACL entry: an MQTT topic filter that may use `%u` (the username) and `%g` (the gateway id). */
export const AclPatternSchema = z
  .string()
  .min(1)
  .max(512)
  .superRefine((pattern, ctx) => {
    const substituted = pattern.replaceAll('%u', 'user').replaceAll('%g', 'gateway');
    for (const message of topicFilterProblems(substituted)) ctx.addIssue({ code: 'custom', message });
  });

/** What one user may do; publish and subscribe are checked separately. Empty means nothing. */
export const BrokerAclSchema = z
  .object({
    publish: z.array(AclPatternSchema).default([]),
    subscribe: z.array(AclPatternSchema).default([]),
  })
  .strict();
export type BrokerAcl = z.output<typeof BrokerAclSchema>;

export const BrokerUserSchema = z
  .object({
    username: z.string().regex(USERNAME_PATTERN, 'must be 1–64 of A-Z a-z 0-9 _ . @ - (no "/", "+" or "#")'),
    /** `scrypt$N$r$p$saltB64$hashB64`, made by hashPassword() (see README). */
    passwordHash: z.string().superRefine((hash, ctx) => {
      for (const message of passwordHashProblems(hash)) ctx.addIssue({ code: 'custom', message });
    }),
    acl: BrokerAclSchema.prefault({}),
    /**
     * The client ids this user may connect with: exactly the prefix, or the prefix, "-" and
     * anything (default: the username). Binding ids to users stops one user from taking over
     * another's session — a CONNECT with a client id in use closes the older connection and, with
     * clean session off, hands over its queued messages (MQTT 3.1.1 §3.1.4, MQTT-3.1.4-2).
     */
    clientIdPrefix: z
      .string()
      .regex(USERNAME_PATTERN, 'must be 1–64 of A-Z a-z 0-9 _ . @ - (no "/", "+" or "#")')
      .optional(),
  })
  .strict();
export type BrokerUser = z.output<typeof BrokerUserSchema>;

export const BrokerLimitsSchema = z
  .object({
    /** Connected clients at most; one more is refused with CONNACK 3 "server unavailable". */
    maxConnections: z.number().int().min(1).max(100_000).default(64),
    /** Largest PUBLISH payload a client may send; a bigger one closes its connection. */
    maxPayloadBytes: z
      .number()
      .int()
      .min(1)
      .max(256 * 1024 * 1024)
      .default(256 * 1024),
    /**
     * One client's send queue: bytes written for it that it has not read yet, at most. A
     * subscriber that stops reading is disconnected when it passes this, so it can never hold up
     * the others. At least twice maxPayloadBytes, so one large message never trips it.
     */
    clientBufferBytes: z
      .number()
      .int()
      .min(16 * 1024)
      .default(1024 * 1024),
    /** Backstop: a socket that has not drained for this long is disconnected (aedes drainTimeout). */
    drainTimeoutMs: z.number().int().min(10).max(600_000).default(10_000),
    /** Messages aedes delivers concurrently (aedes/mqemitter `concurrency`). */
    concurrency: z.number().int().min(1).max(10_000).default(100),
    /** Packets one client may send before its CONNACK; more close the connection (aedes `queueLimit`). */
    queueLimit: z.number().int().min(1).max(10_000).default(42),
    /** A connection that sends no CONNECT within this is closed (aedes `connectTimeout`). */
    connectTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  })
  .strict()
  .superRefine((limits, ctx) => {
    if (limits.clientBufferBytes < 2 * limits.maxPayloadBytes)
      ctx.addIssue({
        code: 'custom',
        path: ['clientBufferBytes'],
        message: `must be at least twice maxPayloadBytes (${2 * limits.maxPayloadBytes})`,
      });
  });
export type BrokerLimits = z.output<typeof BrokerLimitsSchema>;

/** The local broker's configuration; the gateway config embeds this schema. */
export const LocalBrokerConfigSchema = z
  .object({
    /** Listen address. 127.0.0.1 unless the gateway config opens it to the LAN on purpose. */
    host: z.string().min(1).default('127.0.0.1'),
    /** TCP port; 0 lets the OS pick one (tests). 1883 is MQTT's IANA port. */
    port: z.number().int().min(0).max(65535).default(1883),
    users: z.array(BrokerUserSchema).default([]),
    /** MQTT 3.1.1 §3.1.3.4: a client may omit the username; refused (CONNACK 5) unless this is true. */
    allowAnonymous: z.boolean().default(false),
    /** What anonymous clients may do when allowed (`%u` patterns never match for them). */
    anonymousAcl: BrokerAclSchema.prefault({}),
    limits: BrokerLimitsSchema.prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    const prefixes = new Map<string, string>();
    config.users.forEach((user, index) => {
      if (seen.has(user.username))
        ctx.addIssue({
          code: 'custom',
          path: ['users', index, 'username'],
          message: `duplicate user "${user.username}"`,
        });
      seen.add(user.username);
      const prefix = user.clientIdPrefix ?? user.username;
      const owner = prefixes.get(prefix);
      if (owner !== undefined && owner !== user.username)
        ctx.addIssue({
          code: 'custom',
          path: ['users', index, user.clientIdPrefix === undefined ? 'username' : 'clientIdPrefix'],
          message: `client id prefix "${prefix}" is already user "${owner}"'s: give one of them its own clientIdPrefix`,
        });
      prefixes.set(prefix, user.username);
    });
  });

export type LocalBrokerConfigInput = z.input<typeof LocalBrokerConfigSchema>;
export type LocalBrokerConfig = z.output<typeof LocalBrokerConfigSchema>;

/** Validates and fills defaults; reports every problem with its path (CFG_ERR_INVALID), then freezes. */
export function resolveLocalBrokerConfig(input: unknown = {}): Readonly<LocalBrokerConfig> {
  const parsed = LocalBrokerConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issues: ValidationIssue[] = parsed.error.issues.map((issue) => ({
      path: formatPath(['broker', ...issue.path]),
      message: issue.message,
    }));
    throw new DoorstepError('CFG_ERR_INVALID', {
      count: issues.length,
      summary: `\n${renderIssues(issues)}`,
    });
  }
  return deepFreeze(parsed.data);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
