/**
 * One TCP connection between two ranks. Reads are exact: `readInto(target)` fills exactly `target` and never reads
 * past it, so a collective can land a peer's bytes straight in the caller's array (no copy in JavaScript) and the
 * next message stays in the socket. Writes are zero-copy views of the caller's memory; `drained()` says when the
 * kernel has them all, after which the caller may change that memory again. Small control messages are JSON,
 * length-prefixed and padded to 4 bytes (so raw float data that follows stays 4-byte aligned in the stream).
 *
 * Sockets this side opened read with Node's `onread` (into the target itself, up to MAX_READ_BYTES a read); sockets
 * accepted by a server cannot, and read through 'data' events with one copy (they carry control messages and the
 * outgoing side of the ring, whose reads are tiny). Liveness: a peer process that dies has its sockets closed by
 * its operating system, which fails a pending read or write here at once; TCP keepalive (10 s idle, then libuv's
 * 10 probes 1 s apart) catches a machine that vanished without closing them.
 */
import net from 'node:net';

const MAX_READ_BYTES = 4 << 20;
/** A control message larger than this is not from a webtrainer rank. */
const MAX_MESSAGE_BYTES = 1 << 20;
const KEEPALIVE_IDLE_MS = 10_000;
/** How long a gracefully ended socket may take to flush before it is destroyed. */
const END_GRACE_MS = 2_000;
/** 'data' mode: stop reading from the socket while this much is queued and no read is pending. */
const QUEUE_PAUSE_BYTES = 8 << 20;

/** The connection closed or broke; `peer` names the other side ("rank 2"). */
export class LinkClosedError extends Error {
  override name = 'LinkClosedError';
  constructor(
    readonly peer: string,
    readonly reason: string,
  ) {
    super(`connection to ${peer} ${reason}`);
  }
}

/** The peer sent something that is not this protocol. */
export class LinkProtocolError extends Error {
  override name = 'LinkProtocolError';
}

interface PendingRead {
  resolve: () => void;
  reject: (error: Error) => void;
}

export class Link {
  private socket!: net.Socket;
  private readonly userBuffers: boolean;
  // The pending read: `target` is being filled, `filled` bytes so far.
  private target: Uint8Array | null = null;
  private filled = 0;
  private pending: PendingRead | null = null;
  // onread mode: while no read is pending the socket reads one byte at a time into `parking`, and pauses.
  private readonly parking = new Uint8Array(1);
  private readonly parked: number[] = [];
  // 'data' mode: chunks received and not yet read.
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private pendingWrites = 0;
  private drainWaiters: PendingRead[] = [];
  private closedError: LinkClosedError | null = null;
  private closingOnPurpose = false;
  private readonly closeListeners: ((error: LinkClosedError) => void)[] = [];

  private constructor(
    /** Who is at the other end, for messages: "rank 2", "a connection from 10.0.0.5:41234". */
    readonly peer: string,
    userBuffers: boolean,
  ) {
    this.userBuffers = userBuffers;
  }

