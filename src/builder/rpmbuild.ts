/**
 * The rpmbuild backend: `rpmbuild --rebuild` in a fresh topdir, inside bubblewrap (sandbox.ts), at idle
 * priority, with the reproducibility macros and a fixed environment. The node keeps the log from the
 * build's output and takes the RPMs from a stream (output-stream.ts), both into the work directory, which
 * the sandbox never sees.
 */
import { chown, copyFile, mkdir, open } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { logger as defaultLogger } from '@libp2p/logger'
import {
  BUILD_SHELL, DEFAULT_BINARY_PAYLOAD, DEFAULT_SHM_BYTES, DEFAULT_TMPFS_BYTES, REPRODUCIBLE_DEFINES, SANDBOX_HOME, SANDBOX_WORK
} from './constants.ts'
import { BUILDROOT_DBPATH, checkPackages, installBuildroot, makeRootDir, prepareRoot, removeRoot } from './buildroot.ts'
import { BuildAbortedError, BuildrootUnavailableError, BuildSetupError } from './errors.ts'
import { resolveLimits } from './limits.ts'
import { OUTPUTS_FAILED_EXIT, OUTPUT_SCRIPT, receiveOutputs } from './output-stream.ts'
import { OutputSink, excerpt, phaseOf, removeQuietly, writeLog, type Outcome } from './outputs.ts'
import { runLimited, type RunLimitedResult } from './process.ts'
import { baseEnv, bwrapArgs, execProbe, findTool, memoryWarning, priorityPlan, probeSandbox, uidPlan, unreachableFor, type BwrapFeatures, type PriorityPlan, type UidPlan } from './sandbox.ts'
import { prepareWorkDir } from './workdir.ts'
import type { Builder, BuilderInit, BuildLimits, BuildOptions, BuildResult, BuildrootInput, DetectResult, IsolationReport } from './types.ts'
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

/**
 * rpmbuild's arguments for rebuilding `srpm` (a path inside the sandbox) in `topdir`; in a buildroot, its rpm
 * database and the manifest's macros (after the reproducibility macros, so a manifest's `_buildhost` wins)
 */
