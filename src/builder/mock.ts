/**
 * The mock backend, for Fedora hosts: `mock --rebuild` in the chroot of a mock config, with the same
 * reproducibility macros, at idle priority, under the same limits. mock isolates the build itself
 * (`--isolation=nspawn`: a container with no network; `simple`: a chroot), so there is no bubblewrap here.
 * The rpm that matters is the chroot's: it is read from mock's `installed_pkgs.log` when mock writes one.
 * A job with a buildroot manifest is built in a chroot of exactly its packages (mock-job.ts).
 */
import { mkdir, readFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { logger as defaultLogger } from '@libp2p/logger'
import { DEFAULT_BINARY_PAYLOAD, DEFAULT_MOCK_CONFIG, DEFAULT_MOCK_ISOLATION } from './constants.ts'
import { BuildAbortedError, BuildrootUnavailableError, BuildSetupError } from './errors.ts'
import { resolveLimits } from './limits.ts'
import { compareInstalled, parseInstalledLog } from './mock-buildroot.ts'
import { prepareMockJob, type MockJob } from './mock-job.ts'
import { OutputSink, collectFromDir, excerpt, removeQuietly, writeLog } from './outputs.ts'
import { runLimited } from './process.ts'
import { reproducibleDefines } from './rpmbuild.ts'
import { baseEnv, execProbe, findTool, priorityPlan, type PriorityPlan } from './sandbox.ts'
import { prepareWorkDir } from './workdir.ts'
import type { BuildrootManifest } from '../rules/buildroot.ts'
import type { Builder, BuilderInit, BuildLimits, BuildOptions, BuildResult, BuildrootInput, DetectResult, IsolationReport } from './types.ts'
import type { Logger } from '@libp2p/interface'

export type MockInit = BuilderInit

export interface MockArgsOptions {
  /** `-r`: a config name (`fedora-41-x86_64`) or a path to a .cfg; absent with `hermetic` */
  config?: string
  /** `--hermetic-build LOCKFILE REPO` (mock 5.7+), which takes no `-r` */
  hermetic?: { lockfile: string, repo: string }
  resultDir: string
  isolation: 'simple' | 'nspawn'
  binaryPayload?: string
  /** The macros are in the generated config or lockfile: no `--define` (which would win over them) */
  macrosInConfig?: boolean
}

const PLAIN_PATH = /^[A-Za-z0-9_./+-]+$/

function checkArg (value: string, what: string): string {
  if (!PLAIN_PATH.test(value) || value.startsWith('-')) throw new BuildSetupError(`bad mock ${what} ${JSON.stringify(value)}`)
  return value
}

/** mock's arguments (after the `mock` command) for rebuilding `srpm` */
export function mockArgs (srpm: string, opts: MockArgsOptions): string[] {
  if (opts.isolation !== 'simple' && opts.isolation !== 'nspawn') throw new BuildSetupError(`bad mock isolation ${JSON.stringify(opts.isolation)}`)
  if ((opts.config === undefined) === (opts.hermetic === undefined)) throw new BuildSetupError('mock takes either a config or a hermetic lockfile')
  const chroot = opts.hermetic !== undefined
    ? ['--hermetic-build', resolve(checkArg(opts.hermetic.lockfile, 'lockfile')), resolve(checkArg(opts.hermetic.repo, 'repository'))]
    : ['-r', checkArg(opts.config as string, 'config')]
  return [
    '--rebuild', resolve(srpm),
    ...chroot,
    '--resultdir', resolve(opts.resultDir),
    `--isolation=${opts.isolation}`,
    ...(opts.macrosInConfig === true ? [] : reproducibleDefines(opts.binaryPayload))
  ]
}

export interface MockHost {
  mock: string
  /** `mock --version`, e.g. `6.7`; hermetic builds need 5.7 or later */
  mockVersion?: string
  /** createrepo_c, which a job with a buildroot manifest needs */
  createrepo?: string
  /** Host rpm, used when the chroot's cannot be read from mock's logs */
  hostRpmVersion: string
  priority: PriorityPlan
}

/** mock 5.7 and later build from a lockfile (`--hermetic-build`) */
export function mockHasHermetic (version: string | undefined): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version ?? '')
  return m !== null && (Number(m[1]) > 5 || (Number(m[1]) === 5 && Number(m[2]) >= 7))
}

