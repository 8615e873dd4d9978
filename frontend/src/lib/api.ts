import type {
  ImagePage,
  ImageRecord,
  StatusRecord,
  UploadRequestBody,
  UploadTicket,
} from './types';

/** An error answered by the server (or the network), with the server's code and message. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface ApiOptions {
  /** Same-origin prefix proxied to the upload-service. */
  baseUrl?: string;
  fetch?: FetchLike;
}

async function readError(res: Response): Promise<ApiError> {
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
  return new ApiError(res.status, code, message);
}

export class SnapQueueApi {
  private readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;

  constructor(options: ApiOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '/api').replace(/\/$/, '');
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  private async request<T>(path: string, init?: RequestInit): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.baseUrl}${path}`, {
        ...init,
        headers: { Accept: 'application/json', ...(init?.headers ?? {}) },
      });
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      throw new ApiError(0, 'network_error', `Could not reach the server (${detail}).`);
    }
    if (!res.ok) throw await readError(res);
    try {
      return (await res.json()) as T;
    } catch {
      throw new ApiError(res.status, 'bad_response', 'The server sent a response that is not valid JSON.');
    }
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
}

/** Turn anything thrown into `{code, message}` to show a person. */
export function toServerError(err: unknown): { code: string; message: string } {
  if (err instanceof ApiError) return { code: err.code, message: err.message };
  if (err && typeof err === 'object' && 'code' in err && 'message' in err) {
    const e = err as { code: unknown; message: unknown };
    return { code: String(e.code), message: String(e.message) };
  }
  if (err instanceof Error) return { code: err.name || 'error', message: err.message };
  return { code: 'error', message: String(err) };
}
