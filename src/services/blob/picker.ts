/**
 * Which chunk a fetch asks each source for next: rarest first among leechers (rarity counted over the
 * bitfields of live leechers that are not stalling), random among equals; seeds only fill what leechers
 * cannot, at random, so that simultaneous fetchers pull different chunks from the seed and trade them.
 */
import { hasBit } from './bitfield.ts'
import type { PartialBlob } from './partial.ts'
import type { SwarmPeer } from './sources.ts'

export interface PickLimits {
  peerSlots: number
  seedSlots: number
  maxInflight: number
}

export class ChunkPicker {
  /** rarity[i]: live, non-stalling leechers holding chunk i */
  private rarity: Uint16Array = new Uint16Array(0)
  /** chunk indices not yet held (refreshed lazily) */
  private missingChunks: number[] = []
  private missingDirty = false
  private partial: PartialBlob | undefined
  /** chunks requested and not yet answered */
  readonly inflight = new Set<number>()

  get chunks (): number {
    return this.rarity.length
  }

  /** Starts picking for a download (its manifest now known) */
  reset (partial: PartialBlob, chunks: number): void {
    this.partial = partial
    this.rarity = new Uint16Array(chunks)
    this.missingChunks = Array.from({ length: chunks }, (_, i) => i).filter(i => !partial.has(i))
  }

  /** A chunk was written: the missing list is refreshed at the next pick */
  written (): void {
    this.missingDirty = true
  }

  /** Chunks still missing */
  missing (): number[] {
    if (this.missingDirty && this.partial !== undefined) {
      const partial = this.partial
      this.missingChunks = this.missingChunks.filter(i => !partial.has(i))
      this.missingDirty = false
    }
    return this.missingChunks
  }

  /**
   * Counts `p`'s bitfield into rarity when it is a live leecher that is not stalling (and uncounts what
   * was counted before), so that rarity follows every change of `p.have`, `p.seed`, `p.dropped`, `p.stalling`.
   */
  count (p: SwarmPeer): void {
    const next = this.partial !== undefined && !p.seed && !p.dropped && !p.stalling ? p.have : undefined
    const old = p.counted
    if (old === next) return
    const n = this.rarity.length
    for (let byte = 0; byte < Math.ceil(n / 8); byte++) {
      const a = old?.[byte] ?? 0
      const b = next?.[byte] ?? 0
      if (a === b) continue
      for (let bit = 0; bit < 8; bit++) {
        const i = byte * 8 + bit
        if (i >= n) break
        const mask = 0x80 >> bit
        if ((a & mask) !== (b & mask)) this.rarity[i] += (b & mask) !== 0 ? 1 : -1
      }
    }
    p.counted = next
  }

  /** The next chunk to request from `p`, or undefined */
  pick (p: SwarmPeer, peers: Iterable<SwarmPeer>, limits: PickLimits): number | undefined {
    const partial = this.partial
    if (partial === undefined || p.have === undefined || p.dropped) return undefined
    if (this.inflight.size >= limits.maxInflight) return undefined
    const missing = this.missing()
    const n = missing.length
    if (n === 0) return undefined
    if (p.seed) {
      // the seeder only fills what leechers cannot: leechers are not keeping us busy, and nobody else has it
      // (stalling leechers count for neither: the seeds take over from them)
      const leechers = activeLeechers(peers)
      if (leechers.requests >= limits.peerSlots) return undefined
      // seed slots: `seedSlots` while other fetchers (leechers) are around to trade with, else as a normal peer
      if (p.inflight >= (leechers.known ? limits.seedSlots : limits.peerSlots)) return undefined
      const candidates: number[] = []
      for (const i of missing) {
        if (this.rarity[i] === 0 && !this.inflight.has(i) && hasBit(p.have, i)) candidates.push(i)
      }
      if (candidates.length === 0) return undefined
      return candidates[Math.floor(Math.random() * candidates.length)]
    }
    let best = -1
    let bestRarity = Infinity
    let ties = 0
    const start = Math.floor(Math.random() * n)
    for (let k = 0; k < n; k++) {
      const i = missing[(start + k) % n]
      if (!hasBit(p.have, i) || this.inflight.has(i) || partial.has(i)) continue
      const r = this.rarity[i]
      if (r < bestRarity) { best = i; bestRarity = r; ties = 1 } else if (r === bestRarity && Math.random() * ++ties < 1) best = i
    }
    return best >= 0 ? best : undefined
  }
}

/** Whether a live leecher that is not stalling is known, and the chunk requests in flight to such leechers */
function activeLeechers (peers: Iterable<SwarmPeer>): { known: boolean, requests: number } {
  let known = false
  let requests = 0
  for (const q of peers) {
    if (q.dropped || q.seed || q.stalling) continue
    if (q.have !== undefined) known = true
    requests += q.inflight
  }
  return { known, requests }
}
