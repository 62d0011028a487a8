/**
 * DHT provider lookups of one fetch, while it needs more sources: a swarmed blob until SWARM_MAX_PEERS
 * live peers are known, a small one only while no known peer serves it. Each lookup is followed by a wait
 * twice as long as the last (from `findProvidersInterval` to `findProvidersMaxInterval`). The caller's
 * fallback peers (a job's other seats) join before the first lookup, not before the fetch wants them.
 */
import type { Logger, PeerId, PeerInfo } from '@libp2p/interface'
import { SWARM_MAX_PEERS } from './constants.ts'
import { hasBit } from './bitfield.ts'
import type { SwarmPeer } from './sources.ts'
import type { Wakeup } from './wakeup.ts'

export interface DiscoveryContext {
  intervals: { findProvidersInterval: number, findProvidersMaxInterval: number }
  /** the fetch's own signal */
  signal: AbortSignal
  wakeup: Wakeup
  log: Logger
  done: () => boolean
  /** whether another lookup would help now */
  wants: () => boolean
  findProviders: (signal: AbortSignal) => AsyncIterable<PeerInfo>
  /** peers to make sources before the first lookup the fetch wants (FetchOptions.fallback); drained then */
  fallback: PeerId[]
  addPeer: (id: PeerId) => void
}

/** Runs lookups until the fetch is done */
export async function discoverProviders (ctx: DiscoveryContext): Promise<void> {
  const { findProvidersInterval, findProvidersMaxInterval } = ctx.intervals
  let interval = findProvidersInterval
  while (!ctx.done()) {
    if (!ctx.wants()) {
      await ctx.wakeup.changed(findProvidersInterval)
      continue
    }
    for (const id of ctx.fallback.splice(0)) ctx.addPeer(id)
    try {
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(10_000)])
      for await (const info of ctx.findProviders(signal)) {
        ctx.addPeer(info.id)
        if (ctx.done()) break
      }
    } catch (err) {
      if (!ctx.done()) ctx.log('findProviders - %e', err)
    }
    await ctx.wakeup.until(interval, ctx.done)
    interval = Math.min(interval * 2, findProvidersMaxInterval)
  }
}

/**
 * Whether a fetch wants more providers: none once every chunk is held (`complete`: the fetch is checking
 * the whole file and moving it into place, which takes a disk sync or two); else a swarmed blob while
 * fewer than SWARM_MAX_PEERS live peers are known, and a small one while no live peer advertises a missing
 * chunk or was met less than `graceMs` ago without having answered yet.
 */
export function needsProviders (peers: Iterable<SwarmPeer>, missing: () => number[], complete: boolean, swarming: boolean, graceMs: number): boolean {
  if (complete) return false
  let live = 0
  const now = Date.now()
  for (const p of peers) {
    if (p.dropped) continue
    live++
    if (swarming) continue
    if (p.have !== undefined ? missing().some(i => hasBit(p.have!, i)) : !p.seenIncomplete && now - p.joined < graceMs) return false
  }
  return swarming ? live < SWARM_MAX_PEERS : true
}
