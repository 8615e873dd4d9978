/**
 * Polling fallback for live status. An image is polled with `GET /status/{id}` once its upload has
 * finished AND either the socket is down or no terminal result arrived within `lateAfterMs`. When
 * the status is terminal it fetches `GET /image/{id}` once, reports the record and stops.
 */
import { isTerminal, type ImageRecord, type ImageStatus, type StatusRecord } from './types';
import type { Timers } from './socket';

export interface PollerOptions {
  getStatus: (imageId: string) => Promise<StatusRecord>;
  getImage: (imageId: string) => Promise<ImageRecord>;
  onStatus: (imageId: string, status: ImageStatus) => void;
  onRecord: (record: ImageRecord) => void;
  onError?: (imageId: string, error: unknown) => void;
  intervalMs?: number;
  lateAfterMs?: number;
  timers?: Timers;
  now?: () => number;
}

interface Watched {
  uploadedAt: number | null;
  inFlight: boolean;
  done: boolean;
}

export class StatusPoller {
  private readonly opts: Required<Omit<PollerOptions, 'onError'>> & Pick<PollerOptions, 'onError'>;
  private watched = new Map<string, Watched>();
  private socketConnected = false;
  private timer: unknown = null;
  private stopped = false;

  constructor(options: PollerOptions) {
    this.opts = {
      intervalMs: 2000,
      lateAfterMs: 15_000,
      timers: {
        setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
        clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
      },
      now: () => Date.now(),
      ...options,
    };
  }

  /** Start watching an image (before its upload finishes; it is not polled until then). */
  track(imageId: string): void {
    if (this.watched.has(imageId)) return;
    this.watched.set(imageId, { uploadedAt: null, inFlight: false, done: false });
  }

  /** The S3 POST finished: from now on the image may be polled. */
  uploadFinished(imageId: string): void {
    const w = this.watched.get(imageId);
    if (!w || w.done) return;
    w.uploadedAt = this.opts.now();
    this.schedule();
  }

  /** A terminal result arrived by another path (socket): stop polling this image. */
  untrack(imageId: string): void {
    const w = this.watched.get(imageId);
    if (w) w.done = true;
    this.watched.delete(imageId);
  }

  setSocketConnected(connected: boolean): void {
    this.socketConnected = connected;
    if (!connected) this.schedule();
  }

  isPolling(imageId: string): boolean {
    const w = this.watched.get(imageId);
    return !!w && this.eligible(w, this.opts.now());
  }

  get trackedIds(): string[] {
    return [...this.watched.keys()];
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.opts.timers.clearTimeout(this.timer);
    this.timer = null;
    this.watched.clear();
  }

  private eligible(w: Watched, now: number): boolean {
    if (w.done || w.uploadedAt === null) return false;
    return !this.socketConnected || now - w.uploadedAt >= this.opts.lateAfterMs;
  }

  /** One timer for all images; ticks every `intervalMs` while anything is tracked after upload. */
  private schedule(): void {
    if (this.stopped || this.timer !== null) return;
    const anyUploaded = [...this.watched.values()].some((w) => !w.done && w.uploadedAt !== null);
    if (!anyUploaded) return;
    this.timer = this.opts.timers.setTimeout(() => {
      this.timer = null;
      this.tick();
      this.schedule();
    }, this.opts.intervalMs);
  }

  /** Poll every eligible image now (exposed for tests and for "check now"). */
  tick(): void {
    const now = this.opts.now();
    for (const [id, w] of this.watched) {
      if (!w.inFlight && this.eligible(w, now)) void this.pollOne(id, w);
    }
  }

  private async pollOne(imageId: string, w: Watched): Promise<void> {
    w.inFlight = true;
    try {
      const st = await this.opts.getStatus(imageId);
      if (w.done) return;
      this.opts.onStatus(imageId, st.status);
      if (isTerminal(st.status)) {
        const record = await this.opts.getImage(imageId);
        if (w.done) return;
        w.done = true;
        this.watched.delete(imageId);
        this.opts.onRecord(record);
      }
    } catch (err) {
      if (!w.done) this.opts.onError?.(imageId, err);
    } finally {
      w.inFlight = false;
    }
  }
}
