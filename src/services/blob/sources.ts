/**
 * The sources of one fetch and how they are scored. A source is any peer that may serve chunks: a named
 * provider, a DHT provider record, a peer that asked us for the same blob. Sources are judged by progress,
 * not by what they advertise:
 *
 * - a chunk request unanswered past its deadline, a chunk refused (NOT_HAVE) after it was advertised, and
 *   a HAVE that advertises again a chunk the source refused are **strikes**; a refused chunk stays
 *   refused for the rest of the fetch, whatever later HAVEs say;
 * - a source asked for chunks that has delivered none for half the chunk deadline is **stalling**: its
 *   requests are cut (each a strike), its bitfield no longer counts towards rarity, and its requests no
 *   longer keep the seeds waiting;
 * - at MAX_PEER_STRIKES a source is dropped from the fetch and reported (`peer:misbehaved`, severity low),
 *   except the seeder (the announcement's author), which always stays a source.
 */
import type { PeerId } from '@libp2p/interface'
import { hasBit } from './bitfield.ts'

export interface SwarmPeer {
  id: PeerId
  key: string
  /** the bitfield last advertised, less the chunks it refused */
  have: Uint8Array | undefined
  /** held the whole blob when first seen */
  seed: boolean
  /** the blob's origin named by the caller: never dropped for stalling or failures */
  seeder: boolean
  /** whether a hash list or chunk from it that contradicts the root is its own provable fault */
  blameable: boolean
  seenIncomplete: boolean
  /** the bitfield currently counted in `rarity` */
  counted: Uint8Array | undefined
  /** current HAVE polling interval: grows while the peer's bitfield does not change */
  interval: number
  inflight: number
  workers: number
  /** failures in a row (timeouts of HAVE or MANIFEST, resets) */
  failures: number
  /** stalls and refusals (see above); never forgiven within a fetch */
  strikes: number
  /** chunks it advertised and then refused */
  refused: Uint8Array | undefined
  /** since when it has been asked for chunks without delivering one (undefined: not waiting on it) */
  waitingSince: number | undefined
  /** stalling: its bitfield and requests do not hold the seeds back */
  stalling: boolean
  /** cuts its chunk requests in flight; replaced after each use */
  requests: AbortController
  dropped: boolean
  /** when it joined this fetch (ms) */
  joined: number
}

/** A new source with nothing known of it */
export function newSource (id: PeerId, haveInterval: number, opts: { seeder: boolean, blameable: boolean }): SwarmPeer {
  return {
    id,
    key: id.toString(),
    have: undefined,
    seed: false,
    seeder: opts.seeder,
    blameable: opts.blameable,
    seenIncomplete: false,
    counted: undefined,
    interval: haveInterval,
    inflight: 0,
    workers: 0,
    failures: 0,
    strikes: 0,
    refused: undefined,
    waitingSince: undefined,
    stalling: false,
    requests: new AbortController(),
    dropped: false,
    joined: Date.now()
  }
}

/** Marks chunk `index` refused by `p` and clears it from what `p` is known to have; the new bitfield */
export function refuseChunk (p: SwarmPeer, index: number, chunks: number): Uint8Array | undefined {
  p.refused ??= new Uint8Array(Math.ceil(chunks / 8))
  p.refused[index >> 3] |= 0x80 >> (index & 7)
  if (p.have === undefined || !hasBit(p.have, index)) return p.have
  const copy = Uint8Array.from(p.have)
  copy[index >> 3] &= ~(0x80 >> (index & 7))
  return copy
}

/** A received bitfield less the chunks `p` refused, and whether it advertised any of them again */
export function withoutRefused (p: SwarmPeer, bitfield: Uint8Array): { have: Uint8Array, readvertised: boolean } {
  const have = Uint8Array.from(bitfield)
  let readvertised = false
  if (p.refused === undefined) return { have, readvertised }
  for (let i = 0; i < have.length; i++) {
    if ((have[i] & p.refused[i]) !== 0) readvertised = true
    have[i] &= ~p.refused[i]
  }
  return { have, readvertised }
}

/** Cuts the chunk requests in flight to `p` (their workers count a strike each) */
export function cutRequests (p: SwarmPeer, why: Error): void {
  const old = p.requests
  p.requests = new AbortController()
  old.abort(why)
}
