//go:build tools

// Package tools pins kube-vip, which only the comparison (bench/compare.ts, the lab's
// --implementation kube-vip and its e2e test) runs next to ironlb; nothing here ships.
package tools

import (
	_ "github.com/kube-vip/kube-vip"
)
