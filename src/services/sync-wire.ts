/**
 * `/skyline/sync/1.0.0` on the wire (docs/protocols/sync.md): one request (since T, or the answerer's own
 * cursor), then length-prefixed items, then an end marker that carries the answerer's new cursor. With
 * ids first (the request's `ids`), the items are offered by id before any is sent, and the asker says
 * which it wants: an answer to a peer that holds most of it (anti-entropy, a gap, a peer that came back)
 * is then a few hundred bytes, not every item again. This module holds the two sides of one exchange:
 * `askOnce` (the asker) and `answer` (the server). When to ask and what to remember between exchanges is
 * src/services/sync.ts.
 */
import { createHash } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import type { PeerId, Stream } from '@libp2p/interface'
import type { SkylineLibp2p } from './components.ts'
import type { Store, SyncCursorRows, SyncItems } from '../store/store.ts'
import '../protocols/pb/protons-fix.ts'
import { SyncCursor, SyncItem, SyncRequest, SyncWant } from '../protocols/pb/sync.ts'
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
/** @default 16 bytes: an offered id is the first 16 bytes of the item's id (sync.md, "Ids before items") */
export const OFFER_ID_BYTES = 16
/** @default 1,024 ids in one offer */
export const MAX_IDS_PER_OFFER = 1024
/** the largest want: one bit for each item that can be offered (every kind at MAX_ITEMS_PER_KIND), and its field's framing */
const MAX_WANT_BYTES = Math.ceil(5 * MAX_ITEMS_PER_KIND / 8) + 8

export const SYNC_KIND = { end: 0, announcement: 1, control: 2, attestation: 3, equivocation: 4, commitment: 5 } as const

export type SyncKind = 'announcement' | 'control' | 'attestation' | 'equivocation' | 'commitment'

const KINDS: Record<number, SyncKind | undefined> = { 1: 'announcement', 2: 'control', 3: 'attestation', 4: 'equivocation', 5: 'commitment' }

/** Each sync kind's list in the store's answer (Store.syncItems) */
export const STORE_LIST: Record<SyncKind, keyof SyncItems['ids']> = { announcement: 'announcements', control: 'controls', attestation: 'attestations', equivocation: 'proofs', commitment: 'commitments' }

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
  /** items offered by id, and of them those asked for (0 and 0 from an answerer that sent items at once) */
  offered: number
  wanted: number
}

/**
 * The asker's side of one exchange: sends `SyncRequest { since, cursor, ids }` to `peer`; with `ids`,
 * asks for the offered items that `holds` says this node lacks; hands every item with a non-empty envelope
 * to `onItem` in the order it came, and returns the end marker's cursor. An answerer that knows no offers
 * sends items at once, which is taken as before. Throws SyncProtocolError when the peer breaks the bounds
 * or sends an undecodable or unknown item, an offer where none belongs, or items it was not asked for.
 */
