//! What an image build makes, from the cluster file and the flags: the image's name, the
//! pinned versions, the build VM and its resources. Pure, so every mapping is unit tested.

use node_bootstrap::steps::ImageProvision;
use vm_api::{Networking, Resources, VmSpec};

/// The Kubernetes patch version, cri-tools version and image set pinned per minor version
/// (pkgs.k8s.io's Debian revision is [`DEB_REVISION`]). Raise a patch here, or pass
/// `--kubernetes-patch`, and rebuild (`--rebuild`).
pub const KUBERNETES: &[Pinned] = &[
    Pinned {
        minor: "1.33",
        patch: "1.33.4",
        cri_tools: "1.33.0",
    },
    Pinned {
        minor: "1.34",
        patch: "1.34.1",
        cri_tools: "1.34.0",
    },
];

/// The Debian revision pkgs.k8s.io gives every package (`kubeadm=1.33.4-1.1`).
pub const DEB_REVISION: &str = "1.1";

/// The Cilium release whose images the image holds: the version the Cilium chart is
/// installed at must be this one for the pre-pull to count.
pub const CILIUM_VERSION: &str = "1.18.1";

/// Cilium's images at [`CILIUM_VERSION`] (the agent, the operator, Hubble Relay). The
/// chart's Envoy image has its own tag scheme and is pulled at install.
pub const CILIUM_IMAGES: [&str; 3] = [
    "quay.io/cilium/cilium",
    "quay.io/cilium/operator-generic",
    "quay.io/cilium/hubble-relay",
];

/// The build VM's resources: enough CPUs and memory for apt and image pulls. The disk is
/// the base image's unless smaller (Tart only grows disks, and every clone inherits it).
pub const BUILD_RESOURCES: Resources = Resources {
    cpu: 4,
    memory_mib: 4096,
    disk_gib: 20,
};

/// The prefix of every golden image's name.
pub const IMAGE_PREFIX: &str = "tart-infra-k8s-";

/// The versions pinned for one Kubernetes minor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pinned {
    /// `1.33`.
    pub minor: &'static str,
    /// The default patch, `1.33.4`.
    pub patch: &'static str,
    /// cri-tools, `1.33.0`.
    pub cri_tools: &'static str,
}

/// Why no plan could be made.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Not `1.33` or `1.33.4`.
    #[error(
        "kubernetesVersion `{0}` is not a Kubernetes version; give a minor (1.33) or a patch (1.33.4) in config/clusters.yaml"
    )]
    Version(String),
    /// `--kubernetes-patch` is not a patch of the file's minor.
    #[error(
        "--kubernetes-patch {patch} is not a patch of Kubernetes {minor} (kubernetesVersion in the cluster file); give {minor}.N"
    )]
    PatchOfOtherMinor { patch: String, minor: String },
    /// A minor this build has no pinned patch for, and none was given.
    #[error(
        "no pinned patch for Kubernetes {minor} (pinned: {known}); pass --kubernetes-patch {minor}.N or set kubernetesVersion to a patch version"
    )]
    UnknownMinor { minor: String, known: String },
    /// The base image is the image to build.
    #[error(
        "baseImage `{0}` is the golden image itself; build from the Cirrus Labs image (--base-image ghcr.io/cirruslabs/ubuntu:24.04)"
    )]
    BaseIsTheImage(String),
}

/// What the flags add to the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--kubernetes-patch`.
    pub kubernetes_patch: Option<String>,
    /// `--base-image`.
    pub base_image: Option<String>,
    /// `--containerd-version`.
    pub containerd_version: Option<String>,
}

/// The Kubernetes versions of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versions {
    /// `1.33`.
    pub minor: String,
    /// `1.33.4`.
    pub patch: String,
    /// `1.33.0`.
    pub cri_tools: String,
}

/// One image build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The golden image (a local Tart VM): `tart-infra-k8s-1.33`.
    pub image: String,
    /// The VM it is built in, a DNS label: `tart-infra-build-k8s-1-33`.
    pub build_vm: String,
    /// What it is cloned from.
    pub base_image: String,
    /// The versions it pins.
    pub versions: Versions,
    /// The provisioning script's inputs.
    pub provision: ImageProvision,
}

