// A form control with its label, hint and error, as both forms (Testing, Load analysis) show them.
import type { ReactNode } from "react";

/** A text input or select; its border turns red while it is invalid. */
export const INPUT = "mt-1 w-full rounded border border-slate-700 bg-slate-950 px-2 py-1 text-slate-100 aria-[invalid=true]:border-red-500";

/** The id and aria attributes that tie a control to what is shown under it: the error, or the
 * hint while there is no error. */
export function controlProps(id: string, error: string | undefined, hint?: string) {
  return {
    id,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": error ? `${id}-error` : hint ? `${id}-hint` : undefined,
  } as const;
}

type ControlProps = ReturnType<typeof controlProps>;

/** The error of the control `id`, where controlProps points to it. */
export function FieldError({ id, error }: { id: string; error: string | undefined }) {
  if (!error) return null;
  return (
    <p id={`${id}-error`} className="mt-1 text-xs text-red-300">
      {error}
    </p>
  );
}

/** The label, the control (`children` spreads the props it is given), then the error or the hint. */
export function FormControl({
  id,
  label,
  hint,
  error,
  children,
}: {
  id: string;
  label: string;
  hint?: string;
  error?: string;
  children: (props: ControlProps) => ReactNode;
}) {
  return (
    <div>
      <label htmlFor={id} className="block text-sm text-slate-300">
        {label}
      </label>
      {children(controlProps(id, error, hint))}
      {hint && !error && (
        <p id={`${id}-hint`} className="mt-1 text-xs text-slate-400">
          {hint}
        </p>
      )}
      <FieldError id={id} error={error} />
    </div>
  );
}
