/**
 * The session: sign-up / confirm / sign-in / refresh / sign-out against the upload-service's `/auth/*`.
 *
 * - The access token lives in memory only (gone on reload; a refresh brings a new one).
 * - The refresh token is kept in `localStorage` under `REFRESH_TOKEN_KEY` so a reload or a new tab stays
 *   signed in (trade-off: see frontend/README.md, "Accounts and tokens").
 * - A refresh is scheduled from `expiresIn`, `REFRESH_LEAD_MS` before expiry (never earlier than half the
 *   token's life). Concurrent callers that got a 401 share one in-flight refresh.
 * - When the server refuses the refresh token the session ends: `signedOut` with reason `expired`.
 *   A refresh that fails for a transient reason (network, 5xx, 429) keeps the session and is retried.
 */
import { ApiError, networkError, readError, readJson, type FetchLike, type TokenSource } from './api';
import type { Timers } from './socket';

export const REFRESH_TOKEN_KEY = 'snapqueue.refreshToken';
/** Refresh this long before the access token expires. */
export const REFRESH_LEAD_MS = 60_000;
/** After a transient refresh failure, try again after this long. */
export const REFRESH_RETRY_MS = 30_000;

export interface TokenSet {
  accessToken: string;
  idToken?: string;
  /** May be absent in a refresh answer: the old one stays valid. */
  refreshToken?: string;
  /** Seconds the access token is valid for. */
  expiresIn: number;
  tokenType?: string;
}

export interface SignUpResult {
  userId: string;
  /** false: the user must `confirm` with the code sent by e-mail before signing in. */
  confirmed: boolean;
}

export type AuthStatus = 'restoring' | 'signedIn' | 'signedOut';
export type SignOutReason = 'user' | 'expired' | 'elsewhere';

export type AuthEvent =
  | { type: 'signedIn' }
  | { type: 'refreshed'; accessToken: string }
  | { type: 'signedOut'; reason: SignOutReason };

export type AuthListener = (event: AuthEvent) => void;

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface AuthOptions {
  baseUrl?: string;
  fetch?: FetchLike;
  /** Where the refresh token is kept; default `window.localStorage` (memory if unavailable). */
  storage?: StorageLike | null;
  timers?: Timers;
  leadMs?: number;
  retryMs?: number;
  /** Follow sign-out / sign-in in other tabs through `storage` events (default: when using localStorage). */
  storageEvents?: EventTarget | null;
}

/** Delay until the scheduled refresh: `leadMs` before expiry, but not before half the lifetime (min 1 s). */
export function refreshDelayMs(expiresInSeconds: number, leadMs: number = REFRESH_LEAD_MS): number {
  const life = Math.max(0, expiresInSeconds * 1000);
  return Math.max(1000, life - leadMs, Math.floor(life / 2));
}

class MemoryStorage implements StorageLike {
  private map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value);
  }
  removeItem(key: string): void {
    this.map.delete(key);
  }
}

function defaultStorage(): StorageLike {
  try {
    const ls = globalThis.localStorage;
    if (ls) {
      const probe = `${REFRESH_TOKEN_KEY}.probe`;
      ls.setItem(probe, '1');
      ls.removeItem(probe);
      return ls;
    }
  } catch {
    // Storage disabled (privacy settings): the session then lasts as long as the tab.
  }
  return new MemoryStorage();
}

/** The server refused the credentials (as opposed to being unreachable or overloaded). */
function isRejection(err: ApiError): boolean {
  return err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429;
}

function isTokenSet(v: unknown): v is TokenSet {
  return !!v && typeof v === 'object' && typeof (v as TokenSet).accessToken === 'string' && (v as TokenSet).accessToken !== '';
}

export class AuthClient implements TokenSource {
  private readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;
  private readonly storage: StorageLike;
  private readonly timers: Timers;
  private readonly leadMs: number;
  private readonly retryMs: number;
  private readonly storageEvents: EventTarget | null;

  private access: string | null = null;
  private idTok: string | null = null;
  private _status: AuthStatus;
  private listeners = new Set<AuthListener>();
  private inflight: Promise<string | null> | null = null;
  private timer: unknown = null;
  /** Bumped on every sign-in / sign-out so that a refresh answered late cannot revive an ended session. */
  private generation = 0;
  private started = false;
  private lastExpiresIn: number | null = null;
  private restoreRetryMs: number;
  /** The refresh token this tab last wrote (to tell another tab's sign-in from our own write). */
  private ownRefresh: string | null = null;
  /** Set when storage refused a write: the refresh token is then kept here, for this tab only. */
  private memRefresh: string | null = null;

