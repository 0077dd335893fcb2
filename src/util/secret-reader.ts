// The one capability to read a Secret, passed to everything that needs one (sources, Helm values,
// substitution, notification Providers), so "untrusted runs read no Secret" is enforced where it is made.

/** Reads a Secret's data, decoded; throws with the Secret's name (never its content) when it cannot. */
export type SecretReader = (namespace: string, name: string) => Promise<Record<string, string>>;
