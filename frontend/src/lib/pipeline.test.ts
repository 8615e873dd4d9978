import { describe, expect, it, vi } from 'vitest';
import { ApiError } from './api';
import { UploadPipeline, type PipelineDeps, type UploadFn } from './pipeline';
import type { NotifierEvent, NotifierListener } from './socket';
import type { UploadAction } from './state';
import type { UploadTicket } from './types';
import { flushPromises } from '../test/fakes';

function makeDeps(overrides: Partial<PipelineDeps> = {}) {
  const log: string[] = [];
  const listeners: NotifierListener[] = [];
  const actions: UploadAction[] = [];
  const ticket: UploadTicket = {
    imageId: 'img-1',
    upload: { url: 'http://s3.test/bucket', fields: { key: 'uploads/img-1', policy: 'p' } },
    expiresAt: '2030-01-01T00:00:00Z',
    maxBytes: 5000,
  };
  const deps: PipelineDeps = {
    api: {
      requestUpload: vi.fn(async () => {
        log.push('requestUpload');
        return ticket;
      }),
      getImage: vi.fn(async (id: string) => {
        log.push(`getImage:${id}`);
        return { imageId: id, status: 'COMPLETED' as const, variants: {}, metadata: { width: 3, height: 2 } };
      }),
    },
    notifier: {
      register: vi.fn((id: string) => log.push(`register:${id}`)),
      unregister: vi.fn((id: string) => log.push(`unregister:${id}`)),
      markTerminal: vi.fn(),
      on: (l: NotifierListener) => {
        listeners.push(l);
        return () => {};
      },
      connected: true,
    },
    poller: {
      track: vi.fn((id: string) => log.push(`track:${id}`)),
      uploadFinished: vi.fn((id: string) => log.push(`uploadFinished:${id}`)),
      untrack: vi.fn((id: string) => log.push(`untrack:${id}`)),
      setSocketConnected: vi.fn(),
    },
    upload: vi.fn<UploadFn>(async (_url, _fields, _file, _name, opts) => {
      log.push('upload:start');
      opts.onProgress?.({ loaded: 3, total: 6 });
      log.push('upload:end');
    }),
    dispatch: (a) => actions.push(a),
    ...overrides,
  };
  const emit = (e: NotifierEvent) => listeners.forEach((l) => l(e));
  return { deps, log, actions, emit, ticket };
}

const file = (name = 'cat.jpg', type = 'image/jpeg', size = 6) => new File([new Uint8Array(size)], name, { type });

