/**
 * Connection liveness without a stream per ping. A connection whose peer went silent (a partition, a
 * frozen process, a cable pulled: nothing closes the TCP socket) must be closed, so that the node stops
 * sending into it and redials the peer (src/node/libp2p.ts, reconnects). libp2p's connection monitor
 * does that by opening a stream per connection and ping: multistream-select, a Yamux stream opened and
 * closed, and a peer-store merge at both ends for every stream. On an idle node that was most of its CPU,
 * and it grows with the number of connections (docs/bench.md, "Idle CPU per node and the mesh size").
 *
 * This service pings each connection with its muxer's own ping instead: a Yamux PING frame (12 bytes,
 * one Noise frame each way), answered by the peer's muxer without a stream, a protocol or the peer
 * store. Yamux's own keep-alive sends the same frame but never gives up on an unanswered one (a ping
 * without a deadline, its errors only logged), so it is turned off and this service sends the pings,
 * every `intervalMs`, and aborts a connection whose ping is not answered within `timeoutMs`: a silently
 * dead connection is closed at most `intervalMs + timeoutMs` after it died.
 */
import type { ComponentLogger, Connection, Logger, Startable } from '@libp2p/interface'

/** @default 30 s between pings of a connection (Yamux's own keep-alive interval) */
export const LIVENESS_INTERVAL_MS = 30_000
/**
 * @default 20 s for the answer: a ping frame is answered by the peer's event loop without any other work,
 * so only a peer stalled for 20 s (or a dead one) misses it; a dead connection is closed within 50 s
 */
export const LIVENESS_TIMEOUT_MS = 20_000

/** A muxer that can ping its peer without a stream (js-yamux's `Yamux.ping`) */
interface PingingMuxer {
  status: string
  ping: (options?: { signal?: AbortSignal }) => Promise<number>
}

export interface ConnectionLivenessComponents {
  connectionManager: { getConnections: () => Connection[] }
  logger: ComponentLogger
}

export interface ConnectionLivenessInit {
  /** @default LIVENESS_INTERVAL_MS */
  intervalMs?: number
  /** @default LIVENESS_TIMEOUT_MS */
  timeoutMs?: number
}

/** Pings every connection with its muxer's ping frame and aborts the connections that stop answering */
export class ConnectionLiveness implements Startable {
  private readonly components: ConnectionLivenessComponents
  private readonly intervalMs: number
  private readonly timeoutMs: number
  private readonly log: Logger
  private readonly pinging = new WeakSet<Connection>()
  private timer: ReturnType<typeof setInterval> | undefined

  constructor (components: ConnectionLivenessComponents, init: ConnectionLivenessInit = {}) {
    this.components = components
    this.intervalMs = init.intervalMs ?? LIVENESS_INTERVAL_MS
    this.timeoutMs = init.timeoutMs ?? LIVENESS_TIMEOUT_MS
    if (!(this.intervalMs > 0) || !(this.timeoutMs > 0)) throw new Error('connection liveness: intervalMs and timeoutMs must be positive')
    this.log = components.logger.forComponent('skyline:liveness')
  }

  readonly [Symbol.toStringTag] = 'skyline/liveness'

  start (): void {
    this.timer = setInterval(() => { this.pingAll() }, this.intervalMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  /** Pings every open connection that is not waiting for an answer already */
  pingAll (): void {
    for (const connection of this.components.connectionManager.getConnections()) {
      if (!this.pinging.has(connection)) void this.ping(connection)
    }
  }

  /** One ping with a deadline; a connection that misses it is aborted */
  private async ping (connection: Connection): Promise<void> {
    const muxer = pingingMuxer(connection)
    if (muxer === undefined || muxer.status !== 'open') return
    this.pinging.add(connection)
    try {
      await muxer.ping({ signal: AbortSignal.timeout(this.timeoutMs) })
    } catch (err: any) {
      if (connection.status !== 'open') return
      this.log('%p did not answer a ping in %d ms: closing the connection (%s)', connection.remotePeer, this.timeoutMs, err?.message)
      connection.abort(new Error(`no answer to a muxer ping within ${this.timeoutMs} ms`))
    } finally {
      this.pinging.delete(connection)
    }
  }
}

/** The connection's muxer if it pings without a stream (libp2p's Connection keeps it; its interface does not declare it) */
function pingingMuxer (connection: Connection): PingingMuxer | undefined {
  const muxer = (connection as unknown as { muxer?: Partial<PingingMuxer> }).muxer
  return typeof muxer?.ping === 'function' ? muxer as PingingMuxer : undefined
}

/** The liveness checks as a libp2p service (they need the connection manager, which libp2p does not export) */
export function connectionLiveness (init: ConnectionLivenessInit = {}): (components: ConnectionLivenessComponents) => ConnectionLiveness {
  return components => new ConnectionLiveness(components, init)
}
