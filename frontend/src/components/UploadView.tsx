import { useRef, useState, type DragEvent, type RefObject } from 'react';
import type { UploadItem, Phase } from '../lib/state';
import { ACCEPT_ATTRIBUTE, formatBytes } from '../lib/validate';
import { ErrorMessage } from './ErrorMessage';
import { MetadataList } from './Metadata';
import { VariantList } from './Variants';

const PHASE_HELP: Record<Phase, string> = {
  uploading: 'Sending the file to storage.',
  queued: 'Uploaded; waiting for a worker.',
  processing: 'A worker is making the versions.',
  done: 'Processed.',
  failed: 'Processing did not succeed.',
  rejected: 'Not uploaded.',
};

function UploadCard({ item, onRemove }: { item: UploadItem; onRemove: (localId: string) => void }) {
  const [previewFailed, setPreviewFailed] = useState(false);
  const pct = item.total > 0 ? Math.min(100, Math.round((item.loaded / item.total) * 100)) : 0;
  const final = item.phase === 'done' || item.phase === 'failed' || item.phase === 'rejected';
  const headingId = `item-${item.localId}-name`;
  return (
    <li
      className={`upload-item phase-${item.phase}`}
      data-testid="upload-item"
      data-image-id={item.imageId ?? ''}
      data-status={item.phase}
      aria-labelledby={headingId}
    >
      <div className="upload-head">
        <div className="preview">
          {item.previewUrl && !previewFailed ? (
            <img src={item.previewUrl} alt={`Local preview of ${item.name}`} onError={() => setPreviewFailed(true)} />
          ) : (
            <span className="preview-none">No preview</span>
          )}
        </div>
        <div className="upload-info">
          <h3 id={headingId} className="file-name" title={item.name}>
            {item.name}
          </h3>
          <p className="file-meta">
            {formatBytes(item.size)}
            {item.contentType ? ` · ${item.contentType}` : ''}
          </p>
          <div className="status-line">
            <span className={`badge badge-${item.phase}`} data-testid="status" role="status">
              {item.phase}
            </span>
            <span className="status-help">
              {item.phase === 'uploading' ? `${pct}% of ${formatBytes(item.total)}` : PHASE_HELP[item.phase]}
            </span>
          </div>
          <progress
            data-testid="progress"
            className="progress"
            max={item.total || 1}
            value={item.phase === 'rejected' ? 0 : item.loaded}
            aria-label={`Upload progress of ${item.name}`}
            aria-valuetext={`${pct}%`}
          >
            {pct}%
          </progress>
        </div>
        {final && (
          <button type="button" className="icon-button" onClick={() => onRemove(item.localId)} aria-label={`Remove ${item.name} from the list`}>
            ×
          </button>
        )}
      </div>
      {item.error && (item.phase === 'failed' || item.phase === 'rejected') && <ErrorMessage error={item.error} friendly={item.phase !== 'rejected'} />}
      {item.note && <p className="note">{item.note}</p>}
      {item.phase === 'done' && (
        <div className="result">
          <VariantList variants={item.variants} name={item.name} />
          {!item.variants && <p className="note">Loading the processed versions…</p>}
          <MetadataList metadata={item.metadata} compact />
          {item.imageId && (
            <p>
              <a href={`#/image/${encodeURIComponent(item.imageId)}`}>All details</a>
            </p>
          )}
        </div>
      )}
    </li>
  );
}

export function UploadView({
  items,
  onFiles,
  onRemove,
  onClearFinished,
  headingRef,
  maxBytes,
  publicUploads = false,
  onPublicUploadsChange,
}: {
  items: UploadItem[];
  onFiles: (files: File[]) => void;
  onRemove: (localId: string) => void;
  onClearFinished: () => void;
  headingRef: RefObject<HTMLHeadingElement | null>;
  maxBytes: number;
  /** New uploads are sent with `visibility: "public"` when checked (the default is private). */
  publicUploads?: boolean;
  onPublicUploadsChange?: (value: boolean) => void;
}) {
  const inputRef = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const depth = useRef(0);

  const onDragEnter = (e: DragEvent) => {
    e.preventDefault();
    depth.current += 1;
    setDragging(true);
  };
  const onDragLeave = (e: DragEvent) => {
    e.preventDefault();
    depth.current = Math.max(0, depth.current - 1);
    if (depth.current === 0) setDragging(false);
  };
  const onDragOver = (e: DragEvent) => {
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    depth.current = 0;
    setDragging(false);
    const files = Array.from(e.dataTransfer.files);
    if (files.length) onFiles(files);
  };
  const anyFinished = items.some((i) => i.phase === 'done' || i.phase === 'failed' || i.phase === 'rejected');

  return (
    <section aria-labelledby="upload-heading">
      <h2 id="upload-heading" ref={headingRef} tabIndex={-1}>
        Upload images
      </h2>
      <div
        className={`drop-zone${dragging ? ' dragging' : ''}`}
        data-testid="drop-zone"
        onDragEnter={onDragEnter}
        onDragLeave={onDragLeave}
        onDragOver={onDragOver}
        onDrop={onDrop}
      >
        <p className="drop-title">Drop images here</p>
        <p className="drop-or">or</p>
        <button type="button" className="button primary" onClick={() => inputRef.current?.click()}>
          Choose images…
        </button>
        <label htmlFor="file-input" className="sr-only">
          Choose image files to upload
        </label>
        <input
          ref={inputRef}
          id="file-input"
          data-testid="file-input"
          className="sr-only"
          type="file"
          multiple
          accept={ACCEPT_ATTRIBUTE}
          tabIndex={-1}
          onChange={(e) => {
            const files = Array.from(e.target.files ?? []);
            e.target.value = ''; // allow picking the same file again
            if (files.length) onFiles(files);
          }}
        />
        <p className="hint">
          JPEG, PNG, GIF, WebP, AVIF, HEIC/HEIF, TIFF or BMP, up to {formatBytes(maxBytes)} each. Several at once are fine.
        </p>
      </div>
      {onPublicUploadsChange && (
        <p className="upload-options">
          <input
            id="upload-public"
            data-testid="upload-public"
            type="checkbox"
            checked={publicUploads}
            onChange={(e) => onPublicUploadsChange(e.target.checked)}
            aria-describedby="upload-public-hint"
          />{' '}
          <label htmlFor="upload-public">Make new uploads public</label>{' '}
          <span id="upload-public-hint" className="hint">
            {publicUploads
              ? 'Everyone will see them in the gallery once processed.'
              : 'Private: only you can see them. You can change this later in My images.'}
          </span>
        </p>
      )}
      {items.length > 0 && (
        <div className="list-head">
          <h3 className="list-title">Your uploads ({items.length})</h3>
          {anyFinished && (
            <button type="button" className="button" onClick={onClearFinished}>
              Clear finished
            </button>
          )}
        </div>
      )}
      <ul className="upload-list">
        {items.map((item) => (
          <UploadCard key={item.localId} item={item} onRemove={onRemove} />
        ))}
      </ul>
    </section>
  );
}
