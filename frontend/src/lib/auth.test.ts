import { describe, expect, it, vi } from 'vitest';
import type { FetchLike } from './api';
import { AuthClient, REFRESH_TOKEN_KEY, refreshDelayMs, type AuthEvent, type StorageLike } from './auth';
import { FakeTimers } from '../test/fakes';

/** Let fetch/Response promise chains settle (they take more than a few microtasks). */
async function flushPromises(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 0));
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

class MapStorage implements StorageLike {
  map = new Map<string, string>();
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, v);
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

function tokens(n: number, extra: Record<string, unknown> = {}) {
  return { accessToken: `at-${n}`, idToken: `id-${n}`, refreshToken: `rt-${n}`, expiresIn: 3600, tokenType: 'Bearer', ...extra };
}

function setup(fetchImpl: FetchLike, opts: { stored?: string; storageEvents?: EventTarget | null } = {}) {
  const storage = new MapStorage();
  if (opts.stored) storage.setItem(REFRESH_TOKEN_KEY, opts.stored);
  const timers = new FakeTimers();
  const fetch = vi.fn(fetchImpl);
  const auth = new AuthClient({ fetch, storage, timers, storageEvents: opts.storageEvents ?? null });
  const events: AuthEvent[] = [];
  auth.on((e) => events.push(e));
  auth.start();
  return { auth, storage, timers, fetch, events };
}

function body(init: RequestInit | undefined): unknown {
  return JSON.parse(String(init?.body));
}

describe('refreshDelayMs', () => {
  it('is 60 s before expiry, never before half the lifetime, never under 1 s', () => {
    expect(refreshDelayMs(3600)).toBe(3_540_000);
    expect(refreshDelayMs(300)).toBe(240_000);
    expect(refreshDelayMs(90)).toBe(45_000); // 30 s would be before half of 90 s
    expect(refreshDelayMs(60)).toBe(30_000);
    expect(refreshDelayMs(0)).toBe(1000);
  });
});

