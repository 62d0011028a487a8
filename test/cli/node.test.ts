import assert from 'node:assert/strict'
import { statSync, writeFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { collect, runCli, startCli } from '../helpers/cli.ts'
import { tempDir } from '../helpers/mesh.ts'

const READY = /skyline node (\S+)[\s\S]*status at (http:\/\/\S+)\/status/

describe('skyline node (as a process)', function () {
  this.timeout(60_000)
  let dir: string
  beforeEach(() => { dir = tempDir() })
  afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

  it('stops cleanly on SIGTERM and SIGINT, and a restart on the same data dir keeps the peer ID', async () => {
    const args = ['node', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0']
    const first = await startCli(args, READY)
    const id = first.match[1]
    assert.match(id, /^12D3KooW/)
    assert.equal(statSync(join(dir, 'identity.key')).mode & 0o777, 0o600)
    const status = await (await fetch(`${first.match[2]}/status`)).json() as { peerId: string }
    assert.equal(status.peerId, id)
    first.child.kill('SIGTERM')
    const r1 = await collect(first.child, 15_000)
    assert.equal(r1.code, 0)
    assert.doesNotMatch(first.output().stderr, /at .*\.ts:\d+|Error/)

    const second = await startCli(args, READY)
    assert.equal(second.match[1], id)
    assert.doesNotMatch(second.output().stdout, /new identity/)
    second.child.kill('SIGINT')
    const r2 = await collect(second.child, 15_000)
    assert.equal(r2.code, 0)
    assert.doesNotMatch(second.output().stderr, /Error/)
  })

  it('a node without a builder says once, at start, that it runs as a relay and tally node', async () => {
    const node = await startCli(['node', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0', '--builder', 'none'], READY)
    // skyline status says it too, for a person and for machines
    const human = await runCli(['status', '--http', node.match[2]])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /builder +none: relay and tally only/)
    assert.match(human.stdout, /eligibility +no rules-v2 announcement yet\nescalations +none/)
    const json = JSON.parse((await runCli(['status', '--json', '--http', node.match[2]])).stdout)
    assert.equal(json.builder.kind, null)
    assert.deepEqual([json.escalations, json.eligibility], [[], { policy: null, self: null, ejections: [], omissions: [] }])
    assert.equal(json.peerId, node.match[1])
    node.child.kill('SIGTERM')
    await collect(node.child, 15_000)
    const lines = node.output().stdout.split('\n').filter(l => /relay and tally/.test(l))
    assert.equal(lines.length, 1, node.output().stdout)
    assert.match(lines[0], /no builder \(building is disabled \(builder: none\)\): this node runs as a relay and tally node/)
    // with the node gone, status says nobody answers, exit 1
    const gone = await runCli(['status', '--http', node.match[2]])
    assert.equal(gone.code, 1)
    assert.match(gone.stderr, /no node answering/)
  })

  it('a malformed config file gives one clear line and exit code 2', async () => {
    const cfg = join(dir, 'config.json')
    writeFileSync(cfg, '{ "listen": ["/ip4/127.0.0.1/tcp/0"], ')
    const r = await runCli(['node', '--config', cfg, '--data-dir', dir])
    assert.equal(r.code, 2)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /config\.json: not valid JSON/)

    writeFileSync(cfg, JSON.stringify({ listen: '/ip4/127.0.0.1/tcp/0' }))
    const r2 = await runCli(['node', '--config', cfg, '--data-dir', dir])
    assert.equal(r2.code, 2)
    assert.match(r2.stderr, /field 'listen' must be an array of strings/)

    writeFileSync(cfg, JSON.stringify({ lisen: [] }))
    const r3 = await runCli(['node', '--config', cfg, '--data-dir', dir])
    assert.equal(r3.code, 2)
    assert.match(r3.stderr, /unknown field 'lisen'/)
  })

  it('a bad multiaddr gives one clear line and exit code 2', async () => {
    for (const args of [['--listen', '/ip4/999.1.1.1/tcp/0'], ['--bootstrap', '/ip4/127.0.0.1/tcp/4001'], ['--listen', 'not-a-multiaddr']]) {
      const r = await runCli(['node', '--data-dir', dir, '--http', 'off', ...args])
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      assert.match(r.stderr, /^skyline node: --(listen|bootstrap): (bad multiaddr|bootstrap address)/)
    }
    const cfg = join(dir, 'config.json')
    writeFileSync(cfg, JSON.stringify({ bootstrap: ['/ip4/127.0.0.1/tcp/x/p2p/abc'] }))
    const r = await runCli(['node', '--config', cfg, '--data-dir', dir])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /config\.json: bootstrap\[0\]: bad multiaddr/)
  })

  it('unknown flags are usage errors (exit 2)', async () => {
    const r = await runCli(['node', '--no-such-flag'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /Unknown option '--no-such-flag'/)
  })
})
