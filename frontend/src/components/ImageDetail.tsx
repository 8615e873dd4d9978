import { useEffect, useState, type RefObject } from 'react';
import { toServerError, type SnapQueueApi } from '../lib/api';
import type { ImageRecord } from '../lib/types';
import { ErrorMessage } from './ErrorMessage';
import { MetadataList } from './Metadata';
import { VariantList } from './Variants';

type Load =
  | { state: 'loading' }
  | { state: 'ok'; record: ImageRecord }
  | { state: 'error'; error: { code: string; message: string } };

function when(v: string | undefined): string | null {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? v : d.toLocaleString();
}

export function ImageDetail({
  imageId,
  api,
  initial,
  headingRef,
  deleted = false,
}: {
  imageId: string;
  api: Pick<SnapQueueApi, 'getImage'>;
  initial?: ImageRecord;
  headingRef: RefObject<HTMLHeadingElement | null>;
  /** The image was deleted while shown (an `imageDeleted` frame, or deleted here). */
  deleted?: boolean;
}) {
  const [load, setLoad] = useState<Load>(initial ? { state: 'ok', record: initial } : { state: 'loading' });

  useEffect(() => {
    const controller = new AbortController();
    api
      .getImage(imageId, controller.signal)
      .then((record) => setLoad({ state: 'ok', record }))
      .catch((err: unknown) => {
        if (!controller.signal.aborted) setLoad({ state: 'error', error: toServerError(err) });
      });
    return () => controller.abort();
  }, [api, imageId]);

  const record = load.state === 'ok' ? load.record : undefined;
  const name = record?.originalFilename || imageId;
  return (
    <section className="detail" data-testid="image-detail" data-image-id={imageId} aria-labelledby="detail-heading">
      <p>
        <a href="#/gallery">← Back to the gallery</a>
      </p>
      <h2 id="detail-heading" ref={headingRef} tabIndex={-1} className="detail-title">
        {name}
      </h2>
      {deleted ? (
        <p className="notice" data-testid="detail-deleted" role="status">
          This image has been deleted.
        </p>
      ) : (
        <>
      {load.state === 'loading' && <p aria-live="polite">Loading…</p>}
      {load.state === 'error' && <ErrorMessage error={load.error} />}
      {record && (
        <>
          <p className="file-meta">
            Status <strong data-testid="detail-status">{record.status}</strong>
            {record.contentType ? ` · ${record.contentType}` : ''}
            {when(record.uploadTimestamp) ? ` · uploaded ${when(record.uploadTimestamp)}` : ''}
          </p>
          {record.error && <ErrorMessage error={record.error} />}
          <VariantList variants={record.variants} name={name} />
          <h3>Metadata</h3>
          {record.metadata && Object.keys(record.metadata).length > 0 ? (
            <MetadataList metadata={record.metadata} />
          ) : (
            <p className="hint">No metadata recorded.</p>
          )}
          <p className="hint">
            Image id <code>{record.imageId}</code>
            {record.visibility ? ` · ${record.visibility}` : ''}
          </p>
        </>
      )}
        </>
      )}
    </section>
  );
}
