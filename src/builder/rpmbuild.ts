/**
 * The rpmbuild backend: `rpmbuild --rebuild` in a fresh topdir, inside bubblewrap (sandbox.ts), at idle
 * priority, with the reproducibility macros and a fixed environment.
 */
import { copyFile, mkdir } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { logger as defaultLogger } from '@libp2p/logger'
import {
  DEFAULT_BINARY_PAYLOAD, DEFAULT_TMPFS_BYTES, REPRODUCIBLE_DEFINES, SANDBOX_HOME, SANDBOX_INPUT, SANDBOX_TOPDIR
} from './constants.ts'
import { BuildAbortedError, BuildSetupError } from './errors.ts'
import { resolveLimits } from './limits.ts'
import { chownTree, collectOutputs, excerpt, findFiles, phaseOf, prepareWorkDir, removeQuietly, writeLog } from './outputs.ts'
import { runLimited } from './process.ts'
import { baseEnv, bwrapArgs, execProbe, findTool, priorityPlan, probeSandbox, uidPlan, unreachableFor, type BwrapFeatures, type PriorityPlan, type UidPlan } from './sandbox.ts'
import type { Builder, BuilderInit, BuildLimits, BuildOptions, BuildResult, DetectResult, IsolationReport } from './index.ts'
import type { Logger } from '@libp2p/interface'

export type RpmbuildInit = BuilderInit

/** What probing the host found; `RpmbuildBuilder` is built from it */
export interface RpmbuildHost {
  rpmbuild: string
  rpm: string
  rpmVersion: string
  /** `%{_target_platform}` without --target */
  targetPlatform: string
  /** bwrap and its features; undefined builds unsandboxed */
  sandbox?: { bwrap: string, features: BwrapFeatures }
  uid: UidPlan
  priority: PriorityPlan
}

/** The `--define` arguments every builder passes: the reproducibility macros and the payload */
export function reproducibleDefines (binaryPayload: string = DEFAULT_BINARY_PAYLOAD): string[] {
  const defines = [...REPRODUCIBLE_DEFINES, ['_binary_payload', binaryPayload] as const]
  return defines.flatMap(([k, v]) => ['--define', `${k} ${v}`])
}

/** rpmbuild's arguments for rebuilding `srpm` (a path inside the sandbox) in `topdir` */
export function rpmbuildArgs (srpm: string, opts: { topdir: string, binaryPayload?: string, target?: string }): string[] {
  const args = ['--rebuild', '--define', `_topdir ${opts.topdir}`, ...reproducibleDefines(opts.binaryPayload)]
  if (opts.target !== undefined) args.push('--target', checkTarget(opts.target) as string)
  args.push(srpm)
  return args
}

/** A target is a word like `x86_64` or `noarch-redhat-linux`; anything else is refused */
function checkTarget (target: string | undefined): string | undefined {
  if (target !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(target)) throw new BuildSetupError(`bad target ${JSON.stringify(target)}`)
  return target
}

const PAYLOAD_FEATURE: Array<[RegExp, string]> = [
  [/zstdio$/, 'rpmlib(PayloadIsZstd)'],
  [/xzdio$/, 'rpmlib(PayloadIsXz)'],
  [/lzdio$/, 'rpmlib(PayloadIsLzma)'],
  [/bzdio$/, 'rpmlib(PayloadIsBzip2)']
]