  constructor(options: AuthOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '/api').replace(/\/$/, '');
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const usingDefault = options.storage === undefined || options.storage === null;
    this.storage = options.storage ?? defaultStorage();
    this.timers = options.timers ?? {
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
    };
    this.leadMs = options.leadMs ?? REFRESH_LEAD_MS;
    this.retryMs = options.retryMs ?? REFRESH_RETRY_MS;
    this.restoreRetryMs = Math.min(5000, this.retryMs);
    this.storageEvents =
      options.storageEvents !== undefined ? options.storageEvents : usingDefault && typeof window !== 'undefined' ? window : null;
    this._status = this.storedRefreshToken() ? 'restoring' : 'signedOut';
  }

  get status(): AuthStatus {
    return this._status;
  }

  get signedIn(): boolean {
    return this._status === 'signedIn';
  }

  /** The current access token (memory only), or null. */
  get accessToken(): string | null {
    return this.access;
  }

  get idToken(): string | null {
    return this.idTok;
  }

  on(listener: AuthListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Restore a stored session (refresh token → access token) and follow other tabs. Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.storageEvents?.addEventListener('storage', this.onStorage);
    if (this._status === 'restoring' && !this.access) this.restore();
    else if (this._status === 'signedIn' && this.lastExpiresIn !== null) this.schedule(refreshDelayMs(this.lastExpiresIn, this.leadMs));
  }

  /** Stop timers and listeners (the tokens stay). */
  stop(): void {
    this.started = false;
    this.storageEvents?.removeEventListener('storage', this.onStorage);
    this.clearTimer();
  }

  async signUp(email: string, password: string): Promise<SignUpResult> {
    const body = await this.post<SignUpResult>('/auth/sign-up', { email, password });
    return { userId: String(body?.userId ?? ''), confirmed: body?.confirmed !== false };
  }

  async confirm(email: string, code: string): Promise<void> {
    await this.post<unknown>('/auth/confirm', { email, code });
  }

  async signIn(email: string, password: string): Promise<void> {
    const gen = ++this.generation;
    const tokens = await this.post<unknown>('/auth/sign-in', { email, password });
    if (gen !== this.generation) return; // another sign-in / sign-out happened meanwhile
    if (!isTokenSet(tokens)) throw new ApiError(200, 'bad_response', 'The sign-in answer has no access token.');
    this.apply(tokens, null);
    this.setStatus('signedIn');
    this.emit({ type: 'signedIn' });
  }

  /** End the session here (and in other tabs, which see the stored refresh token go). */
  signOut(reason: SignOutReason = 'user'): void {
    this.generation += 1;
    this.access = null;
    this.idTok = null;
    this.lastExpiresIn = null;
    this.inflight = null;
    this.clearTimer();
    if (reason !== 'elsewhere') this.removeStoredRefreshToken();
    else {
      this.ownRefresh = null;
      this.memRefresh = null;
    }
    if (this._status !== 'signedOut') {
      this.setStatus('signedOut');
      this.emit({ type: 'signedOut', reason });
    }
  }

  /**
   * Exchange the refresh token for a new access token. Concurrent calls share one request. Resolves
   * the new token, or null when the session has ended (signed out). Rejects (session kept) on a
   * transient failure.
   */
  refresh(): Promise<string | null> {
    if (this.inflight) return this.inflight;
    const p = this.doRefresh().finally(() => {
      if (this.inflight === p) this.inflight = null;
    });
    this.inflight = p;
    return p;
  }

  refreshAfterReject(rejected: string): Promise<string | null> {
    // Someone else already refreshed since this token was sent: retry with the new one.
    if (this.access && this.access !== rejected) return Promise.resolve(this.access);
    if (this._status === 'signedOut') return Promise.resolve(null);
    return this.refresh();
  }

  // --- internals ---

  private async doRefresh(): Promise<string | null> {
    const gen = this.generation;
    const stored = this.storedRefreshToken();
    if (!stored) {
      this.signOut('expired');
      return null;
    }
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.baseUrl}/auth/refresh`, {
        method: 'POST',
        headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
        body: JSON.stringify({ refreshToken: stored }),
      });
    } catch (err) {
      throw networkError(err);
    }
    if (gen !== this.generation) return this.access;
    if (!res.ok) {
      const err = await readError(res);
      if (gen !== this.generation) return this.access;
      if (isRejection(err)) {
        this.signOut('expired');
        return null;
      }
      throw err;
    }
    const tokens = await readJson<unknown>(res);
    if (gen !== this.generation) return this.access;
    if (!isTokenSet(tokens)) throw new ApiError(res.status, 'bad_response', 'The refresh answer has no access token.');
    this.apply(tokens, stored);
    if (this._status !== 'signedIn') {
      this.setStatus('signedIn');
      this.emit({ type: 'signedIn' });
    } else {
      this.emit({ type: 'refreshed', accessToken: tokens.accessToken });
    }
    return tokens.accessToken;
  }

  private restore(): void {
    this.refresh().then(
      () => {
        this.restoreRetryMs = Math.min(5000, this.retryMs);
      },
      () => {
        // Server unreachable: keep trying with a growing delay; the stored token is kept.
        if (this._status !== 'restoring' || !this.started) return;
        const delay = this.restoreRetryMs;
        this.restoreRetryMs = Math.min(this.retryMs * 2, delay * 2);
        this.schedule(delay, () => this.restore());
      },
    );
  }

  private apply(tokens: TokenSet, previousRefresh: string | null): void {
    this.access = tokens.accessToken;
    this.idTok = typeof tokens.idToken === 'string' ? tokens.idToken : this.idTok;
    const refresh = typeof tokens.refreshToken === 'string' && tokens.refreshToken ? tokens.refreshToken : previousRefresh;
    if (refresh) this.storeRefreshToken(refresh);
    const expiresIn = Number(tokens.expiresIn);
    if (Number.isFinite(expiresIn) && expiresIn > 0) {
      this.lastExpiresIn = expiresIn;
      if (this.started) this.schedule(refreshDelayMs(expiresIn, this.leadMs));
    } else {
      // No lifetime given: rely on the 401 → refresh path only.
      this.lastExpiresIn = null;
      this.clearTimer();
    }
  }

  private schedule(delayMs: number, fn: () => void = () => this.scheduledRefresh()): void {
    this.clearTimer();
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      fn();
    }, delayMs);
  }

  private scheduledRefresh(): void {
    this.refresh().catch(() => {
      if (this._status === 'signedIn' && this.started) this.schedule(this.retryMs);
    });
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      this.timers.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private readonly onStorage = (ev: Event): void => {
    const e = ev as StorageEvent;
    if (e.key !== REFRESH_TOKEN_KEY && e.key !== null) return;
    const value = e.key === null ? null : e.newValue;
    if (!value) {
      if (this._status !== 'signedOut') this.signOut('elsewhere'); // signed out in another tab
      return;
    }
    if (value === this.ownRefresh) return;
    // Another tab signed in (perhaps as someone else): end this session and take that one up.
    if (this._status !== 'signedOut') this.signOut('elsewhere');
    this.setStatus('restoring');
    this.restore();
  };

  private async post<T>(path: string, body: unknown): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method: 'POST',
        headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (err) {
      throw networkError(err);
    }
    if (!res.ok) throw await readError(res);
    return readJson<T>(res);
  }

  private storedRefreshToken(): string | null {
    try {
      return this.storage.getItem(REFRESH_TOKEN_KEY) ?? this.memRefresh;
    } catch {
      return this.memRefresh;
    }
  }

  private storeRefreshToken(token: string): void {
    this.ownRefresh = token;
    try {
      this.storage.setItem(REFRESH_TOKEN_KEY, token);
      this.memRefresh = null;
    } catch {
      // Quota or privacy mode: the session still works until the tab closes.
      this.memRefresh = token;
    }
  }

  private removeStoredRefreshToken(): void {
    this.ownRefresh = null;
    this.memRefresh = null;
    try {
      this.storage.removeItem(REFRESH_TOKEN_KEY);
    } catch {
      // nothing to do
    }
  }

  private setStatus(status: AuthStatus): void {
    this._status = status;
  }

  private emit(event: AuthEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        console.error('AuthClient listener failed', err);
      }
    }
  }
}
