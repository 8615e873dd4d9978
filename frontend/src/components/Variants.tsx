import { useState } from 'react';
import { VARIANT_NAMES, type Variant, type VariantName, type Variants } from '../lib/types';
import { formatBytes } from '../lib/validate';

const LABEL: Record<string, string> = {
  thumbnail: 'Thumbnail',
  resized: 'Resized',
  grayscale: 'Grayscale',
};

/** Hidden until its bytes have arrived, so "visible" means the picture is really there. */
function VariantImage({ kind, v, name }: { kind: VariantName; v: Variant; name: string }) {
  const [state, setState] = useState<'loading' | 'loaded' | 'failed'>('loading');
  return (
    <>
      <img
        data-testid={`variant-${kind}`}
        className={`variant-img ${state}`}
        src={v.url}
        alt={`${LABEL[kind]} version of ${name}, ${v.width} by ${v.height} pixels`}
        width={v.width}
        height={v.height}
        decoding="async"
        onLoad={() => setState('loaded')}
        onError={() => setState('failed')}
      />
      {state === 'failed' && <span className="variant-failed">Could not load this image.</span>}
    </>
  );
}

export function VariantList({ variants, name }: { variants: Variants | null | undefined; name: string }) {
  if (!variants) return null;
  const present = VARIANT_NAMES.filter((v) => variants[v]);
  if (present.length === 0) return null;
  return (
    <ul className="variants" aria-label={`Processed versions of ${name}`}>
      {present.map((key) => {
        const v = variants[key]!;
        return (
          <li key={key} className="variant">
            <figure>
              <a href={v.url} target="_blank" rel="noopener noreferrer" className="variant-link">
                <VariantImage kind={key} v={v} name={name} />
              </a>
              <figcaption>
                <strong>{LABEL[key]}</strong>
                <span>
                  {v.width}×{v.height} px · {formatBytes(v.bytes)}
                </span>
              </figcaption>
            </figure>
          </li>
        );
      })}
    </ul>
  );
}
