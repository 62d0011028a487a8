/**
 * The metered-link pause (src/services/metered.ts), with a stand-in `nmcli` on PATH (this host has no
 * NetworkManager) that reports what a state file says: while the link is metered a real node answers
 * chunk requests BUSY and its own fetches wait, and both go on when it is no longer metered; a node
 * started with the default config asks nmcli at once; `--metered ignore` and `pause` override it; without
 * nmcli nothing changes.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { chmodSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { startNode, tempDir, waitFor } from '../helpers/mesh.ts'
import { refOf } from '../../src/services/blob/index.ts'
import { MeteredLink, parseMetered } from '../../src/services/metered.ts'
import { loadConfig, type SkylineNode } from '../../src/node/index.ts'

const BLOB = 4 * 256 * 1024

describe('metered link', function () {
  this.timeout(90_000)
  const nodes: SkylineNode[] = []
  const links: MeteredLink[] = []
  let dir: string
  let state: string
  let path: string | undefined

  /** What the stand-in nmcli reports from now on */
  function setMetered (value: string): void {
    writeFileSync(state, `GENERAL.METERED:no\n\nGENERAL.METERED:${value}\n\nGENERAL.METERED:unknown\n`)
  }

  before(() => {
    dir = tempDir()
    state = join(dir, 'state')
    setMetered('no')
    const nmcli = join(dir, 'nmcli')
    writeFileSync(nmcli, `#!/bin/sh\n[ "$*" = "-t -f GENERAL.METERED dev show" ] || { echo "unexpected arguments: $*" >&2; exit 2; }\ncat '${state}'\n`)
    chmodSync(nmcli, 0o755)
    path = process.env.PATH
    process.env.PATH = `${dir}:${path ?? ''}`
  })

  after(async () => {
    process.env.PATH = path
    for (const l of links) l.stop()
    await Promise.allSettled(nodes.map(async n => n.stop()))
    for (const n of nodes) rmSync(n.config.dataDir, { recursive: true, force: true })
    rmSync(dir, { recursive: true, force: true })
  })

  it('reads nmcli\'s per-device states: yes and yes (guessed) are metered', () => {
    assert.equal(parseMetered('GENERAL.METERED:no\n\nGENERAL.METERED:yes (guessed)\n'), true)
    assert.equal(parseMetered('GENERAL.METERED:yes\n'), true)
    assert.equal(parseMetered('GENERAL.METERED:no (guessed)\nGENERAL.METERED:unknown\n'), false)
    assert.equal(parseMetered(''), false)
  })

  /** Starts a fetch of a new blob from `server` by `client`; resolves with its path */
  async function startFetch (server: SkylineNode, client: SkylineNode): Promise<{ done: Promise<string>, sha256: string }> {
    const m = await server.libp2p.services.blobs.add(randomBytes(BLOB), { provide: false })
    await client.libp2p.dial(server.libp2p.getMultiaddrs()[0])
    return { done: client.libp2p.services.blobs.fetch(refOf(m), { providers: [server.libp2p.peerId], signal: AbortSignal.timeout(60_000) }), sha256: m.sha256 }
  }

  async function pausesAndResumes (metered: 'server' | 'client'): Promise<void> {
    setMetered('no')
    const server = await startNode({ metered: 'ignore' })
    const client = await startNode({ metered: 'ignore' })
    nodes.push(server, client)
    const node = metered === 'server' ? server : client
    const link = new MeteredLink({ blobs: node.libp2p.services.blobs, log: logger('test:metered') }, { pollMs: 100 })
    links.push(link)
    const events: boolean[] = []
    node.libp2p.services.blobs.addEventListener('transfer', e => events.push(e.detail.paused))
    setMetered('yes (guessed)')
    link.start()
    await waitFor('the pause', () => node.libp2p.services.blobs.paused, 10_000)
    const { done, sha256 } = await startFetch(server, client)
    let finished = false
    void done.then(() => { finished = true }, () => { finished = true })
    // well past the time the whole blob takes unpaused (a fraction of a second), and past several BUSY retries
    await new Promise(resolve => setTimeout(resolve, 3_000))
    assert.equal(finished, false, 'the fetch finished while paused')
    assert.equal(server.libp2p.services.blobs.stats().blobs[sha256]?.uploaded ?? 0, 0, 'chunks were served while paused')
    setMetered('no')
    await waitFor('the resume', () => !node.libp2p.services.blobs.paused, 10_000)
    await done
    assert.equal(server.libp2p.services.blobs.stats().blobs[sha256]?.uploaded, BLOB)
    assert.deepEqual(events, [true, false], 'the service log hears of the pause and the resume')
  }

  it('a metered server answers chunk requests BUSY, and serves them once it is not', async () => {
    await pausesAndResumes('server')
  })

  it('a metered client holds its fetch without failing it, and finishes it once it is not', async () => {
    await pausesAndResumes('client')
  })

  it('a node asks nmcli at start (auto, the default); ignore and pause override it; without nmcli nothing changes', async () => {
    setMetered('yes')
    const auto = await startNode()
    const ignore = await startNode({ metered: 'ignore' })
    nodes.push(auto, ignore)
    await waitFor('the pause of a node on a metered link', () => auto.libp2p.services.blobs.paused, 10_000)
    assert.equal(ignore.libp2p.services.blobs.paused, false)
    setMetered('no')
    const pause = await startNode({ metered: 'pause' })
    nodes.push(pause)
    assert.equal(pause.libp2p.services.blobs.paused, true)
    process.env.PATH = '/nonexistent'
    try {
      const none = await startNode({ metered: 'auto' })
      nodes.push(none)
      await new Promise(resolve => setTimeout(resolve, 500))
      assert.equal(none.libp2p.services.blobs.paused, false)
    } finally {
      process.env.PATH = `${dir}:${path ?? ''}`
    }
    assert.throws(() => loadConfig({ dataDir: dir, metered: 'sometimes' }), /--metered must be one of auto, ignore, pause \(got 'sometimes'\)/)
  })
})
