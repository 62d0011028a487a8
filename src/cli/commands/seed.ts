/**
 * `skyline seed --key F --keyring PATH FILE.src.rpm...`: verifies each SRPM against the Fedora keyring
 * (refusing, with the reason, any that fails), stores it, announces it signed by the announcer key and
 * naming this node as its provider, and stays up serving until every assigned builder holds the whole SRPM
 * (and its buildroot manifest, when it has one). It provides a job's blobs in the DHT only when a builder
 * is still unserved a while later (seed-provide.ts), and publishes to its gossipsub mesh, not by flood.
 */
import { parse } from '../args.ts'
import { UsageError, EXIT_OK, EXIT_REJECTED } from '../errors.ts'
import { startClientNode, waitForTopicPeers } from '../client-node.ts'
import { jobKey } from '../../rules/job.ts'
import { Keyring, verifyRpmFile } from '../../rpm/index.ts'
import { loadAnnouncerKey } from '../../protocols/signing.ts'
import {
  createAnnouncement, DEFAULT_ESCALATION, DEFAULT_PANEL, DEFAULT_QUORUM, DEFAULT_REPLICAS, DEFAULT_STAGE_MS, DEFAULT_THRESHOLD, DEFAULT_VALIDITY_MS,
  MAX_ATTEMPTS, MAX_REPLICAS, MAX_VALIDITY_MS, RULES_V1, RULES_V2, attemptOf, type BuildrootRef, type CheckedAnnouncement, type RetryLink
} from '../../protocols/announce.ts'
import { panelProblem, type PanelParams } from '../../rules/panel.ts'
import { policyProblem, type EligibilityPolicy } from '../../rules/eligibility.ts'
import type { PeerId } from '@libp2p/interface'
import { resolve } from 'node:path'
import { readFileSync } from 'node:fs'
import { encodeManifest, manifestDigest, parseManifest } from '../../rules/buildroot.ts'
import { manifestFromKoji, parseKojiListing } from '../../services/buildroot/koji.ts'
import { withOfficialEntries } from '../../rpm/official.ts'
import { randomBytes } from 'node:crypto'
import type { SkylineNode } from '../../node/index.ts'
import type { Manifest } from '../../services/blob/index.ts'
import type { AnnouncerKey } from '../../protocols/signing.ts'
import { followVerdicts, type SeededJob } from '../seed-verdicts.ts'
import { firstBuilders, provideIfUnserved } from '../seed-provide.ts'

const HELP = `usage: skyline seed --key F --keyring PATH [--bootstrap MA]... [--panel P --escalation E --threshold T]
                    [--stage SECONDS] [--eligible-builds K [--eligible-days D] [--probation N]]
                    [--replicas r --quorum q] [--target T]
                    [--buildroot MANIFEST | --koji-buildroot LISTING (--koji-packages DIR | --mirror URL)] [--official RPM]...
                    [--listen MA]... [--data-dir D] [--wait SECONDS] [--validity SECONDS] [--verdicts] [--repo DIR]
                    FILE.src.rpm...
Verifies each SRPM's RPM signature against the keyring, serves it over the blob protocol, announces it
signed by the announcer key F, and stays up until every stage-1 builder holds it and any buildroot manifest
(or --wait runs out).
  --panel P      rules v2 (the default): P builders (default ${DEFAULT_PANEL}) who must all agree; on dissent or
                 silence E more build (--escalation, default ${DEFAULT_ESCALATION}) and T of the P+E seats decide
                 (--threshold, default ${DEFAULT_THRESHOLD}); silent stage-1 seats escalate after --stage S seconds
                 (default ${DEFAULT_STAGE_MS / 1000}). The mesh must hold P+E eligible builders
  --eligible-builds K  rules v2's eligibility policy (default 0: every builder is eligible): a builder holds a
                 seat only with K agreed builds, its first at least --eligible-days D days ago (default 0);
                 --probation N more not yet eligible builders build on probation, never counted (default 0)
  --replicas r   rules v1 (deprecated): r builders (default ${DEFAULT_REPLICAS}), --quorum q matching builds (default ${DEFAULT_QUORUM})
  --target T     build target recorded in the announcement (default fedora-rawhide-x86_64)
  --wait S       give up waiting for the builders (and verdicts) after S seconds (default 600)
  --validity S   the jobs' deadline, S seconds after the announcement (default ${DEFAULT_VALIDITY_MS / 1000}, at most ${MAX_VALIDITY_MS / 1000})
  --verdicts     then wait for each job's final verdict (serving on; no longer for silent stage-1 builders once
                 stage 1's deadline passed); a rules-v2 job that ends blocked is announced again
                 with a fresh beacon, at most ${MAX_ATTEMPTS - 1} times (exit 0 when every SRPM ends agreed)
  --repo DIR     as --verdicts, and fetch the agreed RPMs into a dnf repository at DIR
  --buildroot M  build in exactly the packages of the buildroot manifest M (docs/protocols/buildroot.md)
  --koji-buildroot L  the manifest of a Koji buildroot listing L ({"getBuildroot": …, "listRPMs": …} as
                 koji call --json-output returns them), each package's content sha256 read from its file in
                 --koji-packages DIR or on the dnf mirror --mirror URL (checked against Koji's sigmd5 and size)
  --official RPM the official (Koji) build's output packages, into the manifest by content sha256 and header
                 tag digests: builders say whether they reproduce them (docs/protocols/buildroot.md)`