  /** Opens a connection to `host:port`; rejects on a connection error or after `timeoutMs`. */
  static connect(host: string, port: number, peer: string, timeoutMs: number): Promise<Link> {
    const link = new Link(peer, true);
    return new Promise((resolve, reject) => {
      const socket = net.connect({
        host,
        port,
        onread: { buffer: () => link.nextReadBuffer(), callback: (bytes, buffer) => link.onUserRead(bytes, buffer) },
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new LinkClosedError(peer, `at ${host}:${port}: no answer in ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        link.attach(socket);
        resolve(link);
      });
    });
  }

  /** Wraps a socket a server accepted. */
  static accepted(socket: net.Socket, peer: string): Link {
    const link = new Link(peer, false);
    link.attach(socket);
    return link;
  }

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  /** Whether the connection has closed (on purpose or not). */
  get closed(): boolean {
    return this.closedError !== null;
  }

  /** Names the peer from now on (an accepted connection is anonymous until it says who it is). */
  rename(peer: string): Link {
    (this as { peer: string }).peer = peer;
    return this;
  }

  /** `listener` runs once if the connection closes or breaks, unless close() or destroy() was called here first. */
  onClose(listener: (error: LinkClosedError) => void): void {
    this.closeListeners.push(listener);
  }

  /** Fills exactly `target` with the next bytes from the peer. One read at a time. */
  readInto(target: Uint8Array): Promise<void> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.target) return Promise.reject(new Error(`a read from ${this.peer} is already pending`));
    if (target.length === 0) return Promise.resolve();
    this.target = target;
    this.filled = 0;
    while (this.parked.length > 0 && this.filled < target.length) target[this.filled++] = this.parked.shift()!;
    if (!this.userBuffers) this.pump();
    if (this.filled === target.length) {
      this.target = null;
      return Promise.resolve();
    }
    const done = new Promise<void>((resolve, reject) => (this.pending = { resolve, reject }));
    this.socket.resume();
    return done;
  }

  /** Reads one control message (a JSON value). */
  async readMessage(): Promise<unknown> {
    const prefix = new Uint8Array(4);
    await this.readInto(prefix);
    const length = new DataView(prefix.buffer).getUint32(0, true);
    if (length > MAX_MESSAGE_BYTES) throw new LinkProtocolError(`${this.peer} sent a message of ${length} bytes (not a webtrainer rank?)`);
    const body = new Uint8Array(length);
    await this.readInto(body);
    try {
      return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8'));
    } catch {
      throw new LinkProtocolError(`${this.peer} sent a message that is not JSON (not a webtrainer rank?)`);
    }
  }

  /** Sends one control message. */
  writeMessage(message: unknown): void {
    const json = Buffer.from(JSON.stringify(message), 'utf8');
    const padded = json.length + ((4 - (json.length % 4)) % 4);
    const frame = Buffer.alloc(4 + padded, 0x20); // JSON.parse ignores the trailing spaces
    frame.writeUInt32LE(padded, 0);
    json.copy(frame, 4);
    this.write(frame);
  }

  /** Queues `bytes` (not copied: leave them unchanged until drained()). Throws if the connection has closed. */
  write(bytes: Uint8Array): void {
    if (this.closedError) throw this.closedError;
    if (bytes.length === 0) return;
    this.pendingWrites++;
    this.socket.write(bytes, (error) => {
      this.pendingWrites--;
      if (error) this.fail(`broke while sending (${describe(error)})`);
      else if (this.pendingWrites === 0) for (const waiter of this.drainWaiters.splice(0)) waiter.resolve();
    });
  }

  /**
   * Resolves when the kernel has taken every byte written so far (even if the peer has closed since: a peer that
   * got all it needed may end its side first); rejects if the connection broke before.
   */
  drained(): Promise<void> {
    if (this.pendingWrites === 0) return Promise.resolve();
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  /** Ends the connection after what was written has gone out; the peer sees a clean end. */
  close(): void {
    if (this.closedError) return;
    this.closingOnPurpose = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), END_GRACE_MS).unref();
    this.settle(new LinkClosedError(this.peer, 'was closed by this rank'));
  }

  /** Drops the connection at once. */
  destroy(reason = 'was closed by this rank'): void {
    if (this.closedError) return;
    this.closingOnPurpose = true;
    this.socket.destroy();
    this.settle(new LinkClosedError(this.peer, reason));
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_IDLE_MS);
    socket.unref(); // an open link alone does not keep the process alive; a pending collective's timer does
    if (!this.userBuffers) {
      socket.on('data', (chunk: Buffer) => {
        this.queue.push(chunk);
        this.queuedBytes += chunk.length;
        this.pump();
        if (!this.target && this.queuedBytes > QUEUE_PAUSE_BYTES) socket.pause();
      });
    }
    socket.on('end', () => this.fail('was closed by the other side'));
    socket.on('error', (error) => this.fail(`broke (${describe(error)})`));
    socket.on('close', () => this.fail('closed'));
  }

  // onread mode: where the next read lands. Exactly the rest of the target (so a read never passes its end), or
  // the one-byte parking spot while no read is pending (the socket pauses right after).
  private nextReadBuffer(): Uint8Array {
    const target = this.target;
    if (!target) return this.parking;
    return target.subarray(this.filled, Math.min(target.length, this.filled + MAX_READ_BYTES));
  }

  private onUserRead(bytes: number, buffer: Uint8Array): boolean {
    if (buffer === this.parking) {
      if (this.target) this.target[this.filled++] = buffer[0];
      else this.parked.push(buffer[0]);
    } else {
      this.filled += bytes; // landed in target[filled, filled + bytes)
    }
    if (this.target && this.filled === this.target.length) this.completeRead();
    return this.target !== null; // false pauses the socket until the next readInto
  }

  // 'data' mode: copies queued chunks into the pending target.
  private pump(): void {
    const target = this.target;
    while (target && this.queue.length > 0 && this.filled < target.length) {
      const chunk = this.queue[0];
      const n = Math.min(chunk.length, target.length - this.filled);
      target.set(chunk.subarray(0, n), this.filled);
      this.filled += n;
      this.queuedBytes -= n;
      if (n === chunk.length) this.queue.shift();
      else this.queue[0] = chunk.subarray(n);
    }
    if (target && this.filled === target.length) this.completeRead();
  }

  private completeRead(): void {
    const pending = this.pending;
    this.target = null;
    this.pending = null;
    if (!this.userBuffers && this.queuedBytes > QUEUE_PAUSE_BYTES) this.socket.pause();
    pending?.resolve();
  }

  private fail(reason: string): void {
    if (this.closedError) return;
    this.settle(new LinkClosedError(this.peer, reason));
    this.socket.destroy();
    if (!this.closingOnPurpose) for (const listener of this.closeListeners) listener(this.closedError!);
  }

  private settle(error: LinkClosedError): void {
    this.closedError = error;
    const pending = this.pending;
    this.target = null;
    this.pending = null;
    pending?.reject(error);
    for (const waiter of this.drainWaiters.splice(0)) waiter.reject(error);
  }
}

function describe(error: Error): string {
  return (error as NodeJS.ErrnoException).code ?? error.message;
}
