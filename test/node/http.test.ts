/**
 * The node's HTTP server with a stub node: routes, security headers, HEAD, 404/405, ETags, the Host
 * check, and escaping of hostile peer IDs, NEVRAs, contributor names and reasons. Also that the view
 * functions shipped to the browser are self-contained: run from their source text in a fresh VM context
 * they build the same trees as on the server.
 */
import assert from 'node:assert/strict'
import { request } from 'node:http'
import vm from 'node:vm'
import { Registry } from 'prom-client'
import { HttpServer, CONTENT_SECURITY_POLICY, hostAllowed, type HttpSource } from '../../src/node/http.ts'
import { DASHBOARD_JS, toHtml } from '../../src/node/dashboard/index.ts'
import { VIEW_FUNCTIONS, dashboardParts, leaderboardParts, h } from '../../src/node/dashboard/view.ts'
import type { NodeStatus, MeshStats } from '../../src/node/index.ts'

const EVIL = '<script>alert(1)</script>"\'&<img src=x onerror=alert(2)>'
const SELF = '12D3KooWSelfSelfSelfSelfSelfSelfSelfSelfSelfSelfSelf'
const OTHER = `12D3KooWOther${EVIL}`
const JOB = 'ab'.repeat(32)
const NOW = Date.now()

function stubStatus (): NodeStatus {
  return {
    peerId: SELF,
    version: '0.1.0',
    uptimeSeconds: 3725,
    memory: { rss: 100, heapUsed: 50, external: 5 },
    dataDir: '/var/lib/skyline',
    listenAddresses: ['/ip4/127.0.0.1/tcp/7770'],
    connections: [{ peerId: OTHER, address: `/ip4/127.0.0.1/tcp/1/${EVIL}`, direction: 'inbound' }],
    connectedPeers: 1,
    dht: { mode: 'server', routingTableSize: 1, protocol: '/skyline/kad/1.0.0' },
    topics: { '/skyline/2/announce': { meshPeers: [OTHER], subscribers: 1 } },
    builder: { kind: 'rpmbuild', note: null, warnings: [`warning ${EVIL}`] },
    halted: { reason: `halt ${EVIL}`, since: NOW - 60_000 },
    throttle: { throttled: true, disputedShare: 0.4, window: { size: 10, disputed: 4, ms: 3_600_000 } },
    alerts: [{ kind: 'dissent', message: `dissent on ${EVIL}`, at: NOW - 5000 }, { kind: `k${EVIL}`, message: 'odd kind', at: NOW }],
    reputation: { agree: 3.5, dissent: 2.25, flagged: true },
    verdicts: [
      { job: JOB, nevra: `evil-1.0-1.fc41.src${EVIL}`, verdict: 'disputed', hash: 'f'.repeat(64), agreeing: [SELF, 'B'.repeat(52)], dissenters: [OTHER], failedBuilders: [], equivocators: [], final: true },
      { job: 'cd'.repeat(32), nevra: null, verdict: 'pending', agreeing: [], dissenters: [], failedBuilders: [OTHER], equivocators: [OTHER], final: false }
    ],
    escalations: [
      { job: JOB, nevra: `esc-1.0-1.fc41.src${EVIL}`, verdict: 'agreed', hash: 'e'.repeat(64), final: true, dissenters: [OTHER], updatedAt: NOW - 3000 },
      { job: '23'.repeat(32), nevra: null, verdict: 'blocked', final: true, dissenters: [], updatedAt: NOW - 2000 }
    ],
    eligibility: {
      policy: { builds: 3, days: 7, probation: 2, job: JOB, issuedAt: NOW - 60_000 },
      self: { eligible: false, counted: 1, needed: 3, firstAgreedAt: NOW - 86_400_000, lostAt: null },
      ejections: [{ builder: OTHER, since: NOW - 7200_000, counted: 0, needed: 3 }],
      omissions: [{ job: JOB, builders: [`12D3KooWOmitted${EVIL}`], at: NOW - 1000 }]
    },
    jobs: [
      { job: JOB, nevra: `evil-1.0-1.fc41.src${EVIL}`, state: 'built', error: null, updatedAt: NOW - 10_000 },
      { job: 'ef'.repeat(32), nevra: 'hello-1-1.fc41.src', state: 'fetching', error: null, updatedAt: NOW, progress: { phase: 'fetch', done: 300, total: 1000 } },
      { job: '01'.repeat(32), nevra: 'bad-1-1.fc41.src', state: 'failed', error: `rpmbuild: ${EVIL}`, updatedAt: NOW - 1000 }
    ],
    buildrootPackages: { fromMirrors: 0, fromPeers: 0, fromCache: 0, refused: 0 }
  }
}

