// The interface every notification provider implements (after Renovate's datasource API): one small contract,
// one folder per provider type, registered in ./index.ts. A provider turns an event into its service's payload
// and sends it through the ProviderIO it is given; it never opens a connection itself, so every request goes
// through the outbound policy, the Provider's proxy and CA, and the delivery timeout.
import type { NotifyEvent } from "../event.js";

/** A Provider with its Secrets read: what a provider sends with. Holds secret values: never log it. */
export interface ProviderSettings {
  /** `Provider/namespace/name`, for messages. */
  subject: string;
  type: string;
  /** spec.address, or the `address` key of the secretRef Secret (which wins, as in Flux). */
  address: string | undefined;
  /** Whether the address came from the Secret (then it is a secret: webhook URLs carry tokens). */
  addressFromSecret: boolean;
  channel: string | undefined;
  /** spec.username, or the Secret's `username`. */
  username: string | undefined;
  /** The Secret's `token`. */
  token: string | undefined;
  /** The Secret's `password`. */
  password: string | undefined;
  /** The Secret's `headers` (a YAML map of header names to values), sent with HTTP requests. */
  headers: Record<string, string>;
  /** spec.proxy, or the Secret's `proxy`. */
  proxy: string | undefined;
  /** The PEM CA bundle of certSecretRef (`ca.crt`, or the deprecated `caFile`). */
  ca: string | undefined;
  /** Every key of the secretRef Secret, for providers with keys of their own (email: `from`, `to`). */
  secretData: Record<string, string>;
  /** One attempt's bound (spec.timeout, default 15 s as in Flux). */
  timeoutMs: number;
}

export interface HttpRequest {
  url: string;
  /** The JSON text to send (providers build it, so an HMAC can sign exactly these bytes). */
  body: string;
  headers?: Record<string, string>;
}

export interface HttpAnswer {
  status: number;
  /** The answer's body, read up to a small bound. */
  body: string;
}

export interface MailMessage {
  from: string;
  to: string[];
  subject: string;
  text: string;
}

/** The I/O a provider may use: bounded, policy-checked, and aborted when the attempt's time is up. */
export interface ProviderIO {
  /** POSTs a JSON body; resolves on a 2xx answer, throws DeliveryError otherwise (retryable or not). */
  postJson(request: HttpRequest): Promise<HttpAnswer>;
  /** Sends one email through the SMTP server the Provider's address names. */
  sendMail(message: MailMessage): Promise<void>;
}

export type SendOutcome = { sent: true } | { skipped: string };

/** What is wrong with a Provider's settings, naming the field (or Secret key) to fix. */
export interface SettingsProblem {
  field: string;
  message: string;
}

export interface NotificationProvider {
  /** Flux's name for the type (`spec.type`). */
  readonly type: string;
  /**
   * When set, the type is accepted and nothing is sent: this says what serves it instead (Flux's `github`
   * commit statuses are written by the bot's own status reporter).
   */
  readonly servedBy?: string;
  /** Checks the settings before anything is sent; a problem is not retried. */
  check(settings: ProviderSettings): SettingsProblem | undefined;
  /** Sends one event; throws DeliveryError when the receiver refused it or could not be reached. */
  send(event: NotifyEvent, settings: ProviderSettings, io: ProviderIO): Promise<SendOutcome>;
}
