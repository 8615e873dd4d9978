import { useCallback, useEffect, useMemo, useReducer, useRef, useState, useSyncExternalStore } from 'react';
import { ApiError, SnapQueueApi, toServerError } from './lib/api';
import { AuthClient, type SignOutReason } from './lib/auth';
import { emptyList, listReducer } from './lib/pages';
import { UploadPipeline } from './lib/pipeline';
import { StatusPoller } from './lib/poller';
import { hrefFor, parseHash, requiresAuth, type AuthMode, type Route } from './lib/route';
import { NotifierClient, notifierUrl, type ConnectionState } from './lib/socket';
import { initialUploadState, isFinalPhase, uploadReducer, type UploadState } from './lib/state';
import type { ImageRecord, ImageStatus, MeRecord, Visibility } from './lib/types';
import { uploadToS3 } from './lib/upload';
import { DEFAULT_MAX_BYTES, resolveContentType } from './lib/validate';
import { AuthForm } from './components/AuthForm';
import { ErrorMessage } from './components/ErrorMessage';
import { GalleryView } from './components/GalleryView';
import { ImageDetail } from './components/ImageDetail';
import { MyImagesView } from './components/MyImagesView';
import { SignInPrompt } from './components/SignInPrompt';
import { UploadView } from './components/UploadView';

const GALLERY_PAGE = 24;
const MINE_PAGE = 24;

const SIGNED_OUT_NOTICE: Record<SignOutReason, string | null> = {
  user: null,
  expired: 'Your session has ended; please sign in again.',
  elsewhere: 'You were signed out in another tab.',
};

const TITLES: Record<Route['name'], string> = {
  upload: 'Upload',
  gallery: 'Gallery',
  mine: 'My images',
  image: 'Image',
  signin: 'Sign in',
};

function connectionLabel(state: ConnectionState): 'connected' | 'reconnecting' | 'offline (polling)' {
  if (state === 'connected') return 'connected';
  if (state === 'connecting' || state === 'reconnecting') return 'reconnecting';
  return 'offline (polling)';
}

let nextLocalId = 1;

