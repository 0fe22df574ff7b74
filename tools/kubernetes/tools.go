//go:build tools

// Package tools pins the Kubernetes commands that ironlb's tests build (kube-apiserver,
// kube-controller-manager, kubectl); nothing here ships.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
