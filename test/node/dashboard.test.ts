/**
 * The dashboard in a real browser: a 4-node mesh on 127.0.0.1 (real rpmbuild builds, r = 3, q = 2) reaches
 * an agreed verdict; the first node serves HTTP; Debian's Chromium (driven by playwright-core) opens its
 * dashboard and leaderboard. Every request Chromium makes, its own background requests included, goes
 * through a recording proxy that forwards only to 127.0.0.1 and refuses everything else.
 * Screenshots: test/node/out/dashboard.png, test/node/out/leaderboard.png.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { accessSync, constants as fsConstants, mkdirSync, rmSync } from 'node:fs'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { join, resolve } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core'
import { startNode, waitFor, waitForBuilders, tempDir } from '../helpers/mesh.ts'
import { testAnnouncer, seedSrpm } from '../helpers/announce.ts'
import { makeSignedSrpm, missingTools } from '../helpers/srpm.ts'
import { assignBuilders } from '../../src/rules/assignment.ts'
import { jobKey } from '../../src/rules/job.ts'
import type { SkylineNode } from '../../src/node/index.ts'

const CHROMIUM = process.env.SKYLINE_CHROMIUM ?? '/usr/bin/chromium'
const OUT = resolve(import.meta.dirname, 'out')
const NODES = 4
const R = 3
const Q = 2
const TARGET = 'fedora-41-x86_64'
/** A contributor name that would run script if it were ever rendered as HTML */
const HOSTILE = '<img src=x onerror="window.__pwned=1">Ann & co'

/** A forward proxy that records every request and passes on only those to 127.0.0.1 */
interface RecordingProxy { url: string, seen: string[], close: () => Promise<void> }

