/**
 * How the ranks find each other and connect, as torch's TCPStore rendezvous does: rank 0 listens at
 * MASTER_ADDR:MASTER_PORT, the other ranks connect to it (retrying until rank 0 is up) and each says where its ring
 * listener is; rank 0 answers everyone with everyone's address; each rank then connects to the rank before it in
 * the ring and accepts the rank after it. Rank 0 keeps one connection to every rank (the star) for failures and
 * leave notices; the ring carries the data. The call resolves on every rank only once every rank is wired.
 *
 * Strangers: every connection is challenged with a random nonce and must answer with an HMAC-SHA256 of it keyed by
 * the shared token (WEBTRAINER_DIST_TOKEN), so the token never crosses the network; a wrong answer is refused and
 * the rendezvous goes on waiting for the real rank. Listeners bind to the master address (rank 0) or to the
 * interface that reached the master (127.0.0.1 on one machine), never to every interface unless told
 * (WEBTRAINER_DIST_BIND_ADDR), and close once the ring is built. Everything is bounded by the connect timeout.
 * Limits: no encryption (the data is a model's gradients in the clear), and rank 0 does not prove itself to the others.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import { CollectiveError } from './errors.js';
import type { LaunchEnvironment } from './launch-environment.js';
import { Link, LinkClosedError } from './link.js';

const PROTOCOL = 'webtrainer-collective/1';
/** A connection must say who it is within this long (a port scan or a stuck stranger is dropped). */
const HELLO_TIMEOUT_MS = 10_000;
const RETRY_MS = 100;
const CONNECT_ATTEMPT_MS = 10_000;

/** The connections a rank keeps after the rendezvous. */
export interface Wiring {
  /** Rank 0: star[k] is its connection to rank k (star[0] unused). Other ranks: star[0], the connection to rank 0. */
  star: Link[];
  /** To rank (rank + 1) mod worldSize: this rank writes on it. */
  toNext: Link;
  /** From rank (rank − 1) mod worldSize: this rank reads from it. */
  fromPrevious: Link;
}

interface Address {
  host: string;
  port: number;
}

type Message = Record<string, unknown>;

/** Meets the other ranks and builds the ring; worldSize must be ≥ 2. */
export async function rendezvous(env: LaunchEnvironment): Promise<Wiring> {
  const deadline = Date.now() + env.connectTimeoutMs;
  const resources: { close(): void }[] = [];
  const deadlineTimer = new DeadlineTimer(deadline);
  try {
    return env.rank === 0 ? await asRankZero(env, deadlineTimer, resources) : await asOtherRank(env, deadlineTimer, resources);
  } catch (error) {
    for (const resource of resources) resource.close();
    if (error instanceof CollectiveError) throw error;
    throw new CollectiveError(`rendezvous failed on rank ${env.rank}: ${(error as Error).message}`, 'rendezvous');
  } finally {
    deadlineTimer.clear();
  }
}

