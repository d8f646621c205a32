/**
 * The collective over TCP, for processes on one machine or several (rendezvous.ts wires them). Data moves around a
 * ring, each rank writing to the next and reading from the previous, as Gloo's ring algorithms do:
 *
 * - allReduce: the array is cut into worldSize segments; a reduce-scatter (worldSize − 1 steps, each rank adding
 *   the segment it receives into its own and passing the sum on) leaves rank r owning the full sum of segment
 *   r + 1, which an all-gather (worldSize − 1 steps) copies to everyone. The owner alone computes its segment's
 *   final value (and divides by worldSize for 'avg'); the others copy its bits, so every rank ends bit-identical.
 *   Segments stream in chunks of CHUNK_FLOATS: a chunk is passed on as soon as it is reduced, so the steps overlap.
 *   Each rank sends and receives 2·(worldSize − 1)/worldSize of the array: the bandwidth-optimal amount.
 * - broadcast: the root's bytes stream around the ring, each rank keeping and passing on each chunk.
 * - barrier: a token goes around twice (everyone has arrived; everyone may leave).
 *
 * Every call starts with a small header (collective, call number, size) that the receiver checks against its own
 * call, so ranks that call different collectives fail with a message saying so instead of exchanging garbage.
 *
 * Failure: rank 0 keeps a connection to every rank (the star). A rank that dies has its connections closed by its
 * operating system: rank 0 sees it at once and tells every rank "rank k disconnected"; the ranks next to it in the
 * ring see their connection close too and wait up to VERDICT_GRACE_MS for that word before blaming their neighbour.
 * The first failure wins and is final. A call also fails after `timeoutMs` (default 600 s, WEBTRAINER_DIST_TIMEOUT):
 * it bounds a rank that is alive but stuck; it does not run between calls, so a long training step or evaluation
 * between two collectives is never mistaken for a death.
 */
import { checkRoot, type Collective, type ReduceOp } from './collective.js';
import { CollectiveError, type CollectiveFailureKind } from './errors.js';
import type { LaunchEnvironment } from './launch-environment.js';
import { LinkClosedError, LinkProtocolError, type Link } from './link.js';
import { rendezvous, type Wiring } from './rendezvous.js';

/** Floats per chunk of a streamed segment (1 MiB). */
const CHUNK_FLOATS = 1 << 18;
const CHUNK_BYTES = CHUNK_FLOATS * 4;
/** How long a rank whose ring connection closed waits for rank 0 to say which rank died. */
const VERDICT_GRACE_MS = 3_000;

type Message = Record<string, unknown>;

export interface TcpCollectiveOptions {
  /** Longest one call may take (waiting for the slowest rank included). */
  timeoutMs: number;
}

export class TcpCollective implements Collective {
  readonly rank: number;
  readonly worldSize: number;
  private readonly timeoutMs: number;
  private readonly star: Link[];
  private readonly toNext: Link;
  private readonly fromPrevious: Link;
  private readonly next: number;
  private readonly previous: number;
  private failure: CollectiveError | null = null;
  private failureWaiters: (() => void)[] = [];
  /** Run after each star message; one that returns true is done. */
  private starListeners: (() => boolean)[] = [];
  /** Ranks that closed their collective (told through rank 0). */
  private readonly left = new Set<number>();
  private closeRequested = false;
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private calls = 0;
  /** What the running call waits for, and on whom: the timeout's message. */
  private waitingFor = '';
  private waitingOn: number | undefined;
  private scratch: Float32Array | null = null;

  /** Meets the other ranks (rendezvous.ts) and returns this rank's collective. */
  static async connect(env: LaunchEnvironment): Promise<TcpCollective> {
    return new TcpCollective(env, await rendezvous(env), { timeoutMs: env.timeoutMs });
  }

  constructor(env: Pick<LaunchEnvironment, 'rank' | 'worldSize'>, wiring: Wiring, options: TcpCollectiveOptions) {
    this.rank = env.rank;
    this.worldSize = env.worldSize;
    this.timeoutMs = options.timeoutMs;
    this.star = wiring.star;
    this.toNext = wiring.toNext;
    this.fromPrevious = wiring.fromPrevious;
    this.next = (this.rank + 1) % this.worldSize;
    this.previous = (this.rank - 1 + this.worldSize) % this.worldSize;
    if (this.rank === 0) for (let k = 1; k < this.worldSize; k++) void this.watchStar(this.star[k], k);
    else void this.watchStar(this.star[0], 0);
  }

