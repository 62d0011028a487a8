/**
 * The mock backend, for Fedora hosts: `mock --rebuild` in the chroot of a mock config, with the same
 * reproducibility macros, at idle priority, under the same limits. mock isolates the build itself
 * (`--isolation=nspawn`: a container with no network; `simple`: a chroot), so there is no bubblewrap here.
 * The rpm that matters is the chroot's: it is read from mock's `installed_pkgs.log` when mock writes one.
 */
import { mkdir, readFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { logger as defaultLogger } from '@libp2p/logger'
import { DEFAULT_BINARY_PAYLOAD, DEFAULT_MOCK_CONFIG, DEFAULT_MOCK_ISOLATION } from './constants.ts'
import { BuildAbortedError, BuildrootUnavailableError, BuildSetupError } from './errors.ts'
import { resolveLimits } from './limits.ts'
import { OutputSink, collectFromDir, excerpt, removeQuietly, writeLog } from './outputs.ts'
import { runLimited } from './process.ts'
import { reproducibleDefines } from './rpmbuild.ts'
import { baseEnv, execProbe, findTool, priorityPlan, type PriorityPlan } from './sandbox.ts'
import { prepareWorkDir } from './workdir.ts'
import type { Builder, BuilderInit, BuildLimits, BuildOptions, BuildResult, DetectResult, IsolationReport } from './types.ts'
import type { Logger } from '@libp2p/interface'

export type MockInit = BuilderInit

export interface MockArgsOptions {
  /** `-r`: a config name (`fedora-41-x86_64`) or a path to a .cfg */
  config: string
  resultDir: string
  isolation: 'simple' | 'nspawn'
  binaryPayload?: string
}

/** mock's arguments (after the `mock` command) for rebuilding `srpm` */
export function mockArgs (srpm: string, opts: MockArgsOptions): string[] {
  if (!/^[A-Za-z0-9_./+-]+$/.test(opts.config) || opts.config.startsWith('-')) throw new BuildSetupError(`bad mock config ${JSON.stringify(opts.config)}`)
  if (opts.isolation !== 'simple' && opts.isolation !== 'nspawn') throw new BuildSetupError(`bad mock isolation ${JSON.stringify(opts.isolation)}`)
  return [
    '--rebuild', resolve(srpm),
    '-r', opts.config,
    '--resultdir', resolve(opts.resultDir),
    `--isolation=${opts.isolation}`,
    ...reproducibleDefines(opts.binaryPayload)
  ]
}

export interface MockHost {
  mock: string
  /** Host rpm, used when the chroot's cannot be read from mock's logs */
  hostRpmVersion: string
  priority: PriorityPlan
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
  const priority = priorityPlan()
  return { builder: new MockBuilder(init, { mock, hostRpmVersion: version ?? 'unknown', priority }), warnings: priority.warnings }
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
  private readonly log: Logger

  constructor (init: MockInit, host: MockHost) {
    this.limits = resolveLimits(init.limits)
    this.host = host
    this.config = init.mockConfig ?? DEFAULT_MOCK_CONFIG
    this.isolation = init.mockIsolation ?? DEFAULT_MOCK_ISOLATION
    this.binaryPayload = init.binaryPayload ?? DEFAULT_BINARY_PAYLOAD
    this.log = init.logger?.forComponent('skyline:build:mock') ?? defaultLogger('skyline:build:mock')
  }

  /** The full command line of a build (priority wrappers, mock and its arguments) */
  commandLine (srpmPath: string, workDir: string): string[] {
    return [...this.host.priority.prefix, this.host.mock, ...mockArgs(srpmPath, {
      config: this.config, resultDir: join(workDir, 'result'), isolation: this.isolation, binaryPayload: this.binaryPayload
    })]
  }

  async build (srpmPath: string, options: BuildOptions): Promise<BuildResult> {
    const started = performance.now()
    const { workDir, signal, onProgress } = options
    if (signal?.aborted === true) throw new BuildAbortedError('build aborted before it started')
    if (!basename(srpmPath).endsWith('.src.rpm')) throw new BuildSetupError(`not an SRPM file name: ${basename(srpmPath)}`)
    if (options.buildroot !== undefined) throw new BuildrootUnavailableError('buildroot cannot be materialised: the mock backend does not build from a buildroot manifest yet (use the rpmbuild backend)')
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
    const argv = this.commandLine(srpmPath, workDir)
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
    const installed = await readFile(join(resultDir, 'installed_pkgs.log'), 'utf8').catch(() => '')
    const environment = {
      builder: 'mock' as const,
      rpmVersion: rpmVersionFromInstalled(installed) ?? this.host.hostRpmVersion,
      target: this.config,
      mockConfig: this.config,
      binaryPayload: this.binaryPayload
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