/** Probes rpm, rpmbuild, the payload, the sandbox and the priority tools */
export async function probeRpmbuild (init: RpmbuildInit = {}): Promise<DetectResult> {
  const warnings: string[] = []
  const rpmbuild = findTool('rpmbuild')
  const rpm = findTool('rpm')
  if (rpmbuild === undefined || rpm === undefined) return { reason: 'rpmbuild not found (install rpm-build, or rpm on Debian)', warnings }
  const version = await execProbe(rpm, ['--version'])
  const m = /RPM version (\S+)/.exec(version.stdout)
  if (version.code !== 0 || m === null) return { reason: `rpm --version failed: ${version.stderr.trim()}`, warnings }
  const payload = init.binaryPayload ?? DEFAULT_BINARY_PAYLOAD
  const feature = PAYLOAD_FEATURE.find(([re]) => re.test(payload))?.[1]
  if (feature !== undefined) {
    const rc = await execProbe(rpm, ['--showrc'])
    if (!rc.stdout.includes(feature)) return { reason: `this rpm cannot write ${payload} payloads (${feature} missing)`, warnings }
  }
  const platform = await execProbe(rpm, ['--eval', '%{_target_platform}'])
  const priority = priorityPlan()
  warnings.push(...priority.warnings)

  const bwrap = findTool('bwrap')
  let sandbox: RpmbuildHost['sandbox']
  let uid = uidPlan(bwrap !== undefined)
  if (bwrap === undefined) {
    if (init.sandbox !== 'optional') return { reason: 'bubblewrap (bwrap) not found; install it, or set sandbox to optional to build unsandboxed', warnings }
    warnings.push('bubblewrap not found: building WITHOUT a sandbox (sandbox: optional)')
  } else {
    const probe = await probeSandbox(bwrap, uid)
    if (probe.features !== undefined) {
      sandbox = { bwrap, features: probe.features }
    } else if (init.sandbox === 'optional') {
      warnings.push(`${probe.reason ?? 'sandbox unusable'}: building WITHOUT a sandbox (sandbox: optional)`)
      uid = uidPlan(false)
    } else {
      return { reason: `${probe.reason ?? 'sandbox unusable'}; set sandbox to optional to build unsandboxed`, warnings }
    }
  }
  warnings.push(...uid.warnings)
  const host: RpmbuildHost = {
    rpmbuild,
    rpm,
    rpmVersion: m[1],
    targetPlatform: platform.stdout.trim(),
    sandbox,
    uid,
    priority
  }
  return { builder: new RpmbuildBuilder(init, host), warnings }
}

export class RpmbuildBuilder implements Builder {
  readonly kind = 'rpmbuild'
  readonly limits: Readonly<BuildLimits>
  private readonly host: RpmbuildHost
  private readonly binaryPayload: string
  private readonly log: Logger

  constructor (init: RpmbuildInit, host: RpmbuildHost) {
    this.limits = resolveLimits(init.limits)
    this.host = host
    this.binaryPayload = init.binaryPayload ?? DEFAULT_BINARY_PAYLOAD
    this.log = init.logger?.forComponent('skyline:build:rpmbuild') ?? defaultLogger('skyline:build:rpmbuild')
  }

  /** The full command line of a build in `workDir` (for logs and tests) */
  commandLine (srpmName: string, workDir: string, target?: string): string[] {
    const { sandbox, uid, priority } = this.host
    const inSandbox = sandbox !== undefined
    const topdir = inSandbox ? SANDBOX_TOPDIR : join(workDir, 'rpmbuild')
    const srpm = inSandbox ? `${SANDBOX_INPUT}/${srpmName}` : join(workDir, 'input', srpmName)
    const home = inSandbox ? SANDBOX_HOME : join(workDir, 'home')
    const rpmbuild = [this.host.rpmbuild, ...rpmbuildArgs(srpm, { topdir, binaryPayload: this.binaryPayload, target })]
    const box = inSandbox
      ? bwrapArgs({ bwrap: sandbox.bwrap, workDir, features: sandbox.features, tmpfsBytes: DEFAULT_TMPFS_BYTES, env: baseEnv(home) })
      : []
    return [...priority.prefix, ...uid.prefix, ...box, ...rpmbuild]
  }

