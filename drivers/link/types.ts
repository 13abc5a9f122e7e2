/**
 * A byte link to a bus or a device: an RS-485 serial port, a TCP socket, or an in-memory pair.
 * Everything above (Modbus masters, frame receivers, simulators) talks to a Link, never to
 * serialport or net directly, so the same code runs over real ports, ptys, sockets and memory.
 */
export interface Link {
  /** Human-readable name for logs and errors, e.g. `serial:/dev/serial/by-id/usb-FTDI…` or `tcp:127.0.0.1:502`. */
  readonly name: string;
  readonly isOpen: boolean;
  /** Opens the link; rejects with DRV_ERR_LINK_OPEN. Opening an open link is a no-op. */
  open(): Promise<void>;
  /** Closes the link; closing a closed link is a no-op. */
  close(): Promise<void>;
  /** Writes bytes; resolves once they are handed to the OS (drained for serial). Rejects with DRV_ERR_LINK_DOWN when closed. */
  write(data: Uint8Array): Promise<void>;
  /** Subscribes to received bytes; returns an unsubscribe function. */
  onData(listener: (chunk: Buffer) => void): () => void;
  /** Called when the link goes away unexpectedly (unplug, peer closed) or is closed; `error` set when unexpected. */
  onClose(listener: (error?: Error) => void): () => void;
}

/** Serial line settings (Modbus over serial line v1.02 §2.5.1: 8 data bits; even parity is the default). */
export interface SerialSettings {
  baudRate: number;
  parity: 'none' | 'even' | 'odd';
  dataBits: 7 | 8;
  stopBits: 1 | 2;
}

/** Bits on the wire per character: start + data + parity + stop (e.g. 8N1 = 10, 8E1 = 11). */
export function bitsPerCharacter(settings: SerialSettings): number {
  return 1 + settings.dataBits + (settings.parity === 'none' ? 0 : 1) + settings.stopBits;
}

/** Wire time of `bytes` characters in ms at the given settings. */
export function wireTimeMs(bytes: number, settings: SerialSettings): number {
  return (bytes * bitsPerCharacter(settings) * 1000) / settings.baudRate;
}

/**
 * The silent interval that ends an RTU frame. Modbus over serial line v1.02 §2.5.1.1: t3.5 is
 * 3.5 character times (11 bits/char is the reference) up to 19200 baud, and a fixed 1.75 ms above.
 */
export function silentIntervalMs(baudRate: number): number {
  if (baudRate > 19200) return 1.75;
  return (3.5 * 11 * 1000) / baudRate;
}
