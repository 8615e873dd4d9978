/**
 * Wires the pieces together for the upload page (no React here):
 * validate -> POST /upload-request -> register with the notifier -> S3 POST -> live status
 * (socket events, or the polling fallback) -> GET /image for the full record.
 */
import { toServerError, type SnapQueueApi } from './api';
import type { NotifierClient, NotifierEvent } from './socket';
import type { StatusPoller } from './poller';
import type { UploadAction } from './state';
import type { ImageRecord, ImageStatus, Visibility } from './types';
import type { UploadOptions } from './upload';
import { DEFAULT_MAX_BYTES, validateFile } from './validate';

export type UploadFn = (
  url: string,
  fields: Record<string, string>,
  file: Blob,
  filename: string | undefined,
  options: UploadOptions,
) => Promise<void>;

export interface PipelineDeps {
  api: Pick<SnapQueueApi, 'requestUpload' | 'getImage'>;
  notifier: Pick<NotifierClient, 'register' | 'unregister' | 'markTerminal' | 'on' | 'connected'>;
  poller: Pick<StatusPoller, 'track' | 'uploadFinished' | 'untrack' | 'setSocketConnected'>;
  upload: UploadFn;
  dispatch: (action: UploadAction) => void;
  /** Errors not tied to one file (e.g. an error frame from the notifier). */
  onGlobalError?: (error: { code: string; message: string }) => void;
}

export class UploadPipeline {
  private maxBytes = DEFAULT_MAX_BYTES;
  private unsubscribe: () => void;
  private fetchingRecord = new Set<string>();
  private controllers = new Map<string, AbortController>();

  constructor(private readonly deps: PipelineDeps) {
    this.unsubscribe = deps.notifier.on((e) => this.onNotifierEvent(e));
    deps.poller.setSocketConnected(deps.notifier.connected);
  }

  get currentMaxBytes(): number {
    return this.maxBytes;
  }

  dispose(): void {
    this.unsubscribe();
    for (const c of this.controllers.values()) c.abort();
    this.controllers.clear();
  }

  cancel(localId: string): void {
    this.controllers.get(localId)?.abort();
  }

  /**
   * Run one file through the whole flow. Resolves when its upload has finished or failed.
   * `visibility` is sent with the upload request only when given (the server's default is private).
   */
  async start(localId: string, file: File, options: { visibility?: Visibility } = {}): Promise<void> {
    const { api, notifier, poller, upload, dispatch } = this.deps;
    const check = validateFile(file, this.maxBytes);
    if (!check.ok) {
      dispatch({ type: 'rejected', localId, error: { code: check.code, message: check.message } });
      return;
    }
    const controller = new AbortController();
    this.controllers.set(localId, controller);
    let imageId: string | null = null;
    try {
      const ticket = await api.requestUpload(
        {
          filename: file.name,
          contentType: check.contentType,
          size: file.size,
          ...(options.visibility ? { visibility: options.visibility } : {}),
        },
        controller.signal,
      );
      imageId = ticket.imageId;
      if (Number.isFinite(ticket.maxBytes) && ticket.maxBytes > 0) this.maxBytes = ticket.maxBytes;
      dispatch({ type: 'requested', localId, imageId });
      // Register BEFORE the bytes go to S3, so no event can be missed.
      notifier.register(imageId);
      poller.track(imageId);
      await upload(ticket.upload.url, ticket.upload.fields, file, file.name, {
        signal: controller.signal,
        onProgress: (p) => dispatch({ type: 'progress', localId, loaded: p.loaded, total: p.total }),
      });
      dispatch({ type: 'uploaded', localId });
      poller.uploadFinished(imageId);
    } catch (err) {
      dispatch({ type: 'uploadFailed', localId, error: toServerError(err) });
      if (imageId) {
        notifier.unregister(imageId);
        poller.untrack(imageId);
      }
    } finally {
      this.controllers.delete(localId);
    }
  }

  private onNotifierEvent(e: NotifierEvent): void {
    const { dispatch, poller } = this.deps;
    switch (e.type) {
      case 'connection':
        poller.setSocketConnected(e.state === 'connected');
        return;
      case 'status':
        dispatch({ type: 'serverStatus', imageId: e.imageId, status: e.status });
        return;
      case 'imageProcessed':
        poller.untrack(e.imageId);
        dispatch({ type: 'processed', imageId: e.imageId, variants: e.variants });
        this.fetchRecord(e.imageId);
        return;
      case 'imageFailed':
        poller.untrack(e.imageId);
        dispatch({ type: 'failed', imageId: e.imageId, error: e.error });
        this.fetchRecord(e.imageId);
        return;
      case 'error':
        if (e.imageId) dispatch({ type: 'note', imageId: e.imageId, note: `Live status: ${e.message}` });
        else this.deps.onGlobalError?.({ code: e.code, message: e.message });
        return;
      case 'imageDeleted':
        // The views drop the image (App); nothing more to wait for.
        poller.untrack(e.imageId);
        return;
      case 'registered':
      case 'authenticated':
        return;
    }
  }

  /** Status reported by the poller. */
  onPolledStatus(imageId: string, status: ImageStatus): void {
    this.deps.dispatch({ type: 'serverStatus', imageId, status });
    this.deps.dispatch({ type: 'note', imageId, note: null });
  }

  /** Full record from the poller (terminal). */
  onPolledRecord(record: ImageRecord): void {
    this.deps.notifier.markTerminal(record.imageId);
    this.deps.dispatch({ type: 'record', record });
  }

  onPollError(imageId: string, err: unknown): void {
    const e = toServerError(err);
    this.deps.dispatch({ type: 'note', imageId, note: `Status check failed (${e.message}); retrying.` });
  }

  private fetchRecord(imageId: string): void {
    if (this.fetchingRecord.has(imageId)) return;
    this.fetchingRecord.add(imageId);
    this.deps.api
      .getImage(imageId)
      .then((record) => this.deps.dispatch({ type: 'record', record }))
      .catch((err: unknown) => {
        const e = toServerError(err);
        this.deps.dispatch({ type: 'note', imageId, note: `Could not load the image details: ${e.message}` });
      })
      .finally(() => this.fetchingRecord.delete(imageId));
  }
}
