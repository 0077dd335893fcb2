// Why a notification was not delivered. `retryable` says whether trying again may help: a receiver's 5xx, a
// network failure or a timeout may pass; a 4xx, a refused host or a Provider without an address will not.
// Messages never hold a secret value: the notifier scrubs them with the Provider's Secret values before they
// are kept or logged.

export class DeliveryError extends Error {
  override name = "DeliveryError";
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
