/**
 * This node's own attestations that may not have got out: those recorded before a restart (a crash may
 * have come between recording and publishing), and those made while the node had no peer on the
 * consensus topic (gossipsub publishes them to nobody). They are gossiped once some peer is on the topic,
 * a little after the first so that the others still joining get them too, or dropped after a bounded
 * wait (sync still serves them to peers that ask).
 */
import type { Logger } from '@libp2p/interface'
import type { SkylineLibp2p } from './components.ts'
import type { BuildRecord } from '../store/store.ts'
import { stringifyTopic } from '../protocols/ids.ts'

/** @default 2 min: how long attestations wait for consensus-topic peers */
const REPUBLISH_WAIT_MS = 120_000
/** @default 3 topic peers: enough to publish at once */
const REPUBLISH_PEERS = 3
/** @default 3 s after the first topic peer: published then even with fewer */
const REPUBLISH_SETTLE_MS = 3_000
/** @default 1 s between looks at the topic's peers */
const CHECK_MS = 1_000
const CONSENSUS_TOPIC = stringifyTopic('consensus')

export interface RepublisherInit {
  libp2p: SkylineLibp2p
  /** publishes the recorded attestation of one of this node's builds */
  publish: (record: BuildRecord) => Promise<unknown>
  log: Logger
}

export class Republisher {
  private readonly init: RepublisherInit
  /** builds whose attestations wait, by job */
  private readonly waiting = new Map<string, BuildRecord>()
  private deadline = 0
  private firstPeerAt: number | undefined
  private timer: ReturnType<typeof setInterval> | undefined

  constructor (init: RepublisherInit) {
    this.init = init
  }

  /** Whether gossip would reach anyone now (some peer is on the consensus topic) */
  hasTopicPeers (): boolean {
    return this.init.libp2p.services.pubsub.getSubscribers(CONSENSUS_TOPIC).length > 0
  }

  /** Gossips these builds' recorded attestations once peers are on the topic (each wait restarts the bound) */
  add (records: BuildRecord[]): void {
    if (records.length === 0) return
    for (const r of records) this.waiting.set(r.job, r)
    this.deadline = Date.now() + REPUBLISH_WAIT_MS
    if (this.timer !== undefined) return
    this.firstPeerAt = undefined
    this.timer = setInterval(() => { this.check() }, CHECK_MS)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.waiting.clear()
  }

  private check (): void {
    const peers = this.init.libp2p.services.pubsub.getSubscribers(CONSENSUS_TOPIC).length
    if (peers > 0) this.firstPeerAt ??= Date.now()
    // the first peer on the topic is seldom the last: wait a little for the others (gossip reaches the
    // rest through them, but a peer still joining would miss it)
    const ready = peers >= REPUBLISH_PEERS || (this.firstPeerAt !== undefined && Date.now() - this.firstPeerAt >= REPUBLISH_SETTLE_MS)
    if (!ready && Date.now() < this.deadline) return
    const records = [...this.waiting.values()]
    this.stop()
    if (peers === 0) return
    for (const b of records) this.init.publish(b).catch(err => this.init.log.error('gossiping the attestation of %s again: %e', b.job, err))
  }
}
