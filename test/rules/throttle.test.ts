import assert from 'node:assert/strict'
import { Throttle } from '../../src/rules/throttle.ts'
import type { FinalVerdictKind } from '../../src/rules/tally.ts'

const T0 = Date.UTC(2025, 0, 1)
const MIN = 60_000
const HOUR = 60 * MIN

function feed (t: Throttle, verdicts: FinalVerdictKind[], start = T0, step = MIN): void {
  verdicts.forEach((v, i) => t.record(v, start + i * step))
}

describe('consensus: throttle', () => {
  it('needs a minimum sample of 5 verdicts', () => {
    const t = new Throttle()
    feed(t, ['disputed', 'disputed', 'disputed', 'disputed'])
    const s = t.state(T0 + 10 * MIN)
    assert.equal(s.disputedShare, 1)
    assert.equal(s.window.size, 4)
    assert.equal(s.throttled, false)
    t.record('disputed', T0 + 5 * MIN)
    assert.equal(t.state(T0 + 10 * MIN).throttled, true)
  })

  it('throttles when the disputed share is strictly above 0.2', () => {
    const t = new Throttle()
    feed(t, ['agreed', 'agreed', 'agreed', 'failed', 'disputed'])
    const at = T0 + 10 * MIN
    assert.equal(t.state(at).disputedShare, 0.2)
    assert.equal(t.state(at).throttled, false)
    t.record('disputed', T0 + 6 * MIN)
    assert.ok(Math.abs(t.state(at).disputedShare - 2 / 6) < 1e-12)
    assert.equal(t.state(at).throttled, true)
    assert.equal(t.state(at).window.disputed, 2)
    // no-consensus counts in the sample but is not a dispute
    const n = new Throttle()
    feed(n, ['no-consensus', 'no-consensus', 'no-consensus', 'no-consensus', 'no-consensus'])
    assert.equal(n.state(T0 + 10 * MIN).throttled, false)
  })

  it('slides: verdicts older than an hour leave the window', () => {
    const t = new Throttle()
    feed(t, ['disputed', 'disputed', 'disputed', 'agreed', 'agreed', 'agreed'])
    assert.equal(t.state(T0 + 30 * MIN).throttled, true)
    // at T0 + 61 min the first two disputes (T0, T0 + 1 min) are out: 1 of 4, and under the minimum sample
    const later = t.state(T0 + HOUR + MIN)
    assert.equal(later.window.size, 4)
    assert.equal(later.window.from, T0 + 2 * MIN)
    assert.equal(later.throttled, false)
    // verdicts after `now` are not in its window
    assert.equal(t.state(T0 - 1).window.size, 0)
    assert.equal(t.state(T0 - 1).disputedShare, 0)
  })

  it('keeps at most the last N verdicts', () => {
    const t = new Throttle({ maxVerdicts: 10 })
    feed(t, Array<FinalVerdictKind>(5).fill('disputed'), T0, 1000)
    feed(t, Array<FinalVerdictKind>(10).fill('agreed'), T0 + 10_000, 1000)
    const s = t.state(T0 + 30_000)
    assert.equal(s.window.size, 10)
    assert.equal(s.window.disputed, 0)
    assert.equal(s.throttled, false)
  })

  it('counts a job once: a later verdict for the same job replaces the earlier', () => {
    const t = new Throttle()
    for (let i = 0; i < 5; i++) t.record('agreed', T0 + i, `job-${i}`)
    t.record('disputed', T0 + 10, 'job-0')
    t.record('disputed', T0 + 11, 'job-1')
    const s = t.state(T0 + MIN)
    assert.equal(s.window.size, 5)
    assert.equal(s.window.disputed, 2)
    assert.equal(s.throttled, true)
  })

  it('is configurable, and refuses pending verdicts', () => {
    const t = new Throttle({ threshold: 0.5, minSample: 2, windowMs: 10 * MIN })
    feed(t, ['disputed', 'agreed'])
    assert.equal(t.state(T0 + 2 * MIN).throttled, false)
    t.record('disputed', T0 + 2 * MIN)
    assert.equal(t.state(T0 + 3 * MIN).throttled, true)
    assert.equal(t.state(T0 + 11 * MIN).window.size, 1)
    assert.throws(() => t.record('pending' as FinalVerdictKind, T0), TypeError)
  })
})

describe('throttle: rules v2', () => {
  it('counts blocked verdicts, not escalations that ended agreed', () => {
    const t = new Throttle()
    for (let i = 0; i < 10; i++) t.record('agreed', 1000 + i, `a${i}`)
    for (let i = 0; i < 2; i++) t.record('blocked', 2000 + i, `b${i}`)
    assert.equal(t.state(3000).throttled, false)
    t.record('blocked', 2100, 'b3')
    assert.equal(t.state(3000).window.disputed, 3)
    assert.equal(t.state(3000).throttled, true)
  })
})

describe('throttle: re-announced jobs', () => {
  it('a blocked job counts only when its last attempt is blocked: a retry supersedes it, before or after its verdict', () => {
    const t = new Throttle({ minSample: 2, threshold: 0.2 })
    t.record('agreed', 1000, 'a')
    t.record('blocked', 1001, 'b1')
    assert.equal(t.state(2000).throttled, true)
    t.supersede('b1')
    assert.deepEqual([t.state(2000).window.size, t.state(2000).window.disputed], [1, 0])
    // a node whose tally lags records the superseded job's verdict after the retry: it still never counts
    t.supersede('c1')
    t.record('blocked', 1002, 'c1')
    assert.equal(t.state(2000).window.size, 1)
    // the retry ends agreed: nothing blocked counts; a last attempt that ends blocked counts once
    t.record('agreed', 1003, 'b2')
    t.record('blocked', 1004, 'c3')
    assert.deepEqual([t.state(2000).window.size, t.state(2000).window.disputed], [3, 1])
  })
})
