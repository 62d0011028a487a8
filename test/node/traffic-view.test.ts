/**
 * The dashboard's traffic section (src/node/dashboard/traffic-view.ts): the charts have a point per day at
 * the right height, the table lists bytes per day by protocol, the section sits after the node's record,
 * and the functions shipped to the browser build the same trees.
 */
import assert from 'node:assert/strict'
import vm from 'node:vm'
import { toHtml } from '../../src/node/dashboard/index.ts'
import { VIEW_FUNCTIONS, h, section, type VNode } from '../../src/node/dashboard/view.ts'
import { TRAFFIC_VIEW_FUNCTIONS, bytes, lineChart, trafficView, withTraffic, type TrafficReport } from '../../src/node/dashboard/traffic-view.ts'

const DAYS = ['2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04']

function report (): TrafficReport {
  return {
    since: DAYS[0],
    until: DAYS[3],
    protocols: [
      { day: '2026-12-03', protocol: 'global', sent: 3 * 1024 * 1024, received: 1024 },
      { day: '2026-12-03', protocol: '/skyline/blob/1.0.0', sent: 3 * 1024 * 1024 - 4096, received: 0 },
      { day: '2026-12-04', protocol: 'global', sent: 2048, received: 2048 },
      { day: '2026-12-04', protocol: '/<script>/1', sent: 10, received: 0 }
    ],
    daily: [
      { day: DAYS[0], sent: 0, received: 0, builds: 0, credit: 0 },
      { day: DAYS[1], sent: 0, received: 0, builds: 2, credit: 0 },
      { day: DAYS[2], sent: 3 * 1024 * 1024, received: 1024, builds: 1, credit: 42.5 },
      { day: DAYS[3], sent: 2048, received: 2048, builds: 0, credit: 0 }
    ]
  }
}

/** The chart's points as [x, y] pairs */
function points (chart: VNode): number[][] {
  const html = toHtml(chart)
  const m = /<polyline class="line" points="([^"]*)"/.exec(html)
  assert.ok(m !== null, html)
  return m[1].split(' ').map(p => p.split(',').map(Number))
}

describe('dashboard traffic section', () => {
  it('draws a point per day, the busiest day at the top and empty days on the axis', () => {
    const chart = lineChart('c', 'Traffic', DAYS, [0, 10, 40, 20], bytes)
    const p = points(chart)
    assert.equal(p.length, 4)
    assert.deepEqual(p.map(x => x[0]), [...p.map(x => x[0])].sort((a, b) => a - b), 'left to right in day order')
    const ys = p.map(x => x[1])
    assert.equal(Math.min(...ys), ys[2], 'the highest value is the highest point')
    assert.equal(Math.max(...ys), ys[0], 'zero sits on the axis')
    assert.equal(ys[1], ys[0] - (ys[0] - ys[2]) / 4, 'heights are proportional')
    const html = toHtml(chart)
    assert.equal((html.match(/<circle /g) ?? []).length, 4)
    assert.match(html, /<title>2026-12-03: 40 B<\/title>/)
    assert.match(html, /<svg viewBox="0 0 300 80" role="img" aria-label="Traffic per day, 2026-12-01 to 2026-12-04: at most 40 B, 20 B today"/)
    // a series of zeros stays on the axis
    assert.ok(points(lineChart('z', 'Credit', DAYS, [0, 0, 0, 0], bytes)).every(x => x[1] === ys[0]))
  })

  it('shows traffic, builds and credit charts and the bytes per day by protocol, protocol names as text', () => {
    const html = toHtml(trafficView(report()))
    for (const id of ['chart-traffic', 'chart-builds', 'chart-credit']) assert.match(html, new RegExp(`<figure id="${id}"`))
    assert.match(html, /max 3\.0 MB/)
    assert.match(html, /max 42\.50/)
    assert.match(html, /<td>2026-12-03<\/td><td><code>\/skyline\/blob\/1\.0\.0<\/code><\/td><td class="n">3\.0 MB<\/td>/)
    assert.match(html, /&lt;script&gt;/)
    assert.doesNotMatch(html, /<script>/)
    assert.ok(html.indexOf('2026-12-04') < html.indexOf('<td>2026-12-03'), 'newest day first')
    assert.match(toHtml(trafficView(null)), /not available/)
    assert.match(toHtml(trafficView({ ...report(), protocols: [] })), /No traffic recorded yet/)
  })

  it('goes after the node\'s record, or at the end', () => {
    const parts = { title: 't', summary: h('div', { id: 'summary' }), sections: [section('jobs', 'Jobs'), section('record', 'Record'), section('mesh', 'Mesh')] }
    assert.deepEqual(withTraffic(parts, report()).sections.map(s => s.a!.id), ['jobs', 'record', 'traffic', 'mesh'])
    assert.deepEqual(withTraffic({ ...parts, sections: [section('jobs', 'Jobs')] }, null).sections.map(s => s.a!.id), ['jobs', 'traffic'])
    assert.equal(parts.sections.length, 3, 'the parts given are not changed')
  })

  it('the functions shipped to the browser are self-contained and build the same trees', () => {
    const source = `(function () { 'use strict'\n${[...VIEW_FUNCTIONS, ...TRAFFIC_VIEW_FUNCTIONS].map(f => f.toString()).join('\n')}\nreturn { trafficView } })()`
    const shipped = vm.runInNewContext(source, {}) as { trafficView: typeof trafficView }
    assert.equal(JSON.stringify(shipped.trafficView(report())), JSON.stringify(trafficView(report())))
    assert.equal(JSON.stringify(shipped.trafficView(null)), JSON.stringify(trafficView(null)))
  })
})
