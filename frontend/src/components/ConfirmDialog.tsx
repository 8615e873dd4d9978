import { useEffect, useId, useRef, type KeyboardEvent, type ReactNode, type RefObject } from 'react';

/**
 * A modal confirmation (role="alertdialog"): focus starts on Cancel (the safe choice), Tab stays
 * inside, Escape cancels, and focus goes back to what had it before.
 */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  busy = false,
  error,
  onConfirm,
  onCancel,
  fallbackFocusRef,
}: {
  /** Focus this on close when the element that opened the dialog is gone (e.g. its item was deleted). */
  fallbackFocusRef?: RefObject<HTMLElement | null>;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  busy?: boolean;
  error?: ReactNode;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const uid = useId();
  const dialogRef = useRef<HTMLDivElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    cancelRef.current?.focus();
    const fallback = fallbackFocusRef;
    return () => {
      if (previous && previous.isConnected) previous.focus();
      else fallback?.current?.focus();
    };
  }, [fallbackFocusRef]);

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      if (!busy) onCancel();
      return;
    }
    if (e.key !== 'Tab') return;
    const focusable = dialogRef.current?.querySelectorAll<HTMLElement>('button:not([disabled]), [href], input:not([disabled])');
    if (!focusable || focusable.length === 0) return;
    const first = focusable[0]!;
    const last = focusable[focusable.length - 1]!;
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };

  return (
    <div className="dialog-backdrop" onMouseDown={(e) => e.target === e.currentTarget && !busy && onCancel()}>
      <div
        ref={dialogRef}
        className="dialog"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby={`${uid}-title`}
        aria-describedby={`${uid}-desc`}
        data-testid="confirm-dialog"
        onKeyDown={onKeyDown}
      >
        <h2 id={`${uid}-title`} className="dialog-title">
          {title}
        </h2>
        <div id={`${uid}-desc`}>{children}</div>
        {error}
        <div className="dialog-actions">
          <button ref={cancelRef} type="button" className="button" data-testid="confirm-cancel" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
          <button type="button" className="button danger" data-testid="confirm-ok" onClick={onConfirm} disabled={busy}>
            {busy ? 'Please wait…' : confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}
