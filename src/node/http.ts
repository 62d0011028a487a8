/**
 * The node's local HTTP server, bound to 127.0.0.1 by default:
 * - `GET /` the dashboard and `GET /leaderboard` (HTML, see dashboard/), with their assets
 *   `/dashboard.js`, `/dashboard.css` and `/favicon.svg`; nothing is loaded from anywhere else;
 * - `GET /status` (alias `/api/status`) and `GET /api/stats` (JSON: node.status(), node.stats());
 * - `GET /api/traffic` (JSON: node.traffic(), bytes per day by protocol and the daily traffic, builds, credit);
 * - `GET /metrics` (Prometheus text: libp2p's own metrics, process metrics and Skyline's).
 * Only GET and HEAD; query strings are ignored; every other request gets a short JSON error, never a
 * stack trace. Every response carries a strict Content-Security-Policy (`default-src 'self'`, no
 * framing), `Referrer-Policy: no-referrer` and `nosniff`. While bound to a loopback address, requests
 * whose Host header names anything but a loopback address or `localhost` are refused, so a web page
 * cannot reach the node through DNS rebinding.
 */
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { isIP, type AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import type { NodeStatus } from './status.ts'
import type { MeshStats } from '../rules/stats.ts'
import type { TrafficReport } from './traffic.ts'
import { DASHBOARD_CSS, DASHBOARD_JS, FAVICON_SVG, renderDashboard, renderLeaderboard } from './dashboard/index.ts'

/** Requests whose headers take longer than this are dropped (slowloris) */
const HEADERS_TIMEOUT_MS = 5_000
const REQUEST_TIMEOUT_MS = 10_000

/** What the server shows: a SkylineNode, or a stub in tests */
export interface HttpSource {
  status: () => NodeStatus
  stats: () => MeshStats
  /** the traffic log; a source without one answers 404 at /api/traffic */
  traffic?: () => Promise<TrafficReport>
  readonly registry: Registry
}

export const CONTENT_SECURITY_POLICY = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()'
}

const JSON_TYPE = 'application/json'
const HTML_TYPE = 'text/html; charset=utf-8'

interface Asset { type: string, body: Buffer, etag: string }

function asset (type: string, text: string): Asset {
  const body = Buffer.from(text)
  return { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }
}

/** Served as they are, revalidated by ETag */
const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['/dashboard.js', asset('text/javascript; charset=utf-8', DASHBOARD_JS)],
  ['/dashboard.css', asset('text/css; charset=utf-8', DASHBOARD_CSS)],
  ['/favicon.svg', asset('image/svg+xml', FAVICON_SVG)]
])

function isLoopback (host: string): boolean {
  const h = host.toLowerCase()
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'))
}

/** The host name of a Host header, without its port and brackets */
function hostName (header: string): string {
  if (header.startsWith('[')) return header.slice(1, header.indexOf(']') > 0 ? header.indexOf(']') : undefined)
  const colon = header.lastIndexOf(':')
  return colon >= 0 ? header.slice(0, colon) : header
}

/** Whether a request's Host header may reach a server bound to a loopback address */
export function hostAllowed (header: string | undefined): boolean {
  if (header === undefined) return true // not a browser: DNS rebinding needs a name
  const name = hostName(header.trim())
  return isLoopback(name) || isIP(name) !== 0
}

export class HttpServer {
  private readonly node: HttpSource
  private readonly host: string
  private readonly port: number
  private readonly loopbackOnly: boolean
  private server: Server | undefined
  url: string | undefined

  constructor (node: HttpSource, bind: { host: string, port: number }) {
    this.node = node
    this.host = bind.host
    this.port = bind.port
    this.loopbackOnly = isLoopback(bind.host)
  }

