//! Writes the CRDs to the Helm chart's `crds/` directory (`charts/tart-operator/crds/`), or with `--check` fails when the committed files
//! differ from the Rust types (CI runs the check).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Generate (or check) the tartinfra.dev CRD manifests from the Rust types.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Compare instead of writing; exit 1 and name the stale files when they differ.
    #[arg(long)]
    check: bool,
    /// The directory of the CRD manifests.
    #[arg(long, env = "CRDGEN_DIR", default_value_os_t = default_dir())]
    dir: PathBuf,
}

fn default_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crds::CRD_DIR)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut stale = Vec::new();
    for (file, crd) in crds::all() {
        let yaml = match crds::to_yaml(&crd) {
            Ok(y) => y,
            Err(e) => {
                eprintln!("crdgen: cannot render {file}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let path = args.dir.join(file);
        if args.check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(yaml.as_str()) {
                stale.push(path.display().to_string());
            }
        } else if let Err(e) =
            std::fs::create_dir_all(&args.dir).and_then(|()| std::fs::write(&path, yaml))
        {
            eprintln!("crdgen: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        } else {
            println!("wrote {}", path.display());
        }
    }
    if stale.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "crdgen: these CRD manifests differ from the Rust types: {}\n\
         run `cargo run -p crds --bin crdgen` and commit the result",
        stale.join(", ")
    );
    ExitCode::FAILURE
}
