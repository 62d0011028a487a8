/**
 * The libp2p node the services run on: the services Skyline registers (src/node/libp2p.ts builds it).
 * Each service names the parts of it it uses in its own components interface.
 */
import type { Libp2p } from '@libp2p/interface'
import type { Identify } from '@libp2p/identify'
import type { Ping } from '@libp2p/ping'
import type { KadDHT } from '@libp2p/kad-dht'
import type { GossipSub } from '@libp2p/gossipsub'
import type { BlobService } from './blob/index.ts'

// a type, not an interface: libp2p's ServiceMap needs the index signature a type alias has
export type SkylineServices = {
  identify: Identify
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
  blobs: BlobService
}

export type SkylineLibp2p = Libp2p<SkylineServices>

/** A part of the node with a life cycle (js-libp2p's Startable, without the before/after hooks) */
export interface Startable {
  start: () => void | Promise<void>
  stop: () => void | Promise<void>
}

/** Starts parts in order; if one fails, those already started are stopped in reverse */
export async function startAll (parts: readonly Startable[]): Promise<void> {
  const started: Startable[] = []
  try {
    for (const p of parts) {
      await p.start()
      started.push(p)
    }
  } catch (err) {
    await stopAll(started)
    throw err
  }
}

/** Stops parts in reverse order; every part is stopped even when one throws (the first error is rethrown) */
export async function stopAll (parts: readonly Startable[]): Promise<void> {
  let first: unknown
  for (const p of [...parts].reverse()) {
    try { await p.stop() } catch (err) { first ??= err }
  }
  if (first !== undefined) throw first
}