const DEFAULT_TARGET = 'fedora-rawhide-x86_64'

export async function run (argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    key: { type: 'string' },
    keyring: { type: 'string' },
    bootstrap: { type: 'string', multiple: true },
    listen: { type: 'string', multiple: true },
    'data-dir': { type: 'string' },
    replicas: { type: 'string' },
    quorum: { type: 'string' },
    panel: { type: 'string' },
    escalation: { type: 'string' },
    threshold: { type: 'string' },
    stage: { type: 'string' },
    'eligible-builds': { type: 'string' },
    'eligible-days': { type: 'string' },
    probation: { type: 'string' },
    target: { type: 'string' },
    wait: { type: 'string' },
    validity: { type: 'string' },
    verdicts: { type: 'boolean' },
    repo: { type: 'string' },
    buildroot: { type: 'string' },
    'koji-buildroot': { type: 'string' },
    'koji-packages': { type: 'string' },
    mirror: { type: 'string' },
    official: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' }
  }, true)
  if (values.help === true) { process.stdout.write(HELP + '\n'); return EXIT_OK }
  if (values.key === undefined) throw new UsageError('--key F (the announcer key) is required')
  if (values.keyring === undefined) throw new UsageError('--keyring PATH (the Fedora keys) is required')
  if (positionals.length === 0) throw new UsageError('no SRPM given')
  const v1 = values.replicas !== undefined || values.quorum !== undefined
  if (v1 && (values.panel ?? values.escalation ?? values.threshold ?? values.stage) !== undefined) throw new UsageError('--replicas/--quorum (rules v1) and --panel/--escalation/--threshold/--stage (rules v2) exclude each other')
  const panel: PanelParams & { stageMs: number } | undefined = v1
    ? undefined
    : { panel: int(values.panel, '--panel', DEFAULT_PANEL), escalation: int(values.escalation, '--escalation', DEFAULT_ESCALATION), threshold: int(values.threshold, '--threshold', DEFAULT_THRESHOLD), stageMs: int(values.stage, '--stage', DEFAULT_STAGE_MS / 1000) * 1000 }
  // seats to fill: v1 r (at least q), v2 P+E (all of them)
  const replicas = panel !== undefined ? panel.panel + panel.escalation : int(values.replicas, '--replicas', DEFAULT_REPLICAS)
  const quorum = panel !== undefined ? replicas : int(values.quorum, '--quorum', Math.min(DEFAULT_QUORUM, replicas))
  const waitMs = int(values.wait, '--wait', 600) * 1000
  const validityMs = int(values.validity, '--validity', DEFAULT_VALIDITY_MS / 1000) * 1000
  if (validityMs > MAX_VALIDITY_MS) throw new UsageError(`--validity must be at most ${MAX_VALIDITY_MS / 1000} seconds`)
  if (panel !== undefined && panel.stageMs >= validityMs) throw new UsageError('--stage must be shorter than --validity')
  // what createAnnouncement would refuse, refused before joining the mesh
  if (panel !== undefined) {
    const problem = panelProblem(panel)
    if (problem !== undefined) throw new UsageError(`--panel/--escalation/--threshold: ${problem}`)
    if (panel.stageMs < 1000) throw new UsageError('--stage must be at least 1 second')
  }
  const policy: EligibilityPolicy = { builds: int(values['eligible-builds'], '--eligible-builds', 0), days: int(values['eligible-days'], '--eligible-days', 0), probation: int(values.probation, '--probation', 0) }
  if (policy.builds > 0 && panel === undefined) throw new UsageError('--eligible-builds is a rules v2 (--panel) option')
  const policyError = policyProblem(policy, replicas)
  if (policyError !== undefined) throw new UsageError(`--eligible-builds/--eligible-days/--probation: ${policyError}`)
  if (replicas > MAX_REPLICAS) throw new UsageError(`--replicas must be at most ${MAX_REPLICAS} (got ${replicas})`)
  if (quorum > replicas || 2 * quorum <= replicas) throw new UsageError(`--quorum must be a strict majority of the replicas: more than ${replicas / 2} and at most ${replicas} (got ${quorum})`)
  const target = values.target ?? DEFAULT_TARGET
  const out = process.stdout

  const buildrootBytes = await officialOption(await buildrootOption(values), values.official)
  const key = loadAnnouncerKey(values.key)
  const keyring = await Keyring.load(values.keyring)

  // every SRPM is checked before anything is served or announced
  const accepted: Array<{ path: string, nevra: string }> = []
  let refused = 0
  for (const path of positionals) {
    let v
    try {
      v = await verifyRpmFile(path, keyring)
    } catch (err: any) {
      process.stderr.write(`skyline seed: cannot read ${path}: ${err.code ?? err.message}\n`)
      return 2
    }
    if (v.verdict !== 'accepted') {
      out.write(`${path}: refused: ${v.reason ?? 'rejected'}\n`)
      refused++
    } else if (v.isSource !== true) {
      out.write(`${path}: refused: not a source package\n`)
      refused++
    } else {
      out.write(`${path}: verified ${v.nevra ?? '?'} (signed by ${v.keyId ?? '?'})\n`)
      accepted.push({ path, nevra: v.nevra! })
    }
  }
  if (refused > 0) return EXIT_REJECTED

  // the announcement goes to the seeder's gossipsub mesh, not to every topic peer (docs/protocols/gossip.md)
  const node = await startClientNode({ name: 'seed', dataDir: values['data-dir'], listen: values.listen, bootstrap: values.bootstrap, floodPublish: false })
  node.trusted.add(key.publicKey)
  const stop = new AbortController()
  const onSignal = (): void => stop.abort(new Error('interrupted'))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    out.write(`seeder ${node.peerId}: joining the mesh\n`)
    await waitForTopicPeers(node, 'announce', 60_000, stop.signal)
    await waitForFirstSync(node, FIRST_SYNC_WAIT_MS, stop.signal)

    const stored = buildrootBytes === undefined ? undefined : await node.libp2p.services.blobs.add(buildrootBytes, { signal: stop.signal, provide: false })
    const buildroot = stored === undefined ? undefined : { sha256: Buffer.from(stored.sha256, 'hex'), size: stored.size, chunkSize: stored.chunkSize, chunkRoot: Buffer.from(stored.root, 'hex') }
    if (stored !== undefined) out.write(`buildroot manifest ${stored.sha256.slice(0, 16)}: ${stored.size} bytes\n`)
    const ctx: AnnounceContext = { node, key, target, replicas, quorum, panel, policy, validityMs, buildroot, waitMs, signal: stop.signal }
    const pending: Array<{ nevra: string, checked: CheckedAnnouncement }> = []
    const seeded = new Map<string, { nevra: string, manifest: Manifest }>()
    let ok = true
    for (const { path, nevra } of accepted) {
      const manifest = await node.libp2p.services.blobs.add(path, { signal: stop.signal, provide: false })
      const checked = await announceSrpm(ctx, nevra, manifest)
      if (checked === undefined) {
        ok = false
        continue
      }
      seeded.set(checked.job, { nevra, manifest })
      pending.push({ nevra, checked })
    }

    const deadline = Date.now() + waitMs
    // following the verdicts, the seeder serves on until them: it stops waiting for a job's holders once
    // its verdict is final or stage 1's deadline passed (a silent stage-1 seat then escalates the job)
    const follow = values.repo !== undefined || values.verdicts === true
    const settled = (c: CheckedAnnouncement): boolean => follow && (node.store.verdict(c.job)?.final === true || Date.now() > (c.panel?.stageDeadline ?? Infinity))
    for (const p of pending) {
      // rules v2: stage 1 and the probation seats build; escalation seats fetch from them if they are called
      const builders = firstBuilders(node, p.checked)
      out.write(`${p.nevra}: builders ${builders.map(b => b.toString().slice(-8)).join(', ')}\n`)
      // the SRPM and the buildroot manifest: a builder fetches the manifest after the SRPM, from this seeder first
      const shas = [p.checked.announcement.srpmSha256, p.checked.announcement.buildrootSha256].filter(s => s.length > 0).map(s => Buffer.from(s).toString('hex'))
      const reached = new Set<string>()
      while (reached.size < builders.length && Date.now() < deadline && !stop.signal.aborted && !settled(p.checked)) {
        for (const b of builders) {
          if (reached.has(b.toString())) continue
          const haves = await Promise.all(shas.map(async sha => node.libp2p.services.blobs.peerHave(b, sha, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined)))
          if (haves.every(have => have?.complete === true)) {
            reached.add(b.toString())
            out.write(`${p.nevra}: reached builder ${b.toString().slice(-8)} (${reached.size}/${builders.length})\n`)
          }
        }
        if (reached.size < builders.length) await new Promise(resolve => setTimeout(resolve, 500))
      }
      if (reached.size < builders.length) {
        out.write(`${p.nevra}: only ${reached.size} of ${builders.length} builders hold the SRPM${shas.length > 1 ? ' and the buildroot manifest' : ''}${stop.signal.aborted ? ' (interrupted)' : ' after the wait'}\n`)
        if (!follow) ok = false
      }
    }
    if (follow && !stop.signal.aborted) {
      const reannounce = async (blocked: SeededJob): Promise<SeededJob | undefined> => {
        const srpm = seeded.get(blocked.job)!
        const checked = await announceSrpm(ctx, srpm.nevra, srpm.manifest, { of: blocked.job, attempt: blocked.attempt + 1 })
        if (checked !== undefined) seeded.set(checked.job, srpm)
        return checked === undefined ? undefined : seededJob(checked)
      }
      const jobs = pending.map(p => seededJob(p.checked))
      if (!await followVerdicts(jobs, { node, repo: values.repo === undefined ? undefined : resolve(values.repo), deadline, signal: stop.signal, reannounce })) ok = false
    }
    const up = node.libp2p.services.blobs.stats().uploaded
    out.write(`done: uploaded ${up} bytes\n`)
    return ok ? EXIT_OK : EXIT_REJECTED
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    // ends the delayed provides still waiting (seed-provide.ts): once this seeder leaves, nothing is to be had from it
    if (!stop.signal.aborted) stop.abort(new Error('done'))
    await node.stop()
  }
}

