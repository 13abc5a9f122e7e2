import type { ParsedGatewayConfig } from '../edge/config/schema.js';

/**
 * `/dev/serial/by-id/usb-<ID_SERIAL>-if<NN>[-port<N>]` is how udev's persistent-serial rules name
 * a USB serial interface; the same two properties select it in a rule of ours.
 */
export function parseById(port: string): { serial: string; interfaceNum: string } | undefined {
  const m = /^\/dev\/serial\/by-id\/usb-(.+)-if(\d{2})(?:-port\d+)?$/.exec(port);
  return m ? { serial: m[1]!, interfaceNum: m[2]! } : undefined;
}

/**
 * A udev rule per serial bus: a stable `/dev/doorstep/<bus id>` name, the dialout group the unit
 * runs in, and the FTDI latency timer cut from 16 ms to 1 ms (docs/stack.md: FTDI adapters add up
 * to 16 ms per reply otherwise).
 */
export function udevRules(config: Pick<ParsedGatewayConfig, 'buses' | 'gateway'>): string {
  const lines = [
    `# written by doorstep provision flash for ${config.gateway.id}: stable names for its RS-485 adapters`,
    'ACTION=="add", SUBSYSTEM=="usb-serial", DRIVER=="ftdi_sio", ATTR{latency_timer}="1"',
  ];
  for (const bus of config.buses) {
    if (bus.type !== 'rtu' && bus.type !== 'frames') continue;
    const id = parseById(bus.port);
    if (id)
      lines.push(
        `# bus ${bus.id}: ${bus.port}`,
        `SUBSYSTEM=="tty", ENV{ID_SERIAL}=="${id.serial}", ENV{ID_USB_INTERFACE_NUM}=="${id.interfaceNum}", SYMLINK+="doorstep/${bus.id}", GROUP="dialout", MODE="0660"`,
      );
    else
      lines.push(
        `# bus ${bus.id}: ${bus.port} is not a /dev/serial/by-id path, so no stable rule can be written;`,
        '# it may change name on replug — configure the by-id path (ls -l /dev/serial/by-id/).',
      );
  }
  return `${lines.join('\n')}\n`;
}
