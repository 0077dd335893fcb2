// What a failed Kubernetes API call says, for code that only reads errors. client-node's exception class is
// imported from its own module, not the package index: the index loads every generated API model (1,900
// modules, most of a CLI's start), which `gitops-bot build` and the other cluster-less paths never need.
// The class is the same one the index re-exports (one module, one identity), so `instanceof` holds.
import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";

/** The HTTP status of a failed API call, or undefined for errors that are not API answers. */
export function apiStatus(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** The API server's own message for a failed call (its Status object's message), else the error's message. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as { message?: string } | string | undefined;
    if (body && typeof body === "object" && body.message) return body.message;
    if (typeof body === "string" && body) return body;
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}
