/**
 * A local SMS centre (SMSC) speaking SMPP 3.4, made with the `smpp` package's server
 * (`smpp.createServer`) on 127.0.0.1:0 — the peer is that package, not code of ours. It checks
 * bind_transmitter's system_id and password (ESME_RBINDFAIL otherwise), records
 * interface_version, refuses anything but UCS-2 (data_coding 8, decoded by the package), reassembles texts
 * split with a concatenation UDH (05 00 03 ref total seq) or carried in message_payload, answers
 * enquire_link, and can be told to throttle, refuse a destination, hang, or drop every session.
 */
import type { AddressInfo } from 'node:net';
import smpp, { type Pdu, type Session } from 'smpp';

export interface SmscMessage {
  source: string;
  destination: string;
  destTon: number;
  text: string;
  parts: number;
  /** How it arrived: one short_message, UDH-concatenated parts, or a message_payload. */
  via: 'single' | 'udh' | 'payload';
}

export interface Smsc {
  url: string;
  messages: SmscMessage[];
  binds: { systemId: string; ok: boolean; interfaceVersion: number }[];
  enquireLinks: number;
  submits: number;
  /** command_status to answer every submit_sm with (0 = ESME_ROK). */
  status: number;
  /** Destinations answered with ESME_RINVDSTADR (0x0B). */
  invalid: Set<string>;
  /** When true, submit_sm is never answered. */
  hang: boolean;
  /** When true, enquire_link is not answered (a half-dead link). */
  ignoreEnquireLink: boolean;
  /** Closes every bound session (an SMSC restart). */
  dropSessions(): void;
  close(): Promise<void>;
}

/** UCS-2 / UTF-16BE octets to text, without the package's decoder. */
function fromUcs2(octets: Buffer): string {
  const copy = Buffer.from(octets);
  if (copy.length % 2 !== 0) throw new Error(`odd UCS-2 length ${copy.length}`);
  return copy.swap16().toString('utf16le');
}

/**
 * A message field as the package decoded it (data_coding 8 → its UCS-2 decoder; with the UDH
 * indicator the header split off as information elements): the text and the concatenation IE.
 */
function field(value: unknown): { text: string; udh: Buffer[] } {
  if (Buffer.isBuffer(value)) return { text: fromUcs2(value), udh: [] };
  const v = value as { udh?: Buffer[]; message?: unknown } | undefined;
  if (!v) return { text: '', udh: [] };
  const text = Buffer.isBuffer(v.message) ? fromUcs2(v.message) : String(v.message ?? '');
  return { text, udh: v.udh ?? [] };
}

export async function startSmsc(credentials: { systemId: string; password: string }): Promise<Smsc> {
  const sessions = new Set<Session>();
  const pending = new Map<string, { parts: Map<number, string>; total: number }>();
  let seq = 0;
  const smsc: Smsc = {
    url: '',
    messages: [],
    binds: [],
    enquireLinks: 0,
    submits: 0,
    status: 0,
    invalid: new Set(),
    hang: false,
    ignoreEnquireLink: false,
    dropSessions() {
      for (const s of sessions) s.destroy();
    },
    close: async () => {},
  };
  const server = smpp.createServer({}, (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => {});
    let bound = false;
    session.on('bind_transmitter', (pdu: Pdu) => {
      const ok = pdu.system_id === credentials.systemId && pdu.password === credentials.password;
      smsc.binds.push({
        systemId: String(pdu.system_id),
        ok,
        interfaceVersion: Number(pdu.interface_version),
      });
      if (!ok) {
        session.send(pdu.response({ command_status: 0x0d }));
        session.close();
        return;
      }
      bound = true;
      session.send(pdu.response({ system_id: 'doorstep-test-smsc' }));
    });
    session.on('enquire_link', (pdu: Pdu) => {
      smsc.enquireLinks++;
      if (!smsc.ignoreEnquireLink) session.send(pdu.response());
    });
    session.on('unbind', (pdu: Pdu) => {
      session.send(pdu.response());
      session.close();
    });
    session.on('submit_sm', (pdu: Pdu) => {
      smsc.submits++;
      if (!bound) return void session.send(pdu.response({ command_status: 0x04 })); // ESME_RINVBNDSTS
      if (smsc.hang) return;
      const destination = String(pdu.destination_addr);
      if (smsc.invalid.has(destination)) return void session.send(pdu.response({ command_status: 0x0b }));
      if (smsc.status !== 0) return void session.send(pdu.response({ command_status: smsc.status }));
      if (pdu.data_coding !== 8) return void session.send(pdu.response({ command_status: 0x104 }));
      const messageId = `m${++seq}`;
      const base = {
        source: String(pdu.source_addr),
        destination,
        destTon: Number(pdu.dest_addr_ton),
      };
      const payload = field(pdu.message_payload);
      if (payload.text.length > 0) {
        smsc.messages.push({ ...base, text: payload.text, parts: 1, via: 'payload' });
      } else {
        const short = field(pdu.short_message);
        const udhi = (Number(pdu.esm_class) & 0x40) !== 0;
        if (!udhi) smsc.messages.push({ ...base, text: short.text, parts: 1, via: 'single' });
        else {
          // 8-bit reference concatenation IE: 00 03 ref total seq (GSM 03.40 §9.2.3.24.1).
          const ie = short.udh[0];
          if (ie?.[0] !== 0x00 || ie[1] !== 0x03)
            return void session.send(pdu.response({ command_status: 0xc1 }));
          const [ref, total, n] = [ie[2] ?? 0, ie[3] ?? 0, ie[4] ?? 0];
          const key = `${destination}/${ref}`;
          const entry = pending.get(key) ?? { parts: new Map<number, string>(), total };
          entry.parts.set(n, short.text);
          pending.set(key, entry);
          if (entry.parts.size === total) {
            pending.delete(key);
            const text = [...entry.parts.entries()]
              .sort((a, b) => a[0] - b[0])
              .map(([, t]) => t)
              .join('');
            smsc.messages.push({ ...base, text, parts: total, via: 'udh' });
          }
        }
      }
      session.send(pdu.response({ message_id: messageId }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  smsc.url = `smpp://127.0.0.1:${(server.address() as AddressInfo).port}`;
  smsc.close = async () => {
    smsc.dropSessions();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return smsc;
}