export async function probeMock (init: MockInit = {}): Promise<DetectResult> {
  const mock = findTool('mock')
  if (mock === undefined) return { reason: 'mock not found', warnings: [] }
  const uid = process.getuid?.() ?? -1
  if (uid !== 0) {
    const groups = await execProbe(findTool('id') ?? 'id', ['-nG'])
    if (!groups.stdout.split(/\s+/).includes('mock')) return { reason: 'the node user is not in the mock group', warnings: [] }
  }
  const rpm = findTool('rpm')
  const version = rpm !== undefined ? /RPM version (\S+)/.exec((await execProbe(rpm, ['--version'])).stdout)?.[1] : undefined
  const mockVersion = /(\d+\.\d+[\w.]*)/.exec((await execProbe(mock, ['--version'])).stdout)?.[1]
  const createrepo = findTool('createrepo_c')
  const priority = priorityPlan()
  const warnings = [...priority.warnings]
  if (createrepo === undefined) warnings.push('createrepo_c not found: jobs with a buildroot manifest will be declined (dnf install createrepo_c)')
  if (init.mockHermetic !== undefined && !mockHasHermetic(mockVersion)) warnings.push(`mock ${mockVersion ?? '(version unknown)'} has no --hermetic-build (5.7+): jobs with a manifest use a generated config instead`)
  return { builder: new MockBuilder(init, { mock, mockVersion, createrepo, hostRpmVersion: version ?? 'unknown', priority }), warnings }
}

/** The rpm version in a mock installed_pkgs.log (`rpm-4.19.1.1-1.fc40.x86_64`, one package a line) */
export function rpmVersionFromInstalled (text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^rpm-(\d[^-\s]*)-[^-\s]+$/.exec(line.trim().split(/\s+/)[0] ?? '')
    if (m !== null) return m[1]
  }
  return undefined
}

export class MockBuilder implements Builder {
  readonly kind = 'mock'
  readonly limits: Readonly<BuildLimits>
  private readonly host: MockHost
  private readonly config: string
  private readonly isolation: 'simple' | 'nspawn'
  private readonly binaryPayload: string
  private readonly hermetic: MockInit['mockHermetic']
  private readonly log: Logger

  constructor (init: MockInit, host: MockHost) {
    this.limits = resolveLimits(init.limits)
    this.host = host
    this.config = init.mockConfig ?? DEFAULT_MOCK_CONFIG
    this.isolation = init.mockIsolation ?? DEFAULT_MOCK_ISOLATION
    this.binaryPayload = init.binaryPayload ?? DEFAULT_BINARY_PAYLOAD
    this.hermetic = mockHasHermetic(host.mockVersion) ? init.mockHermetic : undefined
    this.log = init.logger?.forComponent('skyline:build:mock') ?? defaultLogger('skyline:build:mock')
  }

  /**
   * The full command line of a build (priority wrappers, mock and its arguments): with the host's config,
   * or, for a job with a manifest, its generated config or lockfile (`job`, from prepareJob)
   */
  commandLine (srpmPath: string, workDir: string, job?: MockJob): string[] {
    const chroot = job?.chroot ?? { config: this.config }
    return [...this.host.priority.prefix, this.host.mock, ...mockArgs(srpmPath, {
      ...chroot, resultDir: join(workDir, 'result'), isolation: this.isolation, binaryPayload: this.binaryPayload, macrosInConfig: job !== undefined
    })]
  }

  /**
   * For a job with a buildroot manifest: the repository of exactly its packages and the generated config
   * (or lockfile) in `workDir` (mock-job.ts). Throws BuildrootUnavailableError: the job is declined.
   */
  async prepareJob (workDir: string, buildroot: BuildrootInput, signal?: AbortSignal): Promise<MockJob> {
    try {
      return await prepareMockJob({ createrepo: this.host.createrepo, binaryPayload: this.binaryPayload, hermetic: this.hermetic }, workDir, buildroot, signal)
    } catch (err: any) {
      await removeQuietly(join(workDir, 'repo'))
      if (err.name === 'BuildrootUnavailableError' || err.name === 'AbortError') throw err
      throw new BuildrootUnavailableError(`buildroot cannot be materialised: ${err.message}`)
    }
  }

