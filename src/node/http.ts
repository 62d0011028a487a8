/**
 * The node's local HTTP server, bound to 127.0.0.1 by default: `GET /status` (JSON) and `GET /metrics`
 * (Prometheus text: libp2p's own metrics, process metrics and Skyline's). Only GET and HEAD; every
 * other request gets a short error, never a stack trace.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { SkylineNode } from './node.ts'

/** Requests whose headers take longer than this are dropped (slowloris) */
const HEADERS_TIMEOUT_MS = 5_000
const REQUEST_TIMEOUT_MS = 10_000

export class HttpServer {
  private readonly node: SkylineNode
  private readonly host: string
  private readonly port: number
  private server: Server | undefined
  url: string | undefined

  constructor (node: SkylineNode, bind: { host: string, port: number }) {
    this.node = node
    this.host = bind.host
    this.port = bind.port
  }

  async start (): Promise<void> {
    const server = createServer((req, res) => { this.handle(req, res).catch(err => this.fail(res, 500, String(err?.message ?? err))) })
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
    const path = (req.url ?? '/').split('?')[0]
    switch (path) {
      case '/status':
        this.send(res, 200, 'application/json', JSON.stringify(this.node.status()) + '\n')
        return
      case '/metrics':
        this.send(res, 200, this.node.registry.contentType, await this.node.registry.metrics())
        return
      default:
        this.fail(res, 404, 'not found')
    }
  }

  private send (res: ServerResponse, code: number, type: string, body: string): void {
    res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
    res.end(res.req.method === 'HEAD' ? undefined : body)
  }

  private fail (res: ServerResponse, code: number, message: string): void {
    if (res.headersSent) { res.destroy(); return }
    this.send(res, code, 'application/json', JSON.stringify({ error: message }) + '\n')
  }
}