async function asRankZero(env: LaunchEnvironment, timer: DeadlineTimer, resources: { close(): void }[]): Promise<Wiring> {
  const { worldSize } = env;
  const master = await listen(env.masterAddr, env.masterPort, `MASTER_ADDR:MASTER_PORT (${env.masterAddr}:${env.masterPort})`);
  resources.push(master);
  const ringListener = await listen(env.bindAddr ?? (master.address() as net.AddressInfo).address, 0, 'the ring listener');
  resources.push(ringListener);
  const star: Link[] = [];
  const addresses: Address[] = [];
  addresses[0] = advertised(ringListener, env.masterAddr);
  const rejections: string[] = [];

  // Everyone joins: each connection is challenged, checked and kept under its rank.
  await timer.race(
    new Promise<void>((resolve, reject) => {
      master.on('connection', (socket: net.Socket) => {
        const link = Link.accepted(socket, `a connection from ${socket.remoteAddress}:${socket.remotePort}`);
        resources.push({ close: () => link.destroy() });
        void admit(link, env, 'join', (hello) => {
          const rank = hello.rank as number;
          if (rank < 1 || rank >= worldSize) return `rank ${rank} is not a rank of a group of ${worldSize}`;
          if (hello.worldSize !== worldSize) return `it was launched with WORLD_SIZE ${String(hello.worldSize)}, rank 0 with ${worldSize}`;
          if (star[rank]) return `rank ${rank} has already joined (two processes launched with RANK=${rank}?)`;
          return null;
        }).then(
          (hello) => {
            if (!hello) return;
            const rank = hello.rank as number;
            link.rename(`rank ${rank}`);
            link.onClose((error) =>
              reject(new CollectiveError(`rank ${rank} disconnected during the rendezvous (${error.reason})`, 'peer-lost', rank)),
            );
            star[rank] = link;
            const host = String(hello.host);
            addresses[rank] = { host: isUnspecified(host) ? (link.remoteAddress ?? host) : host, port: hello.port as number };
            if (star.filter(Boolean).length === worldSize - 1) resolve();
          },
          (rejection: string) => rejections.push(rejection),
        );
      });
    }),
    () => {
      const missing = range(1, worldSize).filter((rank) => !star[rank]);
      const refused = rejections.length > 0 ? `; ${rejections.length} connection(s) refused, the last: ${rejections.at(-1)}` : '';
      return new CollectiveError(
        `rendezvous at ${env.masterAddr}:${env.masterPort} timed out after ${seconds(env.connectTimeoutMs)}: ` +
          `rank${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${worldSize} did not join${refused}`,
        'timeout',
        missing[0],
      );
    },
  );
  master.close(); // nobody else may join
  const others = range(1, worldSize).map((rank) => star[rank]);
  try {
    for (const link of others) link.writeMessage({ type: 'welcome', addresses });
    // Rank 0 wires its own ring links while the others report theirs.
    const readies = others.map(async (link) => expect(await link.readMessage(), 'ready', link.peer));
    const ring = await timer.race(Promise.all([wireRing(env, addresses, ringListener, timer, resources), ...readies]).then(([wiring]) => wiring), () =>
      new CollectiveError(`the ranks did not finish connecting their ring within ${seconds(env.connectTimeoutMs)}`, 'timeout'),
    );
    for (const link of others) link.writeMessage({ type: 'start' });
    ringListener.close();
    return { star, ...ring };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    for (const link of others) if (!link.closed) link.writeMessage({ type: 'abort', reason });
    throw error;
  }
}

async function asOtherRank(env: LaunchEnvironment, timer: DeadlineTimer, resources: { close(): void }[]): Promise<Wiring> {
  const where = `${env.masterAddr}:${env.masterPort}`;
  const master = await connectWithRetry(env.masterAddr, env.masterPort, 'rank 0', timer, `rank 0 at MASTER_ADDR:MASTER_PORT (${where})`);
  resources.push({ close: () => master.destroy() });
  const challenge = (await timer.race(master.readMessage(), () => timeoutError(env, `rank 0 at ${where} did not answer`))) as Message;
  if (challenge?.type !== 'challenge' || challenge.protocol !== PROTOCOL) {
    throw new CollectiveError(`${where} is not a webtrainer rank 0 (another program listens on MASTER_PORT?)`, 'rendezvous');
  }
  const ringListener = await listen(env.bindAddr ?? master.localAddress ?? '127.0.0.1', 0, 'the ring listener');
  resources.push(ringListener);
  const own = ringListener.address() as net.AddressInfo;
  const joinProof = proof(env.token, 'join', String(challenge.nonce), env.rank);
  master.writeMessage({ type: 'hello', rank: env.rank, worldSize: env.worldSize, proof: joinProof, host: own.address, port: own.port });
  const welcome = await timer.race(master.readMessage(), () => timeoutError(env, `rank 0 at ${where} did not hear from every rank`));
  const addresses = expect(welcome, 'welcome', 'rank 0').addresses as Address[];
  // Rank 0's next word is 'start' (after every rank is ready) or 'abort': listen for it while wiring the ring.
  const answer = master.readMessage();
  const aborted = answer.then((message) => expect(message, 'none before ready', 'rank 0'));
  aborted.catch(() => {});
  const ring = await Promise.race([wireRing(env, addresses, ringListener, timer, resources), aborted as Promise<never>]);
  ringListener.close();
  master.writeMessage({ type: 'ready' });
  expect(await timer.race(answer, () => timeoutError(env, 'rank 0 did not start the group')), 'start', 'rank 0');
  return { star: [master], ...ring };
}

