/**
 * An announcement's provider hint (field 26, docs/protocols/announce.md "Provider hint"): the peer that
 * serves the SRPM from the moment of the announcement (the seeder's node), and the addresses it listens
 * on. Signed with the rest of the announcement, so only a trusted announcer can point fetchers at a peer.
 * Fetchers ask it first; the DHT is the fallback (docs/protocols/blob.md).
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { isPrivate } from '@libp2p/utils'
import type { ProviderHint } from './pb/announce.ts'
import { GossipValidationError } from './gossip.ts'
import { AssignmentError, candidateBytes, parseCandidates } from '../rules/assignment.ts'

/** The hint layout this node reads and writes; a hint of another version is left out, the announcement stands */
export const PROVIDER_HINT_VERSION = 1
/** At most this many addresses in a hint */
export const MAX_PROVIDER_ADDRS = 4
/** Bytes of one binary multiaddr in a hint, at most */
export const MAX_PROVIDER_ADDR_BYTES = 64
/** The multiaddr protocol code of `/p2p` */
const P2P_CODE = 421

/** A parsed provider hint */
export interface Provider {
  peer: PeerId
  /** where it listens (no /p2p part) */
  addrs: Multiaddr[]
}

/**
 * The hint for a peer and its addresses: the /p2p part dropped, addresses over the byte bound left out,
 * public addresses first, at most MAX_PROVIDER_ADDRS. Throws for a peer that is not Ed25519.
 */
export function providerHint (peer: PeerId, addrs: Multiaddr[]): ProviderHint {
  const usable = addrs.map(ma => ma.decapsulateCode(P2P_CODE)).filter(ma => ma.bytes.byteLength <= MAX_PROVIDER_ADDR_BYTES)
  const ranked = [...usable.filter(ma => !isPrivate(ma)), ...usable.filter(ma => isPrivate(ma))]
  const unique = [...new Map(ranked.map(ma => [ma.toString(), ma])).values()]
  return { version: PROVIDER_HINT_VERSION, peer: new Uint8Array(candidateBytes(peer)), addrs: unique.slice(0, MAX_PROVIDER_ADDRS).map(ma => new Uint8Array(ma.bytes)) }
}

/**
 * Checks a received hint: undefined when absent or of another version (ignored, as the field of a newer
 * announcer); REJECT `malformed` for a version-1 hint whose peer is not an Ed25519 peer ID or whose
 * addresses break the bounds or do not parse.
 */
export function parseProviderHint (hint: ProviderHint | undefined): Provider | undefined {
  if (hint === undefined || hint.version !== PROVIDER_HINT_VERSION) return undefined
  if (hint.addrs.length > MAX_PROVIDER_ADDRS) malformed(`${hint.addrs.length} provider addresses, at most ${MAX_PROVIDER_ADDRS}`)
  let peer: PeerId
  try {
    peer = parseCandidates([hint.peer])[0]
  } catch (err: any) {
    if (err instanceof AssignmentError) malformed('the provider is not an Ed25519 peer ID')
    throw err
  }
  const addrs = hint.addrs.map((bytes, i) => {
    if (bytes.byteLength > MAX_PROVIDER_ADDR_BYTES) malformed(`provider address ${i} of ${bytes.byteLength} bytes, at most ${MAX_PROVIDER_ADDR_BYTES}`)
    try {
      return multiaddr(bytes)
    } catch {
      return malformed(`provider address ${i} is not a multiaddr`)
    }
  })
  return { peer, addrs }
}

function malformed (message: string): never {
  throw new GossipValidationError('reject', 'malformed', message)
}
