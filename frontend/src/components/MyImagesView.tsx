import { useState, type RefObject } from 'react';
import { toServerError } from '../lib/api';
import type { PagedList } from '../lib/pages';
import { hrefFor } from '../lib/route';
import type { ImageRecord, ImageStatus, ServerError, Visibility } from '../lib/types';
import { ConfirmDialog } from './ConfirmDialog';
import { ErrorMessage } from './ErrorMessage';
import { Thumb } from './Thumb';

const STATUS_FILTERS: Array<{ value: ImageStatus | ''; label: string }> = [
  { value: '', label: 'All' },
  { value: 'COMPLETED', label: 'Processed' },
  { value: 'PROCESSING', label: 'Processing' },
  { value: 'PENDING_UPLOAD', label: 'Waiting for upload' },
  { value: 'FAILED', label: 'Failed' },
];

function visibilityOf(r: ImageRecord): Visibility {
  return r.visibility === 'public' ? 'public' : 'private';
}

function when(v: string | undefined): string | null {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? v : d.toLocaleString();
}

export interface MyImagesViewProps {
  state: PagedList;
  statusFilter: ImageStatus | null;
  onStatusFilter: (status: ImageStatus | null) => void;
  onLoadMore: () => void;
  onRefresh: () => void;
  /** Resolve when the server accepted the change (the list is updated by the caller). */
  onSetVisibility: (record: ImageRecord, visibility: Visibility) => Promise<void>;
  onDelete: (record: ImageRecord) => Promise<void>;
  headingRef?: RefObject<HTMLHeadingElement | null>;
}

