/**
 * What the gossip benchmark publishes and how a receiver reads it back: the one place to change when the
 * topics' rules change. Everything else in bench/ treats payloads as opaque.
 *
 * The announce topic validates its messages (trusted announcer key, signature, fields, no replay), so the
 * benchmark publishes real signed announcements, which pay the full validation cost at every hop. The send
 * time and sequence number ride in the 32-byte beacon (which the announcer is free to choose): a marker,
 * the send time (float64 ms) and the sequence number (uint32). The announcer key is made per run by the
 * parent (`preparePayloads`) and handed to each worker (`initPayloads`); every worker's node trusts it.
 *
 * @example
 * ```ts
 * const { announcers, context } = preparePayloads()  // parent: once per run
 * initPayloads(context)                                // each worker, before publishing
 * const { topic, data } = await makePayload(now(), 7)
 * await node.publish(topic, data)
 * const p = readPayload(evt.detail.data)              // receiver, per 'message' event: { sendTime, seq } or undefined
 * ```
 */
import { randomBytes } from 'node:crypto'
import { randomPeerId } from '../../test/helpers/announce.ts'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import type { TopicName } from '../../src/protocols/ids.ts'
import { createAnnouncement } from '../../src/protocols/announce.ts'
import { MIN_CHUNK_SIZE } from '../../src/protocols/blob-limits.ts'
import { Announcement, SignedEnvelope } from '../../src/protocols/pb/announce.ts'
import { generateAnnouncerKey, rawPublicKey, type AnnouncerKey } from '../../src/protocols/signing.ts'

/** Milliseconds on the machine's clock, comparable across processes on one host (sub-millisecond precision) */
export function now (): number {
  return performance.timeOrigin + performance.now()
}

const MARKER = new TextEncoder().encode('skybench') // 8 bytes, then float64 send time, uint32 seq, 12 random bytes
const BEACON_SIZE = 32

let key: AnnouncerKey | undefined
/** sequence numbers are unique per announcer: the run's start in µs plus the message's seq */
let sequenceBase = 0n
/** real announcements list 2r candidate builders; these name nobody, so no node builds */
const candidates = Array.from({ length: 10 }, randomPeerId)

/**
 * Parent, once per run: an announcer key for this run. `announcers` goes into every node's config
 * (trusted announcer keys); `context` is passed to every worker's `initPayloads`.
 */
export function preparePayloads (): { announcers: string[], context: string } {
  const k = generateAnnouncerKey()
  return { announcers: [k.publicLine('skyline-bench').trim()], context: JSON.stringify({ pem: k.privatePem, sequenceBase: String(BigInt(Date.now()) * 1000n) }) }
}

/** Worker: takes the parent's `context` before the first `makePayload` */
export function initPayloads (context: string): void {
  const c = JSON.parse(context) as { pem: string, sequenceBase: string }
  const privateKey = createPrivateKey(c.pem)
  key = { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) }
  sequenceBase = BigInt(c.sequenceBase)
}

/** The topic and bytes to publish for message `seq`, sent at `sendTime` (from `now()`). */
export async function makePayload (sendTime: number, seq: number): Promise<{ topic: TopicName, data: Uint8Array }> {
  if (key === undefined) throw new Error('initPayloads() first')
  const beacon = new Uint8Array(BEACON_SIZE)
  beacon.set(MARKER, 0)
  const view = new DataView(beacon.buffer)
  view.setFloat64(8, sendTime)
  view.setUint32(16, seq)
  beacon.set(randomBytes(BEACON_SIZE - 20), 20)
  const data = createAnnouncement({
    nevra: `skyline-bench-1.0-${seq + 1}.src`,
    srpmSha256: randomBytes(32),
    srpmSize: 1024,
    target: 'fedora-41-x86_64',
    chunkSize: MIN_CHUNK_SIZE,
    chunkRoot: randomBytes(32),
    beacon,
    candidates,
    sequence: sequenceBase + BigInt(seq) + 1n,
    now: Math.floor(sendTime)
  }, key)
  return { topic: 'announce', data }
}

/** The send time and sequence number of a benchmark payload, or undefined for any other message. */
export function readPayload (data: Uint8Array): { sendTime: number, seq: number } | undefined {
  let beacon: Uint8Array
  try {
    beacon = Announcement.decode(SignedEnvelope.decode(data).payload).beacon
  } catch {
    return undefined
  }
  if (beacon.length !== BEACON_SIZE) return undefined
  for (let i = 0; i < MARKER.length; i++) if (beacon[i] !== MARKER[i]) return undefined
  const view = new DataView(beacon.buffer, beacon.byteOffset, beacon.byteLength)
  return { sendTime: view.getFloat64(8), seq: view.getUint32(16) }
}
