// Small presentational pieces shared by the pages.
import type { Stage } from "@leadscore/contracts";
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

export function StageBadge({ stage }: { stage: Stage }) {
  return <span class={`stage stage-${stage}`}>{stage}</span>;
}

export function Loading({ label }: { label: string }) {
  return (
    <p class="state state-loading" role="status">
      <span class="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function ErrorState({
  title,
  message,
  onRetry,
}: {
  title: string;
  message: string | null;
  onRetry?: () => void;
}) {
  return (
    <div class="state state-error" role="alert">
      <p>
        <strong>{title}</strong>
        {message ? <span class="state-detail"> {message}</span> : null}
      </p>
      {onRetry ? (
        <button type="button" class="button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="state state-empty">{children}</div>;
}

/** The page's heading; it takes the focus after a navigation so screen readers announce the new page. */
export function PageTitle({ children, title }: { children: ComponentChildren; title: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Leadscore`;
    // The first page load keeps the browser's own focus; later navigations move it here.
    if (document.body.dataset.navigated === "true") ref.current?.focus({ preventScroll: true });
    document.body.dataset.navigated = "true";
  }, [title]);
  return (
    <h1 ref={ref} tabIndex={-1} class="page-title">
      {children}
    </h1>
  );
}

export function FieldError({ id, message }: { id: string; message: string | undefined }) {
  if (!message) return null;
  return (
    <p id={id} class="field-error">
      {message}
    </p>
  );
}

/** A form's errors that belong to no single field (the API's message, a network failure). */
export function FormErrors({ messages }: { messages: readonly string[] }) {
  if (messages.length === 0) return null;
  return (
    <div class="alert alert-error" role="alert">
      {messages.map((message) => (
        <p key={message}>{message}</p>
      ))}
    </div>
  );
}

/** A table of records with a row of actions each: the column headings, then the last column's, for screen readers. */
export function ActionsTable({
  name,
  columns,
  children,
}: {
  /** Its class beside `table`, e.g. `rules-table`. */
  name: string;
  columns: readonly string[];
  children: ComponentChildren;
}) {
  return (
    <div class="table-scroll">
      <table class={`table ${name}`}>
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** The href of the sign-in page that comes back to `next` once signed in. */
export function signInHref(next: string): string {
  return `/sign-in?next=${encodeURIComponent(next)}`;
}

/**
 * What a page says, once, when an action needs the admin token the session does not hold (or that was refused):
 * a sentence and a link to sign in, never an empty field.
 */
export function AdminNeeded({ action, next, reason }: { action: string; next: string; reason?: string | null }) {
  return (
    <p class="alert admin-needed" role="note">
      {reason ? `${reason}. ` : `${action} needs the admin token. `}
      <a href={signInHref(next)}>Sign in as admin</a>
    </p>
  );
}
