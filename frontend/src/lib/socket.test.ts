import { beforeEach, describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF, NotifierClient, notifierUrl, type NotifierEvent } from './socket';
import { FakeTimers, FakeWebSocket } from '../test/fakes';

function setup(random = () => 0.5) {
  const timers = new FakeTimers();
  const client = new NotifierClient({
    url: 'ws://example.test/ws',
    WebSocket: FakeWebSocket,
    timers,
    random,
    backoff: { initialMs: 1000, maxMs: 8000, factor: 2 },
  });
  const events: NotifierEvent[] = [];
  client.on((e) => events.push(e));
  return { timers, client, events };
}

const nonConnection = (events: NotifierEvent[]) => events.filter((e) => e.type !== 'connection');

beforeEach(() => FakeWebSocket.reset());

describe('notifierUrl', () => {
  it('builds ws:// and wss:// URLs on the page origin', () => {
    expect(notifierUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/ws');
    expect(notifierUrl({ protocol: 'https:', host: 'snap.example.com' })).toBe('wss://snap.example.com/ws');
  });
});

describe('backoffDelay', () => {
  it('grows exponentially, is capped, and jitters within [half, full]', () => {
    const opts = { initialMs: 1000, maxMs: 8000, factor: 2 };
    expect(backoffDelay(0, opts, () => 0)).toBe(500);
    expect(backoffDelay(0, opts, () => 0.999999)).toBe(1000);
    expect(backoffDelay(2, opts, () => 0.5)).toBe(3000); // 4000 -> [2000, 4000]
    expect(backoffDelay(10, opts, () => 1)).toBe(8000); // capped
    expect(backoffDelay(10, opts, () => 0)).toBe(4000);
    expect(DEFAULT_BACKOFF.maxMs).toBeGreaterThan(DEFAULT_BACKOFF.initialMs);
  });
});

describe('NotifierClient', () => {
  it('sends registerImage once open, and immediately when already open', () => {
    const { client } = setup();
    client.connect();
    const ws = FakeWebSocket.last;
    expect(ws.url).toBe('ws://example.test/ws');
    client.register('img-1'); // not open yet: queued
    expect(ws.sent).toHaveLength(0);
    ws.serverOpen();
    expect(ws.messages).toEqual([{ action: 'registerImage', imageId: 'img-1' }]);
    client.register('img-2');
    expect(ws.messages[1]).toEqual({ action: 'registerImage', imageId: 'img-2' });
    client.unregister('img-2');
    expect(ws.messages[2]).toEqual({ action: 'unregisterImage', imageId: 'img-2' });
    expect(client.pendingIds).toEqual(['img-1']);
  });

  it('reports connection states', () => {
    const { client, events } = setup();
    client.connect();
    FakeWebSocket.last.serverOpen();
    expect(client.connected).toBe(true);
    expect(events.filter((e) => e.type === 'connection').map((e) => (e as { state: string }).state)).toEqual([
      'connecting',
      'connected',
    ]);
  });

  it('reconnects with exponential backoff and re-registers every pending image', () => {
    const { client, timers, events } = setup(() => 0.5);
    client.connect();
    const first = FakeWebSocket.last;
    first.serverOpen();
    client.register('a');
    client.register('b');
    client.register('c');
    // c finishes: it must not be re-registered later.
    first.serverSend({ type: 'imageProcessed', imageId: 'c', status: 'COMPLETED', variants: {} });

    first.serverClose(1006);
    expect(client.state).toBe('reconnecting');
    // attempt 0: 1000ms * jitter(0.5) -> 750ms
    expect(timers.pendingDelays).toEqual([750]);
    timers.advance(749);
    expect(FakeWebSocket.instances).toHaveLength(1);
    timers.advance(1);
    expect(FakeWebSocket.instances).toHaveLength(2);

    // Server still down: the next delay doubles.
    FakeWebSocket.last.fail();
    expect(timers.pendingDelays).toEqual([1500]);
    timers.advance(1500);
    FakeWebSocket.last.fail();
    expect(timers.pendingDelays).toEqual([3000]);
    expect(client.state).toBe('offline');
    timers.advance(3000);
    FakeWebSocket.last.fail();
    timers.advance(6000);
    FakeWebSocket.last.fail();
    expect(timers.pendingDelays).toEqual([6000]); // capped at maxMs 8000 -> [4000, 8000]

    timers.advance(6000);
    const latest = FakeWebSocket.last;
    expect(FakeWebSocket.instances).toHaveLength(6);
    latest.serverOpen();
    expect(client.state).toBe('connected');
    expect(latest.messages).toEqual([
      { action: 'registerImage', imageId: 'a' },
      { action: 'registerImage', imageId: 'b' },
    ]);
    expect(events.some((e) => e.type === 'connection' && e.state === 'reconnecting')).toBe(true);

    // After a successful open the backoff starts over.
    latest.serverClose(1006);
    expect(timers.pendingDelays).toEqual([750]);
  });

  it('treats close code 1001 (going away) as a reason to reconnect promptly', () => {
    const { client, timers } = setup(() => 0);
    client.connect();
    FakeWebSocket.last.fail();
    timers.advance(10_000);
    FakeWebSocket.last.fail();
    timers.advance(10_000);
    FakeWebSocket.last.serverOpen();
    client.register('x');
    FakeWebSocket.last.serverClose(1001, 'replica going away');
    expect(timers.pendingDelays).toEqual([500]);
    timers.advance(500);
    FakeWebSocket.last.serverOpen();
    expect(FakeWebSocket.last.messages).toEqual([{ action: 'registerImage', imageId: 'x' }]);
  });

  it('does not reconnect after close()', () => {
    const { client, timers } = setup();
    client.connect();
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    client.close();
    expect(ws.closedByClient?.code).toBe(1000);
    timers.advance(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(client.state).toBe('closed');
  });

  it('emits a terminal event delivered twice only once, and unregisters the image', () => {
    const { client, events } = setup();
    client.connect();
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    client.register('img');
    const variants = { thumbnail: { url: 'http://s3/t.jpg', width: 10, height: 8, contentType: 'image/jpeg', bytes: 99 } };
    const frame = { type: 'imageProcessed', imageId: 'img', status: 'COMPLETED', variants };
    ws.serverSend(frame);
    ws.serverSend(frame);
    ws.serverSend({ type: 'imageFailed', imageId: 'img', status: 'FAILED', error: { code: 'x', message: 'y' } });
    ws.serverSend({ type: 'status', imageId: 'img', status: 'PROCESSING' });
    const got = nonConnection(events);
    expect(got).toEqual([{ type: 'imageProcessed', imageId: 'img', status: 'COMPLETED', variants }]);
    expect(client.pendingIds).toEqual([]);
    expect(ws.messages.at(-1)).toEqual({ action: 'unregisterImage', imageId: 'img' });
  });

  it('dedups status events and never lets status go backwards', () => {
    const { client, events } = setup();
    client.connect();
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    client.register('img');
    ws.serverSend({ type: 'status', imageId: 'img', status: 'PROCESSING' });
    ws.serverSend({ type: 'status', imageId: 'img', status: 'PROCESSING' });
    ws.serverSend({ type: 'status', imageId: 'img', status: 'PENDING_UPLOAD' });
    ws.serverSend({ type: 'registered', imageId: 'img' });
    expect(nonConnection(events)).toEqual([
      { type: 'status', imageId: 'img', status: 'PROCESSING' },
      { type: 'registered', imageId: 'img' },
    ]);
  });

  it('delivers imageFailed with the server error', () => {
    const { client, events } = setup();
    client.connect();
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    client.register('bad');
    ws.serverSend({
      type: 'imageFailed',
      imageId: 'bad',
      status: 'FAILED',
      error: { code: 'corrupt_image', message: 'cannot identify image file' },
    });
    ws.serverSend({
      type: 'imageFailed',
      imageId: 'bad',
      status: 'FAILED',
      error: { code: 'corrupt_image', message: 'cannot identify image file' },
    });
    expect(nonConnection(events)).toEqual([
      {
        type: 'imageFailed',
        imageId: 'bad',
        status: 'FAILED',
        error: { code: 'corrupt_image', message: 'cannot identify image file' },
      },
    ]);
  });

  it('surfaces error frames and unparseable frames as error events', () => {
    const { client, events } = setup();
    client.connect();
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    ws.serverSend({ type: 'error', code: 'unknown_image', message: 'no such image', imageId: 'zzz' });
    ws.serverSend('this is not json');
    expect(nonConnection(events)).toEqual([
      { type: 'error', code: 'unknown_image', message: 'no such image', imageId: 'zzz' },
      { type: 'error', code: 'bad_frame', message: 'The notifier sent a message that is not JSON.' },
    ]);
    expect(client.connected).toBe(true);
  });

  it('ignores late socket events for an image the poller already finished', () => {
    const { client, events } = setup();
    client.connect();
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    client.register('p');
    client.markTerminal('p');
    ws.serverSend({ type: 'imageProcessed', imageId: 'p', status: 'COMPLETED', variants: {} });
    expect(nonConnection(events)).toEqual([]);
    expect(ws.messages.at(-1)).toEqual({ action: 'unregisterImage', imageId: 'p' });
  });

  it('keeps delivering to other listeners when one throws', () => {
    const { client } = setup();
    const seen: string[] = [];
    const origError = console.error;
    console.error = () => {};
    try {
      client.on(() => {
        throw new Error('boom');
      });
      client.on((e) => seen.push(e.type));
      client.connect();
      FakeWebSocket.last.serverOpen();
    } finally {
      console.error = origError;
    }
    expect(seen).toContain('connection');
  });
});

describe('NotifierClient with authentication', () => {
  function authSetup(initial: string | null, refreshTo: Array<string | null> = []) {
    let current = initial;
    const refreshCalls: string[] = [];
    const auth = {
      get accessToken() {
        return current;
      },
      refreshAfterReject: async (rejected: string) => {
        refreshCalls.push(rejected);
        if (current && current !== rejected) return current;
        current = refreshTo.length ? (refreshTo.shift() ?? null) : null;
        return current;
      },
    };
    const timers = new FakeTimers();
    const client = new NotifierClient({
      url: 'ws://example.test/ws',
      WebSocket: FakeWebSocket,
      timers,
      random: () => 0.5,
      backoff: { initialMs: 1000, maxMs: 8000, factor: 2 },
      auth,
    });
    const events: NotifierEvent[] = [];
    client.on((e) => events.push(e));
    return { client, timers, events, refreshCalls, setToken: (t: string) => (current = t) };
  }
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  const states = (events: NotifierEvent[]) =>
    events.filter((e) => e.type === 'connection').map((e) => (e as { state: string }).state);

  it('sends authenticate first and registers only after "authenticated"', async () => {
    const { client, events } = authSetup('at-1');
    client.connect();
    client.register('img-1');
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    await settle();
    expect(ws.messages).toEqual([{ action: 'authenticate', token: 'at-1' }]);
    expect(client.connected).toBe(false);
    client.register('img-2'); // still waiting for the answer: queued
    expect(ws.messages).toHaveLength(1);
    ws.serverSend({ type: 'authenticated', userId: 'u1' });
    expect(client.connected).toBe(true);
    expect(states(events)).toEqual(['connecting', 'connected']);
    expect(ws.messages.slice(1)).toEqual([
      { action: 'registerImage', imageId: 'img-1' },
      { action: 'registerImage', imageId: 'img-2' },
    ]);
    expect(events).toContainEqual({ type: 'authenticated', userId: 'u1' });
  });

  it('re-authenticates on the open socket after a refresh, without re-registering', async () => {
    const { client } = authSetup('at-1');
    client.connect();
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    await settle();
    ws.serverSend({ type: 'authenticated', userId: 'u1' });
    client.register('img-1');
    client.reauthenticate('at-2');
    ws.serverSend({ type: 'authenticated', userId: 'u1' });
    expect(ws.messages).toEqual([
      { action: 'authenticate', token: 'at-1' },
      { action: 'registerImage', imageId: 'img-1' },
      { action: 'authenticate', token: 'at-2' },
    ]);
  });

  it('on token_expired + close 4001: refreshes, reconnects at once, authenticates, re-registers', async () => {
    const { client, timers, events, refreshCalls } = authSetup('at-1', ['at-2']);
    client.connect();
    const first = FakeWebSocket.last;
    first.serverOpen();
    await settle();
    first.serverSend({ type: 'authenticated', userId: 'u1' });
    client.register('img-1');
    first.serverSend({ type: 'error', code: 'token_expired', message: 'Token expired' });
    first.serverClose(4001, 'token expired');
    await settle();
    expect(refreshCalls).toEqual(['at-1']);
    expect(timers.pendingDelays).toEqual([]); // no backoff wait
    expect(FakeWebSocket.instances).toHaveLength(2);
    const second = FakeWebSocket.last;
    second.serverOpen();
    await settle();
    expect(second.messages).toEqual([{ action: 'authenticate', token: 'at-2' }]);
    second.serverSend({ type: 'authenticated', userId: 'u1' });
    expect(second.messages[1]).toEqual({ action: 'registerImage', imageId: 'img-1' });
    expect(client.connected).toBe(true);
    // The token_expired frame is handled, not shown as an error.
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
  });

  it('closes for good when no fresh token can be had (signed out)', async () => {
    const { client, timers } = authSetup('at-1', [null]);
    client.connect();
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    await settle();
    ws.serverSend({ type: 'authenticated', userId: 'u1' });
    ws.serverClose(4001, 'token expired');
    await settle();
    expect(client.state).toBe('closed');
    timers.advance(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it('an "unauthenticated" answer gets a refreshed token on the same socket, then backs off after repeated refusals', async () => {
    const { client, timers, events } = authSetup('at-1', ['at-2', 'at-3', 'at-4']);
    client.connect();
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    await settle();
    ws.serverSend({ type: 'error', code: 'unauthenticated', message: 'bad token' });
    await settle();
    expect(ws.messages.at(-1)).toEqual({ action: 'authenticate', token: 'at-2' });
    ws.serverSend({ type: 'error', code: 'unauthenticated', message: 'bad token' });
    await settle();
    expect(ws.messages.at(-1)).toEqual({ action: 'authenticate', token: 'at-3' });
    ws.serverSend({ type: 'error', code: 'unauthenticated', message: 'bad token' });
    await settle();
    // Third refusal in a row: give up on this socket and reconnect with backoff; now it is visible.
    expect(ws.closedByClient).not.toBeNull();
    expect(timers.pendingDelays).toEqual([750]);
    expect(events.filter((e) => e.type === 'error').map((e) => (e as { code: string }).code)).toEqual(['unauthenticated']);
  });

  it('emits imageDeleted once and ignores later events for that image', async () => {
    const { client, events } = authSetup('at-1');
    client.connect();
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    await settle();
    ws.serverSend({ type: 'authenticated', userId: 'u1' });
    client.register('img-1');
    ws.serverSend({ type: 'imageDeleted', imageId: 'img-1' });
    ws.serverSend({ type: 'imageDeleted', imageId: 'img-1' });
    ws.serverSend({ type: 'imageProcessed', imageId: 'img-1', status: 'COMPLETED', variants: {} });
    expect(nonConnection(events).filter((e) => e.type !== 'authenticated')).toEqual([{ type: 'imageDeleted', imageId: 'img-1' }]);
    expect(client.pendingIds).toEqual([]);
  });

  it('gives up on a socket whose authenticate is never answered', async () => {
    const { client, timers, events } = authSetup('at-1');
    client.connect();
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    await settle();
    timers.advance(10_000);
    expect(ws.closedByClient).not.toBeNull();
    expect(events.some((e) => e.type === 'error' && e.code === 'auth_timeout')).toBe(true);
    expect(client.state).toBe('reconnecting');
  });
});