function row (credit: number): MeshStats['nodes'][number] {
  return { peerId: '', contributor: null, builds: 2, agreed: 1, dissented: 1, failed: 0, pending: 0, credit, recentCredit: credit, rac: credit / 10, lastCreditAt: NOW - 1000 }
}

function stubStats (): MeshStats {
  return {
    generatedAt: NOW,
    self: SELF,
    halfLifeDays: 7,
    nodes: [{ ...row(1234.5), peerId: OTHER, contributor: `ann ${EVIL}` }, { ...row(12), peerId: SELF, contributor: null }],
    contributors: [
      { ...row(1234.5), contributor: `ann ${EVIL}`, nodes: [OTHER] },
      { ...row(12), contributor: SELF, nodes: [SELF] }
    ],
    totals: { jobs: 2, agreed: 0, disputed: 1, noConsensus: 0, failed: 0, pending: 1, credit: 1246.5 }
  }
}

interface Reply { status: number, headers: Record<string, string | string[] | undefined>, body: string }

function get (url: string, path: string, opts: { method?: string, headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url)
    // the path as it is (no URL normalisation of /../ or %2e)
    const req = request({ host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: opts.headers }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Every attribute name in the tags of a page (quoted values skipped whole) */
function attributeNames (html: string): Set<string> {
  const names = new Set<string>()
  const tag = /<!?[a-zA-Z][a-zA-Z0-9]*((?:\s+[a-zA-Z-]+(?:="[^"]*")?)*)\s*>/g
  for (const m of html.matchAll(tag)) for (const a of m[1].matchAll(/\s([a-zA-Z-]+)(?:="[^"]*")?/g)) names.add(a[1].toLowerCase())
  // every < opens a tag, a closing tag or the doctype: none is left in text
  assert.equal(html.match(/</g)?.length, [...html.matchAll(tag)].length + [...html.matchAll(/<\/[a-z0-9]+>/g)].length)
  return names
}

/** Attribute values that load or link anything: all must be this node's own paths */
function links (html: string): string[] {
  return [...html.matchAll(/\b(?:src|href|action|formaction|poster|data)\s*=\s*"([^"]*)"/g)].map(m => m[1])
}

describe('http: the dashboard routes with a stub node', () => {
  let server: HttpServer
  let url: string
  let statsFail = false
  const source: HttpSource = {
    status: stubStatus,
    stats: () => { if (statsFail) throw new Error('stats exploded'); return stubStats() },
    registry: new Registry()
  }

  before(async () => {
    server = new HttpServer(source, { host: '127.0.0.1', port: 0 })
    await server.start()
    url = server.url!
  })
  after(async () => { await server?.stop() })
  afterEach(() => { statsFail = false })

  it('serves the dashboard: strict security headers, only its own assets, hostile strings escaped', async () => {
    const r = await get(url, '/')
    assert.equal(r.status, 200)
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8')
    assert.equal(r.headers['content-security-policy'], CONTENT_SECURITY_POLICY)
    assert.match(CONTENT_SECURITY_POLICY, /^default-src 'self';/)
    assert.match(CONTENT_SECURITY_POLICY, /frame-ancestors 'none'/)
    assert.equal(r.headers['x-frame-options'], 'DENY')
    assert.equal(r.headers['referrer-policy'], 'no-referrer')
    assert.equal(r.headers['x-content-type-options'], 'nosniff')
    assert.equal(r.headers['cache-control'], 'no-store')
    // one script element, external; no inline handlers or styles
    assert.deepEqual([...r.body.matchAll(/<script[^>]*>/g)].map(m => m[0]), ['<script src="/dashboard.js" defer>'])
    const names = attributeNames(r.body)
    assert.ok(names.size > 5)
    for (const name of names) assert.ok(!/^on|^style$/.test(name), `attribute ${name}`)
    assert.equal([...r.body.matchAll(/\ssrc="/g)].length, 1) // the script's
    assert.doesNotMatch(r.body, /<img/i)
    for (const l of links(r.body)) assert.match(l, /^\/(?!\/)|^#/, `link off this node: ${l}`)
    // hostile strings appear escaped, and do appear
    assert.ok(!r.body.includes(EVIL))
    assert.ok(r.body.includes('evil-1.0-1.fc41.src&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;&lt;img src=x onerror=alert(2)&gt;'))
    assert.ok(r.body.includes('halt &lt;script&gt;'))
    assert.ok(r.body.includes('title="12D3KooWOther&lt;script&gt;'))
    // the sections
    for (const id of ['summary', 'alerts', 'jobs', 'verdicts', 'panels', 'escalations', 'ejections', 'record', 'mesh', 'leaders']) assert.match(r.body, new RegExp(`id="${id}"`))
    // rules v2: this node on probation, an escalation and how it ended, an ejected builder, an omission
    assert.match(r.body, /badge b-probation">on probation<\/span> 1 of 3 agreed builds counted, the first at least 7 days before/)
    assert.ok(r.body.includes('esc-1.0-1.fc41.src&lt;script&gt;'))
    assert.match(r.body, /badge b-blocked">blocked</)
    assert.match(r.body, /<td class="n">0 of 3<\/td>/)
    assert.ok(r.body.includes('12D3KooWOmitted&lt;script&gt;'))
    assert.match(r.body, /class="banner halt" role="alert"/)
    assert.match(r.body, /badge b-disputed">disputed</)
    assert.match(r.body, /<progress value="300" max="1000"/)
    assert.match(r.body, /1,234.50/)
    // an alert kind from anywhere cannot choose its CSS class
    assert.match(r.body, /badge b-unknown">k&lt;script&gt;/)
  })

  it('serves the leaderboard page, and /status, /api/status, /api/stats as JSON', async () => {
    const lb = await get(url, '/leaderboard')
    assert.equal(lb.status, 200)
    assert.equal(lb.headers['content-security-policy'], CONTENT_SECURITY_POLICY)
    assert.match(lb.body, /id="all-nodes"/)
    assert.match(lb.body, /ann &lt;script&gt;/)
    assert.ok(!lb.body.includes(EVIL))
    for (const path of ['/status', '/api/status']) {
      const r = await get(url, path)
      assert.equal(r.status, 200)
      assert.equal(r.headers['content-type'], 'application/json')
      assert.deepEqual(JSON.parse(r.body), JSON.parse(JSON.stringify(stubStatus())))
      assert.equal(r.headers['content-security-policy'], CONTENT_SECURITY_POLICY)
    }
    const s = await get(url, '/api/stats')
    assert.equal(s.status, 200)
    assert.deepEqual(JSON.parse(s.body), stubStats())
  })

  it('serves the script, stylesheet and icon with ETags; the script compiles and uses no innerHTML or eval', async () => {
    const js = await get(url, '/dashboard.js')
    assert.equal(js.status, 200)
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8')
    assert.equal(js.body, DASHBOARD_JS)
    assert.doesNotThrow(() => new vm.Script(js.body))
    assert.doesNotMatch(js.body, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/)
    const etag = js.headers.etag as string
    assert.match(etag, /^"[\w-]{22}"$/)
    const again = await get(url, '/dashboard.js', { headers: { 'if-none-match': etag } })
    assert.equal(again.status, 304)
    assert.equal(again.body, '')
    const css = await get(url, '/dashboard.css')
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8')
    assert.doesNotMatch(css.body, /@import|url\((?!"\/)/)
    const icon = await get(url, '/favicon.svg')
    assert.equal(icon.headers['content-type'], 'image/svg+xml')
    assert.equal(icon.headers['content-security-policy'], CONTENT_SECURITY_POLICY)
  })

  it('answers HEAD with the headers and no body; other methods 405; unknown paths 404; query strings are ignored', async () => {
    const full = await get(url, '/')
    const head = await get(url, '/', { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(head.body, '')
    assert.equal(head.headers['content-security-policy'], CONTENT_SECURITY_POLICY)
    assert.ok(Math.abs(Number(head.headers['content-length']) - Buffer.byteLength(full.body)) < 64) // the uptime text may differ
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await get(url, '/', { method })
      assert.equal(r.status, 405, method)
      assert.equal(r.headers.allow, 'GET, HEAD')
      assert.deepEqual(JSON.parse(r.body), { error: 'method not allowed' })
    }
    for (const path of ['/nope', '/dashboard.js/', '/leaderboard/x', '/api', '/../status', '/%2e%2e/etc/passwd']) {
      const r = await get(url, path)
      assert.equal(r.status, 404, path)
      assert.equal(r.headers['content-type'], 'application/json')
      assert.deepEqual(JSON.parse(r.body), { error: 'not found' })
    }
    assert.equal((await get(url, '/?refresh=1')).status, 200)
    assert.equal((await get(url, '/leaderboard?sort=rac&x=<b>')).status, 200)
    assert.equal((await get(url, '/api/stats?x')).status, 200)
  })

  it('refuses Host names other than loopback ones (DNS rebinding)', async () => {
    const port = new URL(url).port
    assert.equal((await get(url, '/api/status', { headers: { host: `evil.example:${port}` } })).status, 403)
    assert.equal((await get(url, '/', { headers: { host: 'rebind.attacker.test' } })).status, 403)
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `dash.localhost:${port}`, `[::1]:${port}`]) {
      assert.equal((await get(url, '/api/status', { headers: { host } })).status, 200, host)
    }
    assert.equal(hostAllowed(undefined), true)
    assert.equal(hostAllowed('LOCALHOST'), true)
    assert.equal(hostAllowed('127.1.2.3:80'), true)
    assert.equal(hostAllowed('localhost.evil.example'), false)
    assert.equal(hostAllowed('127.0.0.1.evil.example'), false)
  })

  it('still renders the pages when the stats fail; /api/stats answers 500 with a short error', async () => {
    statsFail = true
    const page = await get(url, '/')
    assert.equal(page.status, 200)
    assert.match(page.body, /Stats are not available right now/)
    assert.equal((await get(url, '/leaderboard')).status, 200)
    const r = await get(url, '/api/stats')
    assert.equal(r.status, 500)
    assert.deepEqual(JSON.parse(r.body), { error: 'stats exploded' })
  })
})

describe('dashboard views', () => {
  it('toHtml escapes text and attribute values and drops unsafe attributes, links off this node and bad tags', () => {
    assert.equal(toHtml(h('span', { title: EVIL, onclick: 'x()', style: 'color:red', class: 'a"b' }, EVIL)),
      '<span title="&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;&lt;img src=x onerror=alert(2)&gt;" class="a&quot;b">&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;&lt;img src=x onerror=alert(2)&gt;</span>')
    for (const href of ['http://example.com/', '//example.com/', 'javascript:alert(1)', '/x"y']) assert.equal(toHtml(h('a', { href }, 'x')), '<a>x</a>', href)
    assert.equal(toHtml(h('a', { href: '/leaderboard' }, 'x')), '<a href="/leaderboard">x</a>')
    assert.throws(() => toHtml(h('img src=x', null)), /bad tag name/)
  })

  it('the functions shipped to the browser are self-contained and build the same trees', () => {
    const source = `(function () { 'use strict'\n${VIEW_FUNCTIONS.map(f => f.toString()).join('\n')}\nreturn { dashboardParts, leaderboardParts } })()`
    const shipped = vm.runInNewContext(source, {}) as { dashboardParts: typeof dashboardParts, leaderboardParts: typeof leaderboardParts }
    const same = (a: unknown, b: unknown): void => assert.equal(JSON.stringify(a), JSON.stringify(b))
    same(shipped.dashboardParts(stubStatus(), stubStats(), NOW), dashboardParts(stubStatus(), stubStats(), NOW))
    same(shipped.dashboardParts(stubStatus(), null, NOW), dashboardParts(stubStatus(), null, NOW))
    same(shipped.leaderboardParts(stubStats(), NOW), leaderboardParts(stubStats(), NOW))
    same(shipped.leaderboardParts(null, NOW), leaderboardParts(null, NOW))
    // a quiet node: no alerts, no jobs, no verdicts, no connections, no builds
    const quiet = { ...stubStatus(), escalations: [], eligibility: { policy: null, self: null, ejections: [], omissions: [] }, halted: null, throttle: { throttled: false, disputedShare: 0, window: { size: 0, disputed: 0, ms: 3_600_000 } }, alerts: [], reputation: { agree: 0, dissent: 0, flagged: false }, verdicts: [], jobs: [], connections: [], builder: { kind: null, note: 'bwrap missing', warnings: [] } }
    const empty = { ...stubStats(), nodes: [], contributors: [] }
    same(shipped.dashboardParts(quiet, empty, NOW), dashboardParts(quiet, empty, NOW))
    const html = toHtml(dashboardParts(quiet, empty, NOW).sections)
    assert.match(html, /No alerts/)
    assert.match(html, /not been assigned a job/)
    assert.match(html, /No verdicts yet/)
    assert.match(html, /No escalations/)
    assert.match(html, /no rules-v2 announcement yet/)
    assert.match(html, /No builds on record yet/)
    assert.match(toHtml(dashboardParts(quiet, empty, NOW).summary), /none: relays and tallies only \(bwrap missing\)/)
  })
})
