/**
 * Per-file upload state. The phase only moves forward:
 *
 *   rejected (client-side check failed, final)
 *   uploading -> queued -> processing -> done | failed
 *
 * `uploading` covers the upload-request and the S3 POST; `queued` means the bytes are in S3 and the
 * server has not started (PENDING_UPLOAD); `processing` mirrors PROCESSING; `done`/`failed` mirror
 * COMPLETED/FAILED and are final. Duplicate or out-of-order events return the same state object.
 */
import { isTerminal, type ImageMetadata, type ImageRecord, type ImageStatus, type ServerError, type Variants } from './types';

export type Phase = 'uploading' | 'queued' | 'processing' | 'done' | 'failed' | 'rejected';

export const PHASE_RANK: Record<Phase, number> = {
  uploading: 0,
  queued: 1,
  processing: 2,
  done: 3,
  failed: 3,
  rejected: 3,
};

export function isFinalPhase(phase: Phase): boolean {
  return PHASE_RANK[phase] === 3;
}

export interface UploadItem {
  localId: string;
  name: string;
  size: number;
  contentType: string;
  previewUrl: string | null;
  imageId: string | null;
  phase: Phase;
  loaded: number;
  total: number;
  variants: Variants | null;
  metadata: ImageMetadata | null;
  record: ImageRecord | null;
  error: ServerError | null;
  /** A non-fatal, visible note (e.g. a status check failed and is being retried). */
  note: string | null;
}

export interface UploadState {
  order: string[];
  items: Record<string, UploadItem>;
}

export const initialUploadState: UploadState = { order: [], items: {} };

export type UploadAction =
  | { type: 'added'; localId: string; name: string; size: number; contentType: string; previewUrl: string | null }
  | { type: 'rejected'; localId: string; error: ServerError }
  | { type: 'requested'; localId: string; imageId: string }
  | { type: 'progress'; localId: string; loaded: number; total: number }
  | { type: 'uploaded'; localId: string }
  | { type: 'uploadFailed'; localId: string; error: ServerError }
  | { type: 'serverStatus'; imageId: string; status: ImageStatus }
  | { type: 'processed'; imageId: string; variants: Variants | null }
  | { type: 'failed'; imageId: string; error: ServerError }
  | { type: 'record'; record: ImageRecord }
  | { type: 'note'; imageId: string; note: string | null }
  | { type: 'removed'; localId: string }
  /** Signed out: forget every item. */
  | { type: 'reset' };

function phaseForStatus(status: ImageStatus): Phase | null {
  switch (status) {
    case 'PENDING_UPLOAD':
      return null; // says nothing beyond what the client already knows
    case 'PROCESSING':
      return 'processing';
    case 'COMPLETED':
      return 'done';
    case 'FAILED':
      return 'failed';
  }
}

function hasVariants(v: Variants | null | undefined): v is Variants {
  return !!v && Object.keys(v).length > 0;
}

function findByImageId(state: UploadState, imageId: string): UploadItem | undefined {
  for (const id of state.order) {
    const item = state.items[id];
    if (item && item.imageId === imageId) return item;
  }
  return undefined;
}

function put(state: UploadState, item: UploadItem): UploadState {
  return { ...state, items: { ...state.items, [item.localId]: item } };
}

/** Move to `phase` if it is strictly forward; otherwise return `item` unchanged. */
function advance(item: UploadItem, phase: Phase): UploadItem {
  if (PHASE_RANK[phase] <= PHASE_RANK[item.phase]) return item;
  const next: UploadItem = { ...item, phase };
  if (item.phase === 'uploading') next.loaded = next.total = item.size; // bytes are all in S3
  if (phase !== 'failed') next.note = null;
  return next;
}

