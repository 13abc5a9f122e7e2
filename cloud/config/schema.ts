import { z } from 'zod';
import { ScopePath, Slug } from '../../protocol/index.js';
import { EscalationConfig } from '../escalation/config.js';
import { TEMPLATE_KEYS } from '../notify/short-text.js';

/**
 * The cloud's configuration file (`doorstep cloud --config FILE`). Validated up front with every
 * problem reported with its path (docs/architecture.md: "validate everything up front"), then frozen. Defaults
 * are chosen for one district on one host; every number here is overridable.
 */

const MiB = 1024 * 1024;

export const TlsConfig = z
  .object({
    certFile: z.string().min(1),
    keyFile: z.string().min(1),
  })
  .strict();

export const RateLimitConfig = z
  .object({
    /** Requests per window per credential (or per client IP for unauthenticated requests). */
    max: z.number().int().positive().default(1200),
    timeWindowMs: z.number().int().positive().default(60_000),
  })
  .strict();

export const HttpConfig = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535),
    tls: TlsConfig.optional(),
    /** Largest request body as sent on the wire (compressed), bytes. */
    bodyLimitBytes: z
      .number()
      .int()
      .positive()
      .default(4 * MiB),
    /** Largest body after gzip inflation, bytes: a small gzip bomb must not inflate to gigabytes. */
    maxInflatedBytes: z
      .number()
      .int()
      .positive()
      .default(32 * MiB),
    rateLimit: RateLimitConfig.default({ max: 1200, timeWindowMs: 60_000 }),
    /** Behind a reverse proxy: trust X-Forwarded-For for the client IP (rate limits, logs). */
    trustProxy: z.boolean().default(false),
    /**
     * Longest wait for a request's headers, ms (Node's server.headersTimeout): a client that
     * trickles its headers is cut off with 408.
     */
    headersTimeoutMs: z.number().int().min(100).max(600_000).default(20_000),
    /**
     * Longest wait for a whole request, body included, ms (Node's server.requestTimeout): a client
     * sending a byte now and then is cut off with 408. 120 s carries a full 4 MiB batch over a
     * 1 Mbit/s 4G uplink three times over.
     */
    requestTimeoutMs: z.number().int().min(100).max(3_600_000).default(120_000),
    /**
     * A connection with nothing sent either way this long is closed, ms (socket inactivity;
     * fastify's connectionTimeout). The console's live push writes a heartbeat every 15 s.
     */
    idleTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000),
    /** Open connections at once (Node's server.maxConnections); more are closed as they arrive. */
    maxConnections: z.number().int().min(1).max(1_000_000).default(10_000),
  })
  .strict()
  .refine((h) => h.headersTimeoutMs <= h.requestTimeoutMs, {
    path: ['headersTimeoutMs'],
    message: 'must not exceed requestTimeoutMs',
  });

/**
 * Password sign-in (console and /v1/api-tokens; cloud/auth/README.md): the lock per (user name,
 * source address), the rates per address and in all, and the pool of threads that runs scrypt.
 */