  async broadcast(data: ArrayBufferView, root = 0): Promise<void> {
    checkRoot(root, this.worldSize);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return this.run('broadcast', `${describeBytes(bytes.length)} from rank ${root}`, async (call) => {
      await this.broadcastBytes({ op: 'broadcast', call, root, bytes: bytes.length }, bytes);
    });
  }

  async broadcastObject<T>(value: T, root = 0): Promise<T> {
    checkRoot(root, this.worldSize);
    let json: Uint8Array | null = null;
    if (this.rank === root) {
      const text = JSON.stringify(value);
      if (text === undefined) throw new TypeError('broadcastObject: the value has no JSON form (undefined or a function)');
      json = Buffer.from(text, 'utf8');
    }
    return this.run('broadcastObject', `from rank ${root}`, async (call) => {
      const received = await this.broadcastBytes({ op: 'broadcastObject', call, root, bytes: json?.length }, json);
      return JSON.parse(Buffer.from(received.buffer, received.byteOffset, received.length).toString('utf8')) as T;
    });
  }

  async allReduce(data: Float32Array, op: ReduceOp = 'sum'): Promise<void> {
    if (op !== 'sum' && op !== 'avg') throw new RangeError(`allReduce: op '${String(op)}' is not 'sum' or 'avg'`);
    return this.run('allReduce', `${data.length} floats, ${op}`, (call) => this.ringAllReduce(data, op, call));
  }

