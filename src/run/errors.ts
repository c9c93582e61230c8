/** The run could not be carried out (exit 3): unreachable target, too few descriptors, … */
export class RunError extends Error {
  readonly exitCode = 3;
  constructor(message: string) {
    super(message);
    this.name = 'RunError';
  }
}