export default function App() {
  const [auth] = useState(() => new AuthClient());
  const api = useMemo(() => new SnapQueueApi({ auth }), [auth]);
  const subscribeAuth = useCallback((onChange: () => void) => auth.on(onChange), [auth]);
  const authStatus = useSyncExternalStore(subscribeAuth, () => auth.status);
  /** Bumped on every sign-in: the upload machinery (socket, poller, pipeline) lives for one session. */
  const sessionSeq = useRef(0);
  const [session, setSession] = useState<number | null>(null);
  const [user, setUser] = useState<Partial<MeRecord> | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const [route, setRoute] = useState<Route>(() => parseHash(window.location.hash));
  const routeRef = useRef(route);
  routeRef.current = route;
  const [uploads, dispatch] = useReducer(uploadReducer, initialUploadState);
  const uploadsRef = useRef<UploadState>(uploads);
  uploadsRef.current = uploads;
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const [globalError, setGlobalError] = useState<{ code: string; message: string } | null>(null);
  const [maxBytes, setMaxBytes] = useState(DEFAULT_MAX_BYTES);
  const [publicUploads, setPublicUploads] = useState(false);
  const publicUploadsRef = useRef(publicUploads);
  publicUploadsRef.current = publicUploads;
  const pipelineRef = useRef<UploadPipeline | null>(null);
  const previewUrls = useRef(new Map<string, string>());
  const headingRef = useRef<HTMLHeadingElement | null>(null);
  const firstRoute = useRef(true);

  const [gallery, galleryDispatch] = useReducer(listReducer, emptyList);
  const [mine, mineDispatch] = useReducer(listReducer, emptyList);
  const [mineFilter, setMineFilter] = useState<ImageStatus | null>(null);
  const [deletedIds, setDeletedIds] = useState<ReadonlySet<string>>(() => new Set());
  const galleryRequest = useRef(0);
  const mineRequest = useRef(0);

  // The session: restore a stored one, follow sign-in / sign-out.
  useEffect(() => {
    const off = auth.on((e) => {
      if (e.type === 'signedIn') {
        // A new number every time, so that a sign-out + sign-in batched together still restarts everything.
        sessionSeq.current += 1;
        setSession(sessionSeq.current);
        setNotice(null);
      } else if (e.type === 'signedOut') {
        setSession(null);
        setUser(null);
        setNotice(SIGNED_OUT_NOTICE[e.reason]);
        const r = routeRef.current;
        if (e.reason === 'expired' && requiresAuth(r)) {
          window.location.hash = hrefFor({ name: 'signin', mode: 'signin', next: hrefFor(r) });
        }
      }
    });
    auth.start();
    return () => {
      off();
      auth.stop();
    };
  }, [auth]);

  // Who is signed in (for the header); the e-mail typed into the form is shown until then.
  useEffect(() => {
    if (session === null) return;
    const controller = new AbortController();
    api
      .me(controller.signal)
      .then((me) => setUser(me))
      .catch(() => {
        // Not fatal: the header falls back to the e-mail used to sign in.
      });
    return () => controller.abort();
  }, [api, session]);

  const removeItem = useCallback((localId: string) => {
    pipelineRef.current?.cancel(localId);
    const url = previewUrls.current.get(localId);
    if (url) {
      URL.revokeObjectURL(url);
      previewUrls.current.delete(localId);
    }
    dispatch({ type: 'removed', localId });
  }, []);

  /** An image was deleted (here, or in another tab via `imageDeleted`): drop it from every view. */
  const removeImageEverywhere = useCallback(
    (imageId: string) => {
      galleryDispatch({ type: 'removed', imageId });
      mineDispatch({ type: 'removed', imageId });
      const state = uploadsRef.current;
      for (const localId of state.order) {
        if (state.items[localId]?.imageId === imageId) removeItem(localId);
      }
      setDeletedIds((s) => (s.has(imageId) ? s : new Set(s).add(imageId)));
    },
    [removeItem],
  );

  // One socket, one poller and one pipeline per tab and session (only while signed in).
  useEffect(() => {
    if (session === null) return;
    const notifier = new NotifierClient({ url: notifierUrl(window.location), auth });
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
    const offNotifier = notifier.on((e) => {
      if (e.type === 'connection') setConnection(e.state);
      else if (e.type === 'imageDeleted') removeImageEverywhere(e.imageId);
    });
    // A refreshed token goes to the open socket at once, before the old one expires there.
    const offAuth = auth.on((e) => {
      if (e.type === 'refreshed') notifier.reauthenticate(e.accessToken);
    });
    // Deferred so React StrictMode's mount/unmount/mount in development opens only one socket.
    const t = window.setTimeout(() => notifier.connect(), 0);
    const urls = previewUrls.current;
    return () => {
      window.clearTimeout(t);
      offNotifier();
      offAuth();
      pipeline?.dispose();
      poller.stop();
      notifier.close();
      pipelineRef.current = null;
      // The next user must not see this one's uploads or lists.
      for (const url of urls.values()) URL.revokeObjectURL(url);
      urls.clear();
      dispatch({ type: 'reset' });
      mineRequest.current += 1;
      mineDispatch({ type: 'reset' });
      setGlobalError(null);
      setConnection('connecting');
    };
  }, [api, auth, session, removeImageEverywhere]);

  // Hash routing; move focus to the new view's heading for keyboard and screen-reader users.
  useEffect(() => {
    const onHash = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    document.title = `${TITLES[route.name]} · SnapQueue`;
    if (firstRoute.current) {
      firstRoute.current = false;
      return;
    }
    headingRef.current?.focus();
  }, [route]);

  // Signed in on the sign-in page (just now, or a restored session): go where the user was heading.
  useEffect(() => {
    if (route.name === 'signin' && authStatus === 'signedIn') window.location.hash = route.next ?? '#/';
  }, [route, authStatus]);

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
      const visibility: Visibility | undefined = publicUploadsRef.current ? 'public' : undefined;
      void pipeline.start(localId, file, { visibility }).then(() => setMaxBytes(pipeline.currentMaxBytes));
    }
  }, []);

  const items = uploads.order.map((id) => uploads.items[id]!).filter(Boolean);
  const clearFinished = useCallback(() => {
    for (const id of uploads.order) {
      const item = uploads.items[id];
      if (item && isFinalPhase(item.phase)) removeItem(id);
    }
  }, [uploads, removeItem]);

  // Public gallery: kept here so the list survives a visit to the detail view.
  const loadGallery = useCallback(
    (cursor: string | null) => {
      const req = ++galleryRequest.current;
      galleryDispatch({ type: 'loading' });
      api
        .getAllImages({ limit: GALLERY_PAGE, cursor })
        .then((page) => {
          if (req === galleryRequest.current) galleryDispatch({ type: 'page', page, append: cursor !== null });
        })
        .catch((err: unknown) => {
          if (req === galleryRequest.current) galleryDispatch({ type: 'failed', error: toServerError(err) });
        });
    },
    [api],
  );
  const loadMine = useCallback(
    (cursor: string | null, status: ImageStatus | null) => {
      const req = ++mineRequest.current;
      mineDispatch({ type: 'loading' });
      api
        .myImages({ limit: MINE_PAGE, cursor, status })
        .then((page) => {
          if (req === mineRequest.current) mineDispatch({ type: 'page', page, append: cursor !== null });
        })
        .catch((err: unknown) => {
          if (req === mineRequest.current) mineDispatch({ type: 'failed', error: toServerError(err) });
        });
    },
    [api],
  );

  const signedIn = authStatus === 'signedIn';
  // Signed-out visitors of the upload page see the public gallery under the sign-in prompt.
  const showsGallery = route.name === 'gallery' || (route.name === 'upload' && authStatus === 'signedOut');
  const showsMine = route.name === 'mine' && signedIn && session !== null;
  const lastRoute = useRef<Route['name'] | null>(null);
  const galleryLoaded = useRef(false);
  galleryLoaded.current = gallery.loaded;
  const mineLoaded = useRef(false);
  mineLoaded.current = mine.loaded;
  const lastShown = useRef<{ gallery: boolean; mine: number | null }>({ gallery: false, mine: null });
  useEffect(() => {
    // Fresh first page when a list appears (for "My images": in this session), except when coming
    // back to it from a detail view.
    const from = lastRoute.current;
    lastRoute.current = route.name;
    const before = lastShown.current;
    const mineKey = showsMine ? session : null;
    lastShown.current = { gallery: showsGallery, mine: mineKey };
    if (showsGallery && !before.gallery && (from !== 'image' || !galleryLoaded.current)) loadGallery(null);
    if (mineKey !== null && before.mine !== mineKey && (from !== 'image' || !mineLoaded.current || before.mine !== null)) {
      loadMine(null, mineFilter);
    }
  }, [route, showsGallery, showsMine, session, loadGallery, loadMine, mineFilter]);

  const onMineFilter = useCallback(
    (status: ImageStatus | null) => {
      setMineFilter(status);
      loadMine(null, status);
    },
    [loadMine],
  );

  const onSetVisibility = useCallback(
    async (record: ImageRecord, visibility: Visibility) => {
      const updated = await api.setVisibility(record.imageId, visibility);
      const merged: ImageRecord = { ...record, ...(updated ?? {}), visibility: updated?.visibility ?? visibility };
      mineDispatch({ type: 'updated', record: merged });
      galleryDispatch({ type: 'updated', record: merged, keep: merged.visibility === 'public' });
    },
    [api],
  );

  const onDelete = useCallback(
    async (record: ImageRecord) => {
      try {
        await api.deleteImage(record.imageId);
      } catch (err) {
        // Already gone (deleted in another tab): it must vanish here too; the view says so.
        if (err instanceof ApiError && err.status === 404) removeImageEverywhere(record.imageId);
        throw err;
      }
      removeImageEverywhere(record.imageId);
    },
    [api, removeImageEverywhere],
  );

  const conn = connectionLabel(connection);
  const detailInitial =
    route.name === 'image'
      ? (gallery.items.find((r) => r.imageId === route.imageId) ?? mine.items.find((r) => r.imageId === route.imageId))
      : undefined;
  const email = user?.email ?? null;
  const isAdmin = !!user?.groups?.includes('admins');

  const restoring = (
    <p className="hint" role="status" data-testid="session-restoring">
      Restoring your session…
    </p>
  );

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
            {signedIn && (
              <li>
                <a href="#/mine" data-testid="nav-mine" aria-current={route.name === 'mine' ? 'page' : undefined}>
                  My images
                </a>
              </li>
            )}
            <li>
              <a
                href="#/gallery"
                data-testid="nav-gallery"
                aria-current={route.name === 'gallery' || route.name === 'image' ? 'page' : undefined}
              >
                Gallery
              </a>
            </li>
          </ul>
        </nav>
        {signedIn && (
          <p className={`connection conn-${conn.split(' ')[0]}`} title="Live status connection">
            <span className="dot" aria-hidden="true" />
            <span className="sr-only">Live updates: </span>
            <span data-testid="connection-status">{conn}</span>
          </p>
        )}
        <div className="account" data-testid="account" data-auth={authStatus}>
          {signedIn ? (
            <>
              <span className="account-email">
                <span className="sr-only">Signed in as </span>
                <span data-testid="user-email">{email ?? 'signed in'}</span>
                {isAdmin && <span className="badge"> admin</span>}
              </span>
              <button type="button" className="button" data-testid="sign-out" onClick={() => auth.signOut('user')}>
                Sign out
              </button>
            </>
          ) : authStatus === 'restoring' ? (
            <span className="hint">Signing in…</span>
          ) : (
            route.name !== 'signin' && (
              <a className="button" data-testid="nav-signin" href={hrefFor({ name: 'signin', mode: 'signin', next: null })}>
                Sign in
              </a>
            )
          )}
        </div>
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
        {route.name === 'signin' && !signedIn && (
          <AuthForm
            auth={auth}
            mode={route.mode}
            notice={notice}
            headingRef={headingRef}
            onModeChange={(mode: AuthMode) => {
              window.location.hash = hrefFor({ name: 'signin', mode, next: route.next });
            }}
            onSignedIn={(addr) => setUser((u) => u ?? { email: addr })}
          />
        )}
        {route.name === 'upload' &&
          (signedIn ? (
            <UploadView
              items={items}
              onFiles={onFiles}
              onRemove={removeItem}
              onClearFinished={clearFinished}
              headingRef={headingRef}
              maxBytes={maxBytes}
              publicUploads={publicUploads}
              onPublicUploadsChange={setPublicUploads}
            />
          ) : authStatus === 'restoring' ? (
            restoring
          ) : (
            <>
              <SignInPrompt title="Sign in to upload images" next="#/" notice={notice} headingRef={headingRef} />
              <GalleryView state={gallery} onLoadMore={() => loadGallery(gallery.nextCursor)} onRefresh={() => loadGallery(null)} />
            </>
          ))}
        {route.name === 'mine' &&
          (signedIn ? (
            <MyImagesView
              state={mine}
              statusFilter={mineFilter}
              onStatusFilter={onMineFilter}
              onLoadMore={() => loadMine(mine.nextCursor, mineFilter)}
              onRefresh={() => loadMine(null, mineFilter)}
              onSetVisibility={onSetVisibility}
              onDelete={onDelete}
              headingRef={headingRef}
            />
          ) : authStatus === 'restoring' ? (
            restoring
          ) : (
            <SignInPrompt title="Sign in to see your images" next="#/mine" notice={notice} headingRef={headingRef} />
          ))}
        {route.name === 'gallery' && (
          <GalleryView state={gallery} onLoadMore={() => loadGallery(gallery.nextCursor)} onRefresh={() => loadGallery(null)} headingRef={headingRef} />
        )}
        {route.name === 'image' && (
          <ImageDetail
            key={`${route.imageId}:${session ?? 'out'}`}
            imageId={route.imageId}
            api={api}
            initial={detailInitial}
            headingRef={headingRef}
            deleted={deletedIds.has(route.imageId)}
          />
        )}
      </main>
      <footer className="app-footer">
        <p>SnapQueue · images are processed into a thumbnail, a resized and a grayscale version.</p>
      </footer>
    </div>
  );
}
