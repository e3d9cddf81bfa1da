/**
 * The little the core asks of the runtime it runs in, found without importing any runtime module:
 * environment variables (Node's process.env; none in a browser), warnings (process.emitWarning, else the
 * console), and a turn of the event loop between generation steps.
 */
interface NodeLikeProcess {
  env?: Record<string, string | undefined>;
  emitWarning?: (message: string, options: { code: string }) => void;
}

const runtime = globalThis as { process?: NodeLikeProcess; setImmediate?: (fn: () => void) => unknown };

/** An environment variable, or undefined where the runtime has none. */
export function env(name: string): string | undefined {
  return runtime.process?.env?.[name];
}

/** A warning for the person running the program (Node: a process warning with `code`). */
export function warn(message: string, code: string): void {
  if (runtime.process?.emitWarning) runtime.process.emitWarning(message, { code });
  else console.warn(`${code}: ${message}`);
}

/**
 * Resolves after pending I/O callbacks have run: engines whose reads resolve at once would otherwise starve
 * them (a Ctrl-C, a server's other requests) between tokens.
 */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => (runtime.setImmediate ? runtime.setImmediate(resolve) : setTimeout(resolve, 0)));
}
