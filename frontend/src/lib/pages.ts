/**
 * A paged list of image records (the public gallery, "My images"): first page / load more, and
 * local edits (a record changed, an image deleted) applied without refetching.
 */
import type { ImagePage, ImageRecord, ServerError } from './types';

export interface PagedList {
  items: ImageRecord[];
  nextCursor: string | null;
  loading: boolean;
  loaded: boolean;
  error: ServerError | null;
}

export const emptyList: PagedList = { items: [], nextCursor: null, loading: false, loaded: false, error: null };

export type ListAction =
  | { type: 'loading' }
  /** `append`: a "load more" page (duplicates dropped); otherwise a fresh first page. */
  | { type: 'page'; page: ImagePage; append: boolean }
  | { type: 'failed'; error: ServerError }
  /** A record changed (e.g. its visibility). `keep(record)` false removes it (e.g. made private in the gallery). */
  | { type: 'updated'; record: ImageRecord; keep?: boolean }
  | { type: 'removed'; imageId: string }
  | { type: 'reset' };

export function listReducer(state: PagedList, action: ListAction): PagedList {
  switch (action.type) {
    case 'loading':
      return { ...state, loading: true, error: null };
    case 'page': {
      const base = action.append ? state.items : [];
      const seen = new Set(base.map((r) => r.imageId));
      const items = [...base, ...(action.page.items ?? []).filter((r) => !seen.has(r.imageId))];
      return { items, nextCursor: action.page.nextCursor ?? null, loading: false, loaded: true, error: null };
    }
    case 'failed':
      return { ...state, loading: false, loaded: true, error: action.error };
    case 'updated': {
      const i = state.items.findIndex((r) => r.imageId === action.record.imageId);
      if (i < 0) return state;
      if (action.keep === false) return { ...state, items: state.items.filter((_, j) => j !== i) };
      const items = state.items.slice();
      items[i] = { ...items[i], ...action.record };
      return { ...state, items };
    }
    case 'removed':
      if (!state.items.some((r) => r.imageId === action.imageId)) return state;
      return { ...state, items: state.items.filter((r) => r.imageId !== action.imageId) };
    case 'reset':
      return emptyList;
  }
}
