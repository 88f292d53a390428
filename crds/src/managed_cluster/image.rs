//! The rule of `spec.baseImage`: an image that cannot change under you between runs.
//!
//! Accepted:
//! - a remote (OCI) reference pinned to a tag other than `latest`:
//!   `ghcr.io/cirruslabs/ubuntu:24.04`, `localhost:5000/ubuntu:24.04`;
//! - a remote reference pinned by digest, with or without a tag:
//!   `ghcr.io/cirruslabs/ubuntu@sha256:<64 hex>`;
//! - the name of a local Tart image: no `/`, `:` or `@`, e.g. the golden image
//!   `tart-infra-k8s-1.33`. Tart treats a name without `/` as a local VM, never pulled; it
//!   changes only when you rebuild it, so it counts as pinned (rebuild under a new name,
//!   such as the next version, to make the change visible).
//!
//! Rejected: `...:latest`, a remote reference without a tag (which means latest), and
//! anything else that is not an image reference (`ubuntu:24.04` is neither: a local name
//! has no tag, a remote one has a `/`).

use crate::FieldError;
use crate::pattern::{cel_matches, is_match};

/// A local Tart image (a VM on this Mac): letters, digits, '.', '_' and '-'.
pub const LOCAL: &str = "^[A-Za-z0-9][A-Za-z0-9._-]*$";
/// A remote reference with a tag (checked separately not to be `latest`: RE2 has no
/// negative look-ahead).
pub const TAGGED: &str = "^[a-z0-9][a-z0-9._-]*(:[0-9]{1,5})?(/[a-z0-9][a-z0-9._-]*)+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$";
/// A remote reference pinned by digest, with an optional tag.
pub const DIGEST: &str = "^[a-z0-9][a-z0-9._-]*(:[0-9]{1,5})?(/[a-z0-9][a-z0-9._-]*)+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[a-f0-9]{64}$";

/// The longest reference the schema accepts.
pub const MAX_LEN: usize = 255;

/// The API server's message when [`cel_rule`] fails.
pub const MESSAGE: &str = "must be a pinned image: a tag other than latest (ghcr.io/cirruslabs/ubuntu:24.04), a digest (ghcr.io/cirruslabs/ubuntu@sha256:...) or a local image name without '/' or ':' (tart-infra-k8s-1.33)";

const FIX: &str = "pin a release tag (ghcr.io/cirruslabs/ubuntu:24.04) or a digest (ghcr.io/cirruslabs/ubuntu@sha256:<64 hex digits>), or name a local image such as tart-infra-k8s-1.33";

/// The CEL rule of `spec.baseImage`, built from the same patterns as [`is_pinned`].
pub fn cel_rule() -> String {
    format!(
        "{} || ({} && !self.endsWith(':latest')) || {}",
        cel_matches(LOCAL),
        cel_matches(TAGGED),
        cel_matches(DIGEST)
    )
}

/// Whether `image` is pinned: what [`cel_rule`] accepts.
pub fn is_pinned(image: &str) -> bool {
    is_match(LOCAL, image)
        || (is_match(TAGGED, image) && !image.ends_with(":latest"))
        || is_match(DIGEST, image)
}

/// The error of `baseImage`, if it has one.
pub fn check(image: &str) -> Option<FieldError> {
    let problem = if image.is_empty() {
        "is empty".to_owned()
    } else if image.len() > MAX_LEN {
        format!("is {} characters long, more than {MAX_LEN}", image.len())
    } else if is_pinned(image) {
        return None;
    } else if image.ends_with(":latest") {
        format!("`{image}` uses the tag latest, which changes under you between runs")
    } else if image.contains('/') && !image.contains('@') && !last_segment_has_tag(image) {
        format!("`{image}` has no tag, which means latest and changes under you between runs")
    } else {
        format!("`{image}` is not an image reference or a local image name")
    };
    Some(FieldError::new("baseImage", problem, FIX))
}

fn last_segment_has_tag(image: &str) -> bool {
    image.rsplit('/').next().is_some_and(|s| s.contains(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Base images and whether they are accepted (crds/tests/apiserver/agreement.rs runs a
    /// table like it through the API server).
    const CASES: &[(&str, bool)] = &[
        ("ghcr.io/cirruslabs/ubuntu:24.04", true),
        ("ghcr.io/cirruslabs/ubuntu:latest", false),
        ("ghcr.io/cirruslabs/ubuntu", false),
        ("localhost:5000/ubuntu:24.04", true),
        ("localhost:5000/ubuntu", false),
        ("tart-infra-k8s-1.33", true),
        ("ubuntu:24.04", false),
        ("ubuntu", true),
        ("", false),
        (" ", false),
        ("ghcr.io/cirruslabs/ubuntu:24.04 ", false),
        ("ghcr.io/cirruslabs/Ubuntu:24.04", false),
    ];

    #[test]
    fn base_images_are_pinned_by_tag_digest_or_local_name() {
        for (image, ok) in CASES {
            assert_eq!(is_pinned(image), *ok, "{image:?}");
            assert_eq!(check(image).is_none(), *ok, "{image:?}");
        }
        let digest = format!("ghcr.io/cirruslabs/ubuntu@sha256:{}", "a".repeat(64));
        assert!(is_pinned(&digest));
        assert!(
            is_pinned(&digest.replace("@", ":latest@")),
            "a digest pins any tag"
        );
        assert!(!is_pinned(&digest[..digest.len() - 1]), "63 hex digits");
    }

    #[test]
    fn the_message_says_why_the_image_is_not_pinned() {
        let msg = |image: &str| check(image).map(|e| e.to_string()).unwrap_or_default();
        assert!(msg("ghcr.io/cirruslabs/ubuntu:latest").contains("uses the tag latest"));
        assert!(msg("ghcr.io/cirruslabs/ubuntu").contains("has no tag"));
        assert!(msg("ubuntu:24.04").contains("not an image reference"));
        assert!(msg("").starts_with("baseImage: is empty; pin a release tag"));
        assert!(msg(&"a".repeat(256)).contains("more than 255"));
    }

    #[test]
    fn the_cel_rule_is_built_from_the_patterns() {
        let rule = cel_rule();
        assert!(rule.starts_with("self.matches('^[A-Za-z0-9]"), "{rule}");
        assert!(rule.contains("!self.endsWith(':latest')"), "{rule}");
        assert!(!rule.contains('\\'), "no escapes needed: {rule}");
    }
}
