import type { Context } from 'zeromq';
import { Reply } from 'zeromq';
import { z } from 'zod';

/**
 * CURVE keys as zeromq prints them: Z85 text, 40 characters for 32 bytes (ZeroMQ RFC 32/Z85).
 * Checked up front so a pasted key with a missing character fails at configuration time with its
 * path instead of as an opaque EINVAL from the socket.
 */
const Z85_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
export const CurveKey = z
  .string()
  .regex(/^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/, 'must be a 40-character Z85 CURVE key');
export type CurveKey = z.infer<typeof CurveKey>;

/** Z85 decode (RFC 32): every 5 characters are one big-endian 32-bit word. */
export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0) throw new Error('Z85 text length must be a multiple of 5');
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const digit = Z85_ALPHABET.indexOf(text.charAt(i + j));
      if (digit < 0) throw new Error(`not a Z85 character: ${text.charAt(i + j)}`);
      value = value * 85 + digit;
    }
    out.writeUInt32BE(value >>> 0, (i / 5) * 4);
  }
  return out;
}

/** The inproc address libzmq asks for authentication (ZeroMQ RFC 27/ZAP). */
const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

/**
 * A ZAP handler (ZeroMQ RFC 27) that admits a CURVE client only where its public key is listed
 * for the ZAP domain of the socket it connects to. The publisher gives each of its sockets (the
 * district outlet and every scoped outlet) its own domain, so a key listed for one town's outlet
 * is refused at every other: the scope a subscriber sees is bound to its key, not to the topic
 * prefix it asks for. It must live in the same zeromq Context as the sockets it guards; the
 * publisher gives each instance its own Context so two feeds in one process never share a handler.
 */
export class ZapAllowList {
  /** ZAP domain → raw client keys (hex) admitted there. */
  private readonly allowed: Map<string, Set<string>>;
  private socket: Reply | undefined;
  private loop: Promise<void> | undefined;
  /** Handshakes refused because the client key was not on the list (for stats). */
  denied = 0;

  constructor(
    private readonly context: Context,
    clientPublicKeysByDomain: ReadonlyMap<string, readonly string[]>,
  ) {
    // Compare raw 32-byte keys: the ZAP request carries the key in binary, not Z85.
    this.allowed = new Map(
      [...clientPublicKeysByDomain].map(([domain, keys]) => [
        domain,
        new Set(keys.map((key) => z85Decode(key).toString('hex'))),
      ]),
    );
  }

  async start(): Promise<void> {
    const socket = new Reply({ context: this.context, linger: 0 });
    await socket.bind(ZAP_ENDPOINT);
    this.socket = socket;
    this.loop = this.serve(socket);
  }

  private async serve(socket: Reply): Promise<void> {
    try {
      for await (const frames of socket) {
        // RFC 27 request: version, request id, domain, address, identity, mechanism, credentials…
        const [version, requestId, domain, , , mechanism, credential] = frames;
        const ok =
          mechanism?.toString() === 'CURVE' &&
          credential !== undefined &&
          (this.allowed.get(domain?.toString() ?? '')?.has(credential.toString('hex')) ?? false);
        if (!ok) this.denied++;
        await socket.send([
          version ?? '1.0',
          requestId ?? '',
          ok ? '200' : '400',
          ok ? 'OK' : 'client key not allowed',
          '',
          '',
        ]);
      }
    } catch (error) {
      // Closing the socket ends the iteration with EAGAIN/ETERM; anything else is a real fault,
      // but the only effect of a dead handler is that libzmq refuses every client (fails closed).
      if (!socket.closed) throw error;
    }
  }

  async stop(): Promise<void> {
    this.socket?.close();
    await this.loop?.catch(() => undefined);
    this.socket = undefined;
    this.loop = undefined;
  }
}
