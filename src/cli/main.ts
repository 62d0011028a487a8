/**
 * `skyline`: the one binary. Dispatches to a subcommand module in ./commands, each of which exports
 * `run(argv): Promise<number>` returning the exit code. Errors become one line on stderr:
 * UsageError and InputError exit 2, anything else exits 1.
 */
import { EXIT_USAGE, InputError, UsageError } from './errors.ts'

const COMMANDS: Record<string, { summary: string, load: () => Promise<{ run: (argv: string[]) => Promise<number> }> }> = {
  node: { summary: 'run a mesh node until SIGINT/SIGTERM', load: async () => import('./commands/node.ts') },
  status: { summary: 'what a running node knows: peers, topics, DHT', load: async () => import('./commands/status.ts') },
  verify: { summary: 'check RPM signatures and digests against a keyring', load: async () => import('./commands/verify.ts') },
  keys: { summary: 'announcer keys: keys generate --out F', load: async () => import('./commands/keys.ts') },
  seed: { summary: 'verify, serve and announce SRPMs', load: async () => import('./commands/seed.ts') },
  watch: { summary: 'print announcements, attestations and verdicts as they arrive', load: async () => import('./commands/watch.ts') },
  fetch: { summary: 'fetch agreed RPMs into a dnf repository (createrepo_c)', load: async () => import('./commands/fetch.ts') },
  control: { summary: 'halt or resume the mesh (signed by an announcer key)', load: async () => import('./commands/control.ts') },
  demo: { summary: 'a local mesh that seeds a bundled signed SRPM, builds it and shows consensus', load: async () => import('./commands/demo.ts') }
}

export const USAGE = `usage: skyline <command> [options]

commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`).join('\n')}

Run 'skyline <command> --help' for a command's options.`

export async function main (argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n')
    return name === undefined ? EXIT_USAGE : 0
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (command === undefined) {
    process.stderr.write(`skyline: unknown command '${name}'\n${USAGE}\n`)
    return EXIT_USAGE
  }
  try {
    const mod = await command.load()
    return await mod.run(rest)
  } catch (err: any) {
    if (err instanceof UsageError || err instanceof InputError || err?.name === 'ConfigError' || err?.name === 'IdentityError' || err?.name === 'KeyFileError' || err?.name === 'KeyringError') {
      process.stderr.write(`skyline ${name}: ${err.message}\n`)
      return EXIT_USAGE
    }
    process.stderr.write(`skyline ${name}: ${err?.message ?? String(err)}\n`)
    if (process.env.SKYLINE_DEBUG != null) process.stderr.write(`${err?.stack}\n`)
    return 1
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2))
}
