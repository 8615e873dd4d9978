import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from './App';
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

beforeEach(() => {
  FakeWebSocket.reset();
  AutoXhr.sent = [];
  window.location.hash = '';
  vi.stubGlobal('WebSocket', FakeWebSocket);
  vi.stubGlobal('XMLHttpRequest', AutoXhr);
  URL.createObjectURL = vi.fn(() => 'blob:preview');
  URL.revokeObjectURL = vi.fn();
  fetchMock = vi.fn(async (url: string) => {
    if (url === '/api/upload-request') {
      return json(201, { imageId: 'img-1', upload: { url: 'http://s3.test/bucket', fields: { key: 'uploads/img-1' } }, expiresAt: 'x', maxBytes: 26214400 });
    }
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
    return json(404, { error: 'not_found', message: `no route ${url}` });
  });
  vi.stubGlobal('fetch', fetchMock);
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

async function tick(ms = 0) {
  await act(async () => {
    await new Promise((r) => setTimeout(r, ms));
  });
}

describe('App', () => {
  it('uploads a file, registers before the S3 POST, and shows the result', async () => {
    render(<App />);
    await tick();
    const ws = FakeWebSocket.last;
    expect(ws.url).toBe(`ws://${window.location.host}/ws`);
    act(() => ws.serverOpen());
    expect(screen.getByTestId('connection-status').textContent).toBe('connected');

    const input = screen.getByTestId('file-input') as HTMLInputElement;
    const file = new File([new Uint8Array(6)], 'cat.jpg', { type: 'image/jpeg' });
    await act(async () => {
      fireEvent.change(input, { target: { files: [file] } });
      await Promise.resolve();
    });
    await tick();
    expect(ws.messages[0]).toEqual({ action: 'registerImage', imageId: 'img-1' });
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
  });

  it('rejects an unsupported file with a visible reason', async () => {
    render(<App />);
    await tick();
    const input = screen.getByTestId('file-input');
    await act(async () => {
      fireEvent.change(input, { target: { files: [new File(['%PDF'], 'doc.pdf', { type: 'application/pdf' })] } });
    });
    const item = screen.getByTestId('upload-item');
    expect(item.getAttribute('data-status')).toBe('rejected');
    expect(within(item).getByTestId('error-message').textContent).toMatch(/not a supported image/);
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it('shows a server failure reason', async () => {
    render(<App />);
    await tick();
    const ws = FakeWebSocket.last;
    act(() => ws.serverOpen());
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

  it('lists the gallery with load more and opens the detail view', async () => {
    render(<App />);
    await tick();
    act(() => {
      screen.getByTestId('nav-gallery').click();
    });
    window.location.hash = '#/gallery';
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
});