export function MyImagesView({
  state,
  statusFilter,
  onStatusFilter,
  onLoadMore,
  onRefresh,
  onSetVisibility,
  onDelete,
  headingRef,
}: MyImagesViewProps) {
  const [busy, setBusy] = useState<Record<string, boolean>>({});
  const [errors, setErrors] = useState<Record<string, ServerError | undefined>>({});
  const [announcement, setAnnouncement] = useState('');
  const [confirming, setConfirming] = useState<ImageRecord | null>(null);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<ServerError | null>(null);

  const toggle = async (r: ImageRecord) => {
    const id = r.imageId;
    if (busy[id]) return;
    const next: Visibility = visibilityOf(r) === 'public' ? 'private' : 'public';
    setBusy((b) => ({ ...b, [id]: true }));
    setErrors((e) => ({ ...e, [id]: undefined }));
    try {
      await onSetVisibility(r, next);
      setAnnouncement(`${r.originalFilename || id} is now ${next}.`);
    } catch (err) {
      setErrors((e) => ({ ...e, [id]: toServerError(err) }));
    } finally {
      setBusy((b) => ({ ...b, [id]: false }));
    }
  };

  const confirmDelete = async () => {
    const r = confirming;
    if (!r || deleting) return;
    setDeleting(true);
    setDeleteError(null);
    try {
      await onDelete(r);
      setConfirming(null);
      setAnnouncement(`${r.originalFilename || r.imageId} was deleted.`);
    } catch (err) {
      const e = toServerError(err);
      if (e.code === 'not_found' || e.code === 'http_404') {
        // Already gone (deleted elsewhere): the caller has removed it.
        setConfirming(null);
        setAnnouncement(`${r.originalFilename || r.imageId} was already deleted.`);
      } else {
        setDeleteError(e);
      }
    } finally {
      setDeleting(false);
    }
  };

  return (
    <section aria-labelledby="mine-heading" aria-busy={state.loading} data-testid="my-images">
      <div className="list-head">
        <h2 id="mine-heading" ref={headingRef} tabIndex={-1}>
          My images
        </h2>
        <div className="list-tools">
          <label htmlFor="mine-status-filter">Show</label>
          <select
            id="mine-status-filter"
            data-testid="mine-status-filter"
            value={statusFilter ?? ''}
            onChange={(e) => onStatusFilter((e.target.value || null) as ImageStatus | null)}
          >
            {STATUS_FILTERS.map((f) => (
              <option key={f.value} value={f.value}>
                {f.label}
              </option>
            ))}
          </select>
          <button type="button" className="button" data-testid="mine-refresh" onClick={onRefresh} disabled={state.loading}>
            Refresh
          </button>
        </div>
      </div>
      <p className="sr-only" role="status" aria-live="polite" data-testid="mine-announcement">
        {announcement}
      </p>
      {state.error && <ErrorMessage error={state.error} testId="mine-error" />}
      {state.loaded && state.items.length === 0 && !state.error && (
        <p className="empty" data-testid="mine-empty">
          {statusFilter ? 'No images with this status.' : 'You have not uploaded any images yet.'} <a href="#/">Upload some</a>.
        </p>
      )}
      <ul className="mine-list" aria-label="My images, newest first">
        {state.items.map((r) => {
          const name = r.originalFilename || r.imageId;
          const vis = visibilityOf(r);
          const isPublic = vis === 'public';
          const itemBusy = !!busy[r.imageId];
          const error = errors[r.imageId];
          const switchLabelId = `vis-${r.imageId}`;
          return (
            <li
              key={r.imageId}
              className="mine-item"
              data-testid="my-image-item"
              data-image-id={r.imageId}
              data-visibility={vis}
              data-status={r.status}
            >
              <a className="mine-thumb" href={hrefFor({ name: 'image', imageId: r.imageId })} aria-label={`Details of ${name}`}>
                <Thumb record={r} />
              </a>
              <div className="mine-info">
                <h3 className="file-name" title={name}>
                  <a href={hrefFor({ name: 'image', imageId: r.imageId })}>{name}</a>
                </h3>
                <p className="file-meta">
                  <span className="badge" data-testid="my-image-status">
                    {r.status}
                  </span>
                  {when(r.uploadTimestamp) ? ` · ${when(r.uploadTimestamp)}` : ''}
                </p>
                <div className="mine-actions">
                  <span className="switch-wrap">
                    <button
                      type="button"
                      role="switch"
                      aria-checked={isPublic}
                      aria-labelledby={switchLabelId}
                      className={`switch${isPublic ? ' on' : ''}`}
                      data-testid="visibility-switch"
                      data-visibility={vis}
                      disabled={itemBusy}
                      aria-busy={itemBusy}
                      onClick={() => void toggle(r)}
                    >
                      <span className="switch-knob" aria-hidden="true" />
                    </button>
                    <span id={switchLabelId} className="switch-label">
                      Public<span className="sr-only"> ({name})</span>
                    </span>
                    <span className="hint" data-testid="visibility-label">
                      {itemBusy ? 'Saving…' : isPublic ? 'Everyone can see it in the gallery' : 'Only you can see it'}
                    </span>
                  </span>
                  <button
                    type="button"
                    className="button danger"
                    data-testid="delete-image"
                    aria-label={`Delete ${name}`}
                    disabled={itemBusy}
                    onClick={() => {
                      setDeleteError(null);
                      setConfirming(r);
                    }}
                  >
                    Delete
                  </button>
                </div>
                {error && <ErrorMessage error={error} testId="my-image-error" />}
              </div>
            </li>
          );
        })}
      </ul>
      <div className="gallery-footer" aria-live="polite">
        {state.loading && <p>Loading…</p>}
        {state.nextCursor && !state.loading && (
          <button type="button" className="button primary" data-testid="mine-load-more" onClick={onLoadMore}>
            Load more
          </button>
        )}
        {state.loaded && !state.nextCursor && state.items.length > 0 && !state.loading && (
          <p className="hint">That is everything ({state.items.length}).</p>
        )}
      </div>
      {confirming && (
        <ConfirmDialog
          title="Delete this image?"
          confirmLabel="Delete"
          busy={deleting}
          fallbackFocusRef={headingRef}
          onConfirm={() => void confirmDelete()}
          onCancel={() => {
            setConfirming(null);
            setDeleteError(null);
          }}
          error={deleteError ? <ErrorMessage error={deleteError} testId="delete-error" /> : null}
        >
          <p>
            <strong>{confirming.originalFilename || confirming.imageId}</strong> and its processed versions will be deleted for
            good. This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
