// Errors that keep the object they are about: every message starts with the object's subject
// (`Kind/namespace/name`), as in Flux's ssa/errors, so a red status needs no log to be understood.
import type { KubernetesObject } from "@kubernetes/client-node";
import { apiMessage, apiStatus } from "../kube-client.js";
import { explainForbidden } from "../preflight/forbidden.js";
import { subjectOf } from "./object-id.js";

export class ObjectError extends Error {
  override name = "ObjectError";
  constructor(
    readonly subject: string,
    readonly operation: "dry-run" | "apply" | "delete" | "get" | "wait",
    readonly reason: string,
    readonly status?: number,
  ) {
    super(`${subject} ${operation} failed: ${reason}`);
  }

  static from(obj: KubernetesObject, operation: ObjectError["operation"], err: unknown): ObjectError {
    // A 403 also says which verb, resource and namespace was refused and which RBAC rule would allow it.
    const why = explainForbidden(err);
    const reason = why ? `${apiMessage(err)} — ${why}` : apiMessage(err);
    return new ObjectError(subjectOf(obj), operation, reason, apiStatus(err));
  }
}

/** An API answer that says an immutable field was changed, which only delete-and-recreate can apply. */
export function isImmutableFieldError(err: unknown): boolean {
  const message = err instanceof ObjectError ? err.reason : apiMessage(err);
  return (
    (apiStatus(err) === 422 || (err instanceof ObjectError && err.status === 422)) &&
    /immutable/i.test(message)
  );
}
