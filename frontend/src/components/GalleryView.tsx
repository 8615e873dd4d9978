import type { RefObject } from 'react';
import type { PagedList } from '../lib/pages';
import { hrefFor } from '../lib/route';
import { ErrorMessage } from './ErrorMessage';
import { Thumb } from './Thumb';

export type GalleryState = PagedList;

export function GalleryView({
  state,
  onLoadMore,
  onRefresh,
  headingRef,
}: {
  state: GalleryState;
  onLoadMore: () => void;
  onRefresh: () => void;
  headingRef?: RefObject<HTMLHeadingElement | null>;
}) {
  return (
    <section aria-labelledby="gallery-heading" aria-busy={state.loading}>
      <div className="list-head">
        <h2 id="gallery-heading" ref={headingRef} tabIndex={-1}>
          Public gallery
        </h2>
        <button type="button" className="button" onClick={onRefresh} disabled={state.loading}>
          Refresh
        </button>
      </div>
      {state.error && <ErrorMessage error={state.error} testId="gallery-error" />}
      {state.loaded && state.items.length === 0 && !state.error && (
        <p className="empty" data-testid="gallery-empty">
          No public images yet. Images appear here once their owner makes them public.
        </p>
      )}
      <ul className="gallery" aria-label="Public images, newest first">
        {state.items.map((r) => {
          const name = r.originalFilename || r.imageId;
          const m = r.metadata ?? {};
          return (
            <li key={r.imageId}>
              <a className="gallery-item" data-testid="gallery-item" data-image-id={r.imageId} href={hrefFor({ name: 'image', imageId: r.imageId })}>
                <Thumb record={r} />
                <span className="gallery-caption">
                  <span className="gallery-name" title={name}>
                    {name}
                  </span>
                  {typeof m.width === 'number' && typeof m.height === 'number' && (
                    <span className="gallery-dim">
                      {m.width}×{m.height}
                    </span>
                  )}
                </span>
              </a>
            </li>
          );
        })}
      </ul>
      <div className="gallery-footer" aria-live="polite">
        {state.loading && <p>Loading…</p>}
        {state.nextCursor && !state.loading && (
          <button type="button" className="button primary" data-testid="load-more" onClick={onLoadMore}>
            Load more
          </button>
        )}
        {state.loaded && !state.nextCursor && state.items.length > 0 && !state.loading && (
          <p className="hint">That is everything ({state.items.length}).</p>
        )}
      </div>
    </section>
  );
}
