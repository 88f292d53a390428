//! TEST DOUBLE, NOT SHIPPED: the `tart` binary of tart-double (and, under other names
//! inside a VM, kubeadm, kubelet, systemctl, apt-get, apt-mark, modprobe, sysctl).

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let code = match runtime {
        Ok(rt) => rt.block_on(tart_double::cli::main(std::env::args().collect())),
        Err(e) => {
            eprintln!("tart (test double): cannot start the async runtime: {e}");
            1
        }
    };
    std::process::exit(code);
}
