import { describe, expect, it, vi } from 'vitest';
import { StatusPoller } from './poller';
import type { ImageRecord, ImageStatus } from './types';
import { FakeTimers, flushPromises } from '../test/fakes';

function setup(statuses: Record<string, ImageStatus[]>, opts: { lateAfterMs?: number } = {}) {
  const timers = new FakeTimers();
  const getStatus = vi.fn(async (id: string) => {
    const seq = statuses[id]!;
    const status = seq.length > 1 ? seq.shift()! : seq[0]!;
    return { imageId: id, status, updatedAt: 'now' };
  });
  const getImage = vi.fn(async (id: string): Promise<ImageRecord> => ({ imageId: id, status: 'COMPLETED', variants: {}, metadata: { width: 4 } }));
  const onStatus = vi.fn();
  const onRecord = vi.fn();
  const onError = vi.fn();
  const poller = new StatusPoller({
    getStatus,
    getImage,
    onStatus,
    onRecord,
    onError,
    intervalMs: 1000,
    lateAfterMs: opts.lateAfterMs ?? 10_000,
    timers,
    now: () => timers.now,
  });
  return { timers, poller, getStatus, getImage, onStatus, onRecord, onError };
}

async function advance(timers: FakeTimers, ms: number, step = 1000) {
  for (let t = 0; t < ms; t += step) {
    timers.advance(step);
    await flushPromises();
  }
}

describe('StatusPoller', () => {
  it('does not poll while the socket is up and the result is not late', async () => {
    const { timers, poller, getStatus } = setup({ a: ['PROCESSING'] });
    poller.setSocketConnected(true);
    poller.track('a');
    poller.uploadFinished('a');
    await advance(timers, 5000);
    expect(getStatus).not.toHaveBeenCalled();
  });

  it('does not poll an image whose upload has not finished', async () => {
    const { timers, poller, getStatus } = setup({ a: ['PENDING_UPLOAD'] });
    poller.setSocketConnected(false);
    poller.track('a');
    await advance(timers, 5000);
    expect(getStatus).not.toHaveBeenCalled();
  });

  it('falls back to polling when the socket is down, and stops on a terminal status', async () => {
    const { timers, poller, getStatus, getImage, onStatus, onRecord } = setup({
      a: ['PENDING_UPLOAD', 'PROCESSING', 'COMPLETED'],
    });
    poller.setSocketConnected(true);
    poller.track('a');
    poller.uploadFinished('a');
    await advance(timers, 2000);
    expect(getStatus).not.toHaveBeenCalled();

    poller.setSocketConnected(false);
    expect(poller.isPolling('a')).toBe(true);
    await advance(timers, 3000);
    expect(onStatus.mock.calls.map((c) => c[1])).toEqual(['PENDING_UPLOAD', 'PROCESSING', 'COMPLETED']);
    expect(getImage).toHaveBeenCalledTimes(1);
    expect(onRecord).toHaveBeenCalledWith(expect.objectContaining({ imageId: 'a', status: 'COMPLETED' }));

    const calls = getStatus.mock.calls.length;
    await advance(timers, 10_000);
    expect(getStatus.mock.calls.length).toBe(calls); // stopped
    expect(poller.trackedIds).toEqual([]);
  });

  it('polls when a result is late even though the socket is up', async () => {
    const { timers, poller, getStatus, onRecord } = setup({ a: ['FAILED'] }, { lateAfterMs: 5000 });
    poller.setSocketConnected(true);
    poller.track('a');
    poller.uploadFinished('a');
    await advance(timers, 4000);
    expect(getStatus).not.toHaveBeenCalled();
    await advance(timers, 1000);
    expect(getStatus).toHaveBeenCalledWith('a');
    expect(onRecord).toHaveBeenCalledTimes(1);
  });

  it('stops polling an image when the socket delivered its result (untrack)', async () => {
    const { timers, poller, getStatus } = setup({ a: ['PROCESSING'], b: ['PROCESSING'] });
    poller.setSocketConnected(false);
    poller.track('a');
    poller.track('b');
    poller.uploadFinished('a');
    poller.uploadFinished('b');
    await advance(timers, 1000);
    expect(getStatus.mock.calls.map((c) => c[0]).sort()).toEqual(['a', 'b']);
    poller.untrack('a');
    getStatus.mockClear();
    await advance(timers, 2000);
    expect(getStatus.mock.calls.map((c) => c[0])).toEqual(['b', 'b']);
  });

  it('stops polling when the socket comes back (and the result is not late)', async () => {
    const { timers, poller, getStatus } = setup({ a: ['PROCESSING'] });
    poller.setSocketConnected(false);
    poller.track('a');
    poller.uploadFinished('a');
    await advance(timers, 2000);
    expect(getStatus).toHaveBeenCalledTimes(2);
    poller.setSocketConnected(true);
    await advance(timers, 3000);
    expect(getStatus).toHaveBeenCalledTimes(2);
  });

  it('reports errors and keeps trying', async () => {
    const { timers, poller, getStatus, onError, onStatus } = setup({ a: ['PROCESSING'] });
    getStatus.mockRejectedValueOnce(new Error('502 Bad Gateway'));
    poller.setSocketConnected(false);
    poller.track('a');
    poller.uploadFinished('a');
    await advance(timers, 1000);
    expect(onError).toHaveBeenCalledWith('a', expect.any(Error));
    await advance(timers, 1000);
    expect(onStatus).toHaveBeenCalledWith('a', 'PROCESSING');
  });

  it('stop() cancels everything', async () => {
    const { timers, poller, getStatus } = setup({ a: ['PROCESSING'] });
    poller.setSocketConnected(false);
    poller.track('a');
    poller.uploadFinished('a');
    poller.stop();
    await advance(timers, 5000);
    expect(getStatus).not.toHaveBeenCalled();
  });
});