async function startRecordingProxy (): Promise<RecordingProxy> {
  const seen: string[] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((req, res) => {
    const raw = req.url ?? ''
    seen.push(raw)
    let target: URL
    try { target = new URL(raw) } catch { res.writeHead(400).end(); return }
    if (target.protocol !== 'http:' || target.hostname !== '127.0.0.1') { res.writeHead(403).end('refused by the test proxy'); return }
    const headers = { ...req.headers }
    delete headers['proxy-connection']
    const up = httpRequest({ host: '127.0.0.1', port: target.port, method: req.method, path: target.pathname + target.search, headers }, r => {
      res.writeHead(r.statusCode ?? 502, r.headers)
      r.pipe(res)
    })
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  server.on('connection', s => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  // TLS tunnels (https, wss) are recorded and refused: nothing here needs one
  server.on('connect', (req, socket: Socket) => { seen.push(`CONNECT ${req.url ?? ''}`); socket.end('HTTP/1.1 403 Forbidden\r\n\r\n') })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

function hostOf (url: string): string {
  if (url.startsWith('CONNECT ')) return url.slice(8)
  try { return new URL(url).hostname } catch { return url }
}

/**
 * Collects what a page must not do: console errors and warnings, uncaught exceptions, failed requests.
 * Returns a function that stops collecting (before the page closes: a poll cut short then is no fault).
 */
function watchPage (page: Page, problems: string[]): () => void {
  let on = true
  page.on('console', (m: ConsoleMessage) => { if (on && (m.type() === 'error' || m.type() === 'warning')) problems.push(`console ${m.type()}: ${m.text()}`) })
  page.on('pageerror', err => { if (on) problems.push(`page error: ${err.message}`) })
  page.on('requestfailed', r => { if (on) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`) })
  return () => { on = false }
}

describe('dashboard: a 4-node mesh seen in Chromium', function () {
  this.timeout(300_000)
  const announcer = testAnnouncer()
  const nodes: SkylineNode[] = []
  let dir: string
  let browser: Browser | undefined
  let proxy: RecordingProxy | undefined
  let job: string
  let nevra: string
  let agreeing: string[] = []
  let url: string
  const requests: string[] = []
  const problems: string[] = []

  before(async function () {
    try {
      accessSync(CHROMIUM, fsConstants.X_OK)
    } catch {
      throw new Error(`no Chromium at ${CHROMIUM}: the dashboard test drives Debian's chromium package (apt-get install chromium; npm run setup installs it)`)
    }
    const missing = missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap'])
    if (missing !== undefined) throw new Error(`missing ${missing}: npm run setup installs them`)
    mkdirSync(OUT, { recursive: true })
    dir = tempDir()
    const made = await makeSignedSrpm(join(dir, 'srpm'))
    const base = { announcers: [announcer.line], builder: 'rpmbuild', keyring: made.keyPath }
    const contributors = ['skyline-ci', HOSTILE, HOSTILE, '']
    nodes.push(await startNode({ ...base, contributor: contributors[0], http: '127.0.0.1:0' }))
    const boot = nodes[0].libp2p.getMultiaddrs()[0].toString()
    nodes.push(...await Promise.all(contributors.slice(1).map(async contributor => startNode({ ...base, contributor, bootstrap: [boot] }))))
    await waitForBuilders(nodes)
    url = nodes[0].httpUrl!
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)

    // a beacon that makes the dashboard's own node one of the builders, so its record has credit
    const srpm = { path: made.srpmPath, nevra: made.nevra }
    nevra = srpm.nevra
    const m = await nodes[0].libp2p.services.blobs.add(srpm.path)
    const peers = nodes.map(n => peerIdFromString(n.peerId))
    let beacon = randomBytes(32)
    while (!assignBuilders(jobKey(Buffer.from(m.sha256, 'hex'), TARGET, beacon), peers, R).map(String).includes(nodes[0].peerId)) beacon = randomBytes(32)
    job = (await seedSrpm(nodes[0], announcer, srpm, { replicas: R, quorum: Q, target: TARGET, beacon })).job

    await waitFor('an agreed, final verdict on every node', () => nodes.every(n => n.status().verdicts.some(v => v.job === job && v.final && v.verdict === 'agreed')), 240_000, 250)
    agreeing = nodes[0].status().verdicts.find(v => v.job === job)!.agreeing
    assert.ok(agreeing.length >= Q, JSON.stringify(agreeing))
    await waitFor('credit for every agreeing builder in the stats', () => {
      const stats = nodes[0].stats()
      return agreeing.every(p => (stats.nodes.find(n => n.peerId === p)?.credit ?? 0) > 0)
    }, 20_000, 250)

    proxy = await startRecordingProxy()
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      chromiumSandbox: false, // --no-sandbox: tests run as root in a container
      // every request, loopback included (playwright-core proxies loopback too), goes through the proxy
      proxy: { server: proxy.url },
      // playwright-core already passes --disable-background-networking, --disable-component-update,
      // --no-first-run, --disable-default-apps, --disable-sync and a --disable-features list (optimization
      // hints, network time, search preconnects; a second --disable-features would replace that list, so
      // there is none here). Chromium 156 still checks for on-device model components and lists Google
      // accounts at start: --component-updater and --gaia-url point those services at a closed port on
      // 127.0.0.1 (with them, Chromium makes no such request at all)
      args: [
        '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
        '--disable-default-apps', '--disable-domain-reliability', '--disable-client-side-phishing-detection',
        '--no-pings', '--dns-prefetch-disable', '--disable-breakpad', '--metrics-recording-only',
        '--component-updater=url-source=http://127.0.0.1:9/', '--gaia-url=http://127.0.0.1:9/'
      ]
    })
  })

  after(async () => {
    await browser?.close()
    await proxy?.close()
    await Promise.allSettled(nodes.map(async n => n.stop()))
    for (const n of nodes) rmSync(n.config.dataDir, { recursive: true, force: true })
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('serves the dashboard with strict security headers; it shows the mesh, the agreed verdict and the leaderboard, renders untrusted names as text, and refreshes itself', async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } })
    context.on('request', r => requests.push(r.url()))
    const page = await context.newPage()
    const unwatch = watchPage(page, problems)
    const res = await page.goto(url + '/')
    assert.equal(res?.status(), 200)
    const headers = res!.headers()
    assert.match(headers['content-security-policy'] ?? '', /default-src 'self'/)
    assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/)
    assert.equal(headers['x-frame-options'], 'DENY')
    assert.equal(headers['referrer-policy'], 'no-referrer')
    assert.match(headers['content-type'] ?? '', /^text\/html/)

    // the script has polled and rendered (its first poll starts at once)
    await page.waitForFunction(() => (globalThis as any).document.getElementById('updated')?.textContent?.startsWith('Updated'), null, { timeout: 15_000 })

    // header: this node, shortened, with its full ID on hover
    const self = nodes[0].peerId
    assert.equal(await page.locator('#summary h1 .peer').getAttribute('title'), self)
    assert.equal(await page.locator('#summary h1 .peer').textContent(), '…' + self.slice(-8))

    // mesh: every other node is connected
    for (const n of nodes.slice(1)) {
      assert.ok(await page.locator(`#connections [data-peer="${n.peerId}"]`).count() > 0, `peer ${n.peerId} not in the mesh section`)
    }
    // verdicts: the NEVRA, agreed, final, the agreeing count
    const row = page.locator('#verdicts tbody tr', { hasText: nevra })
    assert.equal(await row.count(), 1, `no verdict row for ${nevra}`)
    const rowText = (await row.textContent()) ?? ''
    assert.match(rowText, /agreed/)
    assert.match(rowText, /final/)
    assert.equal(await row.locator('td').nth(3).textContent(), String(agreeing.length))
    // jobs: this node built the job
    assert.match((await page.locator('#jobs tbody tr', { hasText: nevra }).textContent()) ?? '', /built/)
    // own record: credit from the agreed build
    const ownCredit = Number(((await page.locator('#record div:has(> dt:text-is("Credit")) dd').textContent()) ?? '').replace(/,/g, ''))
    assert.ok(ownCredit > 0, `own credit ${ownCredit}`)
    // leaderboard: every agreeing builder with credit > 0
    for (const p of agreeing) {
      const r = page.locator('#top-nodes tbody tr', { has: page.locator(`[data-peer="${p}"]`) })
      assert.equal(await r.count(), 1, `builder ${p} not on the leaderboard`)
      const credit = Number(((await r.locator('td').nth(3).textContent()) ?? '').replace(/,/g, ''))
      assert.ok(credit > 0, `builder ${p} has credit ${credit}`)
    }
    // a contributor name from the network is text, never markup
    assert.ok(await page.locator('#leaders .contributor', { hasText: HOSTILE }).count() > 0, 'the hostile contributor name is not shown as text')
    assert.equal(await page.locator('#leaders img').count(), 0)
    assert.equal(await page.evaluate(() => (globalThis as any).__pwned), undefined)

    const shot = join(OUT, 'dashboard.png')
    await page.screenshot({ path: shot, fullPage: true })
    console.log(`      screenshot: ${shot}`)

    // live: a node that leaves disappears from the mesh section without a reload
    const leaving = nodes[NODES - 1]
    await leaving.stop()
    await page.waitForFunction(id => (globalThis as any).document.querySelector(`#connections [data-peer="${id}"]`) === null, leaving.peerId, { timeout: 20_000 })
    unwatch()
    await context.close()
  })

  it('serves the leaderboard page, and both pages work without JavaScript', async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } })
    context.on('request', r => requests.push(r.url()))
    const page = await context.newPage()
    const unwatch = watchPage(page, problems)
    const res = await page.goto(url + '/leaderboard')
    assert.equal(res?.status(), 200)
    assert.match(res!.headers()['content-security-policy'] ?? '', /default-src 'self'/)
    await page.waitForFunction(() => (globalThis as any).document.getElementById('updated')?.textContent?.startsWith('Updated'), null, { timeout: 15_000 })
    for (const p of agreeing) assert.equal(await page.locator(`#all-nodes tbody tr [data-peer="${p}"]`).count(), 1, `builder ${p} not on the leaderboard page`)
    assert.ok(await page.locator('#all-contributors .contributor', { hasText: HOSTILE }).count() > 0)
    assert.match((await page.locator('#totals').textContent()) ?? '', /Agreed\s*1/)
    const shot = join(OUT, 'leaderboard.png')
    await page.screenshot({ path: shot, fullPage: true })
    console.log(`      screenshot: ${shot}`)
    unwatch()
    await context.close()

    // without JavaScript, the server-rendered page already holds the verdict
    const plain = await browser!.newContext({ javaScriptEnabled: false })
    plain.on('request', r => requests.push(r.url()))
    const p2 = await plain.newPage()
    const unwatchPlain = watchPage(p2, problems)
    await p2.goto(url + '/')
    assert.match((await p2.locator('#verdicts').textContent()) ?? '', new RegExp(`${nevra.replace(/[.+]/g, '\\$&')}[\\s\\S]*agreed`))
    assert.ok(await p2.locator(`#top-nodes [data-peer="${agreeing[0]}"]`).count() > 0)
    unwatchPlain()
    await plain.close()
  })

  it('had no console errors, and no request left 127.0.0.1', () => {
    assert.deepEqual(problems, [])
    assert.ok(requests.length >= 4, `too few requests seen: ${requests.join(' ')}`)
    for (const path of ['/', '/dashboard.js', '/dashboard.css', '/api/status', '/api/stats', '/leaderboard']) {
      assert.ok(requests.some(u => u === url + path), `no request for ${path}: ${requests.join(' ')}`)
    }
    assert.deepEqual(requests.filter(u => hostOf(u) !== '127.0.0.1'), [], 'the pages made requests off 127.0.0.1')
    // the proxy saw Chromium's own traffic too: the pages' requests, and nothing else
    assert.ok(proxy!.seen.some(u => u === url + '/dashboard.js'), `the proxy saw no page traffic: ${proxy!.seen.join(' ')}`)
    assert.deepEqual(proxy!.seen.filter(u => hostOf(u) !== '127.0.0.1'), [], 'Chromium tried to reach hosts off 127.0.0.1')
  })
})