export function rpmbuildArgs (srpm: string, opts: { topdir: string, binaryPayload?: string, target?: string, macros?: Record<string, string>, dbpath?: string }): string[] {
  const args = ['--rebuild', '--define', `_topdir ${opts.topdir}`, ...reproducibleDefines(opts.binaryPayload)]
  if (opts.dbpath !== undefined) args.push('--define', `_dbpath ${opts.dbpath}`)
  for (const [k, v] of Object.entries(opts.macros ?? {})) args.push('--define', `${k} ${v}`)
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
  const memory = sandbox === undefined ? undefined : memoryWarning(resolveLimits(init.limits).maxDiskBytes + 2 * DEFAULT_TMPFS_BYTES + DEFAULT_SHM_BYTES)
  if (memory !== undefined) warnings.push(memory)
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

/** The version of the `rpm` package a buildroot brings, if it brings one: then its rpm builds, not the host's */
function buildrootRpmVersion (buildroot: BuildrootInput | undefined): string | undefined {
  return buildroot?.manifest.packages.find(p => p.name === 'rpm')?.version
}

/** Checks the packages, installs them into a root of their own and prepares it as the sandbox's / (buildroot.ts) */
async function materialise (rpm: string, buildroot: BuildrootInput, signal?: AbortSignal): Promise<{ path: string, binds: string[] }> {
  const paths = await checkPackages(buildroot, signal)
  const path = await makeRootDir()
  try {
    await installBuildroot(rpm, path, paths)
    return { path, binds: await prepareRoot(path) }
  } catch (err) {
    await removeRoot(path)
    throw err
  }
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

  /**
   * The full command line of a build in `workDir` (for logs and tests): the priority and uid wrappers,
   * bwrap, then the shell that runs rpmbuild and streams its outputs (output-stream.ts). Sandboxed, the SRPM
   * is read from fd SRPM_FD; unsandboxed, the build's tree is `<workDir>/tree`.
   */
  commandLine (srpmName: string, workDir: string, target?: string, root?: { path: string, binds: readonly string[], macros: Record<string, string> }): string[] {
    const { sandbox, uid, priority } = this.host
    const tree = sandbox !== undefined ? SANDBOX_WORK : join(workDir, 'tree')
    const topdir = join(tree, 'rpmbuild')
    const rpmbuild = [this.host.rpmbuild, ...rpmbuildArgs(join(tree, 'input', srpmName), {
      topdir, binaryPayload: this.binaryPayload, target, macros: root?.macros, dbpath: root !== undefined ? BUILDROOT_DBPATH : undefined
    })]
    const box = sandbox !== undefined
      ? bwrapArgs({
          bwrap: sandbox.bwrap,
          features: sandbox.features,
          treeBytes: this.limits.maxDiskBytes,
          tmpfsBytes: DEFAULT_TMPFS_BYTES,
          shmBytes: DEFAULT_SHM_BYTES,
          srpmName,
          env: baseEnv(SANDBOX_HOME),
          root: root !== undefined ? { path: root.path, binds: root.binds } : undefined
        })
      : []
    return [...priority.prefix, ...uid.prefix, ...box, BUILD_SHELL, '-c', OUTPUT_SCRIPT, 'skyline-build', join(topdir, 'RPMS'), ...rpmbuild]
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
    const buildroot = options.buildroot
    if (buildroot !== undefined && sandbox === undefined) throw new BuildrootUnavailableError('buildroot cannot be materialised: it needs the sandbox (bubblewrap)')
    const environment: BuildResult['environment'] = {
      builder: 'rpmbuild' as const,
      rpmVersion: buildrootRpmVersion(buildroot) ?? this.host.rpmVersion,
      target: options.target === undefined ? this.host.targetPlatform : await this.platformFor(options.target),
      binaryPayload: this.binaryPayload,
      ...(buildroot !== undefined ? { buildroot: buildroot.sha256 } : {})
    }
    const wanted = buildroot?.manifest.tools.rpm
    if (wanted !== undefined && wanted !== environment.rpmVersion) throw new BuildrootUnavailableError(`buildroot mismatch: the manifest's rpm is ${wanted}, this build's would be ${environment.rpmVersion} (the buildroot brings no rpm of its own)`)
    const outputDir = join(workDir, 'output')
    const logPath = join(workDir, 'build.log')
    const tree = join(workDir, 'tree') // unsandboxed builds only
    const srpmName = basename(srpmPath)
    if (!srpmName.endsWith('.src.rpm') || srpmName.startsWith('.')) throw new BuildSetupError(`not an SRPM file name: ${srpmName}`)

    onProgress?.({ type: 'build:phase', detail: { phase: 'setup' } })
    await prepareWorkDir(workDir)
    let root: { path: string, binds: string[] } | undefined
    let input
    try {
      if (buildroot !== undefined) root = await materialise(this.host.rpm, buildroot, signal)
      input = await open(srpmPath, 'r')
      if (sandbox === undefined) await this.prepareTree(tree, srpmPath, srpmName)
    } catch (err: any) {
      await input?.close()
      await removeQuietly(tree)
      if (root !== undefined) await removeRoot(root.path)
      throw err.name === 'BuildSetupError' || err.name === 'BuildrootUnavailableError' ? err : new BuildSetupError(`cannot prepare ${workDir}: ${err.message}`)
    }

    const argv = this.commandLine(srpmName, workDir, options.target, root !== undefined ? { ...root, macros: buildroot?.manifest.macros ?? {} } : undefined)
    this.log('building %s in %s: %s', srpmName, workDir, argv.join(' '))
    onProgress?.({ type: 'build:phase', detail: { phase: 'start' } })
    const sink = new OutputSink(outputDir, this.limits.maxOutputBytes)
    const run = await runLimited({
      command: argv[0],
      args: argv.slice(1),
      env: baseEnv(sandbox !== undefined ? SANDBOX_HOME : join(tree, 'home')),
      cwd: sandbox !== undefined ? '/' : tree,
      signal,
      timeoutMs: this.limits.maxBuildTimeMs,
      maxLogBytes: this.limits.maxLogBytes,
      inputFd: input.fd,
      receive: async stream => await receiveOutputs(stream, sink),
      // sandboxed, the tree is a tmpfs of maxDiskBytes: the kernel enforces it, nothing to poll
      diskDir: sandbox === undefined ? tree : undefined,
      maxDiskBytes: this.limits.maxDiskBytes,
      onLine: onProgress === undefined
        ? undefined
        : line => {
          const phase = phaseOf(line)
          if (phase !== undefined) onProgress({ type: 'build:phase', detail: { phase } })
        },
      log: this.log
    }).finally(async () => await input.close())
    await writeLog(logPath, run.output).catch(err => this.log.error('cannot write %s: %e', logPath, err))
    await removeQuietly(tree)
    if (root !== undefined) await removeRoot(root.path)
    if (run.killed === 'aborted') {
      await removeQuietly(outputDir)
      throw new BuildAbortedError(`build of ${srpmName} aborted`)
    }
    const outcome = this.outcome(run, sink)
    if (!outcome.ok) await removeQuietly(outputDir)
    else onProgress?.({ type: 'build:phase', detail: { phase: 'hash' } })
    if (outcome.ok) for (const f of outcome.files) onProgress?.({ type: 'build:output', detail: { name: f.name } })
    const result: BuildResult = outcome.ok
      ? { status: 'ok', files: outcome.files, buildHash: outcome.buildHash, outputDir, logPath, environment, isolation, durationMs: 0 }
      : { status: 'failed', reason: outcome.reason, files: [], logExcerpt: excerpt(run.output), outputDir, logPath, environment, isolation, durationMs: 0 }
    result.durationMs = Math.round(performance.now() - started)
    this.log('%s: %s %s', srpmName, result.status, result.reason ?? result.buildHash)
    onProgress?.({ type: 'build:phase', detail: { phase: 'done' } })
    return result
  }

  /** What a finished run amounts to: the files the sink took, or why the build failed */
  private outcome (run: RunLimitedResult, sink: OutputSink): Outcome {
    const failed = (reason: string): Outcome => ({ ok: false, reason })
    if (run.killed === 'timeout') return failed(`timed out after ${this.limits.maxBuildTimeMs} ms (limit maxBuildTimeMs)`)
    if (run.killed === 'disk') return failed(`used ${run.diskBytes ?? '?'} bytes of disk, over the limit of ${this.limits.maxDiskBytes} (maxDiskBytes)`)
    if (run.receiveError !== undefined) {
      const why = run.receiveError.name === 'OutputRefusedError' ? run.receiveError.message : `cannot take the outputs: ${run.receiveError.message}`
      return failed(why)
    }
    if (run.exitCode === OUTPUTS_FAILED_EXIT) return failed('the sandbox could not hand over the output RPMs')
    if (run.exitCode !== 0) {
      const exited = run.signal !== null ? `rpmbuild killed by ${run.signal}` : `rpmbuild exited with code ${run.exitCode}`
      if (this.host.sandbox === undefined || !excerpt(run.output).includes('No space left on device')) return failed(exited)
      return failed(`${exited}, out of space: the build tree holds at most ${this.limits.maxDiskBytes} bytes (maxDiskBytes), /tmp and /var/tmp ${DEFAULT_TMPFS_BYTES} each`)
    }
    if ((run.received as { complete?: boolean } | undefined)?.complete !== true) return failed('the output stream from the sandbox ended early')
    return sink.outcome()
  }

  /** An unsandboxed build's tree on the host: input (the SRPM), home, topdir; owned by the build user */
  private async prepareTree (tree: string, srpmPath: string, srpmName: string): Promise<void> {
    for (const d of [tree, join(tree, 'input'), join(tree, 'home'), join(tree, 'rpmbuild')]) await mkdir(d, { mode: 0o755 })
    await copyFile(srpmPath, join(tree, 'input', srpmName))
    const to = this.host.uid.chownTo
    if (to === undefined) return
    const why = await unreachableFor(tree, to.uid, to.gid)
    if (why !== undefined) throw new BuildSetupError(why)
    for (const d of ['', 'input', 'home', 'rpmbuild', `input/${srpmName}`]) await chown(join(tree, d), to.uid, to.gid)
  }

  private async platformFor (target: string): Promise<string> {
    const r = await execProbe(this.host.rpm, ['--target', target, '--eval', '%{_target_platform}'])
    return r.code === 0 ? r.stdout.trim() : target
  }
}
