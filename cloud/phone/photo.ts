/**
 * What a photo is, by its first bytes — never by its file name or the Content-Type a phone sent:
 * JPEG SOI + marker (ISO/IEC 10918-1 B.1.1.2), the PNG signature (ISO/IEC 15948 §5.2), WebP's
 * RIFF header with the `WEBP` form type (RFC 9649 §2.5).
 */
export type PhotoType = 'image/jpeg' | 'image/png' | 'image/webp';

const starts = (bytes: Buffer, magic: number[], at = 0) => magic.every((b, i) => bytes[at + i] === b);

export function sniffImage(bytes: Buffer): PhotoType | undefined {
  if (bytes.length >= 4 && starts(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) && bytes.length > 8) return 'image/png';
  // "RIFF" <size> "WEBP"
  if (
    bytes.length >= 16 &&
    starts(bytes, [0x52, 0x49, 0x46, 0x46]) &&
    starts(bytes, [0x57, 0x45, 0x42, 0x50], 8)
  )
    return 'image/webp';
  return undefined;
}
