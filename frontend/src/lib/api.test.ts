import { describe, expect, it, vi } from 'vitest';
import { ApiError, SnapQueueApi, toServerError, type FetchLike } from './api';

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
