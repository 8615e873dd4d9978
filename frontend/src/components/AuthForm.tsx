import { useEffect, useId, useRef, useState, type FormEvent, type RefObject } from 'react';
import { toServerError } from '../lib/api';
import type { AuthClient } from '../lib/auth';
import { describeError } from '../lib/errors';
import type { AuthMode } from '../lib/route';
import type { ServerError } from '../lib/types';

type Field = 'email' | 'password' | 'code';
type Step = 'credentials' | 'confirm';

/** Which field an API error belongs under (the rest are shown for the whole form). */
export function fieldForError(code: string, step: Step): Field | null {
  if (/^user_exists$|email|user_not_found/i.test(code)) return 'email';
  if (/password|^invalid_credentials$/i.test(code)) return 'password';
  if (/code/i.test(code)) return 'code';
  if (step === 'confirm' && /^invalid|^http_4(00|22)$/i.test(code)) return 'code';
  return null;
}

function FieldError({ id, testId, error }: { id: string; testId: string; error: ServerError }) {
  const { summary, detail } = describeError(error);
  return (
    <p id={id} className="field-error" data-testid={testId} data-code={error.code} role="alert">
      {summary && <span className="error-summary">{summary} </span>}
      <span className="error-detail">{detail}</span>
    </p>
  );
}

export interface AuthFormProps {
  auth: Pick<AuthClient, 'signIn' | 'signUp' | 'confirm'>;
  mode: AuthMode;
  onModeChange: (mode: AuthMode) => void;
  /** Called once signed in (after sign-in, or sign-up [+ confirm] followed by the automatic sign-in). */
  onSignedIn: (email: string) => void;
  headingRef?: RefObject<HTMLHeadingElement | null>;
  /** Shown above the form (e.g. "Your session has ended"). */
  notice?: string | null;
}