  barrier(): Promise<void> {
    return this.run('barrier', '', async (call) => {
      const enter = { op: 'barrier', call, phase: 'enter' };
      const leave = { op: 'barrier', call, phase: 'leave' };
      if (this.rank === 0) {
        this.send(enter);
        await this.receiveHeader(enter);
        this.send(leave);
        await this.receiveHeader(leave);
      } else {
        await this.receiveHeader(enter);
        this.send(enter);
        await this.receiveHeader(leave);
        this.send(leave);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closeRequested) return;
    this.closeRequested = true;
    await this.queue;
    this.closed = true;
    const links = [...this.star.filter(Boolean), this.toNext, this.fromPrevious];
    if (this.failure) {
      for (const link of links) link.destroy();
      return;
    }
    for (const link of this.star.filter(Boolean)) if (!link.closed) link.writeMessage({ type: 'bye' });
    for (const link of links) link.close();
  }

  // --- the algorithms -------------------------------------------------------------------------------------------

  private async ringAllReduce(data: Float32Array, op: ReduceOp, call: number): Promise<void> {
    const { rank, worldSize } = this;
    const n = data.length;
    const segment = (k: number): [number, number] => [Math.floor((k * n) / worldSize), Math.floor(((k + 1) * n) / worldSize)];
    const bytesOf = (from: number, to: number) => new Uint8Array(data.buffer, data.byteOffset + from * 4, (to - from) * 4);
    const header = { op: 'allReduce', call, elements: n, reduce: op };
    this.send(header);
    this.toNext.write(bytesOf(...segment(rank))); // reduce-scatter step 0: this rank's own segment
    await this.receiveHeader(header);
    const scratch = (this.scratch ??= new Float32Array(CHUNK_FLOATS));
    const scratchBytes = new Uint8Array(scratch.buffer);
    // Reduce-scatter: what arrives at step s is added in and becomes what this rank sends at step s + 1.
    for (let step = 0; step < worldSize - 1; step++) {
      const [from, to] = segment(mod(rank - 1 - step, worldSize));
      const final = step === worldSize - 2; // the segment this rank owns: its sum is complete here
      for (let start = from; start < to; start += CHUNK_FLOATS) {
        const end = Math.min(to, start + CHUNK_FLOATS);
        this.waitFor(`data from rank ${this.previous} (reduce-scatter step ${step + 1} of ${worldSize - 1})`, this.previous);
        await this.fromPrevious.readInto(scratchBytes.subarray(0, (end - start) * 4));
        if (final && op === 'avg') addAndDivide(data, start, scratch, end - start, worldSize);
        else add(data, start, scratch, end - start);
        this.toNext.write(bytesOf(start, end)); // the next step's send, or (final) all-gather step 0
      }
    }
    // All-gather: final segments land straight in `data` and are passed on, bits untouched.
    for (let step = 0; step < worldSize - 1; step++) {
      const [from, to] = segment(mod(rank - step, worldSize));
      const forward = step < worldSize - 2;
      for (let start = from; start < to; start += CHUNK_FLOATS) {
        const end = Math.min(to, start + CHUNK_FLOATS);
        this.waitFor(`data from rank ${this.previous} (all-gather step ${step + 1} of ${worldSize - 1})`, this.previous);
        await this.fromPrevious.readInto(bytesOf(start, end));
        if (forward) this.toNext.write(bytesOf(start, end));
      }
    }
    this.waitFor(`rank ${this.next} to take the last data`, this.next);
    await this.toNext.drained(); // the caller may change `data` once this resolves
  }

  /** Streams `bytes` from the root around the ring; returns the bytes (allocated here where `bytes` is null). */
  private async broadcastBytes(header: Message & { root: number; bytes: number | undefined }, bytes: Uint8Array | null): Promise<Uint8Array> {
    const { rank, worldSize } = this;
    if (rank === header.root) {
      this.send(header);
      this.toNext.write(bytes!);
      this.waitFor(`rank ${this.next} to take the data`, this.next);
      await this.toNext.drained();
      return bytes!;
    }
    const received = await this.receiveHeader(header);
    const target = bytes ?? new Uint8Array(received.bytes as number);
    const forward = mod(rank - header.root, worldSize) < worldSize - 1; // the rank before the root ends the chain
    if (forward) this.send(received);
    for (let start = 0; start < target.length; start += CHUNK_BYTES) {
      const chunk = target.subarray(start, Math.min(target.length, start + CHUNK_BYTES));
      this.waitFor(`data from rank ${this.previous}`, this.previous);
      await this.fromPrevious.readInto(chunk);
      if (forward) this.toNext.write(chunk);
    }
    this.waitFor(`rank ${this.next} to take the data`, this.next);
    await this.toNext.drained();
    return target;
  }

  private send(header: Message): void {
    this.toNext.writeMessage({ type: 'op', ...header });
  }

  /** Reads the previous rank's header and checks it is the same call as this rank's (fields left undefined match anything). */
  private async receiveHeader(expected: Message): Promise<Message> {
    this.waitFor(`rank ${this.previous} to make the same call`, this.previous);
    const got = (await this.fromPrevious.readMessage()) as Message;
    const same = got?.type === 'op' && Object.entries(expected).every(([key, value]) => value === undefined || got[key] === value);
    if (!same) {
      throw new CollectiveError(
        `collectives out of step: rank ${this.rank} called ${describeHeader({ type: 'op', ...expected })}, but rank ${this.previous} called ` +
          `${describeHeader(got)} (every rank must call the same collectives, in the same order, with the same sizes)`,
        'mismatch',
        this.previous,
      );
    }
    return got;
  }

  // --- calls, failures ------------------------------------------------------------------------------------------

  /** Runs one call after the previous ones, bounded by the timeout; any failure breaks the collective for good. */
  private run<T>(name: string, details: string, body: (call: number) => Promise<T>): Promise<T> {
    if (this.closeRequested) return Promise.reject(new CollectiveError(`${name}: rank ${this.rank}'s collective is closed`, 'closed'));
    const result = this.queue.then(async () => {
      if (this.failure) throw this.failure;
      const call = ++this.calls;
      const what = `${name} #${call}${details ? ` (${details})` : ''}`;
      if (this.left.size > 0) {
        const gone = Math.min(...this.left);
        throw this.fail(new CollectiveError(`rank ${gone} has left the group (closed its collective), so rank ${this.rank}'s ${what} cannot complete`, 'left', gone));
      }
      const timer = setTimeout(() => {
        const seconds = Math.round(this.timeoutMs / 100) / 10;
        this.fail(
          new CollectiveError(
            `${what} timed out on rank ${this.rank} after ${seconds} s, waiting for ${this.waitingFor} ` +
              `(a rank is stuck, or the ranks call different collectives; WEBTRAINER_DIST_TIMEOUT sets the limit in seconds)`,
            'timeout',
            this.waitingOn,
          ),
        );
      }, this.timeoutMs);
      try {
        return await body(call);
      } catch (error) {
        throw await this.explain(error, what);
      } finally {
        clearTimeout(timer);
        this.waitingFor = '';
        this.waitingOn = undefined;
      }
    });
    this.queue = result.catch(() => {});
    return result;
  }

  private waitFor(what: string, rank: number): void {
    this.waitingFor = what;
    this.waitingOn = rank;
  }

  /** Turns what broke a call into the collective's failure, naming the rank responsible where it can be known. */
  private async explain(error: unknown, what: string): Promise<CollectiveError> {
    if (this.failure) return this.failure;
    if (error instanceof CollectiveError) return this.fail(error);
    if (error instanceof LinkClosedError || error instanceof LinkProtocolError) {
      const peer = error instanceof LinkClosedError && error.peer === this.toNext.peer ? this.next : this.previous;
      const leftError = () => new CollectiveError(`rank ${peer} closed its collective while rank ${this.rank} was in ${what}`, 'left', peer);
      if (this.left.has(peer)) return this.fail(leftError());
      // A ring connection closed: rank 0 names the rank that died (it may not be this neighbour), or says that the
      // neighbour left, within moments.
      await this.failureOrTimeout(VERDICT_GRACE_MS, () => this.left.has(peer));
      if (this.failure) return this.failure;
      if (this.left.has(peer)) return this.fail(leftError());
      return this.fail(new CollectiveError(`rank ${peer} disconnected during rank ${this.rank}'s ${what}: ${error.message}`, 'peer-lost', peer));
    }
    return this.fail(new CollectiveError(`${what} failed on rank ${this.rank}: ${error instanceof Error ? error.message : String(error)}`, 'peer-lost'));
  }

  /** Records the first failure, tells the other ranks (through rank 0), and drops the ring. */
  private fail(error: CollectiveError): CollectiveError {
    if (this.failure) return this.failure;
    this.failure = error;
    const notice = { type: 'abort', reason: error.message, kind: error.kind, failedRank: error.failedRank };
    for (const link of this.star.filter(Boolean)) {
      if (!link.closed) link.writeMessage(notice);
      link.close(); // after the notice has gone out
    }
    this.toNext.destroy();
    this.fromPrevious.destroy();
    for (const wake of this.failureWaiters.splice(0)) wake();
    return error;
  }

  /** Waits up to `ms` for a failure to be recorded or `settled()` to hold (checked on each star message). */
  private failureOrTimeout(ms: number, settled: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const wake = () => {
        done = true;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.failureWaiters.push(wake);
      this.starListeners.push(() => done || (settled() && (wake(), true)));
    });
  }

  /** Reads rank 0's (or rank k's) star messages for as long as the connection lives. */
  private async watchStar(link: Link, peer: number): Promise<void> {
    for (;;) {
      let message: Message;
      try {
        message = (await link.readMessage()) as Message;
      } catch (error) {
        if (this.closed || this.failure || this.left.has(peer)) return;
        const reason = error instanceof LinkClosedError ? error.reason : (error as Error).message;
        this.fail(new CollectiveError(`rank ${peer} disconnected: it exited or was killed, or the network failed (rank ${this.rank}'s connection to it ${reason})`, 'peer-lost', peer));
        return;
      }
      if (message?.type === 'abort') {
        const failedRank = typeof message.failedRank === 'number' ? message.failedRank : undefined;
        this.fail(new CollectiveError(String(message.reason), (message.kind as CollectiveFailureKind) ?? 'peer-lost', failedRank));
      } else if (message?.type === 'bye' || message?.type === 'left') {
        const gone = message.type === 'bye' ? peer : (message.rank as number);
        this.left.add(gone);
        if (this.rank === 0) for (const other of this.star) if (other && other !== link && !other.closed) other.writeMessage({ type: 'left', rank: gone });
      }
      this.starListeners = this.starListeners.filter((listener) => !listener());
    }
  }
}

// The reductions, each element a float32 addition (a float64 sum of two float32s rounds to the same float32).
// Unrolled by four over a subarray: about 1.7× the plain loop's speed in V8 (bench/allreduce.ts's machine).
function add(data: Float32Array, offset: number, chunk: Float32Array, count: number): void {
  const d = data.subarray(offset, offset + count);
  let i = 0;
  for (; i + 3 < count; i += 4) {
    d[i] += chunk[i];
    d[i + 1] += chunk[i + 1];
    d[i + 2] += chunk[i + 2];
    d[i + 3] += chunk[i + 3];
  }
  for (; i < count; i++) d[i] += chunk[i];
}

/** The float32 sum, then divided by `divisor` (two roundings: a float32 sum, then a float32 division). */
function addAndDivide(data: Float32Array, offset: number, chunk: Float32Array, count: number, divisor: number): void {
  const d = data.subarray(offset, offset + count);
  for (let i = 0; i < count; i++) d[i] = Math.fround(d[i] + chunk[i]) / divisor;
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

function describeBytes(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${bytes} bytes`;
}

function describeHeader(header: Message | null | undefined): string {
  if (header?.type !== 'op') return `nothing (it sent a '${String(header?.type)}' message)`;
  const call = ` as call #${String(header.call)}`;
  switch (header.op) {
    case 'allReduce':
      return `allReduce of ${String(header.elements)} floats (${String(header.reduce)})${call}`;
    case 'broadcast':
      return `broadcast of ${String(header.bytes)} bytes from rank ${String(header.root)}${call}`;
    case 'broadcastObject':
      return `broadcastObject from rank ${String(header.root)}${call}`;
    case 'barrier':
      return `barrier${call} (${String(header.phase)})`;
    default:
      return `'${String(header.op)}'${call}`;
  }
}
