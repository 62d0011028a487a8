import { spawn, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'

export const SKYLINE = resolve(import.meta.dirname, '../../bin/skyline')

export interface RunResult { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** Runs `skyline ARGS` to completion */
export async function runCli (args: string[], opts: { timeoutMs?: number, env?: NodeJS.ProcessEnv, input?: string } = {}): Promise<RunResult> {
  const child = spawn(SKYLINE, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] })
  child.stdin.end(opts.input ?? '')
  return collect(child, opts.timeoutMs ?? 30_000)
}

export async function collect (child: ChildProcess, timeoutMs: number): Promise<RunResult> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', d => { stdout += String(d) })
  child.stderr?.on('data', d => { stderr += String(d) })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.on('close', (c, s) => resolve([c, s])))
  clearTimeout(timer)
  return { code, signal, stdout, stderr }
}

/** Starts a long-running `skyline ARGS`, resolving once stdout matches `ready` */
export async function startCli (args: string[], ready: RegExp, timeoutMs = 30_000): Promise<{ child: ChildProcess, match: RegExpMatchArray, output: () => { stdout: string, stderr: string } }> {
  const child = spawn(SKYLINE, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', d => { stderr += String(d) })
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`not ready in ${timeoutMs} ms: ${stdout} ${stderr}`)) }, timeoutMs)
    child.stdout.on('data', d => {
      stdout += String(d)
      const m = stdout.match(ready)
      if (m !== null) { clearTimeout(timer); resolve(m) }
    })
    child.on('exit', code => { clearTimeout(timer); reject(new Error(`exited with ${code} before ready: ${stderr}`)) })
  })
  return { child, match, output: () => ({ stdout, stderr }) }
}
