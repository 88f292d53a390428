//! Generates the Hubble Observer client and server from `proto/observer.proto`, compiled by
//! protox (no protoc needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/observer.proto");
    let fds = protox::compile(["observer.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