export const SignInConfig = z
  .object({
    lockout: z
      .object({
        /** Attempts per (user name, source) before a lock; no more than these are ever checked per round. */
        attempts: z.number().int().min(1).max(100).default(5),
        /** The first lock, ms; each further lock of the same key doubles it. */
        firstLockMs: z.number().int().min(1000).max(86_400_000).default(60_000),
        /** The longest lock, ms. */
        maxLockMs: z
          .number()
          .int()
          .min(1000)
          .max(7 * 86_400_000)
          .default(3_600_000),
        /** Attempts are counted afresh after this long without one, ms. */
        quietMs: z
          .number()
          .int()
          .min(1000)
          .max(7 * 86_400_000)
          .default(15 * 60_000),
        /** Locks are forgotten (the delay starts again at firstLockMs) after this long without an attempt, ms. */
        forgetMs: z
          .number()
          .int()
          .min(60_000)
          .max(30 * 86_400_000)
          .default(86_400_000),
      })
      .strict()
      .prefault({}),
    /** Sign-ins per source address per window (this instance). */
    perSource: z
      .object({
        max: z.number().int().min(1).default(60),
        windowMs: z.number().int().min(1000).default(60_000),
      })
      .strict()
      .prefault({}),
    /** Sign-ins from everywhere per window (this instance). */
    global: z
      .object({
        max: z.number().int().min(1).default(600),
        windowMs: z.number().int().min(1000).default(60_000),
      })
      .strict()
      .prefault({}),
    /** Threads hashing passwords, and checks that may wait for one; the next is answered 503. */
    pool: z
      .object({
        threads: z.number().int().min(1).max(64).default(2),
        maxQueue: z.number().int().min(0).max(10_000).default(32),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((c) => c.lockout.firstLockMs <= c.lockout.maxLockMs, {
    path: ['lockout', 'firstLockMs'],
    message: 'must not exceed lockout.maxLockMs',
  });
export type SignInConfig = z.infer<typeof SignInConfig>;

export const StorageConfig = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('memory') }).strict(),
  z.object({ kind: z.literal('sqlite'), path: z.string().min(1) }).strict(),
  z
    .object({
      kind: z.literal('postgres'),
      url: z.string().min(1),
      poolSize: z.number().int().positive().optional(),
    })
    .strict(),
]);
export type StorageConfig = z.infer<typeof StorageConfig>;

/**
 * The tier feed is built by cloud/feed; this service only passes its settings through to the
 * injected FeedSink factory, which validates `curve` itself.
 */
export const FeedConfig = z
  .object({
    endpoint: z.string().min(1),
    sendHighWaterMark: z.number().int().positive().optional(),
    queueLimit: z.number().int().positive().optional(),
    curve: z.record(z.string(), z.unknown()).optional(),
    plaintextLoopback: z.boolean().optional(),
  })
  .strict();
export type FeedConfig = z.infer<typeof FeedConfig>;

export const IngestLimits = z
  .object({
    /** Latest accepted time of any record, as cloud time, after the cloud clock, ms (1 day). */
    maxAheadMs: z
      .number()
      .int()
      .min(60_000)
      .max(30 * 86_400_000)
      .default(86_400_000),
    /** Earliest accepted time of any record, before the gateway's enrolment, ms (30 days). */
    maxBeforeEnrolmentMs: z
      .number()
      .int()
      .min(0)
      .max(3650 * 86_400_000)
      .default(30 * 86_400_000),
    /** Devices one gateway may register (a batch that would pass it is refused). */
    maxDevicesPerGateway: z.number().int().min(1).max(100_000).default(2000),
  })
  .strict();
export type IngestLimits = z.infer<typeof IngestLimits>;

export const SiteEntry = z
  .object({
    /** `district/town` or `district/town/community`; the district itself comes from `district`. */
    path: ScopePath,
    name: z.string().min(1).max(120),
  })
  .strict();

export const AdminBootstrap = z
  .object({
    username: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{1,63}$/, 'must be 2–64 chars: a-z, 0-9, ".", "_" or "-"'),
    password: z.string().min(12, 'must be at least 12 characters').optional(),
    passwordHash: z
      .string()
      .regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, 'must be scrypt$N$r$p$salt$hash')
      .optional(),
  })
  .strict()
  .refine((a) => (a.password === undefined) !== (a.passwordHash === undefined), {
    message: 'give exactly one of password or passwordHash',
    path: ['password'],
  });

/**
 * Notifiers (cloud/notify): how duty staff are reached. Per-person addresses (WeCom and DingTalk
 * robots, webhooks, e-mail) come with each notification; this section holds what is shared.
 */
