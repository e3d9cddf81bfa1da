/**
 * Dawn writes notes to stderr on its own when an adapter comes up (over OpenGL ES it says which limits it lowered),
 * in any process that uses the WebGPU engine; tests that want a command's stderr empty of our own words drop them.
 */
export function withoutDawnNotes(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => !/^Warning: \w+ artificially reduced from \d+ to \d+/.test(line))
    .join('\n');
}
