import { describe, expect, it } from 'vitest';
import { initialUploadState, pendingImageIds, uploadReducer, type UploadAction, type UploadState } from './state';
import type { Variants } from './types';

const variants: Variants = {
  thumbnail: { url: 'http://s3/t', width: 256, height: 192, contentType: 'image/jpeg', bytes: 9000 },
  resized: { url: 'http://s3/r', width: 1024, height: 768, contentType: 'image/jpeg', bytes: 90000 },
  grayscale: { url: 'http://s3/g', width: 1024, height: 768, contentType: 'image/jpeg', bytes: 80000 },
};

function run(actions: UploadAction[], start: UploadState = initialUploadState): UploadState {
  return actions.reduce(uploadReducer, start);
}

const base: UploadAction[] = [
  { type: 'added', localId: 'L', name: 'cat.jpg', size: 1000, contentType: 'image/jpeg', previewUrl: 'blob:x' },
  { type: 'requested', localId: 'L', imageId: 'I' },
];

describe('uploadReducer', () => {
  it('walks uploading -> queued -> processing -> done', () => {
    let s = run(base);
    expect(s.items.L!.phase).toBe('uploading');
    s = run([{ type: 'progress', localId: 'L', loaded: 400, total: 1000 }], s);
    expect(s.items.L!.loaded).toBe(400);
    s = run([{ type: 'uploaded', localId: 'L' }], s);
    expect(s.items.L!.phase).toBe('queued');
    expect(s.items.L!.loaded).toBe(1000);
    s = run([{ type: 'serverStatus', imageId: 'I', status: 'PROCESSING' }], s);
    expect(s.items.L!.phase).toBe('processing');
    s = run([{ type: 'processed', imageId: 'I', variants }], s);
    expect(s.items.L!.phase).toBe('done');
    expect(s.items.L!.variants).toEqual(variants);
    expect(pendingImageIds(s)).toEqual([]);
  });

  it('treats a duplicate terminal event as a no-op (same object)', () => {
    const s = run([...base, { type: 'uploaded', localId: 'L' }, { type: 'processed', imageId: 'I', variants }]);
    expect(uploadReducer(s, { type: 'processed', imageId: 'I', variants })).toBe(s);
    expect(uploadReducer(s, { type: 'processed', imageId: 'I', variants: {} })).toBe(s);
  });

  it('never leaves a terminal state', () => {
    const done = run([...base, { type: 'processed', imageId: 'I', variants }]);
    expect(uploadReducer(done, { type: 'failed', imageId: 'I', error: { code: 'x', message: 'y' } })).toBe(done);
    expect(uploadReducer(done, { type: 'serverStatus', imageId: 'I', status: 'PROCESSING' })).toBe(done);
    expect(uploadReducer(done, { type: 'uploadFailed', localId: 'L', error: { code: 'x', message: 'y' } })).toBe(done);
    expect(uploadReducer(done, { type: 'uploaded', localId: 'L' })).toBe(done);

    const failed = run([...base, { type: 'failed', imageId: 'I', error: { code: 'corrupt', message: 'bad bytes' } }]);
    expect(failed.items.L!.phase).toBe('failed');
    expect(failed.items.L!.error).toEqual({ code: 'corrupt', message: 'bad bytes' });
    expect(uploadReducer(failed, { type: 'processed', imageId: 'I', variants })).toBe(failed);
    expect(uploadReducer(failed, { type: 'failed', imageId: 'I', error: { code: 'other', message: 'zzz' } })).toBe(failed);
  });

  it('never goes backwards on out-of-order events', () => {
    const processing = run([...base, { type: 'uploaded', localId: 'L' }, { type: 'serverStatus', imageId: 'I', status: 'PROCESSING' }]);
    expect(uploadReducer(processing, { type: 'serverStatus', imageId: 'I', status: 'PENDING_UPLOAD' })).toBe(processing);
    expect(uploadReducer(processing, { type: 'serverStatus', imageId: 'I', status: 'PROCESSING' })).toBe(processing);
    expect(uploadReducer(processing, { type: 'uploaded', localId: 'L' })).toBe(processing);
    expect(uploadReducer(processing, { type: 'progress', localId: 'L', loaded: 10, total: 1000 })).toBe(processing);
  });

  it('handles a terminal event that arrives before the XHR load event', () => {
    let s = run([...base, { type: 'progress', localId: 'L', loaded: 999, total: 1000 }, { type: 'processed', imageId: 'I', variants }]);
    expect(s.items.L!.phase).toBe('done');
    s = run([{ type: 'uploaded', localId: 'L' }], s);
    expect(s.items.L!.phase).toBe('done');
  });

  it('ignores progress going backwards', () => {
    const s = run([...base, { type: 'progress', localId: 'L', loaded: 500, total: 1000 }]);
    expect(uploadReducer(s, { type: 'progress', localId: 'L', loaded: 100, total: 1000 })).toBe(s);
  });

  it('fills variants from a status-only COMPLETED, then the record', () => {
    let s = run([...base, { type: 'uploaded', localId: 'L' }, { type: 'serverStatus', imageId: 'I', status: 'COMPLETED' }]);
    expect(s.items.L!.phase).toBe('done');
    expect(s.items.L!.variants).toBeNull();
    s = run([{ type: 'record', record: { imageId: 'I', status: 'COMPLETED', variants, metadata: { width: 1024, height: 768, dominantColor: '#aabbcc' } } }], s);
    expect(s.items.L!.variants).toEqual(variants);
    expect(s.items.L!.metadata).toEqual({ width: 1024, height: 768, dominantColor: '#aabbcc' });
  });

  it('a record contradicting a terminal state does not change it', () => {
    const done = run([...base, { type: 'processed', imageId: 'I', variants }]);
    const s = uploadReducer(done, { type: 'record', record: { imageId: 'I', status: 'FAILED', error: { code: 'x', message: 'y' } } });
    expect(s).toBe(done);
  });

  it('records client-side rejection and upload failures', () => {
    let s = run([{ type: 'added', localId: 'R', name: 'a.pdf', size: 5, contentType: 'application/pdf', previewUrl: null }]);
    s = run([{ type: 'rejected', localId: 'R', error: { code: 'unsupported_content_type', message: 'nope' } }], s);
    expect(s.items.R!.phase).toBe('rejected');
    s = run([...base, { type: 'uploadFailed', localId: 'L', error: { code: 'EntityTooLarge', message: 'too big' } }], s);
    expect(s.items.L!.phase).toBe('failed');
    expect(s.items.L!.error?.code).toBe('EntityTooLarge');
  });

  it('lists pending image ids and removes items', () => {
    let s = run(base);
    expect(pendingImageIds(s)).toEqual(['I']);
    s = run([{ type: 'removed', localId: 'L' }], s);
    expect(s.order).toEqual([]);
    expect(s.items).toEqual({});
  });

  it('ignores events for unknown images', () => {
    const s = run(base);
    expect(uploadReducer(s, { type: 'processed', imageId: 'other', variants })).toBe(s);
  });
});

describe('uploadReducer reset', () => {
  it('forgets every item (sign-out) and is a no-op when empty', () => {
    const s = run(base);
    expect(s.order).toEqual(['L']);
    expect(uploadReducer(s, { type: 'reset' })).toBe(initialUploadState);
    expect(uploadReducer(initialUploadState, { type: 'reset' })).toBe(initialUploadState);
  });
});