  async build (srpmPath: string, options: BuildOptions): Promise<BuildResult> {
    const started = performance.now()
    const { workDir, signal, onProgress } = options
    if (signal?.aborted === true) throw new BuildAbortedError('build aborted before it started')
    checkTarget(options.target)
    const { sandbox, uid, priority } = this.host
    const isolation: IsolationReport = {
      sandbox: sandbox !== undefined ? 'bwrap' : 'none',
      namespaces: sandbox !== undefined ? ['user', 'ipc', 'pid', 'net', 'uts', 'cgroup', 'mount'] : [],
      uid: sandbox !== undefined || uid.chownTo !== undefined ? 65534 : (process.getuid?.() ?? -1),
      uidMode: uid.mode,
      priority: priority.report
    }
    const environment = {
      builder: 'rpmbuild' as const,
      rpmVersion: this.host.rpmVersion,
      target: options.target === undefined ? this.host.targetPlatform : await this.platformFor(options.target),
      binaryPayload: this.binaryPayload
    }
    const outputDir = join(workDir, 'output')
    const logPath = join(workDir, 'build.log')
    const topdir = join(workDir, 'rpmbuild')
    const srpmName = basename(srpmPath)
    if (!srpmName.endsWith('.src.rpm') || srpmName.startsWith('.')) throw new BuildSetupError(`not an SRPM file name: ${srpmName}`)

    onProgress?.({ type: 'build:phase', detail: { phase: 'setup' } })
    await prepareWorkDir(workDir)
    try {
      await mkdir(join(workDir, 'input'))
      await mkdir(join(workDir, 'home'))
      await mkdir(topdir)
      await copyFile(srpmPath, join(workDir, 'input', srpmName))
      if (uid.chownTo !== undefined) {
        const why = await unreachableFor(workDir, uid.chownTo.uid, uid.chownTo.gid)
        if (why !== undefined) throw new BuildSetupError(why)
        await chownTree(workDir, uid.chownTo.uid, uid.chownTo.gid)
      }
    } catch (err: any) {
      await removeQuietly(join(workDir, 'input'), join(workDir, 'home'), topdir)
      throw err.name === 'BuildSetupError' ? err : new BuildSetupError(`cannot prepare ${workDir}: ${err.message}`)
    }

    const argv = this.commandLine(srpmName, workDir, options.target)
    this.log('building %s in %s: %s', srpmName, workDir, argv.join(' '))
    onProgress?.({ type: 'build:phase', detail: { phase: 'start' } })
    const run = await runLimited({
      command: argv[0],
      args: argv.slice(1),
      env: baseEnv(sandbox !== undefined ? SANDBOX_HOME : join(workDir, 'home')),
      cwd: sandbox !== undefined ? '/' : workDir,
      signal,
      timeoutMs: this.limits.maxBuildTimeMs,
      maxLogBytes: this.limits.maxLogBytes,
      diskDir: workDir,
      maxDiskBytes: this.limits.maxDiskBytes,
      onLine: onProgress === undefined
        ? undefined
        : line => {
          const phase = phaseOf(line)
          if (phase !== undefined) onProgress({ type: 'build:phase', detail: { phase } })
        },
      log: this.log
    })
    const finish = async (result: Omit<BuildResult, 'environment' | 'isolation' | 'durationMs' | 'outputDir' | 'logPath'>): Promise<BuildResult> => {
      await writeLog(logPath, run.output).catch(() => {})
      await removeQuietly(topdir, join(workDir, 'home'), join(workDir, 'input'))
      const full: BuildResult = { ...result, outputDir, logPath, environment, isolation, durationMs: Math.round(performance.now() - started) }
      this.log('%s: %s %s', srpmName, full.status, full.reason ?? full.buildHash)
      onProgress?.({ type: 'build:phase', detail: { phase: 'done' } })
      return full
    }

    if (run.killed === 'aborted') {
      await writeLog(logPath, run.output).catch(() => {})
      await removeQuietly(topdir, join(workDir, 'home'), join(workDir, 'input'))
      throw new BuildAbortedError(`build of ${srpmName} aborted`)
    }
    const failed = (reason: string): Promise<BuildResult> => finish({ status: 'failed', reason, files: [], logExcerpt: excerpt(run.output) })
    if (run.killed === 'timeout') return failed(`timed out after ${this.limits.maxBuildTimeMs} ms (limit maxBuildTimeMs)`)
    if (run.killed === 'disk') return failed(`used ${run.diskBytes ?? '?'} bytes of disk, over the limit of ${this.limits.maxDiskBytes} (maxDiskBytes)`)
    if (run.exitCode !== 0) return failed(run.signal !== null ? `rpmbuild killed by ${run.signal}` : `rpmbuild exited with code ${run.exitCode}`)

    onProgress?.({ type: 'build:phase', detail: { phase: 'hash' } })
    const rpms = await findFiles(join(topdir, 'RPMS'), name => name.endsWith('.rpm') && !name.endsWith('.src.rpm'))
    const outcome = await collectOutputs(rpms, outputDir, this.limits.maxOutputBytes, signal)
    if (!outcome.ok) return failed(outcome.reason)
    for (const f of outcome.files) onProgress?.({ type: 'build:output', detail: { name: f.name } })
    return finish({ status: 'ok', files: outcome.files, buildHash: outcome.buildHash })
  }

  private async platformFor (target: string): Promise<string> {
    const r = await execProbe(this.host.rpm, ['--target', target, '--eval', '%{_target_platform}'])
    return r.code === 0 ? r.stdout.trim() : target
  }
}

