import type { KubernetesObject } from "@kubernetes/client-node";
import { apiStatus, type RawObjectApi } from "../kube-client.js";
import { ObjectError } from "./errors.js";

/** A GET whose connection the server (or a proxy) dropped mid-answer is sent again this many times. */
const DROPPED_RETRIES = 2;

/** The live object, or undefined when it does not exist. */
export async function getLive(
  api: RawObjectApi,
  obj: KubernetesObject,
): Promise<KubernetesObject | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await api.read(obj as Parameters<RawObjectApi["read"]>[0]);
    } catch (err) {
      if (apiStatus(err) === 404) return undefined;
      // A read changes nothing: a pooled keep-alive connection closed under a busy health poll is no answer.
      // A timeout is not retried (a hung API server ends the wait within its bound).
      if (attempt < DROPPED_RETRIES && connectionDropped(err)) continue;
      throw ObjectError.from(obj, "get", err);
    }
  }
}

const DROPPED_CODES = new Set(["ERR_STREAM_PREMATURE_CLOSE", "ECONNRESET", "EPIPE"]);

/** Whether the connection closed before the answer was complete (not a timeout, not an HTTP status). */
function connectionDropped(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && DROPPED_CODES.has(code)) return true;
    if (/Premature close|socket hang up/.test(e.message)) return true;
  }
  return false;
}
