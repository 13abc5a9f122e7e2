/**
 * Progress for long installer operations: a one-line bar with ETA redrawn in place on a terminal,
 * plain lines (no control characters) when the output is a file, a pipe or a CI log.
 */

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '--:--';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export function renderBar(done: number, total: number, width = 24): string {
  const share = total === 0 ? 1 : Math.min(1, done / total);
  const full = Math.round(share * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(Math.floor(share * 100)).padStart(3)}%`;
}

/** Terminal columns a string takes: CJK and full-width characters take two (location labels). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    width +=
      (cp >= 0x1100 && cp <= 0x115f) ||
      (cp >= 0x2e80 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) ||
      (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6)
        ? 2
        : 1;
  }
  return width;
}

export function padDisplay(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

export interface ProgressWriter {
  /** Redraws the status line (TTY) or prints it when `milestone` (plain). */
  status(line: string, milestone?: boolean): void;
  /** Prints a line that stays (a found device), above the status line on a TTY. */
  line(text: string): void;
  /** Removes the status line (TTY) before the final output. */
  done(): void;
}

/** `tty`: redraw in place (only on a terminal that understands \r and erase-line). */
export function progressWriter(stream: { write(text: string): unknown }, tty: boolean): ProgressWriter {
  let last = '';
  let lastDrawAt = 0;
  return {
    status(text, milestone = false) {
      if (!tty) {
        if (milestone) stream.write(`${text}\n`);
        return;
      }
      last = text;
      const now = Date.now();
      // Redraw at most 10 times a second: a fast scan must not spend its time on the terminal.
      if (!milestone && now - lastDrawAt < 100) return;
      lastDrawAt = now;
      stream.write(`\r\x1b[K${text}`);
    },
    line(text) {
      if (tty) stream.write(`\r\x1b[K${text}\n${last}`);
      else stream.write(`${text}\n`);
    },
    done() {
      if (tty) stream.write('\r\x1b[K');
      last = '';
    },
  };
}
