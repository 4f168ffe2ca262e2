// The one function that puts a value into a remote shell command. Every argument of every remote
// command goes through it: inside single quotes a POSIX shell expands nothing, so spaces, `$()`,
// backticks, globs, newlines and non-ASCII arrive as they are. A single quote itself is closed,
// escaped and reopened: ' becomes '\''.

export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte')
  return `'${value.replace(/'/g, `'\\''`)}'`
}

/** A command line of quoted arguments. */
export function shellCommand(args: readonly string[]): string {
  return args.map(shellQuote).join(' ')
}

/**
 * A remote path as an argument no program can read as an option: absolute as it is, else
 * `./`-prefixed (a file named `-out` is `./-out`). Every path handed to a remote command goes
 * through it, then through shellQuote.
 */
export function commandPath(path: string): string {
  return path.startsWith('/') ? path : `./${path}`
}

/** shellQuote(commandPath(path)). */
export function quotePath(path: string): string {
  return shellQuote(commandPath(path))
}