/** @default 30 s: how long a seeder looks for enough builders before it gives up on an SRPM */
const CANDIDATE_WAIT_MS = 30_000

/** @default 10 s: how long a seeder waits for its first complete sync answer before it looks for candidates */
const FIRST_SYNC_WAIT_MS = 10_000

/**
 * Waits until a peer has answered this node's sync in full: then the seeder holds the mesh's ban proofs,
 * and lists no banned builder (one could never take a seat: a wasted spare). Goes on after `waitMs`
 * without one (a mesh of nodes too old to sync, or a slow peer): the candidates are then only those
 * whose bans have not reached it.
 */
async function waitForFirstSync (node: SkylineNode, waitMs: number, signal: AbortSignal): Promise<void> {
  const until = Date.now() + waitMs
  while (node.sync.stats.syncs === 0 && Date.now() < until) {
    signal.throwIfAborted()
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/**
 * The candidates for a job: looked up again (every 2 s, up to `waitMs`) while fewer than r builders are
 * found, since a mesh that has just started may not have answered yet; fewer than r after the wait are
 * taken with a warning (the job still reaches a verdict with q), fewer than q are not enough.
 */
async function lookForCandidates (node: SkylineNode, key: Uint8Array, replicas: number, quorum: number, nevra: string, waitMs: number, signal: AbortSignal, v2?: { beacon: Uint8Array, policy: EligibilityPolicy }): Promise<PeerId[]> {
  const until = Date.now() + waitMs
  let found: PeerId[] = []
  while (!signal.aborted) {
    found = await node.findCandidates(key, replicas, { signal, rules: v2 !== undefined ? RULES_V2 : RULES_V1, beacon: v2?.beacon, policy: v2?.policy })
    if (found.length >= replicas || Date.now() >= until) break
    await new Promise(resolve => setTimeout(resolve, 2_000))
  }
  signal.throwIfAborted()
  if (found.length >= quorum && found.length < replicas) {
    process.stdout.write(`${nevra}: only ${found.length} builder(s) in the mesh for r=${replicas}; announcing with them\n`)
  }
  return found
}

interface AnnounceContext {
  node: SkylineNode
  key: AnnouncerKey
  target: string
  replicas: number
  quorum: number
  panel: (PanelParams & { stageMs: number }) | undefined
  /** rules v2's eligibility policy */
  policy: EligibilityPolicy
  validityMs: number
  buildroot: BuildrootRef | undefined
  waitMs: number
  signal: AbortSignal
}

/**
 * Announces one stored SRPM with a fresh beacon: the beacon makes the job key unpredictable until now;
 * the candidates are the builders closest to it that a DHT lookup finds, listed and signed in the
 * announcement so every node ranks the same list. `retry`: a re-announcement of a blocked job.
 * Undefined (reported) when too few builders were found.
 */
async function announceSrpm (ctx: AnnounceContext, nevra: string, manifest: Manifest, retry?: RetryLink): Promise<CheckedAnnouncement | undefined> {
  const { node, panel, replicas, quorum } = ctx
  const out = process.stdout
  const srpmSha256 = Buffer.from(manifest.sha256, 'hex')
  const beacon = randomBytes(32)
  const candidates = await lookForCandidates(node, jobKey(srpmSha256, ctx.target, beacon, ctx.buildroot?.sha256), replicas, quorum, nevra, Math.min(ctx.waitMs, CANDIDATE_WAIT_MS), ctx.signal, panel !== undefined ? { beacon, policy: ctx.policy } : undefined)
  if (candidates.length < quorum) {
    out.write(`${nevra}: not announced: found ${candidates.length} builder(s) in the mesh, a verdict needs at least ${quorum}\n`)
    return undefined
  }
  const envelope = createAnnouncement({
    beacon,
    candidates,
    nevra,
    srpmSha256,
    srpmSize: manifest.size,
    target: ctx.target,
    replicas,
    quorum,
    panel,
    policy: panel !== undefined ? ctx.policy : undefined,
    validityMs: ctx.validityMs,
    chunkSize: manifest.chunkSize,
    chunkRoot: Buffer.from(manifest.root, 'hex'),
    buildroot: ctx.buildroot,
    retry,
    provider: { peer: node.libp2p.peerId, addrs: node.libp2p.getMultiaddrs() }
  }, ctx.key)
  const checked = await node.announce(envelope)
  void provideIfUnserved(node, checked, { signal: ctx.signal })
  const rules = panel !== undefined ? `panel ${panel.panel}+${panel.escalation}, threshold ${panel.threshold}` : `r=${replicas} q=${quorum}`
  out.write(`announced ${nevra}: job ${checked.job.slice(0, 16)}, ${rules}, ${manifest.size} bytes${retry !== undefined ? `, attempt ${retry.attempt} of ${MAX_ATTEMPTS}` : ''}\n`)
  return checked
}

function seededJob (checked: CheckedAnnouncement): SeededJob {
  return { job: checked.job, nevra: checked.announcement.nevra, attempt: attemptOf(checked.announcement), v2: checked.panel !== undefined }
}

/** The manifest bytes --buildroot or --koji-buildroot give, checked before anything joins the mesh */
async function buildrootOption (values: { buildroot?: string, 'koji-buildroot'?: string, 'koji-packages'?: string, mirror?: string }): Promise<Uint8Array | undefined> {
  const koji = values['koji-buildroot']
  if (koji === undefined) {
    if (values['koji-packages'] !== undefined || values.mirror !== undefined) throw new UsageError('--koji-packages and --mirror go with --koji-buildroot')
    return values.buildroot === undefined ? undefined : readManifest(values.buildroot)
  }
  if (values.buildroot !== undefined) throw new UsageError('--buildroot and --koji-buildroot exclude each other')
  if ((values['koji-packages'] === undefined) === (values.mirror === undefined)) throw new UsageError('--koji-buildroot needs one of --koji-packages DIR or --mirror URL (where the package files are)')
  let listing
  try {
    listing = parseKojiListing(readFileSync(koji))
  } catch (err: any) {
    throw new UsageError(`--koji-buildroot ${koji}: ${err.code ?? err.message}`)
  }
  const source = values.mirror !== undefined ? { mirror: values.mirror } : { directory: resolve(values['koji-packages']!) }
  let manifest
  try {
    manifest = await manifestFromKoji(listing, source)
  } catch (err: any) {
    throw new UsageError(`--koji-buildroot ${koji}: ${err.message}`)
  }
  const bytes = encodeManifest(manifest)
  process.stdout.write(`Koji buildroot ${listing.buildroot.id}${listing.buildroot.tag_name !== undefined ? ` (${listing.buildroot.tag_name})` : ''}: ${manifest.packages.length} packages, manifest ${Buffer.from(manifestDigest(bytes)).toString('hex').slice(0, 16)}\n`)
  return bytes
}

/** --official RPM...: the manifest with the official build's outputs (withOfficialEntries), checked like any */
async function officialOption (bytes: Uint8Array | undefined, files: string[] | undefined): Promise<Uint8Array | undefined> {
  if (files === undefined) return bytes
  if (bytes === undefined) throw new UsageError('--official goes with --buildroot or --koji-buildroot: the official digests travel in the manifest')
  try {
    const out = encodeManifest(await withOfficialEntries(parseManifest(bytes), files))
    parseManifest(out)
    return out
  } catch (err: any) {
    throw new UsageError(`--official: ${err.message}`)
  }
}

/** A buildroot manifest file, checked before anything joins the mesh */
function readManifest (path: string): Uint8Array {
  let bytes
  try {
    bytes = readFileSync(path)
  } catch (err: any) {
    throw new UsageError(`--buildroot: cannot read ${path}: ${err.code ?? err.message}`)
  }
  try {
    parseManifest(bytes)
  } catch (err: any) {
    throw new UsageError(`--buildroot ${path}: ${err.message}`)
  }
  return bytes
}

function int (text: string | undefined, flag: string, dflt: number): number {
  if (text === undefined) return dflt
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer (got '${text}')`)
  return n
}