export function uploadReducer(state: UploadState, action: UploadAction): UploadState {
  switch (action.type) {
    case 'added': {
      if (state.items[action.localId]) return state;
      const item: UploadItem = {
        localId: action.localId,
        name: action.name,
        size: action.size,
        contentType: action.contentType,
        previewUrl: action.previewUrl,
        imageId: null,
        phase: 'uploading',
        loaded: 0,
        total: action.size,
        variants: null,
        metadata: null,
        record: null,
        error: null,
        note: null,
      };
      return { order: [...state.order, action.localId], items: { ...state.items, [action.localId]: item } };
    }
    case 'rejected': {
      const item = state.items[action.localId];
      if (!item || isFinalPhase(item.phase)) return state;
      return put(state, { ...item, phase: 'rejected', error: action.error });
    }
    case 'requested': {
      const item = state.items[action.localId];
      if (!item || item.imageId !== null) return state;
      return put(state, { ...item, imageId: action.imageId });
    }
    case 'progress': {
      const item = state.items[action.localId];
      if (!item || item.phase !== 'uploading') return state;
      if (action.loaded < item.loaded) return state; // progress never goes backwards
      if (action.loaded === item.loaded && action.total === item.total) return state;
      return put(state, { ...item, loaded: action.loaded, total: action.total || item.total });
    }
    case 'uploaded': {
      const item = state.items[action.localId];
      if (!item) return state;
      const next = advance(item, 'queued');
      return next === item ? state : put(state, next);
    }
    case 'uploadFailed': {
      const item = state.items[action.localId];
      if (!item || isFinalPhase(item.phase)) return state;
      return put(state, { ...item, phase: 'failed', error: action.error });
    }
    case 'serverStatus': {
      const item = findByImageId(state, action.imageId);
      const phase = phaseForStatus(action.status);
      if (!item || !phase) return state;
      const next = advance(item, phase);
      return next === item ? state : put(state, next);
    }
    case 'processed': {
      const item = findByImageId(state, action.imageId);
      if (!item) return state;
      if (item.phase === 'done') {
        // A duplicate terminal event changes nothing, unless we still lack the variants.
        if (hasVariants(item.variants) || !hasVariants(action.variants)) return state;
        return put(state, { ...item, variants: action.variants });
      }
      if (isFinalPhase(item.phase)) return state; // failed is final too
      const next = advance(item, 'done');
      return put(state, { ...next, variants: hasVariants(action.variants) ? action.variants : item.variants });
    }
    case 'failed': {
      const item = findByImageId(state, action.imageId);
      if (!item) return state;
      if (item.phase === 'failed') {
        if (item.error) return state;
        return put(state, { ...item, error: action.error });
      }
      if (isFinalPhase(item.phase)) return state;
      return put(state, { ...advance(item, 'failed'), error: action.error });
    }
    case 'record': {
      const r = action.record;
      const item = findByImageId(state, r.imageId);
      if (!item) return state;
      const phase = phaseForStatus(r.status);
      let next = item;
      if (phase && !(isFinalPhase(item.phase) && isFinalPhase(phase) && phase !== item.phase)) {
        next = advance(item, phase);
      }
      // Enrich with the record's data (never contradicting a terminal state already reached).
      if (isTerminal(r.status) && (next.phase === 'done' || next.phase === 'failed')) {
        const consistent = (r.status === 'COMPLETED') === (next.phase === 'done');
        if (consistent) {
          next = {
            ...next,
            record: r,
            metadata: r.metadata ?? next.metadata,
            variants: hasVariants(r.variants) ? r.variants : next.variants,
            error: next.phase === 'failed' ? (r.error ?? next.error) : next.error,
          };
        }
      }
      return next === item ? state : put(state, next);
    }
    case 'note': {
      const item = findByImageId(state, action.imageId);
      if (!item || item.note === action.note || item.phase === 'rejected') return state;
      return put(state, { ...item, note: action.note });
    }
    case 'removed': {
      if (!state.items[action.localId]) return state;
      const items = { ...state.items };
      delete items[action.localId];
      return { order: state.order.filter((id) => id !== action.localId), items };
    }
    case 'reset':
      return state.order.length === 0 ? state : initialUploadState;
  }
}

/** Ids of images the client still waits for (registered, not terminal). */
export function pendingImageIds(state: UploadState): string[] {
  const ids: string[] = [];
  for (const id of state.order) {
    const item = state.items[id];
    if (item?.imageId && !isFinalPhase(item.phase)) ids.push(item.imageId);
  }
  return ids;
}
