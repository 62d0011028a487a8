/**
 * A transport whose connections hand the kernel one write per socket per turn of the event loop.
 *
 * Why: every Yamux frame a node sends is one Noise message, and @libp2p/tcp writes a Noise message as two
 * socket writes, its 2-byte length and its ciphertext. With TCP_NODELAY each write is a system call and
 * usually a TCP segment of its own, and the receiver reads the length and the body as separate chunks
 * (Noise then decodes the length from a fragmented buffer list). A gossip message costs a node a frame
 * per mesh peer it forwards to and an IDONTWANT per mesh peer, each answered by a Yamux window update:
 * socket writes were 14% of a node's CPU per gossip message (docs/bench.md). Here a connection's socket
 * is corked at its first write in a turn of the event loop and uncorked when the turn's I/O is done
 * (`setImmediate`): what it wrote meanwhile leaves in one `writev`. Nothing waits for a timer, so what a
 * message costs in latency is the rest of the turn it was sent in. Backpressure is Node's own: a corked
 * write past the socket's high-water mark returns false, and 'drain' follows the flush.
 *
 * @example
 * ```ts
 * createLibp2p({ transports: [coalescedWrites(tcp())] })
 * ```
 */
import { Socket } from 'node:net'
import type { MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

/** What @libp2p/tcp's connection offers beyond MultiaddrConnection: its socket and the method that writes to it */
interface SocketConnection {
  socket?: unknown
  sendData?: (data: Uint8ArrayList) => unknown
}

/** Sockets corked in this turn of the event loop, uncorked together when it ends */
class TurnCork {
  private readonly corked = new Set<Socket>()
  private scheduled = false

  /** Corks `socket` until the end of this turn (once per turn) */
  hold (socket: Socket): void {
    if (this.corked.has(socket)) return
    socket.cork()
    this.corked.add(socket)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flush)
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false
    for (const socket of this.corked) socket.uncork()
    this.corked.clear()
  }
}

/**
 * Wraps a socket transport (@libp2p/tcp) so that each of its connections writes once per socket per turn of
 * the event loop. A connection without a net.Socket (another transport) is left as it is.
 */
export function coalescedWrites<Components> (transport: (components: Components) => Transport): (components: Components) => Transport {
  return components => {
    const inner = transport(components)
    const cork = new TurnCork()
    const upgrader = (u: Upgrader): Upgrader => coalescingUpgrader(u, cork)
    const dial = inner.dial.bind(inner)
    const createListener = inner.createListener.bind(inner)
    inner.dial = async (ma, options) => dial(ma, { ...options, upgrader: upgrader(options.upgrader) })
    inner.createListener = options => createListener({ ...options, upgrader: upgrader(options.upgrader) })
    return inner
  }
}

/** The upgrader the transport sees: each raw connection gets its writes coalesced, then goes on to `u` */
function coalescingUpgrader (u: Upgrader, cork: TurnCork): Upgrader {
  const coalesce = (maConn: MultiaddrConnection): MultiaddrConnection => {
    const conn = maConn as MultiaddrConnection & SocketConnection
    const { socket, sendData } = conn
    if (!(socket instanceof Socket) || typeof sendData !== 'function') return maConn
    conn.sendData = data => {
      cork.hold(socket)
      return sendData.call(conn, data)
    }
    return maConn
  }
  return {
    upgradeOutbound: async (maConn: MultiaddrConnection, opts: Parameters<Upgrader['upgradeOutbound']>[1]) => u.upgradeOutbound(coalesce(maConn), opts as any),
    upgradeInbound: async (maConn: MultiaddrConnection, opts: Parameters<Upgrader['upgradeInbound']>[1]) => u.upgradeInbound(coalesce(maConn), opts as any),
    createInboundAbortSignal: signal => u.createInboundAbortSignal(signal),
    getStreamMuxers: () => u.getStreamMuxers(),
    getConnectionEncrypters: () => u.getConnectionEncrypters()
  }
}
