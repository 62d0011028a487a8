/**
 * The sync protocol's message handling under fuzzing (fixed seed; SKYLINE_FUZZ_RUNS for a long run): a
 * live node syncs (`node.sync.syncFrom`) from a peer that answers `/skyline/sync/1.0.0` with scripted
 * sequences of valid items, mutated items, forged items, unknown kinds, undecodable frames, oversized
 * length prefixes, missing end markers, resets and half-closes, and offers by id (the ids-first answer:
 * well-formed and not, of valid and unknown ids, with and without their end, before and after items). Each sync returns how many items were
 * new or fails with a named error (SyncProtocolError or a libp2p stream error); only items that pass
 * the gossip checks reach the store (forgeries never do); the node answers afterwards. The node's own
 * sync server against garbage requests is in streams.test.ts.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import fc from 'fast-check'
import type { Stream } from '@libp2p/interface'
import { SyncItem } from '../../src/protocols/pb/sync.ts'
import { SignedEnvelope } from '../../src/protocols/pb/announce.ts'
import { SYNC_PROTOCOL, SYNC_KIND } from '../../src/services/sync.ts'
import { checkAnnouncement } from '../../src/protocols/announce.ts'
import { createControl } from '../../src/protocols/control.ts'
import { ENVELOPE_KIND, signEnvelope } from '../../src/protocols/signing.ts'
import type { SkylineNode } from '../../src/node/index.ts'
import { startNode } from '../helpers/mesh.ts'
import { testAnnouncement, testAnnouncer } from '../helpers/announce.ts'
import { checkAsync } from './runs.ts'
import { assertNamed, concat, garbage, mutants, varint } from './mutate.ts'

/** What syncFrom may fail with: the protocol's own error, libp2p's stream and framing errors */
export const SYNC_CLIENT_ERRORS = ['SyncProtocolError', 'UnexpectedEOFError', 'InvalidDataLengthError', 'InvalidDataLengthLengthError', 'InvalidMessageLengthError', 'StreamResetError', 'StreamAbortedError', 'StreamStateError', 'StreamClosedError', 'AbortError', 'TimeoutError']

type Step =
  | { kind: 'item', item: 'announcement' | 'control' | 'forged' | 'mutated' | 'unknown-kind' | 'empty' | 'raw-envelope', n: number, seed: number }
  | { kind: 'frame', bytes: Uint8Array }
  | { kind: 'raw', bytes: Uint8Array }
  | { kind: 'offer', k: number, ids: 'valid' | 'random' | 'ragged' | 'many', n: number }
  | { kind: 'offered' }

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('item' as const), item: fc.constantFrom('announcement', 'control', 'forged', 'mutated', 'unknown-kind', 'empty', 'raw-envelope') as fc.Arbitrary<any>, n: fc.nat(), seed: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('frame' as const), bytes: garbage }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('offer' as const), k: fc.nat({ max: 6 }), ids: fc.constantFrom('valid', 'random', 'ragged', 'many') as fc.Arbitrary<any>, n: fc.nat({ max: 40 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'offered' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), bytes: fc.oneof(garbage, fc.constantFrom(varint(68 * 1024 + 1), varint(2 ** 32), varint(2n ** 63n), Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80))) }) }
)

const ending = fc.constantFrom('end', 'end', 'end', 'close', 'reset', 'end-then-more')

