import { strict as assert } from 'node:assert'
import { dailyRecord } from '../../src/rules/history.ts'
import { computeStats, type StatsAttestation, type StatsVerdict } from '../../src/rules/stats.ts'

const DAY = 24 * 3600 * 1000
const D1 = Date.UTC(2026, 11, 1, 12)

function att (job: string, builder: string, time: number, durationMs = 30_000, status: 'ok' | 'failed' = 'ok'): StatsAttestation {
  return { job, builder, status, time, contributor: '', durationMs }
}
function verdict (job: string, verdict: string, agreeing: string[], final = true, credited?: string[]): StatsVerdict {
  return { job, final, detail: JSON.stringify({ verdict, agreeing, dissenters: [], failedBuilders: [], credited }) }
}

describe('daily record', () => {
  const input = {
    attestations: [
      att('j1', 'A', D1), att('j1', 'B', D1 + 1000, 50_000),
      att('j2', 'A', D1 + DAY), att('j2', 'B', D1 + DAY),
      att('j3', 'A', D1 + DAY, 0, 'failed'), att('j3', 'B', D1 + DAY),
      att('j4', 'A', D1 + 2 * DAY), att('j4', 'B', D1 + 2 * DAY),
      att('j5', 'B', D1 + 2 * DAY), att('j5', 'C', D1 + 2 * DAY)
    ],
    verdicts: [
      verdict('j1', 'agreed', ['A', 'B']), // credit 40 (median of 30 s, 50 s), dated by B's later attestation
      verdict('j2', 'disputed', ['A', 'B']), // no credit
      verdict('j3', 'failed', []),
      verdict('j4', 'agreed', ['A', 'B'], false), // not final
      verdict('j5', 'agreed', ['B', 'C'], true, ['C']) // rules v2: only C credited
    ]
  }

  it('counts the node\'s builds and credit per UTC day, as the stats tracker grants it', () => {
    assert.deepEqual(dailyRecord(input, 'A', '2026-12-01'), [
      { day: '2026-12-01', builds: 1, credit: 40 },
      { day: '2026-12-02', builds: 2, credit: 0 },
      { day: '2026-12-03', builds: 1, credit: 0 }
    ])
    assert.deepEqual(dailyRecord(input, 'B', '2026-12-02'), [
      { day: '2026-12-02', builds: 2, credit: 0 },
      { day: '2026-12-03', builds: 2, credit: 0 }
    ], 'days before `since` are left out; an uncredited seat gets none')
    assert.deepEqual(dailyRecord(input, 'C', '2026-12-01'), [{ day: '2026-12-03', builds: 1, credit: 30 }])
  })

  it('adds up to the stats tracker\'s totals', () => {
    const stats = computeStats(input, { self: 'A', now: D1 + 3 * DAY })
    for (const n of stats.nodes) {
      const days = dailyRecord(input, n.peerId, '2000-01-01')
      assert.equal(days.reduce((a, d) => a + d.credit, 0), n.credit, n.peerId)
      assert.equal(days.reduce((a, d) => a + d.builds, 0), n.builds, n.peerId)
    }
  })
})
