//go:build tools

// Package tools pins the modules scripts/build-etcd-tools.sh builds.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/etcdutl/v3"
)
