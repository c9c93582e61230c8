/**
 * session.steps, run as a state machine: one integer state and a short method for each, the way
 * ws's Receiver reads frames. One SessionSteps per attempt that has steps, made when it opens.
 */
import type WebSocket from 'ws';
import { now } from '../util/clock.js';
import type { AttemptRecord } from '../record/attempt.js';
import { jsonContains } from '../session/json-subset.js';
import type { TemplateContext } from '../session/template.js';
import type { StepSpec } from './protocol.js';
import type { AttemptHost } from './connection.js';

/** What the script needs from its attempt. */
export interface StepsOwner {
  readonly host: AttemptHost;
  readonly rec: AttemptRecord;
  readonly ctx: TemplateContext | null;
  /** Whether the session is open (not closing, not done): steps run only then. */
  readonly isOpen: boolean;
  /** Closes the session from the client's side (1000 unless given), if it is still open. */
  closeByClient(code?: number, reason?: string): void;
  /** The script is over and the hold has passed: the session ends (a stream's last replies first). */
  endSession(): void;
  /** When the hold ends, epoch ms (Infinity: until holdEnded() is called). */
  holdEndsAt(): number;
  /** A step waited past its `within`: the attempt ends as expect_timeout. */
  stepTimedOut(): void;
}

type NamedStep = Extract<StepSpec, { name: string }>;

// The states.
/** Run the step at `index`; send steps run back to back. */
const RUN = 0;
/** An expect step waits for a matching message. */
const EXPECT = 1;
/** A ping step waits for its pong. */
const PING = 2;
/** A sleep step waits for its timer. */
const SLEEP = 3;
/** Every step is done: the session is kept until `hold` has passed since open, then closed 1000. */
const HOLD = 4;
/** Closing or closed: nothing more to do. */
const OVER = 5;

export class SessionSteps {
  private state = RUN;
  private index = 0;
  /** When the waiting step started. */
  private stepStart = 0;
  private timer: NodeJS.Timeout | null = null;
  /** The timers' callback, made once per script (no arguments array per timer). */
  private readonly onTimer = (): void => this.timerFired();

  constructor(
    private readonly owner: StepsOwner,
    private readonly ws: WebSocket,
  ) {}

  private get steps(): StepSpec[] {
    return this.owner.host.settings.steps!;
  }

  /** Runs steps while they complete at once; stops at the first that waits. */
  run(): void {
    while (this.state === RUN && this.owner.isOpen) {
      if (this.index >= this.steps.length) return this.hold();
      const step = this.steps[this.index];
      if (step.kind === 'send') this.send(step.text);
      else if (step.kind === 'sleep') this.wait(SLEEP, step.ms);
      else if (step.kind === 'close') this.close(step.code, step.reason);
      else this.waitForPeer(step);
    }
  }

  private send(text: string): void {
    const tpl = this.owner.host.templates.stepSends[this.index];
    const ctx = this.owner.ctx;
    this.ws.send(tpl && ctx ? tpl(ctx) : text);
    this.index++;
  }

  /** An expect or ping step: timed from now, failed after `within`. */
  private waitForPeer(step: Extract<StepSpec, { kind: 'expect' | 'ping' }>): void {
    this.stepStart = now();
    if (step.kind === 'ping') this.ws.ping();
    this.wait(step.kind === 'ping' ? PING : EXPECT, step.withinMs);
  }

  private wait(state: typeof EXPECT | typeof PING | typeof SLEEP | typeof HOLD, ms: number): void {
    this.state = state;
    this.timer = setTimeout(this.onTimer, ms);
  }

  private close(code: number, reason: string): void {
    this.owner.rec.ok ??= now();
    this.state = OVER;
    this.owner.closeByClient(code, reason);
  }

  /** Every step done: keep the socket until `hold` has passed since open, then close 1000. */
  private hold(): void {
    const rec = this.owner.rec;
    rec.ok ??= now();
    const left = this.owner.holdEndsAt() - now();
    if (left === Infinity) this.state = HOLD; // a population socket: holdEnded() ends it
    else if (left > 0) this.wait(HOLD, left);
    else this.held();
  }

  /** The hold ends now (a population's time is up): a script still running ends when it is done. */
  holdEnded(): void {
    if (this.state !== HOLD) return;
    this.clearTimer();
    this.held();
  }

  /** A message: passes a waiting expect step if it matches (a regex, or a JSON subset). */
  message(text: string): void {
    if (this.state !== EXPECT) return;
    const step = this.steps[this.index] as Extract<StepSpec, { kind: 'expect' }>;
    if (step.match !== null ? this.owner.host.stepRegex(this.index).test(text) : jsonMatches(text, step.json)) this.passed();
  }

  pong(): void {
    if (this.state === PING) this.passed();
  }

  private passed(): void {
    const step = this.steps[this.index] as NamedStep;
    const rec = this.owner.rec;
    const t = now();
    this.owner.host.recordStep(step.name, t - this.stepStart, t - rec.open!);
    if (rec.first === null) rec.first = t;
    this.clearTimer();
    this.index++;
    this.state = RUN;
    this.run();
  }

  /** A step's timer: what it means depends on the state it was set in. */
  private timerFired(): void {
    this.timer = null;
    switch (this.state) {
      case EXPECT:
      case PING:
        // Judged after this turn's socket reads (timers run before them): a reply that reached
        // the socket while the thread was busy still passes the step (see worker-run's deadlines).
        return void setImmediate(SessionSteps.timedOutAfterReads, this, this.index);
      case SLEEP:
        return this.slept();
      case HOLD:
        return this.held();
    }
  }

  private slept(): void {
    this.index++;
    this.state = RUN;
    this.run();
  }

  private held(): void {
    this.state = OVER;
    this.owner.endSession();
  }

  private static readonly timedOutAfterReads = (steps: SessionSteps, index: number): void => {
    if ((steps.state === EXPECT || steps.state === PING) && steps.index === index) steps.timedOut();
  };

  private timedOut(): void {
    if (!this.owner.isOpen) return;
    const rec = this.owner.rec;
    this.state = OVER;
    rec.step = (this.steps[this.index] as NamedStep).name;
    rec.stepFail = 'timeout';
    this.owner.stepTimedOut();
  }

  /**
   * The socket closed. While a step waited (and nothing else decided the outcome first), that
   * step failed with the close code, not a timeout.
   */
  closed(undecided: boolean): void {
    this.clearTimer();
    if ((this.state === EXPECT || this.state === PING) && undecided) {
      const rec = this.owner.rec;
      rec.step = (this.steps[this.index] as NamedStep).name;
      rec.stepFail = 'closed';
    }
    this.state = OVER;
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** Whether a text message is JSON containing `subset`. */
function jsonMatches(text: string, subset: unknown): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  return jsonContains(parsed, subset);
}
