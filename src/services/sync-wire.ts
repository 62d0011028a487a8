/**
 * `/skyline/sync/1.0.0` on the wire (docs/protocols/sync.md): one request (since T, or the answerer's own
 * cursor), then length-prefixed items, then an end marker that carries the answerer's new cursor. This
 * module holds the two sides of one exchange: `askOnce` (the asker) and `answer` (the server). When to
 * ask and what to remember between exchanges is src/services/sync.ts.
 */
import { createHash } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import type { PeerId, Stream } from '@libp2p/interface'
import type { SkylineLibp2p } from './components.ts'
import type { Store, SyncCursorRows } from '../store/store.ts'
import '../protocols/pb/protons-fix.ts'
import { SyncCursor, SyncItem, SyncRequest } from '../protocols/pb/sync.ts'
import { SignedEnvelope } from '../protocols/pb/announce.ts'
import { SignedAttestation } from '../protocols/pb/attestation.ts'
import { PROTOCOLS } from '../protocols/ids.ts'

export const SYNC_PROTOCOL = PROTOCOLS.sync
/** @default 5000 items of each kind per answer */
export const MAX_ITEMS_PER_KIND = 5000
/** @default 68 KiB per item: the largest consensus message, with framing */
export const MAX_ITEM_BYTES = 68 * 1024
/** @default 30 s for a whole exchange */
export const SYNC_TIMEOUT_MS = 30_000
/** @default 64 bytes: the largest request */
const MAX_REQUEST_BYTES = 64

export const SYNC_KIND = { end: 0, announcement: 1, control: 2, attestation: 3, equivocation: 4, commitment: 5 } as const

export type SyncKind = 'announcement' | 'control' | 'attestation' | 'equivocation' | 'commitment'

const KINDS: Record<number, SyncKind | undefined> = { 1: 'announcement', 2: 'control', 3: 'attestation', 4: 'equivocation', 5: 'commitment' }

/** Errors a request that could not be read ends with as it is (the peer went away or was slow) */
const STREAM_ERRORS = new Set(['UnexpectedEOFError', 'InvalidDataLengthError', 'InvalidDataLengthLengthError', 'AbortError', 'TimeoutError'])

/** A peer broke the sync protocol: an undecodable frame, an unknown kind, more than the bounds */
export class SyncProtocolError extends Error {
  static name = 'SyncProtocolError'
  override name = 'SyncProtocolError'
}

/** What one answered request brought */
export interface SyncAnswer {
  /** the answerer's cursor from its end marker (empty: it keeps none) */
  cursor: Uint8Array
  /** whether some kind stopped at MAX_ITEMS_PER_KIND (a follow-up request gets the rest) */
  truncated: boolean
}

/**
 * The asker's side of one exchange: sends `SyncRequest { since, cursor }` to `peer`, hands every item
 * with a non-empty envelope to `onItem` in the order it came, and returns the end marker's cursor.
 * Throws SyncProtocolError when the peer breaks the bounds or sends an undecodable or unknown item.
 */
export async function askOnce (libp2p: SkylineLibp2p, peer: PeerId, request: { since: number, cursor?: Uint8Array }, signal: AbortSignal, onItem: (kind: SyncKind, envelope: Uint8Array) => Promise<void>): Promise<SyncAnswer> {
  let stream: Stream | undefined
  try {
    stream = await libp2p.dialProtocol(peer, SYNC_PROTOCOL, { signal })
    const lp = lpStream(stream, { maxDataLength: MAX_ITEM_BYTES })
    await lp.write(SyncRequest.encode({ since: BigInt(request.since), cursor: request.cursor as Uint8Array<ArrayBuffer> | undefined }), { signal })
    const counts = new Map<number, number>()
    while (true) {
      const item = decodeItem(await lp.read({ signal }))
      if (item.kind === SYNC_KIND.end) {
        await stream.close({ signal })
        return { cursor: item.cursor, truncated: [...counts.values()].some(n => n >= MAX_ITEMS_PER_KIND) }
      }
      const n = (counts.get(item.kind) ?? 0) + 1
      counts.set(item.kind, n)
      if (n > MAX_ITEMS_PER_KIND) throw new SyncProtocolError(`peer sent more than ${MAX_ITEMS_PER_KIND} items of kind ${item.kind}`)
      const kind = KINDS[item.kind]
      if (kind === undefined) throw new SyncProtocolError(`unknown sync item kind ${item.kind}`)
      // an empty envelope is an invalid item like any other: dropped (the checks take bytes)
      await onItem(kind, item.envelope)
    }
  } catch (err: any) {
    stream?.abort(err)
    throw err
  }
}