describe('UploadPipeline', () => {
  it('registers the imageId with the notifier BEFORE the S3 upload starts', async () => {
    const { deps, log, actions } = makeDeps();
    const p = new UploadPipeline(deps);
    await p.start('L1', file());
    expect(log).toEqual(['requestUpload', 'register:img-1', 'track:img-1', 'upload:start', 'upload:end', 'uploadFinished:img-1']);
    expect(deps.api.requestUpload).toHaveBeenCalledWith({ filename: 'cat.jpg', contentType: 'image/jpeg', size: 6 }, expect.any(AbortSignal));
    expect(deps.upload).toHaveBeenCalledWith('http://s3.test/bucket', { key: 'uploads/img-1', policy: 'p' }, expect.any(File), 'cat.jpg', expect.any(Object));
    expect(actions.map((a) => a.type)).toEqual(['requested', 'progress', 'uploaded']);
    expect(p.currentMaxBytes).toBe(5000);
  });

  it('rejects invalid files without calling the server', async () => {
    const { deps, actions } = makeDeps();
    const p = new UploadPipeline(deps);
    await p.start('L1', file('doc.txt', 'text/plain'));
    await p.start('L2', file('empty.png', 'image/png', 0));
    expect(deps.api.requestUpload).not.toHaveBeenCalled();
    expect(actions).toEqual([
      expect.objectContaining({ type: 'rejected', localId: 'L1', error: expect.objectContaining({ code: 'unsupported_content_type' }) }),
      expect.objectContaining({ type: 'rejected', localId: 'L2', error: expect.objectContaining({ code: 'empty_file' }) }),
    ]);
  });

  it('shows the server message when the upload-request is refused', async () => {
    const { deps, actions } = makeDeps();
    vi.mocked(deps.api.requestUpload).mockRejectedValueOnce(new ApiError(422, 'file_too_large', 'size 99 exceeds 5'));
    const p = new UploadPipeline(deps);
    await p.start('L1', file());
    expect(actions).toEqual([{ type: 'uploadFailed', localId: 'L1', error: { code: 'file_too_large', message: 'size 99 exceeds 5' } }]);
    expect(deps.notifier.register).not.toHaveBeenCalled();
  });

  it('unregisters and stops tracking when the S3 upload fails', async () => {
    const { deps, actions, log } = makeDeps({
      upload: vi.fn<UploadFn>(async () => {
        throw Object.assign(new Error('Storage rejected the upload: Policy expired'), { code: 'AccessDenied' });
      }),
    });
    const p = new UploadPipeline(deps);
    await p.start('L1', file());
    expect(actions.at(-1)).toEqual({
      type: 'uploadFailed',
      localId: 'L1',
      error: { code: 'AccessDenied', message: 'Storage rejected the upload: Policy expired' },
    });
    expect(log).toContain('unregister:img-1');
    expect(log).toContain('untrack:img-1');
  });

  it('turns socket events into actions and fetches the full record on a terminal event', async () => {
    const { deps, actions, emit, log } = makeDeps();
    new UploadPipeline(deps);
    emit({ type: 'status', imageId: 'img-1', status: 'PROCESSING' });
    emit({ type: 'imageProcessed', imageId: 'img-1', status: 'COMPLETED', variants: {} });
    await flushPromises();
    expect(log).toContain('untrack:img-1');
    expect(log).toContain('getImage:img-1');
    expect(actions.map((a) => a.type)).toEqual(['serverStatus', 'processed', 'record']);
  });

  it('tells the poller when the socket goes down and comes back', () => {
    const { deps, emit } = makeDeps();
    new UploadPipeline(deps);
    emit({ type: 'connection', state: 'reconnecting' });
    emit({ type: 'connection', state: 'connected' });
    expect(vi.mocked(deps.poller.setSocketConnected).mock.calls.map((c) => c[0])).toEqual([true, false, true]);
  });

  it('surfaces notifier error frames', () => {
    const onGlobalError = vi.fn();
    const { deps, emit, actions } = makeDeps({ onGlobalError });
    new UploadPipeline(deps);
    emit({ type: 'error', code: 'too_many_registrations', message: 'limit of 100 reached' });
    emit({ type: 'error', code: 'unknown_image', message: 'no such image', imageId: 'img-1' });
    expect(onGlobalError).toHaveBeenCalledWith({ code: 'too_many_registrations', message: 'limit of 100 reached' });
    expect(actions).toEqual([{ type: 'note', imageId: 'img-1', note: 'Live status: no such image' }]);
  });
});

describe('UploadPipeline with accounts', () => {
  it('sends visibility only when asked, and stops watching a deleted image', async () => {
    const { deps, emit, log } = makeDeps();
    const p = new UploadPipeline(deps);
    await p.start('L1', file());
    await p.start('L2', file(), { visibility: 'public' });
    const bodies = vi.mocked(deps.api.requestUpload).mock.calls.map((c) => c[0]);
    expect(bodies[0]).toEqual({ filename: 'cat.jpg', contentType: 'image/jpeg', size: 6 });
    expect(bodies[1]).toEqual({ filename: 'cat.jpg', contentType: 'image/jpeg', size: 6, visibility: 'public' });
    emit({ type: 'imageDeleted', imageId: 'img-1' });
    expect(log.at(-1)).toBe('untrack:img-1');
    await flushPromises();
  });
});
