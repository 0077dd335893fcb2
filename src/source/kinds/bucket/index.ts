// Bucket: refused. Listed so that the refusal is one place, with the reason, like every other kind.
export const BUCKET_REFUSAL = "Bucket sources are not supported; use a GitRepository or an OCIRepository";
