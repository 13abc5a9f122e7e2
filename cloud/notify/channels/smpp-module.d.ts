/**
 * The part of the `smpp` package (farhadi/node-smpp 0.5, SMPP 3.4/5.0 client and server, no
 * bundled types) that doorstep and its tests use.
 */
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer } from 'node:net';

  export interface Pdu {
    command: string;
    command_status: number;
    sequence_number: number;
    [field: string]: unknown;
    isResponse(): boolean;
    response(options?: Record<string, unknown>): Pdu;
  }

  export interface Session extends EventEmitter {
    send(pdu: Pdu, onResponse?: (pdu: Pdu) => void): boolean;
    bind_transmitter(options: Record<string, unknown>, onResponse?: (pdu: Pdu) => void): boolean;
    submit_sm(options: Record<string, unknown>, onResponse?: (pdu: Pdu) => void): boolean;
    enquire_link(options?: Record<string, unknown>, onResponse?: (pdu: Pdu) => void): boolean;
    unbind(options?: Record<string, unknown>, onResponse?: (pdu: Pdu) => void): boolean;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    pause(): void;
    resume(): void;
  }

  export interface SmppServer extends NetServer {
    sessions: Session[];
  }

  interface Smpp {
    connect(options: { url: string; auto_enquire_link_period?: number }, listener?: () => void): Session;
    createServer(options: Record<string, unknown>, listener: (session: Session) => void): SmppServer;
    PDU: new (command: string, options?: Record<string, unknown>) => Pdu;
    [constant: string]: unknown;
  }

  const smpp: Smpp;
  export default smpp;
}