/** Connects to the previous rank's listener and accepts the next rank's connection. */
async function wireRing(
  env: LaunchEnvironment,
  addresses: Address[],
  listener: net.Server,
  timer: DeadlineTimer,
  resources: { close(): void }[],
): Promise<Pick<Wiring, 'toNext' | 'fromPrevious'>> {
  const next = (env.rank + 1) % env.worldSize;
  const previous = (env.rank - 1 + env.worldSize) % env.worldSize;
  const accepted = new Promise<Link>((resolve) => {
    let found = false;
    listener.on('connection', (socket: net.Socket) => {
      const link = Link.accepted(socket, `a connection from ${socket.remoteAddress}:${socket.remotePort}`);
      resources.push({ close: () => link.destroy() });
      const check = (hello: Message) =>
        found ? 'the ring is already connected' : hello.rank !== next ? `rank ${String(hello.rank)} is not rank ${env.rank}'s successor` : null;
      void admit(link, env, 'ring', check).then(
        (hello) => {
          if (!hello || found) return;
          found = true;
          resolve(link.rename(`rank ${next}`));
        },
        () => {},
      );
    });
  });
  const connected = (async () => {
    const { host, port } = addresses[previous];
    const link = await connectWithRetry(host, port, `rank ${previous}`, timer, `rank ${previous}'s ring listener at ${host}:${port}`);
    resources.push({ close: () => link.destroy() });
    const challenge = (await link.readMessage()) as Message;
    if (challenge?.type !== 'challenge') {
      throw new CollectiveError(`rank ${previous}'s ring listener at ${host}:${port} answered with something else`, 'rendezvous', previous);
    }
    const ringProof = proof(env.token, 'ring', String(challenge.nonce), env.rank);
    link.writeMessage({ type: 'hello', rank: env.rank, worldSize: env.worldSize, proof: ringProof });
    expect(await link.readMessage(), 'accepted', `rank ${previous}`);
    return link;
  })();
  const [toNext, fromPrevious] = await timer.race(Promise.all([accepted, connected]), () =>
    timeoutError(env, `the ring did not connect (rank ${previous} → ${env.rank} → ${next})`),
  );
  return { toNext, fromPrevious };
}

/**
 * Challenges an accepted connection and checks its answer: resolves to its hello message, to null for a connection
 * dropped silently (no answer, garbage), or rejects with the reason it was refused (sent to it too).
 */
async function admit(
  link: Link,
  env: LaunchEnvironment,
  purpose: 'join' | 'ring',
  check: (hello: Message) => string | null,
): Promise<Message | null> {
  const nonce = randomBytes(16).toString('hex');
  let hello: Message;
  try {
    link.writeMessage({ type: 'challenge', protocol: PROTOCOL, nonce });
    const timeout = setTimeout(() => link.destroy('did not say who it is in time'), HELLO_TIMEOUT_MS);
    hello = (await link.readMessage().finally(() => clearTimeout(timeout))) as Message;
  } catch {
    link.destroy();
    return null;
  }
  const rank = hello?.rank;
  const refusal =
    hello?.type !== 'hello' || !Number.isInteger(rank)
      ? 'not a webtrainer rank'
      : !proofMatches(env.token, purpose, nonce, rank as number, hello.proof)
        ? `wrong token (${link.peer} claiming rank ${String(rank)}: its WEBTRAINER_DIST_TOKEN differs from rank ${env.rank}'s)`
        : check(hello);
  if (link.closed) return null;
  if (refusal === null) {
    if (purpose === 'ring') link.writeMessage({ type: 'accepted' });
    return hello;
  }
  link.writeMessage({ type: 'rejected', reason: refusal });
  link.close();
  throw refusal;
}

