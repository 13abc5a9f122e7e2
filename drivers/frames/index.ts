export * from './ascii.js';
export * from './binary.js';
export * from './health.js';
export * from './profiles/decode.js';
export * from './profiles/registry.js';
export * from './profiles/schema.js';
export * from './receiver.js';
export * from './types.js';

import { type AsciiDecoderOptions, AsciiFrameDecoder } from './ascii.js';
import { BinaryFrameDecoder } from './binary.js';
import type { FrameCodec, FrameDecoder } from './types.js';

/** A decoder for `codec`. */
export function createFrameDecoder(codec: FrameCodec, options: AsciiDecoderOptions = {}): FrameDecoder {
  return codec === 'ascii' ? new AsciiFrameDecoder(options) : new BinaryFrameDecoder({ link: options.link });
}
