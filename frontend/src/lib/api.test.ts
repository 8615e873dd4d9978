import { describe, expect, it, vi } from 'vitest';
import { ApiError, parseRetryAfter, SnapQueueApi, toServerError, type FetchLike, type TokenSource } from './api';
import { AuthClient, REFRESH_TOKEN_KEY } from './auth';

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

describe('SnapQueueApi', () => {
  it('POSTs /api/upload-request with the exact body', async () => {
    const fetch = vi.fn<FetchLike>(async () =>
      jsonResponse(201, { imageId: 'i', upload: { url: 'u', fields: {} }, expiresAt: 'e', maxBytes: 10 }),
    );
    const api = new SnapQueueApi({ fetch });
    const t = await api.requestUpload({ filename: 'a.png', contentType: 'image/png', size: 3 });
    expect(t.imageId).toBe('i');
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe('/api/upload-request');
    expect(init?.method).toBe('POST');
    expect(JSON.parse(String(init?.body))).toEqual({ filename: 'a.png', contentType: 'image/png', size: 3 });
  });

  it('throws ApiError with the server code and message', async () => {
    const api = new SnapQueueApi({
      fetch: async () => jsonResponse(415, { error: 'unsupported_content_type', message: 'image/svg+xml is not accepted' }),
    });
    const err = await api.requestUpload({ filename: 'a.svg', contentType: 'image/svg+xml', size: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 415, code: 'unsupported_content_type', message: 'image/svg+xml is not accepted' });
  });

  it('keeps non-JSON error bodies visible', async () => {
    const api = new SnapQueueApi({ fetch: async () => new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' }) });
    const err = await api.getStatus('x').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'http_502' });
    expect((err as Error).message).toContain('Bad Gateway');
  });

  it('maps network failures to ApiError(network_error)', async () => {
    const api = new SnapQueueApi({
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    await expect(api.getImage('x')).rejects.toMatchObject({ code: 'network_error' });
  });

  it('builds the image, status and gallery URLs', async () => {
    const fetch = vi.fn<FetchLike>(async () => jsonResponse(200, { items: [], nextCursor: null }));
    const api = new SnapQueueApi({ fetch });
    await api.getImage('abc');
    await api.getStatus('abc');
    await api.getAllImages({ limit: 24 });
    await api.getAllImages({ limit: 24, cursor: 'c/+=' });
    expect(fetch.mock.calls.map((c) => c[0])).toEqual([
      '/api/image/abc',
      '/api/status/abc',
      '/api/get-all-images?limit=24',
      '/api/get-all-images?limit=24&cursor=c%2F%2B%3D',
    ]);
  });

  it('toServerError handles all kinds of throwables', () => {
    expect(toServerError(new ApiError(400, 'bad', 'Bad thing'))).toEqual({ code: 'bad', message: 'Bad thing' });
    expect(toServerError(new Error('plain'))).toEqual({ code: 'Error', message: 'plain' });
    expect(toServerError('text')).toEqual({ code: 'error', message: 'text' });
  });
});

function headerOf(init: RequestInit | undefined, name: string): string | undefined {
  return (init?.headers as Record<string, string> | undefined)?.[name];
}

/** A token source whose refresh hands out "at-2", "at-3", … */
function fakeTokens(initial: string | null, refreshTo: Array<string | null>) {
  let current = initial;
  const refreshAfterReject = vi.fn(async (_rejected: string) => {
    current = refreshTo.length ? (refreshTo.shift() ?? null) : null;
    return current;
  });
  const source: TokenSource = {
    get accessToken() {
      return current;
    },
    refreshAfterReject,
  };
  return { source, refreshAfterReject };
}

describe('SnapQueueApi with a session', () => {
  it('sends the bearer token on every call when signed in, and none when signed out', async () => {
    const fetch = vi.fn<FetchLike>(async () => jsonResponse(200, { items: [], nextCursor: null }));
    const { source } = fakeTokens('at-1', []);
    await new SnapQueueApi({ fetch, auth: source }).getAllImages();
    expect(headerOf(fetch.mock.calls[0]![1], 'Authorization')).toBe('Bearer at-1');
    await new SnapQueueApi({ fetch, auth: fakeTokens(null, []).source }).getAllImages();
    expect(headerOf(fetch.mock.calls[1]![1], 'Authorization')).toBeUndefined();
  });

  it('401 → refresh → retries once with the new token', async () => {
    const fetch = vi.fn<FetchLike>(async (_url, init) =>
      headerOf(init, 'Authorization') === 'Bearer at-2'
        ? jsonResponse(200, { imageId: 'i', status: 'COMPLETED' })
        : jsonResponse(401, { error: 'unauthenticated', message: 'Token expired' }),
    );
    const { source, refreshAfterReject } = fakeTokens('at-1', ['at-2']);
    const api = new SnapQueueApi({ fetch, auth: source });
    expect(await api.getImage('i')).toMatchObject({ imageId: 'i' });
    expect(refreshAfterReject).toHaveBeenCalledWith('at-1');
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(fetch.mock.calls[1]![0]).toBe('/api/image/i');
  });

  it('retries only once: a second 401 is thrown', async () => {
    const fetch = vi.fn<FetchLike>(async () => jsonResponse(401, { error: 'unauthenticated', message: 'nope' }));
    const { source, refreshAfterReject } = fakeTokens('at-1', ['at-2', 'at-3']);
    const api = new SnapQueueApi({ fetch, auth: source });
    await expect(api.me()).rejects.toMatchObject({ status: 401, code: 'unauthenticated' });
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(refreshAfterReject).toHaveBeenCalledTimes(1);
  });

  it('throws the 401 without retrying when the refresh ends the session', async () => {
    const fetch = vi.fn<FetchLike>(async () => jsonResponse(401, { error: 'unauthenticated', message: 'expired' }));
    const { source } = fakeTokens('at-1', [null]);
    await expect(new SnapQueueApi({ fetch, auth: source }).myImages()).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('does not refresh for a 401 to a call sent without a token', async () => {
    const fetch = vi.fn<FetchLike>(async () => jsonResponse(401, { error: 'unauthenticated', message: 'sign in' }));
    const { source, refreshAfterReject } = fakeTokens(null, ['at-2']);
    await expect(new SnapQueueApi({ fetch, auth: source }).me()).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(refreshAfterReject).not.toHaveBeenCalled();
  });

  it('concurrent 401s share one refresh (real AuthClient), then all retry with the new token', async () => {
    const storage = new Map<string, string>([[REFRESH_TOKEN_KEY, 'rt-1']]);
    let refreshes = 0;
    const fetch = vi.fn<FetchLike>(async () => {
      refreshes += 1; // the restore
      return jsonResponse(200, { accessToken: 'at-2', expiresIn: 3600, tokenType: 'Bearer' });
    });
    const auth = new AuthClient({
      fetch,
      storage: { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => void storage.set(k, v), removeItem: (k) => void storage.delete(k) },
      storageEvents: null,
    });
    auth.start(); // restores: at-2
    await new Promise((r) => setTimeout(r, 20));
    expect(auth.accessToken).toBe('at-2');
    // The server now answers 401 to three concurrent calls carrying at-2.
    let rejectLeft = 3;
    fetch.mockImplementation(async (url, init) => {
      if (url === '/api/auth/refresh') {
        refreshes += 1;
        await new Promise((r) => setTimeout(r, 5));
        return jsonResponse(200, { accessToken: `at-${refreshes + 1}`, expiresIn: 3600, tokenType: 'Bearer' });
      }
      if (rejectLeft > 0 && headerOf(init, 'Authorization') === 'Bearer at-2') {
        rejectLeft -= 1;
        return jsonResponse(401, { error: 'unauthenticated', message: 'expired' });
      }
      return jsonResponse(200, { imageId: url.split('/').pop(), status: 'COMPLETED', auth: headerOf(init, 'Authorization') });
    });
    const api = new SnapQueueApi({ fetch, auth });
    const results = await Promise.all([api.getImage('a'), api.getImage('b'), api.getImage('c')]);
    expect(results.map((r) => (r as unknown as { auth: string }).auth)).toEqual(['Bearer at-3', 'Bearer at-3', 'Bearer at-3']);
    expect(fetch.mock.calls.filter((c) => c[0] === '/api/auth/refresh')).toHaveLength(2); // restore + one shared refresh
    auth.stop();
  });

  it('calls the account endpoints', async () => {
    const fetch = vi.fn<FetchLike>(async (_url, init) =>
      init?.method === 'DELETE' ? new Response(null, { status: 204 }) : jsonResponse(200, { items: [], nextCursor: null, imageId: 'x', visibility: 'public' }),
    );
    const api = new SnapQueueApi({ fetch, auth: fakeTokens('at-1', []).source });
    await api.me();
    await api.myImages({ limit: 10, cursor: 'c1', status: 'COMPLETED' });
    await api.myImages();
    expect(await api.setVisibility('x', 'public')).toMatchObject({ visibility: 'public' });
    expect(await api.deleteImage('x')).toBeUndefined();
    await api.requestUpload({ filename: 'a.png', contentType: 'image/png', size: 3, visibility: 'public' });
    const calls = fetch.mock.calls.map(([url, init]) => [init?.method ?? 'GET', url]);
    expect(calls).toEqual([
      ['GET', '/api/me'],
      ['GET', '/api/me/images?limit=10&cursor=c1&status=COMPLETED'],
      ['GET', '/api/me/images'],
      ['PATCH', '/api/image/x'],
      ['DELETE', '/api/image/x'],
      ['POST', '/api/upload-request'],
    ]);
    expect(JSON.parse(String(fetch.mock.calls[3]![1]?.body))).toEqual({ visibility: 'public' });
    expect(JSON.parse(String(fetch.mock.calls[5]![1]?.body))).toEqual({ filename: 'a.png', contentType: 'image/png', size: 3, visibility: 'public' });
  });

  it('reads Retry-After on 429 and keeps it through toServerError', async () => {
    const api = new SnapQueueApi({
      fetch: async () =>
        new Response(JSON.stringify({ error: 'rate_limited', message: 'Too many uploads' }), { status: 429, headers: { 'Retry-After': '12' } }),
    });
    const err = await api.requestUpload({ filename: 'a.png', contentType: 'image/png', size: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 429, code: 'rate_limited', retryAfter: 12 });
    expect(toServerError(err)).toEqual({ code: 'rate_limited', message: 'Too many uploads', retryAfter: 12 });
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(30);
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
