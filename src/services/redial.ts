/**
 * Redial while alone: the bootstrap module dials its list once; a node whose dials all failed (its
 * bootstrap peers busy or down, or full past their room for newcomers: src/services/connection-trim.ts),
 * or that a full node trimmed before it learned a peer, would stay alone. So while it has no connection
 * at all it dials the bootstrap list and a few of the peers it has learned (from a bootstrap node's DHT
 * answer, identify, or an earlier connection): a refused newcomer tries those too, not
 * only the bootstrap nodes that refused it. The rounds are jittered and back off, so that many newcomers
 * refused at once do not come back at once. Once a round connects, the node runs a DHT lookup of its own
 * ID, as kad-dht's self-query does (which ran at start, when the node was alone, and runs again only
 * after 5 minutes): the answer is the k peers closest to it, whom the lookup connects it to.
 */
import type { Libp2p, Logger, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** @default 8 learned peers dialled per round, chosen at random */
export const LEARNED_PEERS_PER_ROUND = 8
/** @default 1 s before the first redial (jittered) */
export const REDIAL_FIRST_MS = 1_000
/** @default 1.25: each wait between rounds is this much longer than the last, up to REDIAL_MAX_MS */
export const REDIAL_BACKOFF_FACTOR = 1.25
/**
 * @default 10 s: the longest wait between rounds. A refusal costs a full node a TCP accept and close, no
 * handshake, so a thousand newcomers redialling one node every few seconds cost it little.
 */
export const REDIAL_MAX_MS = 10_000
/** @default 10 s for each dial of a round */
export const REDIAL_DIAL_TIMEOUT_MS = 10_000
/** @default 20 s for the lookup of the node's own ID after a round connected */
export const SELF_LOOKUP_TIMEOUT_MS = 20_000

export interface BootstrapRedialInit {
  /** @default REDIAL_FIRST_MS */
  firstMs?: number
  /** @default REDIAL_BACKOFF_FACTOR */
  backoffFactor?: number
  /** @default REDIAL_MAX_MS */
  maxMs?: number
}

export interface BootstrapRedialComponents {
  libp2p: Pick<Libp2p, 'dial' | 'getConnections' | 'peerStore' | 'peerId' | 'peerRouting' | 'addEventListener' | 'removeEventListener'>
  bootstrap: readonly Multiaddr[]
  log: Logger
}

export class BootstrapRedial {
  private readonly components: BootstrapRedialComponents
  private readonly firstMs: number
  private readonly backoffFactor: number
  private readonly maxMs: number
  private waitMs: number
  private timer: ReturnType<typeof setTimeout> | undefined
  private running = false

  constructor (components: BootstrapRedialComponents, init: BootstrapRedialInit = {}) {
    this.components = components
    this.firstMs = init.firstMs ?? REDIAL_FIRST_MS
    this.backoffFactor = init.backoffFactor ?? REDIAL_BACKOFF_FACTOR
    this.maxMs = init.maxMs ?? REDIAL_MAX_MS
    this.waitMs = this.firstMs
    this.onDisconnect = this.onDisconnect.bind(this)
  }

  start (): void {
    this.running = true
    this.components.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.schedule()
  }

  stop (): void {
    this.running = false
    this.components.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** The node's last peer went away: redial from the first wait */
  private onDisconnect (): void {
    if (this.components.libp2p.getConnections().length > 0 || this.timer !== undefined) return
    this.waitMs = this.firstMs
    this.schedule()
  }

  /** The next round, after the current wait jittered by ±50%, unless the node is connected by then */
  private schedule (): void {
    if (!this.running) return
    this.timer = setTimeout(() => {
      this.round().catch(err => { this.components.log('redial failed: %e', err) }).finally(() => {
        this.timer = undefined
        if (this.components.libp2p.getConnections().length === 0) this.schedule()
      })
    }, this.waitMs * (0.5 + Math.random()))
    this.timer.unref()
  }

  /** One round while alone; the next waits longer */
  private async round (): Promise<void> {
    if (this.components.libp2p.getConnections().length > 0) return
    this.waitMs = Math.min(this.maxMs, this.waitMs * this.backoffFactor)
    if (await this.redial()) await this.lookupSelf()
  }

  /** Dials the bootstrap list and up to LEARNED_PEERS_PER_ROUND learned peers, all at once: whether any answered (as soon as one does) */
  async redial (): Promise<boolean> {
    const { libp2p, bootstrap, log } = this.components
    const targets: Array<Multiaddr | PeerId> = [...bootstrap, ...await this.learnedPeers()]
    const dials = targets.map(async target => libp2p.dial(target, { signal: AbortSignal.timeout(REDIAL_DIAL_TIMEOUT_MS) }).catch(err => {
      log('redial of %s failed: %e', target.toString(), err)
      throw err
    }))
    return Promise.any(dials).then(() => true, () => false)
  }

  /** A DHT lookup of the node's own ID: it connects the node to the peers closest to it */
  private async lookupSelf (): Promise<void> {
    const { libp2p } = this.components
    let found = 0
    for await (const _ of libp2p.peerRouting.getClosestPeers(libp2p.peerId.toMultihash().bytes, { signal: AbortSignal.timeout(SELF_LOOKUP_TIMEOUT_MS) })) found++
    this.components.log('self lookup after a redial found %d peers', found)
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
