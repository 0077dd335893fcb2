// Errors of outbound requests. Messages name the method, origin and path, never user information or a query
// (either may carry a token); callers add the file, object and field that caused the request.

/** The policy refused a host or address, or it could not be resolved to be judged. */
export class OutboundPolicyError extends Error {
  override name = "OutboundPolicyError";
}

export type OutboundFailure = "timeout" | "too-large" | "too-many-redirects" | "bad-redirect" | "network";

/** A request that was allowed but did not complete within its bounds. */
export class OutboundRequestError extends Error {
  override name = "OutboundRequestError";
  constructor(
    message: string,
    readonly failure: OutboundFailure,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
