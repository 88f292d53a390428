//! `tart-infra image ...`: the subcommands and their flags (each also an environment
//! variable), turned into [`BuildOptions`].

use std::path::PathBuf;

use clap::Subcommand;
use clap::builder::BoolishValueParser;

use super::build::{BuildOptions, Outcome, build, default_state_dir};
use super::error::Error;
use super::plan::Overrides;
use crate::cli::state_dir;
use crate::config;

/// `tart-infra image <command>`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Builds the image of the cluster file's kubernetesVersion (`tart-infra-k8s-<version>`)
    /// from its baseImage, unless it exists.
    Build(BuildArgs),
}

/// `tart-infra image build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The clusters file (baseImage, kubernetesVersion, ssh).
    #[arg(long, env = "TART_INFRA_CONFIG", default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    /// Print one JSON object per line.
    #[arg(long, env = "TART_INFRA_IMAGE_JSON", value_parser = BoolishValueParser::new())]
    json: bool,
    /// Build even when the image exists (the old one is replaced once the new one is made).
    #[arg(long, env = "TART_INFRA_IMAGE_REBUILD", value_parser = BoolishValueParser::new())]
    rebuild: bool,
    /// The Kubernetes patch to pin, e.g. 1.33.5 [default: the one pinned for the file's minor].
    #[arg(long, env = "TART_INFRA_KUBERNETES_PATCH")]
    kubernetes_patch: Option<String>,
    /// The Ubuntu containerd package version to pin [default: the archive's, held].
    #[arg(long, env = "TART_INFRA_CONTAINERD_VERSION")]
    containerd_version: Option<String>,
    /// The image to build from [default: the file's baseImage].
    #[arg(long, env = "TART_INFRA_IMAGE_BASE")]
    base_image: Option<String>,
    /// Where the build keeps its known hosts, tart run logs and the images' records
    /// [default: $XDG_STATE_HOME/tart-infra/image or ~/.local/state/tart-infra/image].
    #[arg(long, env = "TART_INFRA_IMAGE_DIR", value_parser = state_dir)]
    state_dir: Option<PathBuf>,
    /// The tart binary (a path, or a name looked up on PATH).
    #[arg(long, env = "TART_INFRA_TART_BIN", default_value = "tart")]
    tart_bin: PathBuf,
}

impl BuildArgs {
    /// What the build is asked, with the defaults that depend on the machine filled in.
    pub fn options(self) -> BuildOptions {
        BuildOptions {
            config: self.config,
            overrides: Overrides {
                kubernetes_patch: self.kubernetes_patch,
                base_image: self.base_image,
                containerd_version: self.containerd_version,
            },
            rebuild: self.rebuild,
            json: self.json,
            state_dir: self.state_dir.unwrap_or_else(default_state_dir),
            tart_bin: self.tart_bin,
        }
    }
}

/// Runs an `image` subcommand.
pub async fn run(command: Command) -> Result<Outcome, Error> {
    match command {
        Command::Build(args) => build(args.options()).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Image {
        #[command(subcommand)]
        command: Command,
    }

    fn parse(args: &[&str]) -> BuildOptions {
        let Command::Build(args) = Image::try_parse_from(["image"].iter().chain(args))
            .expect("parses")
            .command;
        args.options()
    }

    #[test]
    fn build_has_the_documented_defaults() {
        let options = parse(&["build"]);
        assert_eq!(options.config, PathBuf::from("config/clusters.yaml"));
        assert!(!options.json && !options.rebuild);
        assert_eq!(options.overrides, Overrides::default());
        assert_eq!(options.state_dir, default_state_dir());
        assert_eq!(options.tart_bin, PathBuf::from("tart"));
        let options = parse(&[
            "build",
            "--json",
            "--rebuild",
            "--kubernetes-patch",
            "1.33.5",
            "--state-dir",
            "/tmp/image",
        ]);
        assert!(options.json && options.rebuild);
        assert_eq!(
            options.overrides.kubernetes_patch.as_deref(),
            Some("1.33.5")
        );
        assert_eq!(options.state_dir, PathBuf::from("/tmp/image"));
    }
}