  async build (srpmPath: string, options: BuildOptions): Promise<BuildResult> {
    const started = performance.now()
    const { workDir, signal, onProgress, buildroot } = options
    if (signal?.aborted === true) throw new BuildAbortedError('build aborted before it started')
    if (!basename(srpmPath).endsWith('.src.rpm')) throw new BuildSetupError(`not an SRPM file name: ${basename(srpmPath)}`)
    const isolation: IsolationReport = {
      sandbox: 'mock',
      namespaces: this.isolation === 'nspawn' ? ['mount', 'pid', 'net', 'ipc', 'uts'] : [],
      uid: 1000, // mock's own build user (mockbuild) in the chroot
      uidMode: 'self',
      priority: this.host.priority.report
    }
    const outputDir = join(workDir, 'output')
    const resultDir = join(workDir, 'result')
    const logPath = join(workDir, 'build.log')
    onProgress?.({ type: 'build:phase', detail: { phase: 'setup' } })
    await prepareWorkDir(workDir)
    await mkdir(resultDir)
    const job = buildroot !== undefined ? await this.prepareJob(workDir, buildroot, signal) : undefined
    const argv = this.commandLine(srpmPath, workDir, job)
    this.log('building %s: %s', srpmPath, argv.join(' '))
    const home = process.env.HOME ?? '/root'
    onProgress?.({ type: 'build:phase', detail: { phase: 'start' } })
    const run = await runLimited({
      command: argv[0],
      args: argv.slice(1),
      env: { ...baseEnv(home), USER: process.env.USER ?? 'root', LOGNAME: process.env.LOGNAME ?? 'root' },
      cwd: workDir,
      signal,
      timeoutMs: this.limits.maxBuildTimeMs,
      maxLogBytes: this.limits.maxLogBytes,
      diskDir: workDir,
      maxDiskBytes: this.limits.maxDiskBytes,
      log: this.log
    })
    if (job !== undefined) await removeQuietly(job.repoDir)
    const installed = await readFile(join(resultDir, 'installed_pkgs.log'), 'utf8').catch(() => '')
    const environment: BuildResult['environment'] = {
      builder: 'mock' as const,
      rpmVersion: rpmVersionFromInstalled(installed) ?? this.host.hostRpmVersion,
      target: job?.targetArch ?? this.config,
      mockConfig: job?.mockConfig ?? this.config,
      binaryPayload: this.binaryPayload,
      ...(buildroot !== undefined ? { buildroot: buildroot.sha256 } : {})
    }
    await writeLog(logPath, run.output).catch(err => this.log.error('cannot write %s: %e', logPath, err))
    const done = (r: Pick<BuildResult, 'status' | 'reason' | 'files' | 'buildHash' | 'logExcerpt'>): BuildResult => {
      onProgress?.({ type: 'build:phase', detail: { phase: 'done' } })
      return { ...r, outputDir, logPath, environment, isolation, durationMs: Math.round(performance.now() - started) }
    }
    if (run.killed === 'aborted') throw new BuildAbortedError(`build of ${basename(srpmPath)} aborted`)
    const failed = (reason: string): BuildResult => done({ status: 'failed', reason, files: [], logExcerpt: excerpt(run.output) })
    if (run.killed === 'timeout') return failed(`timed out after ${this.limits.maxBuildTimeMs} ms (limit maxBuildTimeMs)`)
    if (run.killed === 'disk') return failed(`used ${run.diskBytes ?? '?'} bytes of disk, over the limit of ${this.limits.maxDiskBytes} (maxDiskBytes)`)
    const mismatch = buildroot !== undefined ? installedMismatch(buildroot.manifest, installed, run.exitCode) : undefined
    if (mismatch !== undefined) {
      await removeQuietly(resultDir)
      throw new BuildrootUnavailableError(mismatch)
    }
    if (run.exitCode !== 0) return failed(`mock exited with code ${run.exitCode ?? run.signal}`)
    onProgress?.({ type: 'build:phase', detail: { phase: 'hash' } })
    const outcome = await collectFromDir(resultDir, new OutputSink(outputDir, this.limits.maxOutputBytes), signal)
    await removeQuietly(resultDir)
    if (!outcome.ok) {
      await removeQuietly(outputDir)
      return failed(outcome.reason)
    }
    return done({ status: 'ok', files: outcome.files, buildHash: outcome.buildHash })
  }
}

/**
 * Why a build from a manifest does not count (the job is declined, never attested): mock stopped before it
 * listed what it installed (it could not install the set, or a BuildRequires is not in it), or what it
 * installed is not the manifest's set. Undefined when the chroot held exactly the manifest's packages.
 */
export function installedMismatch (manifest: BuildrootManifest, installedLog: string, exitCode: number | null): string | undefined {
  if (installedLog.trim() === '') return `buildroot cannot be materialised: mock stopped before the build (no installed_pkgs.log; mock exited with code ${exitCode ?? 'none'}; see build.log)`
  try {
    return compareInstalled(manifest, parseInstalledLog(installedLog))
  } catch (err: any) {
    return err.message
  }
}