  async start (): Promise<void> {
    // the headers timeout is enforced at the connections-checking interval (30 s by default): check every second
    const server = createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => { this.handle(req, res).catch(err => this.fail(res, 500, String(err?.message ?? err))) })
    // requests Node's parser refuses (bad method or request line, headers too large, timeouts): a short
    // JSON answer with the same security headers, then the connection closes
    server.on('clientError', (err: NodeJS.ErrnoException & { code?: string }, socket) => {
      if (!socket.writable || (socket as any)._httpMessage?.headersSent === true) { socket.destroy(); return }
      const [code, text] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'request header fields too large'] : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request timeout'] : [400, 'bad request']
      const body = JSON.stringify({ error: text }) + '\n'
      const head = Object.entries({ ...SECURITY_HEADERS, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', connection: 'close' }).map(([k, v]) => `${k}: ${v}`).join('\r\n')
      // the answer, then the connection goes, whatever the client still sends
      socket.write(`HTTP/1.1 ${code} ${text}\r\n${head}\r\n\r\n${body}`, () => socket.destroy())
    })
    server.headersTimeout = HEADERS_TIMEOUT_MS
    server.requestTimeout = REQUEST_TIMEOUT_MS
    server.maxHeadersCount = 50
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: any) => reject(new Error(`cannot listen for HTTP on ${this.host}:${this.port}: ${err.code ?? err.message}`)))
      server.listen(this.port, this.host, () => resolve())
    })
    const addr = server.address() as AddressInfo
    this.url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
    this.server = server
  }

  async stop (): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD')
      this.fail(res, 405, 'method not allowed')
      return
    }
    if (this.loopbackOnly && !hostAllowed(req.headers.host)) {
      this.fail(res, 403, 'this node answers only to loopback host names (127.0.0.1, localhost)')
      return
    }
    const path = (req.url ?? '/').split('?')[0]
    switch (path) {
      case '/':
        this.send(res, 200, HTML_TYPE, renderDashboard(this.node.status(), this.statsOrNull(), Date.now(), await this.trafficOrNull()))
        return
      case '/leaderboard':
        this.send(res, 200, HTML_TYPE, renderLeaderboard(this.statsOrNull(), Date.now()))
        return
      case '/status':
      case '/api/status':
        this.send(res, 200, JSON_TYPE, JSON.stringify(this.node.status()) + '\n')
        return
      case '/api/stats':
        this.send(res, 200, JSON_TYPE, JSON.stringify(this.node.stats()) + '\n')
        return
      case '/api/traffic':
        if (this.node.traffic === undefined) break
        this.send(res, 200, JSON_TYPE, JSON.stringify(await this.node.traffic()) + '\n')
        return
      case '/metrics':
        this.send(res, 200, this.node.registry.contentType, await this.node.registry.metrics())
        return
    }
    const a = ASSETS.get(path)
    if (a === undefined) {
      this.fail(res, 404, 'not found')
      return
    }
    const cache = { etag: a.etag, 'cache-control': 'no-cache' }
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304, { ...SECURITY_HEADERS, ...cache })
      res.end()
      return
    }
    this.send(res, 200, a.type, a.body, cache)
  }

  /** The stats for a page; a page still renders (saying so) when they cannot be computed */
  private statsOrNull (): MeshStats | null {
    try {
      return this.node.stats()
    } catch {
      return null
    }
  }

  /** The traffic log for the page; a page still renders (saying so) without it */
  private async trafficOrNull (): Promise<TrafficReport | null> {
    try {
      return await this.node.traffic?.() ?? null
    } catch {
      return null
    }
  }

  private send (res: ServerResponse, code: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body
    res.writeHead(code, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': String(bytes.length), 'cache-control': 'no-store', ...headers })
    res.end(res.req.method === 'HEAD' ? undefined : bytes)
  }

  private fail (res: ServerResponse, code: number, message: string): void {
    if (res.headersSent) { res.destroy(); return }
    this.send(res, code, JSON_TYPE, JSON.stringify({ error: message }) + '\n')
  }
}
