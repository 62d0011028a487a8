/**
 * Progress on the terminal for long work (SRPM and RPM fetches, builds, waiting for verdicts). On a TTY
 * one line is redrawn in place (a bar for byte counts); on a pipe or in a log, a line is printed only
 * when the message changes, at most every 5 s, so logs stay quiet. Never used by the node service
 * itself, whose logs are structured (see docs/logging.md).
 */

/** @default 5 s between progress lines when the output is not a terminal */
const PIPE_INTERVAL_MS = 5_000
const BAR_WIDTH = 24

export interface ProgressOutput {
  write: (text: string) => unknown
  isTTY?: boolean
  columns?: number
}

export class Progress {
  private readonly out: ProgressOutput
  private readonly quiet: boolean
  private readonly tty: boolean
  private shown = false
  private lastText = ''
  private lastAt = 0

  constructor (out: ProgressOutput, opts: { quiet?: boolean, tty?: boolean } = {}) {
    this.out = out
    this.quiet = opts.quiet === true
    this.tty = opts.tty ?? out.isTTY === true
  }

  /** A one-line status, e.g. "waiting for verdicts: 2 of 3" */
  status (text: string): void {
    this.draw(text, text)
  }

  /** A byte-count bar: "label [#####.....] 42% 1.2/2.9 MB" */
  bar (label: string, done: number, total: number): void {
    const frac = total > 0 ? Math.min(1, done / total) : 1
    const pct = Math.floor(frac * 100)
    const filled = Math.round(frac * BAR_WIDTH)
    const text = `${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(pct).padStart(3)}% ${formatBytes(done)}/${formatBytes(total)}`
    // on a pipe, one line per 25% step at most
    this.draw(text, `${label} ${Math.floor(pct / 25) * 25}%`)
  }

  /** Removes the in-place line (before printing something else) */
  clear (): void {
    if (this.tty && this.shown) this.out.write('\r\x1b[2K')
    this.shown = false
  }

  private draw (text: string, key: string): void {
    if (this.quiet) return
    if (this.tty) {
      const width = Math.max(20, (this.out.columns ?? 100) - 1)
      this.out.write(`\r\x1b[2K${text.length > width ? text.slice(0, width - 1) + '…' : text}`)
      this.shown = true
      return
    }
    const now = Date.now()
    if (key === this.lastText || now - this.lastAt < PIPE_INTERVAL_MS) return
    this.lastText = key
    this.lastAt = now
    this.out.write(text + '\n')
  }
}

export function formatBytes (n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}
