/**
 * Request and response shapes of the case API (cloud/http/routes/alarms.ts). Requests are parsed
 * with these (unknown fields refused, the offending field named); /openapi.json documents them.
 */
import { z } from 'zod';
import { AlarmSeverity, ScopePath, SitePath } from '../../protocol/index.js';
import { type AlarmCase, isaState, STAGES } from './contract.js';
import { MAX_CASE_LIMIT } from './store/port.js';

const Ms = z.number().int().nonnegative();
const QueryMs = z.coerce.number().int().nonnegative();
const Text = (max: number) => z.string().trim().min(1, 'is required').max(max, `must be ≤ ${max} characters`);
const PersonView = z.object({ id: z.string(), name: z.string() }).strict();
const Cause = z.enum(['real', 'false_alarm', 'test', 'maintenance', 'other']);

export const CaseId = z.object({ id: z.string().min(1).max(96) }).strict();

export const CasesQuery = z
  .object({
    scope: ScopePath.optional(),
    stage: z.enum(STAGES as [string, ...string[]]).optional(),
    open: z.enum(['true', 'false']).optional(),
    from: QueryMs.optional(),
    to: QueryMs.optional(),
    limit: z.coerce.number().int().min(1).max(MAX_CASE_LIMIT).optional(),
  })
  .strict();

/** 2 MB of image (decoded), as the feedback form allows; ~2.7 MB as base64, inside the body limit. */
export const MAX_PHOTO_BYTES = 2 * 1024 * 1024;
const PHOTO = /^data:image\/(jpeg|png);base64,([A-Za-z0-9+/]+={0,2})$/;
/** JPEG SOI + marker (ISO/IEC 10918-1 B.1.1.2) and the PNG signature (ISO/IEC 15948 §5.2). */
const MAGIC: Record<string, number[]> = { jpeg: [0xff, 0xd8, 0xff], png: [0x89, 0x50, 0x4e, 0x47] };

export const Photo = z.string().superRefine((value, ctx) => {
  const m = PHOTO.exec(value);
  if (!m) {
    ctx.addIssue({ code: 'custom', message: 'must be a data URL of an image/jpeg or image/png (base64)' });
    return;
  }
  const base64 = m[2] ?? '';
  if ((base64.length * 3) / 4 > MAX_PHOTO_BYTES + 3) {
    ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_PHOTO_BYTES} bytes` });
    return;
  }
  const head = Buffer.from(base64.slice(0, 16), 'base64');
  if (!(MAGIC[m[1] ?? ''] ?? []).every((b, i) => head[i] === b))
    ctx.addIssue({ code: 'custom', message: `is not a ${m[1]} image` });
});

export const FeedbackRequest = z.object({ cause: Cause, note: Text(500), photo: Photo.optional() }).strict();

export const ShelveRequest = z
  .object({
    reason: Text(500),
    /** Hours from now, 0 < h ≤ 24 … */
    hours: z.number().positive().max(24).optional(),
    /** … or an absolute end (cloud time, ms), at most 24 h ahead. */
    until: Ms.optional(),
  })
  .strict()
  .refine((b) => (b.hours === undefined) !== (b.until === undefined), {
    message: 'give exactly one of hours or until',
    path: ['until'],
  });

export const OutOfServiceRequest = z.object({ reason: Text(500), until: Ms.optional() }).strict();

/** Actions without parameters accept an empty object (or no body). */
export const EmptyRequest = z.object({}).strict().optional();

export const CaseView = z
  .object({
    id: z.string(),
    gateway: z.string(),
    site: SitePath,
    device: z.string(),
    location: z.string().optional(),
    type: z.string(),
    severity: AlarmSeverity,
    test: z.boolean(),
    latched: z.boolean(),
    dedupKey: z.string(),
    /** How many times the condition occurred in this case. */
    occurrence: z.number().int(),
    /** The newest occurrences (≤ 100), oldest first; the audit trail has every one. */
    occurrences: z
      .array(
        z
          .object({
            alarm: z.string(),
            raisedAt: z.number().int().optional(),
            receivedAt: Ms,
            clearedAt: z.number().int().optional(),
            resetAt: z.number().int().optional(),
            value: z.union([z.number(), z.boolean(), z.string()]).optional(),
          })
          .strict(),
      )
      .optional(),
    /** The last acknowledgement, feedback or reset request; the red light counts 7 days from it. */
    lastActivityAt: Ms.optional(),
    previousCase: z.string().optional(),
    condition: z.enum(['active', 'cleared', 'latched']),
    acked: z.boolean(),
    ackedBy: PersonView.optional(),
    ackedAt: Ms.optional(),
    shelved: z.object({ until: Ms, by: PersonView, reason: z.string() }).strict().optional(),
    suppressed: z.boolean(),
    outOfService: z.object({ by: PersonView, reason: z.string(), until: Ms.optional() }).strict().optional(),
    stage: z.enum(STAGES as [string, ...string[]]),
    feedback: z
      .object({ cause: Cause, note: z.string(), photo: z.string().optional(), by: PersonView, at: Ms })
      .strict()
      .optional(),
    closedBy: PersonView.optional(),
    closedAt: Ms.optional(),
    raisedAt: z.number().int(),
    receivedAt: z.number().int().optional(),
    clearedAt: z.number().int().optional(),
    resetAt: z.number().int().optional(),
    updatedAt: Ms,
    value: z.union([z.number(), z.boolean(), z.string()]).optional(),
    message: z.string().optional(),
    policy: z.object({ id: z.string(), version: z.number() }).strict().optional(),
    /** ISA-18.2 state: condition × acknowledgement. */
    isa: z.enum(['NORMAL', 'UNACK', 'ACKED', 'RTN_UNACK']),
  })
  .strict();

export const AuditView = z
  .object({
    seq: z.number().int().optional(),
    caseId: z.string(),
    at: Ms,
    action: z.string(),
    actor: z
      .object({
        kind: z.enum(['user', 'system', 'gateway']),
        id: z.string(),
        name: z.string(),
        ip: z.string().optional(),
        userAgent: z.string().optional(),
      })
      .strict(),
    before: z.record(z.string(), z.unknown()).optional(),
    after: z.record(z.string(), z.unknown()).optional(),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const CasesResponse = z.object({ items: z.array(CaseView) }).strict();
export const CaseResponse = z.object({ case: CaseView, audit: z.array(AuditView) }).strict();
export const ActionResponse = z.object({ case: CaseView }).strict();
export const PhotoResponse = z.object({ photo: z.string() }).strict();

export function caseView(c: AlarmCase): z.output<typeof CaseView> {
  return { ...c, isa: isaState(c.condition, c.acked) };
}
