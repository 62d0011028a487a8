/**
 * One validation adapter for every Skyline topic (after Lodestar's gossipValidatorFn): a topic's
 * validator throws a GossipValidationError carrying IGNORE or REJECT; the adapter maps it to
 * gossipsub's result (REJECT lowers the sender's score through the topic's invalid-delivery penalty),
 * enforces the topic's size bound first, and counts every outcome per topic and reason.
 */
import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import type { PeerId, Metrics, CounterGroup, Logger } from '@libp2p/interface'
import { TOPICS, stringifyTopic, type TopicName } from './topics.ts'

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

export interface GossipInput {
  topic: TopicName
  data: Uint8Array
  /** the peer that sent it to us (not necessarily its author) */
  propagationSource: PeerId
  /** the gossipsub author of the message (its signer) */
  from: PeerId
}

/** Validates one message; throws GossipValidationError to ignore or reject it. */
export type TopicValidator = (msg: GossipInput) => void | Promise<void>

export interface ValidationOutcome { topic: TopicName, result: 'accept' | GossipAction, reason: string, from: string, propagationSource: string }

export function installValidators (
  pubsub: GossipSub,
  validators: Partial<Record<TopicName, TopicValidator>>,
  opts: { metrics?: Metrics, log?: Logger, onOutcome?: (o: ValidationOutcome) => void } = {}
): () => void {
  const counter: CounterGroup | undefined = opts.metrics?.registerCounterGroup('skyline_gossip_validation_total', {
    label: 'topic_result_reason',
    help: 'Gossip messages validated, by topic, result and reason'
  })
  const installed: string[] = []
  for (const [name, validator] of Object.entries(validators) as Array<[TopicName, TopicValidator]>) {
    const topic = stringifyTopic(name)
    const maxBytes = TOPICS[name].maxBytes
    pubsub.topicValidators.set(topic, async (propagationSource: PeerId, msg: Message): Promise<TopicValidatorResult> => {
      let result: 'accept' | GossipAction = 'accept'
      let reason = 'ok'
      try {
        if (msg.type !== 'signed') throw new GossipValidationError('reject', 'unsigned')
        if (msg.data.byteLength > maxBytes) throw new GossipValidationError('reject', 'oversized', `${msg.data.byteLength} bytes > ${maxBytes}`)
        await validator({ topic: name, data: msg.data, propagationSource, from: msg.from })
      } catch (err: any) {
        if (err instanceof GossipValidationError) {
          result = err.action
          reason = err.reason
          opts.log?.('%s from %p (author %p): %s %s', name, propagationSource, (msg as any).from, err.action, err.message)
        } else {
          result = 'ignore'
          reason = 'internal-error'
          opts.log?.error('%s validator failed: %e', name, err)
        }
      }
      counter?.increment({ [`${name}:${result}:${reason}`]: true })
      opts.onOutcome?.({ topic: name, result, reason, from: String((msg as any).from ?? ''), propagationSource: propagationSource.toString() })
      return result === 'accept' ? TopicValidatorResult.Accept : result === 'ignore' ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
    })
    installed.push(topic)
  }
  return () => { for (const t of installed) pubsub.topicValidators.delete(t) }
}
