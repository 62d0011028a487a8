/**
 * The metered-link pause (docs/config.md, `metered`): while the link is metered, blob transfer is paused
 * (chunk requests from peers are answered BUSY, this node's fetches wait before their next chunk) and the
 * node takes no new jobs; gossip, the DHT, sync and pings go on (a few KB a minute).
 *
 * Modes: 'auto' asks NetworkManager every `pollMs` (`nmcli -t -f GENERAL.METERED dev show`) and pauses
 * while any device is metered, configured (yes) or guessed (guess-yes) (NetworkManager's own advice: its
 * global state is the device with the best default route, which policy routing or separate IPv4 and IPv6
 * routes make wrong; each device's state is the safer signal for the volunteer's bill). Where nmcli is
 * absent nothing changes (one debug line). 'pause' pauses for as long as the node runs; 'ignore' never
 * pauses.
 */
import { execFile } from 'node:child_process'
import type { Logger } from '@libp2p/interface'
import type { BlobService } from './blob/index.ts'

export type MeteredMode = 'auto' | 'ignore' | 'pause'
export const METERED_MODES: readonly MeteredMode[] = ['auto', 'ignore', 'pause']

/** @default 60 s between NetworkManager queries: a link's metered state changes when the user changes networks */
export const METERED_POLL_MS = 60_000
/** @default 5 s: an nmcli that takes longer is killed, the state stays as it was */
export const NMCLI_TIMEOUT_MS = 5_000

export interface MeteredLinkComponents {
  blobs: Pick<BlobService, 'pause' | 'resume' | 'paused'>
  log: Logger
}

export interface MeteredLinkInit {
  /** @default 'auto' */
  mode?: MeteredMode
  /** ms between queries in 'auto' mode (default METERED_POLL_MS) */
  pollMs?: number
  /** the nmcli to run (default 'nmcli', found on PATH) */
  nmcli?: string
  /** called when the pause begins (true) or ends (false) */
  onChange?: (paused: boolean) => void
}

/**
 * Whether `nmcli -t -f GENERAL.METERED dev show` reports a metered device: one line per device,
 * `GENERAL.METERED:yes`, `yes (guessed)`, `no`, `no (guessed)` or `unknown`
 */
export function parseMetered (output: string): boolean {
  return output.split('\n').some(line => /^GENERAL\.METERED:yes\b/.test(line.trim()))
}

export class MeteredLink {
  private readonly c: MeteredLinkComponents
  private readonly mode: MeteredMode
  private readonly pollMs: number
  private readonly nmcli: string
  private readonly onChange: ((paused: boolean) => void) | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private stopped = true

  constructor (components: MeteredLinkComponents, init: MeteredLinkInit = {}) {
    this.c = components
    this.mode = init.mode ?? 'auto'
    this.pollMs = init.pollMs ?? METERED_POLL_MS
    this.nmcli = init.nmcli ?? 'nmcli'
    this.onChange = init.onChange
  }

  start (): void {
    this.stopped = false
    if (this.mode === 'pause') this.set(true, 'metered: pause (config)')
    else if (this.mode === 'auto') void this.poll()
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Asks NetworkManager once, pauses or resumes to match, and schedules the next query */
  async poll (): Promise<void> {
    let output: string
    try {
      output = await this.run()
    } catch (err: any) {
      if (err?.code === 'ENOENT') {
        this.c.log('no %s on PATH: metered links are not detected', this.nmcli)
        return // nothing to ask, ever: no more queries
      }
      this.c.log('%s failed, the metered state stays as it was: %s', this.nmcli, String(err?.message ?? err).split('\n')[0])
      this.schedule()
      return
    }
    if (this.stopped) return
    this.set(parseMetered(output), 'NetworkManager reports a metered link')
    this.schedule()
  }

  private schedule (): void {
    if (this.stopped) return
    this.timer = setTimeout(() => { void this.poll() }, this.pollMs)
    this.timer.unref()
  }

  private async run (): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.nmcli, ['-t', '-f', 'GENERAL.METERED', 'dev', 'show'], { timeout: NMCLI_TIMEOUT_MS, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout) => {
        if (err !== null) reject(err)
        else resolve(stdout)
      })
    })
  }

  private set (metered: boolean, why: string): void {
    if (metered === this.c.blobs.paused) return
    if (metered) {
      this.c.blobs.pause()
      this.c.log('%s: blob transfer paused and no new jobs taken until it is not', why)
    } else {
      this.c.blobs.resume()
      this.c.log('the link is no longer metered: blob transfer resumed')
    }
    this.onChange?.(metered)
  }
}
