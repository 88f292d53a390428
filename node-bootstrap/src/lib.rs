pub mod keys;
pub mod kubeadm;
pub mod script;
