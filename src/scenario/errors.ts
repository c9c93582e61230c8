/** Bad input: a scenario or flag that cannot be run. The CLI exits 2 with the message. */
export class InputError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}
