/**
 * The dashboard's verdicts say whether the agreed build reproduces Koji's build (docs/protocols/consensus.md,
 * "Comparison with the official build"): yes, or partly / no with the differing packages and header fields,
 * rendered as text like every name that comes from the network.
 */
import assert from 'node:assert/strict'
import { toHtml } from '../../src/node/dashboard/html.ts'
import { DASHBOARD_JS } from '../../src/node/dashboard/client.ts'
import { kojiCell, verdictsView, type DashStatus, type DashVerdict } from '../../src/node/dashboard/view.ts'

const verdict = (official?: DashVerdict['official']): DashVerdict => ({
  job: 'a'.repeat(64), nevra: 'hello-2.12-1.fc42.src', verdict: 'agreed', hash: 'b'.repeat(64), agreeing: [], dissenters: [], failedBuilders: [], equivocators: [], final: true,
  ...(official !== undefined ? { official } : {})
})

describe('dashboard: verdict rows (reproduces Koji\'s build, re-announcements)', () => {
  it('a verdict row says partly, with the packages and header fields that differ', () => {
    const html = toHtml(verdictsView({ peerId: 'x', verdicts: [verdict({ reproduces: 'partly', differences: [{ name: 'hello-2.12-1.fc42.x86_64.rpm', fields: ['BUILDTIME', 'BUILDHOST'] }], claimedBy: 3, of: 3 })] } as unknown as DashStatus))
    assert.match(html, /Reproduces Koji&#39;s build|Reproduces Koji's build/)
    assert.match(html, /partly/)
    assert.match(html, /hello-2\.12-1\.fc42\.x86_64\.rpm<\/span>: BUILDTIME, BUILDHOST/)
    assert.match(html, /3 of 3 agreeing builders/)
  })

  it('yes, nothing when unknown, and names from the network stay text', () => {
    assert.match(toHtml(kojiCell(verdict({ reproduces: 'yes', differences: [], claimedBy: 2, of: 3 }))), /b-yes[^>]*>yes</)
    assert.match(toHtml(kojiCell(verdict())), />–</)
    const hostile = toHtml(kojiCell(verdict({ reproduces: 'no', differences: [{ name: '<img src=x onerror=alert(1)>.rpm', fields: [] }], claimedBy: 1, of: 1 })))
    assert.ok(!hostile.includes('<img'), hostile)
    // the browser renders with the same function
    assert.ok(DASHBOARD_JS.includes('function kojiCell'))
  })

  it('a re-announced job\'s verdict names its attempt and the blocked job it retries', () => {
    const retried = { ...verdict(), retryOf: 'c'.repeat(64), attempt: 2 }
    const html = toHtml(verdictsView({ peerId: 'x', verdicts: [retried, verdict()] } as unknown as DashStatus))
    assert.match(html, /attempt 2, retries cccccccccccc…/)
    assert.match(html, /title="a re-announcement of blocked job c{64}"/)
    assert.equal(html.match(/attempt \d/g)?.length, 1, 'a first announcement names no attempt')
  })
})