describe('fuzz: sync client against a lying peer (node.sync.syncFrom)', function () {
  this.timeout(300_000)
  const announcer = testAnnouncer()
  const stranger = testAnnouncer()
  let subject: SkylineNode
  let peer: SkylineNode
  let script: { steps: Step[], end: string } = { steps: [], end: 'end' }
  const valid: Uint8Array[] = []
  const validIds = new Set<string>()
  const forged: Uint8Array[] = []
  const controls: Uint8Array[] = []
  const errors = new Map<string, number>()

  before(async function () {
    subject = await startNode({ builder: 'none', announcers: [announcer.line] })
    peer = await startNode({ builder: 'none', announcers: [announcer.line] })
    // the peer's real sync server goes; a scripted one takes its place
    await peer.sync.stop()
    await peer.libp2p.handle(SYNC_PROTOCOL, async (stream: Stream) => { await serveScript(stream, script) }, { maxInboundStreams: 8, maxOutboundStreams: 8 })
    await subject.libp2p.dial(peer.libp2p.getMultiaddrs()[0])
    for (let i = 0; i < 24; i++) {
      const a = testAnnouncement(announcer, { srpmSha256: createHash('sha256').update(`sync-${i}`).digest() })
      valid.push(a)
      validIds.add(checkAnnouncement(a, subject.trusted, Date.now()).id)
      // same fields, an untrusted key; and the trusted key over another payload
      forged.push(testAnnouncement(stranger))
      const env = SignedEnvelope.decode(a)
      forged.push(SignedEnvelope.encode({ ...env, payload: new Uint8Array(randomBytes(env.payload.length)) }))
    }
    controls.push(createControl({ action: 'resume', reason: 'fuzz', now: Date.now() - 1000 }, announcer.key))
    forged.push(createControl({ action: 'halt', reason: 'forged', now: Date.now() }, stranger.key))
    forged.push(signEnvelope(ENVELOPE_KIND.control, randomBytes(20), announcer.key))
  })

  after(async function () {
    if (process.env.DEBUG_FUZZ !== undefined) process.stderr.write(`sync errors: ${JSON.stringify([...errors])}\n`)
    for (const n of [subject, peer]) {
      if (n === undefined) continue
      await n.stop().catch(() => {})
      rmSync(n.config.dataDir, { recursive: true, force: true })
    }
  })

  async function serveScript (stream: Stream, s: typeof script): Promise<void> {
    try {
      // the request first, as a real server reads it
      await new Promise<void>(resolve => {
        const done = (): void => { stream.removeEventListener('message', done); resolve() }
        stream.addEventListener('message', done)
        setTimeout(done, 1_000)
      })
      for (const st of s.steps) {
        if (st.kind === 'raw') { stream.send(st.bytes); continue }
        if (st.kind === 'frame') { stream.send(concat(varint(st.bytes.length), st.bytes)); continue }
        if (st.kind === 'offer' || st.kind === 'offered') {
          const bytes = st.kind === 'offered' ? SyncItem.encode({ kind: SYNC_KIND.end, offered: true }) : SyncItem.encode({ kind: st.k, ids: offerIds(st) })
          stream.send(concat(varint(bytes.length), bytes))
          continue
        }
        const item = itemFor(st)
        const bytes = SyncItem.encode({ kind: item.kind, envelope: item.envelope === undefined ? undefined : new Uint8Array(item.envelope) })
        stream.send(concat(varint(bytes.length), bytes))
      }
      if (s.end === 'reset') { stream.abort(new Error('scripted reset')); return }
      if (s.end !== 'close') {
        const end = SyncItem.encode({ kind: SYNC_KIND.end })
        stream.send(concat(varint(end.length), end))
      }
      if (s.end === 'end-then-more') stream.send(concat(varint(3), Uint8Array.of(8, 1, 18)))
      await stream.close({ signal: AbortSignal.timeout(2_000) })
    } catch (err: any) {
      stream.abort(err)
    }
  }

  /** ids of valid announcements (16 bytes each), random ones, a length that is no multiple of 16, or more than an offer may hold */
  function offerIds (st: Extract<Step, { kind: 'offer' }>): Uint8Array<ArrayBuffer> {
    switch (st.ids) {
      case 'valid': return new Uint8Array(Buffer.concat(Array.from({ length: 1 + st.n % 8 }, (_, i) => Buffer.from([...validIds][(st.n + i) % validIds.size], 'hex').subarray(0, 16))))
      case 'random': return new Uint8Array(randomBytes(16 * (1 + st.n)))
      case 'ragged': return new Uint8Array(randomBytes(1 + st.n * 3 + (st.n % 16 === 15 ? 1 : 0)))
      case 'many': return new Uint8Array(randomBytes(16 * 1025))
    }
  }

  function itemFor (st: Extract<Step, { kind: 'item' }>): { kind: number, envelope?: Uint8Array } {
    switch (st.item) {
      case 'announcement': return { kind: SYNC_KIND.announcement, envelope: valid[st.n % valid.length] }
      case 'control': return { kind: SYNC_KIND.control, envelope: controls[st.n % controls.length] }
      case 'forged': return { kind: [SYNC_KIND.announcement, SYNC_KIND.control, SYNC_KIND.attestation, SYNC_KIND.equivocation][st.n % 4], envelope: forged[st.n % forged.length] }
      case 'mutated': return { kind: SYNC_KIND.announcement, envelope: fc.sample(mutants(valid[st.n % valid.length]), { seed: st.seed, numRuns: 1 })[0] }
      case 'unknown-kind': return { kind: 5 + (st.n % 1000), envelope: valid[0] }
      case 'empty': return { kind: [1, 2, 3, 4][st.n % 4] }
      case 'raw-envelope': return { kind: [1, 2, 3, 4][st.n % 4], envelope: randomBytes(st.n % 200) }
    }
  }

  it('every sync ends with a count or a named error; only valid items reach the store', async function () {
    let ok = 0
    await checkAsync(fc.asyncProperty(fc.array(step, { maxLength: 8 }), ending, async (steps, end) => {
      script = { steps, end }
      const start = Date.now()
      try {
        const fresh = await subject.sync.syncFrom(peer.libp2p.peerId)
        assert.ok(Number.isInteger(fresh) && fresh >= 0)
        ok++
      } catch (err) {
        assertNamed(err, SYNC_CLIENT_ERRORS, 'syncFrom')
        errors.set(err.name, (errors.get(err.name) ?? 0) + 1)
      }
      assert.ok(Date.now() - start < 10_000, 'a scripted sync took over 10 s')
      // nothing forged or mutated got in: every stored announcement is one of the valid ones
      for (const id of storedAnnouncementIds(subject)) assert.ok(validIds.has(id), `an announcement not among the valid ones was stored: ${id}`)
    }), { runs: 80, cost: 40 })
    assert.ok(ok > 0, 'no sync ever completed: the property never saw a success')
    assert.ok(storedAnnouncementIds(subject).length > 0, 'no valid announcement was ever taken in')
    // a forged halt never took effect; the node still answers
    assert.equal(subject.halted, undefined)
    assert.equal(typeof subject.status().peerId, 'string')
  })

  // A bug in src/services/verdicts.ts (which this suite may not change): fails until fixed.
  it('the node takes any bytes as a synced item of any kind: false for invalid ones, never a throw', async function () {
    // SyncService drops empty envelopes itself; the node's ingest must not throw on them either
    // (src/services/verdicts.ts ingest passes them to encodeConsensusMessage, which throws a TypeError)
    await checkAsync(fc.asyncProperty(fc.constantFrom('announcement', 'control', 'attestation', 'equivocation') as fc.Arbitrary<'announcement' | 'control' | 'attestation' | 'equivocation'>, fc.oneof(fc.constant(new Uint8Array(0)), garbage), async (kind, bytes) => {
      const ingest = (subject as any).ingest.bind(subject) as (k: string, b: Uint8Array) => Promise<boolean>
      assert.equal(await ingest(kind, bytes), false, `${kind} of ${bytes.length} garbage bytes was taken`)
    }), { runs: 200 })
  })

  it('an honest sync still works afterwards', async function () {
    await peer.libp2p.unhandle(SYNC_PROTOCOL)
    const fresh = await startNode({ builder: 'none', announcers: [announcer.line] })
    try {
      // the subject now serves what it took in to a fresh node
      await fresh.libp2p.dial(subject.libp2p.getMultiaddrs()[0])
      const n = await fresh.sync.syncFrom(subject.libp2p.peerId)
      assert.ok(n >= storedAnnouncementIds(subject).length, `synced ${n} items`)
    } finally {
      await fresh.stop()
      rmSync(fresh.config.dataDir, { recursive: true, force: true })
    }
  })
})

function storedAnnouncementIds (node: SkylineNode): string[] {
  const items = node.store.syncItems(0, 100_000)
  return items.announcements.map(e => createHash('sha256').update(SignedEnvelope.decode(e).payload).digest('hex'))
}
