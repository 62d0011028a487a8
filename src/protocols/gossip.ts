/**
 * One validation adapter for every Skyline topic (after Lodestar's gossipValidatorFn): a topic's
 * validator throws a GossipValidationError carrying IGNORE or REJECT; the adapter maps it to
 * gossipsub's result (REJECT lowers the sender's score through the topic's invalid-delivery penalty),
 * enforces the topic's size bound first, and counts every outcome per topic and reason.
 *
 * Two defences against floods (test/stress/adversaries.test.ts):
 * - IGNORE costs the sender nothing in gossipsub's score, yet a validly signed attestation of a job
 *   nobody announced costs two signature checks to ignore. Each peer may have IGNORE_BURST messages
 *   ignored, refilled at IGNORE_REFILL_PER_SECOND; beyond that every ignored message is a 'mid' penalty
 *   on the application score (the `penalise` option: the node's PeerPenalties), so a peer that floods ignorable messages
 *   is graylisted like one that floods invalid ones, and its RPCs are then dropped unread.
 * - Validation never holds the event loop for long: after VALIDATION_SLICE_MS of back-to-back
 *   validations the next one waits for a macrotask turn, so timers, I/O and the status server keep
 *   answering under any load (gossipsub itself runs validations as microtasks, which starve them).
 *   Gossipsub handles one peer's RPCs one at a time (createSkylineLibp2p: awaitRpcHandler), so a fast
 *   sender is held back by TCP flow control instead of queueing without bound.
 */
import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import type { PeerId, Metrics, CounterGroup, Logger } from '@libp2p/interface'
import { TOPICS, stringifyTopic, type TopicName } from './ids.ts'
import type { Penalise } from '../rules/penalty.ts'
// every gossiped message is encoded by a module that imports this one: uint64s of 2^31..2^32-1 encode correctly
import './pb/protons-fix.ts'

export type GossipAction = 'reject' | 'ignore'

export class GossipValidationError extends Error {
  static name = 'GossipValidationError'
  override name = 'GossipValidationError'
  readonly action: GossipAction
  /** a short stable label for metrics, e.g. 'bad-signature' */
  readonly reason: string
  constructor (action: GossipAction, reason: string, message?: string) {
    super(message ?? reason)
    this.action = action
    this.reason = reason
  }
}

/**
 * A message as a topic's validator sees it. Gossip messages name no author (docs/protocols/gossip.md): the
 * author is the key that signed the payload, and a fault in a payload is the fault of the peer that sent
 * the copy (gossipsub scores it for a REJECT) or, where the payload is signed by a builder, of that builder.
 */
export interface GossipInput {
  topic: TopicName
  data: Uint8Array
  /** the peer that sent this copy to us (not necessarily its author) */
  propagationSource: PeerId
}

/** Messages of one peer that may be ignored before ignoring them costs it score. @default 256 */
export const IGNORE_BURST = 256
/** Ignored messages a peer is allowed per second, on top of the burst. @default 32 */
export const IGNORE_REFILL_PER_SECOND = 32
/** How long validations may run back to back before yielding to the event loop. @default 10 ms */
export const VALIDATION_SLICE_MS = 10
/** Peers whose ignore budgets are tracked at once (least recently seen dropped first). @default 10000 */
const MAX_TRACKED_PEERS = 10_000

/** A token bucket per peer: how many more of its messages may be ignored for free */
export class IgnoreBudget {
  private readonly buckets = new Map<string, { tokens: number, at: number }>()
  private readonly burst: number
  private readonly perSecond: number
  private readonly now: () => number

  constructor (opts: { burst?: number, perSecond?: number, now?: () => number } = {}) {
    this.burst = opts.burst ?? IGNORE_BURST
    this.perSecond = opts.perSecond ?? IGNORE_REFILL_PER_SECOND
    this.now = opts.now ?? Date.now
  }

