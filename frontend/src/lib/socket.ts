/**
 * NotifierClient: the tab's single WebSocket to the notifier (issue 5 contract).
 *
 * - `register(id)` records the id as pending and sends `registerImage` (now if open, else on open).
 * - On any unexpected close (1001 "going away" included) it reconnects with capped exponential
 *   backoff with jitter, and re-registers every pending (non-terminal) id after the reconnect.
 * - Events are deduplicated: a terminal event (which may arrive twice) is emitted once per image,
 *   and a status event is emitted only when it moves the image forward.
 * - With `auth`: the first frame on every socket is `{"action":"authenticate","token"}`; the state is
 *   `connected` (and registrations are sent) only once the server answered `authenticated`. After a
 *   token refresh `reauthenticate(token)` sends a fresh `authenticate` on the open socket. A
 *   `token_expired` close (4001) or an `unauthenticated` answer gets a refreshed token and an
 *   immediate retry; when no token can be had (signed out) the client closes for good.
 * - `imageDeleted` is emitted once per image; the image gets no further events.
 */
import { isImageStatus, STATUS_RANK, type ImageStatus, type ServerError, type Variants } from './types';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'closed';

export type NotifierEvent =
  | { type: 'connection'; state: ConnectionState }
  | { type: 'registered'; imageId: string }
  | { type: 'status'; imageId: string; status: ImageStatus }
  | { type: 'imageProcessed'; imageId: string; status: 'COMPLETED'; variants: Variants | null }
  | { type: 'imageFailed'; imageId: string; status: 'FAILED'; error: ServerError }
  | { type: 'error'; code: string; message: string; imageId?: string }
  | { type: 'authenticated'; userId: string | null }
  | { type: 'imageDeleted'; imageId: string };

export type NotifierListener = (event: NotifierEvent) => void;

/** The subset of the browser WebSocket we use. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketCtor = new (url: string) => WebSocketLike;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
}

/** Where the socket gets its token (the `AuthClient`); same shape as api.ts's `TokenSource`. */
export interface SocketAuth {
  readonly accessToken: string | null;
  refreshAfterReject(rejected: string): Promise<string | null>;
}

/** Close code the notifier uses when the token expired without a fresh `authenticate`. */
export const CLOSE_TOKEN_EXPIRED = 4001;
const AUTH_ERROR_CODES = new Set(['unauthenticated', 'token_expired', 'invalid_token']);
/** Consecutive authentication refusals (without an `authenticated` between) before backing off. */
const MAX_AUTH_RETRIES = 2;

export interface NotifierOptions {
  url: string;
  /** Authenticate every socket first (the accounts contract). Without it, no `authenticate` frame is sent. */
  auth?: SocketAuth;
  /** Give up on a socket whose `authenticate` got no answer within this (then reconnect with backoff). */
  authTimeoutMs?: number;
  WebSocket?: WebSocketCtor;
  timers?: Timers;
  /** Returns [0, 1); injectable for deterministic jitter in tests. */
  random?: () => number;
  backoff?: Partial<BackoffOptions>;
  /** After this many consecutive failed attempts the state is reported as `offline`. */
  offlineAfterAttempts?: number;
}

const OPEN = 1;
const CONNECTING = 0;

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 15_000, factor: 2 };

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential, capped, with "equal jitter"
 * (half fixed, half random) so that many tabs do not reconnect in lock-step.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const exp = Math.min(opts.maxMs, opts.initialMs * Math.pow(opts.factor, Math.max(0, attempt)));
  const half = exp / 2;
  return Math.round(half + random() * half);
}