export const NotifyConfig = z
  .object({
    /** Language of messages for recipients that do not choose one. */
    language: z.enum(['zh', 'en']).default('zh'),
    /** Base URL for relative links in messages (view / acknowledge / feedback). */
    publicUrl: z.url().optional(),
    /** Limit of one delivery attempt (connect, send, answer), ms. */
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    /** Per channel kind: its own attempt timeout and concurrency per endpoint (a robot, a webhook URL, the SMTP relay). */
    perChannel: z
      .partialRecord(
        z.enum(['webhook', 'wecom', 'dingtalk', 'email', 'sms', 'voice', 'smpp']),
        z
          .object({
            timeoutMs: z.number().int().min(100).max(120_000).optional(),
            concurrency: z.number().int().min(1).max(64).optional(),
          })
          .strict(),
      )
      .default({}),
    /**
     * Every endpoint's queue and circuit breaker (cloud/notify/lanes.ts): after `failuresToOpen`
     * failed attempts in a row its attempts fail at once for `openMs`, so the delivery-failure
     * fallback takes over without waiting out timeouts.
     */
    endpoints: z
      .object({
        concurrency: z.number().int().min(1).max(64).default(4),
        failuresToOpen: z.number().int().min(1).max(100).default(3),
        openMs: z.number().int().min(1_000).max(3_600_000).default(30_000),
      })
      .strict()
      .prefault({}),
    /** Attempts in flight per channel kind, over all its endpoints. */
    channelConcurrency: z.number().int().min(1).max(1_000).default(32),
    retry: z
      .object({
        attempts: z.number().int().min(1).max(10).default(3),
        baseDelayMs: z.number().int().min(0).max(600_000).default(2_000),
        factor: z.number().min(1).max(10).default(2),
        maxDelayMs: z.number().int().min(0).max(3_600_000).default(60_000),
      })
      .strict()
      .prefault({}),
    smtp: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65_535).default(587),
        /** starttls: upgrade required (587); tls: implicit TLS (465); none: plain (local relay only). */
        security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
        auth: z
          .object({ user: z.string().min(1), pass: z.string().min(1) })
          .strict()
          .optional(),
        /** Sender, e.g. `"doorstep 值班" <duty@example.cn>`. */
        from: z.string().min(3),
        rejectUnauthorized: z.boolean().default(true),
      })
      .strict()
      .optional(),
    /**
     * Action links (cloud/phone/README.md): every case of a message gets its own link, signed for
     * the recipient (HMAC-SHA256), that opens the phone page with 确认 and 反馈. All instances of a
     * cloud need the same `secret`; without one each start draws a random secret, and links stop
     * working at a restart or on another instance (logged as a warning).
     */
    links: z
      .object({
        secret: z.string().min(32, 'must be at least 32 characters').optional(),
        /** How long a link works after its message was sent (it stops earlier when the case closes). */
        ttlHours: z.number().positive().max(720).default(24),
      })
      .strict()
      .prefault({}),
    /**
     * SMS through Aliyun Dysmsapi `SendSms` (cloud/notify/channels/aliyun.ts) for `sms` addresses.
     * The template is approved in the Aliyun console; `params` are the variables it uses.
     */
    sms: z
      .preprocess(
        // `provider` may be left out: Aliyun.
        (v) => (v && typeof v === 'object' && !('provider' in v) ? { ...v, provider: 'aliyun' } : v),
        z.discriminatedUnion('provider', [
          z
            .object({
              provider: z.literal('aliyun'),
              endpoint: z.url().default('https://dysmsapi.aliyuncs.com/'),
              accessKeyId: z.string().min(1),
              accessKeySecret: z.string().min(1),
              regionId: z.string().min(1).default('cn-hangzhou'),
              /** 短信签名, approved in the console. */
              signName: z.string().min(1).max(64),
              /** 模板 CODE, e.g. SMS_123456789. */
              templateCode: z
                .string()
                .regex(/^SMS_\d+$/, 'must be an Aliyun template code (SMS_ and digits)'),
              params: z
                .array(z.enum(TEMPLATE_KEYS))
                .min(1)
                .refine((a) => new Set(a).size === a.length, 'a variable is listed twice')
                .default(['stage', 'severity', 'type', 'site', 'location', 'value', 'time']),
              /** Longest value of one variable, characters; longer values are cut with "…". */
              maxParamChars: z.number().int().min(2).max(500).default(35),
            })
            .strict(),
          /**
           * Tencent Cloud SMS `SendSms` 2021-01-11 with TC3-HMAC-SHA256
           * (cloud/notify/channels/tencent.ts). Its templates are positional ({1}, {2} …):
           * `params` gives the values in that order.
           */
          z
            .object({
              provider: z.literal('tencent'),
              endpoint: z.url().default('https://sms.tencentcloudapi.com/'),
              secretId: z.string().min(1),
              secretKey: z.string().min(1),
              region: z.string().min(1).default('ap-guangzhou'),
              smsSdkAppId: z.string().regex(/^\d+$/, 'must be the SDK AppID (digits)'),
              signName: z.string().min(1).max(64),
              templateId: z.string().regex(/^\d+$/, 'must be a template ID (digits)'),
              params: z.array(z.enum(TEMPLATE_KEYS)).min(1).default(['stage', 'site', 'location', 'type']),
              maxParamChars: z.number().int().min(2).max(500).default(12),
            })
            .strict(),
        ]),
      )
      .optional(),
    /**
     * Text-to-speech calls through Aliyun Dyvmsapi `SingleCallByTts` for `voice` addresses (by
     * default critical cases at 提醒 and 督办: escalation.people[].channels[].when).
     */
    voice: z
      .object({
        provider: z.literal('aliyun').default('aliyun'),
        endpoint: z.url().default('https://dyvmsapi.aliyuncs.com/'),
        accessKeyId: z.string().min(1),
        accessKeySecret: z.string().min(1),
        regionId: z.string().min(1).default('cn-hangzhou'),
        /** 文本转语音模板 ID, e.g. TTS_123456789. */
        ttsCode: z.string().regex(/^TTS_\d+$/, 'must be an Aliyun TTS template code (TTS_ and digits)'),
        /** 被叫显号 (a number bought in the console); absent: the public number pool. */
        calledShowNumber: z
          .string()
          .regex(/^\d{5,20}$/, 'must be digits')
          .optional(),
        playTimes: z.number().int().min(1).max(3).default(2),
        params: z
          .array(z.enum(TEMPLATE_KEYS))
          .min(1)
          .refine((a) => new Set(a).size === a.length, 'a variable is listed twice')
          .default(['severity', 'type', 'site', 'location']),
        maxParamChars: z.number().int().min(2).max(500).default(35),
      })
      .strict()
      .optional(),
    /**
     * An operator's SMS centre over SMPP 3.4 (cloud/notify/channels/smpp.ts) for `smpp`
     * addresses: one bound transmitter session, kept alive with enquire_link, reconnected.
     */
    smpp: z
      .object({
        /** smpp://host:port (ssmpp:// for TLS). */
        url: z.string().regex(/^s?smpp:\/\/[^/\s]+$/, 'must be smpp://host:port or ssmpp://host:port'),
        /** SMPP 3.4 §4.1.1: system_id ≤ 15 characters, password ≤ 8. */
        systemId: z.string().min(1).max(15),
        password: z.string().max(8),
        systemType: z.string().max(12).default(''),
        /** The sender: an access code (106…) or an alphanumeric sender the operator allows. */
        sourceAddr: z.string().min(1).max(20),
        /** Keep-alive interval (enquire_link), ms. */
        enquireLinkMs: z.number().int().min(1_000).max(600_000).default(30_000),
        /** Wait after a lost or refused session before binding again, ms. */
        reconnectMs: z.number().int().min(100).max(600_000).default(5_000),
        /** Long texts: concatenated parts with a UDH (`udh`) or one message_payload TLV (`payload`). */
        longMessages: z.enum(['udh', 'payload']).default('udh'),
        /** Most parts one message may take; the text is shortened to fit. */
        maxParts: z.number().int().min(1).max(10).default(4),
        /** Ask the SMSC for a delivery receipt (registered_delivery 1). */
        deliveryReceipt: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /** The duty inbox (cloud/notify/inbox.ts): a signed-webhook receiver with a small web page. */
    inbox: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535),
        secret: z.string().min(16),
        keep: z.number().int().min(1).max(10_000).default(200),
      })
      .strict()
      .optional(),
  })
  .strict();
