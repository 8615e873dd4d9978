/** Direct-to-S3 presigned POST with real byte progress (XMLHttpRequest, not fetch). */

export interface UploadProgress {
  loaded: number;
  total: number;
}

export class UploadError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'UploadError';
    this.status = status;
    this.code = code;
  }
}

/** The subset of XMLHttpRequest we use, so tests can inject a fake. */
export interface XhrLike {
  upload: { onprogress: ((ev: ProgressEvent) => void) | null };
  onload: ((ev: ProgressEvent) => void) | null;
  onerror: ((ev: ProgressEvent) => void) | null;
  onabort: ((ev: ProgressEvent) => void) | null;
  ontimeout: ((ev: ProgressEvent) => void) | null;
  status: number;
  responseText: string;
  open(method: string, url: string): void;
  send(body: FormData): void;
  abort(): void;
}

export interface UploadOptions {
  onProgress?: (p: UploadProgress) => void;
  signal?: AbortSignal;
  createXhr?: () => XhrLike;
}

/** Every presigned field first, then the `file` field LAST (S3 ignores fields after the file). */
export function buildUploadForm(fields: Record<string, string>, file: Blob, filename?: string): FormData {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  if (filename !== undefined) form.append('file', file, filename);
  else form.append('file', file);
  return form;
}

/** Pull `<Code>` / `<Message>` out of an S3 XML error body. */
export function parseS3Error(body: string): { code?: string; message?: string } {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1];
  return { code, message };
}

export function uploadToS3(
  url: string,
  fields: Record<string, string>,
  file: Blob,
  filename: string | undefined,
  options: UploadOptions = {},
): Promise<void> {
  const { onProgress, signal } = options;
  const createXhr = options.createXhr ?? (() => new XMLHttpRequest() as unknown as XhrLike);
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new UploadError(0, 'aborted', 'The upload was cancelled.'));
      return;
    }
    const xhr = createXhr();
    const onAbortSignal = () => xhr.abort();
    const cleanup = () => signal?.removeEventListener('abort', onAbortSignal);
    xhr.upload.onprogress = (ev) => {
      if (onProgress) onProgress({ loaded: ev.loaded, total: ev.lengthComputable ? ev.total : file.size });
    };
    xhr.onload = () => {
      cleanup();
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress?.({ loaded: file.size, total: file.size });
        resolve();
        return;
      }
      const s3 = parseS3Error(xhr.responseText || '');
      const code = s3.code || `http_${xhr.status}`;
      const message = s3.message
        ? `Storage rejected the upload: ${s3.message}`
        : `Storage rejected the upload (HTTP ${xhr.status}).`;
      reject(new UploadError(xhr.status, code, message));
    };
    xhr.onerror = () => {
      cleanup();
      reject(
        new UploadError(
          0,
          'network_error',
          'The upload to storage failed: the network request did not complete (storage unreachable or blocked by CORS).',
        ),
      );
    };
    xhr.ontimeout = () => {
      cleanup();
      reject(new UploadError(0, 'timeout', 'The upload to storage timed out.'));
    };
    xhr.onabort = () => {
      cleanup();
      reject(new UploadError(0, 'aborted', 'The upload was cancelled.'));
    };
    signal?.addEventListener('abort', onAbortSignal);
    xhr.open('POST', url);
    xhr.send(buildUploadForm(fields, file, filename));
  });
}
