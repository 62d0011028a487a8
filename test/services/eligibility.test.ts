import assert from 'node:assert/strict'
import type { PeerId } from '@libp2p/interface'
import { Store, announcementRow } from '../../src/store/store.ts'
import { checkAnnouncement, type CheckedAnnouncement } from '../../src/protocols/announce.ts'
import { TrustedKeys } from '../../src/protocols/signing.ts'
import { Eligibility } from '../../src/services/eligibility.ts'
import { Reveals } from '../../src/services/reveals.ts'
import { BuilderKeyCache } from '../../src/protocols/attestation.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { rankBySaltedPosition } from '../../src/rules/position.ts'
import { randomPeerId, testAnnouncement, testAnnouncer } from '../helpers/announce.ts'

const announcer = testAnnouncer()
const trusted = new TrustedKeys()
trusted.add(announcer.key.publicKey)
const PANEL = { panel: 2, escalation: 1, threshold: 3 }
const log = Object.assign(() => {}, { error: () => {} })

describe('eligibility on a node: records from the store, seats and probation per announcement', () => {
  let store: Store
  let cache: Map<string, CheckedAnnouncement>
  let peers: PeerId[]

  /** Announces (stores) a rules-v2 job issued at `now` listing `peers` */
  function announce (now: number, policy = { builds: 1, days: 0, probation: 1 }): CheckedAnnouncement {
    const c = checkAnnouncement(testAnnouncement(announcer, { candidates: peers, panel: PANEL, policy, now }), trusted, now)
    store.addAnnouncement(announcementRow(c))
    cache.set(c.job, c)
    return c
  }

  function agree (a: CheckedAnnouncement, credited: PeerId[], extra: Record<string, unknown> = {}): void {
    const detail = { verdict: 'agreed', agreeing: credited.map(String), dissenters: [], credited: credited.map(String), ...extra }
    store.setVerdict({ job: a.job, verdict: 'agreed', hash: 'a'.repeat(64), final: true, detail: JSON.stringify(detail), updatedAt: Date.now() })
  }

  beforeEach(() => {
    store = new Store(':memory:')
    cache = new Map()
    peers = Array.from({ length: 5 }, randomPeerId)
  })
  afterEach(() => { store.close() })

  const service = (): Eligibility => {
    const e = new Eligibility({ store, announcements: { get: job => cache.get(job) }, log })
    e.load()
    return e
  }

  it('counts final agreed builds of jobs issued before the announcement; a later verdict counts once refreshed; the seats are the eligible ones, the probation seat the best non-eligible', () => {
    const t0 = Date.now() - 60_000
    const first = announce(t0)
    agree(first, peers.slice(0, 3))
    const e = service()
    const next = announce(t0 + 1000)
    const ranked = rankBySaltedPosition(next.jobKey, next.announcement.beacon, peers).map(String)
    const eligible = new Set(peers.slice(0, 3).map(String))
    const s = e.seating(next, new Set())
    assert.deepEqual(s.seats.map(String), ranked.filter(p => eligible.has(p)))
    assert.deepEqual(s.probation.map(String), ranked.filter(p => !eligible.has(p)).slice(0, 1))
    // the probation seat's matching reveal: eligible for jobs issued after `next`, not for `next` itself
    agree(next, peers.slice(0, 3), { probation: [s.probation[0].toString()], probationAgreeing: [s.probation[0].toString()] })
    e.refresh(next.job)
    assert.equal(e.eligible(next, s.probation[0].toString()), false)
    const later = announce(t0 + 2000)
    assert.equal(e.eligible(later, s.probation[0].toString()), true)
    assert.deepEqual(e.report(peers[0].toString(), new Set(), Date.now()).self, { eligible: true, counted: 2, needed: 1, firstAgreedAt: t0, lostAt: null })
  })

  it('a lost build ejects until K more agreed builds; status lists the ejection since the job it lost', () => {
    const t0 = Date.now() - 60_000
    const a = announce(t0)
    agree(a, [peers[0], peers[1]])
    const b = announce(t0 + 1000)
    agree(b, [peers[1]], { dissenters: [peers[0].toString()] })
    const e = service()
    const c = announce(t0 + 2000)
    assert.deepEqual(e.checkList(c, () => [], new Set()), [], 'the node checks each new announcement (and keeps its policy)')
    assert.equal(e.eligible(c, peers[0].toString()), false)
    assert.equal(e.eligible(c, peers[1].toString()), true)
    const report = e.report(peers[1].toString(), new Set(), Date.now())
    assert.deepEqual(report.ejections, [{ builder: peers[0].toString(), since: t0 + 1000, counted: 0, needed: 1 }])
    assert.deepEqual(report.policy, { builds: 1, days: 0, probation: 1, job: c.job, issuedAt: t0 + 2000 })
  })

  it('announcement rows stored before issued_at was kept are filled in at load; K = 0 seats every candidate', () => {
    const t0 = Date.now() - 60_000
    const a = announce(t0)
    store.db.prepare('UPDATE announcements SET issued_at = 0').run()
    agree(a, [peers[0]])
    assert.deepEqual(store.buildHistory(), [], 'a row without its issue time counts for nothing')
    const e = service()
    assert.deepEqual(store.buildHistory().map(h => h.issuedAt), [t0])
    assert.equal(e.history(peers[0].toString()).length, 1)
    const open = announce(t0 + 1000, { builds: 0, days: 0, probation: 0 })
    assert.deepEqual(e.seating(open, new Set()), { seats: open.builders, probation: [] })
  })

  it('an eligible builder this node knows that the list leaves out is an omission (logged, kept for status); one not eligible or banned is not', () => {
    const t0 = Date.now() - 60_000
    const outsider = randomPeerId()
    const stranger = randomPeerId()
    agree(announce(t0), [peers[0], outsider])
    const e = service()
    const next = announce(t0 + 1000)
    assert.equal(e.seating(next, new Set()).seats.length, 1, 'one listed builder is eligible: seats left empty')
    assert.deepEqual(e.checkList(next, () => [outsider, stranger, peers[0]], new Set()), [outsider.toString()])
    assert.deepEqual(e.checkList(next, () => [outsider], new Set([outsider.toString()])), [])
    assert.deepEqual(e.omissions.map(o => [o.job, o.builders]), [[next.job, [outsider.toString()]]])
    const open = announce(t0 + 2000, { builds: 0, days: 0, probation: 0 })
    assert.deepEqual(e.checkList(open, () => { throw new Error('K = 0 lists no peers') }, new Set()), [], 'K = 0: nothing to check')
  })

  it('a probation reveal is compared only when its seat committed before stage 1\'s first reveal (a copy of a public hash earns nothing)', async () => {
    const reveals = new Reveals({ store, privateKey: await generateKeyPair('Ed25519'), keys: new BuilderKeyCache(), self: 'me' })
    const commit = (builder: string, time: number): void => { store.addCommitment({ id: `c-${builder}`, job: 'j', builder, commitment: '00', time, receivedAt: time, envelope: Uint8Array.of(1) }) }
    commit('early', 1000)
    commit('late', 2500)
    const stage1Reveals = [{ builder: 's0', time: 2000 }, { builder: 's1', time: 3000 }, { builder: 'early', time: 2600 }, { builder: 'late', time: 2700 }]
    assert.deepEqual([...reveals.comparableProbation('j', ['s0', 's1'], ['early', 'late', 'silent'], stage1Reveals)], ['early'])
    assert.deepEqual([...reveals.comparableProbation('j', ['s0', 's1'], ['early', 'late'], [])], ['early', 'late'], 'no stage-1 reveal yet: nothing public to copy')
  })
})
