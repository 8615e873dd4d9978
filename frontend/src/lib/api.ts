import type {
  ImagePage,
  ImageRecord,
  ImageStatus,
  MeRecord,
  StatusRecord,
  UploadRequestBody,
  UploadTicket,
  Visibility,
} from './types';

/** An error answered by the server (or the network), with the server's code and message. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  /** Seconds from a `Retry-After` header (429 `rate_limited`), when the server sent one. */
  readonly retryAfter: number | undefined;

  constructor(status: number, code: string, message: string, retryAfter?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * Where the API gets the access token from (the `AuthClient` in auth.ts). Kept as an interface so
 * api.ts does not depend on auth.ts.
 */
export interface TokenSource {
  /** The current access token, or null when signed out. */
  readonly accessToken: string | null;
  /**
   * The server refused `rejected` with 401: resolve a token to retry with (refreshing once, shared by
   * every concurrent caller), or null when there is none (the session has ended).
   */
  refreshAfterReject(rejected: string): Promise<string | null>;
}

export interface ApiOptions {
  /** Same-origin prefix proxied to the upload-service. */
  baseUrl?: string;
  fetch?: FetchLike;
  auth?: TokenSource;
}

/** `Retry-After` as seconds: either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** Turn a non-2xx response into an `ApiError` from its `{"error","message"}` body. */
export async function readError(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText || 'error'}`.trim();
  const text = await res.text().catch(() => '');
  if (text) {
    try {
      const body: unknown = JSON.parse(text);
      if (body && typeof body === 'object') {
        const b = body as Record<string, unknown>;
        if (typeof b.error === 'string') code = b.error;
        if (typeof b.message === 'string' && b.message) message = b.message;
        else if (typeof b.detail === 'string' && b.detail) message = b.detail;
      }
    } catch {
      // Not JSON (a proxy error page, for instance): show its beginning.
      message = `${message}: ${text.replace(/\s+/g, ' ').slice(0, 200)}`;
    }
  }
  return new ApiError(res.status, code, message, parseRetryAfter(res.headers.get('Retry-After')));
}

export function networkError(err: unknown): ApiError {
  if (err instanceof DOMException && err.name === 'AbortError') return new ApiError(0, 'aborted', 'The request was cancelled.');
  const detail = err instanceof Error ? err.message : String(err);
  return new ApiError(0, 'network_error', `Could not reach the server (${detail}).`);
}

/** Read a 2xx body: JSON, or `undefined` for 204 / an empty body. */
export async function readJson<T>(res: Response): Promise<T> {
  if (res.status === 204) return undefined as T;
  const text = await res.text().catch(() => '');
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(res.status, 'bad_response', 'The server sent a response that is not valid JSON.');
  }
}

export interface MyImagesParams {
  limit?: number;
  cursor?: string | null;
  status?: ImageStatus | null;
}

export class SnapQueueApi {
  private readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;
  private readonly auth: TokenSource | undefined;

  constructor(options: ApiOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '/api').replace(/\/$/, '');
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.auth = options.auth;
  }

  private async send(path: string, init: RequestInit | undefined, token: string | null): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...((init?.headers as Record<string, string>) ?? {}) };
    if (token) headers.Authorization = `Bearer ${token}`;
    try {
      return await this.fetchImpl(`${this.baseUrl}${path}`, { ...init, headers });
    } catch (err) {
      throw networkError(err);
    }
  }

  /**
   * Every call carries the access token when there is one. A 401 to a call that carried a token is
   * answered by refreshing (once, shared with concurrent callers) and retrying once; when no fresh
   * token can be had the session is over (the auth client signs out) and the 401 is thrown.
   */
  private async request<T>(path: string, init?: RequestInit): Promise<T> {
    const token = this.auth?.accessToken ?? null;
    let res = await this.send(path, init, token);
    if (res.status === 401 && token && this.auth && !init?.signal?.aborted) {
      const fresh = await this.auth.refreshAfterReject(token).catch(() => null);
      if (fresh) res = await this.send(path, init, fresh);
    }
    if (!res.ok) throw await readError(res);
    return readJson<T>(res);
  }

  requestUpload(body: UploadRequestBody, signal?: AbortSignal): Promise<UploadTicket> {
    return this.request<UploadTicket>('/upload-request', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
  }

  getImage(imageId: string, signal?: AbortSignal): Promise<ImageRecord> {
    return this.request<ImageRecord>(`/image/${encodeURIComponent(imageId)}`, { signal });
  }

  getStatus(imageId: string, signal?: AbortSignal): Promise<StatusRecord> {
    return this.request<StatusRecord>(`/status/${encodeURIComponent(imageId)}`, { signal });
  }

  /** Public COMPLETED images (works signed out; the token is sent when there is one). */
  getAllImages(
    params: { limit?: number; cursor?: string | null } = {},
    signal?: AbortSignal,
  ): Promise<ImagePage> {
    const q = new URLSearchParams();
    if (params.limit != null) q.set('limit', String(params.limit));
    if (params.cursor) q.set('cursor', params.cursor);
    const qs = q.toString();
    return this.request<ImagePage>(`/get-all-images${qs ? `?${qs}` : ''}`, { signal });
  }

  me(signal?: AbortSignal): Promise<MeRecord> {
    return this.request<MeRecord>('/me', { signal });
  }

  /** The caller's images, newest first. */
  myImages(params: MyImagesParams = {}, signal?: AbortSignal): Promise<ImagePage> {
    const q = new URLSearchParams();
    if (params.limit != null) q.set('limit', String(params.limit));
    if (params.cursor) q.set('cursor', params.cursor);
    if (params.status) q.set('status', params.status);
    const qs = q.toString();
    return this.request<ImagePage>(`/me/images${qs ? `?${qs}` : ''}`, { signal });
  }

  setVisibility(imageId: string, visibility: Visibility, signal?: AbortSignal): Promise<ImageRecord> {
    return this.request<ImageRecord>(`/image/${encodeURIComponent(imageId)}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ visibility }),
      signal,
    });
  }

  async deleteImage(imageId: string, signal?: AbortSignal): Promise<void> {
    await this.request<unknown>(`/image/${encodeURIComponent(imageId)}`, { method: 'DELETE', signal });
  }
}

/** Turn anything thrown into `{code, message}` (plus `retryAfter` seconds when known) to show a person. */
export function toServerError(err: unknown): { code: string; message: string; retryAfter?: number } {
  if (err instanceof ApiError) {
    return err.retryAfter !== undefined
      ? { code: err.code, message: err.message, retryAfter: err.retryAfter }
      : { code: err.code, message: err.message };
  }
  if (err && typeof err === 'object' && 'code' in err && 'message' in err) {
    const e = err as { code: unknown; message: unknown };
    return { code: String(e.code), message: String(e.message) };
  }
  if (err instanceof Error) return { code: err.name || 'error', message: err.message };
  return { code: 'error', message: String(err) };
}