describe('AuthClient', () => {
  it('signs in: access token in memory, refresh token stored, signedIn emitted', async () => {
    const { auth, storage, fetch, events } = setup(async () => json(200, tokens(1)));
    expect(auth.status).toBe('signedOut');
    await auth.signIn('ann@example.com', 'pw');
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe('/api/auth/sign-in');
    expect(init?.method).toBe('POST');
    expect(body(init)).toEqual({ email: 'ann@example.com', password: 'pw' });
    expect(auth.accessToken).toBe('at-1');
    expect(auth.status).toBe('signedIn');
    expect(storage.getItem(REFRESH_TOKEN_KEY)).toBe('rt-1');
    expect([...storage.map.keys()]).toEqual([REFRESH_TOKEN_KEY]); // the access token is never stored
    expect(events).toEqual([{ type: 'signedIn' }]);
  });

  it('refreshes 60 s before expiry (fake timers) and keeps the old refresh token when none comes back', async () => {
    let n = 1;
    const { auth, storage, timers, fetch, events } = setup(async (url) => {
      if (url === '/api/auth/sign-in') return json(200, tokens(1));
      n += 1;
      return json(200, { accessToken: `at-${n}`, idToken: `id-${n}`, expiresIn: 3600, tokenType: 'Bearer' });
    });
    await auth.signIn('ann@example.com', 'pw');
    expect(timers.pendingDelays).toEqual([3_540_000]);
    timers.advance(3_539_999);
    expect(fetch).toHaveBeenCalledTimes(1);
    timers.advance(1);
    await flushPromises();
    expect(fetch).toHaveBeenCalledTimes(2);
    const [url, init] = fetch.mock.calls[1]!;
    expect(url).toBe('/api/auth/refresh');
    expect(body(init)).toEqual({ refreshToken: 'rt-1' });
    expect(auth.accessToken).toBe('at-2');
    expect(storage.getItem(REFRESH_TOKEN_KEY)).toBe('rt-1');
    expect(events.at(-1)).toEqual({ type: 'refreshed', accessToken: 'at-2' });
    // and the next one is scheduled from the new expiresIn
    expect(timers.pendingDelays).toEqual([3_540_000]);
  });

  it('shares one in-flight refresh between concurrent 401s', async () => {
    let release: (r: Response) => void = () => {};
    const { auth, fetch } = setup(async (url) => {
      if (url === '/api/auth/sign-in') return json(200, tokens(1));
      return new Promise<Response>((resolve) => (release = resolve));
    });
    await auth.signIn('a@b.c', 'pw');
    const calls = [auth.refreshAfterReject('at-1'), auth.refreshAfterReject('at-1'), auth.refresh()];
    await flushPromises();
    expect(fetch.mock.calls.filter((c) => c[0] === '/api/auth/refresh')).toHaveLength(1);
    release(json(200, tokens(2)));
    expect(await Promise.all(calls)).toEqual(['at-2', 'at-2', 'at-2']);
    // A request that was sent with the old token gets the new one without another refresh.
    expect(await auth.refreshAfterReject('at-1')).toBe('at-2');
    expect(fetch.mock.calls.filter((c) => c[0] === '/api/auth/refresh')).toHaveLength(1);
    // The next 401 (with the current token) refreshes again.
    const again = auth.refreshAfterReject('at-2');
    await flushPromises();
    release(json(200, tokens(3)));
    expect(await again).toBe('at-3');
  });

  it('signs out when the server refuses the refresh token', async () => {
    const { auth, storage, fetch, events } = setup(async (url) =>
      url === '/api/auth/sign-in' ? json(200, tokens(1)) : json(401, { error: 'invalid_refresh_token', message: 'Refresh token expired' }),
    );
    await auth.signIn('a@b.c', 'pw');
    const results = await Promise.all([auth.refreshAfterReject('at-1'), auth.refreshAfterReject('at-1')]);
    expect(results).toEqual([null, null]);
    expect(fetch.mock.calls.filter((c) => c[0] === '/api/auth/refresh')).toHaveLength(1);
    expect(auth.status).toBe('signedOut');
    expect(auth.accessToken).toBeNull();
    expect(storage.getItem(REFRESH_TOKEN_KEY)).toBeNull();
    expect(events.at(-1)).toEqual({ type: 'signedOut', reason: 'expired' });
    // Once signed out, a late 401 does not try again.
    expect(await auth.refreshAfterReject('at-1')).toBeNull();
  });

  it('keeps the session on a transient refresh failure and retries later', async () => {
    let fail = true;
    const { auth, timers, events } = setup(async (url) => {
      if (url === '/api/auth/sign-in') return json(200, tokens(1, { expiresIn: 120 }));
      if (fail) throw new TypeError('Failed to fetch');
      return json(200, tokens(2));
    });
    await auth.signIn('a@b.c', 'pw');
    expect(timers.pendingDelays).toEqual([60_000]);
    timers.advance(60_000);
    await flushPromises();
    expect(auth.status).toBe('signedIn');
    expect(auth.accessToken).toBe('at-1');
    expect(events.some((e) => e.type === 'signedOut')).toBe(false);
    expect(timers.pendingDelays).toEqual([30_000]);
    fail = false;
    timers.advance(30_000);
    await flushPromises();
    expect(auth.accessToken).toBe('at-2');
    await expect(
      (async () => {
        fail = true;
        return auth.refresh();
      })(),
    ).rejects.toMatchObject({ code: 'network_error' });
  });

  it('restores a stored session on start', async () => {
    const { auth, fetch, events } = setup(async () => json(200, tokens(5)), { stored: 'rt-old' });
    expect(auth.status).toBe('restoring');
    await flushPromises();
    expect(body(fetch.mock.calls[0]![1])).toEqual({ refreshToken: 'rt-old' });
    expect(auth.status).toBe('signedIn');
    expect(auth.accessToken).toBe('at-5');
    expect(events).toEqual([{ type: 'signedIn' }]);
  });

  it('a stored session the server refuses ends signed out; an unreachable server is retried', async () => {
    const refused = setup(async () => json(401, { error: 'invalid_refresh_token', message: 'revoked' }), { stored: 'rt-old' });
    await flushPromises();
    expect(refused.auth.status).toBe('signedOut');
    expect(refused.storage.getItem(REFRESH_TOKEN_KEY)).toBeNull();
    expect(refused.events).toEqual([{ type: 'signedOut', reason: 'expired' }]);

    let down = true;
    const offline = setup(
      async () => {
        if (down) throw new TypeError('Failed to fetch');
        return json(200, tokens(9));
      },
      { stored: 'rt-old' },
    );
    await flushPromises();
    expect(offline.auth.status).toBe('restoring');
    expect(offline.storage.getItem(REFRESH_TOKEN_KEY)).toBe('rt-old');
    expect(offline.timers.pendingDelays).toEqual([5000]);
    down = false;
    offline.timers.advance(5000);
    await flushPromises();
    expect(offline.auth.status).toBe('signedIn');
    expect(offline.auth.accessToken).toBe('at-9');
  });

  it('a refresh answered after sign-out does not revive the session', async () => {
    let release: (r: Response) => void = () => {};
    const { auth, storage } = setup(async (url) =>
      url === '/api/auth/sign-in' ? json(200, tokens(1)) : new Promise<Response>((r) => (release = r)),
    );
    await auth.signIn('a@b.c', 'pw');
    const p = auth.refresh();
    await flushPromises();
    auth.signOut();
    release(json(200, tokens(2)));
    expect(await p).toBeNull();
    expect(auth.accessToken).toBeNull();
    expect(auth.status).toBe('signedOut');
    expect(storage.getItem(REFRESH_TOKEN_KEY)).toBeNull();
  });

  it('signs up, confirms, and reports API errors with their code and message', async () => {
    const { auth, fetch } = setup(async (url, init) => {
      const b = body(init) as Record<string, string>;
      if (url === '/api/auth/sign-up' && b.password === 'short') {
        return json(422, { error: 'invalid_password', message: 'At least 12 characters.' });
      }
      if (url === '/api/auth/sign-up') return json(201, { userId: 'u1', confirmed: false });
      if (url === '/api/auth/confirm') return json(200, {});
      return json(429, { error: 'rate_limited', message: 'Slow down' }, { 'Retry-After': '7' });
    });
    await expect(auth.signUp('a@b.c', 'short')).rejects.toMatchObject({ status: 422, code: 'invalid_password', message: 'At least 12 characters.' });
    expect(await auth.signUp('a@b.c', 'long enough pw')).toEqual({ userId: 'u1', confirmed: false });
    await auth.confirm('a@b.c', '123456');
    expect(body(fetch.mock.calls[2]![1])).toEqual({ email: 'a@b.c', code: '123456' });
    await expect(auth.signIn('a@b.c', 'x')).rejects.toMatchObject({ code: 'rate_limited', retryAfter: 7 });
    expect(auth.status).toBe('signedOut');
  });

  it('follows a sign-out in another tab (storage event)', async () => {
    const target = new EventTarget();
    const { auth, events } = setup(async () => json(200, tokens(1)), { storageEvents: target });
    await auth.signIn('a@b.c', 'pw');
    const ev = new Event('storage') as Event & { key: string; newValue: string | null };
    Object.assign(ev, { key: REFRESH_TOKEN_KEY, newValue: null });
    target.dispatchEvent(ev);
    expect(auth.status).toBe('signedOut');
    expect(events.at(-1)).toEqual({ type: 'signedOut', reason: 'elsewhere' });
  });
});
