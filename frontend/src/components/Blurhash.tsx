import { useEffect, useRef } from 'react';
import { decode, isBlurhashValid } from 'blurhash';

/** Decodes a blurhash into a tiny canvas that CSS stretches over its box. Decorative only. */
export function BlurhashCanvas({ hash, className }: { hash: string; className?: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas || !isBlurhashValid(hash).result) return;
    const size = 32;
    let ctx: CanvasRenderingContext2D | null = null;
    try {
      ctx = canvas.getContext('2d');
    } catch {
      return; // no canvas support (e.g. jsdom): the dominant-colour background remains
    }
    if (!ctx) return;
    try {
      const pixels = decode(hash, size, size);
      const img = ctx.createImageData(size, size);
      img.data.set(pixels);
      ctx.putImageData(img, 0, 0);
    } catch {
      // An invalid hash just leaves the colour placeholder.
    }
  }, [hash]);
  return <canvas ref={ref} width={32} height={32} className={className} aria-hidden="true" />;
}