function proof(token: string, purpose: string, nonce: string, rank: number): string {
  return createHmac('sha256', token).update(`${PROTOCOL}|${purpose}|${nonce}|${rank}`).digest('hex');
}

function proofMatches(token: string, purpose: string, nonce: string, rank: number, given: unknown): boolean {
  const expected = Buffer.from(proof(token, purpose, nonce, rank), 'hex');
  if (typeof given !== 'string' || !/^[0-9a-f]{64}$/.test(given)) return false;
  return timingSafeEqual(expected, Buffer.from(given, 'hex'));
}

/** Checks a message's type; a 'rejected' or 'abort' answer becomes the error it reports. */
function expect(message: unknown, type: string, from: string): Message {
  const m = message as Message;
  if (m?.type === type) return m;
  if (m?.type === 'rejected') throw new CollectiveError(`${from} refused this rank: ${String(m.reason)}`, 'rejected');
  if (m?.type === 'abort') throw new CollectiveError(String(m.reason), 'rendezvous');
  throw new CollectiveError(`${from} sent '${String(m?.type)}' where '${type}' was expected (a different webtrainer version?)`, 'rendezvous');
}

async function connectWithRetry(host: string, port: number, peer: string, timer: DeadlineTimer, what: string): Promise<Link> {
  let lastError = 'no attempt';
  for (;;) {
    const left = timer.deadline - Date.now();
    if (left <= 0) throw new CollectiveError(`could not reach ${what} within the connect timeout (last error: ${lastError})`, 'timeout');
    try {
      return await Link.connect(host, port, peer, Math.min(left, CONNECT_ATTEMPT_MS));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code && !['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) {
        throw new CollectiveError(`could not reach ${what}: ${code}`, 'rendezvous');
      }
      lastError = code ?? (error instanceof LinkClosedError ? error.reason : String(error));
      await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_MS, Math.max(0, timer.deadline - Date.now()))));
    }
  }
}

function listen(host: string, port: number, what: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why =
        error.code === 'EADDRINUSE'
          ? `port ${port} is in use (another job, or a process left from an earlier one?)`
          : error.code === 'EADDRNOTAVAIL'
            ? `${host} is not an address of this machine`
            : (error.code ?? error.message);
      reject(new CollectiveError(`rank 0 could not listen at ${what}: ${why}`, 'rendezvous'));
    });
    server.listen({ host, port }, () => {
      server.removeAllListeners('error');
      resolve(server);
    });
  });
}

function advertised(server: net.Server, fallbackHost: string): Address {
  const { address, port } = server.address() as net.AddressInfo;
  return { host: isUnspecified(address) ? fallbackHost : address, port };
}

function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

function timeoutError(env: LaunchEnvironment, what: string): CollectiveError {
  return new CollectiveError(`rendezvous timed out on rank ${env.rank} after ${seconds(env.connectTimeoutMs)}: ${what}`, 'timeout');
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** One deadline for the whole rendezvous: `race` fails a wait with the error `onTimeout` makes when it passes. */
class DeadlineTimer {
  private readonly waiters = new Set<() => void>();
  private readonly timer: NodeJS.Timeout;
  constructor(readonly deadline: number) {
    this.timer = setTimeout(() => this.waiters.forEach((fire) => fire()), Math.max(0, deadline - Date.now()));
  }
  race<T>(promise: Promise<T>, onTimeout: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fire = () => reject(onTimeout());
      if (Date.now() >= this.deadline) return fire();
      this.waiters.add(fire);
      promise.then(resolve, reject).finally(() => this.waiters.delete(fire));
    });
  }
  clear(): void {
    clearTimeout(this.timer);
  }
}