/** Counts of what `answer` sent */
export interface ServeStats {
  answered: number
  served: number
  bytesServed: number
}

/**
 * The server's side of one exchange: reads the request, sends what the store holds at or after `since`
 * and after the asker's cursor (announcements and control messages first: attestations are checked
 * against known jobs), then the end marker with the new cursor.
 */
export async function answer (stream: Stream, store: Store, signal: AbortSignal, stats: ServeStats): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES })
  let req: SyncRequest
  try {
    req = SyncRequest.decode(await lp.read({ signal }))
  } catch (err: any) {
    if (STREAM_ERRORS.has(err?.name)) throw err
    throw new SyncProtocolError(`undecodable sync request: ${err.message}`)
  }
  stats.answered++
  const since = Number(req.since)
  const items = store.syncItems(Number.isSafeInteger(since) ? since : 0, MAX_ITEMS_PER_KIND, decodeCursor(req.cursor))
  const send = async (kind: number, list: Uint8Array[]): Promise<void> => {
    for (const envelope of list) {
      if (envelope.byteLength + 16 > MAX_ITEM_BYTES) continue
      const frame = SyncItem.encode({ kind, envelope: envelope as Uint8Array<ArrayBuffer> })
      await lp.write(frame, { signal })
      stats.served++
      stats.bytesServed += frame.byteLength
    }
  }
  // announcements and control first: attestations are checked against known jobs; then ban proofs
  // (they need no job): an attestation by a spare that took a banned builder's seat is only assigned
  // once the ban is known, and an IGNOREd one is never recorded, nor sent again past the cursor
  await send(SYNC_KIND.announcement, items.announcements)
  await send(SYNC_KIND.control, items.controls)
  await send(SYNC_KIND.equivocation, items.proofs)
  // commitments before attestations: a rules-v2 reveal counts only once its commitment is held
  await send(SYNC_KIND.commitment, items.commitments)
  await send(SYNC_KIND.attestation, items.attestations)
  const c = items.cursor
  const cursor = SyncCursor.encode({ announcements: BigInt(c.announcements), controls: BigInt(c.controls), attestations: BigInt(c.attestations), proofs: BigInt(c.proofs), commitments: BigInt(c.commitments) })
  await lp.write(SyncItem.encode({ kind: SYNC_KIND.end, cursor }), { signal })
  await stream.close({ signal })
}

/** Whether the store holds this item already (by the id of its signed payload; a proof by its bytes) */
export function storeHolds (store: Store, kind: SyncKind, envelope: Uint8Array): boolean {
  try {
    switch (kind) {
      case 'announcement': return store.hasAnnouncement(payloadId(SignedEnvelope.decode(envelope).payload))
      case 'control': return store.hasControl(payloadId(SignedEnvelope.decode(envelope).payload))
      case 'attestation': return store.hasAttestation(payloadId(SignedAttestation.decode(envelope).payload))
      case 'equivocation': return store.hasProof(envelope)
      case 'commitment': return store.hasCommitment(payloadId(SignedAttestation.decode(envelope).payload))
    }
  } catch {
    // undecodable: the checks will say so
    return false
  }
}

function decodeItem (bytes: Parameters<typeof SyncItem.decode>[0]): SyncItem {
  try {
    return SyncItem.decode(bytes)
  } catch (err: any) {
    throw new SyncProtocolError(`undecodable sync item: ${err.message}`)
  }
}

/** The cursor an asker sent back, or undefined when there is none or it is not one of ours */
function decodeCursor (bytes: Uint8Array): SyncCursorRows | undefined {
  if (bytes.byteLength === 0) return undefined
  try {
    const c = SyncCursor.decode(bytes)
    const rows = { announcements: Number(c.announcements), controls: Number(c.controls), attestations: Number(c.attestations), proofs: Number(c.proofs), commitments: Number(c.commitments) }
    return Object.values(rows).every(Number.isSafeInteger) ? rows : undefined
  } catch {
    return undefined
  }
}

const payloadId = (payload: Uint8Array): string => createHash('sha256').update(payload).digest('hex')
