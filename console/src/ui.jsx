// Small shared pieces: the modal dialog (focus kept inside, restored on close), the confirmation
// dialog, inline errors, dates, a copy button, labelled fields, permission switches and chips,
// and the data table (cards under 640 px).
import { useEffect, useRef, useState } from "preact/hooks";

/** A modal dialog (native <dialog>: focus stays inside, Escape closes it). */
export function Dialog({ title, onClose, children }) {
  const ref = useRef(null);
  useEffect(() => {
    const opener = document.activeElement;
    const dialog = ref.current;
    dialog.showModal();
    const first =
      dialog.querySelector("[data-autofocus]") ?? dialog.querySelector("input:not(:disabled), button:not(.close)");
    first?.focus();
    return () => {
      if (dialog.open) dialog.close();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      aria-labelledby="dialog-title"
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <div class="dialog-head">
        <h2 id="dialog-title">{title}</h2>
        <button type="button" class="close" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </div>
      {children}
    </dialog>
  );
}

/** The server's refusal (its `detail`), announced to screen readers. */
export function ErrorText({ error, id }) {
  if (!error) return null;
  return (
    <p class="error" role="alert" id={id} data-code={error.code}>
      {error.message}
      {error.code && error.code !== "unknown" ? <span class="code"> ({error.code})</span> : null}
    </p>
  );
}

/** A timestamp (seconds or an RFC 3339 string) as local date and time. */
export function When({ at }) {
  if (at === null || at === undefined) return <span class="muted">never</span>;
  const date = typeof at === "number" ? new Date(at * 1000) : new Date(at);
  if (Number.isNaN(date.getTime())) return <span>{String(at)}</span>;
  return <time dateTime={date.toISOString()}>{date.toLocaleString()}</time>;
}

/** Copies `text` to the clipboard and says so. */
export function CopyButton({ text, label = "Copy" }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setCopied(true);
        } catch {
          setCopied(false);
        }
      }}
    >
      {copied ? "Copied" : label}
    </button>
  );
}

/** Permission checkboxes (one per model permission), as switches. */
export function PermissionToggles({ permissions, selected, onChange, idPrefix, disabled = () => false }) {
  return (
    <fieldset class="toggles">
      <legend>Permissions</legend>
      {permissions.map((permission) => {
        const id = `${idPrefix}-${permission.name}`;
        return (
          <div class="toggle" key={permission.name}>
            <input
              type="checkbox"
              role="switch"
              id={id}
              name={permission.name}
              checked={selected.includes(permission.name)}
              disabled={disabled(permission.name)}
              aria-describedby={`${id}-description`}
              onChange={(event) =>
                onChange(
                  event.currentTarget.checked
                    ? [...selected, permission.name]
                    : selected.filter((name) => name !== permission.name),
                )
              }
            />
            <label for={id}>{permission.name.replaceAll("_", " ")}</label>
            <span class="description" id={`${id}-description`}>
              {permission.description}
            </span>
          </div>
        );
      })}
    </fieldset>
  );
}

/** Permission names as chips, or "none (read-only)". */
export function PermissionChips({ names }) {
  if (names.length === 0) return <span class="muted">none (read-only)</span>;
  return (
    <ul class="chips">
      {names.map((name) => (
        <li key={name}>{name.replaceAll("_", " ")}</li>
      ))}
    </ul>
  );
}

/** A table of rows with a hidden caption, the given column headings and a last actions column. */
export function DataTable({ caption, columns, children }) {
  return (
    <div class="table-wrap">
      <table>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((column) => (
              <th scope="col" key={column}>
                {column}
              </th>
            ))}
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** A labelled text input; other props go to the input. */
export function Field({ id, label, value, onValue, ...input }) {
  return (
    <>
      <label for={id}>{label}</label>
      <input id={id} value={value} onInput={(event) => onValue(event.currentTarget.value)} {...input} />
    </>
  );
}

/**
 * A destructive action's confirmation: Cancel has focus; the action's refusal is shown inline.
 * `onConfirm` returns a promise; it rejects with the server's refusal. `refused`: the rules'
 * refusal before sending (shown, and the action disabled).
 */
export function Confirm({ title, action, onConfirm, onClose, danger = true, refused = null, children }) {
  const [error, setError] = useState(null);
  async function confirm() {
    setError(null);
    try {
      await onConfirm();
    } catch (refused) {
      setError(refused);
    }
  }
  return (
    <Dialog title={title} onClose={onClose}>
      {children}
      <ErrorText error={refused} id="preflight-refusal" />
      <ErrorText error={error} />
      <div class="actions">
        <button type="button" data-autofocus onClick={onClose}>
          Cancel
        </button>
        <button type="button" class={danger ? "danger" : "primary"} onClick={confirm} disabled={Boolean(refused)}>
          {action}
        </button>
      </div>
    </Dialog>
  );
}

/**
 * A dialog holding a form: its fields, the server's refusal, Cancel and the submit button.
 * `refused`: the rules' refusal of what the form holds now, shown before sending (and submit
 * disabled).
 */
export function FormDialog({ title, submitLabel, onSubmit, onClose, error, busy = false, refused = null, children }) {
  return (
    <Dialog title={title} onClose={onClose}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (!refused) onSubmit();
        }}
      >
        {children}
        <ErrorText error={refused} id="preflight-refusal" />
        <ErrorText error={error} />
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy || Boolean(refused)}>
            {submitLabel}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** The answer to a creation, with a Done button that has focus (e.g. a secret shown once). */