export type NotifyConfig = z.infer<typeof NotifyConfig>;

export const CloudConfig = z
  .object({
    district: z.object({ slug: Slug, name: z.string().min(1).max(120) }).strict(),
    http: HttpConfig,
    storage: StorageConfig,
    feed: FeedConfig.optional(),
    notify: NotifyConfig.optional(),
    bootstrap: z
      .object({
        admin: AdminBootstrap.optional(),
        sites: z.array(SiteEntry).max(10_000).default([]),
      })
      .strict()
      .default({ sites: [] }),
    retention: z
      .object({
        rawDays: z.number().int().positive().default(90),
        minuteDays: z.number().int().positive().default(400),
      })
      .strict()
      .default({ rawDays: 90, minuteDays: 400 }),
    rollupIntervalMs: z.number().int().min(1000).default(60_000),
    /**
     * What one gateway may claim (cloud/README.md, "The clock-offset rule" and "Limits per
     * gateway"): a compromised or broken gateway must not skew the district's time line or
     * registry.
     */
    ingest: IngestLimits.prefault({}),
    /** Password sign-in: lockout, rates, hashing threads (cloud/auth/README.md). */
    signIn: SignInConfig.prefault({}),
    /** Base URL gateways use to reach this service (returned as syncUrl at enrolment). */
    publicUrl: z.url().optional(),
    credentials: z
      .object({
        /** How long a rotated-out gateway credential stays valid, hours. */
        rotationGraceHours: z.number().positive().max(720).default(24),
        /** Longest enrolment token lifetime a supervisor may ask for, hours. */
        maxEnrollmentTtlHours: z.number().positive().max(8760).default(720),
        /** Default and longest API token lifetime, days. */
        apiTokenTtlDays: z.number().positive().max(3650).default(365),
      })
      .strict()
      .default({ rotationGraceHours: 24, maxEnrollmentTtlHours: 720, apiTokenTtlDays: 365 }),
    /** People directory, duty rosters, escalation policies, noise control (cloud/escalation/README.md). */
    escalation: EscalationConfig.prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .default({ level: 'info' }),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Sites must lie in this district and form a tree: a community's town must be listed too.
    const listed = new Set(c.bootstrap.sites.map((s) => s.path));
    c.bootstrap.sites.forEach((s, i) => {
      const parts = s.path.split('/');
      const at = ['bootstrap', 'sites', i, 'path'];
      if (parts[0] !== c.district.slug)
        ctx.addIssue({ code: 'custom', path: at, message: `must lie in district "${c.district.slug}"` });
      else if (parts.length === 1)
        ctx.addIssue({ code: 'custom', path: at, message: 'the district node comes from `district`' });
      else if (parts.length === 3 && !listed.has(parts.slice(0, 2).join('/')))
        ctx.addIssue({
          code: 'custom',
          path: at,
          message: `town "${parts.slice(0, 2).join('/')}" is not listed`,
        });
    });
    if (listed.size !== c.bootstrap.sites.length) {
      const seen = new Set<string>();
      c.bootstrap.sites.forEach((s, i) => {
        if (seen.has(s.path))
          ctx.addIssue({ code: 'custom', path: ['bootstrap', 'sites', i, 'path'], message: 'listed twice' });
        seen.add(s.path);
      });
    }
  });
export type CloudConfig = z.infer<typeof CloudConfig>;
export type CloudConfigInput = z.input<typeof CloudConfig>;
