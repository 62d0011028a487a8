/**
 * A colluding builder for the stress suite (test-only, never in src): a real SkylineNode in its own
 * process, with a key the test ground for it, that advertises the builder protocol (so seeders list it)
 * but never builds. The colluders share a plan and take turns per job (`colluderRole`): on each job one
 * is silent (never commits, never reveals), one copies (commits to the first honest hash it sees
 * revealed, then reveals it, signed with its own key), and the others dissent (commit to and reveal the
 * colluders' common fabricated hash, through the node's own commit–reveal code). Every message it sends
 * is a real consensus message signed with its key.
 *
 *   node colluder.ts '{"dataDir":"...","bootstrap":["/ip4/..."],"announcers":["skyline-announcer-ed25519 ..."],
 *                      "keyring":"...","key":"<hex protobuf private key>","colluders":["12D3KooW...",...]}'
 *
 * Prints `ready <listen multiaddr> <peer id>`; stops on SIGTERM.
 */
import { createHash, randomBytes } from 'node:crypto'
import { colluderRole, fabricatedFiles, type ColluderRole } from './collusion-plan.ts'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadConfig, SkylineNode } from '../../../src/node/index.ts'
import { IDENTITY_FILE } from '../../../src/node/constants.ts'
import type { Builder, BuildOptions, BuildResult } from '../../../src/builder/index.ts'
import { DEFAULT_BINARY_PAYLOAD } from '../../../src/builder/constants.ts'
import { buildHash } from '../../../src/rules/build-hash.ts'
import { createAttestation, createCommitment, encodeConsensusMessage, type CheckedAttestation } from '../../../src/protocols/attestation.ts'

/** A Builder that builds nothing: a dissenter's fabricated output at once, or (silent, copy) a build that never ends */
class ColludingBuilder implements Builder {
  readonly kind = 'rpmbuild' as const
  readonly limits = { maxConcurrentBuilds: 16, maxBuildTimeMs: 24 * 3600_000, maxDiskBytes: 2 ** 30, maxOutputBytes: 2 ** 30, maxLogBytes: 2 ** 20 }
  private readonly roleOf: (job: string) => ColluderRole

  constructor (roleOf: (job: string) => ColluderRole) { this.roleOf = roleOf }

  async build (srpmPath: string, options: BuildOptions): Promise<BuildResult> {
    // the job runner builds in <workDir>/<job>/build
    const job = basename(dirname(options.workDir))
    if (this.roleOf(job) !== 'dissent') {
      await new Promise<never>((_resolve, reject) => options.signal?.addEventListener('abort', () => reject(new Error('aborted'))))
    }
    const sha = createHash('sha256').update(await readFile(srpmPath)).digest('hex')
    const { name, body, files } = fabricatedFiles(sha, srpmPath)
    const outputDir = join(options.workDir, 'output')
    await mkdir(outputDir, { recursive: true })
    await writeFile(join(outputDir, name), body)
    const logPath = join(options.workDir, 'build.log')
    await writeFile(logPath, 'not built\n')
    return {
      status: 'ok',
      files,
      buildHash: buildHash(files),
      outputDir,
      environment: { builder: 'rpmbuild', rpmVersion: '4.20.0', target: 'x86_64', binaryPayload: DEFAULT_BINARY_PAYLOAD },
      isolation: { sandbox: 'none', namespaces: [], uid: process.getuid?.() ?? 0, uidMode: 'self', priority: { nice: 0 } },
      durationMs: 5000,
      logPath
    }
  }
}

const init = JSON.parse(process.argv[2]) as { dataDir: string, bootstrap: string[], announcers: string[], keyring: string, key: string, colluders: string[] }
const privateKey = privateKeyFromProtobuf(Buffer.from(init.key, 'hex'))
mkdirSync(init.dataDir, { recursive: true, mode: 0o700 })
writeFileSync(join(init.dataDir, IDENTITY_FILE), Buffer.from(init.key, 'hex'), { mode: 0o600 })
const self = init.colluders.indexOf(peerIdFromPrivateKey(privateKey).toString())
if (self < 0) throw new Error('this colluder is not in the plan')
const roleOf = (job: string): ColluderRole => colluderRole(job, self, init.colluders.length)
const config = loadConfig({ dataDir: init.dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], http: 'off', builder: 'rpmbuild', keyring: init.keyring, bootstrap: init.bootstrap, announcers: init.announcers })
config.inboundConnectionThreshold = 1000
const node = new SkylineNode(config, { builder: new ColludingBuilder(roleOf) })
await node.start()

// the copier: the first honest reveal of a job it holds a seat in is committed to and revealed as its own
const copied = new Set<string>()
node.verdicts.addEventListener('attestation', (e: CustomEvent<CheckedAttestation>) => {
  const a = e.detail
  if (a.status !== 'ok' || init.colluders.includes(a.builder) || copied.has(a.job) || roleOf(a.job) !== 'copy') return
  if (node.announcements.get(a.job)?.builders.some(p => p.equals(node.libp2p.peerId)) !== true) return
  copied.add(a.job)
  const nonce = randomBytes(32)
  const commitment = createCommitment({ job: a.job, buildHash: a.buildHash, nonce }, privateKey)
  const reveal = createAttestation({ job: a.job, status: 'ok', files: a.files, environment: a.environment, durationMs: a.durationMs, nonce }, privateKey)
  node.publish('consensus', encodeConsensusMessage({ commitment }))
    .then(async () => { await node.publish('consensus', encodeConsensusMessage({ attestation: reveal })) })
    .catch(err => { process.stderr.write(`copy of ${a.job.slice(0, 12)}: ${err.message}\n`) })
  process.stderr.write(`copied ${a.builder.slice(-6)}'s hash for job ${a.job.slice(0, 12)}\n`)
})

process.stdout.write(`ready ${node.libp2p.getMultiaddrs()[0].toString()} ${node.peerId}\n`)
process.once('SIGTERM', () => {
  node.stop().finally(() => process.exit(0))
})