export function AuthForm({ auth, mode, onModeChange, onSignedIn, headingRef, notice }: AuthFormProps) {
  const uid = useId();
  const [step, setStep] = useState<Step>('credentials');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [showPassword, setShowPassword] = useState(false);
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<Partial<Record<Field, ServerError>>>({});
  const [formError, setFormError] = useState<ServerError | null>(null);
  const [info, setInfo] = useState<string | null>(null);
  const codeRef = useRef<HTMLInputElement>(null);
  const emailRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  useEffect(() => {
    if (step === 'confirm') codeRef.current?.focus();
  }, [step]);

  const ids = {
    email: `${uid}-email`,
    password: `${uid}-password`,
    code: `${uid}-code`,
    emailError: `${uid}-email-error`,
    passwordError: `${uid}-password-error`,
    codeError: `${uid}-code-error`,
    hint: `${uid}-password-hint`,
  };

  const showError = (err: unknown) => {
    const e = toServerError(err);
    const field = fieldForError(e.code, step);
    if (field) {
      setErrors({ [field]: e });
      (field === 'email' ? emailRef : field === 'password' ? passwordRef : codeRef).current?.focus();
    } else {
      setFormError(e);
    }
    if (/not_confirmed|unconfirmed/i.test(e.code)) {
      setFormError(null);
      setErrors({});
      setStep('confirm');
      setInfo(`Enter the confirmation code we sent to ${email.trim()}.`);
    }
  };

  const validate = (): boolean => {
    const next: Partial<Record<Field, ServerError>> = {};
    if (step === 'credentials') {
      const e = email.trim();
      if (!e) next.email = { code: 'required', message: 'Enter your e-mail address.' };
      else if (!/^[^\s@]+@[^\s@]+$/.test(e)) next.email = { code: 'invalid_email', message: `"${e}" is not an e-mail address.` };
      if (!password) next.password = { code: 'required', message: 'Enter your password.' };
    } else if (!code.trim()) {
      next.code = { code: 'required', message: 'Enter the code from the e-mail.' };
    }
    setErrors(next);
    if (next.email) emailRef.current?.focus();
    else if (next.password) passwordRef.current?.focus();
    else if (next.code) codeRef.current?.focus();
    return Object.keys(next).length === 0;
  };

  const signInNow = async (addr: string) => {
    await auth.signIn(addr, password);
    if (mounted.current) onSignedIn(addr);
  };

  const onSubmit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (busy) return;
    setFormError(null);
    if (!validate()) return;
    const addr = email.trim();
    setBusy(true);
    try {
      if (step === 'confirm') {
        await auth.confirm(addr, code.trim());
        setInfo('Account confirmed. Signing you in…');
        await signInNow(addr);
      } else if (mode === 'signup') {
        const result = await auth.signUp(addr, password);
        if (!result.confirmed) {
          if (!mounted.current) return;
          setStep('confirm');
          setInfo(`We sent a confirmation code to ${addr}. Enter it below.`);
          return;
        }
        setInfo('Account created. Signing you in…');
        await signInNow(addr);
      } else {
        await signInNow(addr);
      }
    } catch (err) {
      if (!mounted.current) return;
      setInfo(null);
      showError(err);
    } finally {
      if (mounted.current) setBusy(false);
    }
  };

  const switchMode = () => {
    setErrors({});
    setFormError(null);
    setInfo(null);
    setStep('credentials');
    onModeChange(mode === 'signin' ? 'signup' : 'signin');
  };

  const title = step === 'confirm' ? 'Confirm your account' : mode === 'signup' ? 'Create an account' : 'Sign in';
  const submitLabel = step === 'confirm' ? 'Confirm' : mode === 'signup' ? 'Create account' : 'Sign in';
  const formMode = step === 'confirm' ? 'confirm' : mode;

  return (
    <section className="auth" aria-labelledby={`${uid}-heading`}>
      <h2 id={`${uid}-heading`} ref={headingRef} tabIndex={-1}>
        {title}
      </h2>
      {notice && (
        <p className="notice" data-testid="session-notice" role="status">
          {notice}
        </p>
      )}
      <form className="auth-form" data-testid="auth-form" data-mode={formMode} noValidate onSubmit={onSubmit} aria-busy={busy}>
        {step === 'credentials' ? (
          <>
            <div className="field">
              <label htmlFor={ids.email}>E-mail address</label>
              <input
                ref={emailRef}
                id={ids.email}
                data-testid="auth-email"
                type="email"
                name="email"
                autoComplete={mode === 'signup' ? 'email' : 'username'}
                inputMode="email"
                required
                value={email}
                onChange={(e) => {
                  setEmail(e.target.value);
                  if (errors.email) setErrors((x) => ({ ...x, email: undefined }));
                }}
                aria-invalid={errors.email ? true : undefined}
                aria-describedby={errors.email ? ids.emailError : undefined}
              />
              {errors.email && <FieldError id={ids.emailError} testId="auth-email-error" error={errors.email} />}
            </div>
            <div className="field">
              <label htmlFor={ids.password}>Password</label>
              <div className="password-row">
                <input
                  ref={passwordRef}
                  id={ids.password}
                  data-testid="auth-password"
                  type={showPassword ? 'text' : 'password'}
                  name="password"
                  autoComplete={mode === 'signup' ? 'new-password' : 'current-password'}
                  required
                  value={password}
                  onChange={(e) => {
                    setPassword(e.target.value);
                    if (errors.password) setErrors((x) => ({ ...x, password: undefined }));
                  }}
                  aria-invalid={errors.password ? true : undefined}
                  aria-describedby={[errors.password ? ids.passwordError : null, mode === 'signup' ? ids.hint : null].filter(Boolean).join(' ') || undefined}
                />
                <button
                  type="button"
                  className="button"
                  aria-pressed={showPassword}
                  aria-controls={ids.password}
                  onClick={() => setShowPassword((v) => !v)}
                >
                  {showPassword ? 'Hide' : 'Show'}
                  <span className="sr-only"> password</span>
                </button>
              </div>
              {mode === 'signup' && (
                <p id={ids.hint} className="hint">
                  The server checks the password rules and tells you if one is not met.
                </p>
              )}
              {errors.password && <FieldError id={ids.passwordError} testId="auth-password-error" error={errors.password} />}
            </div>
          </>
        ) : (
          <div className="field">
            <label htmlFor={ids.code}>Confirmation code</label>
            <input
              ref={codeRef}
              id={ids.code}
              data-testid="auth-code"
              type="text"
              name="code"
              autoComplete="one-time-code"
              inputMode="numeric"
              required
              value={code}
              onChange={(e) => {
                setCode(e.target.value);
                if (errors.code) setErrors((x) => ({ ...x, code: undefined }));
              }}
              aria-invalid={errors.code ? true : undefined}
              aria-describedby={errors.code ? ids.codeError : undefined}
            />
            {errors.code && <FieldError id={ids.codeError} testId="auth-code-error" error={errors.code} />}
          </div>
        )}
        <div aria-live="polite" className="auth-live">
          {info && (
            <p className="hint" data-testid="auth-info">
              {info}
            </p>
          )}
        </div>
        {formError && <FieldError id={`${uid}-form-error`} testId="auth-error" error={formError} />}
        <div className="auth-actions">
          <button type="submit" className="button primary" data-testid="auth-submit" disabled={busy}>
            {busy ? 'Please wait…' : submitLabel}
          </button>
          {step === 'credentials' ? (
            <button type="button" className="link-button" data-testid="auth-toggle" onClick={switchMode} disabled={busy}>
              {mode === 'signin' ? 'No account yet? Create one' : 'Already have an account? Sign in'}
            </button>
          ) : (
            <button
              type="button"
              className="link-button"
              data-testid="auth-back"
              disabled={busy}
              onClick={() => {
                setStep('credentials');
                setErrors({});
                setFormError(null);
                setInfo(null);
              }}
            >
              Back
            </button>
          )}
        </div>
      </form>
    </section>
  );
}
