/** Shared by the multi-process benches: a forked worker with request/reply over IPC, and CPU time of a process. */
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** One forked worker, with request/reply over IPC, matched by request id. */
export class Worker<Req extends { type: string }, Reply extends { type: string }> {
  readonly index: number
  readonly child: ChildProcess
  private readonly waiting = new Map<number, { resolve: (r: any) => void, reject: (e: Error) => void }>()
  private nextId = 0

  constructor (script: string, index: number) {
    this.index = index
    this.child = fork(script, [], {
      execPath: process.execPath, // the Node 24 the bench runs on
      execArgv: ['--disable-warning=ExperimentalWarning', ...(process.env.BENCH_WORKER_ARGS?.split(' ').filter(a => a !== '') ?? [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    this.child.on('message', (reply: Reply & { id: number, message?: string }) => {
      const w = this.waiting.get(reply.id)
      this.waiting.delete(reply.id)
      if (reply.type === 'error') w?.reject(new Error(`worker ${this.index}: ${reply.message ?? ''}`))
      else w?.resolve(reply)
    })
    this.child.on('exit', code => {
      for (const w of this.waiting.values()) w.reject(new Error(`worker ${this.index} exited (${code})`))
      this.waiting.clear()
    })
  }

  get pid (): number { return this.child.pid! }

  async request<T extends Req['type']> (req: Req & { type: T }, timeoutMs = 30_000): Promise<Extract<Reply, { type: T }>> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(id); reject(new Error(`worker ${this.index}: no reply to ${req.type} in ${timeoutMs} ms`)) }, timeoutMs)
      this.waiting.set(id, {
        resolve: r => { clearTimeout(timer); resolve(r) },
        reject: e => { clearTimeout(timer); reject(e) }
      })
      this.child.send({ ...req, id })
    })
  }
}

/** CPU time (user + system, in clock ticks of 1/100 s) of a process so far, from /proc/<pid>/stat */
export function cpuTicks (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14 and 15 of the whole line)
}