/** ws(s)://host/ws on the page's own origin. */
export function notifierUrl(loc: { protocol: string; host: string } = window.location, path = '/ws'): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}${path}`;
}

export class NotifierClient {
  private readonly url: string;
  private readonly WS: WebSocketCtor;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly backoff: BackoffOptions;
  private readonly offlineAfter: number;
  private readonly auth: SocketAuth | undefined;
  private readonly authTimeoutMs: number;

  private authed = false;
  private sentToken: string | null = null;
  private authFailures = 0;
  private authTimer: unknown = null;
  private deleted = new Set<string>();
  private ws: WebSocketLike | null = null;
  private listeners = new Set<NotifierListener>();
  private pending = new Set<string>();
  private lastStatus = new Map<string, ImageStatus>();
  private terminal = new Set<string>();
  private reconnectTimer: unknown = null;
  private attempt = 0;
  private stopped = true;
  private _state: ConnectionState = 'closed';

  constructor(options: NotifierOptions) {
    this.url = options.url;
    const globalWs = (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
    const WS = options.WebSocket ?? globalWs;
    if (!WS) throw new Error('No WebSocket implementation available');
    this.WS = WS;
    this.timers = options.timers ?? {
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
    };
    this.random = options.random ?? Math.random;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.offlineAfter = options.offlineAfterAttempts ?? 2;
    this.auth = options.auth;
    this.authTimeoutMs = options.authTimeoutMs ?? 10_000;
  }

  get state(): ConnectionState {
    return this._state;
  }

  get connected(): boolean {
    return this._state === 'connected';
  }

  /** Ids registered and not yet terminal; re-registered after every reconnect. */
  get pendingIds(): string[] {
    return [...this.pending];
  }

  on(listener: NotifierListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  connect(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.setState('connecting');
    this.open();
  }

  /** Close for good (no reconnect). */
  close(): void {
    this.stopped = true;
    if (this.reconnectTimer !== null) {
      this.timers.clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    this.drop(1000, 'client closing');
    this.setState('closed');
  }

  /** Forget every registration and dedup record (a different user signs in). */
  reset(): void {
    this.pending.clear();
    this.lastStatus.clear();
    this.terminal.clear();
    this.deleted.clear();
  }

  /** The token was refreshed: tell the open socket (the server would otherwise close it with 4001). */
  reauthenticate(token: string): void {
    const ws = this.ws;
    if (!this.auth || !ws || ws.readyState !== OPEN) return;
    this.sendAuth(ws, token);
  }

  /** Detach and close the current socket, if any, without triggering a reconnect. */
  private drop(code: number, reason: string): void {
    this.clearAuthTimer();
    this.authed = false;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onclose = ws.onerror = ws.onmessage = null;
      if (ws.readyState === OPEN || ws.readyState === CONNECTING) ws.close(code, reason);
    }
  }

  private clearAuthTimer(): void {
    if (this.authTimer !== null) {
      this.timers.clearTimeout(this.authTimer);
      this.authTimer = null;
    }
  }

  private sendAuth(ws: WebSocketLike, token: string): void {
    this.sentToken = token;
    try {
      ws.send(JSON.stringify({ action: 'authenticate', token }));
    } catch {
      // The close event that follows handles it.
    }
  }

  /** A token to (re)authenticate with: the current one, or a refreshed one after `rejected` was refused. */
  private withToken(rejected: string | null, then: (token: string) => void): void {
    const auth = this.auth;
    if (!auth) return;
    const current = auth.accessToken;
    const p = rejected === null && current ? Promise.resolve<string | null>(current) : auth.refreshAfterReject(rejected ?? '');
    p.then(
      (token) => {
        if (this.stopped) return;
        if (!token) {
          // Signed out: nothing to authenticate with.
          this.close();
          return;
        }
        then(token);
      },
      () => {
        // Transient refresh failure: retry the whole connection later.
        if (this.stopped) return;
        this.drop(1000, 'no token');
        this.scheduleReconnect();
      },
    );
  }

  /** The server refused our token (error frame or 4001): refresh and retry, a bounded number of times. */
  private authRejected(ws: WebSocketLike | null): void {
    this.authFailures += 1;
    if (this.authFailures > MAX_AUTH_RETRIES) {
      this.emit({ type: 'error', code: 'unauthenticated', message: 'The live-status connection refused the sign-in; retrying later.' });
      this.drop(1000, 'authentication refused');
      this.scheduleReconnect();
      return;
    }
    const rejected = this.sentToken ?? '';
    this.withToken(rejected, (token) => {
      if (ws && this.ws === ws && ws.readyState === OPEN) this.sendAuth(ws, token);
      else if (!this.ws && this.reconnectTimer === null) this.open();
    });
  }

  register(imageId: string): void {
    if (this.terminal.has(imageId)) return;
    this.pending.add(imageId);
    this.send({ action: 'registerImage', imageId });
  }

  unregister(imageId: string): void {
    const had = this.pending.delete(imageId);
    if (had) this.send({ action: 'unregisterImage', imageId });
  }

  private send(msg: object): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return false;
    if (this.auth && !this.authed) return false; // sent on `authenticated`
    try {
      ws.send(JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  private emit(event: NotifierEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        // A listener bug must not kill the socket; still make it visible.
        console.error('NotifierClient listener failed', err);
      }
    }
  }

  private setState(state: ConnectionState): void {
    if (state === this._state) return;
    this._state = state;
    this.emit({ type: 'connection', state });
  }

  private open(): void {
    let ws: WebSocketLike;
    try {
      ws = new this.WS(this.url);
    } catch (err) {
      this.emit({
        type: 'error',
        code: 'socket_error',
        message: `Could not open the live-status connection: ${err instanceof Error ? err.message : String(err)}`,
      });
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.authed = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      if (!this.auth) {
        this.attempt = 0;
        this.setState('connected');
        for (const id of this.pending) this.send({ action: 'registerImage', imageId: id });
        return;
      }
      // Authenticate first; `connected` and the registrations wait for `authenticated`.
      this.clearAuthTimer();
      this.authTimer = this.timers.setTimeout(() => {
        this.authTimer = null;
        if (this.ws !== ws || this.authed || this.stopped) return;
        this.emit({ type: 'error', code: 'auth_timeout', message: 'The live-status connection did not confirm the sign-in in time.' });
        this.drop(1000, 'authentication timeout');
        this.scheduleReconnect();
      }, this.authTimeoutMs);
      this.withToken(null, (token) => {
        if (this.ws === ws && ws.readyState === OPEN) this.sendAuth(ws, token);
      });
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.handleMessage(ev.data);
    };
    ws.onerror = () => {
      // A close event always follows; reconnect is handled there.
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.authed = false;
      this.clearAuthTimer();
      if (this.stopped) return;
      if (ev.code === CLOSE_TOKEN_EXPIRED && this.auth) {
        // token_expired: refresh and reconnect at once (bounded; then the usual backoff).
        this.setState('reconnecting');
        this.authRejected(null);
        return;
      }
      // 1001 = the replica is going away: reconnect promptly (to another replica).
      if (ev.code === 1001) this.attempt = 0;
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer !== null) return;
    const delay = backoffDelay(this.attempt, this.backoff, this.random);
    this.setState(this.attempt >= this.offlineAfter ? 'offline' : 'reconnecting');
    this.attempt += 1;
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) this.open();
    }, delay);
  }

  private handleMessage(data: unknown): void {
    if (typeof data !== 'string') {
      this.emit({ type: 'error', code: 'bad_frame', message: 'The notifier sent a binary frame.' });
      return;
    }
    let msg: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(data);
      if (!parsed || typeof parsed !== 'object') throw new Error('not an object');
      msg = parsed as Record<string, unknown>;
    } catch {
      this.emit({ type: 'error', code: 'bad_frame', message: 'The notifier sent a message that is not JSON.' });
      return;
    }
    const imageId = typeof msg.imageId === 'string' ? msg.imageId : undefined;
    switch (msg.type) {
      case 'authenticated': {
        const first = !this.authed;
        this.authed = true;
        this.authFailures = 0;
        this.clearAuthTimer();
        if (first) {
          this.attempt = 0;
          this.setState('connected');
          for (const id of this.pending) this.send({ action: 'registerImage', imageId: id });
        }
        this.emit({ type: 'authenticated', userId: typeof msg.userId === 'string' ? msg.userId : null });
        return;
      }
      case 'imageDeleted': {
        if (!imageId || this.deleted.has(imageId)) return;
        this.deleted.add(imageId);
        this.terminal.add(imageId);
        this.lastStatus.delete(imageId);
        this.pending.delete(imageId);
        this.emit({ type: 'imageDeleted', imageId });
        return;
      }
      case 'registered':
        if (imageId) this.emit({ type: 'registered', imageId });
        return;
      case 'status': {
        if (!imageId || !isImageStatus(msg.status)) return;
        if (this.terminal.has(imageId)) return;
        const prev = this.lastStatus.get(imageId);
        if (prev && STATUS_RANK[msg.status] <= STATUS_RANK[prev]) return; // duplicate or backwards
        if (msg.status === 'COMPLETED' || msg.status === 'FAILED') return; // terminal comes as its own event
        this.lastStatus.set(imageId, msg.status);
        this.emit({ type: 'status', imageId, status: msg.status });
        return;
      }
      case 'imageProcessed':
      case 'imageFailed': {
        if (!imageId) return;
        if (this.terminal.has(imageId)) return; // delivered twice: dedup
        this.terminal.add(imageId);
        this.lastStatus.delete(imageId);
        if (this.pending.delete(imageId)) this.send({ action: 'unregisterImage', imageId });
        if (msg.type === 'imageProcessed') {
          const variants = msg.variants && typeof msg.variants === 'object' ? (msg.variants as Variants) : null;
          this.emit({ type: 'imageProcessed', imageId, status: 'COMPLETED', variants });
        } else {
          const e = (msg.error && typeof msg.error === 'object' ? msg.error : {}) as Record<string, unknown>;
          this.emit({
            type: 'imageFailed',
            imageId,
            status: 'FAILED',
            error: {
              code: typeof e.code === 'string' ? e.code : 'processing_failed',
              message: typeof e.message === 'string' ? e.message : 'Processing failed (no reason given).',
            },
          });
        }
        return;
      }
      case 'error':
        if (this.auth && typeof msg.code === 'string' && AUTH_ERROR_CODES.has(msg.code)) {
          // token_expired is followed by a 4001 close, handled there.
          // Until the next `authenticated` nothing is sent, and then every pending id is registered again
          // (a registerImage refused here is not lost).
          this.authed = false;
          if (msg.code !== 'token_expired') this.authRejected(this.ws);
          return;
        }
        this.emit({
          type: 'error',
          code: typeof msg.code === 'string' ? msg.code : 'error',
          message: typeof msg.message === 'string' ? msg.message : 'The notifier reported an error.',
          ...(imageId ? { imageId } : {}),
        });
        return;
      default:
        // Unknown frame types are ignored for forward compatibility.
        return;
    }
  }

  /** Mark an image terminal from another source (the poller) so late socket events are ignored. */
  markTerminal(imageId: string): void {
    if (this.terminal.has(imageId)) return;
    this.terminal.add(imageId);
    this.lastStatus.delete(imageId);
    if (this.pending.delete(imageId)) this.send({ action: 'unregisterImage', imageId });
  }
}
