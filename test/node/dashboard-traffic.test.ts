/**
 * The dashboard's traffic charts in a real browser (Debian's Chromium, driven by playwright-core): a node
 * that served a blob over the real protocol shows its traffic, builds and credit per day as SVG line
 * charts with a point per day (drawn by the page's own script, in the SVG namespace, with a real size),
 * and the blob protocol's bytes in the table.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { accessSync, constants as fsConstants, rmSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'
import { startNode } from '../helpers/mesh.ts'
import { refOf, PROTOCOL as BLOB_PROTOCOL } from '../../src/services/blob/index.ts'
import type { SkylineNode } from '../../src/node/index.ts'
import { TRAFFIC_DAYS } from '../../src/node/traffic.ts'

const CHROMIUM = process.env.SKYLINE_CHROMIUM ?? '/usr/bin/chromium'

describe('dashboard: traffic charts in Chromium', function () {
  this.timeout(120_000)
  const nodes: SkylineNode[] = []
  let browser: Browser | undefined

  before(async function () {
    try {
      accessSync(CHROMIUM, fsConstants.X_OK)
    } catch {
      throw new Error(`no Chromium at ${CHROMIUM}: the dashboard tests drive Debian's chromium package (apt-get install chromium; npm run setup installs it)`)
    }
  })

  after(async () => {
    await browser?.close()
    await Promise.allSettled(nodes.map(async n => n.stop()))
    for (const n of nodes) rmSync(n.config.dataDir, { recursive: true, force: true })
  })

  it('draws the traffic, builds and credit of each day as SVG line charts, and the bytes per protocol', async () => {
    const server = await startNode({ http: '127.0.0.1:0' })
    const client = await startNode()
    nodes.push(server, client)
    const m = await server.libp2p.services.blobs.add(randomBytes(512 * 1024), { provide: false })
    await client.libp2p.dial(server.libp2p.getMultiaddrs()[0])
    await client.libp2p.services.blobs.fetch(refOf(m), { providers: [server.libp2p.peerId], signal: AbortSignal.timeout(30_000) })
    const node = server

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      chromiumSandbox: false, // --no-sandbox: tests run as root in a container
      args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-default-apps', '--no-pings', '--dns-prefetch-disable', '--disable-breakpad']
    })
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems: string[] = []
    page.on('console', msg => { if (msg.type() === 'error' || msg.type() === 'warning') problems.push(msg.text()) })
    page.on('pageerror', err => problems.push(err.message))
    assert.equal((await page.goto(node.httpUrl + '/'))?.status(), 200)
    // the script has polled and drawn the section again with DOM methods
    await page.waitForFunction(() => (globalThis as any).document.getElementById('updated')?.textContent?.startsWith('Updated'), null, { timeout: 15_000 })

    const charts = await page.evaluate(() => {
      const doc = (globalThis as any).document
      return ['chart-traffic', 'chart-builds', 'chart-credit'].map(id => {
        const line = doc.querySelector(`#${id} polyline`)
        const box = line.getBBox()
        return {
          id,
          svg: line.namespaceURI,
          points: line.points.numberOfItems,
          ys: Array.from({ length: line.points.numberOfItems }, (_, i) => line.points.getItem(i).y),
          dots: doc.querySelectorAll(`#${id} circle`).length,
          width: box.width,
          rendered: doc.querySelector(`#${id} svg`).getBoundingClientRect().height
        }
      })
    })
    for (const c of charts) {
      assert.equal(c.svg, 'http://www.w3.org/2000/svg', `${c.id}: an SVG element`)
      assert.equal(c.points, TRAFFIC_DAYS, `${c.id}: a point per day`)
      assert.equal(c.dots, TRAFFIC_DAYS)
      assert.ok(c.width > 200 && c.rendered > 40, `${c.id}: drawn with a size (${c.width}, ${c.rendered})`)
    }
    const traffic = charts[0].ys
    assert.ok(traffic[traffic.length - 1] < traffic[0], `today's traffic stands above the empty days: ${traffic.join(' ')}`)
    const row = page.locator('#traffic-protocols tbody tr', { hasText: BLOB_PROTOCOL })
    assert.equal(await row.count(), 1)
    assert.match(await row.locator('td').nth(2).textContent() ?? '', /^5\d\d\.\d KB$/, 'the blob bytes sent')
    assert.deepEqual(problems, [])
    await page.close()
  })
})
