import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from './App';
import { REFRESH_TOKEN_KEY } from './lib/auth';
import { FakeWebSocket } from './test/fakes';

const variants = {
  thumbnail: { url: 'http://s3.test/t.jpg', width: 256, height: 171, contentType: 'image/jpeg', bytes: 8123 },
  resized: { url: 'http://s3.test/r.jpg', width: 1024, height: 683, contentType: 'image/jpeg', bytes: 91234 },
  grayscale: { url: 'http://s3.test/g.jpg', width: 1024, height: 683, contentType: 'image/jpeg', bytes: 71234 },
};

class AutoXhr {
  static sent: FormData[] = [];
  upload: { onprogress: ((ev: ProgressEvent) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  ontimeout: (() => void) | null = null;
  status = 0;
  responseText = '';
  open() {}
  send(body: FormData) {
    AutoXhr.sent.push(body);
    setTimeout(() => {
      this.upload.onprogress?.({ loaded: 3, total: 6, lengthComputable: true } as ProgressEvent);
      this.status = 204;
      this.onload?.();
    }, 0);
  }
  abort() {}
}

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

let fetchMock: ReturnType<typeof vi.fn>;
/** Per-test overrides: return a Response to answer, or undefined for the default route. */
let override: ((url: string, init: RequestInit | undefined) => Response | undefined) | null = null;

const img1 = { imageId: 'img-1', status: 'COMPLETED', originalFilename: 'cat.jpg', variants, metadata: { dominantColor: '#336699' }, ownerId: 'u1', visibility: 'private' };
const img2 = { imageId: 'img-2', status: 'COMPLETED', originalFilename: 'dog.jpg', variants, metadata: {}, ownerId: 'u1', visibility: 'public' };

function authHeader(init: RequestInit | undefined): string | undefined {
  return (init?.headers as Record<string, string> | undefined)?.Authorization;
}

beforeEach(() => {
  FakeWebSocket.reset();
  AutoXhr.sent = [];
  window.location.hash = '';
  localStorage.clear();
  override = null;
  vi.stubGlobal('WebSocket', FakeWebSocket);
  vi.stubGlobal('XMLHttpRequest', AutoXhr);
  URL.createObjectURL = vi.fn(() => 'blob:preview');
  URL.revokeObjectURL = vi.fn();
  fetchMock = vi.fn(async (url: string, init?: RequestInit) => {
    const o = override?.(url, init);
    if (o) return o;
    const method = init?.method ?? 'GET';
    if (url === '/api/auth/refresh' || url === '/api/auth/sign-in') {
      return json(200, { accessToken: 'at-1', idToken: 'id-1', refreshToken: 'rt-1', expiresIn: 3600, tokenType: 'Bearer' });
    }
    if (url === '/api/me') return json(200, { userId: 'u1', email: 'ann@example.com', groups: [] });
    if (url === '/api/upload-request') {
      return json(201, { imageId: 'img-1', upload: { url: 'http://s3.test/bucket', fields: { key: 'uploads/img-1' } }, expiresAt: 'x', maxBytes: 26214400 });
    }
    if (url.startsWith('/api/me/images')) return json(200, { items: [img1, img2], nextCursor: null });
    if (url === '/api/image/img-1' && method === 'PATCH') {
      const body = JSON.parse(String(init?.body)) as { visibility: string };
      return json(200, { ...img1, visibility: body.visibility });
    }
    if (url.startsWith('/api/image/') && method === 'DELETE') return new Response(null, { status: 204 });
    if (url === '/api/image/img-1') {
      return json(200, {
        imageId: 'img-1',
        status: 'COMPLETED',
        originalFilename: 'cat.jpg',
        variants,
        metadata: { width: 4000, height: 2667, dominantColor: '#336699', exif: { make: 'Canon', model: 'EOS 5D', dateTaken: '2021:07:04 10:11:12' } },
        error: null,
      });
    }
    if (url.startsWith('/api/get-all-images')) {
      return json(200, {
        items: [{ imageId: 'img-1', status: 'COMPLETED', originalFilename: 'cat.jpg', variants, metadata: { dominantColor: '#336699' } }],
        nextCursor: url.includes('cursor=') ? null : 'next-page',
      });
    }
    return json(404, { error: 'not_found', message: `no route ${method} ${url}` });
  });
  vi.stubGlobal('fetch', fetchMock);
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  localStorage.clear();
});

async function tick(ms = 0) {
  await act(async () => {
    await new Promise((r) => setTimeout(r, ms));
  });
}

const calls = () => fetchMock.mock.calls.map((c) => `${(c[1] as RequestInit | undefined)?.method ?? 'GET'} ${String(c[0])}`);

/** Render with a stored session (restored through /auth/refresh) and an authenticated socket. */
async function renderSignedIn(hash = '') {
  localStorage.setItem(REFRESH_TOKEN_KEY, 'rt-1');
  window.location.hash = hash;
  render(<App />);
  await waitFor(() => expect(FakeWebSocket.instances).toHaveLength(1));
  const ws = FakeWebSocket.last;
  act(() => ws.serverOpen());
  await tick();
  expect(ws.messages[0]).toEqual({ action: 'authenticate', token: 'at-1' });
  act(() => ws.serverSend({ type: 'authenticated', userId: 'u1' }));
  await tick();
  return ws;
}

describe('App', () => {
  it('signed out: the upload page shows a sign-in prompt and the public gallery, and opens no socket', async () => {
    render(<App />);
    await tick(5);
    expect(screen.getByTestId('signin-prompt')).toBeTruthy();
    expect(screen.queryByTestId('file-input')).toBeNull();
    expect(screen.queryByTestId('connection-status')).toBeNull();
    expect(screen.getAllByTestId('gallery-item')).toHaveLength(1);
    expect(screen.getByTestId('nav-signin').getAttribute('href')).toBe('#/signin');
    expect(FakeWebSocket.instances).toHaveLength(0);
    expect(authHeader(fetchMock.mock.calls[0]![1] as RequestInit)).toBeUndefined();
  });

  it('uploads a file, registers before the S3 POST, and shows the result', async () => {
    const ws = await renderSignedIn();
    expect(ws.url).toBe(`ws://${window.location.host}/ws`);
    expect(screen.getByTestId('connection-status').textContent).toBe('connected');
    expect(screen.getByTestId('user-email').textContent).toBe('ann@example.com');

    const input = screen.getByTestId('file-input') as HTMLInputElement;
    const file = new File([new Uint8Array(6)], 'cat.jpg', { type: 'image/jpeg' });
    await act(async () => {
      fireEvent.change(input, { target: { files: [file] } });
      await Promise.resolve();
    });
    await tick();
    expect(ws.messages[1]).toEqual({ action: 'registerImage', imageId: 'img-1' });
    const uploadCall = fetchMock.mock.calls.find((c) => c[0] === '/api/upload-request')!;
    expect(authHeader(uploadCall[1] as RequestInit)).toBe('Bearer at-1');
    expect(JSON.parse(String((uploadCall[1] as RequestInit).body))).toEqual({ filename: 'cat.jpg', contentType: 'image/jpeg', size: 6 });
    await tick(5);
    expect(AutoXhr.sent).toHaveLength(1);
    const item = screen.getByTestId('upload-item');
    expect(item.getAttribute('data-image-id')).toBe('img-1');
    expect(item.getAttribute('data-status')).toBe('queued');

    act(() => ws.serverSend({ type: 'status', imageId: 'img-1', status: 'PROCESSING' }));
    expect(item.getAttribute('data-status')).toBe('processing');
    expect(within(item).getByTestId('status').textContent).toBe('processing');

    act(() => ws.serverSend({ type: 'imageProcessed', imageId: 'img-1', status: 'COMPLETED', variants }));
    act(() => ws.serverSend({ type: 'imageProcessed', imageId: 'img-1', status: 'COMPLETED', variants }));
    await tick();
    expect(item.getAttribute('data-status')).toBe('done');
    for (const v of ['thumbnail', 'resized', 'grayscale']) {
      const img = within(item).getByTestId(`variant-${v}`) as HTMLImageElement;
      expect(img.alt).toMatch(/cat\.jpg/);
    }
    expect(item.textContent).toContain('1024×683 px');
    expect(item.textContent).toContain('Canon EOS 5D');
    expect(item.textContent).toContain('#336699');
    expect(fetchMock.mock.calls.filter((c) => c[0] === '/api/image/img-1')).toHaveLength(1);

    // Deleted in another tab: it vanishes from the upload list.
    act(() => ws.serverSend({ type: 'imageDeleted', imageId: 'img-1' }));
    expect(screen.queryByTestId('upload-item')).toBeNull();
  });

  it('sends visibility "public" when the upload option is checked', async () => {
    await renderSignedIn();
    fireEvent.click(screen.getByTestId('upload-public'));
    await act(async () => {
      fireEvent.change(screen.getByTestId('file-input'), { target: { files: [new File([new Uint8Array(6)], 'cat.jpg', { type: 'image/jpeg' })] } });
    });
    await tick();
    const uploadCall = fetchMock.mock.calls.find((c) => c[0] === '/api/upload-request')!;
    expect(JSON.parse(String((uploadCall[1] as RequestInit).body))).toMatchObject({ visibility: 'public' });
  });

  it('rejects an unsupported file with a visible reason', async () => {
    await renderSignedIn();
    const before = fetchMock.mock.calls.length;
    const input = screen.getByTestId('file-input');
    await act(async () => {
      fireEvent.change(input, { target: { files: [new File(['%PDF'], 'doc.pdf', { type: 'application/pdf' })] } });
    });
    const item = screen.getByTestId('upload-item');
    expect(item.getAttribute('data-status')).toBe('rejected');
    expect(within(item).getByTestId('error-message').textContent).toMatch(/not a supported image/);
    expect(fetchMock.mock.calls.length).toBe(before);
  });

  it('shows a server failure reason', async () => {
    const ws = await renderSignedIn();
    await act(async () => {
      fireEvent.change(screen.getByTestId('file-input'), { target: { files: [new File([new Uint8Array(6)], 'bad.jpg', { type: 'image/jpeg' })] } });
    });
    await tick(5);
    act(() =>
      ws.serverSend({ type: 'imageFailed', imageId: 'img-1', status: 'FAILED', error: { code: 'corrupt_image', message: 'cannot identify image file' } }),
    );
    const item = screen.getByTestId('upload-item');
    expect(item.getAttribute('data-status')).toBe('failed');
    const msg = within(item).getByTestId('error-message').textContent ?? '';
    expect(msg).toContain('cannot identify image file');
    expect(msg).toMatch(/could not be read as an image/);
  });

  it('shows quota and rate-limit refusals with friendly wording', async () => {
    override = (url) =>
      url === '/api/upload-request'
        ? new Response(JSON.stringify({ error: 'rate_limited', message: 'Upload rate exceeded' }), { status: 429, headers: { 'Retry-After': '20' } })
        : undefined;
    await renderSignedIn();
    await act(async () => {
      fireEvent.change(screen.getByTestId('file-input'), { target: { files: [new File([new Uint8Array(6)], 'cat.jpg', { type: 'image/jpeg' })] } });
    });
    await tick(5);
    const msg = within(screen.getByTestId('upload-item')).getByTestId('error-message').textContent ?? '';
    expect(msg).toContain('try again in 20 seconds');
    expect(msg).toContain('Upload rate exceeded');
  });

  it('lists the public gallery with load more and opens the detail view (signed out)', async () => {
    window.location.hash = '#/gallery';
    render(<App />);
    await tick(5);
    expect(screen.getAllByTestId('gallery-item')).toHaveLength(1);
    expect(screen.getByTestId('gallery-item').getAttribute('data-image-id')).toBe('img-1');
    await act(async () => {
      screen.getByTestId('load-more').click();
    });
    await tick();
    expect(screen.queryByTestId('load-more')).toBeNull();
    expect(fetchMock.mock.calls.map((c) => c[0])).toContain('/api/get-all-images?limit=24&cursor=next-page');

    window.location.hash = '#/image/img-1';
    await tick(5);
    const detail = screen.getByTestId('image-detail');
    expect(within(detail).getByTestId('variant-grayscale')).toBeTruthy();
    expect(detail.textContent).toContain('4000 × 2667 px');
  });

  it('signs in through the form and goes on to the page that asked for it', async () => {
    window.location.hash = '#/mine';
    render(<App />);
    await tick(5);
    const prompt = screen.getByTestId('signin-prompt');
    const link = within(prompt).getByTestId('signin-link').getAttribute('href')!;
    expect(link).toBe('#/signin?next=%23%2Fmine');
    window.location.hash = link;
    await tick(5);
    fireEvent.change(screen.getByTestId('auth-email'), { target: { value: 'ann@example.com' } });
    fireEvent.change(screen.getByTestId('auth-password'), { target: { value: 'correct horse' } });
    await act(async () => {
      fireEvent.click(screen.getByTestId('auth-submit'));
    });
    await tick(5);
    expect(window.location.hash).toBe('#/mine');
    await tick(5);
    expect(screen.getByTestId('user-email').textContent).toBe('ann@example.com');
    expect(screen.getAllByTestId('my-image-item')).toHaveLength(2);
    expect(localStorage.getItem(REFRESH_TOKEN_KEY)).toBe('rt-1');
    expect(calls()).toContain('GET /api/me/images?limit=24');
  });

  it('My images: visibility switch and delete with confirmation', async () => {
    const ws = await renderSignedIn('#/mine');
    await tick(5);
    const items = screen.getAllByTestId('my-image-item');
    expect(items.map((i) => i.getAttribute('data-image-id'))).toEqual(['img-1', 'img-2']);
    const first = items[0]!;
    const sw = within(first).getByTestId('visibility-switch');
    expect(sw.getAttribute('role')).toBe('switch');
    expect(sw.getAttribute('aria-checked')).toBe('false');

    await act(async () => {
      fireEvent.click(sw);
    });
    await tick();
    const patch = fetchMock.mock.calls.find((c) => (c[1] as RequestInit | undefined)?.method === 'PATCH')!;
    expect(patch[0]).toBe('/api/image/img-1');
    expect(JSON.parse(String((patch[1] as RequestInit).body))).toEqual({ visibility: 'public' });
    expect(authHeader(patch[1] as RequestInit)).toBe('Bearer at-1');
    expect(screen.getAllByTestId('my-image-item')[0]!.getAttribute('data-visibility')).toBe('public');
    expect(within(screen.getAllByTestId('my-image-item')[0]!).getByTestId('visibility-switch').getAttribute('aria-checked')).toBe('true');
    expect(screen.getByTestId('mine-announcement').textContent).toBe('cat.jpg is now public.');

    // Delete: the dialog asks first; Cancel keeps the image.
    fireEvent.click(within(screen.getAllByTestId('my-image-item')[0]!).getByTestId('delete-image'));
    const dialog = screen.getByTestId('confirm-dialog');
    expect(dialog.getAttribute('role')).toBe('alertdialog');
    expect(document.activeElement).toBe(within(dialog).getByTestId('confirm-cancel'));
    fireEvent.click(within(dialog).getByTestId('confirm-cancel'));
    expect(screen.queryByTestId('confirm-dialog')).toBeNull();
    expect(calls().some((c) => c.startsWith('DELETE'))).toBe(false);

    fireEvent.click(within(screen.getAllByTestId('my-image-item')[0]!).getByTestId('delete-image'));
    await act(async () => {
      fireEvent.click(within(screen.getByTestId('confirm-dialog')).getByTestId('confirm-ok'));
    });
    await tick();
    expect(calls()).toContain('DELETE /api/image/img-1');
    expect(screen.queryByTestId('confirm-dialog')).toBeNull();
    expect(screen.getAllByTestId('my-image-item').map((i) => i.getAttribute('data-image-id'))).toEqual(['img-2']);
    expect(screen.getByTestId('mine-announcement').textContent).toBe('cat.jpg was deleted.');

    // Deleted in another tab: the socket says so and it vanishes here too.
    act(() => ws.serverSend({ type: 'imageDeleted', imageId: 'img-2' }));
    expect(screen.queryAllByTestId('my-image-item')).toHaveLength(0);
    expect(screen.getByTestId('mine-empty')).toBeTruthy();
  });

  it('My images: a refused change is shown on the item, and Escape closes the dialog', async () => {
    override = (url, init) =>
      init?.method === 'PATCH' && url === '/api/image/img-1'
        ? json(429, { error: 'rate_limited', message: 'Slow down' })
        : undefined;
    await renderSignedIn('#/mine');
    await tick(5);
    const first = screen.getAllByTestId('my-image-item')[0]!;
    await act(async () => {
      fireEvent.click(within(first).getByTestId('visibility-switch'));
    });
    await tick();
    expect(within(first).getByTestId('my-image-error').textContent).toContain('Slow down');
    expect(first.getAttribute('data-visibility')).toBe('private');

    fireEvent.click(within(first).getByTestId('delete-image'));
    fireEvent.keyDown(screen.getByTestId('confirm-dialog'), { key: 'Escape' });
    expect(screen.queryByTestId('confirm-dialog')).toBeNull();
  });

  it('signs out when the token cannot be refreshed, and shows the sign-in screen', async () => {
    await renderSignedIn('#/mine');
    await tick(5);
    override = (url) => {
      if (url === '/api/auth/refresh') return json(401, { error: 'invalid_refresh_token', message: 'Refresh token revoked' });
      if (url.startsWith('/api/me/images')) return json(401, { error: 'unauthenticated', message: 'Token expired' });
      return undefined;
    };
    await act(async () => {
      fireEvent.click(screen.getByTestId('mine-refresh'));
    });
    await tick(5);
    expect(window.location.hash).toBe('#/signin?next=%23%2Fmine');
    await tick(5);
    expect(screen.getByTestId('auth-form')).toBeTruthy();
    expect(screen.getByTestId('session-notice').textContent).toMatch(/session has ended/);
    expect(localStorage.getItem(REFRESH_TOKEN_KEY)).toBeNull();
    expect(screen.queryByTestId('connection-status')).toBeNull();
    expect(FakeWebSocket.last.closedByClient).not.toBeNull();
  });

  it('Sign out ends the session and closes the socket', async () => {
    const ws = await renderSignedIn();
    fireEvent.click(screen.getByTestId('sign-out'));
    await tick();
    expect(ws.closedByClient).toEqual({ code: 1000, reason: 'client closing' });
    expect(localStorage.getItem(REFRESH_TOKEN_KEY)).toBeNull();
    expect(screen.getByTestId('signin-prompt')).toBeTruthy();
    expect(screen.queryByTestId('user-email')).toBeNull();
  });
});
