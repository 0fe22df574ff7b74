//go:build tools

// Package tools pins etcd, the store under the tests' kube-apiserver; nothing here ships.
package tools

import _ "go.etcd.io/etcd/server/v3"
