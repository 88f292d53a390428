//! One module per controller.

pub mod load_test;
pub mod managed_cluster;
pub mod scaling_experiment;
