import { describe, expect, it } from 'vitest';
import { emptyList, listReducer } from './pages';
import type { ImageRecord } from './types';

const rec = (id: string, extra: Partial<ImageRecord> = {}): ImageRecord => ({ imageId: id, status: 'COMPLETED', ...extra });

describe('listReducer', () => {
  it('loads pages, appends without duplicates, updates and removes', () => {
    let s = listReducer(emptyList, { type: 'loading' });
    expect(s.loading).toBe(true);
    s = listReducer(s, { type: 'page', page: { items: [rec('a'), rec('b')], nextCursor: 'c' }, append: false });
    s = listReducer(s, { type: 'page', page: { items: [rec('b'), rec('c')], nextCursor: null }, append: true });
    expect(s.items.map((r) => r.imageId)).toEqual(['a', 'b', 'c']);
    expect(s).toMatchObject({ nextCursor: null, loaded: true, loading: false });
    s = listReducer(s, { type: 'updated', record: rec('b', { visibility: 'public' }) });
    expect(s.items[1]!.visibility).toBe('public');
    s = listReducer(s, { type: 'updated', record: rec('b', { visibility: 'private' }), keep: false });
    expect(s.items.map((r) => r.imageId)).toEqual(['a', 'c']);
    expect(listReducer(s, { type: 'removed', imageId: 'zzz' })).toBe(s);
    s = listReducer(s, { type: 'removed', imageId: 'a' });
    expect(s.items.map((r) => r.imageId)).toEqual(['c']);
    expect(listReducer(s, { type: 'updated', record: rec('nope') })).toBe(s);
    expect(listReducer(s, { type: 'reset' })).toBe(emptyList);
  });
});