  /** Spends one token of the peer's budget; false when it had none left */
  spend (peer: string): boolean {
    const now = this.now()
    const b = this.buckets.get(peer)
    const tokens = b === undefined ? this.burst : Math.min(this.burst, b.tokens + (now - b.at) / 1000 * this.perSecond)
    this.buckets.delete(peer)
    this.buckets.set(peer, { tokens: Math.max(0, tokens - 1), at: now })
    if (this.buckets.size > MAX_TRACKED_PEERS) this.buckets.delete(this.buckets.keys().next().value!)
    return tokens >= 1
  }
}

/** Lets back-to-back work run for `sliceMs`, then makes the next caller wait for a macrotask turn */
export class EventLoopSlicer {
  private readonly sliceMs: number
  private sliceStart = performance.now()

  constructor (sliceMs = VALIDATION_SLICE_MS) {
    this.sliceMs = sliceMs
  }

  async turn (): Promise<void> {
    if (performance.now() - this.sliceStart < this.sliceMs) return
    await new Promise(resolve => setImmediate(resolve))
    this.sliceStart = performance.now()
  }
}

/** Validates one message; throws GossipValidationError to ignore or reject it. */
export type TopicValidator = (msg: GossipInput) => void | Promise<void>

/** One validated message: its topic, the result and its reason, and the peer that sent the copy */
export interface ValidationOutcome { topic: TopicName, result: 'accept' | GossipAction, reason: string, propagationSource: string }

export function installValidators (
  pubsub: GossipSub,
  validators: Partial<Record<TopicName, TopicValidator>>,
  opts: {
    metrics?: Metrics
    log?: Logger
    onOutcome?: (o: ValidationOutcome) => void
    /** where penalties for ignore floods go (the node's PeerPenalties); none: not penalised */
    penalise?: Penalise
    budget?: IgnoreBudget
    slicer?: EventLoopSlicer
  } = {}
): () => void {
  const counter: CounterGroup | undefined = opts.metrics?.registerCounterGroup('skyline_gossip_validation_total', {
    label: 'topic_result_reason',
    help: 'Gossip messages validated, by topic, result and reason'
  })
  const penalise = opts.penalise
  const budget = opts.budget ?? new IgnoreBudget()
  const slicer = opts.slicer ?? new EventLoopSlicer()
  const installed: string[] = []
  for (const [name, validator] of Object.entries(validators) as Array<[TopicName, TopicValidator]>) {
    const topic = stringifyTopic(name)
    const maxBytes = TOPICS[name].maxBytes
    pubsub.topicValidators.set(topic, async (propagationSource: PeerId, msg: Message): Promise<TopicValidatorResult> => {
      let result: 'accept' | GossipAction = 'accept'
      let reason = 'ok'
      try {
        await slicer.turn()
        if (msg.data.byteLength > maxBytes) throw new GossipValidationError('reject', 'oversized', `${msg.data.byteLength} bytes > ${maxBytes}`)
        await validator({ topic: name, data: msg.data, propagationSource })
      } catch (err: any) {
        if (err instanceof GossipValidationError) {
          result = err.action
          reason = err.reason
          opts.log?.('%s from %p: %s %s', name, propagationSource, err.action, err.message)
        } else {
          result = 'ignore'
          reason = 'internal-error'
          opts.log?.error('%s validator failed: %e', name, err)
        }
      }
      // ignores the node itself causes (its own errors, its start) cost the peer nothing
      if (result === 'ignore' && reason !== 'internal-error' && reason !== 'starting' && !budget.spend(propagationSource.toString())) {
        penalise?.(propagationSource.toString(), 'mid')
      }
      counter?.increment({ [`${name}:${result}:${reason}`]: true })
      opts.onOutcome?.({ topic: name, result, reason, propagationSource: propagationSource.toString() })
      return result === 'accept' ? TopicValidatorResult.Accept : result === 'ignore' ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
    })
    installed.push(topic)
  }
  return () => { for (const t of installed) pubsub.topicValidators.delete(t) }
}
