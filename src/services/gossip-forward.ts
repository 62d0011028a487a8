/**
 * Gossip forwarding after a short hold. Gossipsub runs with `asyncValidation` (src/node/libp2p.ts): a
 * message that passed the topic validators is delivered to the node at once, and is forwarded to the
 * node's mesh peers only when this service reports it accepted, `holdMs` later.
 *
 * Why: Skyline publishes with flood publishing, so most nodes receive a message straight from its
 * author, at about the same moment. Forwarded at once, each of them sent it on to its mesh peers before
 * their IDONTWANTs (or their own copies) arrived, and every node received each message about four times
 * (bench/control-bytes.ts: 24 message copies sent per node per job, 15 KB of the 19 KB of gossip a
 * node sent). After the hold, gossipsub leaves out every mesh peer that sent an IDONTWANT or a copy of its
 * own meanwhile (its `originatingPeers`), and most copies are never sent (docs/bench.md). What a node
 * receives, when it receives it, and how messages are validated do not change; a forwarded message
 * reaches a peer that the author's copy missed `holdMs` later, per hop.
 */
import type { ComponentLogger, Logger, PeerId, Startable } from '@libp2p/interface'
import { TopicValidatorResult, type GossipSub, type GossipsubMessage } from '@libp2p/gossipsub'

/**
 * @default 20 ms: the copies and IDONTWANTs sent by peers that received the author's copy at about the
 * same moment arrive meanwhile
 */
export const FORWARD_HOLD_MS = 20

/**
 * What gossipsub's implementation offers for `asyncValidation` (its published GossipSub interface leaves
 * it out); checked at start
 */
interface ValidationReport {
  reportMessageValidationResult: (msgId: string, propagationSource: string, acceptance: TopicValidatorResult) => void
}

export interface GossipForwardComponents {
  pubsub: GossipSub & Partial<ValidationReport>
  logger: ComponentLogger
}

export interface GossipForwardInit {
  /** @default FORWARD_HOLD_MS */
  holdMs?: number
}

/** Reports every validated gossip message accepted (so gossipsub forwards it) `holdMs` after it arrived */
export class GossipForward implements Startable {
  private readonly components: GossipForwardComponents
  private readonly holdMs: number
  private readonly log: Logger
  private readonly pending = new Set<ReturnType<typeof setTimeout>>()
  private running = false

  constructor (components: GossipForwardComponents, init: GossipForwardInit = {}) {
    this.components = components
    this.holdMs = init.holdMs ?? FORWARD_HOLD_MS
    this.log = components.logger.forComponent('skyline:gossip-forward')
  }

  readonly [Symbol.toStringTag] = 'skyline/gossip-forward'

  start (): void {
    if (typeof this.components.pubsub.reportMessageValidationResult !== 'function') {
      throw new Error('this gossipsub cannot forward validated messages (no reportMessageValidationResult)')
    }
    this.running = true
    this.components.pubsub.addEventListener('gossipsub:message', this.onMessage)
  }

  stop (): void {
    this.running = false
    this.components.pubsub.removeEventListener('gossipsub:message', this.onMessage)
    for (const t of this.pending) clearTimeout(t)
    this.pending.clear()
  }

  private readonly onMessage = (evt: CustomEvent<GossipsubMessage>): void => {
    const { msgId, propagationSource } = evt.detail
    const t = setTimeout(() => {
      this.pending.delete(t)
      if (this.running) this.forward(msgId, propagationSource)
    }, this.holdMs)
    this.pending.add(t)
  }

  private forward (msgId: string, propagationSource: PeerId): void {
    try {
      this.components.pubsub.reportMessageValidationResult!(msgId, propagationSource.toString(), TopicValidatorResult.Accept)
    } catch (err) {
      this.log.error('forwarding %s failed: %e', msgId, err)
    }
  }
}

/** The service factory for libp2p's `services` (after `pubsub`, whose messages it forwards) */
export function gossipForward (init: GossipForwardInit = {}): (components: GossipForwardComponents) => GossipForward {
  return components => new GossipForward(components, init)
}
