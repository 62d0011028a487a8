/**
 * A tiny TCP forwarder for the stress tests: run inside a network namespace, it listens on Unix sockets
 * (file system paths reach across namespaces) and forwards each connection to 127.0.0.1:PORT inside the
 * namespace, so a test in the root namespace can GET a node's /status there.
 *
 *   node forward.ts /path/to/http.sock=7871 [...]
 */
import { createServer, connect } from 'node:net'
import { rmSync } from 'node:fs'

for (const arg of process.argv.slice(2)) {
  const eq = arg.lastIndexOf('=')
  const path = arg.slice(0, eq)
  const port = Number(arg.slice(eq + 1))
  rmSync(path, { force: true })
  const server = createServer(c => {
    const u = connect(port, '127.0.0.1')
    c.pipe(u)
    u.pipe(c)
    c.on('error', () => u.destroy())
    u.on('error', () => c.destroy())
  })
  await new Promise<void>(resolve => server.listen(path, resolve))
}
process.stdout.write('ready\n')
