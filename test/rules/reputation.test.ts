import assert from 'node:assert/strict'
import { Reputation } from '../../src/rules/reputation.ts'

const DAY = 86400_000
const WEEK = 7 * DAY
const T0 = Date.UTC(2025, 0, 1)

function close (actual: number, expected: number, what = ''): void {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what} ${actual} != ${expected}`)
}

describe('consensus: reputation', () => {
  it('counts decay with a half-life of 7 days by default', () => {
    const rep = new Reputation()
    rep.record('p', 'agree', T0)
    rep.record('p', 'agree', T0)
    rep.record('p', 'dissent', T0)
    close(rep.get('p', T0).agree, 2)
    close(rep.get('p', T0 + WEEK).agree, 1)
    close(rep.get('p', T0 + WEEK).dissent, 0.5)
    close(rep.get('p', T0 + 2 * WEEK).agree, 0.5)
    // reading in the past does not grow a count
    close(rep.get('p', T0 - WEEK).agree, 2)
    assert.deepEqual(rep.get('unknown', T0), { agree: 0, dissent: 0, flagged: false })
  })

  it('the half-life is configurable', () => {
    const rep = new Reputation({ halfLifeMs: DAY })
    rep.record('p', 'dissent', T0)
    close(rep.get('p', T0 + DAY).dissent, 0.5)
    close(rep.get('p', T0 + 3 * DAY).dissent, 0.125)
  })

  it('one dissent does not flag; a second within a half-life does, and the flag lifts as it decays', () => {
    const rep = new Reputation()
    rep.record('p', 'dissent', T0)
    assert.equal(rep.get('p', T0).flagged, false)
    assert.equal(rep.appScore('p', T0), 0)
    rep.record('p', 'dissent', T0 + 6 * DAY)
    const s = rep.get('p', T0 + 6 * DAY)
    assert.equal(s.flagged, true)
    assert.ok(rep.appScore('p', T0 + 6 * DAY) < 0)
    close(rep.appScore('p', T0 + 6 * DAY), -10 * s.dissent)
    assert.deepEqual(rep.flagged(T0 + 6 * DAY), ['p'])
    // 1 + 2^(-6/7) ≈ 1.55 at the second dissent; below 1.5 a little later
    assert.equal(rep.get('p', T0 + 7 * DAY).flagged, false)
    assert.equal(rep.appScore('p', T0 + 7 * DAY), 0)
  })

  it('two dissents further apart than a half-life do not flag; agreements never do and never score', () => {
    const rep = new Reputation()
    rep.record('p', 'dissent', T0)
    rep.record('p', 'dissent', T0 + WEEK + DAY)
    assert.equal(rep.get('p', T0 + WEEK + DAY).flagged, false)
    // exactly one half-life apart: 1 + 0.5 = 1.5 flags
    const edge = new Reputation()
    edge.record('q', 'dissent', T0)
    edge.record('q', 'dissent', T0 + WEEK)
    assert.equal(edge.get('q', T0 + WEEK).flagged, true)
    for (let i = 0; i < 100; i++) rep.record('good', 'agree', T0 + i)
    assert.equal(rep.get('good', T0 + 100).flagged, false)
    assert.equal(rep.appScore('good', T0 + 100), 0)
  })

  it('events may arrive out of order with the same result', () => {
    const inOrder = new Reputation()
    inOrder.record('p', 'dissent', T0)
    inOrder.record('p', 'agree', T0 + DAY)
    inOrder.record('p', 'dissent', T0 + 3 * DAY)
    const shuffled = new Reputation()
    shuffled.record('p', 'dissent', T0 + 3 * DAY)
    shuffled.record('p', 'dissent', T0)
    shuffled.record('p', 'agree', T0 + DAY)
    const a = inOrder.get('p', T0 + 10 * DAY)
    const b = shuffled.get('p', T0 + 10 * DAY)
    close(a.agree, b.agree, 'agree')
    close(a.dissent, b.dissent, 'dissent')
    assert.equal(a.flagged, b.flagged)
  })

  it('round-trips through JSON rows for the store', () => {
    const rep = new Reputation()
    rep.record('b', 'agree', T0)
    rep.record('a', 'dissent', T0)
    rep.record('a', 'dissent', T0 + DAY)
    const rows = JSON.parse(JSON.stringify(rep.toRows()))
    assert.deepEqual(rows.map((r: any) => r.builder), ['a', 'b'])
    const back = Reputation.fromRows([...rows, { builder: 'bad', agree: -1, dissent: 0, updatedAt: 0 }, { builder: 'nan', agree: null, dissent: 0, updatedAt: 0 }])
    assert.equal(back.size, 2)
    assert.deepEqual(back.get('a', T0 + 2 * DAY), rep.get('a', T0 + 2 * DAY))
    assert.deepEqual(back.toRows(), rep.toRows())
  })

  it('prune forgets faded builders and bounds memory, keeping dissenters longest', () => {
    const rep = new Reputation({ maxBuilders: 2 })
    rep.record('old', 'agree', T0)
    rep.record('a', 'agree', T0 + 20 * WEEK)
    rep.record('b', 'agree', T0 + 20 * WEEK)
    rep.record('b', 'agree', T0 + 20 * WEEK)
    rep.record('c', 'dissent', T0 + 20 * WEEK)
    assert.equal(rep.prune(T0 + 20 * WEEK), 2) // 'old' faded, then 'a' (least history) beyond the bound
    assert.deepEqual(rep.toRows().map(r => r.builder), ['b', 'c'])
  })
})
