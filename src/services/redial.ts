/**
 * Bootstrap redial: the bootstrap module dials its list once; a node whose dials all failed (its
 * bootstrap peers busy or down) would stay alone, so while it has no connection at all it dials the
 * list again every interval.
 */
import type { Libp2p, Logger } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface BootstrapRedialInit {
  /** @default 5 s between redials while the node has no connection */
  intervalMs?: number
}

export interface BootstrapRedialComponents {
  libp2p: Pick<Libp2p, 'dial' | 'getConnections'>
  bootstrap: readonly Multiaddr[]
  log: Logger
}

export class BootstrapRedial {
  private readonly components: BootstrapRedialComponents
  private readonly intervalMs: number
  private timer: ReturnType<typeof setInterval> | undefined

  constructor (components: BootstrapRedialComponents, init: BootstrapRedialInit = {}) {
    this.components = components
    this.intervalMs = init.intervalMs ?? 5_000
  }

  start (): void {
    const { libp2p, bootstrap, log } = this.components
    if (bootstrap.length === 0) return
    this.timer = setInterval(() => {
      if (libp2p.getConnections().length > 0) return
      for (const ma of bootstrap) {
        libp2p.dial(ma, { signal: AbortSignal.timeout(this.intervalMs) }).catch(err => log('bootstrap redial of %a failed: %e', ma, err))
      }
    }, this.intervalMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }
}
