import { strict as assert } from 'node:assert'
import fc from 'fast-check'
import { computeStats, STATS_HALF_LIFE_DAYS, type StatsAttestation, type StatsVerdict } from '../../src/rules/stats.ts'

const DAY = 24 * 3600 * 1000
const NOW = Date.UTC(2026, 10, 22)

function att (job: string, builder: string, durationMs: number, over: Partial<StatsAttestation> = {}): StatsAttestation {
  return { job, builder, status: 'ok', time: NOW, contributor: '', durationMs, ...over }
}

function verdict (job: string, verdict: string, agreeing: string[], dissenters: string[] = [], failedBuilders: string[] = [], final = true): StatsVerdict {
  return { job, final, detail: JSON.stringify({ verdict, agreeing, dissenters, failedBuilders, equivocators: [], final }) }
}

describe('stats tracker', () => {
  it('grants the median claimed duration to each agreeing builder of an agreed job, and nothing for other verdicts', () => {
    const s = computeStats({
      attestations: [
        att('j1', 'A', 10_000), att('j1', 'B', 20_000), att('j1', 'C', 600_000), // C inflates its claim
        att('j2', 'A', 50_000), att('j2', 'B', 50_000), att('j2', 'D', 50_000, { contributor: 'mallory' }),
        att('j3', 'A', 1_000), att('j3', 'B', 1_000)
      ],
      verdicts: [
        verdict('j1', 'agreed', ['A', 'B', 'C']),
        verdict('j2', 'disputed', ['A', 'B'], ['D']),
        verdict('j3', 'agreed', ['A', 'B'], [], [], false) // not final yet
      ]
    }, { self: 'A', now: NOW })
    const by = Object.fromEntries(s.nodes.map(n => [n.peerId, n]))
    assert.equal(by.A.credit, 20, 'median of 10 s, 20 s, 600 s')
    assert.equal(by.C.credit, 20, 'an inflated claim does not raise what the quorum is paid')
    assert.equal(by.D.credit, 0)
    assert.equal(by.D.dissented, 1)
    assert.equal(by.D.contributor, 'mallory')
    assert.equal(by.A.agreed, 2, 'agreeing side of agreed and disputed')
    assert.equal(by.A.builds, 3)
    assert.equal(by.A.pending, 1)
    assert.deepEqual(s.totals, { jobs: 3, agreed: 1, disputed: 1, noConsensus: 0, failed: 0, pending: 1, credit: 60 })
    assert.equal(s.nodes.at(-1)?.peerId, 'D', 'ranked by credit')
  })

  it('gives at least one credit per agreed build and none to failed builders', () => {
    const s = computeStats({
      attestations: [att('j', 'A', 200), att('j', 'B', 0), att('j', 'F', 0, { status: 'failed' })],
      verdicts: [verdict('j', 'agreed', ['A', 'B'], [], ['F'])]
    }, { self: 'A', now: NOW })
    const by = Object.fromEntries(s.nodes.map(n => [n.peerId, n]))
    assert.equal(by.A.credit, 1)
    assert.equal(by.F.credit, 0)
    assert.equal(by.F.failed, 1)
  })

  it('decays recent credit with a 7-day half-life from the agreeing builders\' signed time', () => {
    const week = STATS_HALF_LIFE_DAYS * DAY
    const s = computeStats({
      attestations: [att('old', 'A', 100_000, { time: NOW - week }), att('old', 'B', 100_000, { time: NOW - week - 5000 })],
      verdicts: [verdict('old', 'agreed', ['A', 'B'])]
    }, { self: 'A', now: NOW })
    const a = s.nodes.find(n => n.peerId === 'A')!
    assert.equal(a.credit, 100)
    assert.equal(a.recentCredit, 50)
    assert.equal(a.rac, Math.round(50 * Math.LN2 / 7 * 1000) / 1000)
    assert.equal(a.lastCreditAt, NOW - week)
  })

  it('groups nodes by contributor (latest signed name), and a node without one stands alone', () => {
    const s = computeStats({
      attestations: [
        att('j1', 'A', 5000, { contributor: 'alice', time: NOW - 10 }), att('j1', 'B', 5000, { contributor: 'alice' }), att('j1', 'C', 5000),
        att('j2', 'A', 5000, { contributor: 'alice-old', time: NOW - 100 })
      ],
      verdicts: [verdict('j1', 'agreed', ['A', 'B', 'C'])]
    }, { self: 'C', now: NOW })
    const alice = s.contributors.find(c => c.contributor === 'alice')!
    assert.deepEqual(alice.nodes, ['A', 'B'])
    assert.equal(alice.credit, 10)
    assert.equal(s.contributors.find(c => c.contributor === 'C')?.credit, 5)
    assert.ok(!s.contributors.some(c => c.contributor === 'alice-old'))
  })

  it('is the same whatever order the attestations and verdicts come in', () => {
    const builders = ['A', 'B', 'C', 'D', 'E']
    const arb = fc.array(fc.record({
      job: fc.constantFrom('j1', 'j2', 'j3', 'j4'),
      builder: fc.constantFrom(...builders),
      durationMs: fc.integer({ min: 0, max: 1_000_000 }),
      time: fc.integer({ min: NOW - 30 * DAY, max: NOW }),
      contributor: fc.constantFrom('', 'alice', 'bob')
    }), { maxLength: 30 })
    fc.assert(fc.property(arb, fc.integer(), (rows, seed) => {
      // one claim per (job, builder), as the store keeps
      const seen = new Set<string>()
      const atts = rows.filter(r => !seen.has(r.job + r.builder) && seen.add(r.job + r.builder) !== undefined).map(r => att(r.job, r.builder, r.durationMs, r))
      const verdicts = ['j1', 'j2', 'j3'].map((j, i) => verdict(j, i === 2 ? 'disputed' : 'agreed', atts.filter(a => a.job === j).map(a => a.builder).slice(0, 3).sort(), i === 2 ? atts.filter(a => a.job === j).map(a => a.builder).slice(3).sort() : []))
      const shuffle = <T>(xs: T[]): T[] => xs.map((x, i) => ({ x, k: (i * 7919 + seed) % 104729 })).sort((a, b) => a.k - b.k).map(e => e.x)
      const a = computeStats({ attestations: atts, verdicts }, { self: 'A', now: NOW })
      const b = computeStats({ attestations: shuffle(atts).reverse(), verdicts: shuffle(verdicts).reverse() }, { self: 'A', now: NOW })
      assert.deepEqual(b, a)
    }), { seed: 42, numRuns: 300 })
  })
})
