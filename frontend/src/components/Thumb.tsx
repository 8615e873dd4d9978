import { useState } from 'react';
import type { ImageRecord } from '../lib/types';
import { BlurhashCanvas } from './Blurhash';

/** Thumbnail with a dominant-colour (and blurhash, when known) placeholder until it loads. */
export function Thumb({ record }: { record: ImageRecord }) {
  const [loaded, setLoaded] = useState(false);
  const [failed, setFailed] = useState(false);
  const variant = record.variants?.thumbnail ?? record.variants?.resized;
  const meta = record.metadata ?? {};
  const color = typeof meta.dominantColor === 'string' ? meta.dominantColor : undefined;
  const name = record.originalFilename || record.imageId;
  return (
    <div className={`thumb${loaded ? ' loaded' : ''}`} style={color ? { backgroundColor: color } : undefined}>
      {typeof meta.blurhash === 'string' && meta.blurhash && !loaded && (
        <BlurhashCanvas hash={meta.blurhash} className="thumb-blur" />
      )}
      {variant && !failed ? (
        <img
          src={variant.url}
          alt={`Thumbnail of ${name}`}
          width={variant.width}
          height={variant.height}
          loading="lazy"
          decoding="async"
          onLoad={() => setLoaded(true)}
          onError={() => setFailed(true)}
        />
      ) : (
        <span className="thumb-missing">{failed ? 'Thumbnail unavailable' : 'No thumbnail'}</span>
      )}
    </div>
  );
}