/// `1.33` and the patch (`Some("1.33.4")`) of `1.33`, `v1.33.4`, ...
fn split_version(version: &str) -> Option<(String, Option<String>)> {
    let v = version.trim().trim_start_matches('v');
    let parts: Vec<&str> = v.split('.').collect();
    let numeric = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(numeric) {
        return None;
    }
    let minor = format!("{}.{}", parts[0], parts[1]);
    Some((minor, (parts.len() == 3).then(|| v.to_owned())))
}

/// The versions for the file's `kubernetesVersion` and `--kubernetes-patch`: the patch
/// given (flag, then file), else the one pinned for the minor.
pub fn versions(kubernetes_version: &str, patch_flag: Option<&str>) -> Result<Versions, PlanError> {
    let (minor, file_patch) = split_version(kubernetes_version)
        .ok_or_else(|| PlanError::Version(kubernetes_version.to_owned()))?;
    let flag_patch = match patch_flag {
        Some(flag) => match split_version(flag) {
            Some((flag_minor, Some(patch))) if flag_minor == minor => Some(patch),
            _ => {
                return Err(PlanError::PatchOfOtherMinor {
                    patch: flag.to_owned(),
                    minor,
                });
            }
        },
        None => None,
    };
    let pinned = KUBERNETES.iter().find(|p| p.minor == minor);
    let patch = match (flag_patch.or(file_patch), pinned) {
        (Some(patch), _) => patch,
        (None, Some(p)) => p.patch.to_owned(),
        (None, None) => {
            return Err(PlanError::UnknownMinor {
                minor,
                known: KUBERNETES
                    .iter()
                    .map(|p| p.minor)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    };
    // cri-tools follows Kubernetes' minor releases (v1.33.0 for 1.33).
    let cri_tools = pinned.map_or_else(|| format!("{minor}.0"), |p| p.cri_tools.to_owned());
    Ok(Versions {
        minor,
        patch,
        cri_tools,
    })
}

/// The golden image's name for the file's `kubernetesVersion` as written (`1.33` →
/// `tart-infra-k8s-1.33`): what `baseImage` names to use it.
pub fn image_name(kubernetes_version: &str) -> String {
    format!(
        "{IMAGE_PREFIX}{}",
        kubernetes_version.trim().trim_start_matches('v')
    )
}

/// The build VM's name: the image's as a DNS label (a VM name), `tart-infra-build-k8s-1-33`.
pub fn build_vm_name(image: &str) -> String {
    let rest = image.strip_prefix(IMAGE_PREFIX).unwrap_or(image);
    format!("tart-infra-build-k8s-{}", rest.replace('.', "-"))
}

/// Cilium's image references at [`CILIUM_VERSION`].
pub fn cilium_images() -> Vec<String> {
    CILIUM_IMAGES
        .iter()
        .map(|repo| format!("{repo}:v{CILIUM_VERSION}"))
        .collect()
}

impl Plan {
    /// The plan for the file's base image and Kubernetes version with the flags' overrides.
    pub fn new(
        base_image: &str,
        kubernetes_version: &str,
        overrides: &Overrides,
    ) -> Result<Self, PlanError> {
        let versions = versions(kubernetes_version, overrides.kubernetes_patch.as_deref())?;
        let image = image_name(kubernetes_version);
        let base_image = overrides
            .base_image
            .clone()
            .unwrap_or_else(|| base_image.to_owned());
        if base_image == image {
            return Err(PlanError::BaseIsTheImage(base_image));
        }
        let provision = ImageProvision {
            kubernetes_minor: versions.minor.clone(),
            kubernetes_version: versions.patch.clone(),
            kube_deb_version: format!("{}-{DEB_REVISION}", versions.patch),
            cri_tools_deb_version: format!("{}-{DEB_REVISION}", versions.cri_tools),
            containerd_version: overrides.containerd_version.clone(),
            extra_images: cilium_images(),
        };
        Ok(Self {
            build_vm: build_vm_name(&image),
            image,
            base_image,
            versions,
            provision,
        })
    }

    /// The build VM: a clone of the base image with [`BUILD_RESOURCES`].
    pub fn build_spec(&self) -> VmSpec {
        VmSpec {
            name: self.build_vm.clone(),
            image: self.base_image.clone(),
            resources: BUILD_RESOURCES,
            networking: Networking::Softnet,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minor_takes_its_pinned_patch_and_a_patch_is_kept() {
        let v = versions("1.33", None).expect("pinned");
        assert_eq!((v.minor.as_str(), v.patch.as_str()), ("1.33", "1.33.4"));
        assert_eq!(v.cri_tools, "1.33.0");
        let v = versions("v1.33.2", None).expect("patch");
        assert_eq!(v.patch, "1.33.2");
        let v = versions("1.33", Some("1.33.1")).expect("flag");
        assert_eq!(v.patch, "1.33.1", "the flag wins over the table");
        let v = versions("1.35", Some("1.35.0")).expect("unpinned minor with a patch");
        assert_eq!(
            (v.patch.as_str(), v.cri_tools.as_str()),
            ("1.35.0", "1.35.0")
        );
    }

    #[test]
    fn every_pinned_patch_belongs_to_its_minor() {
        for p in KUBERNETES {
            assert!(p.patch.starts_with(&format!("{}.", p.minor)), "{p:?}");
            assert!(p.cri_tools.starts_with(&format!("{}.", p.minor)), "{p:?}");
            assert_eq!(versions(p.minor, None).expect("pinned").patch, p.patch);
        }
    }

    #[test]
    fn bad_versions_say_what_to_give() {
        for bad in ["1", "1.x", "", "1.33.4.1", "latest"] {
            assert_eq!(
                versions(bad, None),
                Err(PlanError::Version(bad.to_owned())),
                "{bad}"
            );
        }
        let err = versions("1.35", None).expect_err("unpinned").to_string();
        assert!(
            err.contains("--kubernetes-patch 1.35.N") && err.contains("1.33, 1.34"),
            "{err}"
        );
        let err = versions("1.33", Some("1.34.1")).expect_err("other minor");
        assert!(matches!(err, PlanError::PatchOfOtherMinor { .. }));
        assert!(
            versions("1.33", Some("1.33")).is_err(),
            "a minor is not a patch"
        );
    }

    #[test]
    fn names_follow_the_files_version_and_the_build_vm_is_a_dns_label() {
        assert_eq!(image_name("1.33"), "tart-infra-k8s-1.33");
        assert_eq!(image_name("v1.33.4"), "tart-infra-k8s-1.33.4");
        let build = build_vm_name("tart-infra-k8s-1.33.4");
        assert_eq!(build, "tart-infra-build-k8s-1-33-4");
        assert!(vm_api::validate::vm_name(&build).is_ok());
        assert!(
            crds::managed_cluster::image::is_pinned(&image_name("1.33")),
            "a local image name counts as pinned for baseImage"
        );
    }

    #[test]
    fn the_plan_pins_debian_versions_and_cilium_images() {
        let plan = Plan::new(
            "ghcr.io/cirruslabs/ubuntu:24.04",
            "1.33",
            &Overrides::default(),
        )
        .expect("plan");
        assert_eq!(plan.image, "tart-infra-k8s-1.33");
        assert_eq!(plan.provision.kube_deb_version, "1.33.4-1.1");
        assert_eq!(plan.provision.cri_tools_deb_version, "1.33.0-1.1");
        assert_eq!(plan.provision.containerd_version, None);
        assert_eq!(
            plan.provision.extra_images,
            [
                "quay.io/cilium/cilium:v1.18.1",
                "quay.io/cilium/operator-generic:v1.18.1",
                "quay.io/cilium/hubble-relay:v1.18.1"
            ]
        );
        let spec = plan.build_spec();
        assert_eq!(spec.name, "tart-infra-build-k8s-1-33");
        assert_eq!(spec.image, "ghcr.io/cirruslabs/ubuntu:24.04");
        assert!(vm_api::validate::vm_spec(&spec).is_ok());
    }

    #[test]
    fn the_base_cannot_be_the_image_itself() {
        let err =
            Plan::new("tart-infra-k8s-1.33", "1.33", &Overrides::default()).expect_err("itself");
        assert!(err.to_string().contains("--base-image"), "{err}");
        let plan = Plan::new(
            "tart-infra-k8s-1.33",
            "1.33",
            &Overrides {
                base_image: Some("ghcr.io/cirruslabs/ubuntu:24.04".into()),
                ..Overrides::default()
            },
        )
        .expect("the flag's base");
        assert_eq!(plan.base_image, "ghcr.io/cirruslabs/ubuntu:24.04");
    }
}