export async function askOnce (libp2p: SkylineLibp2p, peer: PeerId, request: { since: number, cursor?: Uint8Array, holds?: (kind: SyncKind, idPrefix: string) => boolean }, signal: AbortSignal, onItem: (kind: SyncKind, envelope: Uint8Array) => Promise<void>): Promise<SyncAnswer> {
  let stream: Stream | undefined
  try {
    stream = await libp2p.dialProtocol(peer, SYNC_PROTOCOL, { signal })
    const lp = lpStream(stream, { maxDataLength: MAX_ITEM_BYTES })
    const ids = request.holds !== undefined
    await lp.write(SyncRequest.encode({ since: BigInt(request.since), cursor: request.cursor as Uint8Array<ArrayBuffer> | undefined, ids }), { signal })
    /** per kind: items (or offers) that came; and the offers, in order, while they come */
    const counts = new Map<number, number>()
    const count = (kind: number, n: number): void => {
      const total = (counts.get(kind) ?? 0) + n
      counts.set(kind, total)
      if (total > MAX_ITEMS_PER_KIND) throw new SyncProtocolError(`peer sent more than ${MAX_ITEMS_PER_KIND} items of kind ${kind}`)
    }
    const offers: Array<{ kind: SyncKind, id: string }> = []
    /** 'items' from the first item or once the want is sent: no offer may come after */
    let phase: 'start' | 'offers' | 'items' = 'start'
    /** how many items the want asked for; undefined until a want is sent */
    let wanted: number | undefined
    let sent = 0
    while (true) {
      const item = decodeItem(await lp.read({ signal }))
      if (item.kind === SYNC_KIND.end && item.offered) {
        if (!ids || phase === 'items') throw new SyncProtocolError('an end of offers where none belongs')
        // the want: one bit per offer, set for each item this node does not hold
        const want = new Uint8Array(Math.ceil(offers.length / 8))
        wanted = 0
        for (const [i, o] of offers.entries()) {
          if (request.holds!(o.kind, o.id)) continue
          want[i >> 3] |= 1 << (i & 7)
          wanted++
        }
        await lp.write(SyncWant.encode({ want }), { signal })
        phase = 'items'
        continue
      }
      if (item.kind === SYNC_KIND.end) {
        await stream.close({ signal })
        return { cursor: item.cursor, truncated: [...counts.values()].some(n => n >= MAX_ITEMS_PER_KIND), offered: offers.length, wanted: wanted ?? 0 }
      }
      const kind = KINDS[item.kind]
      if (kind === undefined) throw new SyncProtocolError(`unknown sync item kind ${item.kind}`)
      if (item.ids.byteLength > 0) {
        if (!ids || phase === 'items') throw new SyncProtocolError('an offer where none belongs')
        const n = item.ids.byteLength / OFFER_ID_BYTES
        if (!Number.isInteger(n) || n > MAX_IDS_PER_OFFER) throw new SyncProtocolError(`an offer of ${item.ids.byteLength} bytes`)
        count(item.kind, n)
        for (let i = 0; i < n; i++) offers.push({ kind, id: Buffer.from(item.ids.subarray(i * OFFER_ID_BYTES, (i + 1) * OFFER_ID_BYTES)).toString('hex') })
        phase = 'offers'
        continue
      }
      if (phase === 'offers') throw new SyncProtocolError('an item before the end of offers')
      if (wanted !== undefined) {
        // after a want, only what was asked for: no more items than wanted
        if (++sent > wanted) throw new SyncProtocolError(`peer sent more than the ${wanted} items asked for`)
      } else {
        count(item.kind, 1)
      }
      phase = 'items'
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
 * against known jobs), then the end marker with the new cursor. With `ids` in the request, offers the
 * items by id first and sends only those the asker's want names.
 */
export async function answer (stream: Stream, store: Store, signal: AbortSignal, stats: ServeStats): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_WANT_BYTES })
  const req = decodeFrame(await lp.read({ signal }), MAX_REQUEST_BYTES, 'sync request', SyncRequest.decode)
  stats.answered++
  const since = Number(req.since)
  const items = store.syncItems(Number.isSafeInteger(since) ? since : 0, MAX_ITEMS_PER_KIND, decodeCursor(req.cursor))
  // announcements and control first: attestations are checked against known jobs; then ban proofs
  // (they need no job): an attestation by a spare that took a banned builder's seat is only assigned
  // once the ban is known, and an IGNOREd one is never recorded, nor sent again past the cursor;
  // commitments before attestations: a rules-v2 reveal counts only once its commitment is held
  const order: SyncKind[] = ['announcement', 'control', 'equivocation', 'commitment', 'attestation']
  const lists = order.map(kind => ({
    kind,
    // an item too large for a frame is never sent, nor offered
    list: items[STORE_LIST[kind]].map((envelope, i) => ({ envelope, id: items.ids[STORE_LIST[kind]][i] })).filter(x => x.envelope.byteLength + 16 <= MAX_ITEM_BYTES)
  }))
  let wanted = (_i: number): boolean => true
  // nothing to offer: the end marker at once, no want to wait for
  if (req.ids && lists.some(l => l.list.length > 0)) {
    for (const { kind, list } of lists) {
      for (let i = 0; i < list.length; i += MAX_IDS_PER_OFFER) {
        const ids = Buffer.concat(list.slice(i, i + MAX_IDS_PER_OFFER).map(x => Buffer.from(x.id, 'hex').subarray(0, OFFER_ID_BYTES)))
        const frame = SyncItem.encode({ kind: SYNC_KIND[kind], ids: new Uint8Array(ids) })
        await lp.write(frame, { signal })
        stats.bytesServed += frame.byteLength
      }
    }
    await lp.write(SyncItem.encode({ kind: SYNC_KIND.end, offered: true }), { signal })
    const want = decodeFrame(await lp.read({ signal }), MAX_WANT_BYTES, 'sync want', SyncWant.decode).want
    wanted = i => ((want[i >> 3] ?? 0) & (1 << (i & 7))) !== 0
  }
  let i = 0
  for (const { kind, list } of lists) {
    for (const { envelope } of list) {
      if (!wanted(i++)) continue
      const frame = SyncItem.encode({ kind: SYNC_KIND[kind], envelope: envelope as Uint8Array<ArrayBuffer> })
      await lp.write(frame, { signal })
      stats.served++
      stats.bytesServed += frame.byteLength
    }
  }
  const c = items.cursor
  const cursor = SyncCursor.encode({ announcements: BigInt(c.announcements), controls: BigInt(c.controls), attestations: BigInt(c.attestations), proofs: BigInt(c.proofs), commitments: BigInt(c.commitments) })
  await lp.write(SyncItem.encode({ kind: SYNC_KIND.end, cursor }), { signal })
  await stream.close({ signal })
}

/** Decodes one frame the server read, at most `max` bytes; a stream error (the peer went away) passes as it is */
function decodeFrame<T> (bytes: Parameters<typeof SyncItem.decode>[0], max: number, what: string, decode: (b: Parameters<typeof SyncItem.decode>[0]) => T): T {
  if (bytes.byteLength > max) throw new SyncProtocolError(`${what} of ${bytes.byteLength} bytes, more than ${max}`)
  try {
    return decode(bytes)
  } catch (err: any) {
    throw new SyncProtocolError(`undecodable ${what}: ${err.message}`)
  }
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