export function Done({ title, onClose, children }) {
  return (
    <Dialog title={title} onClose={onClose}>
      {children}
      <div class="actions">
        <button type="button" class="primary" data-autofocus onClick={onClose}>
          Done
        </button>
      </div>
    </Dialog>
  );
}

/**
 * What `fetcher` resolves to, fetched on mount and whenever `deps` change: `data` (null while
 * loading), the refusal if it failed, and `reload`; an answer overtaken by a later request is
 * dropped.
 */
export function useLoaded(fetcher, deps) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  // Only the latest request's answer counts (a slower, older one, e.g. of a search typed over,
  // must not replace it).
  const latest = useRef(0);
  async function reload() {
    latest.current += 1;
    const mine = latest.current;
    try {
      const answer = await fetcher();
      if (mine !== latest.current) return;
      setData(answer);
      setError(null);
    } catch (refused) {
      if (mine === latest.current) setError(refused);
    }
  }
  useEffect(() => {
    setData(null);
    reload();
  }, deps);
  return { data, error, setError, reload };
}

/** A date input's value (YYYY-MM-DD) as the end of that local day, in seconds; null when empty. */
export function endOfDay(value) {
  return value ? Math.floor(new Date(`${value}T23:59:59`).getTime() / 1000) : null;
}

/** A secret shown once: the warning, the secret (element id `id`) and a copy button. */
export function ShownOnce({ title, what, secret, id, onClose }) {
  return (
    <Done title={title} onClose={onClose}>
      <div class="secret">
        <p class="warning" role="status">
          Copy this {what} now: it is shown once and cannot be read again.
        </p>
        <code id={id}>{secret}</code>
        <CopyButton text={secret} label={`Copy ${what}`} />
      </div>
    </Done>
  );
}

const PAGE_SIZES = [10, 25, 50, 100];

/** A labelled page-size picker (10, 25, 50 or 100 rows). */
export function PageSize({ id, value, onValue }) {
  return (
    <div>
      <label for={id}>Per page</label>
      <select id={id} value={value} onChange={(event) => onValue(Number(event.currentTarget.value))}>
        {PAGE_SIZES.map((size) => (
          <option key={size} value={size}>
            {size}
          </option>
        ))}
      </select>
    </div>
  );
}

/** Previous and next buttons around the page number (`id` names the number's element). */
export function Pager({ label, id, number, hasNext, onPrevious, onNext }) {
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" disabled={number <= 1} onClick={onPrevious}>
        Previous page
      </button>
      <span id={id}>Page {number}</span>
      <button type="button" disabled={!hasNext} onClick={onNext}>
        Next page
      </button>
    </nav>
  );
}

/** The model's role presets as a picker: choosing one sets `selected` to its permissions. */
export function PresetPicker({ presets, selected, onChange, id }) {
  const same = (names) => names.length === selected.length && names.every((name) => selected.includes(name));
  const current = presets.find((preset) => same(preset.permissions))?.name ?? "";
  return (
    <div class="preset">
      <label for={id}>Role preset</label>
      <select
        id={id}
        value={current}
        onChange={(event) => {
          const preset = presets.find((p) => p.name === event.currentTarget.value);
          if (preset) onChange(preset.permissions);
        }}
      >
        <option value="">Custom</option>
        {presets.map((preset) => (
          <option key={preset.name} value={preset.name}>
            {preset.name.replaceAll("_", " ")}: {preset.description}
          </option>
        ))}
      </select>
    </div>
  );
}
