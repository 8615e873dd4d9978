import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { SnapQueueApi, toServerError } from './lib/api';
import { UploadPipeline } from './lib/pipeline';
import { StatusPoller } from './lib/poller';
import { parseHash, type Route } from './lib/route';
import { NotifierClient, notifierUrl, type ConnectionState } from './lib/socket';
import { initialUploadState, isFinalPhase, uploadReducer } from './lib/state';
import { uploadToS3 } from './lib/upload';
import { DEFAULT_MAX_BYTES, resolveContentType } from './lib/validate';
import { ErrorMessage } from './components/ErrorMessage';
import { GalleryView, type GalleryState } from './components/GalleryView';
import { ImageDetail } from './components/ImageDetail';
import { UploadView } from './components/UploadView';

const GALLERY_PAGE = 24;

function connectionLabel(state: ConnectionState): 'connected' | 'reconnecting' | 'offline (polling)' {
  if (state === 'connected') return 'connected';
  if (state === 'connecting' || state === 'reconnecting') return 'reconnecting';
  return 'offline (polling)';
}

let nextLocalId = 1;

export default function App() {
  const api = useMemo(() => new SnapQueueApi(), []);
  const [route, setRoute] = useState<Route>(() => parseHash(window.location.hash));
  const [uploads, dispatch] = useReducer(uploadReducer, initialUploadState);
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const [globalError, setGlobalError] = useState<{ code: string; message: string } | null>(null);
  const [maxBytes, setMaxBytes] = useState(DEFAULT_MAX_BYTES);
  const pipelineRef = useRef<UploadPipeline | null>(null);
  const previewUrls = useRef(new Map<string, string>());
  const headingRef = useRef<HTMLHeadingElement | null>(null);
  const firstRoute = useRef(true);

  // One socket, one poller and one pipeline per tab.
  useEffect(() => {
    const notifier = new NotifierClient({ url: notifierUrl(window.location) });
    let pipeline: UploadPipeline | null = null;
    const poller = new StatusPoller({
      getStatus: (id) => api.getStatus(id),
      getImage: (id) => api.getImage(id),
      onStatus: (id, status) => pipeline?.onPolledStatus(id, status),
      onRecord: (record) => pipeline?.onPolledRecord(record),
      onError: (id, err) => pipeline?.onPollError(id, err),
    });
    pipeline = new UploadPipeline({
      api,
      notifier,
      poller,
      upload: uploadToS3,
      dispatch,
      onGlobalError: setGlobalError,
    });
    pipelineRef.current = pipeline;
    const off = notifier.on((e) => {
      if (e.type === 'connection') setConnection(e.state);
    });
    // Deferred so React StrictMode's mount/unmount/mount in development opens only one socket.
    const t = window.setTimeout(() => notifier.connect(), 0);
    return () => {
      window.clearTimeout(t);
      off();
      pipeline?.dispose();
      poller.stop();
      notifier.close();
      pipelineRef.current = null;
    };
  }, [api]);

  // Revoke every local preview URL when the app goes away.
  useEffect(() => {
    const urls = previewUrls.current;
    return () => {
      for (const url of urls.values()) URL.revokeObjectURL(url);
      urls.clear();
    };
  }, []);

  // Hash routing; move focus to the new view's heading for keyboard and screen-reader users.
  useEffect(() => {
    const onHash = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    document.title =
      route.name === 'gallery' ? 'Gallery · SnapQueue' : route.name === 'image' ? 'Image · SnapQueue' : 'Upload · SnapQueue';
    if (firstRoute.current) {
      firstRoute.current = false;
      return;
    }
    headingRef.current?.focus();
  }, [route]);

  const onFiles = useCallback((files: File[]) => {
    const pipeline = pipelineRef.current;
    for (const file of files) {
      const localId = `f${nextLocalId++}`;
      const canPreview = resolveContentType(file) !== null && file.size > 0;
      const previewUrl = canPreview ? URL.createObjectURL(file) : null;
      if (previewUrl) previewUrls.current.set(localId, previewUrl);
      dispatch({
        type: 'added',
        localId,
        name: file.name,
        size: file.size,
        contentType: resolveContentType(file) ?? file.type,
        previewUrl,
      });
      if (!pipeline) {
        dispatch({ type: 'rejected', localId, error: { code: 'not_ready', message: 'The page is not ready yet; please try again.' } });
        continue;
      }
      void pipeline.start(localId, file).then(() => setMaxBytes(pipeline.currentMaxBytes));
    }
  }, []);

  const removeItem = useCallback((localId: string) => {
    pipelineRef.current?.cancel(localId);
    const url = previewUrls.current.get(localId);
    if (url) {
      URL.revokeObjectURL(url);
      previewUrls.current.delete(localId);
    }
    dispatch({ type: 'removed', localId });
  }, []);

  const items = uploads.order.map((id) => uploads.items[id]!).filter(Boolean);
  const clearFinished = useCallback(() => {
    for (const id of uploads.order) {
      const item = uploads.items[id];
      if (item && isFinalPhase(item.phase)) removeItem(id);
    }
  }, [uploads, removeItem]);

  // Gallery: kept here so the list survives a visit to the detail view.
  const [gallery, setGallery] = useState<GalleryState>({ items: [], nextCursor: null, loading: false, loaded: false, error: null });
  const galleryRequest = useRef(0);
  const loadGallery = useCallback(
    (cursor: string | null) => {
      const req = ++galleryRequest.current;
      setGallery((g) => ({ ...g, loading: true, error: null }));
      api
        .getAllImages({ limit: GALLERY_PAGE, cursor })
        .then((page) => {
          if (req !== galleryRequest.current) return;
          setGallery((g) => {
            const base = cursor ? g.items : [];
            const seen = new Set(base.map((r) => r.imageId));
            const items = [...base, ...page.items.filter((r) => !seen.has(r.imageId))];
            return { items, nextCursor: page.nextCursor ?? null, loading: false, loaded: true, error: null };
          });
        })
        .catch((err: unknown) => {
          if (req !== galleryRequest.current) return;
          setGallery((g) => ({ ...g, loading: false, loaded: true, error: toServerError(err) }));
        });
    },
    [api],
  );
  const lastRoute = useRef<Route['name'] | null>(null);
  const galleryLoaded = useRef(false);
  useEffect(() => {
    galleryLoaded.current = gallery.loaded;
  }, [gallery.loaded]);
  useEffect(() => {
    // Fresh first page when entering the gallery, except when coming back from a detail view.
    const from = lastRoute.current;
    lastRoute.current = route.name;
    if (route.name === 'gallery' && (from !== 'image' || !galleryLoaded.current)) loadGallery(null);
  }, [route, loadGallery]);


  const conn = connectionLabel(connection);
  const detailInitial = route.name === 'image' ? gallery.items.find((r) => r.imageId === route.imageId) : undefined;

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <h1 className="brand">
          <a href="#/">SnapQueue</a>
        </h1>
        <nav aria-label="Main">
          <ul className="nav">
            <li>
              <a href="#/" data-testid="nav-upload" aria-current={route.name === 'upload' ? 'page' : undefined}>
                Upload
              </a>
            </li>
            <li>
              <a href="#/gallery" data-testid="nav-gallery" aria-current={route.name !== 'upload' ? 'page' : undefined}>
                Gallery
              </a>
            </li>
          </ul>
        </nav>
        <p className={`connection conn-${conn.split(' ')[0]}`} title="Live status connection">
          <span className="dot" aria-hidden="true" />
          <span className="sr-only">Live updates: </span>
          <span data-testid="connection-status">{conn}</span>
        </p>
      </header>
      <main id="main">
        {globalError && (
          <div className="global-error">
            <ErrorMessage error={globalError} testId="global-error" />
            <button type="button" className="button" onClick={() => setGlobalError(null)}>
              Dismiss
            </button>
          </div>
        )}
        {route.name === 'upload' && (
          <UploadView
            items={items}
            onFiles={onFiles}
            onRemove={removeItem}
            onClearFinished={clearFinished}
            headingRef={headingRef}
            maxBytes={maxBytes}
          />
        )}
        {route.name === 'gallery' && (
          <GalleryView state={gallery} onLoadMore={() => loadGallery(gallery.nextCursor)} onRefresh={() => loadGallery(null)} headingRef={headingRef} />
        )}
        {route.name === 'image' && (
          <ImageDetail key={route.imageId} imageId={route.imageId} api={api} initial={detailInitial} headingRef={headingRef} />
        )}
      </main>
      <footer className="app-footer">
        <p>SnapQueue · images are processed into a thumbnail, a resized and a grayscale version.</p>
      </footer>
    </div>
  );
}
