/**
 * Redial while alone: the bootstrap module dials its list once; a node whose dials all failed (its
 * bootstrap peers busy or down, or full past their room for newcomers) would stay alone, so while it has
 * no connection at all it dials, every interval, the bootstrap list and a few of the peers it has learned
 * (from a bootstrap node's DHT answer, identify, or an earlier connection): a refused newcomer tries
 * those too, not only the bootstrap nodes that refused it.
 */
import type { Libp2p, Logger, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** @default 8 learned peers dialled per round, chosen at random */
export const LEARNED_PEERS_PER_ROUND = 8

export interface BootstrapRedialInit {
  /** @default 5 s between redials while the node has no connection */
  intervalMs?: number
}

export interface BootstrapRedialComponents {
  libp2p: Pick<Libp2p, 'dial' | 'getConnections' | 'peerStore' | 'peerId'>
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
    this.timer = setInterval(() => {
      if (this.components.libp2p.getConnections().length > 0) return
      this.redial().catch(err => { this.components.log('redial failed: %e', err) })
    }, this.intervalMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  /** Dials the bootstrap list and up to LEARNED_PEERS_PER_ROUND learned peers, all at once */
  async redial (): Promise<void> {
    const { libp2p, bootstrap, log } = this.components
    const targets: Array<Multiaddr | PeerId> = [...bootstrap, ...await this.learnedPeers()]
    for (const target of targets) {
      libp2p.dial(target, { signal: AbortSignal.timeout(this.intervalMs) }).catch(err => log('redial of %s failed: %e', target.toString(), err))
    }
  }

  /** A random few of the peers in the peer store that have addresses to dial */
  private async learnedPeers (): Promise<PeerId[]> {
    const { libp2p } = this.components
    const known = await libp2p.peerStore.all({ filters: [p => p.addresses.length > 0 && !p.id.equals(libp2p.peerId)] })
    for (let i = known.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1))
      ;[known[i], known[j]] = [known[j], known[i]]
    }
    return known.slice(0, LEARNED_PEERS_PER_ROUND).map(p => p.id)
  }
}
