import { describe, expect, it } from 'vitest';
import { buildUploadForm, parseS3Error, uploadToS3, type XhrLike } from './upload';

class FakeXhr implements XhrLike {
  upload: { onprogress: ((ev: ProgressEvent) => void) | null } = { onprogress: null };
  onload: ((ev: ProgressEvent) => void) | null = null;
  onerror: ((ev: ProgressEvent) => void) | null = null;
  onabort: ((ev: ProgressEvent) => void) | null = null;
  ontimeout: ((ev: ProgressEvent) => void) | null = null;
  status = 0;
  responseText = '';
  method = '';
  url = '';
  body: FormData | null = null;
  aborted = false;
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  send(body: FormData) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.({} as ProgressEvent);
  }
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ loaded, total, lengthComputable: true } as ProgressEvent);
  }
  finish(status: number, body = '') {
    this.status = status;
    this.responseText = body;
    this.onload?.({} as ProgressEvent);
  }
}

const blob = new Blob([new Uint8Array(10)], { type: 'image/png' });

describe('uploadToS3', () => {
  it('puts every presigned field first and the file last', () => {
    const form = buildUploadForm({ key: 'uploads/x', 'Content-Type': 'image/png', policy: 'p', 'x-amz-signature': 's' }, blob, 'a.png');
    expect([...form.keys()]).toEqual(['key', 'Content-Type', 'policy', 'x-amz-signature', 'file']);
  });

  it('POSTs the form, reports byte progress and resolves on 204', async () => {
    const xhr = new FakeXhr();
    const seen: Array<[number, number]> = [];
    const done = uploadToS3('http://s3.test/bucket', { key: 'k' }, blob, 'a.png', {
      createXhr: () => xhr,
      onProgress: (p) => seen.push([p.loaded, p.total]),
    });
    expect(xhr.method).toBe('POST');
    expect(xhr.url).toBe('http://s3.test/bucket');
    expect([...xhr.body!.keys()]).toEqual(['key', 'file']);
    xhr.progress(4, 10);
    xhr.finish(204);
    await done;
    expect(seen).toEqual([
      [4, 10],
      [10, 10],
    ]);
  });

  it('rejects with the S3 error code and message', async () => {
    const xhr = new FakeXhr();
    const done = uploadToS3('u', {}, blob, 'a.png', { createXhr: () => xhr });
    xhr.finish(400, '<Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the maximum allowed size</Message></Error>');
    await expect(done).rejects.toMatchObject({
      status: 400,
      code: 'EntityTooLarge',
      message: 'Storage rejected the upload: Your proposed upload exceeds the maximum allowed size',
    });
  });

  it('rejects on a network error and on abort', async () => {
    const xhr = new FakeXhr();
    const done = uploadToS3('u', {}, blob, 'a.png', { createXhr: () => xhr });
    xhr.onerror?.({} as ProgressEvent);
    await expect(done).rejects.toMatchObject({ code: 'network_error' });

    const xhr2 = new FakeXhr();
    const controller = new AbortController();
    const done2 = uploadToS3('u', {}, blob, 'a.png', { createXhr: () => xhr2, signal: controller.signal });
    controller.abort();
    await expect(done2).rejects.toMatchObject({ code: 'aborted' });
    expect(xhr2.aborted).toBe(true);
  });

  it('parses S3 XML errors', () => {
    expect(parseS3Error('<Error><Code>AccessDenied</Code><Message>Policy expired.</Message></Error>')).toEqual({
      code: 'AccessDenied',
      message: 'Policy expired.',
    });
    expect(parseS3Error('nothing')).toEqual({ code: undefined, message: undefined });
  });
});
